//! The window detectors (PCA, isolation forest) and the rule detectors
//! scored against BGL's alert labels (`anomalizer eval`), on the same
//! windows and lines, with the same defaults an operator gets: one
//! configuration, no tuning.
//!
//! A line is flagged by a window detector when its window is; by the rules when a
//! finding points at it (`rare_template`: every line of the template;
//! `token_frequency`: the template's lines holding the value; `burst`: the
//! template's lines in the window; silences point at an absence, not at
//! lines). A window is an alert window when any of its lines is an alert,
//! and flagged when any of its lines is.

use std::collections::HashSet;
use std::path::Path;

use secops_common::{Error, Record};

use crate::detection::iforest::{Forest, Isolation};
use crate::detection::pca::{C_ALPHA, Pca};
use crate::detection::rules::Rules;
use crate::detection::sources::{Detector, Observed};
use crate::detection::windows::{Method, WindowConfig, Windows};
use crate::evaluation::grouping::loghub_formats;
use crate::evaluation::rarity::{Detection, read_hdfs_sessions};
use crate::input::ingest::{self, IngestStats, Source};
use crate::input::mined::Origin;
use crate::mining::drain::DrainConfig;
use crate::mining::extract::Splitter;
use crate::mining::miner::LineMiner;
use crate::records;

/// BGL's layout as a `--format-regex` whose `ts` is the line's epoch
/// field: the Loghub `--log-format` gives no time anomalizer can read, so
/// without it BGL falls back to line windows. Same message as the format.
const BGL_TIMED: &str =
    r"^\S+\s+(?P<ts>\d+)\s+\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+(?P<level>\S+)\s+(?P<msg>.*)$";

/// One BGL line as the scoring needs it.
struct Line {
    id: usize,
    key: i64,
    time: Option<i64>,
    tokens: Vec<String>,
    alert: bool,
}

/// The `log.eval` records of both detectors on BGL_2k, by line and by
/// window: with the Loghub `--log-format` (no times: line windows), and
/// with the epoch field read as the time (time windows).
pub fn bgl_records(
    data: &Path,
    threshold: f64,
    config: DrainConfig,
    window: WindowConfig,
) -> Result<Vec<Record>, Error> {
    let formats = loghub_formats(data)?;
    let format = formats
        .iter()
        .find(|(d, _)| d == "BGL")
        .map(|(_, f)| f.as_str());
    let mut out = bgl_scores(
        data,
        Splitter::new(format, None)?,
        threshold,
        config,
        window,
    )?;
    out.extend(bgl_scores(
        data,
        Splitter::new(None, Some(BGL_TIMED))?,
        threshold,
        config,
        window,
    )?);
    out.extend(hdfs_records(data)?);
    Ok(out)
}

fn bgl_scores(
    data: &Path,
    splitter: Splitter,
    threshold: f64,
    config: DrainConfig,
    window: WindowConfig,
) -> Result<Vec<Record>, Error> {
    let log = data.join("loghub/BGL/BGL_2k.log");
    let mut miner = LineMiner::new(splitter, config);
    let mut detector = Detector::default();
    let stream = detector.stream("BGL_2k.log");
    let mut windows = Windows::new(window);
    let mut lines = Vec::new();
    let mut stats = IngestStats::default();
    let mut last_time = None;
    ingest::read(&Source::File(log.clone()), &mut stats, |number, text| {
        let entry = miner.split(text);
        last_time = entry.time.or(last_time);
        let mut tokens = Vec::new();
        let id = miner.mine(&entry.message, &mut tokens);
        let at = Origin {
            file: 0,
            line: number,
            time: last_time,
        };
        detector.observe(Observed {
            stream,
            id,
            template: &miner.templates()[id],
            version: miner.template_version(id),
            tokens: &tokens,
            at,
            level: entry.level.as_deref(),
            line: text,
        });
        lines.push(Line {
            id,
            key: windows.observe(stream, "BGL_2k.log", id, at),
            time: at.time,
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
            alert: !text.starts_with("- "),
        });
    });
    if stats.unreadable > 0 || lines.is_empty() {
        return Err(Error::bad_input(format!("cannot read {}", log.display())));
    }
    let rules = Rules {
        threshold,
        max_per_source: 0,
    };
    let (findings, _) = detector.findings(miner.templates(), rules, None);
    let by_rules: Vec<bool> = lines
        .iter()
        .map(|l| {
            findings
                .iter()
                .any(|f| f.points_at(l.id, &l.tokens, l.time))
        })
        .collect();
    let flagged = windows.anomalous(&[Method::Pca, Method::IsolationForest]);
    let by = |method: Method| -> Vec<bool> {
        lines
            .iter()
            .map(|l| {
                flagged
                    .iter()
                    .any(|(m, _, keys)| *m == method && keys.contains(&l.key))
            })
            .collect()
    };
    let (by_pca, by_forest) = (by(Method::Pca), by(Method::IsolationForest));
    let windowing = if lines.iter().any(|l| l.time.is_some()) {
        format!("{}s windows (epoch times)", window.secs)
    } else {
        format!("{}-line windows (no times)", window.lines)
    };
    let mut out = Vec::new();
    for (name, flags) in [
        ("pca", &by_pca),
        ("iforest", &by_forest),
        ("rules", &by_rules),
    ] {
        for (unit, d) in [
            ("lines", by_line(&lines, flags)),
            ("windows", by_window(&lines, flags)),
        ] {
            let f1 = if d.precision + d.recall > 0.0 {
                2.0 * d.precision * d.recall / (d.precision + d.recall)
            } else {
                0.0
            };
            out.push(records::bgl_score(unit, name, &windowing, &d, f1));
        }
    }
    Ok(out)
}

