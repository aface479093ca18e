//! The hidden temporary files `create` writes in the destination, and the
//! removal of those an interrupted run left behind.
//!
//! A temporary file is `.NAME-PID-XXXXXX.tmp` (PID: the creating process;
//! XXXXXX: six random letters and digits), and its creator holds an
//! exclusive `flock` on it for as long as it may need it. The lock is what
//! says a file is in use: a process killed with -9 loses its locks, and
//! they work across NFS clients. Each run first removes NAME's temporary
//! files that nobody holds and whose creator is gone: the PID is not
//! running here, or the file is older than this run (so the PID was since
//! reused). The moment between a file's creation and its lock is covered
//! by the second rule: a file made after this run started by a live
//! process is left alone.
//!
//! Files of the form earlier versions wrote (`.NAME-XXXXXX.tmp` and
//! `.NAME-<time>.tar.gz.manifest.jsonXXXXXX.tmp`, no PID, no lock) are
//! removed once untouched for [`LEGACY_AGE`].

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use nix::fcntl::{Flock, FlockArg};
use tempfile::NamedTempFile;

use crate::naming::ArchiveName;

/// How long a temporary file of an earlier version's form must have been
/// untouched before it is taken for a leftover.
pub const LEGACY_AGE: Duration = Duration::from_secs(3600);

/// A temporary file of this run, locked while it lives (where the
/// filesystem has locks: on one without, e.g. NFS mounted `nolock`, the
/// file is still written, and later runs leave such files alone rather
/// than guess).
pub struct Temp {
    pub file: NamedTempFile,
    _lock: Option<Flock<File>>,
}

/// Creates `.NAME-PID-XXXXXX.tmp` in `dir` and locks it.
pub fn create(dir: &Path, name: &str) -> io::Result<Temp> {
    let file = tempfile::Builder::new()
        .prefix(&format!(".{name}-{}-", std::process::id()))
        .rand_bytes(6)
        .suffix(".tmp")
        .tempfile_in(dir)?;
    let lock = Flock::lock(file.reopen()?, FlockArg::LockExclusiveNonblock).ok();
    Ok(Temp { file, _lock: lock })
}

/// Whose a temporary file is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Pid(i32),
    /// An earlier version's file: no PID in the name.
    Legacy,
}

/// NAME's temporary file `file_name`, or `None` when it is not one.
fn parse(file_name: &str, name: &str) -> Option<Owner> {
    let stem = file_name
        .strip_prefix('.')?
        .strip_prefix(name)?
        .strip_prefix('-')?
        .strip_suffix(".tmp")?;
    let random = |s: &str| s.len() == 6 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    // .NAME-PID-XXXXXX.tmp
    if let Some((pid, rest)) = stem.split_once('-') {
        if random(rest) && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) {
            return pid.parse().ok().filter(|&p| p > 0).map(Owner::Pid);
        }
    }
    // .NAME-XXXXXX.tmp (earlier versions' archive)
    if random(stem) {
        return Some(Owner::Legacy);
    }
    // .NAME-<time>.EXT.manifest.jsonXXXXXX.tmp (earlier versions' manifest)
    let split = stem.len().checked_sub(6)?;
    let (manifest, rest) = (stem.get(..split)?, stem.get(split..)?);
    let archive = manifest.strip_suffix(crate::naming::MANIFEST_SUFFIX)?;
    (random(rest) && ArchiveName::parse(&format!("{name}-{archive}"), Some(name)).is_some())
        .then_some(Owner::Legacy)
}

/// A leftover that was removed, for the message.
pub struct Removed {
    pub path: PathBuf,
    pub bytes: u64,
    pub why: String,
}

