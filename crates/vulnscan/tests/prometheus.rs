//! `--prom-file` judged by the real promtool, with findings that agree with
//! the firing records of the same run; a run that fails leaves the file
//! as it was; an `--interval` loop rewrites it after every pass and goes on
//! when a write fails.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use secops_testkit::{
    PATIENCE, Tmpfs, assert_promtool_clean, findings, firing, unix_now, value, version, wait_until,
};
use serde_json::Value;
use support::*;

/// Greets every connection on `listener` as an FTP server does: the
/// built-in scanner names it ftp from the banner, and the shipped rules
/// call clear-text FTP a high finding (cleartext-admin).
fn serve_ftp_banner(listener: TcpListener) {
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let _ = conn.write_all(b"220 secops test FTP server ready\r\n");
        }
    });
}

#[test]
fn metrics_pass_promtool_and_agree_with_the_records() {
    let mut block = PortBlock::take(3);
    let (ftp, quiet, later) = (block.first, block.first + 1, block.last());
    let kept = block.keep(&[0, 1]);
    serve_ftp_banner(block.listeners.remove(0).1);
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("vulnscan.prom");
    let scan = || {
        let out = run(vulnscan()
            .args(["--engine", "builtin", "--format", "jsonl", "--state-dir"])
            .arg(dir.path().join("state"))
            .args(["--ports", &block.range(), "--prom-file"])
            .arg(&prom)
            .arg("127.0.0.1"));
        assert_eq!(
            out.status.code(),
            Some(1),
            "a high finding: {}",
            stderr(&out)
        );
        assert_promtool_clean(&prom);
        (records(&out), std::fs::read_to_string(&prom).unwrap())
    };

    let started = unix_now();
    let (recs, text) = scan();
    assert_eq!(open_ports(&recs), kept);
    assert_eq!(
        findings(&text, "vulnscan_findings"),
        firing(&recs),
        "{text}"
    );
    assert_eq!(
        findings(&text, "vulnscan_findings"),
        BTreeMap::from([(("vuln.finding".into(), "high".into()), 1.0)]),
        "FTP on {ftp} (nothing to say about {quiet}): {text}"
    );
    assert_eq!(value(&text, "vulnscan_hosts_scanned"), Some(1.0));
    assert_eq!(value(&text, "vulnscan_open_ports"), Some(2.0));
    let stamp = value(&text, "vulnscan_last_success_timestamp_seconds").unwrap();
    assert!(
        stamp >= started.floor() && stamp <= unix_now(),
        "{stamp} ({started})"
    );
    let mode = std::fs::metadata(&prom).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644, "node_exporter must read it");

    // A port opened since: its change alert fires too.
    let _later = TcpListener::bind(("127.0.0.1", later)).unwrap();
    let (recs, text) = scan();
    assert_eq!(
        findings(&text, "vulnscan_findings"),
        firing(&recs),
        "{text}"
    );
    assert_eq!(
        findings(&text, "vulnscan_findings").get(&("vuln.port_opened".into(), "medium".into())),
        Some(&1.0),
        "{text}"
    );
    assert_eq!(value(&text, "vulnscan_open_ports"), Some(3.0));
}

