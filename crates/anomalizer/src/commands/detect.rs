//! The three modes as the binary runs them: detect (default), `parse` and
//! `eval`, each mining input and writing records through secops-common.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use secops_common::cli::CommonArgs;
use secops_common::{Error, Exit, Format, Output, Record, Severity};

use crate::TOOL;
use crate::cli::{Detectors, InputArgs};
use crate::detection::model::Model;
use crate::detection::rules::{Detector, Observed, Origin, Rules};
use crate::detection::windows::Windows;
use crate::evaluation::grouping as eval;
use crate::input::ingest::{self, IngestStats, Source};
use crate::insights::Timeline;
use crate::mining::drain::DrainConfig;
use crate::mining::drain::Template;
use crate::mining::extract::{Entry, Splitter};
use crate::mining::miner::LineMiner;

const ANOMALY_COLUMNS: [&str; 5] = ["severity", "detector", "count", "score", "message"];
const PARSE_COLUMNS: [&str; 4] = ["source", "line", "template_id", "template"];
const EVAL_COLUMNS: [&str; 10] = [
    "dataset",
    "lines",
    "templates",
    "truth_templates",
    "ga",
    "f1",
    "ga_no_format",
    "ga_by_template",
    "ga_no_format_by_template",
    "message",
];

/// Everything read and mined from the input.
struct Mined {
    files: Vec<String>,
    miner: LineMiner,
    stats: IngestStats,
}

/// One mined line, as the modes see it.
struct Seen<'a> {
    id: usize,
    tokens: &'a [&'a str],
    at: Origin,
    entry: &'a Entry<'a>,
    line: &'a str,
    /// The source the line's file stands for (its rotated set).
    file_stream: &'a str,
}

impl Seen<'_> {
    /// The source the line is judged in: the one it names (a journald
    /// unit, a `source` group), else its file's.
    fn stream_name(&self) -> &str {
        self.entry.source.as_deref().unwrap_or(self.file_stream)
    }
}

