//! Turning differences, problems and baseline entries into records: the
//! fields of `docs/records.md` and one sentence an operator can act on.

use secops_common::{Record, Severity};
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

pub fn event_record(event: &Event<'_>) -> Record {
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
    about("fim.error", ERROR_SEVERITY, message, &problem.path)
        .with("reason", reason)
        .with("error", problem.error.as_str())
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

/// `fim.baseline`: what a baseline holds, written by `show` before its
/// entries and by `init` and `update` once they wrote it (with `errors`,
/// the paths that could not be recorded), so a cron log shows the run.
pub fn header_record(header: &Header, file: &std::path::Path, counts: &Counts) -> Record {
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
