//! Every input read through one miner, line by line, the same way for
//! every subcommand: detection, `learn` and `parse` see the same lines,
//! the same templates and the same places, and bad input is warned about
//! once, in the same words.

use std::path::PathBuf;

use secops_common::Error;

use crate::cli::InputArgs;
use crate::input::ingest::{self, IngestStats, Source};
use crate::mining::extract::{Entry, Splitter};
use crate::mining::miner::LineMiner;
use crate::mining::user_mask::UserMasks;

/// A place in the input: file index, 1-based line, and the line's time
/// (epoch seconds) when it has one or an earlier line of its file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub file: usize,
    pub line: u64,
    pub time: Option<i64>,
}

/// Everything read and mined from the input.
pub struct Mined {
    /// Each input file's name, by index ([`Origin::file`]).
    pub files: Vec<String>,
    pub miner: LineMiner,
    pub stats: IngestStats,
}

/// One mined line, as the subcommands see it.
pub struct Seen<'a> {
    pub id: usize,
    pub tokens: &'a [&'a str],
    pub at: Origin,
    pub entry: &'a Entry<'a>,
    pub line: &'a str,
    /// The source the line's file stands for (its rotated set).
    file_stream: &'a str,
}

impl Seen<'_> {
    /// The source the line is judged in: the one it names (a journald
    /// unit, a `source` group), else its file's.
    pub fn stream_name(&self) -> &str {
        self.entry.source.as_deref().unwrap_or(self.file_stream)
    }
}

/// Reads every input (`extra` files first) through one miner, calling
/// `seen` per mined line, and warns about what was wrong with it.
pub fn mine_input(
    input: &InputArgs,
    extra: &[PathBuf],
    mut seen: impl FnMut(&LineMiner, Seen<'_>),
) -> Result<Mined, Error> {
    let mut logs = extra.to_vec();
    logs.extend(input.logs.iter().cloned());
    let sources = ingest::sources(&logs, &input.log_dir, input.glob.as_deref())?;
    let masks = UserMasks::parse(&input.masks)?;
    let splitter = || {
        let splitter = Splitter::new(input.log_format.as_deref(), input.format_regex.as_deref())?;
        Ok(splitter.with_masks(masks.clone()))
    };
    let mut miner = LineMiner::new(splitter()?, input.mining.config());
    let mut stats = IngestStats::default();
    let file_streams: Vec<String> = sources.iter().map(Source::stream).collect();
    // A line without a time of its own (a stack trace's second line)
    // happened at the last time its file showed.
    let (mut file, mut last_time) = (usize::MAX, None);
    crate::input::pipeline::mine(&sources, splitter, &mut miner, &mut stats, |miner, line| {
        if line.file != file {
            (file, last_time) = (line.file, None);
        }
        last_time = line.entry.time.or(last_time);
        let at = Origin {
            file: line.file,
            line: line.number,
            time: last_time,
        };
        seen(
            miner,
            Seen {
                id: line.id,
                tokens: line.tokens,
                at,
                entry: &line.entry,
                line: line.text,
                file_stream: &file_streams[line.file],
            },
        );
    })?;
    report_bad_input(&stats, miner.unmatched);
    Ok(Mined {
        files: sources.iter().map(Source::name).collect(),
        miner,
        stats,
    })
}

/// One warning per kind of bad input, with its count.
fn report_bad_input(stats: &IngestStats, unmatched: u64) {
    for (count, what) in [
        (
            stats.non_utf8,
            "lines were not valid UTF-8 (mined after replacing the bad bytes)",
        ),
        (
            stats.huge,
            "lines were longer than 64 KiB (mined from their start)",
        ),
        (stats.binary, "lines looked like binary data (skipped)"),
        (stats.empty_files, "files were empty"),
        (
            stats.binary_files,
            "files were binary (wtmp, lastlog, journal, xz...; skipped)",
        ),
        (
            unmatched,
            "lines did not match the line format (mined whole)",
        ),
    ] {
        if count == 1 {
            // "1 line was ...", not "1 lines were ...".
            let one = what
                .replacen("lines", "line", 1)
                .replacen("files", "file", 1);
            secops_common::warn!("1 {}", one.replacen(" were ", " was ", 1));
        } else if count > 1 {
            secops_common::warn!("{count} {what}");
        }
    }
}
