//! A real OpenSSH server on loopback (Debian's `openssh-server`), with a
//! generated host key, a client key it accepts and one it does not, a
//! known_hosts that trusts it, and ssh_configs whose aliases reach it.
//! Everything lives in its own temp dir, with StrictModes and PAM off, so
//! no root-owned file of the machine matters.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::daemon::Daemon;
use crate::net::free_port;
use crate::programs::require;
use crate::run::{run, stderr};

const SSHD: &str = "/usr/sbin/sshd";
const INSTALL: &str = "apt-get install openssh-server openssh-client";

/// A running sshd and the client files that reach it; stopped on drop.
pub struct Sshd {
    /// The loopback address it listens on (127.0.0.1 unless asked).
    pub addr: String,
    pub port: u16,
    /// The client key the server accepts (for `root`).
    pub client_key: PathBuf,
    /// A key the server does not accept.
    pub stranger_key: PathBuf,
    /// `[addr]:port` with the server's host key.
    pub known_hosts: PathBuf,
    daemon: Daemon,
}

/// How to start an [`Sshd`]: `Sshd::builder().on("127.0.0.2").start()`.
pub struct SshdBuilder {
    addr: String,
    port: Option<u16>,
    passwords: bool,
    config: String,
}

impl SshdBuilder {
    /// Another loopback address (127.0.0.2, …), so several servers can
    /// stand for several machines.
    pub fn on(mut self, addr: &str) -> SshdBuilder {
        self.addr = addr.to_string();
        self
    }

    /// This port (one the test held until now) instead of a free one.
    pub fn port(mut self, port: u16) -> SshdBuilder {
        self.port = Some(port);
        self
    }

    /// Accepts passwords as well as keys: the configuration many servers
    /// still ship, and what a scanner should flag.
    pub fn passwords(mut self) -> SshdBuilder {
        self.passwords = true;
        self
    }

    /// Lines appended to its sshd_config (e.g. a `ForceCommand` that plays
    /// a hostile host).
    pub fn config(mut self, lines: &str) -> SshdBuilder {
        self.config.push_str(lines);
        self
    }

    pub fn start(self) -> Sshd {
        assert!(Path::new(SSHD).exists(), "{SSHD} is missing: {INSTALL}");
        require("ssh", "openssh-client");
        // sshd refuses to start without its privilege separation directory.
        fs::create_dir_all("/run/sshd").expect("cannot create /run/sshd (run as root)");
        let dir = tempfile::Builder::new().prefix("sshd").tempdir().unwrap();
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
        let addr = self.addr;
        let port = self.port.unwrap_or_else(|| free_port(&addr));
        let known_hosts = dir.path().join("known_hosts");
        fs::write(
            &known_hosts,
            format!("[{addr}]:{port} {}\n", public_key(&host_key)),
        )
        .unwrap();
        let d = dir.path().display();
        let passwords = if self.passwords { "yes" } else { "no" };
        // VERBOSE logs one "Accepted publickey" line per authentication,
        // which tells new connections from shared ones.
        let mut config = format!(
            "ListenAddress {addr}:{port}\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
             PasswordAuthentication {passwords}\nKbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\nPermitRootLogin prohibit-password\n\
             MaxStartups 200:30:400\nMaxSessions 100\nLogLevel VERBOSE\n"
        );
        // 9.8 penalises a source that hammers it with failures, as tests
        // and scanners do.
        if openssh_version() >= (9, 8) {
            config.push_str("PerSourcePenalties no\n");
        }
        config.push_str(&self.config);
        let config_path = dir.path().join("sshd_config");
        fs::write(&config_path, config).unwrap();
        let mut cmd = Command::new(SSHD);
        cmd.args(["-D", "-e", "-f"]).arg(&config_path);
        Sshd {
            addr: addr.clone(),
            port,
            client_key,
            stranger_key,
            known_hosts,
            daemon: Daemon::start(&mut cmd, dir, &addr, port),
        }
    }
}

impl Sshd {
    /// An sshd on 127.0.0.1 that accepts `client_key` only.
    pub fn start() -> Sshd {
        Sshd::builder().start()
    }

    pub fn builder() -> SshdBuilder {
        SshdBuilder {
            addr: "127.0.0.1".to_string(),
            port: None,
            passwords: false,
            config: String::new(),
        }
    }

    /// The temp dir its files live in, free for the test's own.
    pub fn dir(&self) -> &Path {
        self.daemon.dir()
    }

    /// A file in that directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.daemon.path(name)
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
        let path = self.path("ssh_config");
        fs::write(&path, text).unwrap();
        path
    }

    /// Successful authentications so far: one per new ssh connection.
    pub fn logins(&self) -> usize {
        self.daemon.log().matches("Accepted publickey").count()
    }

    /// Stops the server (its port then refuses connections).
    pub fn stop(&mut self) {
        self.daemon.stop();
    }

    /// The running server alone, for a test that needs none of the
    /// client files.
    pub fn into_daemon(self) -> Daemon {
        self.daemon
    }
}

/// An ssh_config in `dir`, and a known_hosts beside it trusting every one
/// of `sshds`, for inventories that name each server's address, port and
/// key themselves; returns the config's path.
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

fn keygen(path: &Path) {
    require("ssh-keygen", "openssh-client");
    let out = run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "secops-test", "-f"])
        .arg(path));
    assert!(out.status.success(), "ssh-keygen: {}", stderr(&out));
}

fn public_key(path: &Path) -> String {
    fs::read_to_string(path.with_extension("pub"))
        .unwrap()
        .trim()
        .to_string()
}

/// sshd's `OpenSSH_X.Y` version, as (major, minor).
fn openssh_version() -> (u32, u32) {
    let text = stderr(&run(Command::new(SSHD).arg("-V")));
    let version = text
        .split("OpenSSH_")
        .nth(1)
        .unwrap_or_else(|| panic!("cannot read the sshd version from {text:?}"));
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let mut next = || parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (next(), next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_key_logs_in_and_the_stranger_key_does_not() {
        let sshd = Sshd::start();
        let config = sshd.ssh_config(&["h1".to_string()], "");
        let ssh = |key: &Path| {
            run(Command::new("ssh")
                .arg("-F")
                .arg(&config)
                .args(["-o", "BatchMode=yes", "-i"])
                .arg(key)
                .args(["h1", "echo", "in"]))
        };
        let out = ssh(&sshd.client_key);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "in\n");
        assert_eq!(sshd.logins(), 1);
        // Offered alone (no alias naming the accepted key), it is refused.
        let dir = tempfile::tempdir().unwrap();
        let bare = client_config(dir.path(), &[&sshd]);
        let out = run(Command::new("ssh")
            .arg("-F")
            .arg(&bare)
            .args(["-o", "BatchMode=yes", "-i"])
            .arg(&sshd.stranger_key)
            .args(["-p", &sshd.port.to_string(), "root@127.0.0.1", "true"]));
        assert_eq!(out.status.code(), Some(255), "{}", stderr(&out));
        assert_eq!(sshd.logins(), 1);
    }
}
