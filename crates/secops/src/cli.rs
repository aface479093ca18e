//! secops's command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use secops_common::cli::{CommonArgs, StateArgs};

const EXAMPLES: &str = "\
Examples:
  secops check                              validate /etc/secops/settings.yaml and every job's command line
  secops check --settings config/settings.yaml
  secops run                                run every job on its schedule until SIGTERM (systemd, a container)
  secops run --once                         run what is due now and exit (cron: */5 * * * * secops run --once)
  secops job integrity                      run one job now, as a scheduled run does
  secops status                             one line per job: last run, exit, failures in a row, next due
  secops status --format jsonl | secops-report --format markdown

Every job's records are appended to the central log (log.path). A job that
is killed by its timeout, dies of a signal or exits 2 or 3 writes a
job.failed alert there (and through notify); its next good run resolves it.
SIGHUP reloads the settings (a broken file is reported and the old settings
keep running); SIGUSR1 reopens the central log for logrotate.

Exit status: 0 ran (or the settings are valid), 1 a job run by `secops job`
or `secops run --once` found something at or above --fail-on, 2 bad usage or
bad settings (file:line:field named), 3 a job failed or the log could not be
written.";

/// Run the secops tools on schedules from one settings.yaml, with one
/// central log, job-failure alerts and a status view.
#[derive(Debug, Clone, Parser)]
#[command(name = "secops", version, after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,

    /// Settings file (YAML or JSON)
    #[arg(
        global = true,
        long,
        value_name = "FILE",
        default_value = "/etc/secops/settings.yaml"
    )]
    pub settings: PathBuf,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Validate the settings and every job's command line without running anything
    Check,
    /// Run every job on its schedule, in the foreground, until SIGTERM or SIGINT
    Run {
        /// Run what is due now (a missed job once) and exit
        #[arg(long)]
        once: bool,
        #[command(flatten)]
        state: StateArgs,
    },
    /// One record per job: last run, duration, exit, failures in a row, next due
    Status {
        #[command(flatten)]
        state: StateArgs,
    },
    /// Run one job now, as scheduled runs do
    Job {
        /// The job's name in the settings
        name: String,
        #[command(flatten)]
        state: StateArgs,
    },
}

impl Command {
    /// Where the last run of every job is remembered (`check` keeps none).
    pub fn state(&self) -> StateArgs {
        match self {
            Command::Check => StateArgs::default(),
            Command::Run { state, .. } | Command::Status { state } | Command::Job { state, .. } => {
                state.clone()
            }
        }
    }
}
