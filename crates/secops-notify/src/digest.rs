//! One message for one group of alerts: a subject that says how bad, how
//! many and where, and a body with the counts and the worst items first.
//! A pager storm of one mail per record is what gets alerts muted; one mail
//! per group with "and 37 more" is what gets them read.

use std::collections::BTreeSet;
use std::fmt::Write;

use secops_common::text::plural;
use secops_common::{Record, Severity};
use serde::ser::{Serialize, SerializeSeq, SerializeStruct, Serializer};
use serde_json::{Value, json};

use crate::ledger::{Due, Owed};

/// A message ready for any sink. The records stay the ledger's JSON lines
/// until a sink asks for them ([`Digest::firing`], [`Digest::resolved`]),
/// which parse them one at a time: a message about 100,000 alerts never
/// holds 100,000 parsed records.
#[derive(Debug, Clone)]
pub struct Digest<'a> {
    pub subject: String,
    pub body: String,
    /// Alerts listed in a message at most; the rest are counted.
    pub max_items: usize,
    /// Alerts this receiver's hourly cap held back since its last message.
    pub held: usize,
    firing: &'a [Owed<'a>],
    resolved: &'a [Owed<'a>],
}

/// Longest alert text quoted in a subject.
const SUBJECT_TEXT: usize = 120;

impl<'a> Digest<'a> {
    pub fn new(due: &'a Due<'a>, max_items: usize, held: usize) -> Digest<'a> {
        let mut digest = Digest {
            subject: String::new(),
            body: String::new(),
            max_items,
            held,
            firing: &due.firing,
            resolved: &due.resolved,
        };
        digest.subject = subject(&digest);
        digest.body = body(&digest, max_items);
        digest
    }

    /// The worst severity firing, if any is.
    pub fn worst(&self) -> Option<Severity> {
        self.firing.first().map(|o| o.severity)
    }

    /// The firing alerts' ledger keys and records, worst first.
    pub fn firing_keyed(&self) -> impl Iterator<Item = (&'a str, Record)> + 'a {
        self.firing.iter().map(|o| (o.key, o.record()))
    }

    /// The recoveries' ledger keys and records.
    pub fn resolved_keyed(&self) -> impl Iterator<Item = (&'a str, Record)> + 'a {
        self.resolved.iter().map(|o| (o.key, o.record()))
    }

    /// A sentence on what the hourly cap held back, when it did.
    pub fn held_note(&self) -> Option<String> {
        (self.held > 0).then(|| {
            format!(
                "{} alert{} held back by this receiver's hourly cap since its last message.",
                self.held,
                if self.held == 1 { " was" } else { "s were" }
            )
        })
    }

    pub fn firing_count(&self) -> usize {
        self.firing.len()
    }

    pub fn resolved_count(&self) -> usize {
        self.resolved.len()
    }

    /// The firing alerts' records, worst first.
    pub fn firing(&self) -> impl Iterator<Item = Record> + 'a {
        self.firing.iter().map(Owed::record)
    }

    /// The recovery records, in the order they came.
    pub fn resolved(&self) -> impl Iterator<Item = Record> + 'a {
        self.resolved.iter().map(Owed::record)
    }

    /// The records as JSON Lines, alerts first, one line at a time: what
    /// `--exec` reads.
    pub fn jsonl(&self) -> impl Iterator<Item = String> + 'a {
        self.firing().chain(self.resolved()).map(|rec| {
            let mut line = rec.to_json();
            line.push('\n');
            line
        })
    }

    /// The `--webhook-format json` body: `{"subject", "firing_count",
    /// "resolved_count", "firing", "resolved"}`, written straight from the
    /// records rather than through a `Value` tree of all of them.
    pub fn json(&self) -> String {
        serde_json::to_string(&JsonBody(self)).expect("a digest always serializes")
    }

    /// The Slack-compatible body.
    pub fn slack(&self) -> Value {
        json!({ "text": format!("*{}*\n{}", self.subject, self.body) })
    }
}

struct JsonBody<'d, 'a>(&'d Digest<'a>);

impl Serialize for JsonBody<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let digest = self.0;
        let mut body = serializer.serialize_struct("Digest", 5)?;
        body.serialize_field("subject", &digest.subject)?;
        body.serialize_field("firing_count", &digest.firing.len())?;
        body.serialize_field("resolved_count", &digest.resolved.len())?;
        body.serialize_field("firing", &Records(digest.firing))?;
        body.serialize_field("resolved", &Records(digest.resolved))?;
        body.end()
    }
}

/// Records serialized as a JSON array, each parsed only while it is written.
struct Records<'a>(&'a [Owed<'a>]);

impl Serialize for Records<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for owed in self.0 {
            seq.serialize_element(&owed.record())?;
        }
        seq.end()
    }
}

