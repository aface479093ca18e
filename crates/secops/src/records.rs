//! Every record secops writes itself (the jobs' own records pass through
//! unchanged), and TOOL and TABLE_COLUMNS.

use secops_common::{Record, Severity};

use crate::settings::{Job, Schedule};

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

/// A job whose last start is older than twice its interval (or, for a
/// cron job, than two fire times): the scheduler was stopped, or the job
/// hangs. The same alert as a failure (one per host and job: the job is
/// not doing its work), so its next good run's `job.recovered` ends it.
pub fn job_stale(job: &Job, last_run: Option<String>, running: bool) -> Record {
    let interval = match &job.schedule {
        Schedule::Every(every) => format!("every {every:?}"),
        Schedule::Cron(cron) => format!("cron \"{}\"", cron.as_str()),
    };
    let since = match (&last_run, running) {
        (Some(last), true) => format!("its run started {last} still goes"),
        (Some(last), false) => format!("last started {last}"),
        (None, _) => "never started".to_string(),
    };
    Record::new(
        TOOL,
        "job.stale",
        Severity::High,
        format!(
            "job {} has not run for twice its interval ({interval}): {since}",
            job.name
        ),
    )
    .firing(&parts(&job.name))
    .with("job", job.name.as_str())
    .with("last_run", last_run)
    .with("running", running)
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

/// The alert of a file secops cannot write (its central log).
pub fn write_parts(path: &str) -> [&str; 2] {
    ["write", path]
}

/// The `file` of a write alert about the metrics textfile.
pub const METRICS_FILE: &str = "metrics file";

/// The central log or the metrics file cannot be written: a full or
/// read-only disk, EIO. The jobs' records still go to notify; this says
/// that the log misses them (or that Prometheus sees old figures).
pub fn write_failed(what: &str, path: &str, error: &str) -> Record {
    let still = if what == METRICS_FILE {
        "the jobs still run and their records still go to the central log and notify"
    } else {
        "records still go to notify"
    };
    Record::new(
        TOOL,
        "secops.write_failed",
        Severity::High,
        format!("cannot write the {what} {path}: {error}; {still}"),
    )
    .firing(&write_parts(path))
    .with("file", what)
    .with("path", path)
    .with("error", error)
}

/// The file that could not be written is written again.
pub fn write_recovered(what: &str, path: &str) -> Record {
    Record::new(
        TOOL,
        "secops.write_recovered",
        Severity::Info,
        format!("the {what} {path} is written again"),
    )
    .resolved(&write_parts(path))
    .with("file", what)
    .with("path", path)
}
