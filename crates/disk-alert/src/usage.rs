//! How full a filesystem is, computed exactly as GNU df computes `Use%`
//! and `IUse%`, with every system call that touches a mount run on a helper
//! thread under a timeout, so that a hung mount (a dead NFS server, a stuck
//! FUSE daemon) costs the caller a timeout, never the whole run.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// How long one mount may take to answer before it counts as hung, unless
/// the caller says otherwise (`--mount-timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Space and inode figures of one filesystem, as `df` and `df -i` show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Total data space (`f_blocks` × `f_frsize`): df's `Size`.
    pub size_bytes: u64,
    /// Space in use (`f_blocks` − `f_bfree`): df's `Used`.
    pub used_bytes: u64,
    /// Space an unprivileged user can still fill (`f_bavail`): df's `Avail`.
    pub avail_bytes: u64,
    /// Free space including the root reserve (`f_bfree`).
    pub free_bytes: u64,
    /// df's `Use%`: used / (used + avail), rounded up. The root reserve is
    /// left out, so a disk whose users cannot write any more reads 100%.
    /// `None` where df prints `-` (no blocks at all).
    pub percent: Option<u8>,
    /// Inodes (`f_files`): df -i's `Inodes`.
    pub inodes_total: u64,
    /// Inodes in use (`f_files` − `f_ffree`): df -i's `IUsed`.
    pub inodes_used: u64,
    /// Free inodes (`f_ffree`): df -i's `IFree`.
    pub inodes_free: u64,
    /// df -i's `IUse%`, rounded up; `None` for filesystems that report no
    /// inode count (btrfs, vfat), where df -i prints `-`.
    pub inodes_percent: Option<u8>,
}

/// The raw counts of a `statvfs(2)` answer, in `frsize` units for blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub frsize: u64,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
}

impl Usage {
    /// The figures df derives from these counts. Percentages are computed
    /// in blocks with integer arithmetic, as df does, so they match it to
    /// the unit even where floating point would round the other way.
    pub(crate) fn from_counts(c: Counts) -> Usage {
        let used = c.blocks.saturating_sub(c.bfree);
        let inodes_used = c.files.saturating_sub(c.ffree);
        Usage {
            size_bytes: c.blocks.saturating_mul(c.frsize),
            used_bytes: used.saturating_mul(c.frsize),
            avail_bytes: c.bavail.saturating_mul(c.frsize),
            free_bytes: c.bfree.saturating_mul(c.frsize),
            percent: df_percent(used, c.bavail),
            inodes_total: c.files,
            inodes_used,
            inodes_free: c.ffree,
            inodes_percent: df_percent(inodes_used, c.ffree),
        }
    }

    /// Space used as a true 0-1 ratio, df's Use% before it rounds up:
    /// used / (used + avail), the root reserve left out. `None` where df
    /// prints `-`. Prometheus exports ratios, not percentages.
    pub fn used_ratio(&self) -> Option<f64> {
        ratio(self.used_bytes, self.avail_bytes)
    }

    /// Inodes used as a true 0-1 ratio, df -i's IUse% before rounding.
    pub fn inodes_used_ratio(&self) -> Option<f64> {
        ratio(self.inodes_used, self.inodes_free)
    }

    /// Whether the filesystem has any blocks: df leaves out those that do
    /// not (cgroup, tracefs, bpf and other pseudo filesystems).
    pub fn has_blocks(&self) -> bool {
        self.size_bytes > 0
    }
}

/// GNU df's percentage: `ceil(used * 100 / (used + available))`, or `None`
/// (df's `-`) when both are zero.
fn df_percent(used: u64, available: u64) -> Option<u8> {
    let total = u128::from(used) + u128::from(available);
    if total == 0 {
        return None;
    }
    // used <= total, so the quotient is at most 100.
    Some((u128::from(used) * 100).div_ceil(total) as u8)
}

