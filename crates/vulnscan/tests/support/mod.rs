//! Running the real binary and the real nmap against listeners this test
//! starts on 127.0.0.1, and reading the records.

#![allow(dead_code)] // each test file uses its own subset

pub mod services;

#[allow(unused_imports)] // each test file uses its own subset
pub use secops_testkit::{PortBlock, of_kind, run, stderr};

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::thread;

use serde_json::Value;

pub fn vulnscan() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vulnscan"))
}

/// `vulnscan --engine ENGINE --no-state --ports PORTS EXTRA... 127.0.0.1`,
/// expected to exit 0; its records.
pub fn scan_loopback(engine: &str, ports: &str, extra: &[&str]) -> Vec<Value> {
    let out = run(vulnscan()
        .args(["--engine", engine, "--no-state", "--ports", ports])
        .args(extra)
        .arg("127.0.0.1"));
    secops_testkit::assert_exit(&out, 0);
    records(&out)
}

/// The records a run wrote but its closing `vuln.summary`, which must
/// agree with them (as many open ports and findings) when there is one.
pub fn records(out: &Output) -> Vec<Value> {
    let mut recs = secops_testkit::records(&out.stdout);
    if let Some(at) = recs.iter().position(|r| r["kind"] == "vuln.summary") {
        let summary = recs.remove(at);
        let count = |kind: &str| recs[..at].iter().filter(|r| r["kind"] == kind).count() as u64;
        assert_eq!(summary["open_ports"], count("vuln.port"), "{summary}");
        assert_eq!(summary["weaknesses"], count("vuln.finding"), "{summary}");
        assert_eq!(summary["alert"], "none", "{summary}");
    }
    recs
}

/// The real nmap; a test that needs it fails, never skips, without it.
pub fn nmap() -> PathBuf {
    secops_testkit::require("nmap", "nmap")
}

/// The ports of `vuln.port` records.
pub fn open_ports(records: &[Value]) -> BTreeSet<u16> {
    records
        .iter()
        .filter(|r| r["kind"] == "vuln.port")
        .map(|r| r["port"].as_u64().unwrap() as u16)
        .collect()
}

/// Serves every connection on `listener` as a web server that allows
/// TRACE would. It answers HTTP requests only (garbage gets a 400) and
/// names itself Apache, because nmap's version detection calls a server
/// that says 200 to every probe "unknown".
pub fn serve_http(listener: TcpListener) {
    const OK: &str = "HTTP/1.1 200 OK\r\nServer: Apache/2.4.57 (Debian)\r\nAllow: GET, HEAD, OPTIONS, TRACE\r\nContent-Type: text/html\r\nContent-Length: 27\r\nConnection: close\r\n\r\n<title>secops test</title>\n";
    const BAD: &str = "HTTP/1.1 400 Bad Request\r\nServer: Apache/2.4.57 (Debian)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let n = conn.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    return;
                }
                let request = String::from_utf8_lossy(&buf[..n]);
                let line = request.lines().next().unwrap_or("");
                let http = ["GET ", "HEAD ", "OPTIONS "]
                    .iter()
                    .any(|m| line.starts_with(m))
                    && line.contains(" HTTP/1.");
                let _ = conn.write_all(if http { OK } else { BAD }.as_bytes());
            });
        }
    });
}
