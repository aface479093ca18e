//! `--prom-file` judged by the real promtool, with findings that agree with
//! the firing records of the same run; a run that fails leaves the file
//! as it was; an `--interval` loop rewrites it after every pass and goes on
//! when a write fails.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use secops_testkit::{PATIENCE, Tmpfs, assert_promtool_clean, unix_now, version, wait_until};
use serde_json::{Value, json};
use support::*;

/// The samples of `family`: labels (name -> value) and value.
fn samples(text: &str, family: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            let (name, labels) = key
                .split_once('{')
                .map_or((key, ""), |(n, l)| (n, l.trim_end_matches('}')));
            (name == family).then(|| {
                let labels = labels
                    .split("\",")
                    .filter(|pair| !pair.is_empty())
                    .map(|pair| {
                        let (k, v) = pair.split_once("=\"").unwrap();
                        (k.to_string(), v.trim_end_matches('"').to_string())
                    })
                    .collect();
                (labels, value.parse().unwrap())
            })
        })
        .collect()
}

/// `family`'s samples keyed by the values of `keys`.
fn by(text: &str, family: &str, keys: &[&str]) -> BTreeMap<Vec<String>, f64> {
    samples(text, family)
        .into_iter()
        .map(|(labels, value)| (keys.iter().map(|k| labels[*k].clone()).collect(), value))
        .collect()
}

/// Firing records by kind and severity, as `traffic_cop_findings` counts.
fn firing(recs: &[Value]) -> BTreeMap<Vec<String>, f64> {
    let mut tally = BTreeMap::new();
    for r in recs.iter().filter(|r| r["alert"] == "firing") {
        let key = vec![
            r["kind"].as_str().unwrap().to_string(),
            r["severity"].as_str().unwrap().to_string(),
        ];
        *tally.entry(key).or_default() += 1.0;
    }
    tally
}

/// A whitelist approving `approved` (held by this test, on loopback) and
/// nothing else, so every other listener is an unknown, firing one.
fn whitelist(dir: &Path, approved: u16) -> String {
    let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
    let exe = std::env::current_exe().unwrap();
    let path = dir.join("ports.json");
    let body = json!({"ports": [{"port": approved, "process": comm.trim(), "exe": exe, "scope": "loopback"}]});
    std::fs::write(&path, body.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn metrics_pass_promtool_and_agree_with_the_records() {
    let approved = TcpListener::bind("127.0.0.1:0").unwrap();
    let unknown = TcpListener::bind("0.0.0.0:0").unwrap();
    let _udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let list = whitelist(dir.path(), approved.local_addr().unwrap().port());
    let prom = dir.path().join("traffic-cop.prom");
    let started = unix_now();
    let out = run(traffic_cop()
        .args(["--whitelist", &list, "--format", "jsonl", "--prom-file"])
        .arg(&prom));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_promtool_clean(&prom);
    let mode = std::fs::metadata(&prom).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644, "node_exporter must read it");

    let text = std::fs::read_to_string(&prom).unwrap();
    let recs = records(&out.stdout);
    let findings = by(&text, "traffic_cop_findings", &["kind", "severity"]);
    assert_eq!(findings, firing(&recs), "{text}");
    let ours = record_for(&recs, "tcp", unknown.local_addr().unwrap().port());
    assert_eq!(ours["alert"], "firing", "our unknown listener is a finding");

    // Every listener of the run, by protocol and status.
    let mut listeners: BTreeMap<Vec<String>, f64> = BTreeMap::new();
    for r in &recs {
        let key = vec![
            r["proto"].as_str().unwrap().to_string(),
            r["status"].as_str().unwrap().to_string(),
        ];
        *listeners.entry(key).or_default() += 1.0;
    }
    assert_eq!(
        by(&text, "traffic_cop_listening_sockets", &["proto", "status"]),
        listeners
    );
    assert!(listeners.contains_key(&vec!["tcp".to_string(), "approved".to_string()]));
    assert_eq!(samples(&text, "traffic_cop_unreadable_processes").len(), 1);

    let stamp = samples(&text, "traffic_cop_last_success_timestamp_seconds")[0].1;
    assert!(
        stamp >= started.floor() && stamp <= unix_now(),
        "{stamp} is the time of this run ({started})"
    );
}

#[test]
fn a_failed_run_leaves_the_metrics_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("traffic-cop.prom");
    let out = run(traffic_cop()
        .args(["--format", "jsonl", "--prom-file"])
        .arg(&prom));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let before = std::fs::read(&prom).unwrap();
    std::thread::sleep(Duration::from_millis(1100)); // a new run would stamp a new second

    // Bad input: nothing runs.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"ports": [{"port": "x"}]}"#).unwrap();
    let out = run(traffic_cop()
        .args(["--format", "jsonl", "-w"])
        .arg(&bad)
        .arg("--prom-file")
        .arg(&prom));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(&prom).unwrap(),
        before,
        "exit 2 kept the file"
    );

    // The scan ran and its records are out, but its state could not be
    // kept: exit 3, and no success to report.
    let state = Tmpfs::new(1 << 20);
    state.read_only(true);
    let out = run(traffic_cop_with_state()
        .args(["--format", "jsonl", "--state-dir"])
        .arg(state.path())
        .arg("--prom-file")
        .arg(&prom));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        records(&out.stdout).iter().any(|r| r["kind"] == "port"),
        "the records were written: {}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(&prom).unwrap(),
        before,
        "exit 3 kept the file"
    );
}

