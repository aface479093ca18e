//! The records remote-run writes of its own: `remote.result` per host and
//! command, `remote.push` and `remote.fetch` per host and file, and
//! `remote.fetch.file` per file of a fetched directory, and
//! `remote.master` for `close`.

use secops_common::{Record, Severity};

use crate::capture::Bounded;
use crate::classify::Status;
use crate::fetch_tree::{self, Outcome as Entry};
use crate::ssh::Outcome;

pub const TOOL: &str = "remote-run";

/// What a table shows: the outcome at a glance; stdout is in jsonl/json.
pub const TABLE_COLUMNS: [&str; 6] = [
    "severity",
    "host",
    "status",
    "exit_code",
    "duration_ms",
    "message",
];

/// A failed command is worth a look; a host that could not be reached or
/// trusted is worth an alert.
fn severity(status: Status) -> Severity {
    match status {
        Status::Ok => Severity::Info,
        // The operator stopped it: worth a look, not an alert.
        Status::Failed | Status::Interrupted => Severity::Medium,
        _ => Severity::High,
    }
}

/// An outcome is an alert while it fails, resolved when it succeeds.
/// remote-run keeps no memory between runs, so every success says
/// `resolved`: readers ignore the end of an alert they never saw fire
/// (docs/records.md, "Alerts").
fn alert(rec: Record, ok: bool, parts: &[&str]) -> Record {
    if ok {
        rec.resolved(parts)
    } else {
        rec.firing(parts)
    }
}

/// Why a host did not get as far as running anything, in words.
fn not_run(status: Status) -> Option<&'static str> {
    Some(match status {
        Status::Timeout => "was killed by --timeout",
        Status::Unreachable => "did not run: the host is unreachable",
        Status::AuthFailed => "did not run: ssh authentication failed",
        Status::HostkeyMismatch => "did not run: the host key does not match known_hosts",
        Status::HostkeyUnknown => "did not run: the host key is not in known_hosts",
        Status::Interrupted => "was stopped: remote-run was interrupted",
        Status::Ok | Status::Failed => return None,
    })
}

/// A record with the fields every per-host outcome shares.
fn outcome_record<T>(kind: &str, host: &str, message: String, outcome: &Outcome<T>) -> Record {
    let mut rec = Record::new(TOOL, kind, severity(outcome.status), message);
    rec.host = host.to_string();
    rec.with("status", outcome.status.as_str())
        .with("exit_code", outcome.exit_code)
        .with("duration_ms", outcome.duration.as_millis() as u64)
        .with("stderr", outcome.stderr.text())
        .with("stderr_bytes", outcome.stderr.total())
        .with("stderr_truncated", outcome.stderr.truncated())
}

pub fn result(host: &str, command: &str, outcome: &Outcome) -> Record {
    let what = match (outcome.status, outcome.exit_code) {
        (Status::Ok, _) => "succeeded".to_string(),
        (Status::Failed, Some(code)) => format!("failed with exit code {code}"),
        (Status::Failed, None) => "failed".to_string(),
        (status, _) => not_run(status).unwrap_or_default().to_string(),
    };
    let message = format!(
        "{command:?} on {host} {what} ({:.1} s)",
        outcome.duration.as_secs_f64()
    );
    let empty = Bounded::new(0);
    let (records, other) = outcome
        .stdout
        .as_ref()
        .map_or((0, &empty), |s| (s.records, &s.other));
    let rec = outcome_record("remote.result", host, message, outcome)
        .with("command", command)
        .with("records", records)
        .with("stdout", other.text())
        .with("stdout_bytes", other.total())
        .with("stdout_truncated", other.truncated());
    alert(rec, outcome.status == Status::Ok, &["result", command])
}

/// A file copied (or not) to or from one host.
pub struct Copied<'a> {
    pub local: &'a str,
    pub remote: &'a str,
    /// Bytes and SHA-256 of the file; `None` when nothing arrived whole.
    pub file: Option<(u64, String)>,
    pub mode: Option<u32>,
    /// A local failure (writing the fetched file) the outcome does not show.
    pub error: Option<String>,
    /// Writing here failed (a full, read-only or failing disk): the run
    /// itself failed, so the record is an alert of severity high, as for
    /// an unreachable host.
    pub failed_here: bool,
}

/// `remote.push` or `remote.fetch`.
pub fn copied<T>(kind: &str, host: &str, copied: &Copied, outcome: &Outcome<T>) -> Record {
    let (verb, from, to) = match kind {
        "remote.push" => (
            "push",
            copied.local.to_string(),
            format!("{host}:{}", copied.remote),
        ),
        _ => (
            "fetch",
            format!("{host}:{}", copied.remote),
            copied.local.to_string(),
        ),
    };
    let message = match (outcome.status, &copied.file, &copied.error) {
        (Status::Ok, Some((bytes, sum)), None) => {
            format!(
                "{verb}ed {from} to {to} ({bytes} bytes, sha256 {})",
                &sum[..12]
            )
        }
        (_, _, Some(error)) => format!("{verb} of {from} to {to} failed: {error}"),
        (Status::Failed, _, _) => {
            let why = outcome.stderr.text();
            format!("{verb} of {from} to {to} failed: {}", why.trim())
        }
        (status, _, _) => format!(
            "{verb} of {from} to {to} {}",
            not_run(status).unwrap_or("failed")
        ),
    };
    let (bytes, sha256) = copied.file.clone().unzip();
    let mut rec = outcome_record(kind, host, message, outcome)
        .with("local", copied.local)
        .with("remote", copied.remote)
        .with("bytes", bytes)
        .with("sha256", sha256)
        .with("mode", copied.mode.map(|m| format!("{m:04o}")))
        .with("error", copied.error.clone());
    if copied.failed_here {
        rec.severity = Severity::High;
    }
    let ok = outcome.status == Status::Ok && copied.error.is_none();
    alert(rec, ok, &[verb, copied.remote])
}

