//! `--prom-file` judged by the real promtool, with findings that agree with
//! the alerts the records of the same run leave firing; a run that fails
//! leaves the file as it was; `watch` rewrites it after every check and
//! goes on when a write fails.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use secops_testkit::{
    PATIENCE, Tmpfs, assert_promtool_clean, findings, unix_now, value, version, wait_until,
};
use serde_json::Value;
use support::{Sandbox, records, run, stderr};

/// The alerts the records leave firing, by (kind, severity): each alert's
/// last record, when it is a firing one.
fn held(recs: &[Value]) -> BTreeMap<(String, String), f64> {
    let mut last: BTreeMap<&str, &Value> = BTreeMap::new();
    for r in recs {
        if let Some(id) = r["alert_id"].as_str() {
            last.insert(id, r);
        }
    }
    let mut tally = BTreeMap::new();
    for r in last.values().filter(|r| r["alert"] == "firing") {
        let key = (
            r["kind"].as_str().unwrap().to_string(),
            r["severity"].as_str().unwrap().to_string(),
        );
        *tally.entry(key).or_default() += 1.0;
    }
    tally
}

fn firing_records(recs: &[Value]) -> usize {
    recs.iter().filter(|r| r["alert"] == "firing").count()
}

fn epoch(rfc3339: &str) -> f64 {
    humantime::parse_rfc3339(rfc3339)
        .unwrap()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as f64
}

/// A sandbox with three files and its baseline, made with `--prom-file`.
fn baseline(prom: &Path) -> (Sandbox, Vec<Value>) {
    let sb = Sandbox::new();
    for name in ["a", "b", "c"] {
        fs::write(sb.path(name), name).unwrap();
    }
    let out = run(sb.cmd("init").arg(sb.tree()).arg("--prom-file").arg(prom));
    assert_eq!(out.status.code(), Some(0), "init: {}", stderr(&out));
    (sb, records(&out.stdout))
}

#[test]
fn metrics_pass_promtool_and_agree_with_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("fim-check.prom");
    let (sb, recs) = baseline(&prom);
    assert_promtool_clean(&prom);
    let mode = fs::metadata(&prom).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644, "node_exporter must read it");
    let text = fs::read_to_string(&prom).unwrap();
    let made = recs.iter().find(|r| r["kind"] == "fim.baseline").unwrap();
    assert_eq!(
        value(&text, "fim_check_entries_checked"),
        made["entries"].as_f64()
    );
    let created = epoch(made["created"].as_str().unwrap());
    assert_eq!(
        value(&text, "fim_check_baseline_timestamp_seconds"),
        Some(created)
    );
    assert!(findings(&text, "fim_check_findings").is_empty(), "{text}");

    fs::write(sb.path("a"), "changed").unwrap();
    fs::remove_file(sb.path("b")).unwrap();
    fs::write(sb.path("d"), "added").unwrap();
    let started = unix_now();
    let out = run(sb.cmd("verify").arg("--prom-file").arg(&prom));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_promtool_clean(&prom);
    let text = fs::read_to_string(&prom).unwrap();
    let recs = records(&out.stdout);
    let found = findings(&text, "fim_check_findings");
    assert_eq!(found, held(&recs), "{text}");
    assert_eq!(
        found.values().sum::<f64>() as usize,
        firing_records(&recs),
        "verify: every firing record is one finding"
    );
    for kind in ["fim.changed", "fim.removed", "fim.added"] {
        assert!(
            found.contains_key(&(kind.to_string(), "high".to_string())),
            "{text}"
        );
    }
    // What the scan found on disk: the tree, a, c and the new d.
    assert_eq!(value(&text, "fim_check_entries_checked"), Some(4.0));
    assert_eq!(
        value(&text, "fim_check_baseline_timestamp_seconds"),
        Some(created)
    );
    let stamp = value(&text, "fim_check_last_success_timestamp_seconds").unwrap();
    assert!(
        stamp >= started.floor() && stamp <= unix_now(),
        "{stamp} ({started})"
    );

    // update writes the differences and accepts them: none is left firing.
    let out = run(sb.cmd("update").arg("--prom-file").arg(&prom));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recs = records(&out.stdout);
    assert!(firing_records(&recs) > 0, "{recs:#?}");
    let text = fs::read_to_string(&prom).unwrap();
    assert_eq!(findings(&text, "fim_check_findings"), held(&recs));
    assert!(findings(&text, "fim_check_findings").is_empty(), "{text}");
    let made = recs.iter().find(|r| r["kind"] == "fim.baseline").unwrap();
    assert_eq!(
        value(&text, "fim_check_baseline_timestamp_seconds"),
        Some(epoch(made["created"].as_str().unwrap())),
        "the new baseline's time"
    );
    assert_promtool_clean(&prom);

    // show checks nothing, so it refuses to write metrics.
    let out = run(sb.cmd("show").arg("--prom-file").arg(&prom));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(fs::read_to_string(&prom).unwrap(), text);
}