/// Reads every input through one miner, calling `seen` per mined line.
fn mine_input(
    input: &InputArgs,
    extra: &[PathBuf],
    mut seen: impl FnMut(&LineMiner, Seen<'_>),
) -> Result<Mined, Error> {
    let mut logs = extra.to_vec();
    logs.extend(input.logs.iter().cloned());
    let sources = ingest::sources(&logs, &input.log_dir, input.glob.as_deref())?;
    let splitter = || Splitter::new(input.log_format.as_deref(), input.format_regex.as_deref());
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

/// Status 3 when some input could not be read, else by severity found.
fn conclude(stats: &IngestStats, worst: Option<Severity>, fail_on: Severity) -> Exit {
    if stats.unreadable > 0 {
        Exit::Failed
    } else {
        Exit::for_findings(worst, fail_on)
    }
}

/// Default mode: mine, then report anomalies and a summary.
pub fn detect(
    input: &InputArgs,
    rules: Rules,
    detectors: Detectors,
    model: Option<&Path>,
    insights: Option<&Path>,
    common: &CommonArgs,
) -> Result<Exit, Error> {
    let spec = common.output_spec(&ANOMALY_COLUMNS)?;
    if model.is_some() && !detectors.rules {
        return Err(Error::bad_input(
            "--model feeds the rules detector: add it, e.g. --detector rules,pca",
        ));
    }
    let model = model.map(Model::load).transpose()?;
    let mut detector = Detector::default();
    let methods = detectors.methods();
    let mut windows = (!methods.is_empty()).then(|| Windows::new(detectors.windows));
    // Most lines come from the same source as the line before.
    let mut last_stream: Option<(String, usize)> = None;
    let mined = mine_input(input, &[], |miner, seen| {
        let name = seen.stream_name();
        let stream = match &last_stream {
            Some((last, id)) if last == name => *id,
            _ => {
                let id = detector.stream(name);
                last_stream = Some((name.to_string(), id));
                id
            }
        };
        detector.observe(Observed {
            stream,
            id: seen.id,
            template: &miner.templates()[seen.id],
            version: miner.template_version(seen.id),
            tokens: seen.tokens,
            at: seen.at,
            level: seen.entry.level.as_deref(),
            line: seen.line,
        });
        if let Some(windows) = &mut windows {
            windows.observe(stream, name, seen.id, seen.at);
        }
    })?;
    let templates = mined.miner.templates();
    let known = model
        .as_ref()
        .map(|m| move |source: &str, t: &Template| m.knows(source, t));
    let (mut findings, mut suppressed) = if detectors.rules {
        detector.findings(
            templates,
            &mined.files,
            rules,
            known
                .as_ref()
                .map(|k| k as &dyn Fn(&str, &Template) -> bool),
        )
    } else {
        (Vec::new(), 0)
    };
    if let Some(windows) = &windows {
        let (found, left_out) =
            windows.findings(&methods, templates, &mined.files, rules.max_per_source);
        findings.extend(found);
        suppressed += left_out;
    }
    let summary = summary(
        &mined,
        &findings,
        suppressed,
        detector.streams(),
        !methods.is_empty(),
        detector.timelines(),
    );
    if let Some(path) = insights {
        crate::insights::write(
            path,
            &crate::insights::Insights {
                summary: &summary,
                sources: detector.overview(),
                templates,
                timelines: detector.timelines(),
                findings: &findings,
            },
        )?;
    }
    let worst = findings.iter().map(|r| r.severity).max();
    let mut out = Output::open(&spec)?;
    if spec.format == Format::Table {
        // The operator's view keeps the original tool's one-line style.
        out.write_text(|w| {
            for rec in &findings {
                writeln!(w, "[ANOMALY] {}", rec.message)?;
            }
            writeln!(w, "{}", summary.message)
        })?;
    } else {
        for rec in &findings {
            out.write(rec)?;
        }
        out.write(&summary)?;
    }
    out.finish()?;
    Ok(conclude(&mined.stats, worst, common.fail_on))
}

fn summary(
    mined: &Mined,
    findings: &[Record],
    suppressed: usize,
    sources: usize,
    windowed: bool,
    timelines: &[Timeline],
) -> Record {
    let templates = mined.miner.templates();
    let stats = &mined.stats;
    let count = |detector: &str| {
        findings
            .iter()
            .filter(|r| r.fields.get("detector").and_then(|d| d.as_str()) == Some(detector))
            .count()
    };
    let mut top: Vec<_> = templates.iter().collect();
    top.sort_by_key(|t| std::cmp::Reverse(t.count));
    let top: Vec<String> = top
        .iter()
        .take(10)
        .map(|t| format!("{} {}", t.count, t.text()))
        .collect();
    let (rare, tokens, new, bursts, slowdowns, silences) = (
        count("rare_template"),
        count("token_frequency"),
        count("new_template"),
        count("burst"),
        count("slowdown"),
        count("silence"),
    );
    let windows = findings
        .iter()
        .filter(|r| r.kind == "log.window_anomaly")
        .count();
    let windows_text = if windowed {
        format!(", {windows} window anomalies")
    } else {
        String::new()
    };
    let more = if suppressed > 0 {
        format!(" ({suppressed} more past --max-per-source)")
    } else {
        String::new()
    };
    Record::new(
        TOOL,
        "log.summary",
        Severity::Info,
        format!(
            "{} from {}, {}: {}, {rare} rare, {}, {}, {}, {}, {new} new{windows_text}{more}",
            counted(stats.lines, "line"),
            counted(stats.files, "file"),
            counted(sources, "source"),
            counted(templates.len(), "template"),
            counted(tokens, "dominating value"),
            counted(bursts, "burst"),
            counted(slowdowns, "slowdown"),
            counted(silences, "silence"),
        ),
    )
    .with("files", stats.files)
    .with("sources", sources)
    .with("lines", stats.lines)
    .with("bytes", stats.bytes)
    .with("templates", templates.len())
    .with("rare_templates", rare)
    .with("token_anomalies", tokens)
    .with("new_templates", new)
    .with("bursts", bursts)
    .with("slowdowns", slowdowns)
    .with("silences", silences)
    .with("window_anomalies", windowed.then_some(windows))
    .with("suppressed", suppressed)
    .with("non_utf8_lines", stats.non_utf8)
    .with("huge_lines", stats.huge)
    .with("binary_lines", stats.binary)
    .with("blank_lines", stats.blank)
    .with("empty_files", stats.empty_files)
    .with("binary_files", stats.binary_files)
    .with("unreadable_files", stats.unreadable)
    .with("unmatched_lines", mined.miner.unmatched)
    .with("top_templates", top)
    .with(
        "timeline",
        crate::insights::recent_timeline(templates, timelines),
    )
}

/// `1 line`, `2 lines`: a count and its noun, plural when it is not 1.
fn counted(n: impl TryInto<u64>, noun: &str) -> String {
    match n.try_into().unwrap_or(u64::MAX) {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

/// `learn`: mine a known-good period and save its templates.
pub fn learn(input: &InputArgs, model: &Path) -> Result<Exit, Error> {
    // The template ids each source showed, so that each is later judged
    // against its own past.
    let mut sources: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let mined = mine_input(input, &[], |_, seen| {
        match sources.get_mut(seen.stream_name()) {
            Some(ids) => {
                ids.insert(seen.id);
            }
            None => {
                sources.insert(seen.stream_name().to_string(), BTreeSet::from([seen.id]));
            }
        }
    })?;
    Model::learn(mined.miner.templates(), &sources).save(model)?;
    secops_common::info!(
        "{} from {} in {} saved to {}",
        counted(mined.miner.templates().len(), "template"),
        counted(mined.stats.lines, "line"),
        counted(sources.len(), "source"),
        model.display()
    );
    Ok(conclude(&mined.stats, None, Severity::Critical))
}

/// `parse`: one record per line with its final template.
pub fn parse(files: &[PathBuf], input: &InputArgs, common: &CommonArgs) -> Result<Exit, Error> {
    let spec = common.output_spec(&PARSE_COLUMNS)?;
    let mut rows = Vec::new();
    let mined = mine_input(input, files, |_, seen| rows.push((seen.at, seen.id)))?;
    let templates = mined.miner.templates();
    let mut out = Output::open(&spec)?;
    for (at, id) in rows {
        out.write(
            &Record::new(
                TOOL,
                "log.parsed",
                Severity::Info,
                format!("line {} is template {id}", at.line),
            )
            .with("source", mined.files[at.file].clone())
            .with("line", at.line)
            .with("template_id", id)
            .with("template", templates[id].text()),
        )?;
    }
    out.finish()?;
    Ok(conclude(&mined.stats, None, common.fail_on))
}

/// `eval`: the accuracy table and detection scores on the shared data.
pub fn eval(
    data: &Path,
    threshold: f64,
    config: DrainConfig,
    common: &CommonArgs,
) -> Result<Exit, Error> {
    let spec = common.output_spec(&EVAL_COLUMNS)?;
    let mut out = Output::open(&spec)?;
    let mut sum = (0.0, 0.0);
    let mut sum_by_template = (0.0, 0.0);
    let formats = eval::loghub_formats(data)?;
    for (dataset, format) in &formats {
        let s = eval::loghub_dataset(data, dataset, format, config)?;
        sum = (sum.0 + s.ga, sum.1 + s.ga_no_format);
        sum_by_template = (
            sum_by_template.0 + s.ga_by_template,
            sum_by_template.1 + s.ga_no_format_by_template,
        );
        out.write(
            &Record::new(
                TOOL,
                "log.eval",
                Severity::Info,
                format!(
                    "{dataset}: grouping accuracy {:.3} ({:.3} without a format)",
                    s.ga, s.ga_no_format
                ),
            )
            .with("dataset", s.dataset)
            .with("lines", s.lines)
            .with("templates", s.templates)
            .with("truth_templates", s.truth_templates)
            .with("ga", round(s.ga))
            .with("f1", round(s.f1))
            .with("ga_no_format", round(s.ga_no_format))
            .with("ga_by_template", round(s.ga_by_template))
            .with(
                "ga_no_format_by_template",
                round(s.ga_no_format_by_template),
            ),
        )?;
    }
    let n = formats.len().max(1) as f64;
    out.write(
        &Record::new(
            TOOL,
            "log.eval",
            Severity::Info,
            format!(
                "mean grouping accuracy {:.3} ({:.3} without formats)",
                sum.0 / n,
                sum.1 / n
            ),
        )
        .with("dataset", "mean")
        .with("ga", round(sum.0 / n))
        .with("ga_no_format", round(sum.1 / n))
        .with("ga_by_template", round(sum_by_template.0 / n))
        .with("ga_no_format_by_template", round(sum_by_template.1 / n)),
    )?;
    for (name, d) in [
        ("BGL lines", eval::bgl_lines(data, threshold, config)?),
        ("HDFS blocks", eval::hdfs_sessions(data, threshold)?),
    ] {
        out.write(
            &Record::new(
                TOOL,
                "log.eval",
                Severity::Info,
                format!(
                    "{name} in rare templates (share < {threshold}): precision {:.3}, recall {:.3} ({} of {} normal flagged)",
                    d.precision, d.recall, d.negatives_flagged, d.negatives
                ),
            )
            .with("dataset", name)
            .with("precision", round(d.precision))
            .with("recall", round(d.recall))
            .with("flagged", d.flagged)
            .with("positives", d.positives),
        )?;
    }
    for rec in crate::evaluation::windows::bgl_records(data, threshold, config, Default::default())?
    {
        out.write(&rec)?;
    }
    out.finish()?;
    Ok(Exit::Clean)
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
