//! Files that appear whole or not at all: written under a temporary name in
//! the same directory, flushed to disk, then renamed over the target. A crash
//! or a kill mid-write leaves the previous file (report, baseline, metrics)
//! untouched, never a truncated one.
//!
//! The temporary file is named `.TARGET.secops-tmp.PID.RAND` (the target's
//! name, the writer's process id, six random characters), so an operator
//! can tell whose it is, and the writer holds an exclusive `flock` on it
//! until it is renamed or removed. A writer killed with SIGKILL (or a power
//! cut) cannot remove its own: the next write into the same directory does,
//! for every such file whose lock is free and whose writer is gone (no
//! process of that id, or the file untouched for a minute, so a reused
//! process id does not keep it forever). Only regular files of this user
//! that match the pattern exactly are removed; a file being written by a
//! live writer, in this or another PID namespace, is locked and left alone.
//! The target's own temporary files in the form earlier versions wrote
//! (`.TARGET.XXXXXX.tmp`, no process id, no lock) are removed once
//! untouched for an hour. A directory is searched at most once a minute
//! per process.
//!
//! A target that exists and is not a regular file (`-o /dev/null`, a FIFO,
//! `/dev/stdout`) is written in place: renaming over it would replace the
//! device with a file, which as root breaks the whole machine.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, Permissions};
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use tempfile::NamedTempFile;

use crate::perms;

/// What marks a temporary file as one of ours: `.TARGET` + this + `PID.RAND`.
pub const TEMP_MARK: &str = ".secops-tmp.";

/// How many random characters end a temporary file's name.
const RAND_LEN: usize = 6;

/// A temporary file whose writer's process id still exists is left alone
/// unless it has not been written for this long (the id was reused).
const STALE_AFTER: Duration = Duration::from_secs(60);

/// A temporary file in the form earlier versions wrote (no process id, no
/// lock) is removed once untouched this long.
const LEGACY_STALE_AFTER: Duration = Duration::from_secs(3600);

/// A directory is searched for leftovers at most this often per process (a
/// fetch writing 100,000 files into one directory lists it once a minute,
/// not 100,000 times).
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// A file being written atomically. Dropping it without [`commit`] removes
/// the temporary file and leaves the target as it was.
///
/// [`commit`]: AtomicFile::commit
pub struct AtomicFile {
    target: PathBuf,
    sink: Sink,
}

enum Sink {
    /// A temporary file, renamed over the target on commit, with the lock
    /// that tells the next writer it is live (released when the file is
    /// renamed or removed).
    Temp {
        file: BufWriter<NamedTempFile>,
        _lock: Option<Flock<File>>,
    },
    /// A target that is not a regular file, written in place.
    Direct(BufWriter<File>),
}

