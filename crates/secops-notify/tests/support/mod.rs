//! Real receivers on loopback for secops-notify's tests: an aiosmtpd SMTP
//! server (plain, STARTTLS, implicit TLS, AUTH), an HTTP listener that
//! records webhook POSTs (HTTPS ones, and the services the receivers call,
//! are secops-testkit's stand-ins with a CA made in the test), a listener
//! that accepts and never answers, and a closed port; plus running the
//! binary.

#![allow(dead_code)] // each test file uses a different part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

// Each test file uses a different part, as with dead_code above.
#[allow(unused_imports)]
pub use secops_testkit::{Certs, Seen, Service, certs, certs_of, python, serving};

pub const BIN: &str = env!("CARGO_BIN_EXE_secops-notify");

/// Generous: other builds share the machine.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Runs secops-notify with `stdin` as its input.
pub fn run(args: &[&str], stdin: &str) -> Output {
    run_env(args, stdin, &[])
}

/// `env` is added to the test's environment, less the OpenSSL variables
/// that replace the system CA store (a developer's shell or CI may set
/// them): the binary sees /etc/ssl/certs as on a server unless a test
/// sets them.
pub fn run_env(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("secops-notify runs");
    // A run refused before reading (bad settings) closes its stdin early.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

/// A record line as the tools write them.
pub fn record(tool: &str, kind: &str, severity: &str, message: &str, fields: Value) -> String {
    let mut rec = serde_json::json!({
        "ts": "2026-11-21T20:36:08Z", "host": "web1", "tool": tool, "kind": kind,
        "severity": severity, "message": message,
    });
    for (k, v) in fields.as_object().unwrap() {
        rec[k] = v.clone();
    }
    rec.to_string() + "\n"
}

pub fn disk_alert(mount: &str, percent: u32, severity: &str) -> String {
    record(
        "disk-alert",
        "disk.alert",
        severity,
        &format!("{mount} is {percent}% full, above the critical level of 90%"),
        serde_json::json!({"alert": "firing", "alert_id": format!("disk-alert:space:{mount}"),
                           "mount": mount, "measure": "space", "level": "crit", "percent": percent}),
    )
}

pub fn disk_recovered(mount: &str) -> String {
    record(
        "disk-alert",
        "disk.recovered",
        "info",
        &format!("{mount} is back to 71% full, at or below its warning level of 80%"),
        serde_json::json!({"alert": "resolved", "alert_id": format!("disk-alert:space:{mount}"),
                           "mount": mount, "measure": "space", "level": "ok", "was": "crit", "reason": "below"}),
    )
}

pub enum SmtpMode<'a> {
    Plain,
    Starttls(&'a Certs),
    Implicit(&'a Certs),
}

/// A real SMTP server (aiosmtpd) on 127.0.0.1 that saves each message.
pub struct Smtp {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Smtp {
    pub fn start(mode: SmtpMode<'_>, auth: Option<(&str, &str)>) -> Smtp {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_server.py");
        let mut cmd = Command::new(python("aiosmtpd"));
        cmd.arg(script).arg(dir.path());
        match mode {
            SmtpMode::Plain => {
                cmd.arg("plain");
            }
            SmtpMode::Starttls(certs) => {
                cmd.arg("starttls").arg(&certs.cert).arg(&certs.key);
            }
            SmtpMode::Implicit(certs) => {
                cmd.arg("implicit").arg(&certs.cert).arg(&certs.key);
            }
        }
        if let Some((user, password)) = auth {
            cmd.args([user, password]);
        }
        let (child, port) = serving(&mut cmd, "SMTP");
        Smtp { child, port, dir }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Messages received so far, in order.
    pub fn messages(&self) -> Vec<Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub body: String,
}

/// An HTTP listener that answers each request with the next status of
/// `statuses` (the last one repeats) and keeps what it was sent.
pub struct Http {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl Http {
    pub fn start(statuses: &[u16]) -> Http {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let statuses = statuses.to_vec();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { continue };
                let status = *statuses.get(n).or(statuses.last()).unwrap();
                if let Some(request) = serve(stream, status) {
                    seen.lock().unwrap().push(request);
                }
            }
        });
        Http { port, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn received(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(mut stream: TcpStream, status: u16) -> Option<Request> {
    stream.set_read_timeout(Some(PATIENCE)).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let path = request_line.split_whitespace().nth(1)?.to_string();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let answer = if status == 200 { "ok" } else { "no_service" };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
    Some(Request {
        path,
        body: String::from_utf8(body).ok()?,
    })
}

/// A listener that accepts connections and never says a word: a hung
/// server. Connections are held (and counted) until the test ends.
pub struct Stall {
    pub port: u16,
    pub accepted: Arc<Mutex<usize>>,
}

impl Stall {
    pub fn start() -> Stall {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(Mutex::new(0));
        let count = Arc::clone(&accepted);
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
                *count.lock().unwrap() += 1;
            }
        });
        Stall { port, accepted }
    }

    pub fn accepted(&self) -> usize {
        *self.accepted.lock().unwrap()
    }
}

/// A private file (mode 0600) holding `text`.
pub fn private_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// The state file's alerts.
pub fn ledger(state: &Path) -> Value {
    match std::fs::read_to_string(state.join("notify.json")) {
        Ok(text) => serde_json::from_str::<Value>(&text).unwrap()["alerts"].clone(),
        Err(_) => Value::Null,
    }
}
