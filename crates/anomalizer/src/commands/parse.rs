//! `anomalizer parse`: one `log.parsed` record per input line with its
//! final template, so any evaluator can score the grouping.

use std::path::PathBuf;

use secops_common::cli::CommonArgs;
use secops_common::{Error, Exit, Output};

use crate::cli::InputArgs;
use crate::input::mined::mine_input;
use crate::records::{self, PARSE_COLUMNS};

/// Mines `files` and `input`, then writes each line's template. Every
/// line is kept until the end: a template's final text is only known then.
pub fn run(files: &[PathBuf], input: &InputArgs, common: &CommonArgs) -> Result<Exit, Error> {
    let spec = common.output_spec(&PARSE_COLUMNS)?;
    let mut rows = Vec::new();
    let mined = mine_input(input, files, |_, seen| rows.push((seen.at, seen.id)))?;
    let templates = mined.miner.templates();
    let mut out = Output::open(&spec)?;
    for (at, id) in rows {
        out.write(&records::parsed(
            &mined.files[at.file],
            at.line,
            id,
            templates[id].text(),
        ))?;
    }
    out.finish()?;
    Ok(Exit::of_run(
        mined.stats.unreadable > 0,
        None,
        common.fail_on,
    ))
}
