//! `fim-check watch`: the verify of what just changed.
//!
//! Every directory the policy descends into gets an inotify watch (added
//! through the directory's open descriptor as the walk lists it, so a name
//! created meanwhile is either listed or raises an event), and so does the
//! parent of each watched root, so a root deleted or replaced is seen.
//! Events only mark paths dirty; once the tree has been quiet for the
//! settle time (or a burst has lasted [`MAX_DELAY`]) the dirty paths are
//! scanned again, hashing only them, and compared with their part of the
//! baseline by the same `diff::compare` verify uses. A file written in a
//! thousand chunks is one dirty path and so one record.
//!
//! A path is reported again only when what would be said about it changed
//! (a second write gives a new hash, a repeated attribute event does not).
//! When the kernel's event queue overflows, events were lost: every watched
//! tree is scanned again, and a warning says so.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use secops_common::cli::PromArgs;
use secops_common::prom::Passes;
use secops_common::signals::Stop;
use secops_common::{Context, Error, Output};

use crate::alerts::Alerts;
use crate::baseline::Baseline;
use crate::diff::{Unchanged, compare, unknown};
use crate::entry::{Entry, Kind};
use crate::metrics::Figures;
use crate::policy::Scope;
use crate::records::{TOOL, event_record, problem_record};
use crate::scan::{ProblemKind, ScanOptions, Target, scan};

/// The longest a continuous burst of events delays its records.
pub const MAX_DELAY: Duration = Duration::from_secs(5);

const MASK: WatchMask = WatchMask::CREATE
    .union(WatchMask::DELETE)
    .union(WatchMask::MODIFY)
    .union(WatchMask::ATTRIB)
    .union(WatchMask::CLOSE_WRITE)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::DELETE_SELF)
    .union(WatchMask::MOVE_SELF)
    .union(WatchMask::ONLYDIR);

/// The watch limit of this user namespace: `fs.inotify.max_user_watches`
/// in the initial one.
const MAX_WATCHES: &str = "/proc/sys/user/max_inotify_watches";
const MAX_QUEUED: &str = "/proc/sys/fs/inotify/max_queued_events";

/// How to watch.
pub struct WatchOptions {
    /// Reuse baseline hashes in the first pass when inode, size, mtime and
    /// ctime are unchanged.
    pub trust_metadata: bool,
    /// Quiet time after the last event before dirty paths are checked.
    pub settle: Duration,
    /// Rewritten after every check that completed.
    pub prom: PromArgs,
}

/// What the watch saw, for the exit status.
pub struct Watched {
    /// Something could not be read.
    pub failed: bool,
    /// The `--prom-file` writes that failed.
    pub prom: Passes,
}

