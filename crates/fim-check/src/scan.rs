//! Walking the watched trees and hashing in parallel.
//!
//! The walk runs on the calling thread and works relative to open
//! directory descriptors (`openat`/`fstatat`), so names are bytes, trees
//! deeper than `PATH_MAX` are walked, and a directory renamed mid-walk
//! cannot redirect it. Regular files that need a hash go through a bounded
//! channel to one hasher per core, which share the directory descriptor;
//! the walk keeps stat'ing while they read.

use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, AtFlags, OFlag, openat, readlinkat};
use nix::sys::stat::{FileStat, Mode, fstat, fstatat};

use crate::attrs::Attr;
use crate::entry::{Entry, Kind};
use crate::hashing::{HashError, READ_SIZE, hash_file};
use crate::policy::Scope;
use crate::progress::Progress;

/// Why a path could not be fully recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// A file (or its attributes) could not be read.
    Unreadable,
    /// A directory could not be listed: what lies below it is unknown.
    UnreadableDir,
    /// Written or replaced while being read, again on retry.
    ChangedDuringScan,
}

#[derive(Debug, Clone)]
pub struct Problem {
    pub path: Vec<u8>,
    pub kind: ProblemKind,
    pub error: String,
}

/// What a scan saw, entries sorted by path bytes.
pub struct Scan {
    pub entries: Vec<Entry>,
    pub problems: Vec<Problem>,
}

/// How to scan.
pub struct ScanOptions<'a> {
    pub scope: &'a Scope,
    /// The baseline, for `--trust-metadata`.
    pub trusted: Option<&'a [Entry]>,
}

/// Attempts at hashing a file that keeps changing before giving up.
const HASH_ATTEMPTS: usize = 3;

/// Walks every root of the scope and hashes what the rules ask for.
pub fn scan(opts: &ScanOptions<'_>) -> Scan {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (job_tx, job_rx) = sync_channel::<Job>(4096);
    let job_rx = Mutex::new(job_rx);
    let (done_tx, done_rx) = channel();
    let progress = Progress::new();
    let mut walker = Walker {
        scope: opts.scope,
        trusted: opts.trusted,
        entries: Vec::new(),
        problems: Vec::new(),
        jobs: job_tx,
        progress: &progress,
    };
    let (mut entries, mut problems) = std::thread::scope(|s| {
        for _ in 0..workers {
            let done = done_tx.clone();
            let (rx, progress) = (&job_rx, &progress);
            s.spawn(move || hasher(rx, done, progress));
        }
        drop(done_tx);
        for root in opts.scope.roots() {
            walker.root(root);
        }
        // Dropping the job sender lets the hashers finish.
        let Walker {
            entries, problems, ..
        } = walker;
        (entries, problems)
    });
    progress.finish();
    apply_hashes(&mut entries, &mut problems, done_rx);
    entries.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    entries.dedup_by(|a, b| a.path == b.path);
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    Scan { entries, problems }
}

fn apply_hashes(entries: &mut [Entry], problems: &mut Vec<Problem>, done: Receiver<Done>) {
    for (idx, result) in done {
        let entry = &mut entries[idx];
        match result {
            Ok((hash, st)) => {
                entry.set_stat(&st);
                entry.sha256 = Some(hash);
            }
            Err(HashError::Changed) => problems.push(Problem {
                path: entry.path.clone(),
                kind: ProblemKind::ChangedDuringScan,
                error: format!("changed while being hashed, {HASH_ATTEMPTS} times"),
            }),
            Err(HashError::Io(err)) => problems.push(Problem {
                path: entry.path.clone(),
                kind: ProblemKind::Unreadable,
                error: err.desc().to_string(),
            }),
        }
    }
}

/// A file to hash: its entry index, directory and name, and the stat the
/// walk made.
struct Job {
    idx: usize,
    dir: Arc<OwnedFd>,
    name: CString,
    seen: FileStat,
}

type Done = (usize, Result<([u8; 32], FileStat), HashError>);

fn hasher(jobs: &Mutex<Receiver<Job>>, done: std::sync::mpsc::Sender<Done>, progress: &Progress) {
    let mut buf = vec![0u8; READ_SIZE];
    loop {
        let job = jobs.lock().map(|rx| rx.recv());
        let Ok(Ok(mut job)) = job else { return };
        let mut attempt = 1;
        let result = loop {
            let result = hash_file(&job.dir, &job.name, &job.seen, &mut buf, |n| {
                progress.hashed(n)
            });
            if result != Err(HashError::Changed) || attempt == HASH_ATTEMPTS {
                break result;
            }
            attempt += 1;
            match fstatat(&*job.dir, job.name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) if Kind::of(&st) == Kind::File => job.seen = st,
                _ => break Err(HashError::Changed),
            }
        };
        if done.send((job.idx, result)).is_err() {
            return;
        }
    }
}

struct Walker<'a> {
    scope: &'a Scope,
    trusted: Option<&'a [Entry]>,
    entries: Vec<Entry>,
    problems: Vec<Problem>,
    jobs: SyncSender<Job>,
    progress: &'a Progress,
}

