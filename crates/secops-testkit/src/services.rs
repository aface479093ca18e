//! Local stand-ins for the web services secops-notify's receivers call
//! (services_server.py: Twilio, PagerDuty, Opsgenie, Slack, Teams,
//! Telegram, Matrix, ntfy, any HTTP API) over HTTPS with a CA made by
//! openssl in the test, and the helpers that start Python servers.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A Python that has `module` (Debian's python3 with python3-aiosmtpd,
/// even where another python3 comes first in PATH).
pub fn python(module: &str) -> &'static str {
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
pub fn serving(cmd: &mut Command, what: &str) -> (Child, u16) {
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
    certs_for(ca_name, &[])
}

/// A CA named `ca_name` and a server certificate for 127.0.0.1 and these
/// host names (a test that points them at its stand-ins).
pub fn certs_for(ca_name: &str, names: &[&str]) -> Certs {
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
        format!(
            "subjectAltName=IP:127.0.0.1{}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
            names.iter().map(|n| format!(",DNS:{n}")).collect::<String>()
        ),
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
    /// When it arrived, in seconds since the epoch.
    pub fn at(&self) -> f64 {
        self.saved["at"].as_f64().unwrap()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

impl Service {
    pub fn start(service: &str, certs: &Certs, expect: Value, rate_limited: usize) -> Service {
        Service::limited(service, certs, expect, rate_limited, 1)
    }

    /// The same, telling the rate-limited requests to wait `wait` seconds.
    pub fn limited(
        service: &str,
        certs: &Certs,
        expect: Value,
        rate_limited: usize,
        wait: u64,
    ) -> Service {
        let launch = Command::new(python("ssl"));
        Service::spawn(
            launch,
            service,
            certs,
            expect,
            [rate_limited, wait as usize],
        )
    }

    /// A stand-in that `launch` runs (a python3 command, `nsenter … python3`
    /// for one inside a namespace) on `listen` (ADDR:PORT): the service's
    /// own address, for a test that gives its host name that address.
    pub fn listening(
        mut launch: Command,
        listen: &str,
        service: &str,
        certs: &Certs,
        expect: Value,
    ) -> Service {
        launch.env("SERVICES_LISTEN", listen);
        Service::spawn(launch, service, certs, expect, [0, 1])
    }

    fn spawn(
        mut launch: Command,
        service: &str,
        certs: &Certs,
        expect: Value,
        [rate_limited, wait]: [usize; 2],
    ) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/src/services_server.py");
        let (child, port) = serving(
            launch
                .arg(script)
                .arg(dir.path())
                .arg(&certs.cert)
                .arg(&certs.key)
                .arg(service)
                .arg(expect.to_string())
                .arg(rate_limited.to_string())
                .arg(wait.to_string()),
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
