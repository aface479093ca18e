//! `--prom-file`: what a run that did not fail writes for node_exporter's
//! textfile collector, besides the findings and last success every tool
//! writes. "My backups stopped" is the alert operators want most, so the
//! figures come from the destination itself (the inventory `list` reads),
//! not from the run that just happened: a `prune` or `list` after a failed
//! `create` still says when the newest good backup was made.
//!
//! Every backup set (NAME) in the destination is described, whatever
//! `--name` the run was given, so the jobs of several sets sharing one
//! destination and one file never drop each other's series.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secops_common::Error;
use secops_common::prom::Exposition;

use crate::inventory::{self, Backup};

/// A backup that counts: finished and verified when it was made (a
/// manifest naming it at its size), with every path read (a backup missing
/// unreadable files is not complete), and not found bad by this run's
/// `verify` (`bad`).
fn complete(backup: &Backup, bad: &[PathBuf]) -> bool {
    backup.verified()
        && backup.manifest.as_ref().is_some_and(|m| m.unreadable == 0)
        && !bad.iter().any(|b| same_file(b, &backup.path))
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(a), Ok(b)) if a == b
        )
}

/// The per-set families for the backups in `dest`.
pub fn exposition(dest: &Path, bad: &[PathBuf]) -> Result<Exposition, Error> {
    Ok(render(&inventory::scan(dest, None)?, bad))
}

/// One set's figures: the newest complete backup and how many there are.
#[derive(Default)]
struct Set<'a> {
    newest: Option<&'a Backup>,
    complete: u64,
}

/// `backups` newest first, as [`inventory::scan`] returns them.
fn render(backups: &[Backup], bad: &[PathBuf]) -> Exposition {
    let mut sets: BTreeMap<&str, Set> = BTreeMap::new();
    for backup in backups {
        let set = sets.entry(backup.name.name.as_str()).or_default();
        if complete(backup, bad) {
            set.complete += 1;
            set.newest.get_or_insert(backup);
        }
    }
    let mut metrics = Exposition::default();
    for (name, set) in &sets {
        let Some(newest) = set.newest else { continue };
        metrics
            .gauge(
                "backup_rotate_last_backup_timestamp_seconds",
                "When the newest complete, verified backup of the set was made (its name's UTC time), in seconds since the epoch.",
            )
            .sample(&[("name", name)], newest.name.time.as_second() as f64);
    }
    for (name, set) in &sets {
        let Some(newest) = set.newest else { continue };
        metrics
            .gauge(
                "backup_rotate_last_backup_size_bytes",
                "Size on disk of the newest complete, verified backup's archive.",
            )
            .sample(&[("name", name)], newest.archive_bytes as f64);
    }
    for (name, set) in &sets {
        metrics
            .gauge(
                "backup_rotate_backups",
                "Complete, verified backups of the set in the destination.",
            )
            .sample(&[("name", name)], set.complete as f64);
    }
    metrics
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress::Compression;
    use crate::manifest::{FORMAT, Manifest};
    use crate::naming::ArchiveName;

    fn backup(name: &str, time: &str, bytes: u64, manifest: Option<u64>) -> Backup {
        let name = ArchiveName {
            name: name.to_string(),
            time: time.parse().unwrap(),
            seq: 0,
            compression: Compression::Gzip,
        };
        Backup {
            path: PathBuf::from("/b").join(name.file_name()),
            manifest: manifest.map(|unreadable| Manifest {
                format: FORMAT,
                tool: "backup-rotate".into(),
                version: "0".into(),
                name: name.name.clone(),
                archive: name.file_name(),
                created: time.into(),
                host: "h".into(),
                compression: Compression::Gzip,
                level: 6,
                sources: vec![],
                excludes: vec![],
                one_file_system: false,
                entries: 1,
                files: 1,
                dirs: 0,
                symlinks: 0,
                hardlinks: 0,
                bytes: 1,
                tar_bytes: 1024,
                archive_bytes: bytes,
                archive_sha256: String::new(),
                entries_sha256: None,
                entries_blake3: Some(String::new()),
                unreadable,
                changed: 0,
                duration_ms: 0,
            }),
            name,
            archive_bytes: bytes,
        }
    }

    #[test]
    fn the_newest_complete_backup_of_each_set_counts() {
        let backups = [
            // Newest first: no manifest, then one missing files, then good.
            backup("etc", "2026-12-07T03:00:00Z", 50, None),
            backup("etc", "2026-12-06T03:00:00Z", 60, Some(2)),
            backup("etc", "2026-12-05T03:00:00Z", 70, Some(0)),
            backup("etc", "2026-12-04T03:00:00Z", 80, Some(0)),
            backup("web-db", "2026-12-07T01:00:00Z", 90, Some(0)),
            backup("broken", "2026-12-07T01:00:00Z", 10, None),
        ];
        let text = render(&backups, &[]).render();
        let etc = 1_796_439_600; // 2026-12-05T03:00:00Z
        let web = 1_796_605_200; // 2026-12-07T01:00:00Z
        assert_eq!(
            text,
            format!(
                "# HELP backup_rotate_last_backup_timestamp_seconds When the newest complete, verified backup of the set was made (its name's UTC time), in seconds since the epoch.\n\
                 # TYPE backup_rotate_last_backup_timestamp_seconds gauge\n\
                 backup_rotate_last_backup_timestamp_seconds{{name=\"etc\"}} {etc}\n\
                 backup_rotate_last_backup_timestamp_seconds{{name=\"web-db\"}} {web}\n\
                 # HELP backup_rotate_last_backup_size_bytes Size on disk of the newest complete, verified backup's archive.\n\
                 # TYPE backup_rotate_last_backup_size_bytes gauge\n\
                 backup_rotate_last_backup_size_bytes{{name=\"etc\"}} 70\n\
                 backup_rotate_last_backup_size_bytes{{name=\"web-db\"}} 90\n\
                 # HELP backup_rotate_backups Complete, verified backups of the set in the destination.\n\
                 # TYPE backup_rotate_backups gauge\n\
                 backup_rotate_backups{{name=\"broken\"}} 0\n\
                 backup_rotate_backups{{name=\"etc\"}} 2\n\
                 backup_rotate_backups{{name=\"web-db\"}} 1\n"
            )
        );
        // An archive this run's verify found bad no longer counts.
        let bad = [backups[2].path.clone()];
        let text = render(&backups, &bad).render();
        assert!(
            text.contains("backup_rotate_last_backup_size_bytes{name=\"etc\"} 80\n")
                && text.contains("backup_rotate_backups{name=\"etc\"} 1\n"),
            "{text}"
        );
    }
}
