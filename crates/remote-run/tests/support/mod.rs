//! A real OpenSSH server on 127.0.0.1 for the tests, with generated host
//! and client keys, a known_hosts and an ssh_config whose aliases all point
//! at it, and the real remote-run binary run against them.

#![allow(dead_code)] // each test file uses its own subset

use std::fmt::Write as _;
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

#[allow(unused_imports)] // each test file uses its own subset
pub use secops_testkit::{records, stderr};

const INSTALL: &str = "apt-get install openssh-server openssh-client";

pub fn remote_run() -> Command {
    Command::new(env!("CARGO_BIN_EXE_remote-run"))
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("remote-run runs")
}

/// The `remote.result` records by host.
pub fn results(records: &[Value]) -> std::collections::BTreeMap<String, Value> {
    records
        .iter()
        .filter(|r| r["kind"] == "remote.result")
        .map(|r| (r["host"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

/// A port nothing listens on (bound, read, released).
pub fn closed_port() -> u16 {
    free_port("127.0.0.1")
}

fn free_port(addr: &str) -> u16 {
    TcpListener::bind((addr, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "remote-run-test",
            "-f",
        ])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("ssh-keygen is missing ({e}): {INSTALL}"));
    assert!(out.status.success(), "ssh-keygen: {}", stderr(&out));
}

fn public_key(path: &Path) -> String {
    fs::read_to_string(path.with_extension("pub"))
        .unwrap()
        .trim()
        .to_string()
}

/// The `OpenSSH_X.Y` version of sshd, as (major, minor).
fn sshd_version(sshd: &Path) -> (u32, u32) {
    let out = Command::new(sshd).arg("-V").output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    let version = text
        .split("OpenSSH_")
        .nth(1)
        .unwrap_or_else(|| panic!("cannot read the sshd version from {text:?}"));
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let major = parts.next().unwrap().parse().unwrap();
    let minor = parts.next().unwrap().parse().unwrap();
    (major, minor)
}

/// A running sshd and the client files that reach it; stopped on drop.
pub struct Sshd {
    pub dir: TempDir,
    /// The loopback address it listens on (127.0.0.1 unless asked).
    pub addr: String,
    pub port: u16,
    /// The client key the server accepts.
    pub client_key: PathBuf,
    /// A key the server does not accept.
    pub stranger_key: PathBuf,
    pub known_hosts: PathBuf,
    child: Child,
}

impl Sshd {
    pub fn start() -> Sshd {
        Sshd::start_on("127.0.0.1")
    }

    /// An sshd on another loopback address (127.0.0.2, …), so several can
    /// stand for several machines.
    pub fn start_on(addr: &str) -> Sshd {
        Sshd::start_with(addr, "")
    }

    /// An sshd with `extra` lines appended to its configuration (e.g. a
    /// `ForceCommand` that plays a hostile host).
    pub fn start_with(addr: &str, extra: &str) -> Sshd {
        let sshd = PathBuf::from("/usr/sbin/sshd");
        assert!(sshd.exists(), "/usr/sbin/sshd is missing: {INSTALL}");
        assert!(
            Command::new("ssh").arg("-V").output().is_ok(),
            "ssh is missing: {INSTALL}"
        );
        // sshd refuses to start without its privilege separation directory.
        fs::create_dir_all("/run/sshd").expect("cannot create /run/sshd (run as root)");
        let dir = tempfile::Builder::new().prefix("rr").tempdir().unwrap();
        let host_key = dir.path().join("host_key");
        let client_key = dir.path().join("client_key");
        let stranger_key = dir.path().join("stranger_key");
        for key in [&host_key, &client_key, &stranger_key] {
            keygen(key);
        }
        fs::write(
            dir.path().join("authorized_keys"),
            public_key(&client_key) + "\n",
        )
        .unwrap();
        let port = free_port(addr);
        let known_hosts = dir.path().join("known_hosts");
        fs::write(
            &known_hosts,
            format!("[{addr}]:{port} {}\n", public_key(&host_key)),
        )
        .unwrap();
        let d = dir.path().display();
        // VERBOSE logs one "Accepted publickey" line per authentication,
        // which tells new connections from shared ones.
        let mut config = format!(
            "ListenAddress {addr}:{port}\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\nPermitRootLogin prohibit-password\n\
             MaxStartups 200:30:400\nMaxSessions 100\nLogLevel VERBOSE\n"
        );
        // 9.8 penalises a source that hammers it with failures, as tests do.
        if sshd_version(&sshd) >= (9, 8) {
            config.push_str("PerSourcePenalties no\n");
        }
        config.push_str(extra);
        let config_path = dir.path().join("sshd_config");
        fs::write(&config_path, config).unwrap();
        let log = fs::File::create(dir.path().join("sshd.log")).unwrap();
        // Its stdin/stdout must not hold the test's pipes.
        let child = Command::new(&sshd)
            .args(["-D", "-e", "-f"])
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start sshd ({e}): {INSTALL}"));
        let mut sshd = Sshd {
            dir,
            addr: addr.to_string(),
            port,
            client_key,
            stranger_key,
            known_hosts,
            child,
        };
        sshd.wait_until_listening();
        sshd
    }

    fn wait_until_listening(&mut self) {
        let started = Instant::now();
        while TcpStream::connect((self.addr.as_str(), self.port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = fs::read_to_string(self.dir.path().join("sshd.log")).unwrap();
                panic!("sshd exited with {status}: {log}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "sshd did not listen on port {} within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// An ssh_config with `aliases` pointing at this sshd with the accepted
    /// key, plus `extra` Host blocks (which name their own IdentityFile, as
    /// identity files accumulate across blocks); returns its path.
    pub fn ssh_config(&self, aliases: &[String], extra: &str) -> PathBuf {
        let mut text = String::new();
        for alias in aliases {
            writeln!(
                text,
                "Host {alias}\n  HostName {}\n  Port {}\n  IdentityFile {}",
                self.addr,
                self.port,
                self.client_key.display()
            )
            .unwrap();
        }
        text.push_str(extra);
        write!(
            text,
            "Host *\n  User root\n  IdentitiesOnly yes\n  \
             UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  LogLevel ERROR\n",
            self.known_hosts.display()
        )
        .unwrap();
        let path = self.dir.path().join("ssh_config");
        fs::write(&path, text).unwrap();
        path
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Successful authentications so far: one per new ssh connection.
    pub fn logins(&self) -> usize {
        fs::read_to_string(self.path("sshd.log"))
            .unwrap()
            .matches("Accepted publickey")
            .count()
    }

    /// Stops the server (its port then refuses connections).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `h01` … `hNN`.
pub fn aliases(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("h{i:02}")).collect()
}

/// An ssh_config and known_hosts trusting every one of `sshds`, for
/// inventories that name each server's address, port and key themselves.
pub fn client_config(dir: &Path, sshds: &[&Sshd]) -> PathBuf {
    let known_hosts = dir.join("known_hosts");
    let trusted: String = sshds
        .iter()
        .map(|s| fs::read_to_string(&s.known_hosts).unwrap())
        .collect();
    fs::write(&known_hosts, trusted).unwrap();
    let config = dir.join("ssh_config");
    fs::write(
        &config,
        format!(
            "Host *\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  \
             GlobalKnownHostsFile /dev/null\n  LogLevel ERROR\n",
            known_hosts.display()
        ),
    )
    .unwrap();
    config
}

/// Processes whose command line mentions `dir` (ssh masters retitle
/// themselves `ssh: DIR/ssh/<hash> [mux]`).
pub fn processes_under(dir: &Path) -> Vec<String> {
    let needle = dir.display().to_string();
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            e.file_name().to_str()?.parse::<u32>().ok()?;
            let cmdline = fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline.contains(&needle).then_some(cmdline)
        })
        .collect()
}

pub fn wait_until_gone(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = processes_under(dir);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "ssh processes left behind: {left:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
