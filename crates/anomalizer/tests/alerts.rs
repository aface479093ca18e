//! The alert contract (docs/records.md, "Alerts"): findings fire under ids
//! made of what they are about, observations never page, and a silence
//! resolves when its template logs again, within the input or in a later
//! run through the state directory.

mod support;

use secops_testkit::heartbeat_log;
use serde_json::Value;
use support::{StdinBytes, anomalizer, bin, by_detector, records, run, run_records, stderr};

/// `n` requests a minute from 10:00, with one odd line among them after
/// `before` other lines of another template.
fn requests_with_an_odd_line(before: usize) -> String {
    let mut log = String::new();
    for i in 0..before {
        log += &format!(
            "2026-11-21T09:{:02}:00Z cache warmed for shard {i}\n",
            i % 60
        );
    }
    for i in 0..300 {
        log += &format!("2026-11-21T10:{:02}:00Z request served in {i}ms\n", i % 60);
    }
    log += "2026-11-21T10:59:30Z kernel: disk sda1 remounted read-only\n";
    log
}

fn one<'r>(recs: &'r [Value], detector: &str) -> &'r Value {
    let found = by_detector(recs, detector);
    assert_eq!(found.len(), 1, "{recs:#?}");
    found[0]
}

#[test]
fn findings_fire_under_ids_made_of_what_they_are_about() {
    let recs = run_records(
        anomalizer()
            .args(["--format", "jsonl"])
            .stdin_bytes(requests_with_an_odd_line(0)),
    );
    let rare = one(&recs, "rare_template");
    assert_eq!(rare["alert"], "firing");
    let id = rare["alert_id"].as_str().unwrap();
    assert!(id.starts_with("anomalizer:") && id.len() == 11 + 32, "{id}");
    let summary = recs.last().unwrap();
    assert_eq!(summary["kind"], "log.summary");
    assert_eq!(summary["alert"], "none");
    assert!(summary.get("alert_id").is_none());

    // Other lines first: the template's id in the run changes, its alert
    // does not.
    let again = run_records(
        anomalizer()
            .args(["--format", "jsonl"])
            .stdin_bytes(requests_with_an_odd_line(50)),
    );
    let rare_again = one(&again, "rare_template");
    assert_ne!(rare_again["template_id"], rare["template_id"]);
    assert_eq!(rare_again["alert_id"], rare["alert_id"]);

    // A line's template is an observation.
    let parsed = run_records(
        bin()
            .args(["parse", "--format", "jsonl"])
            .stdin_bytes("a line\n"),
    );
    assert_eq!(parsed[0]["kind"], "log.parsed");
    assert_eq!(parsed[0]["alert"], "none");
}

#[test]
fn a_silence_fires_while_it_lasts_and_ends_within_the_input() {
    // The heartbeat stops at 11:29 while requests go on to 11:59.
    let quiet = run_records(
        anomalizer()
            .args(["--format", "jsonl"])
            .stdin_bytes(heartbeat_log(0, 120, 90)),
    );
    let firing = one(&quiet, "silence");
    assert_eq!(
        (&firing["alert"], &firing["severity"], &firing["ongoing"]),
        (&"firing".into(), &"medium".into(), &true.into())
    );

    // The same input and the next half hour, with the heartbeat back: the
    // silence is over, and its record ends the alert it raised.
    let log = heartbeat_log(0, 120, 90) + &heartbeat_log(120, 30, 30);
    let back = run_records(anomalizer().args(["--format", "jsonl"]).stdin_bytes(log));
    let ended = one(&back, "silence");
    assert_eq!(ended["ongoing"], false);
    assert_eq!(ended["alert"], "resolved");
    assert_eq!(ended["severity"], "info");
    assert_eq!(ended["alert_id"], firing["alert_id"]);
}

#[test]
fn a_silence_an_earlier_run_reported_resolves_in_the_run_that_sees_it_back() {
    let state = tempfile::tempdir().unwrap();
    let hour = |log: String| {
        let out = run(bin()
            .arg("--state-dir")
            .arg(state.path())
            .args(["--format", "jsonl"])
            .stdin_bytes(log));
        assert!(out.status.success(), "{}", stderr(&out));
        records(&out.stdout)
    };
    // Each run reads only what is new, as `journalctl --since -1h` does.
    let first = hour(heartbeat_log(0, 120, 90));
    let firing = one(&first, "silence");
    assert_eq!(firing["alert"], "firing");
    assert!(state.path().join("anomalizer.last-run.json").is_file());

    // Requests only: the heartbeat is still quiet, and this run cannot
    // see its silence at all: nothing is said.
    let still = hour(heartbeat_log(120, 30, 0));
    assert!(by_detector(&still, "silence").is_empty(), "{still:#?}");

    // The heartbeat is back: the earlier alert ends, once.
    let back = hour(heartbeat_log(150, 30, 30));
    let ended = one(&back, "silence");
    assert_eq!(ended["alert"], "resolved");
    assert_eq!(ended["alert_id"], firing["alert_id"]);
    assert_eq!(ended["severity"], "info");
    assert_eq!(ended["template"], "heartbeat ok seq=<*>");
    assert_eq!(ended["silent_from"], "2026-11-21T11:29:05Z");
    assert_eq!(ended["last_time"], "2026-11-21T12:59:05Z");
    assert!(
        ended["message"]
            .as_str()
            .unwrap()
            .starts_with("Silence over: \"heartbeat ok seq=<*>\" logged again in -"),
        "{ended:#?}"
    );
    let later = hour(heartbeat_log(180, 30, 30));
    assert!(by_detector(&later, "silence").is_empty(), "{later:#?}");
}

#[test]
fn without_state_a_later_run_says_nothing_of_an_earlier_silence() {
    let state = tempfile::tempdir().unwrap();
    let out = run(bin()
        .arg("--state-dir")
        .arg(state.path())
        .arg("--no-state")
        .stdin_bytes("x\n"));
    assert_eq!(out.status.code(), Some(2), "the two conflict");

    run_records(
        anomalizer()
            .args(["--format", "jsonl"])
            .stdin_bytes(heartbeat_log(0, 120, 90)),
    );
    let back = run_records(
        anomalizer()
            .args(["--format", "jsonl"])
            .stdin_bytes(heartbeat_log(150, 30, 30)),
    );
    assert!(by_detector(&back, "silence").is_empty(), "{back:#?}");
}
