//! fim-check's command line.

use std::path::PathBuf;

use clap::{Args as ClapArgs, CommandFactory, Parser, Subcommand};
use secops_common::cli::{CommonArgs, PromArgs, StateArgs};

const EXAMPLES: &str = "\
Examples:
  fim-check init --policy /etc/secops/fim.yaml   baseline of the default policy
  fim-check init /etc /usr/bin                   baseline of two trees, every attribute
  fim-check verify                               compare the live tree with the baseline
  fim-check verify --policy /etc/secops/fim.yaml and refuse a baseline made for another policy
  fim-check check --aide-exit-codes              drop-in for `aide --check` in cron
  fim-check verify --trust-metadata              skip rehashing files whose inode, size,
                                                 mtime and ctime are unchanged
  fim-check update                               accept the current state (after a verify)
  fim-check show --format table                  list the baseline
  fim-check watch                                verify, then report changes as they
                                                 happen until SIGINT/SIGTERM
  fim-check verify | secops-notify --min-severity high
  fim-check verify --prom-file /var/lib/prometheus/node-exporter/fim-check.prom

The baseline lives in the state directory (fim.baseline), sealed with an
HMAC-SHA256 whose key is fim.key there (created 0600 by the first init).
What verify reported as firing is remembered there too
(fim-check.last-run.json), so the next run says when it is over
(fim.resolved). A baseline that cannot be trusted (edited, truncated, key
missing) is a critical fim.baseline_invalid record as well as an error, and
so is one made on another host or for another policy than --policy FILE (or
the PATHs given), by default the policy file it was made from as it is now.
Exit status: 0 nothing at or above --fail-on, 1 something was, 2 bad usage,
bad policy or a baseline that fails its HMAC check, 3 something could not be
read (the rest was still checked). With --aide-exit-codes: the sum of 1 added,
2 removed, 4 changed; 17 bad input, 18 read failure.";

/// File integrity monitoring: an HMAC-sealed baseline of hashes and
/// metadata, and fast parallel checks against it.
#[derive(Debug, Clone, Parser)]
#[command(name = "fim-check", version, after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,

    /// The baseline file [default: STATE_DIR/fim.baseline]
    #[arg(long, value_name = "FILE", help_heading = "Baseline")]
    pub baseline: Option<PathBuf>,

    /// The HMAC key file, mode 0600 [default: STATE_DIR/fim.key]
    #[arg(long, value_name = "FILE", help_heading = "Baseline")]
    pub key: Option<PathBuf>,

    // The state directory: baseline and key by default, and what the last
    // run reported as firing.
    #[command(flatten)]
    pub state: StateArgs,

    // Metrics after init, verify, update and each check of watch.
    #[command(flatten)]
    pub prom: PromArgs,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Build the baseline from a policy or from PATHs
    Init(InitArgs),
    /// Compare the live tree with the baseline
    #[command(visible_alias = "check")]
    Verify(CheckArgs),
    /// Compare, report, then accept the current state as the new baseline
    Update(CheckArgs),
    /// List the baseline's header and entries
    Show,
    /// Report changes as they happen (inotify), until SIGINT or SIGTERM
    Watch(WatchArgs),
}

#[derive(Debug, Clone, ClapArgs)]
pub struct WatchArgs {
    #[command(flatten)]
    pub intended: Intended,

    /// In the first check, reuse the baseline hash of files whose inode,
    /// size, mtime and ctime are unchanged
    #[arg(long)]
    pub trust_metadata: bool,

    /// Check changed paths once the tree has been quiet this long (a burst
    /// of writes is one check, and one record per file)
    #[arg(long, value_name = "DURATION", default_value = "500ms",
          value_parser = secops_common::cli::parse_duration)]
    pub settle: std::time::Duration,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct InitArgs {
    /// Policy file (YAML or JSON)
    #[arg(long, value_name = "FILE", conflicts_with = "paths")]
    pub policy: Option<PathBuf>,

    /// Watch these paths with every attribute, instead of a policy
    #[arg(value_name = "PATH", required_unless_present = "policy")]
    pub paths: Vec<PathBuf>,

    /// Replace an existing baseline (use update to accept changes)
    #[arg(long)]
    pub force: bool,

    /// Descend into other filesystems (bind mounts, network mounts)
    #[arg(long)]
    pub cross_filesystems: bool,
}

/// What the baseline must have been made for (besides this host): a
/// baseline sealed for another policy or other paths is refused.
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct Intended {
    /// The policy the baseline must have been made from; one sealed for
    /// another is refused [default: the policy file the baseline was made
    /// from, as it is now]
    #[arg(long, value_name = "FILE", conflicts_with = "paths")]
    pub policy: Option<PathBuf>,

    /// The paths the baseline must watch, as given to init PATH...
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct CheckArgs {
    #[command(flatten)]
    pub intended: Intended,

    /// Reuse the baseline hash of files whose inode, size, mtime and ctime
    /// are unchanged (fast; trusts the kernel's metadata, see the docs)
    #[arg(long)]
    pub trust_metadata: bool,

    /// Exit with AIDE's bitmask: 1 added, 2 removed, 4 changed
    #[arg(long)]
    pub aide_exit_codes: bool,
}

impl Args {
    /// Parses the command line with the baseline and output flags accepted
    /// after the subcommand too (`fim-check verify --format jsonl`).
    pub fn parse_command_line() -> Args {
        secops_common::cli::parse_with(Args::command().mut_args(|arg| arg.global(true)))
    }

    pub fn aide_exit_codes(&self) -> bool {
        matches!(&self.command, Command::Verify(c) | Command::Update(c) if c.aide_exit_codes)
    }
}