impl Walker<'_> {
    fn root(&mut self, root: &Path) {
        let (parent, name) = match (root.parent(), root.file_name()) {
            (Some(parent), Some(name)) => (parent, name),
            _ => (root, OsStr::new(".")),
        };
        let path = root.as_os_str().as_bytes().to_vec();
        let dir = match openat(AT_FDCWD, parent, dir_flags(), Mode::empty()) {
            Ok(fd) => Arc::new(fd),
            // A watched path this host lacks (no /root/.ssh) is not an
            // error; one that disappears later shows as removed.
            Err(Errno::ENOENT) => return,
            Err(err) => return self.problem(path, ProblemKind::UnreadableDir, err),
        };
        let name = CString::new(name.as_bytes()).expect("path components hold no NUL");
        self.visit(&dir, path, &name, None);
    }

    /// Records `name` in `dir` (known as `path`) and, for a directory the
    /// policy descends into on the same filesystem, what it holds.
    fn visit(&mut self, dir: &Arc<OwnedFd>, path: Vec<u8>, name: &CStr, dev: Option<u64>) {
        let Some(rule) = self.scope.rule_for(&path) else {
            return;
        };
        let attrs = rule.attributes;
        let st = match fstatat(&**dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            // Gone between readdir and stat, or a watched path this host
            // lacks: it is simply not there.
            Err(Errno::ENOENT) => return,
            Err(err) => return self.problem(path, ProblemKind::Unreadable, err),
        };
        let mut entry = Entry::from_stat(path, &st);
        if entry.kind == Kind::Symlink && attrs.has(Attr::Target) {
            match readlinkat(&**dir, name) {
                Ok(target) => entry.target = Some(target.into_vec()),
                Err(err) => self.problem(entry.path.clone(), ProblemKind::Unreadable, err),
            }
        }
        if attrs.needs_xattrs() {
            self.read_xattrs(dir, name, &mut entry);
        }
        if entry.kind == Kind::File && attrs.has(Attr::Sha256) {
            self.hash_later(dir, name, &st, &mut entry);
        }
        let one_fs = self.scope.policy.one_file_system;
        let descend = entry.kind == Kind::Dir
            && self.scope.descends(&entry.path)
            && !(one_fs && dev.is_some_and(|d| d != st.st_dev));
        let path = descend.then(|| entry.path.clone());
        self.entries.push(entry);
        if let Some(path) = path {
            self.list(dir, name, path, dev.unwrap_or(st.st_dev), &st);
        }
    }

    fn list(&mut self, parent: &OwnedFd, name: &CStr, path: Vec<u8>, dev: u64, seen: &FileStat) {
        let fd = match openat(parent, name, dir_flags(), Mode::empty()) {
            Ok(fd) => fd,
            Err(err) => return self.problem(path, ProblemKind::UnreadableDir, err),
        };
        match fstat(&fd) {
            Ok(st) if st.st_ino == seen.st_ino && st.st_dev == seen.st_dev => {}
            Ok(_) => {
                return self.problem(path, ProblemKind::ChangedDuringScan, Errno::ESTALE);
            }
            Err(err) => return self.problem(path, ProblemKind::UnreadableDir, err),
        }
        let names = match read_names(&fd) {
            Ok(names) => names,
            Err(err) => return self.problem(path, ProblemKind::UnreadableDir, err),
        };
        let fd = Arc::new(fd);
        for child in names {
            let mut child_path = Vec::with_capacity(path.len() + 1 + child.as_bytes().len());
            child_path.extend_from_slice(&path);
            if !path.ends_with(b"/") {
                child_path.push(b'/');
            }
            child_path.extend_from_slice(child.as_bytes());
            self.visit(&fd, child_path, &child, Some(dev));
        }
    }

    /// Reuses the baseline's hash under `--trust-metadata` when inode,
    /// size, mtime and ctime are all unchanged; else queues a hash job.
    fn hash_later(&mut self, dir: &Arc<OwnedFd>, name: &CStr, st: &FileStat, entry: &mut Entry) {
        if let Some(trusted) = self.trusted {
            if let Ok(i) = trusted.binary_search_by(|e| e.path.as_slice().cmp(&entry.path)) {
                let old = &trusted[i];
                if old.sha256.is_some() && old.same_identity(entry) {
                    entry.sha256 = old.sha256;
                    return;
                }
            }
        }
        self.progress.found(st.st_size as u64);
        let job = Job {
            idx: self.entries.len(),
            dir: Arc::clone(dir),
            name: name.to_owned(),
            seen: *st,
        };
        // The hashers only stop once this sender is gone.
        self.jobs.send(job).expect("hashers outlive the walk");
    }

    /// Extended attributes (ACLs among them) through the directory
    /// descriptor's /proc name, which works for every file type without
    /// opening the file (a FIFO must never be opened) and at any depth.
    fn read_xattrs(&mut self, dir: &OwnedFd, name: &CStr, entry: &mut Entry) {
        let mut at = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
        at.push(OsStr::from_bytes(name.to_bytes()));
        let names = match xattr::list(&at) {
            Ok(names) => names,
            Err(err) if err.raw_os_error() == Some(Errno::ENOTSUP as i32) => return,
            Err(err) => return self.io_problem(entry.path.clone(), &err),
        };
        for attr in names {
            match xattr::get(&at, &attr) {
                Ok(Some(value)) => entry.xattrs.push((attr.into_vec(), value)),
                Ok(None) => {}
                Err(err) => return self.io_problem(entry.path.clone(), &err),
            }
        }
        entry.xattrs.sort();
    }

    fn problem(&mut self, path: Vec<u8>, kind: ProblemKind, err: Errno) {
        self.problems.push(Problem {
            path,
            kind,
            error: err.desc().to_string(),
        });
    }

    fn io_problem(&mut self, path: Vec<u8>, err: &std::io::Error) {
        self.problems.push(Problem {
            path,
            kind: ProblemKind::Unreadable,
            error: format!("extended attributes: {err}"),
        });
    }
}

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// The names in a directory, `.` and `..` left out. Read through a
/// duplicate descriptor, because `Dir` owns the one it reads.
fn read_names(fd: &OwnedFd) -> Result<Vec<CString>, Errno> {
    let mut dir = Dir::from_fd(nix::unistd::dup(fd)?)?;
    let mut names = Vec::new();
    for item in dir.iter() {
        let item = item?;
        let name = item.file_name();
        if name != c"." && name != c".." {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}
