//! Turning differences, problems and baseline entries into records: the
//! fields of `docs/records.md` and one sentence an operator can act on.

use std::path::Path;
use std::time::Duration;

use secops_common::{Error, Record, Severity, Stage};
use serde_json::Value;

use crate::attrs::Attr;
use crate::baseline::Header;
use crate::diff::Event;
use crate::entry::{Entry, Kind};
use crate::names::{base64, shown, text_of};
use crate::scan::{Problem, ProblemKind};

pub const TOOL: &str = "fim-check";

/// The fields a table shows.
pub const TABLE_COLUMNS: [&str; 5] = ["severity", "kind", "path", "attributes", "message"];

/// Severity of `fim.error`: the file is unchecked, not known to be bad.
pub const ERROR_SEVERITY: Severity = Severity::Medium;

/// A record about `path`: `path` as text and, when the name is not UTF-8,
/// `path_b64` with its exact bytes.
fn about(kind: &str, severity: Severity, message: String, path: &[u8]) -> Record {
    let mut rec = Record::new(TOOL, kind, severity, message).with("path", text_of(path));
    if std::str::from_utf8(path).is_err() {
        rec.set("path_b64", base64(path));
    }
    rec
}

/// The alert parts of what is about `path` (`first` is `path` or
/// `error`): the path as text and, for a name that is not UTF-8, its exact
/// bytes too, so two names that read the same as text stay two alerts.
fn parts(first: &str, path: &[u8]) -> Vec<String> {
    let mut parts = vec![first.to_string(), text_of(path)];
    if std::str::from_utf8(path).is_err() {
        parts.push(base64(path));
    }
    parts
}

fn firing(rec: Record, parts: &[String]) -> Record {
    rec.firing(&parts.iter().map(String::as_str).collect::<Vec<_>>())
}

/// A difference: firing, one alert per path whatever the change (a change
/// then a removal is the same alert, its record updated), so that the
/// path's restoration or acceptance ends it.
pub fn event_record(event: &Event<'_>) -> Record {
    let rec = difference_record(event);
    firing(rec, &parts("path", event.path()))
}

fn difference_record(event: &Event<'_>) -> Record {
    match event {
        Event::Added(entry, rule) => {
            let mut rec = about(
                "fim.added",
                rule.severity,
                format!("{} was added ({})", shown(&entry.path), entry.kind.as_str()),
                &entry.path,
            );
            rec.set("type", entry.kind.as_str());
            for attr in [Attr::Mode, Attr::Uid, Attr::Gid, Attr::Size, Attr::Sha256] {
                rec.set(attr.as_str(), entry.value(attr));
            }
            rec.with("rule", rule.path.to_string_lossy())
        }
        Event::Removed(entry, rule) => about(
            "fim.removed",
            rule.severity,
            format!(
                "{} was removed ({})",
                shown(&entry.path),
                entry.kind.as_str()
            ),
            &entry.path,
        )
        .with("type", entry.kind.as_str())
        .with("rule", rule.path.to_string_lossy()),
        Event::Changed {
            old,
            new,
            attrs,
            rule,
        } => {
            let names: Vec<&str> = attrs.iter().map(|a| report_name(*a)).collect();
            let mut rec = about(
                "fim.changed",
                rule.severity,
                format!("{} changed: {}", shown(&new.path), names.join(", ")),
                &new.path,
            );
            rec.set("type", new.kind.as_str());
            rec.set(
                "attributes",
                Value::Array(names.iter().map(|n| Value::from(*n)).collect()),
            );
            for attr in attrs {
                let name = report_name(*attr);
                rec.set(&format!("old_{name}"), old.value(*attr));
                rec.set(&format!("new_{name}"), new.value(*attr));
            }
            rec.with("rule", rule.path.to_string_lossy())
        }
    }
}

/// `growing` is how a policy relaxes `size`; a record says `size`.
fn report_name(attr: Attr) -> &'static str {
    match attr {
        Attr::Growing => Attr::Size.as_str(),
        other => other.as_str(),
    }
}

pub fn problem_record(problem: &Problem) -> Record {
    let (reason, message) = match problem.kind {
        ProblemKind::Unreadable => (
            "unreadable",
            format!(
                "{} could not be read: {}",
                shown(&problem.path),
                problem.error
            ),
        ),
        ProblemKind::UnreadableDir => (
            "unreadable_dir",
            format!(
                "directory {} could not be listed, so nothing below it was checked: {}",
                shown(&problem.path),
                problem.error
            ),
        ),
        ProblemKind::ChangedDuringScan => (
            "changed_during_scan",
            format!(
                "{} kept changing while it was read, so its content was not checked",
                shown(&problem.path)
            ),
        ),
    };
    let rec = about("fim.error", ERROR_SEVERITY, message, &problem.path)
        .with("reason", reason)
        .with("error", problem.error.as_str());
    firing(rec, &parts("error", &problem.path))
}

/// `fim.baseline_invalid`: the baseline (or its key) cannot be trusted, so
/// nothing was compared. Critical and firing: an edited or deleted
/// baseline is how an intruder would silence the check, so it must page
/// rather than only print to stderr.
pub fn baseline_invalid_record(baseline: &Path, key: &Path, err: &Error) -> Record {
    let file = baseline.display().to_string();
    let message = match err.message.contains(&file) {
        true => format!("file integrity was not checked: {err}"),
        false => format!("file integrity was not checked against {file}: {err}"),
    };
    Record::new(TOOL, "fim.baseline_invalid", Severity::Critical, message)
        .with("baseline", baseline.to_string_lossy())
        .with("key", key.to_string_lossy())
        .with("error", err.message.as_str())
        .firing(&["baseline", &baseline.to_string_lossy()])
}