#[test]
fn a_failed_run_leaves_the_metrics_file_as_it_was() {
    let state = Tmpfs::new(4 << 20);
    let sb = Sandbox::with_state(tempfile::tempdir().unwrap(), state.path().join("state"));
    fs::write(sb.path("a"), "a").unwrap();
    sb.init();
    let prom = sb.dir.path().join("fim-check.prom");
    let out = run(sb.cmd("verify").arg("--prom-file").arg(&prom));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let before = fs::read(&prom).unwrap();
    std::thread::sleep(Duration::from_millis(1100)); // a new run would stamp a new second
    fs::write(sb.path("a"), "changed").unwrap();

    // The state directory is read-only: the differences are written, but
    // what is firing cannot be kept: exit 3, and no success to report.
    state.read_only(true);
    let out = run(sb.cmd("verify").arg("--prom-file").arg(&prom));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        records(&out.stdout)
            .iter()
            .any(|r| r["kind"] == "fim.changed"),
        "the records were written"
    );
    assert_eq!(fs::read(&prom).unwrap(), before, "exit 3 kept the file");
    state.read_only(false);

    // A baseline that fails its HMAC check: exit 2.
    let base = sb.state().join("fim.baseline");
    let mut bytes = fs::read(&base).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    fs::write(&base, bytes).unwrap();
    let out = run(sb.cmd("verify").arg("--prom-file").arg(&prom));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(fs::read(&prom).unwrap(), before, "exit 2 kept the file");
}

#[test]
fn an_unwritable_metrics_file_fails_the_run_after_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let (sb, _) = baseline(&dir.path().join("fim-check.prom"));
    fs::write(sb.path("a"), "changed").unwrap();
    let missing = dir.path().join("no/such/dir/fim-check.prom");
    let out = run(sb.cmd("verify").arg("--prom-file").arg(&missing));
    assert_eq!(
        out.status.code(),
        Some(2),
        "a path that cannot be is a usage error"
    );
    assert!(
        stderr(&out).contains("no/such/dir/fim-check.prom"),
        "{}",
        stderr(&out)
    );
    let recs = records(&out.stdout);
    assert!(recs.iter().any(|r| r["kind"] == "fim.changed"), "{recs:#?}");

    let full = Tmpfs::new(1 << 20);
    full.fill();
    let out = run(sb
        .cmd("verify")
        .arg("--prom-file")
        .arg(full.path().join("fim-check.prom")));
    assert_eq!(out.status.code(), Some(3), "a full disk fails the run");
    assert!(stderr(&out).contains("No space left"), "{}", stderr(&out));
    assert!(
        records(&out.stdout)
            .iter()
            .any(|r| r["kind"] == "fim.changed")
    );
}

/// The metrics file's text once `done` holds of it.
fn wait_text(prom: &Path, what: &str, done: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    let ok = wait_until(PATIENCE, || {
        text = fs::read_to_string(prom).unwrap_or_default();
        done(&text)
    });
    assert!(ok, "{what}: {text}");
    text
}

#[test]
fn watch_rewrites_the_metrics_after_each_check_and_outlives_a_failed_write() {
    let sb = Sandbox::new();
    fs::write(sb.path("a"), "a").unwrap();
    sb.init();
    let disk = Tmpfs::new(1 << 20);
    let prom = disk.path().join("fim-check.prom");
    let mut child = sb
        .cmd("watch")
        .args(["--settle", "100ms", "--prom-file"])
        .arg(&prom)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let recs = Arc::new(Mutex::new(Vec::<Value>::new()));
    let reader = {
        let recs = recs.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                recs.lock()
                    .unwrap()
                    .push(serde_json::from_str(&line.unwrap()).unwrap());
            }
        })
    };
    let saw = |kind: &str, path: &Path| {
        let want = path.to_str().unwrap().to_string();
        assert!(
            wait_until(PATIENCE, || recs
                .lock()
                .unwrap()
                .iter()
                .any(|r| r["kind"] == kind && r["path"] == want.as_str())),
            "no {kind} for {want}"
        );
    };

    // The first check: nothing changed.
    let text = wait_text(&prom, "the first check", |t| t.contains("last_success"));
    assert!(findings(&text, "fim_check_findings").is_empty(), "{text}");
    assert_eq!(value(&text, "fim_check_entries_checked"), Some(2.0));
    assert_promtool_clean(&prom);

    // A file appears: the check that reports it counts it; its removal
    // resolves it and the next file says so.
    let added = sb.path("new");
    fs::write(&added, "new").unwrap();
    saw("fim.added", &added);
    let added_key = ("fim.added".to_string(), "high".to_string());
    wait_text(&prom, "fim.added counted", |t| {
        findings(t, "fim_check_findings").contains_key(&added_key)
    });
    fs::remove_file(&added).unwrap();
    saw("fim.resolved", &added);
    let text = wait_text(&prom, "fim.added over", |t| {
        t.contains("last_success") && !findings(t, "fim_check_findings").contains_key(&added_key)
    });
    assert_promtool_clean(&prom);
    let held_now = held(&recs.lock().unwrap());
    assert_eq!(
        findings(&text, "fim_check_findings"),
        held_now,
        "what the records leave firing"
    );

    // The metrics disk fills: the watch goes on reporting, and the file
    // stays as the last check that could write it left it.
    disk.fill();
    let kept = fs::read(&prom).unwrap();
    fs::write(sb.path("a"), "changed").unwrap();
    saw("fim.changed", &sb.path("a"));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(fs::read(&prom).unwrap(), kept);

    // Space again: the next check writes it.
    disk.free();
    let stale = version(&prom);
    fs::write(sb.path("b"), "b").unwrap();
    saw("fim.added", &sb.path("b"));
    assert!(
        wait_until(PATIENCE, || version(&prom) != stale),
        "written again"
    );
    let text = fs::read_to_string(&prom).unwrap();
    assert_eq!(
        findings(&text, "fim_check_findings"),
        held(&recs.lock().unwrap()),
        "{text}"
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
        "a write failed during the watch: {said}"
    );
    assert!(said.contains("goes on"), "{said}");
    assert!(said.contains("not written)"), "{said}");
}
