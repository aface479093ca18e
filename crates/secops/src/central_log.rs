//! The central log: every record of every job, one JSON Lines file, with
//! `secops run` its one writer. Each line goes out in one `write` on a file
//! opened with O_APPEND, so a reader (or a kill -9) never sees half a line.
//! Rotation is built in: before a line would take the file past
//! `max_size`, the rotated files shift up (`.1` to `.2`, ... up to `keep`)
//! and the log is renamed to `.1`, each a rename (atomic), then a fresh
//! file is opened; since this process is the only writer and rotates
//! between two lines, no record is lost or split across files. For
//! logrotate instead, SIGUSR1 makes it [`CentralLog::reopen`] the path.
//!
//! With `compress`, the new `.1` is then gzipped (flate2, as backup-rotate
//! compresses; the format logrotate writes) into `.1.gz` through a temporary file that is synced and
//! renamed into place, and only then is `.1` removed: at every instant the
//! records are whole in `.1` or in `.1.gz`. A kill -9 in between leaves
//! `.1` (and perhaps a temporary file, or `.1.gz` too); the next open
//! finishes the job. A compression that fails (disk full) is a
//! warning and leaves `.1` as it is: it shifts on uncompressed.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use secops_common::{Context, Error};

use crate::settings::LogSettings;

pub struct CentralLog {
    path: PathBuf,
    max_size: u64,
    keep: u32,
    compress: bool,
    /// None while the path cannot be opened (a read-only disk): each
    /// append tries again, and fails, so the records still go on to
    /// notify and the failure is reported as any write failure is.
    file: Option<File>,
    size: u64,
    /// Whether the file may end mid-line (just opened, or a write failed
    /// part way: a full disk), so the next append must look first.
    check_tail: bool,
    buf: Vec<u8>,
}

impl CentralLog {
    /// The log at the settings' path. A path that cannot be opened now
    /// is not an error here but at the first append: a disk that cannot
    /// take the log must not stop the jobs or their alerts.
    pub fn open(settings: &LogSettings) -> CentralLog {
        let mut log = CentralLog {
            path: settings.path.clone(),
            max_size: settings.max_size,
            keep: settings.keep,
            compress: settings.compress,
            file: None,
            size: 0,
            check_tail: true,
            buf: Vec::with_capacity(4096),
        };
        if log.reopen().is_ok() {
            log.finish_compression();
        }
        log
    }

    /// `.N` of the log, and its gzipped form.
    fn rotated(&self, n: u32, gz: bool) -> PathBuf {
        rotated_name(&self.path, n, gz)
    }

    /// What a kill -9 during a compression left: `.1.gz` in place means
    /// `.1` is a copy; else `.1` is gzipped now.
    fn finish_compression(&self) {
        if !self.compress || self.keep == 0 || !self.rotated(1, false).exists() {
            return;
        }
        if self.rotated(1, true).exists() {
            let _ = std::fs::remove_file(self.rotated(1, false));
        } else {
            self.compress_first();
        }
    }

