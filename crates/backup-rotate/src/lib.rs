//! backup-rotate: timestamped tar backups that stock `tar xzf` restores,
//! compressed on every core, verified before they get their final name,
//! and rotated with restic's retention rules.
//!
//! Records: `backup.created`, `backup.verified`, `backup.failed`,
//! `backup.kept`, `backup.pruned`, `backup.archive` (list),
//! `backup.unreadable`, `backup.changed`, `backup.restored`.
//!
//! Metrics (`--prom-file`, see `metrics.rs`): per backup set in the
//! destination, the newest complete backup's time and size and how many
//! complete backups there are, written after a run that did not fail.

mod archive;
pub mod cli;
pub mod compress;
mod create;
mod digest;
mod inventory;
mod limits;
mod manifest;
mod metrics;
pub mod naming;
mod progress;
mod prune;
mod readback;
mod records;
mod restore;
pub mod retention;
mod temps;
mod verify;

use std::path::PathBuf;

use secops_common::{Error, Exit, Output, Record, Severity};

use crate::archive::Problem;
pub use crate::cli::Args;
use crate::cli::{Command, CreateArgs, ListArgs, PruneArgs, RestoreArgs, VerifyArgs};
use crate::create::CreateError;
use crate::records::TABLE_COLUMNS;
pub use crate::records::TOOL;
use crate::retention::Policy;

/// Restores `archive` into `to` as `restore --no-manifest` does (its
/// manifest is read only when it is there), then reads it back as `verify`
/// does: the entry point of the fuzz targets and tests. Returns the
/// number of entries restored.
pub fn restore_and_read_back(
    archive: &std::path::Path,
    to: &std::path::Path,
) -> Result<u64, String> {
    let restored = restore::restore(archive, to, false)?;
    readback::read_back(archive, digest::Algorithm::Blake3).map_err(|err| err.to_string())?;
    Ok(restored.entries)
}

/// Parses manifest text (JSON) and checks it as `verify` and `restore`
/// do before they trust it: the entry point of the fuzz targets and tests.
pub fn check_manifest(text: &str) -> Result<(), String> {
    let manifest: manifest::Manifest =
        secops_common::config::parse(text, secops_common::config::Syntax::Json)?;
    manifest.entries_digest().map(drop)
}

/// Runs backup-rotate as the command line asks.
pub fn run(args: &Args) -> Result<Exit, Error> {
    let metrics_dest = metrics_dest(args)?;
    let mut out = Output::open(&args.common.output_spec(&TABLE_COLUMNS)?)?;
    // Archives this run's verify found bad: no longer good backups.
    let mut bad = Vec::new();
    let failed = match &args.command {
        Command::Create(create) => run_create(create, &mut out)?,
        Command::Prune(prune) => run_prune(prune, &mut out)?,
        Command::List(list) => run_list(list, &mut out)?,
        Command::Verify(verify) => run_verify(verify, &mut out, &mut bad)?,
        Command::Restore(restore) => run_restore(restore, &mut out)?,
    };
    let findings = out.take_findings();
    let written = out.finish()?;
    // A failed run (exit 3) leaves the metrics file as it was, so
    // backup_rotate_last_success_timestamp_seconds ages.
    if let Some(dest) = metrics_dest.filter(|_| !failed) {
        args.prom
            .write(TOOL, &findings, metrics::exposition(dest, &bad)?)?;
    }
    Ok(Exit::of_run(failed, written.worst, args.common.fail_on))
}

/// The destination whose backups `--prom-file` describes, checked before
/// anything is done: a command without one cannot write the metrics.
fn metrics_dest(args: &Args) -> Result<Option<&std::path::Path>, Error> {
    if args.prom.prom_file.is_none() {
        return Ok(None);
    }
    let dest = match &args.command {
        Command::Create(create) => Some(&create.dest),
        Command::Prune(prune) => Some(&prune.dest),
        Command::List(list) => Some(&list.dest),
        Command::Verify(verify) => verify.dest.as_ref(),
        Command::Restore(_) => None,
    };
    dest.map(|d| Some(d.as_path())).ok_or_else(|| {
        Error::bad_input(
            "--prom-file describes the backups in a --dest: give it to create, prune, list or verify --dest",
        )
    })
}

