//! anomalizer: finds unusual patterns in logs even when nothing says
//! ERROR. Lines are mined into templates with a Drain-style parse tree after
//! a hand-written classifier masks variables; templates that are rare,
//! parameter values that dominate their template, new addresses, bursts
//! and silences become records of their own kind (`log.rare_template`,
//! `log.token_frequency`, `log.new_address`, `log.burst`,
//! `log.silence`), graded by what their lines say, with a `log.summary`
//! of the run. `learn` saves the templates of
//! a known-good period, and later runs report templates new since then.
//!
//! The crate by what it does: `input` finds and reads the logs,
//! `mining` turns each line into a template, `detection` keeps each
//! source's statistics and judges them, `evaluation` scores all that
//! against labelled logs, `records` writes every record the tool writes
//! (and `insights` the `--summary` file), and `commands` runs each
//! subcommand from the command line (`cli`).

pub mod cli;
mod commands;
mod detection;
pub mod evaluation;
mod fasthash;
mod input;
mod insights;
mod metrics;
mod mining;
mod records;
mod silences;

use secops_common::{Error, Exit};

pub use crate::cli::Args;
use crate::cli::Command;
pub use crate::records::TOOL;

/// Takes log lines apart and mines them as a run does: the first line of
/// `text` is a `--log-format` (`<Date> <Time> <Level> <Content>`, Loghub's
/// form) when it starts with `format:`, or a `--format-regex` when it
/// starts with `regex:`, else every line is split by its leading header
/// (or as JSON) as without options. Each line's time is also rendered as
/// RFC 3339. The entry point of the fuzz targets and tests; returns the
/// number of templates.
pub fn mine_text(text: &str) -> Result<usize, Error> {
    use crate::mining::drain::DrainConfig;
    use crate::mining::extract::Splitter;
    use crate::mining::miner::LineMiner;
    use crate::mining::timestamp;
    let mut lines = text.lines();
    let first = text.lines().next().unwrap_or("");
    let splitter = if let Some(format) = first.strip_prefix("format:") {
        lines.next();
        Splitter::new(Some(format), None)?
    } else if let Some(regex) = first.strip_prefix("regex:") {
        lines.next();
        Splitter::new(None, Some(regex))?
    } else {
        Splitter::new(None, None)?
    };
    let mut miner = LineMiner::new(splitter, DrainConfig::default());
    for line in lines {
        let _ = timestamp::starts_syslog(line);
        let _ = mining::header::split_header(line);
        let entry = miner.split(line);
        if let Some(time) = entry.time {
            let _ = timestamp::rfc3339(time);
        }
        let message = entry.message.clone();
        miner.mine(&message, &mut Vec::new());
    }
    Ok(miner.templates().len())
}

/// Runs anomalizer as the command line asks.
pub fn run(args: &Args) -> Result<Exit, Error> {
    if args.command.is_some() && args.prom.prom_file.is_some() {
        return Err(Error::bad_input(
            "--prom-file is written by detection runs (anomalizer [PATH]...), not by parse, learn or eval",
        ));
    }
    let input = match &args.command {
        None => Some(&args.input),
        Some(Command::Learn { input, .. } | Command::Parse { input, .. }) => Some(input),
        Some(Command::Eval { .. }) => None,
    };
    if let Some(zone) = input.and_then(|i| i.timezone.as_deref()) {
        mining::timestamp::use_zone(zone)?;
    }
    match &args.command {
        None => commands::detect::run(args),
        Some(Command::Learn { input, model }) => commands::learn::run(input, model),
        Some(Command::Parse { files, input }) => commands::parse::run(files, input, &args.common),
        Some(Command::Eval {
            data,
            threshold,
            mining,
        }) => commands::eval::run(data, *threshold, mining.config(), &args.common),
    }
}
