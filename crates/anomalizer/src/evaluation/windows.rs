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

use secops_common::{Error, Record, Severity};

use crate::TOOL;
use crate::detection::iforest::{Forest, Isolation};
use crate::detection::pca::{C_ALPHA, Pca};
use crate::detection::rules::{Detector, Observed, Origin, Rules};
use crate::detection::windows::{Method, WindowConfig, Windows, round};
use crate::evaluation::grouping::{Detection, loghub_formats};
use crate::input::ingest::{self, IngestStats, Source};
use crate::mining::drain::DrainConfig;
use crate::mining::extract::Splitter;
use crate::mining::miner::LineMiner;

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
    let (findings, _) =
        detector.findings(miner.templates(), &["BGL_2k.log".to_string()], rules, None);
    let by_rules: Vec<bool> = lines
        .iter()
        .map(|l| findings.iter().any(|f| points_at(f, l)))
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
            out.push(
                Record::new(
                    TOOL,
                    "log.eval",
                    Severity::Info,
                    format!(
                        "BGL {unit} flagged by {name} ({windowing}): precision {:.3}, recall {:.3}, F1 {f1:.3} ({} of {} alert {unit} flagged, {} of {} normal)",
                        d.precision,
                        d.recall,
                        d.flagged - d.negatives_flagged,
                        d.positives,
                        d.negatives_flagged,
                        d.negatives
                    ),
                )
                .with("dataset", format!("BGL {unit}, {name}, {windowing}"))
                .with("detector", name)
                .with("windowing", windowing.clone())
                .with("precision", round(d.precision, 3))
                .with("recall", round(d.recall, 3))
                .with("f1", round(f1, 3))
                .with("flagged", d.flagged)
                .with("positives", d.positives)
                .with("negatives_flagged", d.negatives_flagged)
                .with("negatives", d.negatives),
            );
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
    let (normal, abnormal) = crate::evaluation::grouping::read_hdfs_sessions(data)?;
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
    let record = |name: &str, d: Detection| {
        Record::new(
            TOOL,
            "log.eval",
            Severity::Info,
            format!(
                "HDFS blocks flagged by {name} (fitted on {} normal blocks): precision {:.3}, recall {:.3} ({} of {} normal flagged)",
                learn.len(),
                d.precision,
                d.recall,
                d.negatives_flagged,
                d.negatives
            ),
        )
        .with("dataset", format!("HDFS blocks, {name}"))
        .with("detector", name)
        .with("precision", round(d.precision, 3))
        .with("recall", round(d.recall, 3))
        .with("flagged", d.flagged)
        .with("positives", d.positives)
        .with("negatives_flagged", d.negatives_flagged)
        .with("negatives", d.negatives)
    };
    Ok(vec![
        record("pca", score(&|v| pca.residual(v).spe > pca.threshold))
            .with("components", pca.kept())
            .with("threshold", round(pca.threshold, 3)),
        record("iforest", score(&|v| forest.isolate(v).depth < cut.depth))
            .with("threshold", round(cut.score, 3))
            .with("median_depth", round(cut.median, 2))
            .with("cut_depth", round(cut.depth, 2)),
    ])
}

/// Whether a rule finding names this line (see the module comment).
fn points_at(finding: &Record, line: &Line) -> bool {
    let field = |name: &str| finding.fields.get(name);
    let number = |name: &str| field(name).and_then(serde_json::Value::as_i64);
    if number("template_id") != Some(line.id as i64) {
        return false;
    }
    match field("detector").and_then(|d| d.as_str()) {
        Some("rare_template" | "new_template") => true,
        Some("token_frequency") => {
            let position = number("position").unwrap_or(-1);
            let token = field("token").and_then(|t| t.as_str());
            usize::try_from(position)
                .ok()
                .and_then(|p| line.tokens.get(p))
                .is_some_and(|t| Some(t.as_str()) == token)
        }
        Some("burst") => {
            let start = field("window_start")
                .and_then(|s| s.as_str())
                .and_then(|s| crate::mining::timestamp::leading(s, 0));
            let secs = number("window_secs").unwrap_or(0);
            matches!((start, line.time), (Some(s), Some(t)) if (s..s + secs).contains(&t))
        }
        _ => false,
    }
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