#[test]
fn nmap_counts_the_hosts_it_found_up() {
    nmap();
    let mut block = PortBlock::take(1);
    let port = block.first;
    serve_http(block.listeners.remove(0).1);
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("vulnscan.prom");
    let out = run(vulnscan()
        .args(["--engine", "nmap", "--no-state", "--format", "jsonl"])
        .args(["--ports", &port.to_string(), "--prom-file"])
        .arg(&prom)
        .arg("127.0.0.1"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_promtool_clean(&prom);
    let text = std::fs::read_to_string(&prom).unwrap();
    let recs = records(&out);
    assert_eq!(
        findings(&text, "vulnscan_findings"),
        firing(&recs),
        "{text}"
    );
    assert!(
        !findings(&text, "vulnscan_findings").is_empty(),
        "TRACE allowed: {recs:#?}"
    );
    assert_eq!(value(&text, "vulnscan_hosts_scanned"), Some(1.0));
    assert_eq!(value(&text, "vulnscan_open_ports"), Some(1.0));
}

#[test]
fn a_failed_run_leaves_the_metrics_file_as_it_was() {
    let nmap = nmap();
    let mut block = PortBlock::take(1);
    let listening = block.keep(&[0]);
    let xml = Command::new(nmap)
        .args(["-sT", "-n", "-Pn", "-oX", "-", "-p", &block.range()])
        .args(["127.0.0.1", "127.0.0.2"])
        .output()
        .expect("nmap runs");
    let xml = String::from_utf8(xml.stdout).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (whole, cut, junk) = (
        dir.path().join("whole.xml"),
        dir.path().join("cut.xml"),
        dir.path().join("junk.xml"),
    );
    std::fs::write(&whole, &xml).unwrap();
    // Cut inside the second host, as a killed nmap leaves it.
    let second = xml.match_indices("<host ").nth(1).expect("two hosts").0;
    std::fs::write(&cut, &xml[..second + 40]).unwrap();
    std::fs::write(&junk, "not nmap output").unwrap();
    let prom = dir.path().join("vulnscan.prom");
    let judge = |report: &Path| {
        run(vulnscan()
            .args(["--no-state", "--format", "jsonl", "--from-xml"])
            .arg(report)
            .arg("--prom-file")
            .arg(&prom))
    };

    let out = judge(&whole);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let before = std::fs::read(&prom).unwrap();
    let text = String::from_utf8(before.clone()).unwrap();
    assert_eq!(value(&text, "vulnscan_hosts_scanned"), Some(2.0), "{text}");
    std::thread::sleep(Duration::from_millis(1100)); // a new run would stamp a new second

    // Records of the host nmap finished, then exit 3: not a success.
    let out = judge(&cut);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(
        open_ports(&records(&out)),
        listening,
        "the records were written"
    );
    assert_eq!(
        std::fs::read(&prom).unwrap(),
        before,
        "exit 3 kept the file"
    );

    let out = judge(&junk);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(&prom).unwrap(),
        before,
        "exit 2 kept the file"
    );
}

#[test]
fn an_unwritable_metrics_file_fails_the_run_after_the_records() {
    let mut block = PortBlock::take(1);
    let listening = block.keep(&[0]);
    let scan = |prom: &Path| {
        run(vulnscan()
            .args(["--engine", "builtin", "--no-state", "--format", "jsonl"])
            .args(["--ports", &block.range(), "--prom-file"])
            .arg(prom)
            .arg("127.0.0.1"))
    };
    let dir = tempfile::tempdir().unwrap();
    let out = scan(&dir.path().join("no/such/dir/vulnscan.prom"));
    assert_eq!(
        out.status.code(),
        Some(2),
        "a path that cannot be is a usage error"
    );
    assert!(
        stderr(&out).contains("no/such/dir/vulnscan.prom"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        open_ports(&records(&out)),
        listening,
        "the records were written"
    );

    let full = Tmpfs::new(1 << 20);
    full.fill();
    let out = scan(&full.path().join("vulnscan.prom"));
    assert_eq!(out.status.code(), Some(3), "a full disk fails the run");
    assert!(stderr(&out).contains("No space left"), "{}", stderr(&out));
    assert_eq!(open_ports(&records(&out)), listening);
}

#[test]
fn interval_rewrites_the_metrics_each_pass_and_outlives_a_failed_write() {
    let mut block = PortBlock::take(1);
    // A finding that fires on every pass, so records keep coming.
    serve_ftp_banner(block.listeners.remove(0).1);
    let disk = Tmpfs::new(1 << 20);
    let prom = disk.path().join("vulnscan.prom");
    let mut child = vulnscan()
        .args(["--engine", "builtin", "--no-state", "--format", "jsonl"])
        .args([
            "--ports",
            &block.range(),
            "--interval",
            "200ms",
            "--prom-file",
        ])
        .arg(&prom)
        .arg("127.0.0.1")
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
    let text = std::fs::read_to_string(&prom).unwrap();
    assert_eq!(
        findings(&text, "vulnscan_findings"),
        BTreeMap::from([(("vuln.finding".into(), "high".into()), 1.0)]),
        "each pass counts what fires in it: {text}"
    );

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
