//! fim-check's alerts (docs/records.md, "Alerts"): a difference is firing,
//! one alert per path, written by every verify while it holds; the run
//! after it ends writes one `fim.resolved`, whether the path was restored
//! or accepted by update; alerts are remembered per baseline. And the
//! defects that silenced alerts: a file time before 1970 or after 9999.

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use secops_common::alert::alert_id;
use serde_json::Value;
use support::{Sandbox, record_for, records, run, sh, stderr};

fn path_id(path: &Path) -> String {
    alert_id("fim-check", &["path", path.to_str().unwrap()])
}

fn kinds(recs: &[Value]) -> Vec<&str> {
    recs.iter().map(|r| r["kind"].as_str().unwrap()).collect()
}

/// A sandbox whose baseline watches content only, so a file written back
/// as it was is as the baseline records it (under `full`, its inode and
/// ctime would still differ).
fn content_sandbox(files: &[(&str, &str)]) -> Sandbox {
    let sb = Sandbox::new();
    for (name, content) in files {
        fs::write(sb.path(name), content).unwrap();
    }
    let policy = sb.dir.path().join("policy.yaml");
    fs::write(
        &policy,
        format!(
            "paths:\n  - path: {}\n    attributes: content\n",
            sb.tree().display()
        ),
    )
    .unwrap();
    let out = run(sb.cmd("init").arg("--policy").arg(&policy));
    assert_eq!(out.status.code(), Some(0), "init: {}", stderr(&out));
    sb
}

#[test]
fn a_difference_fires_on_every_run_and_resolves_once_when_restored() {
    let sb = content_sandbox(&[("f", "original\n"), ("g", "other\n")]);
    let (code, recs) = sb.verify();
    assert_eq!((code, recs.len()), (Some(0), 0), "{recs:#?}");

    fs::write(sb.path("f"), "tampered\n").unwrap();
    let id = path_id(&sb.path("f"));
    for run in 0..2 {
        let (code, recs) = sb.verify();
        assert_eq!(code, Some(1), "run {run}");
        assert_eq!(kinds(&recs), ["fim.changed"], "run {run}: {recs:#?}");
        assert_eq!(recs[0]["alert"], "firing");
        assert_eq!(recs[0]["alert_id"], id.as_str());
    }

    // A change, then a removal: the same alert, now saying removed.
    fs::remove_file(sb.path("f")).unwrap();
    let (_, recs) = sb.verify();
    let removed = record_for(&recs, "fim.removed", &sb.path("f"));
    assert_eq!(
        (removed["alert"].as_str(), removed["alert_id"].as_str()),
        (Some("firing"), Some(id.as_str()))
    );

    // Put back as it was: the alert ends, once.
    fs::write(sb.path("f"), "original\n").unwrap();
    let (code, recs) = sb.verify();
    assert_eq!(code, Some(0), "{recs:#?}");
    assert_eq!(kinds(&recs), ["fim.resolved"], "{recs:#?}");
    let resolved = &recs[0];
    assert_eq!(resolved["alert"], "resolved");
    assert_eq!(resolved["alert_id"], id.as_str());
    assert_eq!(resolved["severity"], "info");
    assert_eq!(resolved["path"], sb.path("f").to_str().unwrap());
    assert_eq!(resolved["was"], "fim.removed");
    assert_eq!(resolved["reason"], "restored");
    let (code, recs) = sb.verify();
    assert_eq!((code, recs.len()), (Some(0), 0), "said once: {recs:#?}");
}

