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

use std::fs;
use std::path::Path;

use jiff::Timestamp;
use secops_common::{Error, Record};

use crate::inventory::{Backup, scan};
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
    let plan = plan(&backups, policy, Timestamp::now())?;
    let mut failed = false;
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
/// and misleads no one, an archive left without its manifest would look
/// unfinished rather than pruned.
fn remove(backup: &Backup) -> std::io::Result<()> {
    fs::remove_file(&backup.path)?;
    match fs::remove_file(backup.manifest_path()) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}
