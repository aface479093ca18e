//! anomalizer's alerts through the real secops-notify, run as cron runs
//! them: a rare line pages once and is not repeated by later runs that
//! still see it (its alert is named by its template's text, not by the
//! run's template numbering), and a heartbeat's silence pages once and is
//! resolved once by the run that sees the heartbeat again, although that
//! run no longer sees the silence (the state directory remembers it).
//!
//! Plain rarity is `medium`, so secops-notify is run with
//! `--min-severity medium`, as docs/anomalizer.md shows; with its default
//! (`high`) it pages what the lines say is trouble, and only that.

use std::path::Path;

use secops_pipeline_tests::{Sent, notify, still_firing, tool};
use secops_testkit::heartbeat_log;
use serde_json::Value;

/// `anomalizer | secops-notify --min-severity medium`, each with its state
/// directory under `dir`.
fn run(dir: &Path, log: &str) -> Sent {
    run_with(dir, log, &["--min-severity", "medium"])
}

/// `anomalizer | secops-notify NOTIFY_FLAGS...`.
fn run_with(dir: &Path, log: &str, notify_flags: &[&str]) -> Sent {
    let input = dir.join("input.log");
    std::fs::write(&input, log).unwrap();
    let out = tool("anomalizer")
        .args(["--format", "jsonl", "--state-dir"])
        .arg(dir.join("anomalizer"))
        .arg("--log")
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "anomalizer: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    notify(&out.stdout, &dir.join("notify"), notify_flags)
}

/// The firing and resolved records sent about `template` by `detector`.
fn about<'s>(sent: &'s Sent, detector: &str, template: &str) -> (Vec<&'s Value>, Vec<&'s Value>) {
    let ours = |r: &&Value| {
        r["tool"] == "anomalizer" && r["detector"] == detector && r["template"] == template
    };
    let firing = sent.messages.iter().flat_map(|m| &m.firing);
    let resolved = sent.messages.iter().flat_map(|m| &m.resolved);
    (
        firing.filter(ours).collect(),
        resolved.filter(ours).collect(),
    )
}

/// How many alerts secops-notify holds firing under `id`.
fn held(dir: &Path, id: &str) -> usize {
    still_firing(&dir.join("notify"))
        .iter()
        .filter(|key| key.contains(id))
        .count()
}

/// 300 requests, after `before` lines of another kind, and one odd line.
fn requests_and_a_rare_line(before: usize) -> String {
    let mut log = String::new();
    for i in 0..before {
        log += &format!("cache warmed for shard {i}\n");
    }
    for i in 0..300 {
        log += &format!("request served in {i}ms\n");
    }
    log + "kernel: disk sda1 remounted read-only\n"
}

#[test]
fn a_rare_line_pages_once_and_later_runs_that_see_it_do_not_repeat_it() {
    let dir = tempfile::tempdir().unwrap();
    let rare = "kernel: disk sda1 remounted read-only";

    let first = run(dir.path(), &requests_and_a_rare_line(0));
    let (firing, resolved) = about(&first, "rare_template", rare);
    assert_eq!(firing.len(), 1, "one page for the rare line: {first:#?}");
    assert!(resolved.is_empty(), "{first:#?}");
    assert_eq!(firing[0]["alert"], "firing");
    let id = firing[0]["alert_id"].as_str().unwrap().to_string();
    assert_eq!(held(dir.path(), &id), 1);

    // The next run reads the log again, grown by lines of another kind
    // before it: the template's number changes, its alert does not.
    let second = run(dir.path(), &requests_and_a_rare_line(40));
    let (firing, resolved) = about(&second, "rare_template", rare);
    assert!(
        firing.is_empty() && resolved.is_empty(),
        "no repeat: {second:#?}"
    );
    assert_eq!(held(dir.path(), &id), 1, "still held firing, not ended");
}

#[test]
fn a_silence_pages_once_and_resolves_once_in_the_run_that_sees_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let beat = "heartbeat ok seq=<*>";

    // Each run reads what is new since the last, as the shipped timer's
    // `journalctl --since -1h` does. The heartbeat stops at 11:29.
    let first = run(dir.path(), &heartbeat_log(0, 120, 90));
    let (firing, resolved) = about(&first, "silence", beat);
    assert_eq!(firing.len(), 1, "one page for the silence: {first:#?}");
    assert!(resolved.is_empty(), "{first:#?}");
    let id = firing[0]["alert_id"].as_str().unwrap().to_string();
    assert_eq!(held(dir.path(), &id), 1);

    // Still quiet: the run sees no heartbeat and says nothing of it.
    let second = run(dir.path(), &heartbeat_log(120, 30, 0));
    let (firing, resolved) = about(&second, "silence", beat);
    assert!(firing.is_empty() && resolved.is_empty(), "{second:#?}");
    assert_eq!(held(dir.path(), &id), 1);

    // Back: one resolution, of that alert.
    let third = run(dir.path(), &heartbeat_log(150, 30, 30));
    let (firing, resolved) = about(&third, "silence", beat);
    assert!(firing.is_empty(), "{third:#?}");
    assert_eq!(resolved.len(), 1, "one resolution: {third:#?}");
    assert_eq!(resolved[0]["alert"], "resolved");
    assert_eq!(resolved[0]["alert_id"], id.as_str());
    assert_eq!(resolved[0]["severity"], "info");
    assert_eq!(
        held(dir.path(), &id),
        0,
        "secops-notify no longer holds it firing: {:?}",
        still_firing(&dir.path().join("notify"))
    );

    let fourth = run(dir.path(), &heartbeat_log(180, 30, 30));
    let (firing, resolved) = about(&fourth, "silence", beat);
    assert!(firing.is_empty() && resolved.is_empty(), "{fourth:#?}");
}

#[test]
fn with_notify_s_default_severity_trouble_pages_and_plain_rarity_does_not() {
    let severe = "kernel: disk sda1 remounted read-only";
    let plain = "config reloaded by the operator";
    let log = requests_and_a_rare_line(0) + plain + "\n";
    let sent_about = |sent: &Sent, template: &str| {
        let (firing, _) = about(sent, "rare_template", template);
        firing
            .iter()
            .map(|r| r["severity"].clone())
            .collect::<Vec<_>>()
    };

    let dir = tempfile::tempdir().unwrap();
    let default = run_with(dir.path(), &log, &[]);
    assert_eq!(sent_about(&default, severe), ["critical"], "{default:#?}");
    assert!(sent_about(&default, plain).is_empty(), "{default:#?}");

    let dir = tempfile::tempdir().unwrap();
    let medium = run(dir.path(), &log);
    assert_eq!(sent_about(&medium, severe), ["critical"], "{medium:#?}");
    assert_eq!(sent_about(&medium, plain), ["medium"], "{medium:#?}");
}