    /// Gzips `.1` into `.1.gz` (atomically), then removes `.1`.
    fn compress_first(&self) {
        let (from, to) = (self.rotated(1, false), self.rotated(1, true));
        match gzip(&from, &to) {
            Ok(()) => {
                if let Err(err) = std::fs::remove_file(&from) {
                    secops_common::warn!("cannot remove {}: {err}", from.display());
                }
            }
            Err(err) => secops_common::warn!(
                "cannot compress {}: {err}; it stays as it is",
                from.display()
            ),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes new rotation settings (a reload); a new path is opened at once.
    pub fn reconfigure(&mut self, settings: &LogSettings) {
        self.max_size = settings.max_size;
        self.keep = settings.keep;
        self.compress = settings.compress;
        if settings.path != self.path {
            *self = CentralLog::open(settings);
        } else {
            self.finish_compression();
        }
    }

    /// Appends one line (without its newline), whole, rotating first if it
    /// would pass `max_size`. After a line cut short (a full disk), the
    /// next one starts on a new line (secops_common::append).
    pub fn append(&mut self, line: &[u8]) -> Result<(), Error> {
        if self.file.is_none() {
            self.reopen()?;
        }
        let mut cut = false;
        if std::mem::take(&mut self.check_tail) {
            if let Some(meta) = self.file.as_ref().and_then(|f| f.metadata().ok()) {
                self.size = meta.len();
            }
            cut = secops_common::append::ends_mid_line(&self.path);
        }
        let len = line.len() as u64 + 1;
        if self.size > 0 && self.size + len > self.max_size {
            self.rotate()?;
            // A fresh file: nothing cut to end.
            self.check_tail = false;
            cut = false;
        }
        self.buf.clear();
        if cut {
            self.buf.push(b'\n');
        }
        self.buf.extend_from_slice(line);
        self.buf.push(b'\n');
        let written = match self.file.as_mut() {
            Some(file) => file.write_all(&self.buf),
            None => Err(std::io::Error::other("it is not open")),
        };
        if let Err(err) = written {
            self.check_tail = true;
            return Err(Error::failed(format!(
                "cannot write {}: {err}",
                self.path.display()
            )));
        }
        self.size += self.buf.len() as u64;
        Ok(())
    }

    /// Reopens the path (after logrotate moved the file away, or after it
    /// could not be opened), creating its directory.
    pub fn reopen(&mut self) -> Result<(), Error> {
        self.file = None;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            secops_common::perms::create_dir_all(dir, secops_common::perms::DIR)
                .context(|| format!("cannot create {}", dir.display()))?;
        }
        let (file, size) = open_append(&self.path)?;
        self.file = Some(file);
        self.size = size;
        self.check_tail = true;
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), Error> {
        let rename = |from: &Path, to: &Path| {
            std::fs::rename(from, to)
                .context(|| format!("cannot rotate {} to {}", from.display(), to.display()))
        };
        if self.keep == 0 {
            std::fs::remove_file(&self.path)
                .context(|| format!("cannot rotate {}", self.path.display()))?;
            return self.reopen();
        }
        // Both forms shift, so a file left uncompressed (compress turned on
        // later, a failed gzip) ages out like the others.
        for gz in [false, true] {
            match std::fs::remove_file(self.rotated(self.keep, gz)) {
                Err(err) if err.kind() != ErrorKind::NotFound => {
                    return Err(Error::failed(format!(
                        "cannot remove {}: {err}",
                        self.rotated(self.keep, gz).display()
                    )));
                }
                _ => {}
            }
        }
        for n in (1..self.keep).rev() {
            for gz in [false, true] {
                let from = self.rotated(n, gz);
                if from.exists() {
                    rename(&from, &self.rotated(n + 1, gz))?;
                }
            }
        }
        rename(&self.path, &self.rotated(1, false))?;
        self.reopen()?;
        if self.compress {
            self.compress_first();
        }
        Ok(())
    }
}

/// `PATH.N`, or `PATH.N.gz`.
pub fn rotated_name(path: &Path, n: u32, gz: bool) -> PathBuf {
    let mut name: OsString = path.as_os_str().to_owned();
    name.push(format!(".{n}{}", if gz { ".gz" } else { "" }));
    PathBuf::from(name)
}

/// FROM gzipped into TO (as `gzip -c` would, with the workspace's own
/// deflate) through a synced temporary file renamed into place.
fn gzip(from: &Path, to: &Path) -> std::io::Result<()> {
    let out = secops_common::atomic::AtomicFile::create(to, secops_common::perms::LOG)?;
    let mut encoder = GzEncoder::new(out, flate2::Compression::default());
    std::io::copy(&mut File::open(from)?, &mut encoder)?;
    encoder.finish()?.commit()
}

/// A rotated file's lines as a stream, gzipped or not: a report of the
/// whole log never holds a file in memory (glibc keeps such large blocks
/// once they were freed, so `secops run`'s RSS would grow to the log's
/// size).
pub fn open_rotated(path: &Path) -> Option<Box<dyn BufRead>> {
    let file = File::open(path).ok()?;
    Some(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(BufReader::new(MultiGzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    })
}

fn open_append(path: &Path) -> Result<(File, u64), Error> {
    let file = secops_common::append::open(path, secops_common::perms::LOG)
        .context(|| format!("cannot open {}", path.display()))?;
    let size = file
        .metadata()
        .context(|| format!("cannot read {}", path.display()))?
        .len();
    Ok((file, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_every_line_whole() {
        let dir = tempfile::tempdir().unwrap();
        let settings = LogSettings {
            path: dir.path().join("records.jsonl"),
            max_size: 1024,
            keep: 100,
            compress: false,
        };
        let mut log = CentralLog::open(&settings);
        for i in 0..1000 {
            log.append(format!("{{\"n\":{i}}}").as_bytes()).unwrap();
        }
        for n in 1..=100 {
            let rotated = rotated_name(&settings.path, n, false);
            assert!(std::fs::metadata(&rotated).map_or(0, |m| m.len()) <= 1024);
        }
        assert_eq!(read_back(&settings), numbered(1000));
    }

    fn read_text(path: &Path) -> String {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut open_rotated(path).unwrap(), &mut text).unwrap();
        text
    }

    /// Every line the log and its rotated files hold, oldest first.
    fn read_back(settings: &LogSettings) -> Vec<String> {
        let mut seen = Vec::new();
        for n in (1..=settings.keep).rev() {
            let rotated = rotated_name(&settings.path, n, settings.compress);
            if let Some(reader) = open_rotated(&rotated) {
                seen.extend(reader.lines().map(Result::unwrap));
            }
        }
        let text = std::fs::read_to_string(&settings.path).unwrap();
        seen.extend(text.lines().map(str::to_string));
        seen
    }

    /// `{"n":0}` ... the records the floods append.
    fn numbered(count: usize) -> Vec<String> {
        (0..count).map(|i| format!("{{\"n\":{i}}}")).collect()
    }

    #[test]
    fn compressed_rotation_keeps_every_line_whole() {
        let dir = tempfile::tempdir().unwrap();
        let settings = LogSettings {
            path: dir.path().join("records.jsonl"),
            max_size: 4096,
            keep: 50,
            compress: true,
        };
        let mut log = CentralLog::open(&settings);
        for i in 0..2000 {
            log.append(format!("{{\"n\":{i}}}").as_bytes()).unwrap();
        }
        for n in 1..=50 {
            assert!(!rotated_name(&settings.path, n, false).exists());
            let gz = rotated_name(&settings.path, n, true);
            if gz.exists() {
                // Stock gzip reads what we wrote.
                let test = std::process::Command::new("gzip")
                    .arg("-t")
                    .arg(&gz)
                    .status();
                assert!(test.expect("gzip runs (apt-get install gzip)").success());
            }
        }
        assert_eq!(read_back(&settings), numbered(2000));
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains("tmp")), "{names:?}");
    }

    #[test]
    fn an_interrupted_compression_is_finished_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let settings = LogSettings {
            path: dir.path().join("r.jsonl"),
            max_size: 1024,
            keep: 3,
            compress: true,
        };
        let one = rotated_name(&settings.path, 1, false);
        // Killed before gzip: .1 alone.
        std::fs::write(&one, "{\"a\":1}\n").unwrap();
        drop(CentralLog::open(&settings));
        assert!(!one.exists());
        let gz = rotated_name(&settings.path, 1, true);
        assert_eq!(read_text(&gz), "{\"a\":1}\n");
        // Killed after the rename, before .1 was removed: .1 is a copy.
        std::fs::write(&one, "{\"a\":1}\n").unwrap();
        drop(CentralLog::open(&settings));
        assert!(!one.exists());
        assert_eq!(read_text(&gz), "{\"a\":1}\n");
    }

    #[test]
    fn keep_bounds_the_rotated_files() {
        let dir = tempfile::tempdir().unwrap();
        let settings = LogSettings {
            path: dir.path().join("r.jsonl"),
            max_size: 1024,
            keep: 2,
            compress: false,
        };
        let mut log = CentralLog::open(&settings);
        for _ in 0..500 {
            log.append(&[b'x'; 100]).unwrap();
        }
        assert!(dir.path().join("r.jsonl.2").exists());
        assert!(!dir.path().join("r.jsonl.3").exists());
    }
}
