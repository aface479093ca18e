//! Scoring the miner's grouping against labelled logs: Grouping Accuracy
//! and pairwise F1 on the Loghub-2k samples, exactly as logpai/logparser's
//! `evaluator.py` defines them (see the data README).
//!
//! The data is never copied into the repository; it is read at run time.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use secops_common::Error;

use crate::input::ingest::{self, IngestStats, Source};
use crate::mining::drain::DrainConfig;
use crate::mining::extract::Splitter;
use crate::mining::miner::LineMiner;

/// One dataset's scores.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetScore {
    pub dataset: String,
    pub lines: usize,
    pub templates: usize,
    pub truth_templates: usize,
    /// Grouping Accuracy with the dataset's `--log-format`.
    pub ga: f64,
    /// Pairwise grouping F1 with the format.
    pub f1: f64,
    /// Grouping Accuracy with no format given (whole line mined).
    pub ga_no_format: f64,
    /// The same two, with the true events told apart by their corrected
    /// template text rather than their EventId, as Loghub-2.0's evaluator
    /// does: in the corrected Linux truth, E17, E18 and E19 (`user=guest`,
    /// `user=root`, `user=test`) are three ids of one template.
    pub ga_by_template: f64,
    pub ga_no_format_by_template: f64,
}

/// The datasets of `loghub/formats.tsv`, with their header formats.
pub fn loghub_formats(data: &Path) -> Result<Vec<(String, String)>, Error> {
    let path = data.join("loghub/formats.tsv");
    let text = fs::read_to_string(&path)
        .map_err(|err| Error::bad_input(format!("cannot read {}: {err}", path.display())))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(d, f)| (d.to_string(), f.to_string()))
        .collect())
}

/// Template id per line (index = line number - 1) of one log file.
pub fn parse_file(
    path: &Path,
    format: Option<&str>,
    config: DrainConfig,
) -> Result<Vec<usize>, Error> {
    let mut miner = LineMiner::new(Splitter::new(format, None)?, config);
    let mut ids = Vec::new();
    let mut stats = IngestStats::default();
    ingest::read(
        &Source::File(path.to_path_buf()),
        &mut stats,
        |number, line| {
            ids.resize(number as usize, usize::MAX);
            let entry = miner.split(line);
            ids[number as usize - 1] = miner.mine(&entry.message, &mut Vec::new());
        },
    );
    if stats.unreadable > 0 {
        return Err(Error::failed(format!("cannot read {}", path.display())));
    }
    Ok(ids)
}

/// Scores one Loghub-2k dataset.
pub fn loghub_dataset(
    data: &Path,
    dataset: &str,
    format: &str,
    config: DrainConfig,
) -> Result<DatasetScore, Error> {
    let dir = data.join("loghub").join(dataset);
    let (truth, truth_by_template) =
        truth_event_ids(&dir.join(format!("{dataset}_2k.log_structured_corrected.csv")))?;
    let log = dir.join(format!("{dataset}_2k.log"));
    let with_format = parse_file(&log, Some(format), config)?;
    let without = parse_file(&log, None, config)?;
    let (ga, f1) = grouping_scores(&truth, &with_format);
    let (ga_no_format, _) = grouping_scores(&truth, &without);
    let (ga_by_template, _) = grouping_scores(&truth_by_template, &with_format);
    let (ga_no_format_by_template, _) = grouping_scores(&truth_by_template, &without);
    let mut truth_templates: Vec<&str> = truth.iter().map(|(_, e)| e.as_str()).collect();
    truth_templates.sort_unstable();
    truth_templates.dedup();
    let mut templates: Vec<usize> = truth
        .iter()
        .filter_map(|(l, _)| with_format.get(*l))
        .copied()
        .collect();
    templates.sort_unstable();
    templates.dedup();
    Ok(DatasetScore {
        dataset: dataset.to_string(),
        lines: truth.len(),
        templates: templates.len(),
        truth_templates: truth_templates.len(),
        ga,
        f1,
        ga_no_format,
        ga_by_template,
        ga_no_format_by_template,
    })
}

