//! The alert contract from outside the workspace: a tool secops-notify and
//! secops-report have never heard of, a few lines of shell printing records
//! with `alert` and `alert_id`, is deduplicated, resolved and reported with
//! no code change; records without the contract still page by severity.

use std::process::Command;

use secops_pipeline_tests::{notify, still_firing, tool};
use serde_json::Value;

/// Runs a shell script and returns its stdout: the "tool".
fn shell(script: &str) -> Vec<u8> {
    let out = Command::new("sh").args(["-c", script]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A backup-age checker that is not part of this workspace.
fn backup_age(stage: &str, severity: &str, days: u32) -> Vec<u8> {
    shell(&format!(
        r#"printf '{{"ts":"2026-12-07T03:00:00Z","host":"db1","tool":"backup-age","kind":"backup.stale","severity":"{severity}","message":"the last backup of /srv is {days} days old","alert":"{stage}","alert_id":"backup-age:/srv"}}\n'
           printf '{{"ts":"2026-12-07T03:00:00Z","host":"db1","tool":"backup-age","kind":"backup.size","severity":"critical","message":"/srv holds 9 GiB","alert":"none"}}\n'"#
    ))
}

#[test]
fn a_tool_from_outside_is_deduplicated_and_resolved() {
    let state = tempfile::tempdir().unwrap();
    let sent = notify(&backup_age("firing", "high", 3), state.path(), &[]);
    assert_eq!(sent.messages.len(), 1, "{sent:?}");
    assert_eq!((sent.firing(), sent.resolved()), (1, 0));
    assert_eq!(sent.messages[0].firing[0]["kind"], "backup.stale");
    assert_eq!(still_firing(state.path()).len(), 1);

    // The next run says the same with other words: the same alert, not
    // repeated within the repeat interval; the critical observation beside
    // it never pages.
    let sent = notify(&backup_age("firing", "high", 4), state.path(), &[]);
    assert!(sent.messages.is_empty(), "{sent:?}");

    let sent = notify(&backup_age("resolved", "info", 0), state.path(), &[]);
    assert_eq!((sent.firing(), sent.resolved()), (0, 1), "{sent:?}");
    assert!(sent.messages[0].subject.contains("RESOLVED"), "{sent:?}");
    assert!(still_firing(state.path()).is_empty());

    // Said again: nothing more.
    let sent = notify(&backup_age("resolved", "info", 0), state.path(), &[]);
    assert!(sent.messages.is_empty(), "{sent:?}");
}

#[test]
fn records_without_the_contract_still_page_by_severity() {
    let state = tempfile::tempdir().unwrap();
    let old = shell(
        r#"printf '{"ts":"t","host":"h","tool":"old","kind":"k","severity":"high","message":"one"}\n{"ts":"t","host":"h","tool":"old","kind":"k","severity":"low","message":"two"}\n'"#,
    );
    let sent = notify(&old, state.path(), &[]);
    assert_eq!((sent.firing(), sent.resolved()), (1, 0), "{sent:?}");
    assert_eq!(sent.messages[0].firing[0]["message"], "one");
    // Deduplicated by host, kind and message.
    assert!(notify(&old, state.path(), &[]).messages.is_empty());
}

#[test]
fn a_firing_record_without_its_id_is_rejected_with_its_line() {
    let bad = shell(
        r#"printf '{"ts":"t","host":"h","tool":"x","kind":"k","severity":"high","message":"m","alert":"firing"}\n'"#,
    );
    let state = tempfile::tempdir().unwrap();
    let out = secops_testkit::run_with_stdin(
        tool("secops-notify")
            .arg("--state-dir")
            .arg(state.path())
            .args(["--exec", "cat >/dev/null", "--format", "jsonl"]),
        &bad,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(":1:"), "names the line: {stderr}");
    assert!(stderr.contains("alert_id"), "names the field: {stderr}");
}

#[test]
fn secops_report_open_shows_what_is_still_firing() {
    let log = [
        backup_age("firing", "high", 3),
        shell(
            r#"printf '{"ts":"t","host":"db1","tool":"disk","kind":"d","severity":"critical","message":"/var full","alert":"firing","alert_id":"disk:/var"}\n'"#,
        ),
        backup_age("firing", "critical", 5),
        shell(
            r#"printf '{"ts":"t","host":"db1","tool":"disk","kind":"d","severity":"info","message":"/var fine","alert":"resolved","alert_id":"disk:/var"}\n'"#,
        ),
    ]
    .concat();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("central.jsonl");
    std::fs::write(&path, &log).unwrap();
    let out = tool("secops-report")
        .args(["--open", "--format", "jsonl"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a critical alert is open");
    let open: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["message"], "the last backup of /srv is 5 days old");

    let out = tool("secops-report")
        .args(["--alert", "resolved", "--format", "jsonl"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("/var fine"));
}

#[test]
fn a_tool_that_cannot_run_pages_through_the_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("ports.json");
    std::fs::write(&list, "{\"ports\": [{\"port\": -1}]}").unwrap();
    let out = tool("traffic-cop")
        .args(["--no-state", "--whitelist"])
        .arg(&list)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let state = dir.path().join("notify");
    std::fs::create_dir(&state).unwrap();
    let sent = notify(&out.stdout, &state, &[]);
    assert_eq!((sent.firing(), sent.resolved()), (1, 0), "{sent:?}");
    let alert = &sent.messages[0].firing[0];
    assert_eq!(alert["kind"], "run.failed");
    assert!(
        alert["message"].as_str().unwrap().contains("is not a port"),
        "{alert}"
    );
    // The next cron run fails the same way: no repeat.
    assert!(notify(&out.stdout, &state, &[]).messages.is_empty());
}