#[test]
fn an_unwritable_metrics_file_fails_the_run_after_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/traffic-cop.prom");
    let out = run(traffic_cop()
        .args(["--format", "jsonl", "--prom-file"])
        .arg(&missing));
    assert_eq!(
        out.status.code(),
        Some(2),
        "a path that cannot be is a usage error"
    );
    assert!(
        stderr(&out).contains("no/such/dir/traffic-cop.prom"),
        "{}",
        stderr(&out)
    );
    let recs = records(&out.stdout);
    assert!(recs.iter().any(|r| r["kind"] == "port"), "{recs:#?}");

    let full = Tmpfs::new(1 << 20);
    full.fill();
    let out = run(traffic_cop()
        .args(["--format", "jsonl", "--prom-file"])
        .arg(full.path().join("traffic-cop.prom")));
    assert_eq!(out.status.code(), Some(3), "a full disk fails the run");
    assert!(stderr(&out).contains("No space left"), "{}", stderr(&out));
    assert!(records(&out.stdout).iter().any(|r| r["kind"] == "port"));
}

#[test]
fn interval_rewrites_the_metrics_each_pass_and_outlives_a_failed_write() {
    let disk = Tmpfs::new(1 << 20);
    let prom = disk.path().join("traffic-cop.prom");
    let dir = tempfile::tempdir().unwrap();
    // Nothing approved: every listener fires on every pass, so records keep
    // coming while the loop runs.
    let list = dir.path().join("ports.json");
    std::fs::write(&list, r#"{"ports": []}"#).unwrap();
    let _listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut child = traffic_cop()
        .args(["--format", "jsonl", "--interval", "200ms", "-w"])
        .arg(&list)
        .arg("--prom-file")
        .arg(&prom)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(AtomicUsize::new(0));
    let reader = {
        let lines = lines.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                serde_json::from_str::<Value>(&line.unwrap()).unwrap();
                lines.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    assert!(
        wait_until(PATIENCE, || version(&prom).is_some()),
        "the first pass wrote it"
    );
    let first = version(&prom);
    assert!(
        wait_until(PATIENCE, || version(&prom) != first),
        "a later pass rewrote it"
    );
    assert_promtool_clean(&prom);

    // The disk fills: passes go on, writing records, and the file stays
    // as the last pass that could write it left it.
    disk.fill();
    std::thread::sleep(Duration::from_millis(300));
    let kept = std::fs::read(&prom).unwrap();
    let seen = lines.load(Ordering::SeqCst);
    assert!(
        wait_until(PATIENCE, || lines.load(Ordering::SeqCst) > seen + 1),
        "the loop goes on"
    );
    assert_eq!(std::fs::read(&prom).unwrap(), kept);

    // Space again: the next pass writes it.
    disk.free();
    let stale = version(&prom);
    assert!(
        wait_until(PATIENCE, || version(&prom) != stale),
        "written again"
    );
    assert_promtool_clean(&prom);

    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    reader.join().unwrap();
    let said = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(3),
        "a write failed during the run: {said}"
    );
    assert_eq!(
        said.matches("No space left on device").count(),
        2,
        "warned once while it repeated, then the final error: {said}"
    );
    assert!(said.contains("not written)"), "{said}");
}
