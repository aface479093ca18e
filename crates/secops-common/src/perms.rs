//! The modes of the files the tools create, set exactly: a new file gets
//! its mode by `fchmod` after it is created, so the umask of the cron job,
//! unit or shell that ran the tool neither widens it (`umask 000` made
//! alert logs 0666) nor narrows it (`umask 077` made Prometheus textfiles
//! 0600, which node_exporter, running as its own user, cannot read).
//!
//! | what | mode |
//! |---|---|
//! | state (baselines, last-run memory, ledgers, keys) | [`STATE`] 0600 |
//! | reports and records written with `-o`, appended logs | [`REPORT`], [`LOG`] 0640 |
//! | Prometheus textfiles, man pages, completions | [`PUBLIC`] 0644 |
//! | directories the tools create for their files | [`DIR`] 0750 (state: 0700) |
//!
//! The group of a 0640 file is the writer's primary group (root's, under
//! cron and the units), or the directory's when the directory is setgid:
//! `scripts/install` makes `/var/log/secops` `root:adm` 2750, so the
//! operators in `adm` read the logs, as they read `/var/log` on Debian.
//!
//! A file that already exists keeps its mode when it is rewritten (an
//! operator's `chmod 600 report.json`, or `chmod 644` to publish it),
//! less set-user-ID, set-group-ID and sticky bits, and its group where the
//! writer may give it (else the group loses its access): a rewrite never
//! widens who can read it. See [`crate::atomic`] and [`crate::append`].

use std::fs::{DirBuilder, File, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

/// State: readable and writable by its owner only.
pub const STATE: u32 = 0o600;
/// Reports and records written with `-o`: the owner writes, the group reads.
pub const REPORT: u32 = 0o640;
/// Appended logs (disk-alert's alert log, secops's central log).
pub const LOG: u32 = 0o640;
/// Read by other users: Prometheus textfiles (node_exporter runs as its
/// own user), man pages and completion scripts.
pub const PUBLIC: u32 = 0o644;
/// Directories the tools create to hold reports and logs.
pub const DIR: u32 = 0o750;

/// Gives `file` exactly `mode` (permission bits only).
pub fn set_exact(file: &File, mode: u32) -> io::Result<()> {
    file.set_permissions(Permissions::from_mode(mode & 0o777))
}

/// The mode a rewrite of a file with `meta` keeps: its permission bits,
/// without set-user-ID, set-group-ID and sticky (a root-owned copy of an
/// operator's set-user-ID file must not be one).
pub fn kept_mode(meta: &std::fs::Metadata) -> u32 {
    meta.mode() & 0o777
}

/// Gives the new `file` (written in place of a file with `meta`) the old
/// file's group and `mode`. When the writer may not give that group, the
/// group loses its access instead, so no one reads the new file who could
/// not read the old.
pub fn keep_group(file: &File, meta: &std::fs::Metadata, mode: u32) -> io::Result<()> {
    let current = file.metadata()?.gid();
    let mode = if current == meta.gid()
        || std::os::unix::fs::fchown(file, None, Some(meta.gid())).is_ok()
    {
        mode
    } else {
        mode & !0o070
    };
    // After fchown, which may clear bits.
    set_exact(file, mode)
}

/// Creates `dir` and its missing parents, each `mode` at most (the umask
/// may narrow a directory, never widen it). An existing directory is left
/// as it is.
pub fn create_dir_all(dir: &Path, mode: u32) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new().recursive(true).mode(mode).create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_are_never_wider_than_asked() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/c");
        create_dir_all(&deep, DIR).unwrap();
        for d in [dir.path().join("a"), dir.path().join("a/b"), deep] {
            let mode = std::fs::metadata(&d).unwrap().mode() & 0o777;
            assert_eq!(mode & !DIR, 0, "{} is {mode:o}", d.display());
        }
    }

    #[test]
    fn a_rewrite_keeps_no_special_bits() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        std::fs::set_permissions(&file, Permissions::from_mode(0o4755)).unwrap();
        assert_eq!(kept_mode(&std::fs::metadata(&file).unwrap()), 0o755);
    }
}