fn ratio(used: u64, available: u64) -> Option<f64> {
    let total = used as f64 + available as f64;
    (total > 0.0).then(|| used as f64 / total)
}

fn statvfs_counts(path: &Path) -> io::Result<Counts> {
    let st = nix::sys::statvfs::statvfs(path).map_err(io::Error::from)?;
    // As gnulib does: f_frsize is the unit of the block counts, with
    // f_bsize as the fallback for filesystems that leave it zero.
    let frsize = match st.fragment_size() {
        0 => st.block_size(),
        n => n,
    };
    Ok(Counts {
        frsize,
        blocks: st.blocks(),
        bfree: st.blocks_free(),
        bavail: st.blocks_available(),
        files: st.files(),
        ffree: st.files_free(),
    })
}

/// Why a filesystem's usage could not be read.
#[derive(Debug)]
pub enum UsageError {
    /// The filesystem did not answer within the timeout: a hung NFS server,
    /// a stuck FUSE daemon. The call may still be blocked in the kernel.
    TimedOut(Duration),
    /// The system call failed (the mount vanished, permission denied, EIO).
    Failed(io::Error),
}

impl UsageError {
    /// True for a timeout, as opposed to an error the kernel returned.
    pub fn is_timeout(&self) -> bool {
        matches!(self, UsageError::TimedOut(_))
    }