/// Watches until SIGINT or SIGTERM, writing records to `out` as they come.
pub fn watch(
    scope: &Scope,
    baseline: &Baseline,
    opts: &WatchOptions,
    out: &mut Output,
    alerts: &mut Alerts,
) -> Result<Watched, Error> {
    let signals = Signals::install()?;
    let inotify = Inotify::init().map_err(|err| {
        Error::failed(format!(
            "cannot start inotify: {err} (the limit is fs.inotify.max_user_instances)"
        ))
    })?;
    let mut watcher = Watcher {
        scope,
        baseline,
        inotify: RefCell::new(inotify),
        dirs: RefCell::new(HashMap::new()),
        full: RefCell::new(Vec::new()),
        said: BTreeMap::new(),
        failed: false,
        checked: 0,
    };
    let mut prom = Passes::default();
    watcher.watch_root_parents();
    let roots: Vec<Target> = scope
        .roots()
        .iter()
        .map(|root| Target {
            path: root.as_os_str().as_bytes().to_vec(),
            deep: true,
        })
        .collect();
    let completed = watcher.check(
        &roots,
        Pass::First {
            trusted: opts.trust_metadata,
        },
        out,
        alerts,
    )?;
    let full = watcher.full.take();
    if !full.is_empty() {
        return Err(Error::failed(format!(
            "cannot watch {} directories, {} among them: the inotify watch limit is reached (fs.inotify.max_user_watches = {}); raise it, e.g. sysctl -w fs.inotify.max_user_watches=1048576",
            full.len(),
            crate::names::shown(&full[0]),
            sysctl(MAX_WATCHES)
        )));
    }
    // The metrics say what holds after each check that completed (one
    // that could not read something, or keep its alerts, is a failed run
    // for verify too).
    let figures = |watcher: &Watcher<'_>| Figures::new(watcher.checked, &baseline.header.created);
    if completed {
        prom.note(
            opts.prom
                .write(TOOL, &alerts.findings(), figures(&watcher).exposition()),
        );
    }
    secops_common::info!(
        "watching with {} inotify watches: {}",
        watcher.dirs.borrow().len(),
        scope
            .roots()
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );

    let mut buf = vec![0u8; 64 * 1024];
    let mut dirty: BTreeMap<Vec<u8>, bool> = BTreeMap::new();
    let mut overflowed = false;
    // (first event of the burst, latest event)
    let mut burst: Option<(Instant, Instant)> = None;
    loop {
        let timeout = match burst {
            None => PollTimeout::NONE,
            Some((first, last)) => {
                let due = (last + opts.settle).min(first + MAX_DELAY);
                let left = due.saturating_duration_since(Instant::now());
                PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX)
            }
        };
        let (events_ready, signalled) = signals.wait(&watcher.inotify.borrow(), timeout)?;
        if signalled {
            break;
        }
        if events_ready {
            let now = Instant::now();
            overflowed |= watcher.read_events(&mut buf, &mut dirty)?;
            if overflowed || !dirty.is_empty() {
                burst = Some((burst.map_or(now, |(first, _)| first), now));
            }
            // Events that never stop (a log written every 100 ms) must not
            // hold back what they changed for longer than MAX_DELAY.
            if burst.is_none_or(|(first, _)| now < first + MAX_DELAY) {
                continue;
            }
        }
        if burst.is_none() {
            continue;
        }
        // Quiet for the settle time, or the burst ran too long.
        burst = None;
        let (targets, pass) = if overflowed {
            overflowed = false;
            dirty.clear();
            secops_common::warn!(
                "the inotify event queue overflowed (fs.inotify.max_queued_events = {}): events were lost, so every watched tree is checked again",
                sysctl(MAX_QUEUED)
            );
            (roots.clone(), Pass::Rescan)
        } else {
            (outermost(std::mem::take(&mut dirty)), Pass::Changed)
        };
        if watcher.check(&targets, pass, out, alerts)? {
            prom.note(
                opts.prom
                    .write(TOOL, &alerts.findings(), figures(&watcher).exposition()),
            );
        }
        let full = watcher.full.take();
        if !full.is_empty() {
            secops_common::warn!(
                "cannot watch {} new directories, {} among them: the inotify watch limit is reached (fs.inotify.max_user_watches = {}); changes below them are not seen until the next verify",
                full.len(),
                crate::names::shown(&full[0]),
                sysctl(MAX_WATCHES)
            );
        }
    }
    secops_common::info!("stopped by a signal");
    Ok(Watched {
        failed: watcher.failed,
        prom,
    })
}

/// What a check is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Every tree, at start (with the progress bar).
    First { trusted: bool },
    /// Every tree, after events were lost.
    Rescan,
    /// The paths events marked.
    Changed,
}

struct Watcher<'a> {
    scope: &'a Scope,
    baseline: &'a Baseline,
    /// Shared with the walk's `on_list` hook.
    inotify: RefCell<Inotify>,
    /// The path each watch descriptor stands for.
    dirs: RefCell<HashMap<WatchDescriptor, Vec<u8>>>,
    /// Directories left unwatched by the watch limit.
    full: RefCell<Vec<Vec<u8>>>,
    /// Per path, what was last reported (the record without its time), so
    /// a path is reported again only when that changes.
    said: BTreeMap<Vec<u8>, String>,
    failed: bool,
    /// Entries the last check of every tree compared.
    checked: u64,
}

