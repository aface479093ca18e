//! Greenbone reports read by `vulnscan --from-gvm` flow through the rest of
//! the system as nmap's scans do: `vulnscan --from-gvm | secops-notify`
//! pages a finding once and resolves it when the task's next report no
//! longer has it, and the records of a vulnscan run on a fleet host through
//! remote-run come back unchanged but for `host`, the inventory name.

use std::path::{Path, PathBuf};

use secops_pipeline_tests::{notify, repo, tool};
use serde_json::Value;

fn report() -> PathBuf {
    repo("crates/vulnscan/tests/data/gvm/report_detail_v2.xml")
}

fn import(path: &Path, state: &Path) -> Vec<u8> {
    let out = tool("vulnscan")
        .args(["--format", "jsonl", "--state-dir"])
        .arg(state)
        .arg("--from-gvm")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "vulnscan: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn records(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_greenbone_finding_pages_once_and_resolves_with_the_next_report() {
    let dir = tempfile::tempdir().unwrap();
    let (scans, alerts) = (dir.path().join("scans"), dir.path().join("alerts"));
    std::fs::create_dir_all(&alerts).unwrap();
    let first = notify(&import(&report(), &scans), &alerts, &[]);
    assert_eq!(first.firing(), 1, "{first:?}");
    let paged = &first.messages[0].firing[0];
    assert_eq!(paged["severity"], "critical");
    assert_eq!(paged["id"], "gvm-1.3.6.1.4.1.25623.1.0.836484");
    let again = notify(&import(&report(), &scans), &alerts, &[]);
    assert_eq!((again.firing(), again.resolved()), (0, 0), "{again:?}");
    // The task's next report, after the update: no results.
    let text = std::fs::read_to_string(report()).unwrap();
    let (start, end) = (
        text.find("<result id=").unwrap(),
        text.find("</results>").unwrap(),
    );
    let later = dir.path().join("later.xml");
    std::fs::write(&later, format!("{}{}", &text[..start], &text[end..])).unwrap();
    let fixed = notify(&import(&later, &scans), &alerts, &[]);
    assert_eq!((fixed.firing(), fixed.resolved()), (0, 1), "{fixed:?}");
    assert_eq!(fixed.messages[0].resolved[0]["alert_id"], paged["alert_id"]);
}

#[test]
fn vulnscan_through_remote_run_keeps_its_records_but_for_host() {
    let sshd = secops_testkit::Sshd::start();
    let config = sshd.ssh_config(&["scanner1".to_string()], "");
    let vulnscan = secops_testkit::tool_path("vulnscan");
    let report = report();
    let out = tool("remote-run")
        .arg("--ssh-config")
        .arg(&config)
        .args(["--hosts", "scanner1", "--format", "jsonl", "--"])
        .arg(&vulnscan)
        .args(["--no-state", "--format", "jsonl", "--from-gvm"])
        .arg(&report)
        .output()
        .unwrap();
    // The critical finding makes vulnscan exit 1, and remote-run with it.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let remote: Vec<Value> = records(&out.stdout)
        .into_iter()
        .filter(|r| r["tool"] == "vulnscan")
        .collect();
    let local = tool("vulnscan")
        .args(["--no-state", "--format", "jsonl", "--from-gvm"])
        .arg(&report)
        .output()
        .unwrap();
    let local = records(&local.stdout);
    assert_eq!(remote.len(), local.len(), "{remote:#?}");
    for (r, l) in remote.iter().zip(&local) {
        assert_eq!(r["host"], "scanner1");
        let strip = |v: &Value| {
            let mut v = v.clone();
            let m = v.as_object_mut().unwrap();
            m.remove("host");
            m.remove("ts");
            m.remove("duration_ms"); // the summary's, a measurement
            v
        };
        assert_eq!(strip(r), strip(l));
        // The time is the remote tool's own, a real RFC 3339 second.
        let ts = r["ts"].as_str().unwrap();
        assert!(ts.len() == 20 && ts.ends_with('Z'), "{ts}");
    }
}
