//! Precision and recall on a server's `/var/log`: a week of logs (this
//! machine's own package-manager logs and kernel boot messages, and what a
//! Debian web server's daemons write, see `support/server.rs`) with
//! incidents injected. The default run must show every incident and
//! nothing an operator would dismiss.

mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::server::{Incident, Server, copy_package_logs};
use support::{anomalizer, run};

/// What the application's silence is called among the incidents.
const STOPPED: &str = "application stopped logging";

/// Severities an operator is paged or asked to read for.
fn reported(record: &Value) -> bool {
    matches!(
        record["severity"].as_str(),
        Some("medium" | "high" | "critical")
    ) && record["kind"] != "log.summary"
}

/// The incident a finding shows: one whose lines include the finding's
/// line or sample, or the application's silence.
fn shows<'a>(record: &Value, incidents: &'a [Incident]) -> Option<&'a str> {
    if record["detector"] == "silence" {
        let source = record["source"].as_str().unwrap_or_default();
        return source.contains("webapp").then_some(STOPPED);
    }
    let texts: Vec<&str> = ["context_line", "sample"]
        .iter()
        .filter_map(|f| record[*f].as_str())
        .collect();
    incidents
        .iter()
        .find(|i| i.lines.iter().any(|l| texts.iter().any(|t| t == l)))
        .map(|i| i.name)
}

#[test]
fn a_servers_logs_show_every_incident_and_little_else() {
    let dir = tempfile::tempdir().unwrap();
    let copied = copy_package_logs(dir.path());
    let end = jiff::Timestamp::now().as_second() / 60 * 60 - 600;
    let mut server = Server::new(end);
    server.base();
    server.incidents();
    server.application_stops(5);
    server.write(dir.path());

    let out = run(anomalizer()
        .arg(dir.path())
        .args(["--format", "jsonl"])
        .env("TZ", "UTC"));
    let records = support::records(&out.stdout);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        support::stderr(&out)
    );
    let mut found = BTreeSet::new();
    let mut false_positives = Vec::new();
    let mut shown = 0;
    for r in records.iter().filter(|r| reported(r)) {
        match shows(r, &server.incidents) {
            Some(name) => {
                shown += 1;
                found.insert(name);
            }
            None => false_positives.push(r["message"].as_str().unwrap_or_default().to_string()),
        }
        eprintln!(
            "{:8} {:16} {:40} {}",
            r["severity"].as_str().unwrap_or_default(),
            r["detector"].as_str().unwrap_or_default(),
            shows(r, &server.incidents).unwrap_or("FALSE POSITIVE"),
            r["message"].as_str().unwrap_or_default()
        );
    }
    let mut names: Vec<&str> = server.incidents.iter().map(|i| i.name).collect();
    names.push(STOPPED);
    let missed: Vec<&&str> = names.iter().filter(|n| !found.contains(**n)).collect();
    let reported = shown + false_positives.len();
    let precision = shown as f64 / reported.max(1) as f64;
    let recall = found.len() as f64 / names.len() as f64;
    eprintln!(
        "copied {copied:?}; {reported} findings reported, {shown} showing an incident: precision {precision:.3}, recall {recall:.3} ({} of {} incidents); missed {missed:?}",
        found.len(),
        names.len()
    );
    assert!(missed.is_empty(), "missed {missed:?}");
    assert!(
        false_positives.is_empty(),
        "findings an operator would dismiss: {false_positives:#?}"
    );
}