impl Watcher<'_> {
    /// Watches the parent of each root, so a root removed, renamed or
    /// created is seen; their other entries are outside the policy.
    fn watch_root_parents(&self) {
        for root in self.scope.roots() {
            let Some(parent) = root.parent() else {
                continue;
            };
            match self.inotify.borrow_mut().watches().add(parent, MASK) {
                Ok(wd) => {
                    let path = parent.as_os_str().as_bytes().to_vec();
                    self.dirs.borrow_mut().insert(wd, path);
                }
                Err(err) => secops_common::warn!(
                    "cannot watch {} (for {} being replaced): {err}",
                    parent.display(),
                    root.display()
                ),
            }
        }
    }

    /// Adds (or renames) the watch of a directory being listed.
    fn add_watch(&self, path: &[u8], dir: &OwnedFd) {
        let at = format!("/proc/self/fd/{}", dir.as_raw_fd());
        match self.inotify.borrow_mut().watches().add(&at, MASK) {
            Ok(wd) => {
                self.dirs.borrow_mut().insert(wd, path.to_vec());
            }
            Err(err) if err.raw_os_error() == Some(nix::libc::ENOSPC) => {
                self.full.borrow_mut().push(path.to_vec());
            }
            Err(err) => secops_common::warn!("cannot watch {}: {err}", crate::names::shown(path)),
        }
    }

    /// Reads the pending events into `dirty` (path to whether all below it
    /// is dirty too); true when the queue overflowed.
    fn read_events(
        &mut self,
        buf: &mut [u8],
        dirty: &mut BTreeMap<Vec<u8>, bool>,
    ) -> Result<bool, Error> {
        let mut overflowed = false;
        loop {
            let mut inotify = self.inotify.borrow_mut();
            let events = match inotify.read_events(buf) {
                Ok(events) => events,
                Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(overflowed),
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => {
                    return Err(Error::failed(format!("cannot read inotify events: {err}")));
                }
            };
            let mut moved_dirs = Vec::new();
            for event in events {
                if event.mask.contains(EventMask::Q_OVERFLOW) {
                    overflowed = true;
                    continue;
                }
                let mut dirs = self.dirs.borrow_mut();
                if event.mask.contains(EventMask::IGNORED) {
                    dirs.remove(&event.wd);
                    continue;
                }
                let Some(dir) = dirs.get(&event.wd) else {
                    continue;
                };
                let mut path = dir.clone();
                if let Some(name) = event.name {
                    // A name added or removed changes the directory too
                    // (mtime, ctime, link count), as verify would report.
                    let listing = EventMask::CREATE
                        | EventMask::DELETE
                        | EventMask::MOVED_FROM
                        | EventMask::MOVED_TO;
                    if event.mask.intersects(listing) && self.scope.rule_for(dir).is_some() {
                        dirty.entry(dir.clone()).or_default();
                    }
                    if !path.ends_with(b"/") {
                        path.push(b'/');
                    }
                    path.extend_from_slice(name.as_bytes());
                }
                if self.scope.rule_for(&path).is_none() {
                    continue;
                }
                let is_dir = event.mask.contains(EventMask::ISDIR);
                // A directory moved away keeps its watches, which would
                // report under the old name: they are dropped, and the new
                // name is walked (and watched) afresh.
                if is_dir && event.mask.contains(EventMask::MOVED_FROM)
                    || event.mask.contains(EventMask::MOVE_SELF)
                {
                    moved_dirs.push(path.clone());
                }
                let deep = is_dir
                    && event
                        .mask
                        .intersects(EventMask::CREATE | EventMask::MOVED_TO)
                    || event
                        .mask
                        .intersects(EventMask::DELETE_SELF | EventMask::MOVE_SELF);
                *dirty.entry(path).or_default() |= deep;
            }
            drop(inotify);
            for path in moved_dirs {
                self.forget_below(&path);
            }
        }
    }

    /// Drops the watches of `path` and the directories below it.
    fn forget_below(&self, path: &[u8]) {
        let mut dirs = self.dirs.borrow_mut();
        let gone: Vec<WatchDescriptor> = dirs
            .iter()
            .filter(|(_, dir)| within(dir, path))
            .map(|(wd, _)| wd.clone())
            .collect();
        for wd in gone {
            dirs.remove(&wd);
            // Fails when the kernel already dropped it: nothing to undo.
            let _ = self.inotify.borrow_mut().watches().remove(wd);
        }
    }

    /// Scans `targets` again, compares them with their part of the
    /// baseline and writes what is new to say. `trusted` reuses baseline
    /// hashes as `--trust-metadata` does; `progress` draws the bar (the
    /// first check, of everything). False when something could not be
    /// read or the alerts not kept: the check did not complete.
    fn check(
        &mut self,
        targets: &[Target],
        pass: Pass,
        out: &mut Output,
        alerts: &mut Alerts,
    ) -> Result<bool, Error> {
        let whole = pass != Pass::Changed;
        // A check of every tree holds only what differs, as verify does.
        let mut unchanged = Unchanged::new(self.scope, self.baseline);
        let mut sink = |entry: &Entry, clean: bool| unchanged.keep(entry, clean);
        let hook = |path: &[u8], dir: &OwnedFd| self.add_watch(path, dir);
        let found = scan(ScanOptions {
            scope: self.scope,
            trusted: (pass == Pass::First { trusted: true }).then_some(self.baseline),
            only: Some(targets),
            on_list: Some(&hook),
            progress: matches!(pass, Pass::First { .. }),
            sink: whole.then_some(&mut sink),
        });
        // The baseline entries the targets cover: the path, and what was
        // below it when the scan went there or found it gone or no longer
        // a directory.
        let mut covered: Vec<(&[u8], bool)> = Vec::new();
        let mut old: Vec<Entry> = Vec::new();
        if whole {
            self.checked = (found.entries.len() + unchanged.dropped()) as u64;
            old = unchanged.rest();
            covered.extend(targets.iter().map(|t| (t.path.as_slice(), true)));
        }
        for target in targets.iter().filter(|_| !whole) {
            let now = found
                .entries
                .binary_search_by(|e| e.path.as_slice().cmp(&target.path))
                .ok()
                .map(|i| &found.entries[i]);
            let deep = target.deep || now.is_none_or(|e| e.kind != Kind::Dir);
            covered.push((&target.path, deep));
            old.extend(subtree(self.baseline, &target.path, deep));
        }
        old.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        old.dedup_by(|a, b| a.path == b.path);
        if let Err(err) = self.baseline.intact() {
            return Err(alerts.refuse(out, err));
        }
        let events = compare(self.scope, &old, &found);
        let reported: HashSet<&[u8]> = events.iter().map(|e| e.path()).collect();
        for &(path, deep) in &covered {
            if !reported.contains(path) {
                self.said.remove(path);
            }
            if deep {
                let keys: Vec<Vec<u8>> = self
                    .said
                    .range(below(path))
                    .map(|(k, _)| k.clone())
                    .filter(|k| !reported.contains(k.as_slice()))
                    .collect();
                for key in keys {
                    self.said.remove(&key);
                }
            }
        }
        for event in &events {
            let rec = event_record(event);
            let said = format!(
                "{}{}",
                rec.kind,
                serde_json::to_string(&rec.fields).expect("fields serialize")
            );
            if self.said.get(event.path()) != Some(&said) {
                out.write(&rec)?;
                self.said.insert(event.path().to_vec(), said);
            }
            // Held, whether said again or not.
            alerts.fire(&rec);
        }
        let mut completed = true;
        for problem in &found.problems {
            completed &= problem.kind == ProblemKind::ChangedDuringScan;
            let rec = problem_record(problem);
            out.write(&rec)?;
            alerts.fire(&rec);
        }
        // What was firing among the paths checked and is not any more has
        // ended; alerts about paths this check did not cover hold as they
        // were.
        let looked = |path: &[u8]| {
            covered
                .iter()
                .any(|(c, deep)| path == *c || *deep && within(path, c))
                && !unknown(&found.problems, path)
        };
        for rec in alerts.end_pass(looked, |_| false) {
            out.write(&rec)?;
        }
        if let Err(err) = alerts.save() {
            secops_common::warn!("{err}");
            completed = false;
        }
        self.failed |= !completed;
        out.flush()?;
        Ok(completed)
    }
}

