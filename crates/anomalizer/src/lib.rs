//! anomalizer: finds unusual patterns in logs even when nothing says
//! ERROR. Lines are mined into templates with a Drain-style parse tree after
//! a hand-written classifier masks variables; templates that are rare, and
//! parameter values that dominate their template, become `log.anomaly`
//! records, with a `log.summary` of the run. `learn` saves the templates of
//! a known-good period, and later runs report templates new since then.

mod classify;
pub mod cli;
mod detect;
mod drain;
pub mod eval;
mod header;
mod ingest;
mod mine;
mod model;
mod report;
mod timestamp;

use secops_common::{Error, Exit};

pub use crate::cli::Args;
use crate::cli::Command;

/// The tool's name in records and diagnostics.
pub const TOOL: &str = "anomalizer";

/// Runs anomalizer as the command line asks.
pub fn run(args: &Args) -> Result<Exit, Error> {
    match &args.command {
        None => report::detect(
            &args.input,
            args.threshold,
            args.model.as_deref(),
            &args.common,
        ),
        Some(Command::Learn { input, model }) => report::learn(input, model),
        Some(Command::Parse { files, input }) => report::parse(files, input, &args.common),
        Some(Command::Eval {
            data,
            threshold,
            mining,
        }) => report::eval(data, *threshold, mining.config(), &args.common),
    }
}
