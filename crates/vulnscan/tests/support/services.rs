//! Real services on 127.0.0.1 for nmap to judge: a TLS server with a
//! self-signed certificate (openssl s_server), a listener that accepts and
//! never says anything, and an OpenSSH server that offers password
//! authentication. Each is stopped when dropped.

use std::net::TcpListener;
use std::process::Command;
use std::thread;

use secops_testkit::{Daemon, Sshd, require, run, stderr};

/// A real server on a loopback port; stopped on drop.
pub struct Server {
    pub port: u16,
    _daemon: Daemon,
}

impl From<Daemon> for Server {
    fn from(daemon: Daemon) -> Server {
        Server {
            port: daemon.port,
            _daemon: daemon,
        }
    }
}

impl Server {
    /// A TLS server on `listener`'s port with a fresh self-signed
    /// certificate, offering every cipher OpenSSL has at security level 0
    /// over TLS 1.0, anonymous key exchanges included: ssl-enum-ciphers
    /// grades that F.
    pub fn weak_tls(listener: TcpListener) -> Server {
        Server::tls(listener, &["-www", "-tls1", "-cipher", "ALL:@SECLEVEL=0"])
    }

    /// A TLS server as OpenSSL's defaults make it (TLS 1.2 and 1.3), with
    /// a fresh self-signed certificate, answering every request with
    /// `openssl s_server -www`'s status page and no security headers.
    pub fn modern_tls(listener: TcpListener) -> Server {
        Server::tls(listener, &["-www"])
    }

    fn tls(listener: TcpListener, options: &[&str]) -> Server {
        require("openssl", "openssl");
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let made = run(Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
            ])
            .args(["-subj", "/CN=vulnscan-test"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert));
        assert!(made.status.success(), "openssl req: {}", stderr(&made));
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let mut cmd = Command::new("openssl");
        cmd.args(["s_server", "-quiet"])
            .args(options)
            .args(["-accept", &format!("127.0.0.1:{port}")])
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key);
        Server::from(Daemon::start(&mut cmd, dir, "127.0.0.1", port))
    }

    /// OpenSSH's sshd on `listener`'s port, accepting passwords: the
    /// configuration many servers still ship.
    pub fn sshd_with_passwords(listener: TcpListener) -> Server {
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        Server::from(Sshd::builder().port(port).passwords().start().into_daemon())
    }
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
