//! backup-rotate's command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args as ClapArgs, Parser, Subcommand};
use secops_common::cli::{CommonArgs, PromArgs, parse_duration};

use crate::compress::Compression;

const EXAMPLES: &str = "\
Examples:
  backup-rotate create --source /etc --source /var/www --dest /backup --name web
  backup-rotate create --source /srv --dest /backup --exclude '*.cache' --compression zstd
  backup-rotate create --source /etc --dest /backup --name etc --prune --keep-daily 7 --keep-weekly 4
  backup-rotate prune --dest /backup --name etc --keep-last 3 --max-age 30d --dry-run
  backup-rotate list --dest /backup --name etc --format table
  backup-rotate verify /backup/etc-20261121T190200Z.tar.gz
  backup-rotate restore /backup/etc-20261121T190200Z.tar.gz --to /tmp/etc-restore
  backup-rotate create -s /etc -d /backup -n etc --prom-file /var/lib/prometheus/node-exporter/backup-rotate.prom

Archives are NAME-YYYYMMDDTHHMMSSZ.tar.gz (UTC; a _NN suffix when two runs
share a second), each with NAME-...tar.gz.manifest.json beside it. An archive
appears only after it was read back and verified; one without a manifest is
not a good backup. Exit status: 0 done, 1 a record at or above --fail-on
(a failed backup or verification is high), 2 bad usage, 3 the run failed or
some files could not be read (the rest was still backed up).

--prom-file (create, prune, list, verify --dest): after a run that did not
fail, the newest complete backup's time and size and the number of complete
backups of every NAME in --dest, for node_exporter's textfile collector.";

/// Timestamped, verified, compressed backups with restic-grade retention.
#[derive(Debug, Clone, Parser)]
#[command(name = "backup-rotate", version, after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,

    #[command(flatten)]
    pub common: CommonArgs,

    #[command(flatten)]
    pub prom: PromArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Write a new verified backup of the sources (and optionally prune)
    Create(CreateArgs),
    /// Delete old backups by a retention policy
    Prune(PruneArgs),
    /// List the backups in a destination
    List(ListArgs),
    /// Re-read backups and check them against their manifests
    Verify(VerifyArgs),
    /// Extract a backup into a directory, refusing entries that escape it
    Restore(RestoreArgs),
}

#[derive(Debug, Clone, ClapArgs)]
pub struct CreateArgs {
    /// Directory (or file) to back up; repeatable
    #[arg(short, long = "source", value_name = "DIR", required = true)]
    pub sources: Vec<PathBuf>,

    /// Directory the archives are written to
    #[arg(short, long, value_name = "DIR")]
    pub dest: PathBuf,

    /// Archive name prefix [default: the first source's base name]
    #[arg(short, long, value_name = "NAME")]
    pub name: Option<String>,

    /// Leave out paths matching GLOB (matched against the path below the
    /// source and against the file name); repeatable
    #[arg(short = 'x', long = "exclude", value_name = "GLOB")]
    pub excludes: Vec<String>,

    /// Do not descend into other filesystems (mount points are stored empty)
    #[arg(long)]
    pub one_file_system: bool,

    /// gzip (standard .tar.gz), zstd (.tar.zst) or none (.tar)
    #[arg(short, long, value_enum, default_value = "gzip")]
    pub compression: Compression,

    /// Compression level [default: 6 for gzip (1-9), 3 for zstd (1-19)]
    #[arg(short, long, value_name = "N")]
    pub level: Option<u32>,

    /// Compression threads [default: all cores]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,

    /// After a successful backup, prune by the policy below
    #[arg(long)]
    pub prune: bool,

    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct PruneArgs {
    /// Directory holding the archives
    #[arg(short, long, value_name = "DIR")]
    pub dest: PathBuf,

    /// Only archives named NAME-<timestamp>... (required: prune never
    /// guesses which files are its own)
    #[arg(short, long, value_name = "NAME")]
    pub name: String,

    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// restic's `forget` policy plus the old script's `--max-age`.
#[derive(Debug, Clone, Default, ClapArgs)]
#[command(next_help_heading = "Retention (a backup kept by any rule is kept)")]
pub struct PolicyArgs {
    /// Keep the N newest backups
    #[arg(long, value_name = "N")]
    pub keep_last: Option<u32>,
    /// Keep the newest backup of each of the last N hours that have one
    #[arg(long, value_name = "N")]
    pub keep_hourly: Option<u32>,
    /// Keep the newest backup of each of the last N days that have one
    #[arg(long, value_name = "N")]
    pub keep_daily: Option<u32>,
    /// Keep the newest backup of each of the last N ISO weeks that have one
    #[arg(long, value_name = "N")]
    pub keep_weekly: Option<u32>,
    /// Keep the newest backup of each of the last N months that have one
    #[arg(long, value_name = "N")]
    pub keep_monthly: Option<u32>,
    /// Keep the newest backup of each of the last N years that have one
    #[arg(long, value_name = "N")]
    pub keep_yearly: Option<u32>,
    /// Keep every backup within DURATION of the newest one (e.g. 2d, 1w)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub keep_within: Option<Duration>,
    /// Keep every backup younger than DURATION (the old script's form, e.g. 7d)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_age: Option<Duration>,
    /// Print the plan (what is kept and why, what would go) and delete nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct ListArgs {
    /// Directory holding the archives
    #[arg(short, long, value_name = "DIR")]
    pub dest: PathBuf,

    /// Only archives of this NAME [default: every backup-rotate archive]
    #[arg(short, long, value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct VerifyArgs {
    /// Archives to verify [default: every archive in --dest]
    #[arg(value_name = "ARCHIVE")]
    pub archives: Vec<PathBuf>,

    /// Verify every archive in DIR (with --name, only that NAME's)
    #[arg(short, long, value_name = "DIR", required_unless_present = "archives")]
    pub dest: Option<PathBuf>,

    /// Only archives of this NAME
    #[arg(short, long, value_name = "NAME", requires = "dest")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct RestoreArgs {
    /// The archive to extract
    #[arg(value_name = "ARCHIVE")]
    pub archive: PathBuf,

    /// Directory to extract into (created if missing)
    #[arg(short, long, value_name = "DIR")]
    pub to: PathBuf,

    /// Restore even when the archive has no manifest to check it against
    #[arg(long)]
    pub no_manifest: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn create_takes_several_sources_and_a_policy() {
        let args = Args::try_parse_from([
            "backup-rotate",
            "create",
            "-s",
            "/etc",
            "-s",
            "/srv",
            "-d",
            "/b",
            "--prune",
            "--keep-daily",
            "7",
            "--max-age",
            "7d",
        ])
        .unwrap();
        let Command::Create(create) = args.command else {
            panic!("not create")
        };
        assert_eq!(create.sources.len(), 2);
        assert_eq!(create.policy.keep_daily, Some(7));
        assert_eq!(create.policy.max_age, Some(Duration::from_secs(7 * 86400)));
        assert!(Args::try_parse_from(["backup-rotate", "prune", "-d", "/b"]).is_err());
    }
}