/// Why an alert of fim-check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The path is as the baseline records it again (or no longer watched).
    Restored,
    /// `update` (or `init --force`) took the path as it is into the baseline.
    Accepted,
    /// A path that could not be checked was checked.
    Checked,
    /// The baseline is trusted again.
    Valid,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Restored => "restored",
            Reason::Accepted => "accepted",
            Reason::Checked => "checked",
            Reason::Valid => "valid",
        }
    }
}

/// `fim.resolved`: the end of the alert `fired` raised (as remembered, or
/// as written in this run), severity info.
pub fn resolved_record(fired: &Record, reason: Reason, baseline: &Path) -> Record {
    let path = fired.fields.get("path").and_then(Value::as_str);
    let name = path.map(shown_text).unwrap_or_default();
    let was = fired.kind.as_str();
    let message = match reason {
        Reason::Restored => format!(
            "{name} is as the baseline records it again (it was reported as {})",
            was.trim_start_matches("fim.")
        ),
        Reason::Accepted => format!(
            "{name} was accepted into the baseline {} as it is now (it was reported as {})",
            baseline.display(),
            was.trim_start_matches("fim.")
        ),
        Reason::Checked => format!("{name} could be checked again"),
        Reason::Valid => format!(
            "baseline {} passes its checks again: file integrity is checked again",
            baseline.display()
        ),
    };
    let mut rec = Record::new(TOOL, "fim.resolved", Severity::Info, message);
    rec.set(
        "path",
        match reason {
            Reason::Valid => Value::from(baseline.to_string_lossy()),
            _ => path.map_or(Value::Null, Value::from),
        },
    );
    if let Some(b64) = fired.fields.get("path_b64") {
        rec.set("path_b64", b64.clone());
    }
    rec.set("was", was);
    rec.set("reason", reason.as_str());
    rec.set("baseline", baseline.to_string_lossy());
    let id = fired.alert_id().unwrap_or_default().to_string();
    rec.with_alert(Stage::Resolved, id)
}

/// A path's text for a sentence: control characters escaped, as
/// [`shown`] does for bytes.
fn shown_text(path: &str) -> String {
    shown(path.as_bytes())
}

/// What a baseline holds, for its summary.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub files: u64,
    pub dirs: u64,
    /// Bytes in regular files.
    pub bytes: u64,
}

impl Counts {
    pub fn of(entries: impl IntoIterator<Item = Entry>) -> Counts {
        let mut counts = Counts::default();
        entries.into_iter().for_each(|e| counts.add(&e));
        counts
    }

    pub fn add(&mut self, entry: &Entry) {
        match entry.kind {
            Kind::File => {
                self.files += 1;
                self.bytes += entry.size;
            }
            Kind::Dir => self.dirs += 1,
            _ => {}
        }
    }
}

/// `fim.summary`: what a verify checked and found, written last, so that
/// a clean run says "0 changed" and a cron log tells it from no run.
pub fn summary_record<'r>(
    checked: u64,
    events: &[Event],
    baseline_created: &str,
    found: impl IntoIterator<Item = &'r Record>,
    took: Duration,
) -> Record {
    let (mut added, mut removed, mut changed) = (0u64, 0u64, 0u64);
    for event in events {
        match event {
            Event::Added(..) => added += 1,
            Event::Removed(..) => removed += 1,
            Event::Changed { .. } => changed += 1,
        }
    }
    // What was found is a record per difference, then one per path that
    // could not be checked.
    let found: Vec<&Record> = found.into_iter().collect();
    let errors = (found.len() - events.len()) as u64;
    let message = format!(
        "verified {checked} entries against the baseline of {baseline_created}: \
         {changed} changed, {added} added, {removed} removed, {errors} not checked"
    );
    Record::summary(TOOL, "fim.summary", message, found, took)
        .with("checked", checked)
        .with("changed", changed)
        .with("added", added)
        .with("removed", removed)
        .with("errors", errors)
        .with("baseline_created", baseline_created)
}

/// `fim.baseline`: what a baseline holds, written by `show` before its
/// entries and by `init` and `update` once they wrote it (with `errors`,
/// the paths that could not be recorded), so a cron log shows the run.
pub fn header_record(header: &Header, file: &Path, counts: &Counts) -> Record {
    let Counts { files, dirs, bytes } = *counts;
    Record::new(
        TOOL,
        "fim.baseline",
        Severity::Info,
        format!(
            "baseline {} of {} entries ({files} files, {dirs} directories, {bytes} bytes) made on {} at {} from {}",
            file.display(),
            header.entries,
            header.host,
            header.created,
            header.policy_source
        ),
    )
    .with("baseline", file.to_string_lossy())
    .with("created", header.created.as_str())
    .with("baseline_host", header.host.as_str())
    .with("policy_source", header.policy_source.as_str())
    .with("entries", header.entries)
    .with("files", files)
    .with("dirs", dirs)
    .with("bytes", bytes)
    .with(
        "paths",
        Value::Array(
            header
                .policy
                .paths
                .iter()
                .map(|r| r.path.to_string_lossy().into())
                .collect(),
        ),
    )
}

/// `fim.entry`: one baseline entry, every attribute.
pub fn entry_record(entry: &Entry) -> Record {
    let mut rec = about(
        "fim.entry",
        Severity::Info,
        format!("{} ({})", shown(&entry.path), entry.kind.as_str()),
        &entry.path,
    );
    for attr in &Attr::ALL[..13] {
        rec.set(attr.as_str(), entry.value(*attr));
    }
    rec
}
