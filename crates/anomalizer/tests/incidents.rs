//! Precision and recall on a server's `/var/log`: a week of logs (this
//! machine's own package-manager logs and kernel boot messages, and what a
//! Debian web server's daemons write, see `support/server.rs`) with 22
//! incidents injected, 8 of them written after the rules were settled,
//! and 30 events from `tests/data/blind-events.json`, written by a session
//! that never saw the code: 15 incidents and 15 benign events an operator
//! would dismiss. The default run (the sweep's) must show every incident
//! of ours and all but one of the blind ones, nothing about the base week,
//! and no more benign events than it did when written.

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

/// Runs anomalizer over `dir` as the sweep does, prints what it reported
/// and what each finding shows, and returns the incidents shown and the
/// findings that show a benign event or nothing injected at all.
fn score(dir: &Path, incidents: &[Incident], benign: &[Incident]) -> Scored {
    let out = run(anomalizer()
        .arg(dir)
        .args(["--format", "jsonl"])
        .env("TZ", "UTC"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "critical findings make exit 1: {}",
        support::stderr(&out)
    );
    let records = support::records(&out.stdout);
    let summary = records.last().expect("a summary");
    let addresses = records
        .iter()
        .filter(|r| r["kind"] == "log.new_address")
        .count();
    assert_eq!(summary["new_addresses"], addresses, "{summary}");
    let mut scored = Scored::default();
    for r in records.iter().filter(|r| reported(r)) {
        let message = r["message"].as_str().unwrap_or_default().to_string();
        let shown = shows(r, incidents);
        let dismissed = shown.is_none().then(|| shows(r, benign)).flatten();
        eprintln!(
            "{:8} {:15} {:44} {message}",
            r["severity"].as_str().unwrap_or_default(),
            r["detector"].as_str().unwrap_or_default(),
            shown
                .or(dismissed.map(|_| "(benign)"))
                .unwrap_or("(the base week)"),
        );
        match (shown, dismissed) {
            (Some(name), _) => {
                scored.showing += 1;
                scored.shown.insert(name.to_string());
            }
            (None, Some(name)) => {
                scored.benign.push(message);
                scored.benign_events.insert(name.to_string());
            }
            (None, None) => scored.base.push(message),
        }
    }
    scored
}

#[derive(Debug, Default)]
struct Scored {
    /// Findings showing an incident, and the incidents they show.
    showing: usize,
    shown: BTreeSet<String>,
    /// Findings about a benign blind event, the events, and findings
    /// about the base week.
    benign: Vec<String>,
    benign_events: BTreeSet<String>,
    base: Vec<String>,
}

#[test]
fn a_servers_logs_show_every_incident_and_little_else() {
    let dir = tempfile::tempdir().unwrap();
    let copied = copy_package_logs(dir.path());
    eprintln!("this machine's package-manager logs: {copied:?}");
    // The week ends at the next noon (UTC): the same hours of the day
    // whenever the test runs, and after every line of the logs copied.
    let (day, noon) = (86_400, 43_200);
    let end = (jiff::Timestamp::now().as_second() / day + 1) * day + noon;
    let mut server = Server::new(end);
    server.base();
    server.incidents();
    let ours = server.incidents.len();
    let benign = server.blind_events();
    server.application_stops(5);
    server.write(dir.path());

    let scored = score(dir.path(), &server.incidents, &benign);
    let (own, blind) = server.incidents.split_at(ours);
    let missed = |set: &[Incident]| -> Vec<&str> {
        set.iter()
            .map(|i| i.name)
            .filter(|n| !scored.shown.contains(*n))
            .collect()
    };
    let reported = scored.showing + scored.benign.len() + scored.base.len();
    eprintln!(
        "{reported} findings at medium or above: {} show an incident, {} a benign event, {} the base week (precision {:.3}); \
         shown: {} of {} own incidents and the stop, {} of {} blind ones; {} of {} benign events reported",
        scored.showing,
        scored.benign.len(),
        scored.base.len(),
        scored.showing as f64 / reported.max(1) as f64,
        own.len() - missed(own).len(),
        own.len(),
        blind.len() - missed(blind).len(),
        blind.len(),
        scored.benign_events.len(),
        benign.len(),
    );
    assert!(
        scored.shown.contains(STOPPED),
        "the application's stop was not shown"
    );
    assert_eq!(missed(own), Vec::<&str>::new(), "own incidents missed");
    assert!(
        missed(blind).len() <= 1,
        "blind incidents missed: {:?}",
        missed(blind)
    );
    assert_eq!(
        scored.base,
        Vec::<String>::new(),
        "findings about the base week, which an operator would dismiss"
    );
    assert!(
        scored.benign.len() <= 9,
        "findings about benign events: {:#?}",
        scored.benign
    );
}
