//! anomalizer: finds unusual patterns in logs even when nothing says
//! ERROR. Lines are mined into templates with a Drain-style parse tree after
//! a hand-written classifier masks variables; templates that are rare,
//! parameter values that dominate their template, bursts and silences
//! become records of their own kind (`log.rare_template`,
//! `log.token_frequency`, `log.burst`, `log.silence`), with a
//! `log.summary` of the run. `learn` saves the templates of
//! a known-good period, and later runs report templates new since then.

pub mod cli;
mod commands;
mod detection;
pub mod evaluation;
mod fasthash;
mod input;
mod insights;
mod mining;

use secops_common::{Error, Exit};

pub use crate::cli::Args;
use crate::cli::Command;

/// The tool's name in records and diagnostics.
pub const TOOL: &str = "anomalizer";

/// The input with positional paths added: directories as `--log-dir`,
/// anything else as `--log`.
fn with_paths(input: &cli::InputArgs, paths: &[std::path::PathBuf]) -> cli::InputArgs {
    let mut input = input.clone();
    for path in paths {
        if path.is_dir() {
            input.log_dir.push(path.clone());
        } else {
            input.logs.push(path.clone());
        }
    }
    input
}

/// Runs anomalizer as the command line asks.
pub fn run(args: &Args) -> Result<Exit, Error> {
    match &args.command {
        None => commands::detect::detect(
            &with_paths(&args.input, &args.paths),
            detection::rules::Rules {
                threshold: args.threshold,
                max_per_source: args.max_per_source,
            },
            args.detectors(),
            args.model.as_deref(),
            args.summary.as_deref(),
            &args.common,
        ),
        Some(Command::Learn { input, model }) => commands::detect::learn(input, model),
        Some(Command::Parse { files, input }) => {
            commands::detect::parse(files, input, &args.common)
        }
        Some(Command::Eval {
            data,
            threshold,
            mining,
        }) => commands::detect::eval(data, *threshold, mining.config(), &args.common),
    }
}