impl AtomicFile {
    /// Starts writing `target`. A new file gets exactly `mode`, whatever
    /// the umask; a file that already exists keeps its own permission bits
    /// and group (see [`crate::perms`]). Leftovers of writers that were
    /// killed are removed from the directory first.
    pub fn create(target: &Path, mode: u32) -> io::Result<AtomicFile> {
        let dir = parent_of(target);
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
        let existing = match fs::metadata(target) {
            Ok(meta) if !meta.is_file() && !meta.is_dir() => {
                let file = fs::OpenOptions::new().write(true).open(target)?;
                return Ok(AtomicFile {
                    target: target.to_path_buf(),
                    sink: Sink::Direct(BufWriter::new(file)),
                });
            }
            Ok(meta) => Some(meta),
            Err(_) => None,
        };
        sweep_if_due(dir, name);
        let mut prefix = OsString::from(".");
        prefix.push(name);
        prefix.push(TEMP_MARK);
        prefix.push(format!("{}.", std::process::id()));
        // Created for its owner only; its mode (and group) are set before
        // anything is written into it.
        let temp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix("")
            .rand_bytes(RAND_LEN)
            .permissions(Permissions::from_mode(0o600))
            .tempfile_in(dir)?;
        match &existing {
            Some(meta) => perms::keep_group(temp.as_file(), meta, perms::kept_mode(meta))?,
            None => perms::set_exact(temp.as_file(), mode)?,
        }
        // A file system without flock (some network mounts) still gets the
        // process-id test.
        let lock = temp
            .as_file()
            .try_clone()
            .ok()
            .and_then(|file| Flock::lock(file, FlockArg::LockExclusiveNonblock).ok());
        Ok(AtomicFile {
            target: target.to_path_buf(),
            sink: Sink::Temp {
                file: BufWriter::new(temp),
                _lock: lock,
            },
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
        let temp = match self.sink {
            Sink::Temp { file, .. } => file.into_inner().map_err(io::IntoInnerError::into_error)?,
            Sink::Direct(mut file) => return file.flush(),
        };
        temp.persist(&self.target).map_err(|err| err.error)?;
        Ok(())
    }

    /// Flushes, syncs and renames into place, then syncs the directory so
    /// the rename itself survives a power cut.
    pub fn commit(self) -> io::Result<()> {
        let temp = match self.sink {
            Sink::Temp { file, .. } => file.into_inner().map_err(io::IntoInnerError::into_error)?,
            Sink::Direct(mut file) => return file.flush(),
        };
        temp.as_file().sync_all()?;
        temp.persist(&self.target).map_err(|err| err.error)?;
        File::open(parent_of(&self.target))?.sync_all()
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.sink {
            Sink::Temp { file, .. } => file.write(buf),
            Sink::Direct(file) => file.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.sink {
            Sink::Temp { file, .. } => file.write_all(buf),
            Sink::Direct(file) => file.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Temp { file, .. } => file.flush(),
            Sink::Direct(file) => file.flush(),
        }
    }
}

/// Writes `contents` to `path` atomically.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut file = AtomicFile::create(path, mode)?;
    file.write_all(contents)?;
    file.commit()
}

/// The directory `target` lies in (`.` for a bare name).
fn parent_of(target: &Path) -> &Path {
    match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Sweeps `dir` unless this process did within [`SWEEP_EVERY`].
fn sweep_if_due(dir: &Path, target: &OsStr) {
    static SWEPT: Mutex<Option<HashMap<PathBuf, Instant>>> = Mutex::new(None);
    let key = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    {
        let mut swept = SWEPT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let swept = swept.get_or_insert_with(HashMap::new);
        let now = Instant::now();
        if swept
            .get(&key)
            .is_some_and(|at| now.duration_since(*at) < SWEEP_EVERY)
        {
            return;
        }
        swept.insert(key, now);
    }
    sweep(dir, Some(target));
}

/// Removes the temporary files that writers killed mid-write left in `dir`
/// (see the module's documentation for which); returns their names. Best
/// effort: a directory that cannot be listed is left as it is.
pub fn remove_leftovers(dir: &Path) -> Vec<OsString> {
    sweep(dir, None)
}

/// As [`remove_leftovers`], and with `target`, also the temporary files
/// of `target` in the form earlier versions wrote (`.TARGET.XXXXXX.tmp`,
/// no process id, no lock) once untouched for [`LEGACY_STALE_AFTER`].
fn sweep(dir: &Path, target: Option<&OsStr>) -> Vec<OsString> {
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let owner = match temp_owner(&name) {
            Some(pid) => Some(pid),
            None if target.is_some_and(|t| is_legacy_temp(&name, t)) => None,
            None => continue,
        };
        let path = entry.path();
        if is_abandoned(&path, owner) && fs::remove_file(&path).is_ok() {
            removed.push(name);
        }
    }
    removed
}

/// Whether `name` is `.TARGET.XXXXXX.tmp`, the temporary file of `target`
/// that versions before the `.secops-tmp.` names wrote.
fn is_legacy_temp(name: &OsStr, target: &OsStr) -> bool {
    let (name, target) = (name.as_bytes(), target.as_bytes());
    let Some(rest) = name
        .strip_prefix(b".")
        .and_then(|n| n.strip_prefix(target))
        .and_then(|n| n.strip_prefix(b"."))
        .and_then(|n| n.strip_suffix(b".tmp"))
    else {
        return false;
    };
    rest.len() == RAND_LEN && rest.iter().all(u8::is_ascii_alphanumeric)
}

/// The writer's process id when `name` is one of our temporary files:
/// `.TARGET.secops-tmp.PID.RAND`.
pub fn temp_owner(name: &OsStr) -> Option<u32> {
    let name = name.as_bytes();
    let mark = TEMP_MARK.as_bytes();
    if name.first() != Some(&b'.') {
        return None;
    }
    let at = name.windows(mark.len()).rposition(|w| w == mark)?;
    if at < 2 {
        return None;
    }
    let rest = &name[at + mark.len()..];
    let dot = rest.iter().position(|b| *b == b'.')?;
    let (pid, rand) = (&rest[..dot], &rest[dot + 1..]);
    let digits = !pid.is_empty() && pid.len() <= 10 && pid.iter().all(u8::is_ascii_digit);
    let random = rand.len() == RAND_LEN && rand.iter().all(u8::is_ascii_alphanumeric);
    if !(digits && random) {
        return None;
    }
    std::str::from_utf8(pid).ok()?.parse().ok()
}

/// Whether the temporary file at `path`, named for process `pid`, was left
/// by a writer that is gone: a regular file of this user whose lock is
/// free, and whose process is gone or that has not been written for a
/// minute. A file in the earlier form (no `pid`, never locked) must have
/// been untouched for an hour.
fn is_abandoned(path: &Path, pid: Option<u32>) -> bool {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return false;
    };
    if !meta.file_type().is_file() || meta.uid() != nix::unistd::geteuid().as_raw() {
        return false;
    }
    let Ok(file) = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
    else {
        return false;
    };
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(_unlocked_when_dropped) => {}
        // Held: a live writer, here or in another PID namespace.
        Err((_, Errno::EWOULDBLOCK)) => return false,
        // No flock here: the process id alone decides.
        Err(_) => {}
    }
    let idle = meta
        .modified()
        .ok()
        .and_then(|at| SystemTime::now().duration_since(at).ok())
        .unwrap_or_default();
    match pid {
        Some(pid) => idle >= STALE_AFTER || !process_exists(pid),
        None => idle >= LEGACY_STALE_AFTER,
    }
}

