//! Detection scores (precision and recall against labels), and the
//! rare-template rule scored on its own:
//!
//! - on BGL, precision/recall of lines in rare templates against the alert
//!   labels;
//! - on the DeepLog HDFS block sessions, precision/recall of "a block is
//!   anomalous if any of its events falls in a rare template".
//!
//! The data is never copied into the repository; it is read at run time.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use secops_common::Error;

use crate::evaluation::grouping::{loghub_formats, parse_file};
use crate::mining::drain::DrainConfig;

/// Precision and recall of a detection rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub precision: f64,
    pub recall: f64,
    pub flagged: usize,
    pub positives: usize,
    pub negatives_flagged: usize,
    pub negatives: usize,
}

impl Detection {
    pub(crate) fn new(tp: usize, positives: usize, fp: usize, negatives: usize) -> Detection {
        Detection {
            precision: tp as f64 / (tp + fp).max(1) as f64,
            recall: tp as f64 / positives.max(1) as f64,
            flagged: tp + fp,
            positives,
            negatives_flagged: fp,
            negatives,
        }
    }
}

/// BGL: lines whose template's share is below `threshold`, against the
/// alert labels (first field not `-`).
pub fn bgl_lines(data: &Path, threshold: f64, config: DrainConfig) -> Result<Detection, Error> {
    let log = data.join("loghub/BGL/BGL_2k.log");
    let formats = loghub_formats(data)?;
    let format = formats
        .iter()
        .find(|(d, _)| d == "BGL")
        .map(|(_, f)| f.as_str());
    let ids = parse_file(&log, format, config)?;
    let text = fs::read(&log)
        .map_err(|err| Error::bad_input(format!("cannot read {}: {err}", log.display())))?;
    let alerts: Vec<bool> = text
        .split(|&b| b == b'\n')
        .take(ids.len())
        .map(|l| !l.starts_with(b"- "))
        .collect();
    let mut counts: HashMap<usize, usize> = HashMap::new();
    for id in &ids {
        *counts.entry(*id).or_default() += 1;
    }
    let rare = |id: &usize| (counts[id] as f64 / ids.len() as f64) < threshold;
    let (mut tp, mut fp) = (0, 0);
    for (id, alert) in ids.iter().zip(&alerts) {
        match (rare(id), alert) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            _ => {}
        }
    }
    let positives = alerts.iter().filter(|a| **a).count();
    Ok(Detection::new(tp, positives, fp, alerts.len() - positives))
}

/// HDFS block sessions, each the event keys of one block.
type Sessions = Vec<Vec<u32>>;

/// The normal (`hdfs_train`) and abnormal (`hdfs_test_abnormal`) HDFS
/// block sessions of DeepLog's parse: one block per line.
pub(crate) fn read_hdfs_sessions(data: &Path) -> Result<(Sessions, Sessions), Error> {
    let dir = data.join("hdfs_anomaly/deeplog_sessions");
    let read = |name: &str| -> Result<Sessions, Error> {
        let path = dir.join(name);
        let text = fs::read_to_string(&path)
            .map_err(|err| Error::bad_input(format!("cannot read {}: {err}", path.display())))?;
        Ok(text
            .lines()
            .map(|l| {
                l.split_whitespace()
                    .filter_map(|k| k.parse().ok())
                    .collect()
            })
            .filter(|s: &Vec<u32>| !s.is_empty())
            .collect())
    };
    Ok((read("hdfs_train")?, read("hdfs_test_abnormal")?))
}

/// HDFS block sessions (DeepLog's parsed HDFS_v1): learn event shares from
/// the first half of the normal sessions; a block is anomalous when any of
/// its events has a learnt share below `threshold` (or was never seen).
/// Recall is over every abnormal session; false positives over the held-out
/// second half of the normal ones (the normal test file is missing, see
/// the data README, so precision is over that smaller normal set).
pub fn hdfs_sessions(data: &Path, threshold: f64) -> Result<Detection, Error> {
    let (normal, abnormal) = read_hdfs_sessions(data)?;
    let (learn, held_out) = normal.split_at(normal.len() / 2);
    let mut counts: HashMap<u32, u64> = HashMap::new();
    for key in learn.iter().flatten() {
        *counts.entry(*key).or_default() += 1;
    }
    let total: u64 = counts.values().sum();
    let rare = |k: &u32| {
        counts
            .get(k)
            .is_none_or(|&n| (n as f64 / total as f64) < threshold)
    };
    let flagged = |sessions: &[Vec<u32>]| sessions.iter().filter(|s| s.iter().any(rare)).count();
    Ok(Detection::new(
        flagged(&abnormal),
        abnormal.len(),
        flagged(held_out),
        held_out.len(),
    ))
}
