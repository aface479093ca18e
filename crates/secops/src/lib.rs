//! secops: runs the secops tools on schedules from one settings.yaml.
//!
//! The [`settings`] name the central log, the notify settings and the jobs;
//! the [`runner`] starts each job when its [`schedule`] says (never two runs
//! of one job at once), runs it as an argument vector ([`job`]), appends
//! its records to the [`central_log`] (rotated between whole lines), turns
//! a failed run into a `job.failed` alert and the next good run into its
//! resolution, remembers every job's last run in the state directory
//! ([`history`]), hands what can page to secops-notify ([`delivery`]), and
//! keeps a Prometheus textfile of every job's last run ([`metrics`]).

pub mod central_log;
pub mod cli;
pub mod delivery;
pub mod history;
pub mod job;
pub mod metrics;
pub mod records;
pub mod runner;
pub mod schedule;
pub mod settings;
pub mod status;

use secops_common::{Error, Exit, Output};

pub use crate::cli::{Args, Command};
use crate::records::TABLE_COLUMNS;
pub use crate::records::TOOL;
use crate::runner::{Mode, Runner};
use crate::settings::Settings;

/// Runs secops as the command line asks.
pub fn run(args: &Args) -> Result<Exit, Error> {
    let settings = Settings::load(&args.settings)?;
    match &args.command {
        Command::Check => {
            secops_common::info!(
                "{}: {} job(s), valid",
                args.settings.display(),
                settings.jobs.len()
            );
            Ok(Exit::Clean)
        }
        Command::Status { state } => {
            let mut history = history::History::load(&state.dir()?)?;
            let mut out = Output::open(&args.common.output_spec(&TABLE_COLUMNS)?)?;
            for rec in status::records(&settings, &mut history) {
                out.write(&rec)?;
            }
            out.finish()?;
            Ok(Exit::Clean)
        }
        Command::Run { once, state } => {
            let runner = Runner::new(&args.settings, settings, state.dir()?)?;
            runner.run(if *once { Mode::Once } else { Mode::Forever })
        }
        Command::Job { name, state } => {
            let runner = Runner::new(&args.settings, settings, state.dir()?)?;
            runner.run(Mode::Job(name.clone()))
        }
    }
}
