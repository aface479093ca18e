//! vulnscan run as an operator runs it, against real listeners on
//! 127.0.0.1 and the real nmap.

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use support::*;

#[test]
fn the_builtin_scanner_finds_exactly_the_listeners_and_agrees_with_nmap() {
    let nmap = nmap();
    let mut block = PortBlock::take(40);
    let listening = block.keep(&[0, 7, 23, 39]);

    let recs = scan_loopback("builtin", &block.range(), &[]);
    assert_eq!(open_ports(&recs), listening);
    assert!(
        recs.iter()
            .all(|r| r["engine"] == "builtin" && r["addr"] == "127.0.0.1")
    );

    let xml = Command::new(nmap)
        .args(["-sT", "-n", "-oX", "-", "-p", &block.range(), "127.0.0.1"])
        .output()
        .expect("nmap runs");
    let run = vulnscan::nmap_xml::parse(&String::from_utf8_lossy(&xml.stdout));
    assert!(run.complete, "{}", String::from_utf8_lossy(&xml.stderr));
    let nmap_open: BTreeSet<u16> = run.hosts[0].ports.iter().map(|p| p.port).collect();
    assert_eq!(nmap_open, listening, "nmap -sT sees the same open ports");
}

#[test]
fn nmap_results_become_port_and_finding_records_with_severities() {
    nmap();
    let mut block = PortBlock::take(1);
    let port = block.first;
    serve_http(block.listeners.remove(0).1);

    let out = run(vulnscan().args([
        "--engine",
        "nmap",
        "--no-state",
        "--ports",
        &port.to_string(),
        "127.0.0.1",
    ]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "medium is below --fail-on high: {}",
        stderr(&out)
    );
    let recs = records(&out);
    assert_eq!(open_ports(&recs), BTreeSet::from([port]));
    let port_rec = recs.iter().find(|r| r["kind"] == "vuln.port").unwrap();
    assert_eq!(port_rec["service"], "http", "{port_rec}");
    assert_eq!(port_rec["engine"], "nmap");
    let trace = recs
        .iter()
        .find(|r| r["kind"] == "vuln.finding" && r["id"] == "http-methods")
        .unwrap_or_else(|| panic!("no http-methods finding in {recs:#?}"));
    assert_eq!(trace["severity"], "medium", "{trace}");
    assert!(
        trace["message"].as_str().unwrap().contains("TRACE"),
        "{trace}"
    );
    assert_eq!(trace["port"], port);

    let strict = run(vulnscan().args([
        "--engine",
        "nmap",
        "--no-state",
        "--no-scripts",
        "--fail-on",
        "info",
        "--ports",
        &port.to_string(),
        "127.0.0.1",
    ]));
    assert_eq!(
        strict.status.code(),
        Some(1),
        "an open port is info: {}",
        stderr(&strict)
    );
}

#[test]
fn a_killed_nmap_still_yields_the_hosts_it_finished() {
    let nmap = nmap();
    let mut block = PortBlock::take(2);
    let listening = block.keep(&[1]);
    let xml = Command::new(nmap)
        .args([
            "-sT",
            "-n",
            "-Pn",
            "-oX",
            "-",
            "-p",
            &block.range(),
            "127.0.0.1",
            "127.0.0.2",
        ])
        .output()
        .expect("nmap runs");
    let xml = String::from_utf8(xml.stdout).unwrap();
    assert_eq!(vulnscan::nmap_xml::parse(&xml).hosts.len(), 2, "{xml}");

    // Cut the document inside the second host, as a kill would.
    let second = xml.match_indices("<host ").nth(1).expect("two hosts").0;
    let cut = vulnscan::nmap_xml::parse(&xml[..second + 40]);
    assert!(!cut.complete);
    assert_eq!(cut.hosts.len(), 1);
    assert_eq!(cut.hosts[0].addr, "127.0.0.1");
    let ports: BTreeSet<u16> = cut.hosts[0].ports.iter().map(|p| p.port).collect();
    assert_eq!(ports, listening);
}

#[test]
fn targets_that_are_not_addresses_or_names_are_refused() {
    for bad in [";rm -rf /", "127.0.0.1;id", "$(reboot)"] {
        let out = run(vulnscan().args(["--no-state", bad]));
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains("invalid target"), "{}", stderr(&out));
        // Nothing scanned; the refusal is the one record.
        secops_testkit::only_failure(&out.stdout);
    }
    let out = run(vulnscan().args(["--no-state", "--", "-iL"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let mixed = run(vulnscan().args(["--no-state", "--engine", "nmap", "::1", "127.0.0.1"]));
    assert_eq!(mixed.status.code(), Some(2), "{}", stderr(&mixed));
    assert!(stderr(&mixed).contains("separate"), "{}", stderr(&mixed));
}

#[test]
fn without_nmap_it_says_how_to_install_it_and_falls_back_or_fails() {
    let mut block = PortBlock::take(3);
    let listening = block.keep(&[1]);
    let empty = tempfile::tempdir().unwrap();
    let no_nmap = |extra: &[&str]| {
        let mut cmd = vulnscan();
        cmd.env("PATH", empty.path())
            .args(["--no-state", "--ports", &block.range()])
            .args(extra)
            .arg("127.0.0.1");
        run(&mut cmd)
    };

    let required = no_nmap(&["--require-nmap"]);
    assert_eq!(required.status.code(), Some(3));
    assert!(
        stderr(&required).contains("apt-get install nmap"),
        "{}",
        stderr(&required)
    );

    let fallback = no_nmap(&[]);
    assert_eq!(fallback.status.code(), Some(0), "{}", stderr(&fallback));
    assert!(stderr(&fallback).contains("apt-get install nmap"));
    let recs = records(&fallback);
    assert_eq!(open_ports(&recs), listening);
    assert!(recs.iter().all(|r| r["engine"] == "builtin"));

    // The README's `vulnscan --top-ports 100 127.0.0.1`: without nmap's
    // frequency table every port is scanned, with a note saying so.
    let mut cmd = vulnscan();
    cmd.env("PATH", empty.path())
        .args(["--no-state", "--top-ports", "100", "127.0.0.1"]);
    let top = run(&mut cmd);
    assert_eq!(top.status.code(), Some(0), "{}", stderr(&top));
    assert!(
        stderr(&top).contains("scans every port instead"),
        "{}",
        stderr(&top)
    );
    assert!(open_ports(&records(&top)).is_superset(&listening));
}

#[test]
fn the_next_scan_reports_opened_and_closed_ports() {
    let state = tempfile::tempdir().unwrap();
    let mut block = PortBlock::take(4);
    let range = block.range();
    let scan = || {
        let out = run(vulnscan()
            .args([
                "--engine",
                "builtin",
                "--no-banners",
                "--ports",
                &range,
                "127.0.0.1",
            ])
            .arg("--state-dir")
            .arg(state.path()));
        assert!(out.status.success(), "{}", stderr(&out));
        records(&out)
    };
    let (a, b) = (block.first, block.first + 2);

    block.keep(&[0, 1]);
    let first = scan();
    assert!(
        first.iter().all(|r| r["kind"] == "vuln.port"),
        "no baseline, no changes: {first:#?}"
    );

    let mut listeners = std::mem::take(&mut block.listeners);
    listeners.retain(|(port, _)| *port != a);
    let _opened = std::net::TcpListener::bind(("127.0.0.1", b)).unwrap();
    let second = scan();
    let changes: Vec<(String, u64)> = second
        .iter()
        .filter(|r| r["kind"] != "vuln.port")
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_string(),
                r["port"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("vuln.port_opened".to_string(), u64::from(b)),
            ("vuln.port_closed".to_string(), u64::from(a))
        ]
    );
    let change = |kind: &str| second.iter().find(|r| r["kind"] == kind).unwrap();
    let opened = change("vuln.port_opened");
    assert_eq!(
        (&opened["alert"], &opened["severity"]),
        (&"firing".into(), &"medium".into())
    );
    // a was open at the first scan and never alerted: its closure is news.
    let closed = change("vuln.port_closed");
    assert_eq!(
        (&closed["alert"], &closed["severity"]),
        (&"none".into(), &"info".into())
    );

    // b closes: the end of the alert its opening raised.
    drop(_opened);
    let third = scan();
    let closed = third
        .iter()
        .find(|r| r["kind"] == "vuln.port_closed" && r["port"] == b)
        .unwrap_or_else(|| panic!("{third:#?}"));
    assert_eq!(
        (&closed["alert"], &closed["alert_id"]),
        (&"resolved".into(), &opened["alert_id"])
    );
    drop(listeners);
}

#[test]
fn the_interval_loop_writes_only_what_is_new_after_the_first_pass() {
    let mut block = PortBlock::take(2);
    let (first, second) = (block.first, block.last());
    // Keep `first` listening; free `second` until the first pass is out.
    let _kept = block.listeners.remove(0);
    drop(block);
    let mut child = vulnscan()
        .args(["--engine", "builtin", "--no-state", "--no-banners"])
        .args(["--ports", &format!("{first},{second}"), "--format", "jsonl"])
        .args(["--interval", "2s", "--count", "2", "127.0.0.1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("vulnscan runs");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let first_pass = lines.next().expect("a record").unwrap();
    let first_pass: serde_json::Value = serde_json::from_str(&first_pass).unwrap();
    assert_eq!(first_pass["kind"], "vuln.port");
    assert_eq!(first_pass["port"], first);
    // The second port opens between the passes.
    let _opened = std::net::TcpListener::bind(("127.0.0.1", second)).expect("port still free");
    let rest: Vec<serde_json::Value> = lines
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit {status:?}");
    let about = |kind: &str, port: u16| {
        rest.iter()
            .filter(|r| r["kind"] == kind && r["port"] == port)
            .count()
    };
    assert_eq!(about("vuln.port", second), 1, "the new port: {rest:?}");
    assert_eq!(about("vuln.port_opened", second), 1, "its change: {rest:?}");
    assert_eq!(
        about("vuln.port", first),
        0,
        "no repeat of the old port: {rest:?}"
    );
}

/// Threads that keep every core busy until dropped: the "machine loaded by
/// other work" under which a connect scan's timeouts expire while the
/// scanner waits for a CPU.
struct CpuHogs(
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    Vec<std::thread::JoinHandle<()>>,
);

impl CpuHogs {
    fn start(per_core: usize) -> CpuHogs {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = (0..cores * per_core)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                })
            })
            .collect();
        CpuHogs(stop, threads)
    }
}

