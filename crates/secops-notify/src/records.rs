//! The records secops-notify writes: one `notify.sent` per message a sink
//! accepted, one `notify.failed` per message a sink did not take after all
//! tries, and a `notify.state_failed` when the state file could not be
//! saved. Targets and errors carry no secrets (see [`crate::secret`]).

use std::path::Path;
use std::time::Duration;

use secops_common::text::plural;
use secops_common::{Record, Severity};
use serde_json::Value;

use crate::delivery::Delivery;
use crate::digest::Digest;
use crate::sink::Sink;

pub const TOOL: &str = "secops-notify";

pub const TABLE_COLUMNS: [&str; 6] = ["severity", "kind", "sink", "firing", "resolved", "message"];

/// `notify.sent` or `notify.failed` for one delivery.
pub fn delivery_record(sink: &Sink, digest: &Digest<'_>, delivery: &Delivery) -> Record {
    let (kind, severity, message) = match &delivery.error {
        None => (
            "notify.sent",
            Severity::Info,
            format!("sent {:?} by {}", digest.subject, sink.target()),
        ),
        Some(err) => (
            "notify.failed",
            Severity::High,
            format!(
                "could not send {:?} by {} after {} tr{}: {err}",
                digest.subject,
                sink.target(),
                delivery.attempts,
                if delivery.attempts == 1 { "y" } else { "ies" }
            ),
        ),
    };
    let items = |records: &mut dyn Iterator<Item = Record>| -> Vec<Value> {
        records
            .map(|r| Value::from(format!("{}: {}", r.host, r.message)))
            .collect()
    };
    let mut rec = Record::new(TOOL, kind, severity, message)
        .with("sink", sink.name)
        .with("target", sink.target())
        .with("subject", digest.subject.as_str())
        .with("firing", digest.firing_count())
        .with("resolved", digest.resolved_count())
        .with("alerts", items(&mut digest.firing()))
        .with("recoveries", items(&mut digest.resolved()))
        .with("attempts", delivery.attempts);
    if let Some(err) = &delivery.error {
        rec.set("error", err.as_str());
        // A message that was not delivered is itself an alert, for
        // whoever reads this tool's output (a second notifier, secops).
        rec = rec.firing(&["delivery", sink.name]);
    }
    rec
}

/// `notify.held`: a capped sink (SMS) has had its messages for the hour;
/// what it is owed waits for the next message, which says how many alerts
/// were held back. An observation: nothing was lost, it is only late.
pub fn held_record(sink: &Sink, firing: usize, cap: u32) -> Record {
    Record::new(
        TOOL,
        "notify.held",
        Severity::Low,
        format!(
            "{}: {firing} alert(s) held back: {cap} message(s) went out in the last hour, its cap; the next message says so",
            sink.name
        ),
    )
    .with("sink", sink.name)
    .with("target", sink.target())
    .with("firing", firing)
    .with("cap", cap)
}

/// `notify.state_failed`: the state file could not be saved (a full,
/// read-only or failing disk). The run still sent what it owed; what it
/// would have remembered (what went to whom, what is still owed) is lost,
/// so a later run may send an alert again, or not send the recovery of one
/// it never learnt of. An alert (parts `state` and the file) of severity
/// high, firing while it is reported.
pub fn state_failed_record(state: &Path, error: &str) -> Record {
    let state = state.display().to_string();
    Record::new(
        TOOL,
        "notify.state_failed",
        Severity::High,
        format!(
            "could not save the alert state: {error}; alerts are still sent, but until it can be saved they may be sent again and their recoveries may not be"
        ),
    )
    .with("state", state.as_str())
    .with("error", error)
    .firing(&["state", &state])
}

/// `notify.summary`: what a run read and delivered, written when its input
/// ends, so that a run with nothing to send says so.
pub fn summary_record(read: u64, sent: u64, undelivered: &[Record], took: Duration) -> Record {
    let count = |kind: &str| undelivered.iter().filter(|r| r.kind == kind).count() as u64;
    let (failed, held) = (count("notify.failed"), count("notify.held"));
    let message = format!(
        "read {read} record{}: {sent} message{} sent, {failed} failed, {held} held back",
        plural(read),
        plural(sent),
    );
    Record::summary(TOOL, "notify.summary", message, undelivered, took)
        .with("read", read)
        .with("sent", sent)
        .with("failed", failed)
        .with("held", held)
}