/// The dirty paths without those inside a dirty tree that is rescanned
/// whole.
fn outermost(dirty: BTreeMap<Vec<u8>, bool>) -> Vec<Target> {
    let deep: Vec<Vec<u8>> = dirty
        .iter()
        .filter(|(_, deep)| **deep)
        .map(|(path, _)| path.clone())
        .collect();
    dirty
        .into_iter()
        .filter(|(path, _)| !deep.iter().any(|d| d != path && within(path, d)))
        .map(|(path, deep)| Target { path, deep })
        .collect()
}

/// Whether `path` is `dir` or below it.
fn within(path: &[u8], dir: &[u8]) -> bool {
    path.starts_with(dir)
        && (path.len() == dir.len() || dir.ends_with(b"/") || path[dir.len()] == b'/')
}

/// The sorted-order range of the paths below `dir`: from `dir/` up to
/// `dir0` (`0` follows `/` in ASCII).
fn below(dir: &[u8]) -> std::ops::Range<Vec<u8>> {
    let mut from = dir.to_vec();
    if !from.ends_with(b"/") {
        from.push(b'/');
    }
    let mut to = from.clone();
    *to.last_mut().expect("not empty") = b'/' + 1;
    from..to
}

/// The baseline entries of `path` and, with `deep`, of all below it, read
/// again from the baseline.
fn subtree(baseline: &Baseline, path: &[u8], deep: bool) -> Vec<Entry> {
    let start = baseline.position(path);
    let own = usize::from(start < baseline.count() && baseline.path(start) == path);
    let rest = match deep {
        true => {
            let range = below(path);
            baseline.position(&range.start)..baseline.position(&range.end)
        }
        false => 0..0,
    };
    (start..start + own)
        .chain(rest)
        .filter_map(|i| baseline.entry(i))
        .collect()
}

