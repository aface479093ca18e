//! One message for one group of alerts: a subject that says how bad, how
//! many and where, and a body with the counts and the worst items first.
//! A pager storm of one mail per record is what gets alerts muted; one mail
//! per group with "and 37 more" is what gets them read.

use std::collections::BTreeSet;
use std::fmt::Write;

use secops_common::{Record, Severity};
use serde_json::{Value, json};

use crate::ledger::Due;

/// A message ready for any sink.
#[derive(Debug, Clone)]
pub struct Digest {
    pub subject: String,
    pub body: String,
    pub firing: Vec<Record>,
    pub resolved: Vec<Record>,
}

/// Longest alert text quoted in a subject.
const SUBJECT_TEXT: usize = 120;

impl Digest {
    pub fn new(due: &Due, max_items: usize) -> Digest {
        let firing: Vec<Record> = due.firing.iter().map(|(_, r)| r.clone()).collect();
        let resolved: Vec<Record> = due.resolved.iter().map(|(_, r)| r.clone()).collect();
        Digest {
            subject: subject(&firing, &resolved),
            body: body(&firing, &resolved, max_items),
            firing,
            resolved,
        }
    }

    /// The records as JSON Lines, alerts first: what `--exec` reads.
    pub fn jsonl(&self) -> String {
        let mut out = String::new();
        for rec in self.firing.iter().chain(&self.resolved) {
            out.push_str(&rec.to_json());
            out.push('\n');
        }
        out
    }

    /// The `--webhook-format json` body.
    pub fn json(&self) -> Value {
        json!({
            "subject": self.subject,
            "firing_count": self.firing.len(),
            "resolved_count": self.resolved.len(),
            "firing": self.firing,
            "resolved": self.resolved,
        })
    }

    /// The Slack-compatible body.
    pub fn slack(&self) -> Value {
        json!({ "text": format!("*{}*\n{}", self.subject, self.body) })
    }
}

fn subject(firing: &[Record], resolved: &[Record]) -> String {
    let all: Vec<&Record> = firing.iter().chain(resolved).collect();
    let hosts = hosts(&all);
    let mut subject = String::from("[secops] ");
    let lead = firing.first().or(resolved.first());
    match (firing.len(), resolved.len()) {
        (1, 0) => write!(subject, "{} {}: ", upper(firing[0].severity), hosts),
        (0, 1) => write!(subject, "RESOLVED {}: ", hosts),
        (n, 0) => write!(
            subject,
            "{}: {n} alerts on {}: ",
            upper(firing[0].severity),
            hosts
        ),
        (0, r) => write!(subject, "RESOLVED: {r} alerts on {}: ", hosts),
        (n, r) => write!(
            subject,
            "{}: {n} alert{}, {r} resolved on {}: ",
            upper(firing[0].severity),
            if n == 1 { "" } else { "s" },
            hosts
        ),
    }
    .expect("writing to a String");
    if let Some(lead) = lead {
        let mut text = one_line(&lead.message);
        secops_common::text::clip(&mut text, SUBJECT_TEXT);
        subject.push_str(&text);
        let rest = all.len() - 1;
        if rest > 0 {
            write!(subject, " (+{rest} more)").expect("writing to a String");
        }
    }
    subject
}

fn body(firing: &[Record], resolved: &[Record], max_items: usize) -> String {
    let mut out = String::new();
    if !firing.is_empty() {
        let mut counts = Vec::new();
        for severity in Severity::ALL.iter().rev() {
            let n = firing.iter().filter(|r| r.severity == *severity).count();
            if n > 0 {
                counts.push(format!("{n} {severity}"));
            }
        }
        let refs: Vec<&Record> = firing.iter().collect();
        let _ = writeln!(
            out,
            "{} alert{} firing on {} ({}).",
            firing.len(),
            if firing.len() == 1 { "" } else { "s" },
            hosts(&refs),
            counts.join(", ")
        );
    }
    if !resolved.is_empty() {
        let _ = writeln!(out, "{} resolved.", resolved.len());
    }
    let mut section = |title: &str, records: &[Record]| {
        if records.is_empty() {
            return;
        }
        let _ = writeln!(out, "\n{title}:");
        for rec in records.iter().take(max_items) {
            let _ = writeln!(
                out,
                "- [{}] {} {} {}: {}",
                rec.severity,
                rec.host,
                rec.tool,
                rec.kind,
                one_line(&rec.message)
            );
        }
        if records.len() > max_items {
            let _ = writeln!(out, "- ... and {} more", records.len() - max_items);
        }
    };
    section("Firing", firing);
    section("Resolved", resolved);
    let _ = write!(
        out,
        "\nSent by secops-notify on {}.",
        secops_common::record::hostname()
    );
    out
}

/// `web1`, `web1, db2`, `web1, db2, db3 +4`.
fn hosts(records: &[&Record]) -> String {
    let set: BTreeSet<&str> = records.iter().map(|r| r.host.as_str()).collect();
    let shown: Vec<&str> = set.iter().take(3).copied().collect();
    let mut text = shown.join(", ");
    if set.len() > 3 {
        let _ = write!(text, " +{}", set.len() - 3);
    }
    text
}

fn upper(severity: Severity) -> String {
    severity.as_str().to_ascii_uppercase()
}

/// Messages are one sentence, but a record from elsewhere may hold line
/// breaks, which would forge headers in a subject or lines in a body.
fn one_line(text: &str) -> String {
    text.split(['\r', '\n']).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(host: &str, severity: Severity, message: &str) -> (String, Record) {
        let mut rec = Record::new("disk-alert", "disk.alert", severity, message);
        rec.host = host.into();
        (message.to_string(), rec)
    }

    #[test]
    fn one_alert_reads_as_itself() {
        let due = Due {
            firing: vec![rec("web1", Severity::High, "/var is 93% full")],
            resolved: vec![],
        };
        let digest = Digest::new(&due, 10);
        assert_eq!(digest.subject, "[secops] HIGH web1: /var is 93% full");
        assert!(digest.body.contains("1 alert firing on web1 (1 high)."));
    }

    #[test]
    fn many_alerts_are_counted_and_cut() {
        let mut firing = vec![rec("db2", Severity::Critical, "disk\nfull")];
        for i in 0..12 {
            firing.push(rec("web1", Severity::Medium, &format!("item {i}")));
        }
        let due = Due {
            firing,
            resolved: vec![rec("web1", Severity::Info, "back")],
        };
        let digest = Digest::new(&due, 5);
        assert_eq!(
            digest.subject,
            "[secops] CRITICAL: 13 alerts, 1 resolved on db2, web1: disk full (+13 more)"
        );
        assert!(
            digest.body.contains("(1 critical, 12 medium)"),
            "{}",
            digest.body
        );
        assert!(digest.body.contains("- ... and 8 more"));
        assert!(digest.body.contains("Resolved:\n- [info] web1"));
        assert_eq!(digest.jsonl().lines().count(), 14);
    }
}
