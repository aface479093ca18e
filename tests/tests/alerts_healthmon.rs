//! healthmon's alerts through the real secops-notify, one-shot runs from
//! cron with a state directory as the shipped cron line runs them: a
//! memory threshold crossed pages once, the next run while it holds does
//! not page again, and the first run that finds memory back below its
//! level sends one recovery, leaving nothing firing.

use std::path::Path;

use secops_pipeline_tests::{Sent, notify, still_firing, tool};

/// One healthmon sample judged against `mem` (WARN,CRIT), remembering
/// alerts in `state`, piped into secops-notify (state `notify_state`).
fn sample_into_notify(state: &Path, notify_state: &Path, mem: &str) -> Sent {
    let out = tool("healthmon")
        .arg("--state-dir")
        .arg(state)
        .args(["--once", "--format", "jsonl", "--top", "0", "--mem", mem])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{err}");
    notify(&out.stdout, notify_state, &["--min-severity", "medium"])
}

#[test]
fn a_memory_warning_pages_once_and_its_recovery_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("healthmon");
    let notify_state = dir.path().join("notify");
    std::fs::create_dir(&notify_state).unwrap();

    // Some memory is always in use: a warning at 1% is always crossed.
    let sent = sample_into_notify(&state, &notify_state, "1,99.9");
    assert_eq!(
        (sent.messages.len(), sent.firing(), sent.resolved()),
        (1, 1, 0),
        "{sent:#?}"
    );
    let alert = &sent.messages[0].firing[0];
    assert_eq!(
        (alert["kind"].as_str(), alert["metric"].as_str()),
        (Some("health.alert"), Some("mem"))
    );
    assert_eq!(still_firing(&notify_state).len(), 1);

    // Still above: no second page.
    let sent = sample_into_notify(&state, &notify_state, "1,99.9");
    assert!(sent.messages.is_empty(), "no repeat: {sent:#?}");

    // The level raised above the figure: one recovery.
    let sent = sample_into_notify(&state, &notify_state, "99.8,99.9");
    assert_eq!((sent.firing(), sent.resolved()), (0, 1), "{sent:#?}");
    assert_eq!(sent.messages[0].resolved[0]["kind"], "health.recovered");
    assert!(still_firing(&notify_state).is_empty());
    let sent = sample_into_notify(&state, &notify_state, "99.8,99.9");
    assert!(sent.messages.is_empty(), "{sent:#?}");
}
