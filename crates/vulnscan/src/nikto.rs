//! nikto, the web server scanner, driven as nmap is: found on `PATH` (or
//! given by `--nikto`), run from an argument list with its offline flags
//! (`-nocheck`, `-ask no`, `-nointeractive`: it never reaches beyond the
//! target), bounded by its own `-maxtime` and killed a minute past it, and
//! read from the JSON report it writes to a private file, never from its
//! screen text. Each finding becomes a script result (`id` nikto) on the
//! port, so the rules judge it like an NSE result.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use secops_common::alert::alert_id;
use secops_common::{Error, info};

use crate::child;
use crate::scan::Script;

/// How to get nikto, said whenever it is missing.
pub const INSTALL_HINT: &str = "install nikto with `apt-get install nikto` (Debian's non-free section) or take upstream's (https://github.com/sullo/nikto, run as `perl program/nikto.pl`, with Debian's libxml-writer-perl, libnet-ssleay-perl and libjson-perl), and give its path with --nikto if it is not on PATH";

/// How nikto should scan.
#[derive(Debug, Clone)]
pub struct NiktoOptions {
    /// `nikto`, or upstream's `nikto.pl` (run with perl).
    pub program: PathBuf,
    /// nikto's `-maxtime` for one target.
    pub maxtime: Duration,
    /// nikto's `-Plugins`; all of its default plugins when `None`.
    pub plugins: Option<String>,
}

/// One web server to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebTarget {
    pub addr: String,
    pub port: u16,
    /// `Some(true)` for TLS, `Some(false)` for plain HTTP, `None` to let
    /// nikto find out.
    pub tls: Option<bool>,
    /// The path the site lives under (`-root`), `/` for most.
    pub root: String,
}

impl WebTarget {
    /// `https://127.0.0.1:8443/`, as messages name it.
    pub fn url(&self) -> String {
        let scheme = if self.tls == Some(true) {
            "https"
        } else {
            "http"
        };
        let host = if self.addr.contains(':') {
            format!("[{}]", self.addr)
        } else {
            self.addr.clone()
        };
        format!("{scheme}://{host}:{}{}", self.port, self.root)
    }
}

/// nikto's path: `--nikto`, else `nikto` or `nikto.pl` on `PATH`.
pub fn locate(given: Option<&Path>) -> Option<PathBuf> {
    match given {
        Some(path) => path.is_file().then(|| path.to_path_buf()),
        None => which::which("nikto")
            .or_else(|_| which::which("nikto.pl"))
            .ok(),
    }
}

/// The program to start and its arguments: upstream's `nikto.pl` runs
/// under perl.
fn command(opts: &NiktoOptions, target: &WebTarget, report: &Path) -> (PathBuf, Vec<String>) {
    let mut args: Vec<String> = Vec::new();
    let program = if opts.program.extension().is_some_and(|e| e == "pl") {
        args.push(opts.program.display().to_string());
        PathBuf::from("perl")
    } else {
        opts.program.clone()
    };
    args.extend(
        [
            "-ask",
            "no",
            "-nointeractive",
            "-nocheck",
            "-Format",
            "json",
            "-Display",
            "0",
        ]
        .map(String::from),
    );
    args.extend([
        "-maxtime".into(),
        format!("{}s", opts.maxtime.as_secs().max(1)),
    ]);
    if let Some(plugins) = &opts.plugins {
        // nikto's report writers are plugins too: without report_json in
        // the list it writes nothing, and says nothing.
        let with_report = if plugins.split(';').any(|p| p.trim() == "report_json") {
            plugins.clone()
        } else {
            format!("{plugins};report_json")
        };
        args.extend(["-Plugins".into(), with_report]);
    }
    match target.tls {
        Some(true) => args.push("-ssl".into()),
        Some(false) => args.push("-nossl".into()),
        None => {}
    }
    if target.root != "/" {
        args.extend(["-root".into(), target.root.clone()]);
    }
    args.extend([
        "-output".into(),
        report.display().to_string(),
        "-h".into(),
        target.addr.clone(),
        "-p".into(),
        target.port.to_string(),
    ]);
    (program, args)
}

/// What one nikto run found, and why it is not whole when `-maxtime` or
/// the kill cut it short (what it found is kept, but the scan is not
/// compared).
pub struct WebScan {
    pub scripts: Vec<Script>,
    pub incomplete: Option<String>,
}