fn subject(digest: &Digest<'_>) -> String {
    let (firing, resolved) = (digest.firing, digest.resolved);
    let hosts = hosts(digest.firing().chain(digest.resolved()));
    let mut subject = String::from("[secops] ");
    let lead = firing.first().or(resolved.first()).map(Owed::record);
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
            plural(n),
            hosts
        ),
    }
    .expect("writing to a String");
    if let Some(lead) = lead {
        let mut text = one_line(&lead.message);
        secops_common::text::clip(&mut text, SUBJECT_TEXT);
        subject.push_str(&text);
        let rest = firing.len() + resolved.len() - 1;
        if rest > 0 {
            write!(subject, " (+{rest} more)").expect("writing to a String");
        }
    }
    subject
}

fn body(digest: &Digest<'_>, max_items: usize) -> String {
    let (firing, resolved) = (digest.firing, digest.resolved);
    let mut out = String::new();
    if !firing.is_empty() {
        let mut counts = Vec::new();
        for severity in Severity::ALL.iter().rev() {
            let n = firing.iter().filter(|o| o.severity == *severity).count();
            if n > 0 {
                counts.push(format!("{n} {severity}"));
            }
        }
        let _ = writeln!(
            out,
            "{} alert{} firing on {} ({}).",
            firing.len(),
            plural(firing.len()),
            hosts(digest.firing()),
            counts.join(", ")
        );
    }
    if !resolved.is_empty() {
        let _ = writeln!(out, "{} resolved.", resolved.len());
    }
    if let Some(note) = digest.held_note() {
        let _ = writeln!(out, "{note}");
    }
    let mut section = |title: &str, records: &[Owed<'_>]| {
        if records.is_empty() {
            return;
        }
        let _ = writeln!(out, "\n{title}:");
        for rec in records.iter().take(max_items).map(Owed::record) {
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
pub fn hosts(records: impl Iterator<Item = Record>) -> String {
    let set: BTreeSet<String> = records.map(|r| r.host).collect();
    let shown: Vec<&str> = set.iter().take(3).map(String::as_str).collect();
    let mut text = shown.join(", ");
    if set.len() > 3 {
        let _ = write!(text, " +{}", set.len() - 3);
    }
    text
}

pub fn upper(severity: Severity) -> String {
    severity.as_str().to_ascii_uppercase()
}

/// Messages are one sentence, but a record from elsewhere may hold line
/// breaks, which would forge headers in a subject or lines in a body.
pub fn one_line(text: &str) -> String {
    text.split(['\r', '\n']).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as the ledger keeps it: a JSON line.
    fn line(host: &str, severity: Severity, message: &str) -> (String, Severity) {
        let mut rec = Record::new("disk-alert", "disk.alert", severity, message)
            .with("mount", message)
            .with("percent", 93.5);
        rec.host = host.into();
        (rec.to_json(), severity)
    }

    fn owed(lines: &[(String, Severity)]) -> Vec<Owed<'_>> {
        lines
            .iter()
            .map(|(line, severity)| Owed {
                key: "k",
                line,
                severity: *severity,
            })
            .collect()
    }

    #[test]
    fn one_alert_reads_as_itself() {
        let lines = [line("web1", Severity::High, "/var is 93% full")];
        let due = Due {
            firing: owed(&lines),
            resolved: vec![],
        };
        let digest = Digest::new(&due, 10, 0);
        assert_eq!(digest.subject, "[secops] HIGH web1: /var is 93% full");
        assert!(digest.body.contains("1 alert firing on web1 (1 high)."));
    }

    #[test]
    fn many_alerts_are_counted_and_cut() {
        let mut firing = vec![line("db2", Severity::Critical, "disk\nfull")];
        for i in 0..12 {
            firing.push(line("web1", Severity::Medium, &format!("item {i}")));
        }
        let resolved = [line("web1", Severity::Info, "back")];
        let due = Due {
            firing: owed(&firing),
            resolved: owed(&resolved),
        };
        let digest = Digest::new(&due, 5, 0);
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
        assert_eq!(digest.jsonl().count(), 14);
    }

    /// The bodies are written straight from the ledger's lines; they must
    /// be byte for byte what serializing the parsed records gives.
    #[test]
    fn bodies_are_the_records_as_read() {
        let firing = [
            line("db2", Severity::Critical, "disk \"full\"\n\u{e9}"),
            line("web1", Severity::High, "/var"),
        ];
        let resolved = [line("web1", Severity::Info, "back")];
        let due = Due {
            firing: owed(&firing),
            resolved: owed(&resolved),
        };
        let digest = Digest::new(&due, 10, 0);
        let parse = |lines: &[(String, Severity)]| -> Vec<Record> {
            lines
                .iter()
                .map(|(l, _)| Record::from_json(l).unwrap())
                .collect()
        };
        let expected = json!({
            "subject": digest.subject,
            "firing_count": 2,
            "resolved_count": 1,
            "firing": parse(&firing),
            "resolved": parse(&resolved),
        });
        assert_eq!(digest.json(), expected.to_string());
        let jsonl: String = digest.jsonl().collect();
        let expected: String = firing
            .iter()
            .chain(&resolved)
            .map(|(l, _)| format!("{l}\n"))
            .collect();
        assert_eq!(jsonl, expected);
    }
}
