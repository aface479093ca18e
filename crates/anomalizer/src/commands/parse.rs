//! `anomalizer parse`: one `log.parsed` record per input line with its
//! final template, so any evaluator can score the grouping.

use std::path::PathBuf;

use secops_common::cli::CommonArgs;
use secops_common::{Error, Exit, Format, Output};

use crate::cli::InputArgs;
use crate::input::mined::mine_input;
use crate::records::{PARSE_COLUMNS, Parsed};

/// Mines `files` and `input`, then writes each line's template. Every
/// line is kept until the end: a template's final text is only known then.
pub fn run(files: &[PathBuf], input: &InputArgs, common: &CommonArgs) -> Result<Exit, Error> {
    let spec = common.output_spec(&PARSE_COLUMNS)?;
    let mut rows = Vec::new();
    let mined = mine_input(input, files, |_, seen| rows.push((seen.at, seen.id)))?;
    // Each template's text once, not once per line.
    let texts: Vec<String> = mined.miner.templates().iter().map(|t| t.text()).collect();
    let mut out = Output::open(&spec)?;
    let mut parsed = Parsed::new();
    if spec.format == Format::Jsonl {
        // The hot path: each line written straight (see Parsed::jsonl).
        let quote = |s: &str| serde_json::Value::from(s).to_string();
        let texts: Vec<String> = texts.iter().map(|t| quote(t)).collect();
        let names: Vec<String> = mined.files.iter().map(|f| quote(f)).collect();
        let mut buf = Vec::with_capacity(1 << 16);
        out.write_text(|w| {
            for (at, id) in rows {
                parsed.jsonl(&mut buf, &names[at.file], at.line, id, &texts[id]);
                if buf.len() >= 1 << 16 {
                    w.write_all(&buf)?;
                    buf.clear();
                }
            }
            w.write_all(&buf)
        })?;
    } else {
        for (at, id) in rows {
            out.write(parsed.of(at.file, &mined.files[at.file], at.line, id, &texts[id]))?;
        }
    }
    out.finish()?;
    Ok(Exit::of_run(
        mined.stats.unreadable > 0,
        None,
        common.fail_on,
    ))
}
