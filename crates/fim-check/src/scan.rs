//! Walking the watched trees and hashing in parallel.
//!
//! The walk runs on the calling thread and works relative to open
//! directory descriptors (`openat`/`fstatat`), so names are bytes, trees
//! deeper than `PATH_MAX` are walked, and a directory renamed mid-walk
//! cannot redirect it. Regular files that need a hash go through a bounded
//! channel to one hasher per core, which share the directory descriptor;
//! the walk keeps stat'ing while they read.

use std::collections::HashMap;
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
use crate::baseline::Baseline;
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

/// What a scan saw (what its sink kept), entries sorted by path bytes.
pub struct Scan {
    pub entries: Vec<Entry>,
    pub problems: Vec<Problem>,
}

/// Sees a directory about to be listed: its path and open descriptor.
pub type OnList<'a> = &'a dyn Fn(&[u8], &OwnedFd);

/// Takes each complete entry and whether it was recorded without a
/// problem; returns whether the scan keeps it.
pub type Sink<'a> = &'a mut dyn FnMut(&Entry, bool) -> bool;

/// How to scan.
pub struct ScanOptions<'a> {
    pub scope: &'a Scope,
    /// The baseline, for `--trust-metadata`.
    pub trusted: Option<&'a Baseline>,
    /// Where to start: the scope's roots when `None`; `watch` rescans
    /// only what changed.
    pub only: Option<&'a [Target]>,
    /// Called with each directory about to be listed, through its open
    /// descriptor, so `watch` can add an inotify watch before reading the
    /// names: whatever appears later raises an event.
    pub on_list: Option<OnList<'a>>,
    /// Draw the progress bar (on a terminal).
    pub progress: bool,
    /// Sees each entry once it is complete (hashed), with whether it was
    /// recorded without a problem, and says whether the scan keeps it: init
    /// streams entries to the baseline file and keeps none, verify keeps
    /// only those that differ from the baseline. `None` keeps them all.
    pub sink: Option<Sink<'a>>,
}

impl<'a> ScanOptions<'a> {
    /// A full scan of the scope's roots, with the progress bar.
    pub fn of(scope: &'a Scope) -> ScanOptions<'a> {
        ScanOptions {
            scope,
            trusted: None,
            only: None,
            on_list: None,
            progress: true,
            sink: None,
        }
    }
}

/// A path to scan again: the path itself, and with `deep` all below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub path: Vec<u8>,
    pub deep: bool,
}

/// Attempts at hashing a file that keeps changing before giving up.
const HASH_ATTEMPTS: usize = 3;

/// Walks every root of the scope and hashes what the rules ask for.
pub fn scan(opts: ScanOptions<'_>) -> Scan {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (job_tx, job_rx) = sync_channel::<Job>(4096);
    let job_rx = Mutex::new(job_rx);
    let (done_tx, done_rx) = channel();
    let progress = Progress::new(opts.progress);
    let mut walker = Walker {
        scope: opts.scope,
        trusted: opts.trusted,
        on_list: opts.on_list,
        sink: opts.sink,
        entries: Vec::new(),
        waiting: HashMap::new(),
        next_seq: 0,
        problems: Vec::new(),
        jobs: job_tx,
        progress: &progress,
        done: done_rx,
    };
    let (mut entries, mut problems) = std::thread::scope(|s| {
        for _ in 0..workers {
            let done = done_tx.clone();
            let (rx, progress) = (&job_rx, &progress);
            s.spawn(move || hasher(rx, done, progress));
        }
        drop(done_tx);
        match opts.only {
            Some(targets) => {
                for target in targets {
                    walker.start(&target.path, target.deep);
                }
            }
            None => {
                for root in opts.scope.roots() {
                    walker.start(root.as_os_str().as_bytes(), true);
                }
            }
        }
        // Dropping the job sender lets the hashers finish; their last
        // results are taken as they come.
        let Walker {
            jobs,
            done,
            mut entries,
            mut problems,
            mut waiting,
            mut sink,
            ..
        } = walker;
        drop(jobs);
        for result in done {
            let (entry, clean) = apply(&mut waiting, &mut problems, result);
            finish(&mut sink, &mut entries, entry, clean);
        }
        (entries, problems)
    });
    progress.finish();
    entries.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    entries.dedup_by(|a, b| a.path == b.path);
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    Scan { entries, problems }
}

