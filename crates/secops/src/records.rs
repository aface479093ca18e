//! Every record secops writes itself (the jobs' own records pass through
//! unchanged), and TOOL and TABLE_COLUMNS.

use secops_common::{Record, Severity};

pub const TOOL: &str = "secops";

/// What `secops status` shows in a table.
pub const TABLE_COLUMNS: [&str; 7] = [
    "job",
    "last_run",
    "duration_s",
    "exit",
    "failures_in_row",
    "next_due",
    "message",
];

/// The alert of a job that fails: one per host and job.
fn parts(job: &str) -> [&str; 2] {
    ["job", job]
}

/// A run that was killed, died of a signal, or exited 2 or 3.
pub fn job_failed(job: &str, why: &str, exit: Option<i32>, stderr: &str, failures: u64) -> Record {
    Record::new(
        TOOL,
        "job.failed",
        Severity::High,
        format!("job {job} failed: {why}"),
    )
    .firing(&parts(job))
    .with("job", job)
    .with("exit", exit)
    .with("stderr", stderr)
    .with("failures_in_row", failures)
}

/// The first good run after failures.
pub fn job_recovered(job: &str, exit: Option<i32>) -> Record {
    Record::new(
        TOOL,
        "job.recovered",
        Severity::Info,
        format!("job {job} runs again"),
    )
    .resolved(&parts(job))
    .with("job", job)
    .with("exit", exit)
}

/// A run not started because the previous one of the same job still runs.
pub fn job_skipped(job: &str) -> Record {
    Record::new(
        TOOL,
        "job.skipped",
        Severity::Low,
        format!("job {job} was due but its previous run is still going: skipped"),
    )
    .with("job", job)
}

/// A settings file that SIGHUP could not load: the old settings keep running.
pub fn settings_invalid(path: &str, error: &str) -> Record {
    Record::new(
        TOOL,
        "secops.settings_invalid",
        Severity::High,
        format!("the settings were not reloaded, the old ones keep running: {error}"),
    )
    .firing(&["settings", path])
    .with("path", path)
    .with("error", error)
}

/// The settings loaded again after a broken reload.
pub fn settings_reloaded(path: &str) -> Record {
    Record::new(
        TOOL,
        "secops.settings_reloaded",
        Severity::Info,
        "the settings were reloaded".to_string(),
    )
    .resolved(&["settings", path])
    .with("path", path)
}
