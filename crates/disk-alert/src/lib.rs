//! disk-alert: a drop-in replacement for the `disk_alert.sh` cron script
//! that checks one mount or every real filesystem with df's exact
//! percentages, appends the script's log line, and speaks the secops
//! record format (`disk.usage`, `disk.alert`, `disk.recovered`,
//! `disk.error`) and node_exporter textfile metrics.
//!
//! The library half is shared: healthmon samples disk usage with
//! [`mounts::real_mounts`] / [`mounts::survey`] and [`usage::usage`] /
//! [`usage::Prober`], so the workspace has one implementation of "how full
//! is this filesystem".

mod alert_log;
mod alerting;
mod check;
pub mod cli;
pub mod config;
mod limits;
mod metrics;
pub mod mounts;
mod pass;
pub mod pattern;
mod records;
pub mod usage;

use secops_common::repeat::Repeat;
use secops_common::{Error, Exit, Output};

use crate::alerting::Memory;
pub use crate::cli::Args;
use crate::config::Config;
use crate::pass::{Plan, Sink};
use crate::records::TABLE_COLUMNS;
pub use crate::records::TOOL;
use crate::usage::Prober;

/// Runs disk-alert as the command line asks.
pub fn run(args: &Args) -> Result<Exit, Error> {
    let config = args.config.as_deref().map(Config::load).transpose()?;
    let plan = Plan::new(args, config.as_ref())?;
    let out = if args.wants_records() {
        Some(Output::open(&args.common.output_spec(&TABLE_COLUMNS)?)?)
    } else {
        None
    };
    let mut memory = memory(args)?;
    let mut sink = Sink::new(out);
    let mut prober = Prober::new(args.mount_timeout);
    let mut failed = false;
    Repeat::new(&args.repeat)?.run(|_| {
        failed |= plan.pass(&mut prober, &mut memory, &mut sink)?;
        Ok(())
    })?;
    let worst = sink.finish()?;
    Ok(Exit::of_run(failed, worst, args.common.fail_on))
}

/// The alert memory: kept in the state directory when records are written
/// (recoveries are records), else for this process only. A default state
/// directory that cannot be used costs recoveries across runs, not the
/// alerts themselves; one given with --state-dir must work.
fn memory(args: &Args) -> Result<Memory, Error> {
    if !args.wants_records() || args.no_state {
        return Ok(Memory::in_process());
    }
    match args.state.dir() {
        Ok(dir) => Memory::in_dir(&dir),
        Err(err) if args.state.state_dir.is_none() => {
            secops_common::warn!("{err}; recoveries are only reported within this run");
            Ok(Memory::in_process())
        }
        Err(err) => Err(err),
    }
}