/// `(line index, EventId)` and `(line index, EventTemplate)` from a
/// `_structured*.csv` (EventId is the second-to-last column, EventTemplate
/// the last; rows with an empty EventId are dropped as logparser does).
type Labels = Vec<(usize, String)>;
fn truth_event_ids(path: &Path) -> Result<(Labels, Labels), Error> {
    let text = fs::read_to_string(path)
        .map_err(|err| Error::bad_input(format!("cannot read {}: {err}", path.display())))?;
    let (mut out, mut templates) = (Vec::new(), Vec::new());
    for (i, row) in text.lines().enumerate().skip(1) {
        let cells = csv_cells(row);
        let bad = || {
            Error::bad_input(format!(
                "{}:{}: not a structured-log row",
                path.display(),
                i + 1
            ))
        };
        let line: usize = cells.first().and_then(|c| c.parse().ok()).ok_or_else(bad)?;
        let event = cells
            .len()
            .checked_sub(2)
            .map(|i| cells[i].clone())
            .ok_or_else(bad)?;
        if !event.is_empty() && line > 0 {
            out.push((line - 1, event));
            templates.push((line - 1, cells.last().cloned().unwrap_or_default()));
        }
    }
    Ok((out, templates))
}

/// The cells of one CSV row (RFC 4180 quoting; rows never span lines in
/// the Loghub files).
fn csv_cells(row: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut quoted = false;
    let mut chars = row.trim_end_matches('\r').chars().peekable();
    while let Some(c) = chars.next() {
        let cell = cells.last_mut().expect("one cell at least");
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(String::new()),
            _ => cell.push(c),
        }
    }
    cells
}

/// Grouping Accuracy and pairwise F1 of `parsed` (template id per line
/// index) against `truth` (line index, event id).
pub fn grouping_scores(truth: &[(usize, String)], parsed: &[usize]) -> (f64, f64) {
    let mut parsed_groups: HashMap<usize, Vec<&str>> = HashMap::new();
    let mut truth_sizes: HashMap<&str, usize> = HashMap::new();
    for (line, event) in truth {
        let id = parsed.get(*line).copied().unwrap_or(usize::MAX);
        parsed_groups.entry(id).or_default().push(event);
        *truth_sizes.entry(event).or_default() += 1;
    }
    let pairs = |n: usize| (n * n.saturating_sub(1) / 2) as f64;
    let mut correct = 0;
    let (mut parsed_pairs, mut both_pairs) = (0.0, 0.0);
    for events in parsed_groups.values() {
        parsed_pairs += pairs(events.len());
        let mut inside: HashMap<&str, usize> = HashMap::new();
        for e in events {
            *inside.entry(e).or_default() += 1;
        }
        both_pairs += inside.values().map(|&n| pairs(n)).sum::<f64>();
        if inside.len() == 1 && truth_sizes[events[0]] == events.len() {
            correct += events.len();
        }
    }
    let truth_pairs: f64 = truth_sizes.values().map(|&n| pairs(n)).sum();
    let precision = both_pairs / parsed_pairs.max(1.0);
    let recall = both_pairs / truth_pairs.max(1.0);
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    (correct as f64 / truth.len().max(1) as f64, f1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_follow_quoting() {
        assert_eq!(
            csv_cells("1,\"a, \"\"b\"\"\",E1,x\r"),
            ["1", "a, \"b\"", "E1", "x"]
        );
    }

    #[test]
    fn grouping_accuracy_counts_exact_groups_only() {
        let truth: Vec<(usize, String)> = ["E1", "E1", "E2", "E2", "E3"]
            .iter()
            .enumerate()
            .map(|(i, e)| (i, e.to_string()))
            .collect();
        // E1 exact; E2 split in two; E3 merged with one E2 line.
        let (ga, _) = grouping_scores(&truth, &[0, 0, 1, 2, 2]);
        assert!((ga - 0.4).abs() < 1e-9, "{ga}");
        let (ga, f1) = grouping_scores(&truth, &[0, 0, 1, 1, 2]);
        assert_eq!((ga, f1), (1.0, 1.0));
    }
}
