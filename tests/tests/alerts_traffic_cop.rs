//! traffic-cop's alerts through the real secops-notify: a listener that is
//! not on the whitelist pages once, is not repeated while it stays, and is
//! resolved once when it closes, across cron runs (the state directory)
//! and within an `--interval` loop.
//!
//! Other listeners of the machine (and of tests running beside these) may
//! alert too: every check looks at this test's own port only.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;

use secops_pipeline_tests::{Sent, notify, still_firing, tool};
use serde_json::Value;

/// A whitelist that approves nothing: every listener is `unknown`.
fn empty_whitelist(dir: &Path) -> String {
    let path = dir.join("ports.json");
    std::fs::write(&path, r#"{"ports": []}"#).unwrap();
    path.to_str().unwrap().to_string()
}

/// The firing and resolved records secops-notify sent about `port`.
fn about(sent: &Sent, port: u16) -> (Vec<&Value>, Vec<&Value>) {
    let ours = |r: &&Value| r["tool"] == "traffic-cop" && r["port"] == port;
    let firing = sent.messages.iter().flat_map(|m| &m.firing);
    let resolved = sent.messages.iter().flat_map(|m| &m.resolved);
    (
        firing.filter(ours).collect(),
        resolved.filter(ours).collect(),
    )
}

/// The ids secops-notify still holds as firing that are `id`.
fn still(state: &Path, id: &str) -> Vec<String> {
    still_firing(state)
        .into_iter()
        .filter(|key| key.contains(id))
        .collect()
}

#[test]
fn cron_runs_page_once_and_resolve_once_when_the_listener_closes() {
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let list = empty_whitelist(dir.path());
    let cop_state = dir.path().join("cop");
    let notify_state = dir.path().join("notify");
    // traffic-cop | secops-notify, as cron/secops.cron runs it.
    let run = || {
        let out = tool("traffic-cop")
            .args(["-w", &list, "--format", "jsonl", "--state-dir"])
            .arg(&cop_state)
            .output()
            .unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "traffic-cop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        notify(&out.stdout, &notify_state, &[])
    };

    let first = run();
    let (firing, resolved) = about(&first, port);
    assert_eq!(firing.len(), 1, "one page for the listener: {first:#?}");
    assert!(resolved.is_empty(), "{first:#?}");
    assert_eq!(firing[0]["kind"], "port");
    assert_eq!(firing[0]["alert"], "firing");
    assert_eq!(firing[0]["status"], "unknown");
    let id = firing[0]["alert_id"].as_str().unwrap().to_string();
    assert_eq!(still(&notify_state, &id).len(), 1);

    let second = run();
    let (firing, resolved) = about(&second, port);
    assert!(
        firing.is_empty() && resolved.is_empty(),
        "no repeat while it stays: {second:#?}"
    );

    drop(listener);
    let third = run();
    let (firing, resolved) = about(&third, port);
    assert!(firing.is_empty(), "{third:#?}");
    assert_eq!(resolved.len(), 1, "one resolution: {third:#?}");
    assert_eq!(resolved[0]["kind"], "port.closed");
    assert_eq!(resolved[0]["alert"], "resolved");
    assert_eq!(resolved[0]["alert_id"], id.as_str());
    assert_eq!(resolved[0]["severity"], "info");
    assert!(
        still(&notify_state, &id).is_empty(),
        "secops-notify no longer holds it firing: {:?}",
        still_firing(&notify_state)
    );

    let fourth = run();
    let (firing, resolved) = about(&fourth, port);
    assert!(firing.is_empty() && resolved.is_empty(), "{fourth:#?}");
}

#[test]
fn an_interval_loop_resolves_a_listener_closed_between_passes() {
    let dir = tempfile::tempdir().unwrap();
    let list = empty_whitelist(dir.path());
    let cop_state = dir.path().join("cop");
    let notify_state = dir.path().join("notify");
    let mut child = tool("traffic-cop")
        .args(["-w", &list, "--format", "jsonl", "--interval", "200ms"])
        .args(["--count", "25", "--state-dir"])
        .arg(&cop_state)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || {
        lines.next().map(|line| {
            let line = line.unwrap();
            let rec: Value = serde_json::from_str(&line).unwrap();
            (line, rec)
        })
    };
    // The first pass is written after its scan: a listener opened once its
    // first record is out is new to the second pass.
    let mut before_close = String::new();
    let (line, _) = next().expect("a first pass");
    before_close.push_str(&line);
    before_close.push('\n');
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut opened = false;
    while let Some((line, rec)) = next() {
        before_close.push_str(&line);
        before_close.push('\n');
        if rec["kind"] == "port.opened" && rec["port"] == port {
            opened = true;
            break;
        }
    }
    assert!(opened, "a later pass reports the listener opened");
    drop(listener);
    let mut after_close = String::new();
    while let Some((line, _)) = next() {
        after_close.push_str(&line);
        after_close.push('\n');
    }
    let status = child.wait().unwrap();
    assert!(matches!(status.code(), Some(0 | 1)), "{status:?}");

    // secops-notify reading the loop's records as they come: what the
    // passes wrote until the listener closed, then the rest.
    let opened = notify(before_close.as_bytes(), &notify_state, &[]);
    let (firing, resolved) = about(&opened, port);
    assert_eq!(firing.len(), 1, "{opened:#?}");
    assert!(resolved.is_empty(), "{opened:#?}");
    assert_eq!(firing[0]["kind"], "port.opened");
    let id = firing[0]["alert_id"].as_str().unwrap().to_string();
    assert_eq!(still(&notify_state, &id).len(), 1);

    let closed = notify(after_close.as_bytes(), &notify_state, &[]);
    let (firing, resolved) = about(&closed, port);
    assert!(firing.is_empty(), "{closed:#?}");
    assert_eq!(resolved.len(), 1, "{closed:#?}");
    assert_eq!(resolved[0]["kind"], "port.closed");
    assert_eq!(resolved[0]["alert_id"], id.as_str());
    assert!(still(&notify_state, &id).is_empty());

    // The loop kept its state: a cron run after it has nothing more to say
    // about the listener.
    let out = tool("traffic-cop")
        .args(["-w", &list, "--format", "jsonl", "--state-dir"])
        .arg(&cop_state)
        .output()
        .unwrap();
    let after = String::from_utf8(out.stdout).unwrap();
    assert!(
        after.lines().all(|l| {
            let rec: Value = serde_json::from_str(l).unwrap();
            rec["port"] != port
        }),
        "{after}"
    );
}
