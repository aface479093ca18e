//! The records backup-rotate writes (see docs/backup-rotate.md): one
//! sentence an operator can act on, then the figures.

use std::path::Path;
use std::time::Duration;

use secops_common::{Record, Severity};

use crate::manifest::Manifest;

pub const TOOL: &str = "backup-rotate";

/// The fields a table shows.
pub const TABLE_COLUMNS: [&str; 8] = [
    "severity",
    "kind",
    "archive",
    "created",
    "archive_bytes",
    "ratio",
    "reasons",
    "message",
];

/// `backup.created`: a new archive that was read back and verified.
pub fn created(dir: &Path, m: &Manifest) -> Record {
    let mut rec = Record::new(
        TOOL,
        "backup.created",
        if m.unreadable > 0 {
            Severity::Medium
        } else {
            Severity::Info
        },
        format!(
            "backed up {} files ({}) to {} ({}, {:.2}x) in {:.1}s and verified it{}",
            m.files,
            size(m.bytes),
            m.archive,
            size(m.archive_bytes),
            ratio(m),
            m.duration_ms as f64 / 1000.0,
            match m.unreadable {
                0 => String::new(),
                n => format!("; {n} unreadable paths are missing from it"),
            }
        ),
    );
    manifest_fields(&mut rec, dir, m);
    // backup-rotate keeps no memory between runs: every good backup ends
    // the alert of one that failed into the same place, if there was one.
    rec.resolved(&["create", &dir.display().to_string()])
}

/// `backup.verified`: an archive matched its manifest.
pub fn verified(path: &Path, m: &Manifest, took: Duration) -> Record {
    let mut rec = Record::new(
        TOOL,
        "backup.verified",
        Severity::Info,
        format!(
            "{} matches its manifest ({} entries, SHA-256 {})",
            path.display(),
            m.entries,
            &m.archive_sha256[..12]
        ),
    );
    manifest_fields(&mut rec, path.parent().unwrap_or(Path::new(".")), m);
    rec.set("duration_ms", took.as_millis() as u64);
    rec.resolved(&["verify", &path.display().to_string()])
}

/// `backup.failed`: a backup that was not made (into `dest`), or an archive
/// that does not verify, restore or prune. High: the operator may have no
/// good copy. An alert of its own for each stage and archive (or
/// destination, for a backup never made), so two backup jobs failing are
/// two alerts.
pub fn failed(stage: &str, archive: Option<&Path>, dest: Option<&Path>, error: &str) -> Record {
    let what = match archive {
        Some(path) => format!("{stage} of {} failed: {error}", path.display()),
        None => format!("{stage} failed: {error}"),
    };
    let about = archive.or(dest).map(|p| p.display().to_string());
    Record::new(TOOL, "backup.failed", Severity::High, what)
        .with("stage", stage)
        .with("archive", archive.map(|p| p.display().to_string()))
        .with("error", error)
        .firing(&[stage, about.as_deref().unwrap_or_default()])
}

/// `backup.failed` (stage `restore`) for a restore that put everything in
/// place but some entries it could not make (device nodes without root):
/// the first few are named (names cut to 100 bytes), all are counted.
pub fn not_restored(
    archive: &Path,
    to: &Path,
    entries: u64,
    unmade: &[(Vec<u8>, String)],
) -> Record {
    const NAMED: usize = 5;
    let mut named: Vec<String> = unmade
        .iter()
        .take(NAMED)
        .map(|(name, why)| format!("{}: {why}", crate::limits::show(name)))
        .collect();
    if unmade.len() > NAMED {
        named.push(format!("and {} more", unmade.len() - NAMED));
    }
    let error = format!(
        "{} of {entries} entries could not be made (the rest are restored into {}): {}",
        unmade.len(),
        to.display(),
        named.join("; ")
    );
    failed("restore", Some(archive), None, &error)
        .with("to", to.display().to_string())
        .with("entries", entries)
        .with("not_restored", unmade.len() as u64)
}

/// `backup.unreadable`: a path left out of (or incomplete in) the backup.
pub fn unreadable(path: &Path, error: &str) -> Record {
    Record::new(
        TOOL,
        "backup.unreadable",
        Severity::Medium,
        format!("{} was not backed up: {error}", path.display()),
    )
    .with("path", path.display().to_string())
    .with("error", error)
    .firing(&["unreadable", &path.display().to_string()])
}

/// `backup.changed`: a file that changed while it was read.
pub fn changed(path: &Path, what: &str) -> Record {
    Record::new(
        TOOL,
        "backup.changed",
        Severity::Low,
        format!("{}: {what}", path.display()),
    )
    .with("path", path.display().to_string())
    .with("change", what)
}

/// `backup.kept` / `backup.pruned`: one per backup that prune considered.
pub fn retention(
    path: &Path,
    created: &str,
    archive_bytes: u64,
    reasons: &[String],
    dry_run: bool,
) -> Record {
    let name = path.display();
    let (kind, message) = if reasons.is_empty() {
        let verb = if dry_run { "would remove" } else { "removed" };
        (
            "backup.pruned",
            format!("{verb} {name}: no retention rule keeps it"),
        )
    } else {
        (
            "backup.kept",
            format!("kept {name}: {}", reasons.join(", ")),
        )
    };
    Record::new(TOOL, kind, Severity::Info, message)
        .with("archive", name.to_string())
        .with("created", created)
        .with("archive_bytes", archive_bytes)
        .with("reasons", reasons.to_vec())
        .with("dry_run", dry_run)
}