/// Puts a hash result into its entry, which is then complete: returns it
/// and whether it was recorded without a problem.
fn apply(
    waiting: &mut HashMap<usize, (Entry, bool)>,
    problems: &mut Vec<Problem>,
    (seq, result): Done,
) -> (Entry, bool) {
    let (mut entry, clean) = waiting.remove(&seq).expect("a result for a queued file");
    match result {
        Ok((hash, st)) => {
            entry.set_stat(&st);
            entry.sha256 = Some(hash);
            return (entry, clean);
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
    (entry, false)
}

/// Hands a complete entry to the sink and keeps it if asked to.
fn finish(sink: &mut Option<Sink<'_>>, entries: &mut Vec<Entry>, entry: Entry, clean: bool) {
    if sink.as_mut().is_none_or(|sink| sink(&entry, clean)) {
        entries.push(entry);
    }
}

/// A file to hash: its entry's number, directory and name, and the stat
/// the walk made.
struct Job {
    seq: usize,
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
        if done.send((job.seq, result)).is_err() {
            return;
        }
    }
}

struct Walker<'a, 's> {
    scope: &'a Scope,
    trusted: Option<&'a Baseline>,
    on_list: Option<OnList<'a>>,
    sink: Option<Sink<'s>>,
    /// What the sink kept.
    entries: Vec<Entry>,
    /// Entries whose hash is being computed, by number, with whether they
    /// were recorded without a problem so far.
    waiting: HashMap<usize, (Entry, bool)>,
    next_seq: usize,
    problems: Vec<Problem>,
    jobs: SyncSender<Job>,
    progress: &'a Progress,
    /// Hash results, taken as the walk goes so they do not pile up.
    done: Receiver<Done>,
}

impl Walker<'_, '_> {
    /// Records `path` and, when `deep`, what lies below it.
    fn start(&mut self, path: &[u8], deep: bool) {
        let root = Path::new(OsStr::from_bytes(path));
        let (parent, name) = match (root.parent(), root.file_name()) {
            (Some(parent), Some(name)) => (parent, name),
            _ => (root, OsStr::new(".")),
        };
        let dev = self.device_of_root(root);
        let path = path.to_vec();
        let dir = match openat(AT_FDCWD, parent, dir_flags(), Mode::empty()) {
            Ok(fd) => Arc::new(fd),
            // A watched path this host lacks (no /root/.ssh) is not an
            // error; one that disappears later shows as removed.
            Err(Errno::ENOENT) => return,
            Err(err) => return self.problem(path, ProblemKind::UnreadableDir, err),
        };
        let name = CString::new(name.as_bytes()).expect("path components hold no NUL");
        self.visit(&dir, path, &name, dev, deep);
    }

    /// The filesystem a path below a watched root must be on to be
    /// descended into: the root's, or `None` for the root itself (always
    /// descended, as a full scan does) and without `one_file_system`.
    fn device_of_root(&self, path: &Path) -> Option<u64> {
        if !self.scope.policy.one_file_system {
            return None;
        }
        let root = self.scope.root_of(path).filter(|root| *root != path)?;
        fstatat(AT_FDCWD, root, AtFlags::AT_SYMLINK_NOFOLLOW)
            .ok()
            .map(|st| st.st_dev)
    }

    /// Records `name` in `dir` (known as `path`) and, when `deep`, for a
    /// directory the policy descends into on the same filesystem, what it
    /// holds.
    fn visit(
        &mut self,
        dir: &Arc<OwnedFd>,
        path: Vec<u8>,
        name: &CStr,
        dev: Option<u64>,
        deep: bool,
    ) {
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
        let problems_before = self.problems.len();
        if entry.kind == Kind::Symlink && attrs.has(Attr::Target) {
            match readlinkat(&**dir, name) {
                Ok(target) => entry.target = Some(target.into_vec()),
                Err(err) => self.problem(entry.path.clone(), ProblemKind::Unreadable, err),
            }
        }
        if attrs.needs_xattrs() {
            self.read_xattrs(dir, name, &mut entry);
        }
        let clean = self.problems.len() == problems_before;
        let queued = entry.kind == Kind::File
            && attrs.has(Attr::Sha256)
            && self.hash_later(dir, name, &st, &mut entry);
        let one_fs = self.scope.policy.one_file_system;
        let descend = deep
            && entry.kind == Kind::Dir
            && self.scope.descends(&entry.path)
            && !(one_fs && dev.is_some_and(|d| d != st.st_dev));
        let path = descend.then(|| entry.path.clone());
        if queued {
            self.waiting.insert(self.next_seq - 1, (entry, clean));
        } else {
            finish(&mut self.sink, &mut self.entries, entry, clean);
        }
        while let Ok(result) = self.done.try_recv() {
            let (entry, clean) = apply(&mut self.waiting, &mut self.problems, result);
            finish(&mut self.sink, &mut self.entries, entry, clean);
        }
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
        if let Some(on_list) = self.on_list {
            on_list(&path, &fd);
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
            self.visit(&fd, child_path, &child, Some(dev), true);
        }
    }

    /// Reuses the baseline's hash under `--trust-metadata` when inode,
    /// size, mtime and ctime are all unchanged; else queues a hash job
    /// (numbered `next_seq`) and returns true.
    fn hash_later(
        &mut self,
        dir: &Arc<OwnedFd>,
        name: &CStr,
        st: &FileStat,
        entry: &mut Entry,
    ) -> bool {
        if let Some(base) = self.trusted {
            let old = base.find(&entry.path).and_then(|i| base.entry(i));
            if let Some(old) = old.filter(|old| old.sha256.is_some() && old.same_identity(entry)) {
                entry.sha256 = old.sha256;
                return false;
            }
        }
        self.progress.found(st.st_size as u64);
        let job = Job {
            seq: self.next_seq,
            dir: Arc::clone(dir),
            name: name.to_owned(),
            seen: *st,
        };
        // The hashers only stop once this sender is gone.
        self.jobs.send(job).expect("hashers outlive the walk");
        self.next_seq += 1;
        true
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