/// HDFS block sessions (DeepLog's parse of Xu et al.'s HDFS_v1, the data
/// the PCA method was made on): each block a vector of event counts, the
/// models fitted on the first half of the normal blocks (as the rules'
/// score learns from it), the held-out half and every abnormal block
/// judged. The `log.eval` records of PCA and of the isolation forest
/// (its cut, as in [`crate::detection::iforest::Cut`], from the fitted blocks).
pub fn hdfs_records(data: &Path) -> Result<Vec<Record>, Error> {
    let (normal, abnormal) = read_hdfs_sessions(data)?;
    let keys = normal
        .iter()
        .chain(&abnormal)
        .flatten()
        .max()
        .map_or(0, |&k| k as usize + 1);
    let vector = |session: &Vec<u32>| {
        let mut v = vec![0.0; keys];
        for &k in session {
            v[k as usize] += 1.0;
        }
        v
    };
    let (learn, held_out) = normal.split_at(normal.len() / 2);
    let rows: Vec<Vec<f64>> = learn.iter().map(vector).collect();
    let pca = Pca::fit(&rows, C_ALPHA)
        .map_err(|why| Error::failed(format!("HDFS sessions: no PCA model ({why:?})")))?;
    let forest = Forest::fit(&rows);
    let fitted: Vec<Isolation> = rows.iter().map(|r| forest.isolate(r)).collect();
    let cut = forest.cut(&fitted);
    let score = |flag: &dyn Fn(&[f64]) -> bool| {
        let flagged = |sessions: &[Vec<u32>]| sessions.iter().filter(|s| flag(&vector(s))).count();
        Detection::new(
            flagged(&abnormal),
            abnormal.len(),
            flagged(held_out),
            held_out.len(),
        )
    };
    Ok(vec![
        records::hdfs_blocks_score(
            learn.len(),
            &score(&|v| pca.residual(v).spe > pca.threshold),
            Fitted::Pca {
                components: pca.kept(),
                threshold: pca.threshold,
            },
        ),
        records::hdfs_blocks_score(
            learn.len(),
            &score(&|v| forest.isolate(v).depth < cut.depth),
            Fitted::Iforest {
                cut_score: cut.score,
                median_depth: cut.median,
                cut_depth: cut.depth,
            },
        ),
    ])
}

/// What a window detector was fitted to on the HDFS blocks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fitted {
    /// PCA: the components kept and the Q-statistic threshold.
    Pca { components: usize, threshold: f64 },
    /// Isolation forest: its cut as a score and as a path, and the median
    /// block's path.
    Iforest {
        cut_score: f64,
        median_depth: f64,
        cut_depth: f64,
    },
}
fn by_line(lines: &[Line], flags: &[bool]) -> Detection {
    let count = |alert: bool| {
        lines
            .iter()
            .zip(flags)
            .filter(|(l, f)| l.alert == alert && **f)
            .count()
    };
    let positives = lines.iter().filter(|l| l.alert).count();
    Detection::new(
        count(true),
        positives,
        count(false),
        lines.len() - positives,
    )
}

fn by_window(lines: &[Line], flags: &[bool]) -> Detection {
    let mut keys: Vec<i64> = lines.iter().map(|l| l.key).collect();
    keys.sort_unstable();
    keys.dedup();
    let alert: HashSet<i64> = lines.iter().filter(|l| l.alert).map(|l| l.key).collect();
    let flagged: HashSet<i64> = lines
        .iter()
        .zip(flags)
        .filter(|(_, f)| **f)
        .map(|(l, _)| l.key)
        .collect();
    let tp = flagged.intersection(&alert).count();
    Detection::new(
        tp,
        alert.len(),
        flagged.len() - tp,
        keys.len() - alert.len(),
    )
}
