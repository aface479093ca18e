//! `--prom-file` judged by the real promtool, with findings that agree with
//! the firing records of the same run (and the same in a table, which
//! writes text); a run that fails leaves the file as it was.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use secops_testkit::{Tmpfs, assert_promtool_clean, findings, firing, unix_now, value};
use support::{anomalizer, bin, records, run, stderr};

/// 300 requests and one line unlike them (a rare template), plus a user
/// hammered in 60 failed logins (a dominating value).
fn app_log(dir: &Path) -> std::path::PathBuf {
    let mut log = String::new();
    for i in 0..300 {
        log += &format!("GET /index.html 200 in {i} ms\n");
    }
    for i in 0..100 {
        let user = if i % 5 == 0 {
            format!("user{i}")
        } else {
            "admin".to_string()
        };
        log += &format!(
            "Failed password for {user} from 10.0.0.{} port {}\n",
            i % 250,
            40000 + i
        );
    }
    log += "kernel: Out of memory: Killed process 42 (java)\n";
    let path = dir.join("app.log");
    fs::write(&path, log).unwrap();
    path
}

#[test]
fn metrics_pass_promtool_and_agree_with_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let log = app_log(dir.path());
    let prom = dir.path().join("anomalizer.prom");
    let started = unix_now();
    let out = run(anomalizer()
        .args(["--format", "jsonl", "--log"])
        .arg(&log)
        .arg("--prom-file")
        .arg(&prom));
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    assert_promtool_clean(&prom);
    let mode = fs::metadata(&prom).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644, "node_exporter must read it");
    let text = fs::read_to_string(&prom).unwrap();
    let recs = records(&out.stdout);
    let found = findings(&text, "anomalizer_findings");
    assert_eq!(found, firing(&recs), "{text}");
    for kind in ["log.rare_template", "log.token_frequency"] {
        assert!(found.keys().any(|(k, _)| k == kind), "{kind}: {text}");
    }
    let summary = recs.iter().find(|r| r["kind"] == "log.summary").unwrap();
    assert_eq!(
        value(&text, "anomalizer_lines_read"),
        summary["lines"].as_f64()
    );
    assert_eq!(value(&text, "anomalizer_lines_read"), Some(401.0));
    assert_eq!(
        value(&text, "anomalizer_templates"),
        summary["templates"].as_f64()
    );
    let stamp = value(&text, "anomalizer_last_success_timestamp_seconds").unwrap();
    assert!(
        stamp >= started.floor() && stamp <= unix_now(),
        "{stamp} ({started})"
    );

    // A table is written as text, and its findings still count.
    let out = run(anomalizer()
        .args(["--format", "table", "--log"])
        .arg(&log)
        .arg("--prom-file")
        .arg(&prom));
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("[ANOMALY]"));
    assert_eq!(
        findings(&fs::read_to_string(&prom).unwrap(), "anomalizer_findings"),
        found
    );
    assert_promtool_clean(&prom);
}

#[test]
fn a_failed_run_leaves_the_metrics_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let log = app_log(dir.path());
    let prom = dir.path().join("anomalizer.prom");
    let out = run(anomalizer()
        .args(["--format", "jsonl", "--log"])
        .arg(&log)
        .arg("--prom-file")
        .arg(&prom));
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let before = fs::read(&prom).unwrap();
    std::thread::sleep(Duration::from_millis(1100)); // a new run would stamp a new second

    // One log of two cannot be read: the other is judged and written,
    // and the run fails (3).
    let out = run(anomalizer()
        .args(["--format", "jsonl", "--log"])
        .arg(&log)
        .args(["--log", "/nonexistent/app.log", "--prom-file"])
        .arg(&prom));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let recs = records(&out.stdout);
    assert!(
        recs.iter().any(|r| r["kind"] == "log.rare_template"),
        "the records were written: {recs:#?}"
    );
    assert_eq!(fs::read(&prom).unwrap(), before, "exit 3 kept the file");

    // Bad usage: nothing runs (2).
    let out = run(anomalizer()
        .args(["--log-format", "<Date> <Time>", "--log"])
        .arg(&log)
        .arg("--prom-file")
        .arg(&prom));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(fs::read(&prom).unwrap(), before, "exit 2 kept the file");

    // Subcommands judge nothing, so they refuse to write metrics.
    let out = run(bin()
        .args(["learn", "--log"])
        .arg(&log)
        .arg("--model")
        .arg(dir.path().join("model.json"))
        .arg("--prom-file")
        .arg(&prom));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--prom-file"), "{}", stderr(&out));
    assert_eq!(fs::read(&prom).unwrap(), before, "learn kept the file");
}

#[test]
fn an_unwritable_metrics_file_fails_the_run_after_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let log = app_log(dir.path());
    let judge = |prom: &Path| {
        run(anomalizer()
            .args(["--format", "jsonl", "--log"])
            .arg(&log)
            .arg("--prom-file")
            .arg(prom))
    };
    let out = judge(&dir.path().join("no/such/dir/anomalizer.prom"));
    assert_eq!(
        out.status.code(),
        Some(2),
        "a path that cannot be is a usage error"
    );
    assert!(
        stderr(&out).contains("no/such/dir/anomalizer.prom"),
        "{}",
        stderr(&out)
    );
    let recs = records(&out.stdout);
    assert!(recs.iter().any(|r| r["kind"] == "log.summary"), "{recs:#?}");

    let full = Tmpfs::new(1 << 20);
    full.fill();
    let out = judge(&full.path().join("anomalizer.prom"));
    assert_eq!(out.status.code(), Some(3), "a full disk fails the run");
    assert!(stderr(&out).contains("No space left"), "{}", stderr(&out));
    assert!(
        records(&out.stdout)
            .iter()
            .any(|r| r["kind"] == "log.summary")
    );
}
