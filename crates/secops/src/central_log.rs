//! The central log: every record of every job, one JSON Lines file, with
//! `secops run` its one writer. Each line goes out in one `write` on a file
//! opened with O_APPEND, so a reader (or a kill -9) never sees half a line.
//! Rotation is built in: before a line would take the file past
//! `max_size`, the rotated files shift up (`.1` to `.2`, ... up to `keep`)
//! and the log is renamed to `.1`, each a rename (atomic), then a fresh
//! file is opened; since this process is the only writer and rotates
//! between two lines, no record is lost or split across files. For
//! logrotate instead, SIGUSR1 makes it [`CentralLog::reopen`] the path.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use secops_common::{Context, Error};

use crate::settings::LogSettings;

pub struct CentralLog {
    path: PathBuf,
    max_size: u64,
    keep: u32,
    file: File,
    size: u64,
    buf: Vec<u8>,
}

impl CentralLog {
    pub fn open(settings: &LogSettings) -> Result<CentralLog, Error> {
        let path = settings.path.clone();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
        }
        let (file, size) = open_append(&path)?;
        Ok(CentralLog {
            path,
            max_size: settings.max_size,
            keep: settings.keep,
            file,
            size,
            buf: Vec::with_capacity(4096),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes new rotation settings (a reload); a new path is opened at once.
    pub fn reconfigure(&mut self, settings: &LogSettings) -> Result<(), Error> {
        self.max_size = settings.max_size;
        self.keep = settings.keep;
        if settings.path != self.path {
            *self = CentralLog::open(settings)?;
        }
        Ok(())
    }

    /// Appends one line (without its newline), whole, rotating first if it
    /// would pass `max_size`.
    pub fn append(&mut self, line: &[u8]) -> Result<(), Error> {
        self.buf.clear();
        self.buf.extend_from_slice(line);
        self.buf.push(b'\n');
        if self.size > 0 && self.size + self.buf.len() as u64 > self.max_size {
            self.rotate()?;
        }
        self.file
            .write_all(&self.buf)
            .context(|| format!("cannot write {}", self.path.display()))?;
        self.size += self.buf.len() as u64;
        Ok(())
    }

    /// Reopens the path (after logrotate moved the file away).
    pub fn reopen(&mut self) -> Result<(), Error> {
        let (file, size) = open_append(&self.path)?;
        self.file = file;
        self.size = size;
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), Error> {
        let rotated = |n: u32| {
            let mut name = self.path.as_os_str().to_owned();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        let rename = |from: &Path, to: &Path| {
            std::fs::rename(from, to)
                .context(|| format!("cannot rotate {} to {}", from.display(), to.display()))
        };
        if self.keep == 0 {
            std::fs::remove_file(&self.path)
                .context(|| format!("cannot rotate {}", self.path.display()))?;
        } else {
            for n in (1..self.keep).rev() {
                let from = rotated(n);
                if from.exists() {
                    rename(&from, &rotated(n + 1))?;
                }
            }
            rename(&self.path, &rotated(1))?;
        }
        self.reopen()
    }
}

fn open_append(path: &Path) -> Result<(File, u64), Error> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
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
        };
        let mut log = CentralLog::open(&settings).unwrap();
        for i in 0..1000 {
            log.append(format!("{{\"n\":{i}}}").as_bytes()).unwrap();
        }
        let mut seen = Vec::new();
        for n in (1..=100).rev() {
            let path = dir.path().join(format!("records.jsonl.{n}"));
            if let Ok(text) = std::fs::read_to_string(&path) {
                assert!(text.len() <= 1024);
                seen.extend(text.lines().map(str::to_string));
            }
        }
        seen.extend(
            std::fs::read_to_string(&settings.path)
                .unwrap()
                .lines()
                .map(str::to_string),
        );
        let expected: Vec<String> = (0..1000).map(|i| format!("{{\"n\":{i}}}")).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn keep_bounds_the_rotated_files() {
        let dir = tempfile::tempdir().unwrap();
        let settings = LogSettings {
            path: dir.path().join("r.jsonl"),
            max_size: 1024,
            keep: 2,
        };
        let mut log = CentralLog::open(&settings).unwrap();
        for _ in 0..500 {
            log.append(&[b'x'; 100]).unwrap();
        }
        assert!(dir.path().join("r.jsonl.2").exists());
        assert!(!dir.path().join("r.jsonl.3").exists());
    }
}