#[test]
fn update_ends_every_alert_it_accepts() {
    let sb = Sandbox::new();
    fs::write(sb.path("f"), "one\n").unwrap();
    fs::write(sb.path("doomed"), "two\n").unwrap();
    sb.init();
    // One alert raised by a verify, then more that no verify saw.
    fs::write(sb.path("f"), "changed\n").unwrap();
    let (_, recs) = sb.verify();
    assert_eq!(kinds(&recs), ["fim.changed"], "{recs:#?}");
    fs::write(sb.path("new"), "three\n").unwrap();
    fs::remove_file(sb.path("doomed")).unwrap();

    let out = run(&mut sb.cmd("update"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recs = records(&out.stdout);
    let ids = |alert: &str| -> BTreeSet<String> {
        recs.iter()
            .filter(|r| r["alert"] == alert)
            .map(|r| r["alert_id"].as_str().unwrap().to_string())
            .collect()
    };
    let firing = ids("firing");
    // f, new, doomed and the tree itself (a name added and one removed).
    assert_eq!(firing.len(), 4, "{recs:#?}");
    assert_eq!(
        ids("resolved"),
        firing,
        "each accepted alert ends: {recs:#?}"
    );
    let resolved: Vec<&Value> = recs.iter().filter(|r| r["alert"] == "resolved").collect();
    assert_eq!(resolved.len(), 4, "once each: {recs:#?}");
    assert!(
        resolved
            .iter()
            .all(|r| r["reason"] == "accepted" && r["kind"] == "fim.resolved")
    );
    assert!(resolved.iter().any(|r| r["was"] == "fim.removed"));
    assert_eq!(recs.last().unwrap()["kind"], "fim.baseline", "{recs:#?}");

    let (code, recs) = sb.verify();
    assert_eq!((code, recs.len()), (Some(0), 0), "{recs:#?}");
}

#[test]
fn alerts_are_remembered_per_baseline() {
    let sb = Sandbox::new();
    fs::write(sb.path("f"), "x").unwrap();
    sb.init();
    let other_tree = sb.dir.path().join("other");
    fs::create_dir(&other_tree).unwrap();
    fs::write(other_tree.join("o"), "o").unwrap();
    let other = sb.dir.path().join("other.baseline");
    let with_other = |sub: &str| {
        let mut cmd = sb.cmd(sub);
        cmd.arg("--baseline").arg(&other);
        cmd
    };
    let out = run(with_other("init").arg(&other_tree));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    fs::write(sb.path("f"), "y").unwrap();
    let (_, recs) = sb.verify();
    assert_eq!(kinds(&recs), ["fim.changed"]);
    // The other baseline knows nothing of f: it must not end its alert.
    let out = run(&mut with_other("verify"));
    assert_eq!(
        (out.status.code(), records(&out.stdout).len()),
        (Some(0), 0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (_, recs) = sb.verify();
    assert_eq!(kinds(&recs), ["fim.changed"], "still firing: {recs:#?}");
    let memory = fs::read_to_string(sb.state().join("fim-check.last-run.json")).unwrap();
    assert!(memory.starts_with(r#"{"version":1,"#), "{memory}");
}

#[test]
fn file_times_before_1970_are_reported_not_fatal() {
    let sb = Sandbox::new();
    for name in ["old", "later", "recent"] {
        fs::write(sb.path(name), name).unwrap();
    }
    // In the baseline already: show and verify must read it back.
    sh(&format!("touch -d @-1 '{}'", sb.path("old").display()));
    sb.init();
    let out = run(&mut sb.cmd("show"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recs = records(&out.stdout);
    let old = record_for(&recs, "fim.entry", &sb.path("old"));
    assert_eq!(old["mtime"], "1969-12-31T23:59:59.000000000Z");

    // And changed to another such time, with a later change in the walk
    // that must still be reported.
    sh(&format!(
        "touch -d '@-86400.25' '{}'",
        sb.path("recent").display()
    ));
    fs::write(sb.path("later"), "changed").unwrap();
    let (code, recs) = sb.verify();
    assert_eq!(code, Some(1), "{recs:#?}");
    let recent = record_for(&recs, "fim.changed", &sb.path("recent"));
    assert_eq!(recent["new_mtime"], "1969-12-30T23:59:59.750000000Z");
    record_for(&recs, "fim.changed", &sb.path("later"));
}

#[test]
fn file_times_after_year_9999_are_reported_not_fatal() {
    // ext4 keeps times up to 2446; tmpfs keeps any 64-bit time.
    let Ok(dir) = tempfile::tempdir_in("/dev/shm") else {
        eprintln!("no /dev/shm: only the formatting is tested (entry.rs)");
        return;
    };
    let tree = dir.path().join("tree");
    fs::create_dir(&tree).unwrap();
    let file = tree.join("future");
    fs::write(&file, "x").unwrap();
    let state = dir.path().join("state");
    let fim = |sub: &str| {
        let mut cmd = support::fim_check();
        cmd.arg(sub)
            .arg("--state-dir")
            .arg(&state)
            .args(["--format", "jsonl"]);
        cmd
    };
    let out = run(fim("init").arg(&tree));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    sh(&format!("touch -d @253402300800 '{}'", file.display()));
    let out = run(&mut fim("verify"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let recs = records(&out.stdout);
    let rec = record_for(&recs, "fim.changed", &file);
    let year = fs::metadata(&file).map(|m| {
        use std::os::unix::fs::MetadataExt;
        m.mtime()
    });
    if year.is_ok_and(|t| t == 253_402_300_800) {
        assert_eq!(rec["new_mtime"], "+10000-01-01T00:00:00.000000000Z");
    }
    let out = run(&mut fim("update"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(&mut fim("show"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
