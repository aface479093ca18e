//! `secops status`: one `job.status` record (an observation) per job of
//! the settings, from the history in the state directory, then a
//! `job.stale` firing record for each job that has not started for twice
//! its interval (on stdout only: the central log has one writer).

use secops_common::record::rfc3339;
use secops_common::{Record, Severity};

use std::time::SystemTime;

use crate::history::{History, time_of};
use crate::records::{self, TOOL};
use crate::schedule::{next_due, stale_at};
use crate::settings::Settings;

pub fn records(settings: &Settings, history: &mut History) -> Vec<Record> {
    let now = SystemTime::now();
    let mut stale = Vec::new();
    let mut out: Vec<Record> = settings
        .jobs
        .iter()
        .map(|job| {
            let memory = history.job(&job.name).clone();
            let last = memory.last_start_ms.map(|t| rfc3339(time_of(t)));
            let next = next_due(job, &memory).map(rfc3339);
            let is_stale = stale_at(job, &memory).is_some_and(|at| at <= now);
            if is_stale {
                stale.push(records::job_stale(job, last.clone(), false));
            }
            let severity = if is_stale {
                Severity::High
            } else if memory.failures_in_row > 0 {
                Severity::Medium
            } else {
                Severity::Info
            };
            let message = match (&last, &memory.last_outcome) {
                (Some(last), Some(outcome)) => format!(
                    "job {}: last run {last}, {outcome}{}",
                    job.name,
                    match memory.failures_in_row {
                        0 => String::new(),
                        n => format!(", {n} failure(s) in a row"),
                    }
                ),
                _ => format!("job {}: never run", job.name),
            };
            Record::new(TOOL, "job.status", severity, message)
                .with("job", job.name.as_str())
                .with("last_run", last)
                .with(
                    "duration_s",
                    memory.last_duration_ms.map(|d| d as f64 / 1000.0),
                )
                .with("exit", memory.last_exit)
                .with("outcome", memory.last_outcome.clone())
                .with(
                    "findings",
                    serde_json::to_value(&memory.findings).expect("a map serializes"),
                )
                .with("failures_in_row", memory.failures_in_row)
                .with("skipped", memory.skipped)
                .with("next_due", next)
                .with("stale", is_stale)
        })
        .collect();
    // A stopped scheduler writes nothing: `secops status` from cron, piped
    // to secops-notify, still tells someone.
    out.extend(stale);
    out
}