    /// Errors df silently passes over when listing every mount: the mount
    /// went away since the table was read, or this user may not look.
    pub(crate) fn is_absent_or_denied(&self) -> bool {
        matches!(self, UsageError::Failed(err)
            if matches!(err.kind(), io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied))
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::TimedOut(after) => write!(
                f,
                "timed out after {} (the mount may be hung)",
                humantime_short(*after)
            ),
            UsageError::Failed(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for UsageError {}

/// `5s`, `1500ms`: durations as they were given on the command line.
fn humantime_short(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The usage of the filesystem holding `path`, or an error if it does not
/// answer within `timeout`.
///
/// Each call starts a helper thread; to check many mounts, or the same
/// mounts again and again, keep a [`Prober`], which reuses one.
pub fn usage(path: &Path, timeout: Duration) -> Result<Usage, UsageError> {
    Prober::new(timeout).usage(path)
}

/// What a look at one mount point found: its device number as `stat(2)`
/// sees it (what df de-duplicates on) and its usage.
pub(crate) struct Probe {
    pub dev: Option<u64>,
    pub usage: io::Result<Usage>,
}

impl Probe {
    /// `stat(2)` and `statvfs(2)` of `path`, on this thread: for a local
    /// filesystem, which answers or fails but does not hang.
    pub(crate) fn now(path: &Path) -> Probe {
        Probe {
            dev: std::fs::metadata(path).ok().map(|m| m.dev()),
            usage: statvfs_counts(path).map(Usage::from_counts),
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs filesystem calls on a helper thread and waits at most a timeout
/// for each.
///
/// One thread serves every call, so checking fifty mounts costs one thread
/// start, not fifty. A call that times out leaves its thread blocked in the
/// kernel; that thread is abandoned (it exits if the call ever returns) and
/// the next call gets a fresh one. A path whose earlier call is still
/// blocked is answered "timed out" at once rather than given another
/// thread, so a mount that stays hung through an `--interval` loop holds
/// one thread, not one per pass.
pub struct Prober {
    timeout: Duration,
    worker: Option<mpsc::Sender<Job>>,
    /// Paths whose call timed out, with a flag set when that call returns.
    blocked: HashMap<PathBuf, Arc<AtomicBool>>,
}

impl Prober {
    pub fn new(timeout: Duration) -> Prober {
        Prober {
            timeout,
            worker: None,
            blocked: HashMap::new(),
        }
    }

    /// The usage of the filesystem holding `path`.
    pub fn usage(&mut self, path: &Path) -> Result<Usage, UsageError> {
        let owned = path.to_path_buf();
        self.call(path, move || statvfs_counts(&owned))?
            .map(Usage::from_counts)
            .map_err(UsageError::Failed)
    }

    /// `stat(2)` and `statvfs(2)` of a mount point in one round trip.
    pub(crate) fn probe(&mut self, path: &Path) -> Result<Probe, UsageError> {
        let owned = path.to_path_buf();
        self.call(path, move || Probe::now(&owned))
    }

    /// The absolute path without symlinks; resolving it walks the
    /// filesystem, so it can hang like statvfs can.
    pub(crate) fn canonicalize(&mut self, path: &Path) -> Result<PathBuf, UsageError> {
        let owned = path.to_path_buf();
        self.call(path, move || std::fs::canonicalize(&owned))?
            .map_err(UsageError::Failed)
    }

    /// Runs `work` (which touches `path`) on the helper thread and waits for
    /// its answer at most the timeout.
    pub(crate) fn call<R: Send + 'static>(
        &mut self,
        path: &Path,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, UsageError> {
        if let Some(returned) = self.blocked.get(path) {
            if !returned.load(Ordering::Acquire) {
                return Err(UsageError::TimedOut(self.timeout));
            }
            self.blocked.remove(path);
        }
        let (reply, answer) = mpsc::sync_channel(1);
        let returned = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&returned);
        let job: Job = Box::new(move || {
            let result = work();
            flag.store(true, Ordering::Release);
            // The caller may have given up waiting; that is fine.
            let _ = reply.send(result);
        });
        self.submit(job)?;
        match answer.recv_timeout(self.timeout) {
            Ok(result) => Ok(result),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                self.worker = None;
                self.blocked.insert(path.to_path_buf(), returned);
                Err(UsageError::TimedOut(self.timeout))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                self.worker = None;
                Err(UsageError::Failed(io::Error::other(
                    "the helper thread checking it failed",
                )))
            }
        }
    }

    /// Hands a job to the helper thread, starting one if there is none (or
    /// the last one died).
    fn submit(&mut self, job: Job) -> Result<(), UsageError> {
        let job = match &self.worker {
            Some(worker) => match worker.send(job) {
                Ok(()) => return Ok(()),
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        let (worker, jobs) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("disk-alert-stat".to_string())
            // The thread only makes system calls: a small stack keeps an
            // abandoned one cheap.
            .stack_size(128 << 10)
            .spawn(move || {
                for job in jobs {
                    job();
                }
            })
            .map_err(UsageError::Failed)?;
        worker
            .send(job)
            .map_err(|_| UsageError::Failed(io::Error::other("the helper thread did not start")))?;
        self.worker = Some(worker);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn counts(frsize: u64, blocks: u64, bfree: u64, bavail: u64) -> Counts {
        Counts {
            frsize,
            blocks,
            bfree,
            bavail,
            files: 0,
            ffree: 0,
        }
    }

    #[test]
    fn ratios_are_exact_where_percentages_round_up() {
        let u = Usage::from_counts(counts(4096, 1000, 199, 199));
        assert_eq!(u.percent, Some(81));
        assert_eq!(u.used_ratio(), Some(801.0 / 1000.0));
        let empty = Usage::from_counts(counts(4096, 0, 0, 0));
        assert_eq!((empty.percent, empty.used_ratio()), (None, None));
    }

    #[test]
    fn percent_rounds_up_like_df() {
        // 80 of 100 usable blocks: exactly 80%, not alerting at 80.
        assert_eq!(
            Usage::from_counts(counts(4096, 100, 20, 20)).percent,
            Some(80)
        );
        // 801 of 1000: 80.1% rounds up to 81.
        assert_eq!(
            Usage::from_counts(counts(4096, 1000, 199, 199)).percent,
            Some(81)
        );
        // The root reserve (bfree - bavail) counts neither as used nor as
        // available: 50 used, 25 available to users -> 67%.
        let u = Usage::from_counts(counts(1024, 100, 50, 25));
        assert_eq!(u.percent, Some(67));
        assert_eq!(
            (u.size_bytes, u.used_bytes, u.avail_bytes, u.free_bytes),
            (102_400, 51_200, 25_600, 51_200)
        );
        // Nothing used and nothing available: df prints "-".
        assert_eq!(Usage::from_counts(counts(4096, 0, 0, 0)).percent, None);
        assert!(!Usage::from_counts(counts(4096, 0, 0, 0)).has_blocks());
        // Full for users while root still has its reserve.
        assert_eq!(
            Usage::from_counts(counts(4096, 100, 5, 0)).percent,
            Some(100)
        );
    }

    #[test]
    fn huge_filesystems_do_not_overflow() {
        let u = Usage::from_counts(counts(1 << 20, u64::MAX / 2, 1, 1));
        assert_eq!(u.percent, Some(100));
        assert_eq!(u.size_bytes, u64::MAX);
        assert_eq!(df_percent(u64::MAX, u64::MAX), Some(50));
    }

    #[test]
    fn inode_percent_is_df_i() {
        let u = Usage::from_counts(Counts {
            frsize: 4096,
            blocks: 10,
            bfree: 10,
            bavail: 10,
            files: 3,
            ffree: 2,
        });
        assert_eq!((u.inodes_total, u.inodes_used, u.inodes_free), (3, 1, 2));
        assert_eq!(u.inodes_percent, Some(34));
        assert_eq!(u.percent, Some(0));
    }

    #[test]
    fn reads_a_real_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        let u = usage(dir.path(), DEFAULT_TIMEOUT).unwrap();
        assert!(u.has_blocks() && u.used_bytes <= u.size_bytes, "{u:?}");
        let err = usage(&dir.path().join("missing"), DEFAULT_TIMEOUT).unwrap_err();
        assert!(!err.is_timeout() && err.is_absent_or_denied(), "{err}");
    }

    /// The timeout machinery with an injected slow call (a real hung mount
    /// is exercised by the integration tests).
    #[test]
    fn a_slow_call_times_out_and_does_not_block_the_next_mounts() {
        let mut prober = Prober::new(Duration::from_millis(200));
        let hung = Path::new("/hung");
        let release = Arc::new(AtomicBool::new(false));
        let hold = Arc::clone(&release);
        let started = Instant::now();
        let err = prober
            .call(hung, move || {
                while !hold.load(Ordering::Acquire) {
                    thread::sleep(Duration::from_millis(5));
                }
            })
            .unwrap_err();
        assert!(err.is_timeout(), "{err}");
        assert_eq!(
            err.to_string(),
            "timed out after 200ms (the mount may be hung)"
        );
        assert!(started.elapsed() < Duration::from_secs(2));

        // Another mount is served by a fresh thread.
        assert_eq!(prober.call(Path::new("/ok"), || 7).unwrap(), 7);

        // While the first call is still blocked, asking again answers at
        // once instead of piling up another blocked thread.
        let again = Instant::now();
        let err = prober.call(hung, || 1).unwrap_err();
        assert!(err.is_timeout());
        assert!(again.elapsed() < Duration::from_millis(100));

        // Once it returns, the path is checked normally again.
        release.store(true, Ordering::Release);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match prober.call(hung, || 2) {
                Ok(v) => break assert_eq!(v, 2),
                Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                Err(err) => panic!("still blocked: {err}"),
            }
        }
    }

    #[test]
    fn a_panicking_call_is_an_error_and_the_next_call_works() {
        let mut prober = Prober::new(Duration::from_secs(5));
        let err = prober
            .call(Path::new("/x"), || -> u8 { panic!("injected") })
            .unwrap_err();
        assert!(!err.is_timeout(), "{err}");
        assert_eq!(prober.call(Path::new("/x"), || 3).unwrap(), 3);
    }
}
