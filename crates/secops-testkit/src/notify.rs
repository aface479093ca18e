//! secops-notify as the tools' alerts meet it: a tool's records piped into
//! the real binary, as the shipped cron lines do, with an `--exec` sink
//! whose messages are read back, and its state file read for what is still
//! firing. Every crate's end-to-end alert test drives its condition through
//! this.

use std::path::Path;

use crate::programs::tool;
use crate::run::run_with_stdin;

/// What one run of the real secops-notify sent: one entry per message,
/// each with the records it carried.
#[derive(Debug, Default)]
pub struct Sent {
    pub messages: Vec<Message>,
}

/// One message: its subject, and the firing and resolved alerts in it.
#[derive(Debug)]
pub struct Message {
    pub subject: String,
    pub firing: Vec<serde_json::Value>,
    pub resolved: Vec<serde_json::Value>,
}

impl Sent {
    pub fn firing(&self) -> usize {
        self.messages.iter().map(|m| m.firing.len()).sum()
    }
    pub fn resolved(&self) -> usize {
        self.messages.iter().map(|m| m.resolved.len()).sum()
    }
}

/// Pipes `records` (a tool's stdout) into the real secops-notify, as the
/// shipped cron lines do, with an `--exec` sink that appends each message to
/// a file; `state` is secops-notify's `--state-dir`, kept between calls so
/// that runs see each other as cron runs do. `extra` are more flags
/// (`--min-severity medium`). Fails the test when secops-notify rejects a
/// line or fails.
pub fn notify(records: &[u8], state: &Path, extra: &[&str]) -> Sent {
    let out = state.join("exec.out");
    let _ = std::fs::remove_file(&out);
    // A marker line with the counts, then the records of the message.
    let exec = format!(
        "{{ printf '%s\\t%s\\t%s\\n' \"@@ $SECOPS_NOTIFY_FIRING\" \"$SECOPS_NOTIFY_RESOLVED\" \"$SECOPS_NOTIFY_SUBJECT\"; cat; }} >> '{}'",
        out.display()
    );
    let done = run_with_stdin(
        tool("secops-notify")
            .arg("--state-dir")
            .arg(state)
            .args(["--exec", &exec, "--group-wait", "1h", "--format", "jsonl"])
            .args(extra),
        records,
    );
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(
        matches!(done.status.code(), Some(0 | 1)),
        "secops-notify failed ({:?}): {stderr}",
        done.status
    );
    assert!(!stderr.contains("rejected"), "secops-notify: {stderr}");
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let mut sent = Sent::default();
    let mut firing_due = 0;
    for line in text.lines() {
        if let Some(head) = line.strip_prefix("@@ ") {
            let mut cells = head.splitn(3, '\t');
            firing_due = cells.next().unwrap().parse().unwrap();
            let _resolved = cells.next();
            sent.messages.push(Message {
                subject: cells.next().unwrap_or_default().to_string(),
                firing: Vec::new(),
                resolved: Vec::new(),
            });
            continue;
        }
        let rec: serde_json::Value = serde_json::from_str(line).expect("exec got JSON Lines");
        let message = sent.messages.last_mut().expect("a marker first");
        // Alerts come first, then recoveries, as the counts say.
        if message.firing.len() < firing_due {
            message.firing.push(rec);
        } else {
            message.resolved.push(rec);
        }
    }
    sent
}

/// The alerts secops-notify's state file still holds as firing.
pub fn still_firing(state: &Path) -> Vec<String> {
    let text = match std::fs::read_to_string(state.join("notify.json")) {
        Ok(text) => text,
        Err(_) => return Vec::new(),
    };
    let file: serde_json::Value = serde_json::from_str(&text).expect("notify.json is JSON");
    file["alerts"]
        .as_object()
        .map(|alerts| {
            alerts
                .iter()
                .filter(|(_, entry)| entry["status"] == "firing")
                .map(|(key, _)| key.clone())
                .collect()
        })
        .unwrap_or_default()
}