/// One entry of a fetched directory: copied, skipped or failed.
pub fn fetched_entry(host: &str, remote_dir: &str, entry: &fetch_tree::Entry) -> Record {
    let name = entry.name.strip_prefix("./").unwrap_or(&entry.name);
    let remote = format!("{}/{name}", remote_dir.trim_end_matches('/'));
    let local = entry.local.as_ref().map(|p| p.display().to_string());
    let (severity, status, message, file, changed, reason) = match &entry.outcome {
        Entry::Copied {
            bytes,
            sha256,
            changed,
        } => (
            Severity::Info,
            "ok",
            format!(
                "fetched {host}:{remote} to {} ({bytes} bytes, sha256 {}){}",
                local.as_deref().unwrap_or_default(),
                &sha256[..12],
                if *changed {
                    "; it changed while being read"
                } else {
                    ""
                }
            ),
            Some((*bytes, sha256.clone())),
            *changed,
            None,
        ),
        Entry::Skipped {
            reason,
            unsafe_path,
        } => (
            // A listing that tries to leave the directory is an attack or
            // a broken host, not routine.
            if *unsafe_path {
                Severity::High
            } else {
                Severity::Low
            },
            "skipped",
            format!("did not fetch {host}:{remote}: {reason}"),
            None,
            false,
            Some(reason.clone()),
        ),
        Entry::Failed(reason) => (
            Severity::Medium,
            "failed",
            format!("fetch of {host}:{remote} failed: {reason}"),
            None,
            false,
            Some(reason.clone()),
        ),
    };
    let (bytes, sha256) = file.unzip();
    let mut rec = Record::new(TOOL, "remote.fetch.file", severity, message);
    rec.host = host.to_string();
    let rec = rec
        .with("status", status)
        .with("remote", remote.as_str())
        .with("local", local)
        .with("bytes", bytes)
        .with("sha256", sha256)
        .with("mode", entry.mode.map(|m| format!("{:04o}", m & 0o7777)))
        .with("changed", changed)
        .with("reason", reason);
    // A file copied is an observation; one refused or failed is an alert
    // (its directory's `remote.fetch` resolves nothing about it).
    if severity >= Severity::Medium {
        rec.firing(&["fetch.file", &remote])
    } else {
        rec
    }
}

/// The `remote.fetch` record of a fetched directory: counts of what its
/// `remote.fetch.file` records say.
pub fn fetched_tree<T>(
    host: &str,
    copied: &Copied,
    entries: &[fetch_tree::Entry],
    outcome: &Outcome<T>,
) -> Record {
    let (mut files, mut bytes, mut skipped, mut failed) = (0u64, 0u64, 0u64, 0u64);
    for entry in entries {
        match &entry.outcome {
            Entry::Copied { bytes: b, .. } => {
                files += 1;
                bytes += b;
            }
            Entry::Skipped { .. } => skipped += 1,
            Entry::Failed(_) => failed += 1,
        }
    }
    let (from, to) = (format!("{host}:{}", copied.remote), copied.local);
    let counts = format!("{files} files, {bytes} bytes, {skipped} skipped, {failed} failed");
    let message = match (outcome.status, &copied.error) {
        (_, Some(error)) => format!("fetch of {from} to {to} failed after {counts}: {error}"),
        (Status::Ok, None) => format!("fetched {from} to {to} ({counts})"),
        (Status::Failed, None) => format!(
            "fetch of {from} to {to} failed ({counts}): {}",
            outcome.stderr.text().trim()
        ),
        (status, None) => format!(
            "fetch of {from} to {to} {} ({counts})",
            not_run(status).unwrap_or("failed")
        ),
    };
    let mut rec = outcome_record("remote.fetch", host, message, outcome)
        .with("local", copied.local)
        .with("remote", copied.remote)
        .with("directory", true)
        .with("files", files)
        .with("bytes", bytes)
        .with("skipped", skipped)
        .with("failed", failed)
        .with("sha256", None::<String>)
        .with("error", copied.error.clone());
    if copied.failed_here {
        rec.severity = Severity::High;
    }
    let ok = outcome.status == Status::Ok && copied.error.is_none() && failed == 0;
    alert(rec, ok, &["fetch", copied.remote])
}

/// What `close` did to one host's shared connection.
pub fn master(host: &str, closed: bool) -> Record {
    let (status, message) = if closed {
        (
            "closed",
            format!("closed the shared ssh connection to {host}"),
        )
    } else {
        (
            "not_running",
            format!("no shared ssh connection to {host} was open"),
        )
    };
    let mut rec = Record::new(TOOL, "remote.master", Severity::Info, message);
    rec.host = host.to_string();
    rec.with("status", status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secops_common::{Alerting, Stage};

    #[test]
    fn a_host_fires_while_it_fails_and_resolves_when_it_succeeds() {
        let outcome = |status| Outcome {
            status,
            exit_code: None,
            stdout: None,
            stderr: Bounded::new(0),
            duration: std::time::Duration::ZERO,
        };
        let down = result("web1", "uptime", &outcome(Status::Unreachable));
        let up = result("web1", "uptime", &outcome(Status::Ok));
        assert!(matches!(down.alerting(), Alerting::Alert(Stage::Firing, _)));
        assert!(matches!(up.alerting(), Alerting::Alert(Stage::Resolved, _)));
        assert_eq!(down.alert_id(), up.alert_id());
        assert_ne!(
            down.alert_id(),
            result("web1", "df -h", &outcome(Status::Unreachable)).alert_id()
        );
    }
}