/// Returns whether the run failed (exit 3).
fn run_create(args: &CreateArgs, out: &mut Output) -> Result<bool, Error> {
    let policy = Policy::from_args(&args.policy);
    if args.prune && policy.is_empty() {
        return Err(Error::bad_input(
            "--prune needs a policy: --keep-last, --keep-daily, ..., --keep-within or --max-age",
        ));
    }
    let created = match create::create(args) {
        Ok(created) => created,
        Err(CreateError::Usage(err)) => return Err(err),
        Err(CreateError::Failed(error)) => {
            secops_common::diag::error(format_args!("{error}"));
            out.write(&records::failed("create", None, Some(&args.dest), &error))?;
            if args.prune {
                secops_common::warn!("not pruning: the new backup failed");
            }
            return Ok(true);
        }
    };
    secops_common::info!("wrote {}", created.path.display());
    for problem in &created.problems {
        out.write(&match problem {
            Problem::Unreadable { path, error } => records::unreadable(path, error),
            Problem::Changed { path, what } => records::changed(path, what),
        })?;
    }
    out.write(&records::created(&args.dest, &created.manifest))?;
    let incomplete = created.manifest.unreadable > 0;
    let mut failed = incomplete;
    if args.prune {
        if incomplete {
            secops_common::warn!(
                "not pruning: {} paths could not be read, so older backups may hold data the new one lacks",
                created.manifest.unreadable
            );
        } else {
            failed |= prune::prune(
                &args.dest,
                &created.manifest.name,
                &policy,
                args.policy.dry_run,
                |rec| out.write(&rec),
            )?;
        }
    }
    Ok(failed)
}

fn run_prune(args: &PruneArgs, out: &mut Output) -> Result<bool, Error> {
    naming::check_name(&args.name).map_err(Error::bad_input)?;
    prune::prune(
        &args.dest,
        &args.name,
        &Policy::from_args(&args.policy),
        args.policy.dry_run,
        |rec| out.write(&rec),
    )
}

fn run_list(args: &ListArgs, out: &mut Output) -> Result<bool, Error> {
    for backup in inventory::scan(&args.dest, args.name.as_deref())? {
        out.write(&records::listed(
            &backup.path,
            &backup.created(),
            backup.archive_bytes,
            backup.manifest.as_ref().filter(|_| backup.verified()),
        ))?;
    }
    Ok(false)
}

fn run_verify(args: &VerifyArgs, out: &mut Output, bad: &mut Vec<PathBuf>) -> Result<bool, Error> {
    let archives: Vec<PathBuf> = match &args.dest {
        Some(dest) => inventory::scan(dest, args.name.as_deref())?
            .into_iter()
            .map(|b| b.path)
            .chain(args.archives.iter().cloned())
            .collect(),
        None => args.archives.clone(),
    };
    for archive in &archives {
        secops_common::info!("verifying {}", archive.display());
        let rec = match verify::verify(archive) {
            Ok((manifest, took)) => records::verified(archive, &manifest, took),
            Err(error) => {
                bad.push(archive.clone());
                records::failed("verify", Some(archive), None, &error)
            }
        };
        out.write(&rec)?;
    }
    // A bad archive is a finding (high), not a failure of the run.
    Ok(false)
}

fn run_restore(args: &RestoreArgs, out: &mut Output) -> Result<bool, Error> {
    match restore::restore(&args.archive, &args.to, !args.no_manifest) {
        Ok(restored) if !restored.unmade.is_empty() => {
            out.write(&records::not_restored(
                &args.archive,
                &args.to,
                restored.entries,
                &restored.unmade,
            ))?;
            Ok(true)
        }
        Ok(restored) => {
            out.write(
                &Record::new(
                    TOOL,
                    "backup.restored",
                    Severity::Info,
                    format!(
                        "restored {} entries of {} into {}{}",
                        restored.entries,
                        args.archive.display(),
                        args.to.display(),
                        if restored.verified {
                            ", checked against its manifest first"
                        } else {
                            " (no manifest to check it against)"
                        }
                    ),
                )
                .with("archive", args.archive.display().to_string())
                .with("to", args.to.display().to_string())
                .with("entries", restored.entries)
                .with("verified", restored.verified),
            )?;
            Ok(false)
        }
        Err(error) => {
            out.write(&records::failed(
                "restore",
                Some(&args.archive),
                None,
                &error,
            ))?;
            Ok(true)
        }
    }
}
