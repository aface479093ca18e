//! A private mount namespace a test makes (`unshare --mount --propagation
//! private`, entered with `nsenter`): its tmpfs and FUSE mounts are
//! invisible to the host and to other tests running at the same time (a
//! hung FUSE mount would hang any `df` on the machine), and the
//! [`Namespace`] guard kills the namespace's holder process on drop, which
//! unmounts everything in it even when a test fails halfway.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::programs::require;
use crate::run::stderr;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn require_root() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1));
    assert_eq!(
        uid,
        Some("0"),
        "these tests mount filesystems in private mount namespaces: run them as root (scripts/test does)"
    );
}

/// A private mount namespace, alive while this guard is.
pub struct Namespace {
    holder: Child,
    /// Also a network namespace of its own (only a loopback, up).
    networked: bool,
    /// Scratch space for mount points and logs (visible inside too).
    dir: tempfile::TempDir,
}

impl Namespace {
    pub fn new() -> Namespace {
        Namespace::start(false)
    }

    /// A mount and network namespace: its own loopback (up), where a test
    /// may bind any address and port, port 22 included, without meeting
    /// the machine's services or other tests.
    pub fn with_network() -> Namespace {
        let ns = Namespace::start(true);
        ns.sh("ip link set lo up");
        ns
    }

    fn start(networked: bool) -> Namespace {
        require_root();
        require("unshare", "util-linux");
        require("nsenter", "util-linux");
        require("df", "coreutils");
        let dir = tempfile::tempdir().unwrap();
        if networked {
            require("ip", "iproute2");
        }
        let holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private"])
            .args(networked.then_some("--net"))
            .args(["--", "sleep", "infinity"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare starts");
        let ns = Namespace {
            holder,
            networked,
            dir,
        };
        // unshare(1) makes the namespace, then execs sleep: once the holder
        // is sleep, the namespace is ready.
        let comm = format!("/proc/{}/comm", ns.holder.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(&comm).unwrap_or_default() != "sleep\n" {
            assert!(Instant::now() < deadline, "unshare --mount did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
        let mine = std::fs::read_link("/proc/self/ns/mnt").unwrap();
        let theirs = std::fs::read_link(format!("/proc/{}/ns/mnt", ns.holder.id())).unwrap();
        assert_ne!(mine, theirs, "unshare --mount made no new mount namespace");
        ns
    }

    /// The scratch directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `program` run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--target={}", self.holder.id()))
            .arg("--mount")
            .args(self.networked.then_some("--net"))
            .arg("--")
            .arg(program)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs a shell script inside, failing the test if it fails.
    pub fn sh(&self, script: &str) -> String {
        let out = self.command("sh").args(["-euc", script]).output().unwrap();
        assert!(
            out.status.success(),
            "{script}\nfailed: {}{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    /// Mounts a tmpfs with these options at a new directory `name`.
    pub fn tmpfs(&self, name: &str, options: &str) -> PathBuf {
        let at = self.dir.path().join(name);
        std::fs::create_dir_all(&at).unwrap();
        self.sh(&format!(
            "mount -t tmpfs -o {options} secops-test {}",
            quote(&at)
        ));
        at
    }

    /// Lays a writable overlay over the directory `path`: inside, it reads
    /// as the machine's and takes writes, which stay in the namespace.
    pub fn overlay(&self, path: &str) {
        let upper = self.dir.path().join("overlay").join(path.trim_matches('/'));
        let (data, work) = (upper.join("data"), upper.join("work"));
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        self.sh(&format!(
            "mount -t overlay secops-test -o lowerdir={path},upperdir={},workdir={} {path}",
            data.display(),
            work.display()
        ));
    }

    /// Fills the filesystem at `mount` with a file so that exactly `blocks`
    /// of its blocks are used (tmpfs counts data pages only).
    pub fn fill_blocks(&self, mount: &Path, blocks: u64) {
        let (frsize, _) = self.statfs(mount);
        let file = quote(&mount.join("fill"));
        self.sh(&format!(
            "rm -f {file}; fallocate -l {} {file}",
            blocks * frsize
        ));
    }

    /// Fills to `percent` of the filesystem's blocks (which must divide
    /// evenly: a 100-block tmpfs).
    pub fn fill_percent(&self, mount: &Path, percent: u64) {
        let (_, blocks) = self.statfs(mount);
        assert_eq!(
            blocks * percent % 100,
            0,
            "{blocks} blocks do not split into {percent}%"
        );
        if percent == 0 {
            self.sh(&format!("rm -f {}", quote(&mount.join("fill"))));
        } else {
            self.fill_blocks(mount, blocks * percent / 100);
        }
    }

    /// (fragment size, blocks) as stat(1) reads them.
    pub fn statfs(&self, mount: &Path) -> (u64, u64) {
        let out = self.sh(&format!("stat -f --format=%S,%b {}", quote(mount)));
        let (frsize, blocks) = out.trim().split_once(',').unwrap();
        (frsize.parse().unwrap(), blocks.parse().unwrap())
    }

    /// df's rows (header dropped, columns split on blanks) for `args`.
    pub fn df(&self, args: &[&str]) -> Vec<Vec<String>> {
        let out = self
            .command("df")
            .args(args)
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        assert!(out.status.success(), "df {args:?}: {}", stderr(&out));
        stdout(&out)
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect()
    }

    /// The PID of the namespace's holder (for /proc/PID/root paths).
    pub fn pid(&self) -> u32 {
        self.holder.id()
    }
}

impl Default for Namespace {
    fn default() -> Namespace {
        Namespace::new()
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // The last process in the namespace exits: the kernel unmounts
        // everything mounted in it.
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// `path` quoted for sh.
pub fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// A 100-block tmpfs (one block per percent), so that fills land exactly
/// on the percentages a test names.
pub fn percent_tmpfs(ns: &Namespace, name: &str) -> PathBuf {
    let page = page_size();
    ns.tmpfs(name, &format!("size={}", 100 * page))
}

pub fn page_size() -> u64 {
    let out = Command::new("getconf").arg("PAGESIZE").output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}
