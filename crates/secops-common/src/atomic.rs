//! Files that appear whole or not at all: written under a temporary name in
//! the same directory, flushed to disk, then renamed over the target. A crash
//! or a kill mid-write leaves the previous file (report, baseline, metrics)
//! untouched, never a truncated one.

use std::fs::{self, File, Permissions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// A file being written atomically. Dropping it without [`commit`] removes
/// the temporary file and leaves the target as it was.
///
/// [`commit`]: AtomicFile::commit
pub struct AtomicFile {
    target: PathBuf,
    temp: BufWriter<NamedTempFile>,
}

impl AtomicFile {
    /// Starts writing `target`. A new file gets `mode` (less the umask); a
    /// file that already exists keeps its own permissions.
    pub fn create(target: &Path, mode: u32) -> io::Result<AtomicFile> {
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
        let mode = match fs::metadata(target) {
            Ok(meta) => meta.permissions().mode() & 0o7777,
            Err(_) => mode,
        };
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(name);
        prefix.push(".");
        let temp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".tmp")
            .permissions(Permissions::from_mode(mode))
            .tempfile_in(dir)?;
        Ok(AtomicFile {
            target: target.to_path_buf(),
            temp: BufWriter::new(temp),
        })
    }

    /// Where the file will appear.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Renames into place without syncing to disk: still atomic for
    /// readers, for files rewritten every few seconds (metrics) where a
    /// power cut costs one interval and an fsync per rewrite costs half the
    /// writer's CPU.
    pub fn commit_unsynced(self) -> io::Result<()> {
        let temp = self
            .temp
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        temp.persist(&self.target).map_err(|err| err.error)?;
        Ok(())
    }

    /// Flushes, syncs and renames into place, then syncs the directory so
    /// the rename itself survives a power cut.
    pub fn commit(self) -> io::Result<()> {
        let temp = self
            .temp
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        temp.as_file().sync_all()?;
        temp.persist(&self.target).map_err(|err| err.error)?;
        let dir = match self.target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.temp.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.temp.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.temp.flush()
    }
}

/// Writes `contents` to `path` atomically.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut file = AtomicFile::create(path, mode)?;
    file.write_all(contents)?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn replaces_the_target_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        fs::write(&path, "old").unwrap();

        let mut file = AtomicFile::create(&path, 0o600).unwrap();
        file.write_all(b"new").unwrap();
        file.flush().unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "old",
            "visible before commit"
        );
        drop(file);
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "old",
            "abandoned write replaced the file"
        );
        assert!(
            leftovers(dir.path()).is_empty(),
            "temporary file left behind"
        );

        write_atomic(&path, b"new", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn new_files_get_the_mode_and_existing_files_keep_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("state.bin");
        write_atomic(&fresh, b"x", 0o600).unwrap();
        assert_eq!(
            fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
            0o600
        );

        let shared = dir.path().join("shared.csv");
        fs::write(&shared, "x").unwrap();
        fs::set_permissions(&shared, Permissions::from_mode(0o640)).unwrap();
        write_atomic(&shared, b"y", 0o600).unwrap();
        assert_eq!(
            fs::metadata(&shared).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }
}
