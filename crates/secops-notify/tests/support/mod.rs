//! Real receivers on loopback for secops-notify's tests: an aiosmtpd SMTP
//! server (plain, STARTTLS, implicit TLS, AUTH), an HTTP listener that
//! records webhook POSTs (plain, and HTTPS with a certificate of a CA made
//! in the test), a listener that accepts and never answers, and a closed
//! port; plus running the binary.

#![allow(dead_code)] // each test file uses a different part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

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

/// A Python that has `module` (Debian's python3 with python3-aiosmtpd,
/// even where another python3 comes first in PATH).
fn python(module: &str) -> &'static str {
    for python in ["/usr/bin/python3", "python3"] {
        let ok = Command::new(python)
            .args(["-c", &format!("import {module}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return python;
        }
    }
    panic!("no python3 with {module}: install the Debian package python3 (and python3-aiosmtpd)");
}

/// Starts one of the Python servers in tests/support, which print the
/// port they listen on as their first line; returns it with the child.
fn serving(cmd: &mut Command, what: &str) -> (Child, u16) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("the {what} server did not start: {line:?}"));
    (child, port)
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

/// A CA and a server certificate for 127.0.0.1, made with openssl.
pub struct Certs {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn certs() -> Certs {
    certs_of("secops test CA")
}

/// The same, with the CA named `ca_name` (two CAs of one name are one
/// issuer to a verifier, which then reports a bad signature).
pub fn certs_of(ca_name: &str) -> Certs {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("openssl runs (install the Debian package openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        &format!("/CN={ca_name}"),
    ]);
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        p("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    Certs {
        ca: p("ca.pem"),
        cert: p("server.pem"),
        key: p("server.key"),
        dir,
    }
}

/// A real HTTPS server (Python's http.server in ssl) on 127.0.0.1 whose
/// certificate is `certs.cert`; it answers every POST with 200 and keeps
/// what it was sent.
pub struct Https {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Https {
    pub fn start(certs: &Certs) -> Https {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/https_server.py");
        let (child, port) = serving(
            Command::new(python("ssl"))
                .arg(script)
                .arg(dir.path())
                .arg(&certs.cert)
                .arg(&certs.key),
            "HTTPS",
        );
        Https { child, port, dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// Requests received so far, in order.
    pub fn received(&self) -> Vec<Request> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                let saved: Value =
                    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
                Request {
                    path: saved["path"].as_str().unwrap().to_string(),
                    body: saved["body"].as_str().unwrap().to_string(),
                }
            })
            .collect()
    }
}

impl Drop for Https {
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

/// A local stand-in for a receiver's service (tests/support/
/// services_server.py) over HTTPS with `certs`: it checks each request as
/// the service's API documentation describes it and answers as the
/// service does, rate-limiting the first `rate_limited` requests.
pub struct Service {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Value,
    pub body: String,
    /// What the service would refuse in it; empty for a good request.
    pub problems: Vec<String>,
    pub status: u16,
    pub saved: Value,
}

impl Seen {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

impl Service {
    pub fn start(service: &str, certs: &Certs, expect: Value, rate_limited: usize) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/services_server.py"
        );
        let (child, port) = serving(
            Command::new(python("ssl"))
                .arg(script)
                .arg(dir.path())
                .arg(&certs.cert)
                .arg(&certs.key)
                .arg(service)
                .arg(expect.to_string())
                .arg(rate_limited.to_string()),
            service,
        );
        Service { child, port, dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// Requests received so far, in order.
    pub fn received(&self) -> Vec<Seen> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                let saved: Value =
                    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
                let text = |k: &str| saved[k].as_str().unwrap_or_default().to_string();
                Seen {
                    method: text("method"),
                    path: text("path"),
                    query: text("query"),
                    headers: saved["headers"].clone(),
                    body: text("body"),
                    problems: saved["problems"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p.as_str().unwrap().to_string())
                        .collect(),
                    status: saved["status"].as_u64().unwrap() as u16,
                    saved,
                }
            })
            .collect()
    }

    /// The requests the service accepted, each checked to be one it
    /// would take.
    pub fn accepted(&self) -> Vec<Seen> {
        let seen = self.received();
        for request in &seen {
            assert!(
                request.problems.is_empty(),
                "the service would refuse {} {}: {:?}\n{}",
                request.method,
                request.path,
                request.problems,
                request.body
            );
        }
        seen.into_iter().filter(|r| r.status != 429).collect()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
