//! Real services on 127.0.0.1 for nmap to judge: a TLS server with a
//! self-signed certificate (openssl s_server), a listener that accepts and
//! never says anything, and an OpenSSH server that offers password
//! authentication. Each is stopped when dropped.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::stderr;

const OPENSSL: &str = "apt-get install openssl";
const OPENSSH: &str = "apt-get install openssh-server openssh-client";

/// A child process serving on a loopback port; killed on drop.
pub struct Server {
    pub port: u16,
    child: Child,
    dir: TempDir,
    name: &'static str,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Polls until the port accepts, failing with the server's log if it
    /// exits first. Generous: the machine may be loaded.
    fn wait_until_listening(&mut self) {
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
                panic!("{} exited with {status}: {log}", self.name);
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{} did not listen on port {} within 30 s",
                self.name,
                self.port
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn spawn(name: &'static str, port: u16, dir: TempDir, cmd: &mut Command, hint: &str) -> Server {
        let log = fs::File::create(dir.path().join("log")).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({e}): {hint}"));
        let mut server = Server {
            port,
            child,
            dir,
            name,
        };
        server.wait_until_listening();
        server
    }

    /// A TLS server on `listener`'s port with a fresh self-signed
    /// certificate, offering every cipher OpenSSL has at security level 0
    /// over TLS 1.0, anonymous key exchanges included: ssl-enum-ciphers
    /// grades that F.
    pub fn weak_tls(listener: TcpListener) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let made = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
            ])
            .args(["-subj", "/CN=vulnscan-test"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .unwrap_or_else(|e| panic!("openssl is missing ({e}): {OPENSSL}"));
        assert!(made.status.success(), "openssl req: {}", stderr(&made));
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let mut cmd = Command::new("openssl");
        cmd.args(["s_server", "-quiet", "-www", "-tls1"])
            .args(["-cipher", "ALL:@SECLEVEL=0"])
            .args(["-accept", &format!("127.0.0.1:{port}")])
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key);
        Server::spawn("openssl s_server", port, dir, &mut cmd, OPENSSL)
    }

    /// OpenSSH's sshd on `listener`'s port, accepting passwords: the
    /// configuration many servers still ship. Started the way
    /// remote-run's tests start theirs: its own host key and config in a
    /// temp dir, StrictModes and PAM off, so no root-owned files matter.
    pub fn sshd_with_passwords(listener: TcpListener) -> Server {
        let sshd = Path::new("/usr/sbin/sshd");
        assert!(sshd.exists(), "/usr/sbin/sshd is missing: {OPENSSH}");
        // sshd refuses to start without its privilege separation directory.
        fs::create_dir_all("/run/sshd").expect("cannot create /run/sshd (run as root)");
        let dir = tempfile::tempdir().unwrap();
        let host_key = dir.path().join("host_key");
        let made = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&host_key)
            .output()
            .unwrap_or_else(|e| panic!("ssh-keygen is missing ({e}): {OPENSSH}"));
        assert!(made.status.success(), "ssh-keygen: {}", stderr(&made));
        let port = listener.local_addr().unwrap().port();
        let d = dir.path().display();
        let mut config = format!(
            "ListenAddress 127.0.0.1:{port}\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             StrictModes no\nUsePAM no\nPasswordAuthentication yes\n\
             KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nLogLevel ERROR\n"
        );
        // 9.8 and later penalise a source that fails to log in, as nmap does.
        let version = Command::new(sshd).arg("-V").output().unwrap();
        let version = String::from_utf8_lossy(&version.stderr).into_owned();
        let (major, minor) = openssh_version(&version);
        if (major, minor) >= (9, 8) {
            config.push_str("PerSourcePenalties no\n");
        }
        let config_path = dir.path().join("sshd_config");
        fs::write(&config_path, config).unwrap();
        drop(listener);
        let mut cmd = Command::new(sshd);
        cmd.args(["-D", "-e", "-f"]).arg(&config_path);
        Server::spawn("sshd", port, dir, &mut cmd, OPENSSH)
    }
}

/// (major, minor) of `OpenSSH_9.2p1 ...`.
fn openssh_version(text: &str) -> (u32, u32) {
    let version = text
        .split("OpenSSH_")
        .nth(1)
        .unwrap_or_else(|| panic!("cannot read the sshd version from {text:?}"));
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let mut next = || parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (next(), next())
}

/// Accepts every connection on `listener` and holds it open without ever
/// sending a byte, like a tarpit or a service waiting for a client hello.
pub fn serve_silence(listener: TcpListener) {
    thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
}
