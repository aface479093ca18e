//! Deleting old backups by a policy, with rules that no policy can
//! override:
//!
//! - an empty policy is refused (it would delete everything);
//! - only files whose names parse as NAME's archives are considered, and
//!   of those only the ones with their manifest: a file that merely
//!   matches the name pattern (an operator's own copy, another tool's
//!   file) is not ours, is kept, and gets a `backup.kept` record saying so;
//! - the newest backup that verified (manifest present, size matching) is
//!   always kept, and nothing is deleted when no backup verified;
//! - `create --prune` does not prune when the new backup failed or is
//!   missing files (see lib.rs).
//!
//! A backup is deleted archive first, then manifest, so a prune killed in
//! between leaves a manifest whose archive is gone (as does a create killed
//! between linking its manifest and its archive). The next prune that goes
//! ahead removes NAME's such orphan manifests, each with a `backup.pruned`
//! record naming it, unless a live create holds it (its `flock`: it is
//! about to link the archive).

use std::fs::{self, File};
use std::io;
use std::path::Path;

use jiff::Timestamp;
use nix::fcntl::{Flock, FlockArg};
use secops_common::{Error, Record};

use crate::inventory::{Backup, Orphan, orphan_manifests, scan};
use crate::records;
use crate::retention::{Policy, reasons};

/// The plan for each backup, newest first: why it is kept (empty: it goes).
pub fn plan(
    backups: &[Backup],
    policy: &Policy,
    now: Timestamp,
) -> Result<Vec<Vec<String>>, Error> {
    if policy.is_empty() {
        return Err(Error::bad_input(
            "refusing to prune with an empty policy (it would delete every backup): give --keep-last, --keep-daily, ..., --keep-within or --max-age",
        ));
    }
    let times: Vec<Timestamp> = backups.iter().map(|b| b.name.time).collect();
    let mut plan = reasons(&times, policy, now);
    match backups.iter().position(Backup::verified) {
        Some(newest) => plan[newest].push("newest verified backup".to_string()),
        None if !backups.is_empty() => {
            return Err(Error::failed(
                "no backup here has a manifest matching its archive; refusing to delete anything",
            ));
        }
        None => {}
    }
    Ok(plan)
}

/// Applies the policy to NAME's backups in `dir`, returning one record per
/// backup; the error is the first deletion that failed (the rest go on).
pub fn prune(
    dir: &Path,
    name: &str,
    policy: &Policy,
    dry_run: bool,
    mut emit: impl FnMut(Record) -> Result<(), Error>,
) -> Result<bool, Error> {
    let (backups, foreign): (Vec<Backup>, Vec<Backup>) = scan(dir, Some(name))?
        .into_iter()
        .partition(|b| b.manifest.is_some());
    for stranger in &foreign {
        emit(records::not_ours(
            &stranger.path,
            &stranger.created(),
            stranger.archive_bytes,
            dry_run,
        ))?;
    }
    let orphans = orphan_manifests(dir, name)?;
    let plan = plan(&backups, policy, Timestamp::now())?;
    let mut failed = false;
    for orphan in &orphans {
        let removed = match dry_run {
            true => Ok(true),
            false => remove_orphan(orphan),
        };
        match removed {
            Ok(true) => emit(records::orphan_pruned(
                &orphan.path,
                &orphan.archive,
                &orphan.name.time.to_string(),
                orphan.manifest.archive_bytes,
                dry_run,
            ))?,
            Ok(false) => {}
            Err(err) => {
                failed = true;
                emit(records::failed(
                    "prune",
                    Some(&orphan.archive),
                    None,
                    &format!(
                        "cannot remove its orphan manifest {} (the archive is gone): {err}",
                        orphan.path.display()
                    ),
                ))?;
            }
        }
    }
    for (backup, why) in backups.iter().zip(plan) {
        if why.is_empty() && !dry_run {
            if let Err(err) = remove(backup) {
                failed = true;
                emit(records::failed(
                    "prune",
                    Some(&backup.path),
                    None,
                    &err.to_string(),
                ))?;
                continue;
            }
        }
        emit(records::retention(
            &backup.path,
            &backup.created(),
            backup.archive_bytes,
            &why,
            dry_run,
        ))?;
    }
    Ok(failed)
}

/// The archive first: a manifest left alone by a crash describes nothing
/// and misleads no one (the next prune removes it), an archive left
/// without its manifest would look unfinished rather than pruned.
fn remove(backup: &Backup) -> io::Result<()> {
    fs::remove_file(&backup.path)?;
    match fs::remove_file(backup.manifest_path()) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Removes an orphan manifest, unless a live create holds its lock (it
/// linked the manifest and is about to link the archive) or the archive
/// has appeared since the directory was read. Returns whether it went.
fn remove_orphan(orphan: &Orphan) -> io::Result<bool> {
    let file = match File::open(&orphan.path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(err),
    };
    let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
            secops_common::info!(
                "left {} alone: a running create holds it",
                orphan.path.display()
            );
            return Ok(false);
        }
        // No locks here (NFS mounted nolock): a live create cannot be
        // told from a dead one, so the manifest stays, as temps.rs does.
        Err((_, errno)) => {
            secops_common::warn!(
                "left {}, whose archive is gone, alone: cannot lock it to tell whether a create is still writing it ({errno})",
                orphan.path.display()
            );
            return Ok(false);
        }
    };
    match fs::symlink_metadata(&orphan.archive) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        _ => return Ok(false),
    }
    let removed = fs::remove_file(&orphan.path);
    drop(lock);
    match removed {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}
