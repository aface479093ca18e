//! The faults a writer of state or artefacts must survive, made real: a
//! small tmpfs that fills up (ENOSPC) or is remounted read-only (EROFS), a
//! FUSE file system whose writes fail with EIO on demand, and kill -9 at a
//! random point of a run. Each mounts for real, so these need root (the
//! tests run as root in CI); a test that cannot mount fails and says why.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

use tempfile::TempDir;

use crate::wait::{PATIENCE, wait_until};

fn mounted(dir: &Path) -> bool {
    let dir = dir.to_string_lossy();
    fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .any(|line| line.split(' ').nth(1) == Some(dir.as_ref()))
}

fn mount(args: &[&str]) {
    let out = Command::new("mount")
        .args(args)
        .output()
        .expect("mount runs (util-linux)");
    assert!(
        out.status.success(),
        "mount {} failed (these tests mount file systems, so they need root): {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A tmpfs of a given size mounted on a fresh directory, unmounted on drop.
pub struct Tmpfs {
    dir: TempDir,
}

impl Tmpfs {
    pub fn new(bytes: u64) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let size = format!("size={bytes},mode=0755");
        mount(&[
            "-t",
            "tmpfs",
            "-o",
            &size,
            "tmpfs",
            &dir.path().to_string_lossy(),
        ]);
        Tmpfs { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills what is left with `filler` (not hidden, so it is never taken
    /// for a writer's temporary file), until the file system says ENOSPC.
    pub fn fill(&self) {
        let mut file = fs::File::create(self.filler()).unwrap();
        let block = vec![0u8; 64 << 10];
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(err) if err.raw_os_error() == Some(28) => break,
                Err(err) => panic!("filling {}: {err}", self.path().display()),
            }
        }
        // Whatever smaller pieces still fit.
        while file.write(&[0u8; 512]).is_ok_and(|n| n > 0) {}
    }

    /// Gives the space `fill` took back.
    pub fn free(&self) {
        let _ = fs::remove_file(self.filler());
    }

    fn filler(&self) -> PathBuf {
        self.path().join("filler")
    }

    /// Remounts it read-only (`true`) or read-write again.
    pub fn read_only(&self, read_only: bool) {
        let opts = if read_only {
            "remount,ro"
        } else {
            "remount,rw"
        };
        mount(&["-o", opts, &self.path().to_string_lossy()]);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}

/// A passthrough FUSE file system (Python, Debian's python3-fusepy) over a
/// backing directory, whose `write` and `fsync` fail with EIO while
/// [`failing`](EioFs::failing) is on, as a dying disk or a lost network
/// volume does. Reads, renames and everything else work.
pub struct EioFs {
    dir: TempDir,
    child: Child,
}

const EIO_FS: &str = r#"
import errno, os, sys
from fusepy import FUSE, FuseOSError, Operations

backing, mountpoint, switch = sys.argv[1:4]

class Eio(Operations):
    def _p(self, path):
        return backing + path
    def _guard(self):
        if os.path.exists(switch):
            raise FuseOSError(errno.EIO)
    def _os(self, f, *args):
        try:
            return f(*args)
        except OSError as e:
            raise FuseOSError(e.errno)
    def access(self, path, mode):
        if not os.access(self._p(path), mode):
            raise FuseOSError(errno.EACCES)
    def getattr(self, path, fh=None):
        st = self._os(os.lstat, self._p(path))
        return {k: getattr(st, k) for k in ('st_atime', 'st_ctime', 'st_gid', 'st_mode',
                'st_mtime', 'st_nlink', 'st_size', 'st_uid', 'st_ino')}
    def readdir(self, path, fh):
        return ['.', '..'] + self._os(os.listdir, self._p(path))
    def readlink(self, path):
        return self._os(os.readlink, self._p(path))
    def mknod(self, path, mode, dev):
        return self._os(os.mknod, self._p(path), mode, dev)
    def mkdir(self, path, mode):
        return self._os(os.mkdir, self._p(path), mode)
    def rmdir(self, path):
        return self._os(os.rmdir, self._p(path))
    def unlink(self, path):
        return self._os(os.unlink, self._p(path))
    def symlink(self, target, source):
        return self._os(os.symlink, source, self._p(target))
    def link(self, target, source):
        return self._os(os.link, self._p(source), self._p(target))
    def rename(self, old, new):
        return self._os(os.rename, self._p(old), self._p(new))
    def chmod(self, path, mode):
        return self._os(os.chmod, self._p(path), mode)
    def chown(self, path, uid, gid):
        return self._os(os.lchown, self._p(path), uid, gid)
    def utimens(self, path, times=None):
        return self._os(os.utime, self._p(path), times)
    def truncate(self, path, length, fh=None):
        self._guard()
        with open(self._p(path), 'r+') as f:
            f.truncate(length)
    def statfs(self, path):
        st = os.statvfs(self._p(path))
        return {k: getattr(st, k) for k in ('f_bavail', 'f_bfree', 'f_blocks', 'f_bsize',
                'f_favail', 'f_ffree', 'f_files', 'f_flag', 'f_frsize', 'f_namemax')}
    def open(self, path, flags):
        return self._os(os.open, self._p(path), flags)
    def create(self, path, mode, fi=None):
        return self._os(os.open, self._p(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    def read(self, path, length, offset, fh):
        return self._os(os.pread, fh, length, offset)
    def write(self, path, data, offset, fh):
        self._guard()
        return self._os(os.pwrite, fh, data, offset)
    def flush(self, path, fh):
        return 0
    def fsync(self, path, datasync, fh):
        self._guard()
        return self._os(os.fsync, fh)
    def release(self, path, fh):
        return os.close(fh)

FUSE(Eio(), mountpoint, foreground=True, nothreads=True, allow_other=True, default_permissions=True)
"#;

impl EioFs {
    pub fn new() -> EioFs {
        crate::require("/usr/bin/python3", "python3");
        let probe = Command::new("/usr/bin/python3")
            .args(["-c", "import fusepy"])
            .status()
            .expect("python3 runs");
        assert!(
            probe.success(),
            "the EIO file system needs Debian's python3-fusepy (apt-get install python3-fusepy)"
        );
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("backing")).unwrap();
        fs::create_dir(dir.path().join("mnt")).unwrap();
        let log = fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new("/usr/bin/python3")
            .args(["-c", EIO_FS])
            .arg(dir.path().join("backing"))
            .arg(dir.path().join("mnt"))
            .arg(dir.path().join("failing"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("python3 starts");
        let mut fs = EioFs { dir, child };
        let up = wait_until(PATIENCE, || {
            if let Ok(Some(status)) = fs.child.try_wait() {
                panic!("the EIO file system exited with {status}: {}", fs.log());
            }
            mounted(&fs.path())
        });
        assert!(up, "the EIO file system did not mount: {}", fs.log());
        fs
    }

    /// The mount point.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }

    /// Writes and fsyncs fail with EIO from now on (`true`), or work again.
    pub fn failing(&self, failing: bool) {
        let switch = self.dir.path().join("failing");
        if failing {
            fs::write(switch, "").unwrap();
        } else {
            let _ = fs::remove_file(switch);
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }
}

impl Default for EioFs {
    fn default() -> EioFs {
        EioFs::new()
    }
}

impl Drop for EioFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// kill -9 at random points of a writer's runs. The number of kills is
/// `SOAK_KILLS` (default: what the test asks for, a few for CI), the points
/// come from `SOAK_SEED` (printed, so a failure replays), and every point
/// falls within the time a whole run takes, measured first, or a little
/// past it, so some runs finish.
pub struct KillSoak {
    name: &'static str,
    pub kills: usize,
    seed: u64,
    state: u64,
    span: Duration,
    pub killed: usize,
    pub finished: usize,
}

/// How a run under [`KillSoak::run`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// SIGKILLed mid-run.
    Killed,
    /// It ended before its kill came, with this status.
    Finished(ExitStatus),
}

impl KillSoak {
    pub fn new(name: &'static str, default_kills: usize) -> KillSoak {
        let kills = std::env::var("SOAK_KILLS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default_kills);
        let seed = std::env::var("SOAK_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("{name}: SOAK_SEED={seed}");
        KillSoak {
            name,
            kills,
            seed,
            state: seed,
            span: Duration::ZERO,
            killed: 0,
            finished: 0,
        }
    }

    /// Runs `cmd` whole once to learn how long a run takes; returns its status.
    pub fn measure(&mut self, cmd: &mut Command) -> ExitStatus {
        let start = Instant::now();
        let status = quiet(cmd).status().expect("the writer starts");
        self.span = start.elapsed();
        status
    }

    fn below(&mut self, n: u64) -> u64 {
        self.state = self
            .state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.state >> 33) % n.max(1)
    }

    /// Runs `cmd` and kills it (SIGKILL) at a random point within 110% of
    /// the measured run.
    pub fn run(&mut self, cmd: &mut Command) -> Fate {
        let span = self.span.as_micros() as u64 * 11 / 10;
        let delay = Duration::from_micros(self.below(span.max(1000)));
        let mut child = quiet(cmd).spawn().expect("the writer starts");
        let deadline = Instant::now() + delay;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.finished += 1;
                return Fate::Finished(status);
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_micros(200).min(delay));
        }
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.code().is_some() {
            // It ended in the instant before the signal.
            self.finished += 1;
            return Fate::Finished(status);
        }
        self.killed += 1;
        Fate::Killed
    }

    /// One line for the soak scripts and docs/reliability.md.
    pub fn summary(&self, extra: &str) -> String {
        let line = format!(
            "soak: {}: {} kills, {} mid-run, {} finished first, run {:?}, seed {}{}",
            self.name,
            self.killed + self.finished,
            self.killed,
            self.finished,
            self.span,
            self.seed,
            extra
        );
        eprintln!("{line}");
        line
    }
}

fn quiet(cmd: &mut Command) -> &mut Command {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
}

/// The hidden files in `dir` (writers' temporary files start with a dot).
pub fn hidden_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_tmpfs_refuses_writes_and_takes_them_again_when_freed() {
        let tmp = Tmpfs::new(1 << 20);
        tmp.fill();
        let err = fs::write(tmp.path().join("x"), vec![1u8; 8192]).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(28), "{err}");
        tmp.free();
        fs::write(tmp.path().join("x"), vec![1u8; 8192]).unwrap();
        tmp.read_only(true);
        let err = fs::write(tmp.path().join("y"), "y").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(30), "{err}");
        tmp.read_only(false);
        fs::write(tmp.path().join("y"), "y").unwrap();
    }

    #[test]
    fn the_eio_file_system_fails_writes_only_when_told() {
        let eio = EioFs::new();
        let file = eio.path().join("f");
        fs::write(&file, "good").unwrap();
        eio.failing(true);
        let err = fs::write(&file, "bad").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(5), "{err}");
        eio.failing(false);
        fs::write(&file, "good again").unwrap();
        assert_eq!(fs::read_to_string(&file).unwrap(), "good again");
    }
}