/// Runs nikto against one target.
pub fn scan(opts: &NiktoOptions, target: &WebTarget) -> Result<WebScan, Error> {
    let dir = tempfile::tempdir().map_err(|err| {
        Error::failed(format!("cannot make a directory for nikto's report: {err}"))
    })?;
    let report = dir.path().join("nikto.json");
    let (program, args) = command(opts, target, &report);
    let started = Instant::now();
    // nikto stops itself at -maxtime; the kill is for a nikto that hangs.
    let done = child::run(&program, &args, opts.maxtime + Duration::from_secs(60))?;
    let took = started.elapsed();
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    if text.trim().is_empty() {
        let said = done.stderr.trim();
        return Err(Error::failed(format!(
            "nikto wrote no report for {} ({}){}",
            target.url(),
            if done.timed_out {
                "killed a minute past -maxtime".to_string()
            } else {
                format!("exit {}", if done.success { "0" } else { "non-zero" })
            },
            if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            }
        )));
    }
    let scripts = parse(&text)
        .map_err(|err| Error::failed(format!("nikto's report for {}: {err}", target.url())))?;
    let incomplete = (done.timed_out || took >= opts.maxtime).then(|| {
        format!(
            "nikto stopped at --web-maxtime on {}; the records written cover what it found",
            target.url()
        )
    });
    info!(
        "nikto: {} findings on {} in {:.1} s",
        scripts.len(),
        target.url(),
        took.as_secs_f64()
    );
    Ok(WebScan {
        scripts,
        incomplete,
    })
}

/// nikto's JSON report (a list of hosts, each with `vulnerabilities`: id,
/// method, url, msg, references) as script results. nikto can report one
/// test id more than once on one URL (each missing header is 013587 on
/// `/`), so a finding's key is its id and a digest of its URL and message.
pub fn parse(json: &str) -> Result<Vec<Script>, String> {
    let hosts: Value =
        serde_json::from_str(json).map_err(|err| format!("not nikto's JSON: {err}"))?;
    let hosts = hosts
        .as_array()
        .ok_or("not nikto's JSON: expected a list of hosts")?;
    let mut scripts = Vec::new();
    for host in hosts {
        let Some(found) = host.get("vulnerabilities").and_then(Value::as_array) else {
            continue;
        };
        for item in found {
            let text = |name: &str| {
                item.get(name)
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .unwrap_or_default()
                    .to_string()
            };
            let (id, method, url, msg) = (text("id"), text("method"), text("url"), text("msg"));
            if id.is_empty() || msg.is_empty() {
                return Err(format!("a finding without an id or message: {item}"));
            }
            // nikto reports a target it could not reach as a finding.
            if id == "FAIL" {
                return Err(format!("nikto could not scan it: {msg}"));
            }
            let digest = alert_id("nikto", &[&url, &msg]);
            let digest = &digest[digest.len() - 8..];
            let references = text("references")
                .split([',', ' '])
                .filter(|r| !r.is_empty())
                .map(String::from)
                .collect();
            scripts.push(Script {
                id: "nikto".to_string(),
                output: format!("{method} {url}: {msg}"),
                key: Some(format!("nikto-{id}-{digest}")),
                url: Some(url),
                references,
                verdict: None,
            });
        }
    }
    Ok(scripts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arguments_keep_nikto_offline_and_bounded() {
        let opts = NiktoOptions {
            program: "/opt/nikto/program/nikto.pl".into(),
            maxtime: Duration::from_secs(90),
            plugins: Some("headers;httpoptions".into()),
        };
        let target = WebTarget {
            addr: "::1".into(),
            port: 8443,
            tls: Some(true),
            root: "/app/".into(),
        };
        let (program, args) = command(&opts, &target, Path::new("/tmp/r.json"));
        assert_eq!(program, Path::new("perl"));
        let joined = args.join(" ");
        for part in [
            "/opt/nikto/program/nikto.pl -ask no -nointeractive -nocheck",
            "-Format json",
            "-maxtime 90s",
            "-Plugins headers;httpoptions;report_json",
            "-ssl",
            "-root /app/",
            "-output /tmp/r.json -h ::1 -p 8443",
        ] {
            assert!(joined.contains(part), "{part:?} in {joined}");
        }
        assert_eq!(target.url(), "https://[::1]:8443/app/");
    }

    #[test]
    fn findings_repeated_on_one_url_keep_apart() {
        let json = r#"[{"host":"127.0.0.1","port":"80","vulnerabilities":[
            {"id":"013587","method":"GET","url":"/","msg":"Suggested security header missing: referrer-policy.","references":"https://developer.mozilla.org/x"},
            {"id":"013587","method":"GET","url":"/","msg":"Suggested security header missing: permissions-policy.","references":""},
            {"id":"750500","method":"GET","url":"/files/","msg":"Directory indexing found.","references":"CWE-548"}]}]"#;
        let scripts = parse(json).unwrap();
        assert_eq!(scripts.len(), 3);
        assert_ne!(scripts[0].key, scripts[1].key);
        assert!(
            scripts[0]
                .key
                .as_ref()
                .unwrap()
                .starts_with("nikto-013587-")
        );
        assert_eq!(scripts[2].output, "GET /files/: Directory indexing found.");
        assert_eq!(scripts[2].references, ["CWE-548"]);
        assert_eq!(parse(json).unwrap(), scripts, "keys are stable");
        assert!(parse("<html>").is_err());
        assert!(parse(r#"[{"vulnerabilities":[{"id":"1"}]}]"#).is_err());
        assert!(parse("[]").unwrap().is_empty());
        let unreachable = r#"[{"vulnerabilities":[{"id":"FAIL","method":"GET","url":"/","msg":"Unable to connect to 127.0.0.1:9.","references":""}]}]"#;
        assert!(
            parse(unreachable)
                .unwrap_err()
                .contains("Unable to connect")
        );
    }
}
