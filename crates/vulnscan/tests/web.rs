//! `--web` and `--web-only` with the real nikto (Nikto 2.6.1 with an
//! offline configuration, in ../shared/tools/nikto) against web servers
//! this test starts on 127.0.0.1 with known weaknesses: no security
//! headers, TRACE answered, a directory listing, a backup archive in the
//! web root. Each must come out as a `vuln.finding` with the severity the
//! built-in rules give it, the nikto id in `id`, the URL, and an alert id.
//! nikto runs with a few of its plugins (`--web-plugins`) so each scan
//! takes seconds rather than its default six minutes.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::thread;

use serde_json::Value;
use support::services::Server;
use support::*;

/// The plugins that find the planted weaknesses.
const PLUGINS: &str = "headers;httpoptions;content_search;sitefiles";

/// Upstream's nikto.pl from ../shared, and the perl modules it needs.
fn nikto() -> PathBuf {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/tools/nikto/nikto.pl");
    assert!(
        path.is_file(),
        "nikto is needed at {} (the project's ../shared/tools/nikto)",
        path.display()
    );
    let modules = Command::new("perl")
        .args(["-MJSON", "-MXML::Writer", "-MNet::SSLeay", "-e", "1"])
        .output()
        .unwrap();
    assert!(
        modules.status.success(),
        "nikto needs Debian's libjson-perl, libxml-writer-perl and libnet-ssleay-perl (scripts/test installs them)"
    );
    path
}

/// A web server as careless as many: the root is a directory listing,
/// TRACE echoes the request, OPTIONS offers TRACE, /backup.zip is served,
/// no response carries a security header, and anything else is a 404.
fn serve_weak_web(listener: TcpListener) {
    thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            thread::spawn(move || {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request).into_owned();
                let mut words = text.split_whitespace();
                let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                let (status, kind, body): (&str, &str, Vec<u8>) = match (method, path) {
                    ("TRACE" | "TRACK", _) => ("200 OK", "message/http", text.clone().into_bytes()),
                    ("OPTIONS", _) => ("200 OK", "text/plain", Vec::new()),
                    ("GET" | "HEAD", "/") => (
                        "200 OK",
                        "text/html",
                        b"<html><head><title>Index of /</title></head><body><h1>Index of /</h1><pre><a href=\"backup.zip\">backup.zip</a></pre></body></html>\n".to_vec(),
                    ),
                    ("GET" | "HEAD", "/backup.zip") => ("200 OK", "application/zip", archive()),
                    _ => ("404 Not Found", "text/html", b"<h1>Not Found</h1>\n".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nServer: Apache/2.4.57 (Debian)\r\nAllow: GET, HEAD, POST, OPTIONS, TRACE\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes());
                if method != "HEAD" {
                    let _ = conn.write_all(&body);
                }
            });
        }
    });
}

/// What nikto takes for a real zip archive: its magic number, then 2 KiB
/// of varied bytes (nikto discounts small or uniform files).
fn archive() -> Vec<u8> {
    let mut bytes = b"PK\x03\x04".to_vec();
    let mut x: u32 = 2_463_534_242;
    for _ in 0..2048 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        bytes.push(x as u8);
    }
    bytes
}

/// vulnscan with nikto and `plugins`, expected to exit `exit`; its records.
fn web_scan(plugins: &str, args: &[&str], exit: i32) -> Vec<Value> {
    let nikto = nikto();
    let out = run(vulnscan()
        .args([
            "--no-state",
            "--web-plugins",
            plugins,
            "--web-maxtime",
            "5m",
            "--nikto",
        ])
        .arg(&nikto)
        .args(args));
    secops_testkit::assert_exit(&out, exit);
    records(&out)
}

/// The web findings by rule, each with its severity.
fn by_rule(records: &[Value]) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = of_kind(records, "vuln.finding")
        .iter()
        .filter(|f| f["id"].as_str().is_some_and(|id| id.starts_with("nikto-")))
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("(none)").to_string(),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

#[test]
fn nikto_findings_on_a_weak_web_server_get_their_severities() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    serve_weak_web(listener);
    let url = format!("http://127.0.0.1:{port}/");
    let records = web_scan(PLUGINS, &["--web-only", &url], 1);
    let found = by_rule(&records);
    for expected in [
        ("web-trace", "medium"),
        ("web-directory-listing", "medium"),
        ("web-backup-file", "high"),
        ("web-missing-header", "low"),
    ] {
        assert!(
            found.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} not in {found:?}"
        );
    }
    let findings = of_kind(&records, "vuln.finding");
    let backup = findings
        .iter()
        .find(|f| f["rule"] == "web-backup-file")
        .unwrap();
    assert_eq!(backup["url"], "/backup.zip");
    assert_eq!(backup["port"], port);
    assert_eq!(backup["engine"], "nikto");
    assert!(backup["id"].as_str().unwrap().starts_with("nikto-740001-"));
    assert!(backup["alert_id"].as_str().is_some(), "{backup}");
    assert!(
        backup["message"]
            .as_str()
            .unwrap()
            .contains("remove it from the web root")
    );
    // Every finding has its own identity, stable from run to run.
    let ids: std::collections::BTreeSet<String> = findings
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), findings.len(), "{findings:#?}");
}

#[test]
fn web_finds_http_among_the_scanned_ports_and_tls_by_url() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    serve_weak_web(listener);
    // The built-in scanner names no service: vulnscan asks the port.
    let records = web_scan(
        PLUGINS,
        &[
            "--engine",
            "builtin",
            "--ports",
            &port.to_string(),
            "--web",
            "127.0.0.1",
        ],
        1,
    );
    assert!(
        by_rule(&records).contains(&("web-trace".to_string(), "medium".to_string())),
        "{records:#?}"
    );
    let tls = Server::modern_tls(TcpListener::bind("127.0.0.1:0").unwrap());
    let url = format!("https://127.0.0.1:{}/", tls.port);
    // openssl s_server answers one connection at a time: the header
    // checks alone, which need few requests.
    let records = web_scan("headers", &["--web-only", &url], 0);
    let headers: Vec<&Value> = of_kind(&records, "vuln.finding")
        .into_iter()
        .filter(|f| f["rule"] == "web-missing-header")
        .collect();
    assert!(
        headers.iter().any(|f| f["message"]
            .as_str()
            .unwrap()
            .contains("strict-transport-security")),
        "{records:#?}"
    );
}

#[test]
fn without_nikto_the_port_scan_goes_on_unless_nikto_is_required() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    serve_weak_web(listener);
    let base = [
        "--no-state",
        "--engine",
        "builtin",
        "--ports",
        &port,
        "--web",
    ];
    let out = run(vulnscan()
        .env("PATH", "/nonexistent")
        .args(base)
        .arg("127.0.0.1"));
    secops_testkit::assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("nikto is not installed"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("non-free"), "{}", stderr(&out));
    assert_eq!(of_kind(&records(&out), "vuln.port").len(), 1);
    let out = run(vulnscan()
        .env("PATH", "/nonexistent")
        .args(base)
        .arg("--require-nikto")
        .arg("127.0.0.1"));
    secops_testkit::assert_exit(&out, 3);
    let out = run(vulnscan().args(["--no-state", "--web-only", "ftp://x/"]));
    secops_testkit::assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("--web-only \"ftp://x/\""),
        "{}",
        stderr(&out)
    );
}