impl Drop for CpuHogs {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.1.drain(..) {
            let _ = t.join();
        }
    }
}

#[test]
fn the_builtin_scanner_finds_every_listener_while_the_machine_is_busy() {
    let nmap = nmap();
    let mut block = PortBlock::take(12);
    let listening = block.keep(&[0, 5, 11]);
    let _hogs = CpuHogs::start(4);
    for _ in 0..3 {
        let recs = scan_loopback("builtin", "1-65535", &["--no-banners"]);
        let open = open_ports(&recs);
        assert!(
            open.is_superset(&listening),
            "{listening:?} not all in {open:?}"
        );
    }
    // nmap, under the same load, sees them too: the same open set.
    let xml = Command::new(nmap)
        .args(["-sT", "-n", "-oX", "-", "-p", &block.range(), "127.0.0.1"])
        .output()
        .expect("nmap runs");
    let run = vulnscan::nmap_xml::parse(&String::from_utf8_lossy(&xml.stdout));
    let nmap_open: BTreeSet<u16> = run.hosts[0].ports.iter().map(|p| p.port).collect();
    assert_eq!(nmap_open, listening);
}

#[test]
fn a_scan_that_finds_nothing_says_so_in_its_summary() {
    let mut block = PortBlock::take(5);
    block.keep(&[]); // every port of the block closed
    for engine in ["builtin", "nmap"] {
        if engine == "nmap" {
            nmap();
        }
        let out = run(vulnscan()
            .args(["--engine", engine, "--no-state", "--ports", &block.range()])
            .arg("127.0.0.1"));
        secops_testkit::assert_exit(&out, 0);
        let recs = secops_testkit::records(&out.stdout);
        assert_eq!(recs.len(), 1, "{engine}: {recs:#?}");
        let summary = &recs[0];
        assert_eq!(summary["kind"], "vuln.summary");
        assert_eq!(
            (summary["hosts"].as_u64(), summary["open_ports"].as_u64()),
            (Some(1), Some(0))
        );
        assert_eq!(summary["engine"], engine);
        let message = summary["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!(
                "scanned 1 host with {engine}: 0 open ports, 0 findings"
            )),
            "{message}"
        );
    }
}
