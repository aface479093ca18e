//! The `remote.result` record: one per host, written as soon as it ends.

use secops_common::{Record, Severity};

use crate::classify::Status;
use crate::ssh::Outcome;

pub const TOOL: &str = "remote-run";
pub const KIND: &str = "remote.result";

/// What a table shows: the outcome at a glance; stdout is in jsonl/json.
pub const TABLE_COLUMNS: [&str; 5] = ["severity", "status", "exit_code", "duration_ms", "message"];

/// A failed command is worth a look; a host that could not be reached or
/// trusted is worth an alert.
fn severity(status: Status) -> Severity {
    match status {
        Status::Ok => Severity::Info,
        Status::Failed => Severity::Medium,
        _ => Severity::High,
    }
}

pub fn result(host: &str, command: &str, outcome: &Outcome) -> Record {
    let status = outcome.status;
    let what = match (status, outcome.exit_code) {
        (Status::Ok, _) => "succeeded".to_string(),
        (Status::Failed, Some(code)) => format!("failed with exit code {code}"),
        (Status::Timeout, _) => "was killed by --timeout".to_string(),
        (Status::Unreachable, _) => "did not run: the host is unreachable".to_string(),
        (Status::AuthFailed, _) => "did not run: ssh authentication failed".to_string(),
        (Status::HostkeyMismatch, _) => {
            "did not run: the host key does not match known_hosts".to_string()
        }
        (Status::HostkeyUnknown, _) => {
            "did not run: the host key is not in known_hosts".to_string()
        }
        (Status::Failed, None) => "failed".to_string(),
    };
    let mut rec = Record::new(
        TOOL,
        KIND,
        severity(status),
        format!(
            "{command:?} on {host} {what} ({:.1} s)",
            outcome.duration.as_secs_f64()
        ),
    );
    rec.host = host.to_string();
    rec.with("status", status.as_str())
        .with("command", command)
        .with("exit_code", outcome.exit_code)
        .with("duration_ms", outcome.duration.as_millis() as u64)
        .with("records", outcome.stdout.records.len() as u64)
        .with("stdout", outcome.stdout.other.text())
        .with("stdout_bytes", outcome.stdout.other.total())
        .with("stdout_truncated", outcome.stdout.other.truncated())
        .with("stderr", outcome.stderr.text())
        .with("stderr_bytes", outcome.stderr.total())
        .with("stderr_truncated", outcome.stderr.truncated())
}