fn sysctl(file: &str) -> String {
    std::fs::read_to_string(file).map_or_else(|_| "?".to_string(), |s| s.trim().to_string())
}

/// SIGINT and SIGTERM end the watch after the current batch is written
/// (a second signal ends the process at once), as `--interval` loops do;
/// the signal's byte on the self-pipe is polled beside the inotify
/// descriptor.
struct Signals {
    stop: Stop,
}

impl Signals {
    fn install() -> Result<Signals, Error> {
        let stop = Stop::install()?;
        stop.wake()
            .set_nonblocking(true)
            .context(|| "cannot install signal handlers".into())?;
        Ok(Signals { stop })
    }

    /// Waits for events or a signal, at most `timeout`: (events ready,
    /// signalled).
    fn wait(&self, inotify: &Inotify, timeout: PollTimeout) -> Result<(bool, bool), Error> {
        if self.stop.requested() {
            return Ok((false, true));
        }
        let mut fds = [
            PollFd::new(inotify.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.stop.wake().as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(err) => return Err(Error::failed(format!("cannot wait for events: {err}"))),
        }
        let ready = |fd: &PollFd<'_>| fd.any().unwrap_or(false);
        if ready(&fds[1]) {
            let _ = self.stop.wake().read(&mut [0u8; 16]);
        }
        Ok((ready(&fds[0]), self.stop.requested()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str, deep: bool) -> Target {
        Target {
            path: path.as_bytes().to_vec(),
            deep,
        }
    }

    #[test]
    fn paths_inside_a_deep_target_are_not_scanned_twice() {
        let dirty: BTreeMap<Vec<u8>, bool> = [
            ("/t/a", true),
            ("/t/a-b", false),
            ("/t/a/x", false),
            ("/t/ab", false),
            ("/t/c", false),
        ]
        .into_iter()
        .map(|(p, d)| (p.as_bytes().to_vec(), d))
        .collect();
        assert_eq!(
            outermost(dirty),
            [
                target("/t/a", true),
                target("/t/a-b", false),
                target("/t/ab", false),
                target("/t/c", false)
            ]
        );
        assert!(within(b"/t/a/x", b"/t/a") && within(b"/t/a", b"/t/a"));
        assert!(!within(b"/t/ab", b"/t/a") && within(b"/x", b"/"));
    }
}
