//! vulnscan's alerts through the real secops-notify, as the nightly timer
//! runs it (`vulnscan | secops-notify`, the state directory carrying the
//! last scan): a finding pages once, is not repeated by the next scan, and
//! is resolved once when its listener closes; a port opened since the last
//! scan likewise.
//!
//! The listeners are real, on 127.0.0.3, found by the built-in scanner
//! (the same port rules judge nmap's results).

use std::net::TcpListener;
use std::path::Path;

use secops_pipeline_tests::{Sent, notify, still_firing, tool};
use serde_json::Value;

/// One scan of `port` on 127.0.0.3 with `rules`, piped into secops-notify
/// with `--min-severity medium` (as docs/vulnscan.md's example does: port
/// changes are medium).
fn scan_and_notify(port: u16, rules: &Path, state: &Path, notify_state: &Path) -> Sent {
    let out = tool("vulnscan")
        .args(["--engine", "builtin", "--no-banners", "--format", "jsonl"])
        .args(["--ports", &port.to_string(), "--rules"])
        .arg(rules)
        .arg("--state-dir")
        .arg(state)
        .arg("127.0.0.3")
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "vulnscan: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    notify(&out.stdout, notify_state, &["--min-severity", "medium"])
}

/// The firing and resolved records secops-notify sent about `port`.
fn about(sent: &Sent, port: u16) -> (Vec<&Value>, Vec<&Value>) {
    let ours = |r: &&Value| r["tool"] == "vulnscan" && r["port"] == port;
    let firing = sent.messages.iter().flat_map(|m| &m.firing);
    let resolved = sent.messages.iter().flat_map(|m| &m.resolved);
    (
        firing.filter(ours).collect(),
        resolved.filter(ours).collect(),
    )
}

fn held(notify_state: &Path, id: &str) -> usize {
    still_firing(notify_state)
        .iter()
        .filter(|key| key.contains(id))
        .count()
}

/// A rules file with one port rule: `port` must stay closed (high).
fn rules(dir: &Path, port: u16) -> std::path::PathBuf {
    let path = dir.join("rules.yaml");
    std::fs::write(
        &path,
        format!(
            "rules:\n  - id: forbidden-port\n    severity: high\n    \
             title: port {{port}} must stay closed\n    remediation: stop the service\n    \
             when: {{port: {port}}}\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn a_finding_pages_once_and_resolves_once_when_its_listener_closes() {
    let listener = TcpListener::bind("127.0.0.3:0").expect("127.0.0.3 is loopback");
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let rules = rules(dir.path(), port);
    let (state, notify_state) = (dir.path().join("scans"), dir.path().join("notify"));
    let scan = || scan_and_notify(port, &rules, &state, &notify_state);

    let found = scan();
    let (firing, resolved) = about(&found, port);
    assert_eq!(firing.len(), 1, "one page for the finding: {found:#?}");
    assert!(resolved.is_empty(), "{found:#?}");
    let finding = firing[0];
    assert_eq!(
        (&finding["kind"], &finding["rule"], &finding["alert"]),
        (
            &"vuln.finding".into(),
            &"forbidden-port".into(),
            &"firing".into()
        )
    );
    let id = finding["alert_id"].as_str().unwrap().to_string();
    assert_eq!(held(&notify_state, &id), 1);

    let again = scan();
    let (firing, resolved) = about(&again, port);
    assert!(
        firing.is_empty() && resolved.is_empty(),
        "the rescan finds it again, and nothing is sent: {again:#?}"
    );
    assert_eq!(held(&notify_state, &id), 1);

    drop(listener);
    let closed = scan();
    let (firing, resolved) = about(&closed, port);
    assert!(firing.is_empty(), "{closed:#?}");
    assert_eq!(resolved.len(), 1, "one resolution: {closed:#?}");
    assert_eq!(
        (
            &resolved[0]["kind"],
            &resolved[0]["alert_id"],
            &resolved[0]["severity"]
        ),
        (&"vuln.resolved".into(), &id.as_str().into(), &"info".into())
    );
    assert_eq!(
        held(&notify_state, &id),
        0,
        "{:?}",
        still_firing(&notify_state)
    );

    let after = scan();
    let (firing, resolved) = about(&after, port);
    assert!(firing.is_empty() && resolved.is_empty(), "{after:#?}");
}

#[test]
fn a_port_opened_since_the_last_scan_pages_once_and_resolves_when_it_closes() {
    // Taken and freed, so the first scan finds it closed.
    let port = TcpListener::bind("127.0.0.3:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    // Rules that judge nothing here: only the change alerts.
    let rules = rules(dir.path(), if port == 1 { 2 } else { 1 });
    let (state, notify_state) = (dir.path().join("scans"), dir.path().join("notify"));
    let scan = || scan_and_notify(port, &rules, &state, &notify_state);

    let first = scan();
    assert!(first.messages.is_empty(), "{first:#?}");
    let listener = TcpListener::bind(("127.0.0.3", port)).expect("the port is still free");
    let opened = scan();
    let (firing, resolved) = about(&opened, port);
    assert_eq!(firing.len(), 1, "{opened:#?}");
    assert!(resolved.is_empty());
    assert_eq!(firing[0]["kind"], "vuln.port_opened");
    let id = firing[0]["alert_id"].as_str().unwrap().to_string();

    let again = scan();
    let (firing, resolved) = about(&again, port);
    assert!(firing.is_empty() && resolved.is_empty(), "{again:#?}");

    drop(listener);
    let closed = scan();
    let (firing, resolved) = about(&closed, port);
    assert!(firing.is_empty(), "{closed:#?}");
    assert_eq!(resolved.len(), 1, "{closed:#?}");
    assert_eq!(resolved[0]["kind"], "vuln.port_closed");
    assert_eq!(resolved[0]["alert_id"], id.as_str());
    assert_eq!(held(&notify_state, &id), 0);
}