/// Removes NAME's temporary files in `dir` that no live run holds; returns
/// what went, and the files that should have gone but could not.
pub fn remove_stale(
    dir: &Path,
    name: &str,
    run_started: SystemTime,
) -> (Vec<Removed>, Vec<(PathBuf, io::Error)>) {
    let mut removed = Vec::new();
    let mut failed = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return (removed, failed);
    };
    for entry in entries.flatten() {
        let Some(owner) = entry.file_name().to_str().and_then(|f| parse(f, name)) else {
            continue;
        };
        let path = entry.path();
        match stale(&path, owner, run_started) {
            Ok(Some((lock, bytes, why))) => {
                // The lock is held until the file is gone.
                let result = fs::remove_file(&path);
                drop(lock);
                match result {
                    Ok(()) => removed.push(Removed { path, bytes, why }),
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                    Err(err) => failed.push((path, err)),
                }
            }
            Ok(None) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => failed.push((path, err)),
        }
    }
    (removed, failed)
}

/// Whether a temporary file is a leftover: nobody holds its lock and its
/// creator is gone. Returns the lock (held until it is removed), its size
/// and why it is a leftover.
fn stale(
    path: &Path,
    owner: Owner,
    run_started: SystemTime,
) -> io::Result<Option<(Flock<File>, u64, String)>> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.is_file() {
        return Ok(None);
    }
    let modified = meta.modified()?;
    let why = match owner {
        Owner::Pid(pid) => {
            let alive = match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
                Ok(()) | Err(nix::errno::Errno::EPERM) => true,
                Err(_) => false,
            };
            if !alive {
                format!("left by create process {pid}, which is no longer running")
            } else if modified < run_started {
                format!(
                    "left by an earlier create process {pid} (the number now belongs to another process)"
                )
            } else {
                return Ok(None);
            }
        }
        Owner::Legacy => {
            let age = SystemTime::now()
                .duration_since(modified)
                .unwrap_or_default();
            if age < LEGACY_AGE {
                return Ok(None);
            }
            format!(
                "left by an interrupted create of an earlier version (untouched for {})",
                humantime::format_duration(Duration::from_secs(age.as_secs()))
            )
        }
    };
    let file = File::open(path)?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(Some((lock, meta.size(), why))),
        // Held: a live run's file.
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, errno)) => Err(io::Error::from(errno)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_temporary_files_are_recognised() {
        assert_eq!(parse(".etc-1234-aB3xYz.tmp", "etc"), Some(Owner::Pid(1234)));
        assert_eq!(parse(".etc-aB3xYz.tmp", "etc"), Some(Owner::Legacy));
        assert_eq!(
            parse(
                ".etc-20261121T190200Z.tar.gz.manifest.jsonaB3xYz.tmp",
                "etc"
            ),
            Some(Owner::Legacy)
        );
        for other in [
            // another NAME's files
            ".etc-12-34-aB3xYz.tmp",
            ".etc-x-1234-aB3xYz.tmp",
            ".etcx-1234-aB3xYz.tmp",
            ".web-1234-aB3xYz.tmp",
            // not temporary files
            "etc-1234-aB3xYz.tmp",
            ".etc-1234-aB3xYz",
            ".etc-1234-aB3x.tmp",
            ".etc-0-aB3xYz.tmp",
            ".etc-20261121T190200Z.tar.gz.manifest.json.tmp",
            "etc-20261121T190200Z.tar.gz",
        ] {
            assert_eq!(parse(other, "etc"), None, "{other}");
        }
        assert_eq!(
            parse(".etc-12-34-aB3xYz.tmp", "etc-12"),
            Some(Owner::Pid(34))
        );
    }

    #[test]
    fn a_held_file_stays_and_a_dead_runs_file_goes() {
        let dir = tempfile::tempdir().unwrap();
        let started = SystemTime::now() + Duration::from_secs(5);
        let mine = create(dir.path(), "etc").unwrap();
        // Our own pid, older than the "run": only the lock keeps it.
        let (removed, failed) = remove_stale(dir.path(), "etc", started);
        assert!(removed.is_empty() && failed.is_empty());
        assert!(mine.file.path().exists());
        // A pid that cannot be running.
        let dead = dir.path().join(".etc-2147483646-aB3xYz.tmp");
        fs::write(&dead, b"half an archive").unwrap();
        let (removed, _) = remove_stale(dir.path(), "etc", started);
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].path, dead);
        assert_eq!(removed[0].bytes, 15);
        assert!(!dead.exists());
        assert!(mine.file.path().exists());
        drop(mine);
    }
}
