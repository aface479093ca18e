//! The tools composed as an operator composes them, through real pipes:
//! `traffic-cop --whitelist ports.json | secops-report --csv > ports.csv`, and
//! into secops-notify as the crontab runs it.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use secops_testkit::{parse_csv, tool};
use serde_json::Value;

/// Runs `left | right` and returns right's stdout, and both exit codes.
fn pipe(mut left: Command, mut right: Command) -> (Vec<u8>, Option<i32>, Option<i32>) {
    let mut producer = left.stdout(Stdio::piped()).spawn().unwrap();
    let consumer = right
        .stdin(producer.stdout.take().unwrap())
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let left_code = producer.wait().unwrap().code();
    assert!(
        consumer.stderr.is_empty()
            || !String::from_utf8_lossy(&consumer.stderr).contains("rejected"),
        "secops-report rejected traffic-cop's records: {}",
        String::from_utf8_lossy(&consumer.stderr)
    );
    (consumer.stdout, left_code, consumer.status.code())
}

fn whitelist(dir: &tempfile::TempDir, approved_port: u16) -> PathBuf {
    let path = dir.path().join("ports.json");
    std::fs::write(
        &path,
        format!(r#"{{"ports": [{{"port": {approved_port}, "scope": "loopback"}}]}}"#),
    )
    .unwrap();
    path
}

#[test]
fn traffic_cop_into_secops_report_csv() {
    let approved = TcpListener::bind("127.0.0.1:0").unwrap();
    let unknown = TcpListener::bind("0.0.0.0:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let list = whitelist(&dir, approved.local_addr().unwrap().port());

    let mut cop = tool("traffic-cop");
    cop.arg("--no-state").arg("--whitelist").arg(&list);
    let mut report = tool("secops-report");
    report.arg("--csv");
    let (csv, cop_code, report_code) = pipe(cop, report);
    assert_eq!(
        cop_code,
        Some(1),
        "an unknown public listener is a high finding"
    );
    assert!(matches!(report_code, Some(0 | 1)));

    let rows = parse_csv(&csv);
    let header = &rows[0];
    assert_eq!(
        &header[..6],
        ["ts", "host", "tool", "kind", "severity", "message"]
    );
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name} column in {header:?}"))
    };
    let row_for = |port: u16| {
        rows[1..]
            .iter()
            .find(|r| r[col("port")] == port.to_string() && r[col("proto")] == "tcp")
            .unwrap_or_else(|| panic!("row for port {port}"))
            .clone()
    };
    let me = std::process::id().to_string();
    let a = row_for(approved.local_addr().unwrap().port());
    assert_eq!(
        (
            a[col("status")].as_str(),
            a[col("severity")].as_str(),
            a[col("pid")].as_str()
        ),
        ("approved", "info", me.as_str())
    );
    let u = row_for(unknown.local_addr().unwrap().port());
    assert_eq!(
        (u[col("status")].as_str(), u[col("severity")].as_str()),
        ("unknown", "high")
    );
    assert!(
        rows.iter().all(|r| r.len() == header.len()),
        "every row has every column"
    );
}

#[test]
fn secops_report_filters_what_traffic_cop_found() {
    let approved = TcpListener::bind("127.0.0.1:0").unwrap();
    let unknown = TcpListener::bind("0.0.0.0:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let list = whitelist(&dir, approved.local_addr().unwrap().port());

    let mut cop = tool("traffic-cop");
    cop.arg("--no-state").arg("-w").arg(&list);
    let mut report = tool("secops-report");
    report.args(["--min-severity", "high", "--format", "jsonl"]);
    let (out, _, report_code) = pipe(cop, report);
    assert_eq!(report_code, Some(1), "high findings passed the filter");
    let records: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        records
            .iter()
            .all(|r| r["severity"] == "high" || r["severity"] == "critical"),
        "{records:#?}"
    );
    let port = unknown.local_addr().unwrap().port();
    assert!(
        records.iter().any(|r| r["port"] == port),
        "the unknown listener is reported"
    );
    let approved_port = approved.local_addr().unwrap().port();
    assert!(
        records.iter().all(|r| r["port"] != approved_port),
        "info records filtered out"
    );
}

/// `traffic-cop | secops-notify`, as the crontab runs it every ten minutes:
/// the first run alerts on the unknown listener, the next (same port, same
/// finding) sends nothing about it, because notify's alert key holds across runs of
/// the real tool's records; once the listener closes, traffic-cop's
/// `--state-dir` says so and notify sends the recovery.
#[test]
fn secops_notify_alerts_once_on_what_traffic_cop_found() {
    let unknown = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = unknown.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let list = whitelist(&dir, 1);
    let sent = dir.path().join("sent.jsonl");
    let state = dir.path().join("state");
    let cop_state = dir.path().join("cop-state");
    let run = || {
        let mut cop = tool("traffic-cop");
        cop.arg("-w")
            .arg(&list)
            .args(["--format", "jsonl", "--state-dir"])
            .arg(&cop_state);
        let mut notify = tool("secops-notify");
        notify
            .args(["--min-severity", "high", "--format", "jsonl", "--state-dir"])
            .arg(&state)
            .arg("--exec")
            .arg(format!("cat >> '{}'", sent.display()));
        let (out, _, code) = pipe(cop, notify);
        let mut records: Vec<Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // The run's notify.summary comes last and counts what was sent.
        let summary = records.pop().expect("a notify.summary");
        assert_eq!(summary["kind"], "notify.summary", "{summary}");
        assert_eq!(summary["sent"], records.len() as u64, "{summary}");
        (records, code)
    };
    let delivered = || -> Vec<Value> {
        std::fs::read_to_string(&sent)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };

    let (first, code) = run();
    assert_eq!(code, Some(1), "a high record came in: {first:?}");
    assert_eq!(first.len(), 1, "one message for the whole run: {first:?}");
    assert_eq!(first[0]["kind"], "notify.sent");
    assert_eq!(first[0]["sink"], "exec");
    let ours: Vec<Value> = delivered()
        .into_iter()
        .filter(|r| r["tool"] == "traffic-cop" && r["port"] == port)
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "the listener reached the command: {:?}",
        delivered()
    );
    assert_eq!(ours[0]["status"], "unknown");

    // Other tests open listeners of their own meanwhile, which are news;
    // ours is not.
    let (second, _) = run();
    let mentioned = |records: &[Value]| {
        records.iter().any(|r| {
            r["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a.as_str().unwrap().contains(&format!(":{port} ")))
        })
    };
    assert!(mentioned(&first));
    assert!(!mentioned(&second), "sent again: {second:?}");
    let ours_now = delivered()
        .into_iter()
        .filter(|r| r["tool"] == "traffic-cop" && r["port"] == port)
        .count();
    assert_eq!(ours_now, 1, "the command heard of it once");

    drop(unknown);
    run();
    let recovered: Vec<Value> = delivered()
        .into_iter()
        .filter(|r| r["tool"] == "traffic-cop" && r["port"] == port && r["kind"] == "port.closed")
        .collect();
    assert_eq!(
        recovered.len(),
        1,
        "the recovery was sent once: {:?}",
        delivered()
    );
}