/// `backup.pruned` for an orphan manifest: one whose archive is gone (a
/// prune or create was killed between the two), removed by a later prune.
/// The prune that deleted the archive never got to say so: this is that
/// record, late.
pub fn orphan_pruned(
    manifest: &Path,
    archive: &Path,
    created: &str,
    archive_bytes: u64,
    dry_run: bool,
) -> Record {
    let verb = if dry_run { "would remove" } else { "removed" };
    Record::new(
        TOOL,
        "backup.pruned",
        Severity::Info,
        format!(
            "{verb} {}: its archive is gone (an interrupted prune or create left the manifest behind)",
            manifest.display()
        ),
    )
    .with("archive", archive.display().to_string())
    .with("created", created)
    .with("archive_bytes", archive_bytes)
    .with("reasons", Vec::<String>::new())
    .with("dry_run", dry_run)
    .with("orphan_manifest", manifest.display().to_string())
}

/// `backup.kept` for a file that is named like one of NAME's archives but
/// has no manifest: not made by backup-rotate (or never finished), so
/// prune never deletes it.
pub fn not_ours(path: &Path, created: &str, archive_bytes: u64, dry_run: bool) -> Record {
    Record::new(
        TOOL,
        "backup.kept",
        Severity::Info,
        format!(
            "kept {}: it has no manifest, so it is not a backup-rotate archive and prune never deletes it",
            path.display()
        ),
    )
    .with("archive", path.display().to_string())
    .with("created", created)
    .with("archive_bytes", archive_bytes)
    .with("reasons", vec!["not ours: no manifest".to_string()])
    .with("dry_run", dry_run)
    .with("manifest", false)
}

/// `backup.archive`: one line of `list`.
pub fn listed(path: &Path, created: &str, archive_bytes: u64, m: Option<&Manifest>) -> Record {
    let message = match m {
        Some(m) => format!(
            "{}: {} files, {} in {}",
            path.display(),
            m.files,
            size(m.bytes),
            size(archive_bytes)
        ),
        None => format!("{}: no manifest, not a finished backup", path.display()),
    };
    let mut rec = Record::new(
        TOOL,
        "backup.archive",
        if m.is_some() {
            Severity::Info
        } else {
            Severity::Medium
        },
        message,
    )
    .with("archive", path.display().to_string())
    .with("created", created)
    .with("archive_bytes", archive_bytes)
    .with("manifest", m.is_some());
    if let Some(m) = m {
        rec.set("files", m.files);
        rec.set("bytes", m.bytes);
        rec.set("ratio", round2(ratio(m)));
        rec.set("archive_sha256", m.archive_sha256.as_str());
    }
    rec
}

fn manifest_fields(rec: &mut Record, dir: &Path, m: &Manifest) {
    rec.set("archive", dir.join(&m.archive).display().to_string());
    rec.set("name", m.name.as_str());
    rec.set("created", m.created.as_str());
    rec.set("sources", m.sources.clone());
    rec.set("compression", m.compression.as_str());
    rec.set("level", m.level);
    rec.set("entries", m.entries);
    rec.set("files", m.files);
    rec.set("dirs", m.dirs);
    rec.set("symlinks", m.symlinks);
    rec.set("hardlinks", m.hardlinks);
    rec.set("bytes", m.bytes);
    rec.set("tar_bytes", m.tar_bytes);
    rec.set("archive_bytes", m.archive_bytes);
    rec.set("ratio", round2(ratio(m)));
    rec.set("archive_sha256", m.archive_sha256.as_str());
    rec.set("unreadable", m.unreadable);
    rec.set("changed", m.changed);
    rec.set("duration_ms", m.duration_ms);
}

/// Compression ratio as zstd and pigz print it: uncompressed / compressed.
pub fn ratio(m: &Manifest) -> f64 {
    m.tar_bytes as f64 / m.archive_bytes.max(1) as f64
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secops_common::{Alerting, Stage};

    #[test]
    fn a_failed_backup_is_one_alert_per_stage_and_destination() {
        let a = failed("create", None, Some(Path::new("/backup/a")), "disk full");
        let again = failed("create", None, Some(Path::new("/backup/a")), "no space");
        let b = failed("create", None, Some(Path::new("/backup/b")), "disk full");
        assert!(matches!(a.alerting(), Alerting::Alert(Stage::Firing, _)));
        assert_eq!(a.alert_id(), again.alert_id());
        assert_ne!(a.alert_id(), b.alert_id());
        let verify = failed("verify", Some(Path::new("/backup/a")), None, "bad");
        assert_ne!(a.alert_id(), verify.alert_id());
        assert!(
            unreadable(Path::new("/etc/shadow"), "denied")
                .alert_id()
                .is_some()
        );
        assert_eq!(
            changed(Path::new("/var/log/x"), "grew").alerting(),
            Alerting::Observation
        );
    }
}
