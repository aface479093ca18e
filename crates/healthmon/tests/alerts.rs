//! healthmon's alerts across runs (docs/records.md, "Alerts"): health.alert
//! is firing and health.recovered resolves it under the same id; one-shot
//! runs with a state directory say what still holds on every run, and the
//! first run that finds it below its levels says it is over, once. Alerts
//! a run does not judge (a metric without a threshold in it, a mount
//! outside its --mount) are kept for the runs that do.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use secops_common::alert::alert_id;
use serde_json::Value;
use support::*;

/// One sample with alerts only, remembering them in `state`.
fn once(state: &Path, thresholds: &[&str]) -> (Option<i32>, Vec<Value>) {
    let out = run(healthmon_with_state(state)
        .args(["--once", "--format", "jsonl", "--alerts-only"])
        .args(thresholds));
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    (out.status.code(), records(&out.stdout))
}

fn ids(recs: &[Value], alert: &str) -> BTreeSet<String> {
    recs.iter()
        .filter(|r| r["alert"] == alert)
        .map(|r| r["alert_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_one_shot_run_recovers_what_an_earlier_run_raised() {
    let state = tempfile::tempdir().unwrap();
    let mem = alert_id("healthmon", &["mem"]);
    // Some memory is always in use: a 0.1% level is always crossed.
    let (code, first) = once(state.path(), &["--mem", "0.1"]);
    assert_eq!(code, Some(1));
    assert_eq!(first.len(), 1, "{first:#?}");
    let raised = &first[0];
    assert_eq!(
        (raised["kind"].as_str(), raised["alert"].as_str()),
        (Some("health.alert"), Some("firing"))
    );
    assert_eq!(raised["alert_id"], mem.as_str());

    // Still above: said again, the same alert, the same episode.
    let (code, again) = once(state.path(), &["--mem", "0.1"]);
    assert_eq!(code, Some(1));
    assert_eq!(again.len(), 1, "{again:#?}");
    assert_eq!(again[0]["alert"], "firing");
    assert_eq!(again[0]["alert_id"], mem.as_str());
    assert_eq!(
        (
            again[0]["level"].as_str(),
            again[0]["previous_level"].as_str()
        ),
        (Some("critical"), Some("critical"))
    );
    assert_eq!(again[0]["since"], raised["since"]);
    assert!(
        again[0]["message"]
            .as_str()
            .unwrap()
            .contains("still above"),
        "{}",
        again[0]
    );

    // Back below: one recovery of that alert, for the whole episode.
    let (code, over) = once(state.path(), &["--mem", "99.9"]);
    assert_eq!(code, Some(0));
    assert_eq!(over.len(), 1, "{over:#?}");
    let recovered = &over[0];
    assert_eq!(
        (recovered["kind"].as_str(), recovered["alert"].as_str()),
        (Some("health.recovered"), Some("resolved"))
    );
    assert_eq!(recovered["alert_id"], mem.as_str());
    assert_eq!(recovered["severity"], "info");
    assert_eq!(recovered["previous_level"], "critical");
    assert_eq!(recovered["since"], raised["since"]);
    assert_eq!(recovered["gone"], false);
    let (_, after) = once(state.path(), &["--mem", "99.9"]);
    assert!(after.is_empty(), "said once: {after:#?}");
}

#[test]
fn clear_counts_runs_when_each_run_takes_one_sample() {
    let state = tempfile::tempdir().unwrap();
    let (_, first) = once(state.path(), &["--mem", "0.1", "--clear", "2"]);
    assert_eq!(first[0]["alert"], "firing");
    // One run below of the two --clear asks for: it holds, and says why.
    let (code, held) = once(state.path(), &["--mem", "99.9", "--clear", "2"]);
    assert_eq!(code, Some(1), "still a critical alert");
    assert_eq!(held.len(), 1, "{held:#?}");
    assert_eq!(held[0]["alert"], "firing");
    assert!(
        held[0]["message"]
            .as_str()
            .unwrap()
            .contains("holds until 2 samples in a row are below it"),
        "{}",
        held[0]
    );
    let (_, over) = once(state.path(), &["--mem", "99.9", "--clear", "2"]);
    assert_eq!(over.len(), 1, "{over:#?}");
    assert_eq!(
        (over[0]["alert"].as_str(), over[0]["alert_id"].as_str()),
        (Some("resolved"), first[0]["alert_id"].as_str())
    );
}

#[test]
fn a_level_can_rise_and_fall_across_runs() {
    let state = tempfile::tempdir().unwrap();
    let (_, warned) = once(state.path(), &["--mem", "0.1,99.9"]);
    assert_eq!(warned[0]["level"], "warning");
    assert_eq!(warned[0]["severity"], "medium");
    let (_, raised) = once(state.path(), &["--mem", "0.05,0.1"]);
    assert_eq!(raised.len(), 1, "{raised:#?}");
    assert_eq!(
        (
            raised[0]["level"].as_str(),
            raised[0]["previous_level"].as_str()
        ),
        (Some("critical"), Some("warning"))
    );
    assert_eq!(raised[0]["alert_id"], warned[0]["alert_id"]);
    let (_, lowered) = once(state.path(), &["--mem", "0.1,99.9"]);
    assert_eq!(
        (
            lowered[0]["level"].as_str(),
            lowered[0]["previous_level"].as_str()
        ),
        (Some("warning"), Some("critical"))
    );
    assert_eq!(lowered[0]["alert"], "firing");
    let (_, over) = once(state.path(), &["--mem", "99.8,99.9"]);
    assert_eq!(over[0]["kind"], "health.recovered");
    assert_eq!(over[0]["previous_level"], "warning");
}

#[test]
fn alerts_a_run_does_not_judge_are_kept_for_one_that_does() {
    let state = tempfile::tempdir().unwrap();
    let (_, first) = once(state.path(), &["--mem", "0.1", "--disk", "0"]);
    let mounts: BTreeSet<String> = first
        .iter()
        .filter(|r| r["metric"] == "disk")
        .map(|r| r["mount"].as_str().unwrap().to_string())
        .collect();
    assert!(mounts.contains("/"), "{first:#?}");
    let raised = ids(&first, "firing");
    assert_eq!(raised.len(), mounts.len() + 1);

    // No memory threshold, and only /: nothing else ends.
    let (_, second) = once(state.path(), &["--disk", "99.9", "--mount", "/"]);
    assert_eq!(second.len(), 1, "{second:#?}");
    assert_eq!(
        (second[0]["kind"].as_str(), second[0]["mount"].as_str()),
        (Some("health.recovered"), Some("/"))
    );
    // The rest end when a run judges them.
    let (_, third) = once(state.path(), &["--mem", "99.9", "--disk", "99.9"]);
    let mut ended = ids(&second, "resolved");
    ended.extend(ids(&third, "resolved"));
    assert_eq!(ended, raised, "{third:#?}");
    assert!(ids(&third, "firing").is_empty(), "{third:#?}");
}

#[test]
fn a_loop_raises_once_restates_and_a_later_run_ends_it() {
    let state = tempfile::tempdir().unwrap();
    let out = run(healthmon_with_state(state.path()).args([
        "--interval",
        "100ms",
        "--count",
        "3",
        "--format",
        "jsonl",
        "--alerts-only",
        "--mem",
        "0.1",
    ]));
    let recs = records(&out.stdout);
    // Raised once, then written again at each sample while it holds.
    assert_eq!(recs.len(), 3, "every sample while it holds: {recs:#?}");
    assert_eq!(recs[0]["previous_level"], "ok", "{recs:#?}");
    for rec in &recs[1..] {
        assert_eq!(rec["alert_id"], recs[0]["alert_id"]);
        assert_eq!(rec["since"], recs[0]["since"], "the same alert: {recs:#?}");
        assert_eq!(
            rec["previous_level"], rec["level"],
            "a restatement: {recs:#?}"
        );
    }
    let (_, over) = once(state.path(), &["--mem", "99.9"]);
    assert_eq!(over.len(), 1, "{over:#?}");
    assert_eq!(over[0]["alert_id"], recs[0]["alert_id"]);
    assert_eq!(over[0]["alert"], "resolved");

    let out = run(healthmon_with_state(state.path()).args(["--once", "--no-state"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
