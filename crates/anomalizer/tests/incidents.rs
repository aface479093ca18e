//! Precision and recall on a server's `/var/log`: a week of logs (this
//! machine's own package-manager logs and kernel boot messages, and what a
//! Debian web server's daemons write, see `support/server.rs`) with 22
//! incidents injected, 8 of them written after the rules were settled.
//! The default run (the sweep's) must show every incident and nothing an
//! operator would dismiss.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

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

/// Runs anomalizer over `dir` with `flags`, prints what it reported and
/// asserts that every incident was shown and nothing else was reported.
fn score(dir: &Path, flags: &[&str], incidents: &[Incident]) {
    let out = run(anomalizer()
        .arg(dir)
        .args(["--format", "jsonl"])
        .args(flags)
        .env("TZ", "UTC"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "critical findings make exit 1: {}",
        support::stderr(&out)
    );
    let records = support::records(&out.stdout);
    let mut found = BTreeSet::new();
    let mut false_positives = Vec::new();
    let mut shown = 0;
    for r in records.iter().filter(|r| reported(r)) {
        let incident = shows(r, incidents);
        let message = r["message"].as_str().unwrap_or_default();
        eprintln!(
            "{:8} {:15} {:44} {message}",
            r["severity"].as_str().unwrap_or_default(),
            r["detector"].as_str().unwrap_or_default(),
            incident.unwrap_or("NOT AN INCIDENT"),
        );
        match incident {
            Some(name) => {
                shown += 1;
                found.insert(name);
            }
            None => false_positives.push(message.to_string()),
        }
    }
    let mut names: Vec<&str> = incidents.iter().map(|i| i.name).collect();
    names.push(STOPPED);
    let missed: Vec<&&str> = names.iter().filter(|n| !found.contains(**n)).collect();
    let reported = shown + false_positives.len();
    eprintln!(
        "{flags:?}: {reported} findings at medium or above, {shown} showing an incident: precision {:.3}, recall {:.3} ({} of {} incidents)",
        shown as f64 / reported.max(1) as f64,
        found.len() as f64 / names.len() as f64,
        found.len(),
        names.len()
    );
    assert!(missed.is_empty(), "{flags:?} missed {missed:?}");
    assert!(
        false_positives.is_empty(),
        "{flags:?}: findings an operator would dismiss: {false_positives:#?}"
    );
}

#[test]
fn a_servers_logs_show_every_incident_and_little_else() {
    let dir = tempfile::tempdir().unwrap();
    let copied = copy_package_logs(dir.path());
    eprintln!("this machine's package-manager logs: {copied:?}");
    let end = jiff::Timestamp::now().as_second() / 60 * 60 - 600;
    let mut server = Server::new(end);
    server.base();
    server.incidents();
    server.application_stops(5);
    server.write(dir.path());
    score(dir.path(), &[], &server.incidents);
}