/// Whether a process of this id exists (signal 0: EPERM means it does,
/// under another user).
fn process_exists(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if raw <= 0 {
        return false;
    }
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None),
        Err(Errno::ESRCH)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_that_is_not_a_file_is_written_in_place_never_replaced() {
        // `-o /dev/null` once renamed a file over /dev/null (as root, for
        // the whole machine); a FIFO takes the same path without the risk.
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("out");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read_to_string(fifo).unwrap())
        };
        write_atomic(&fifo, b"records\n", 0o600).unwrap();
        assert_eq!(reader.join().unwrap(), "records\n");
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out"], "no temporary file beside it");
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(TEMP_MARK) || n.ends_with(".tmp"))
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
        let temps = leftovers(dir.path());
        assert_eq!(temps.len(), 1, "{temps:?}");
        let pid = std::process::id();
        assert!(
            temps[0].starts_with(&format!(".report.json.secops-tmp.{pid}.")),
            "the temporary file says whose it is: {temps:?}"
        );
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
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o7777;
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("state.bin");
        write_atomic(&fresh, b"x", 0o600).unwrap();
        assert_eq!(mode(&fresh), 0o600);
        // Exactly the mode asked for: a umask (022 or 077 where tests run)
        // would take bits off one given at open alone.
        let public = dir.path().join("metrics.prom");
        write_atomic(&public, b"x", 0o666).unwrap();
        assert_eq!(mode(&public), 0o666);

        let shared = dir.path().join("shared.csv");
        fs::write(&shared, "x").unwrap();
        fs::set_permissions(&shared, Permissions::from_mode(0o640)).unwrap();
        write_atomic(&shared, b"y", 0o644).unwrap();
        assert_eq!(mode(&shared), 0o640, "a rewrite never widens");

        // Set-user-ID and friends are not copied onto the writer's file.
        fs::set_permissions(&shared, Permissions::from_mode(0o6751)).unwrap();
        write_atomic(&shared, b"z", 0o600).unwrap();
        assert_eq!(mode(&shared), 0o751);
        assert_eq!(fs::read(&shared).unwrap(), b"z");
    }

    #[test]
    fn a_rewrite_keeps_the_files_group() {
        // As root any group can be given; who may not give it loses the
        // group's access instead (tests/tests/permissions.rs, as nobody).
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        fs::write(&path, "old").unwrap();
        std::os::unix::fs::chown(&path, None, Some(4242)).unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o640)).unwrap();
        write_atomic(&path, b"new", 0o600).unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert_eq!((meta.gid(), meta.mode() & 0o777), (4242, 0o640));
    }

    /// A process id no process has: one that has just exited.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    /// A file last written `age` ago.
    fn touch(path: &Path, age: Duration) {
        fs::write(path, b"half a baseline").unwrap();
        age_file(path, age);
    }

    fn age_file(path: &Path, age: Duration) {
        let file = File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
    }

    #[test]
    fn the_next_write_removes_what_killed_writers_left_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("fim.baseline");
        let dead = dead_pid();
        let me = std::process::id();
        let name = |pid: u32, rand: &str| format!(".fim.baseline.secops-tmp.{pid}.{rand}");
        // Left by a writer killed with SIGKILL: its process is gone.
        touch(&dir.path().join(name(dead, "a1B2c3")), Duration::ZERO);
        // Of another target in the same directory, also abandoned.
        touch(
            &dir.path()
                .join(format!(".report.csv.secops-tmp.{dead}.zzzzzz")),
            Duration::ZERO,
        );
        // Being written by a live writer (this process holds its lock).
        let live = dir.path().join(name(dead, "L1v3ww"));
        touch(&live, Duration::from_secs(3600));
        let _held = Flock::lock(File::open(&live).unwrap(), FlockArg::LockExclusiveNonblock)
            .map_err(|(_, err)| err)
            .unwrap();
        // Unlocked, of a live process, fresh: in the instant between its
        // creation and its lock.
        let starting = dir.path().join(name(me, "n3wfil"));
        touch(&starting, Duration::ZERO);
        // Not ours: an operator's file, a name that only looks similar, a
        // directory, a symlink.
        let keep = [
            "fim.baseline.secops-tmp.1.abcdef".to_string(),
            ".fim.baseline.secops-tmp.12x.abcdef".to_string(),
            ".fim.baseline.secops-tmp.12.abcdefg".to_string(),
            ".fim.baseline.secops-tmp.notes".to_string(),
        ];
        // This target's, in the form earlier versions wrote, two hours old.
        let legacy = dir.path().join(".fim.baseline.a1b2c3.tmp");
        touch(&legacy, Duration::from_secs(7200));
        // In the earlier form: of another target, or too young, kept.
        touch(
            &dir.path().join(".other.b1b2c3.tmp"),
            Duration::from_secs(7200),
        );
        touch(&dir.path().join(".fim.baseline.y0ung1.tmp"), Duration::ZERO);
        for other in &keep {
            touch(&dir.path().join(other), Duration::from_secs(3600));
        }
        fs::create_dir(dir.path().join(name(dead, "d1rrrr"))).unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join(name(dead, "l1nkkk"))).unwrap();

        write_atomic(&target, b"new", 0o600).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        let mut left = leftovers(dir.path());
        left.sort();
        let mut want = vec![
            name(dead, "L1v3ww"),
            name(dead, "d1rrrr"),
            name(dead, "l1nkkk"),
            name(me, "n3wfil"),
            keep[0].clone(),
            keep[1].clone(),
            keep[2].clone(),
            keep[3].clone(),
            ".other.b1b2c3.tmp".to_string(),
            ".fim.baseline.y0ung1.tmp".to_string(),
        ];
        want.sort();
        assert_eq!(left, want);
        assert!(
            !legacy.exists(),
            "a stale one of the earlier form is removed"
        );

        // A process id reused by a live process keeps its file only while
        // the file is fresh.
        age_file(&starting, STALE_AFTER + Duration::from_secs(1));
        let removed = remove_leftovers(dir.path());
        assert_eq!(removed, [OsString::from(name(me, "n3wfil"))]);
        assert!(live.exists(), "a locked file is never removed");
    }

    #[test]
    fn temp_names_are_recognised_exactly() {
        let of = |s: &str| temp_owner(OsStr::new(s));
        assert_eq!(of(".x.secops-tmp.42.abcDE9"), Some(42));
        assert_eq!(of(".a.secops-tmp.b.secops-tmp.7.zzzzzz"), Some(7));
        assert_eq!(of("..secops-tmp.7.zzzzzz"), None, "a target has a name");
        assert_eq!(of(".x.secops-tmp.42.abcde"), None);
        assert_eq!(of(".x.secops-tmp..abcdef"), None);
        assert_eq!(of(".x.secops-tmp.99999999999.abcdef"), None);
        assert_eq!(of(".x.secops-tmp.42.abc-ef"), None);
    }
}
