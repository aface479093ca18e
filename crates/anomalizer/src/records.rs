//! Every record anomalizer writes, built here and nowhere else: the fields
//! of docs/records.md in their order, and one sentence an operator can act
//! on. The detectors and the evaluation say what they found; this says it.

use secops_common::text::plural;
use secops_common::{Record, Severity, Stage};
use serde_json::{Value, json};

use crate::detection::expected::package_manager;
use crate::detection::rhythm::{Silence, WINDOW_SECS, human_secs};
use crate::detection::rules::{EPISODE_SECS, Finding, Rule, TemplateSeen};
use crate::detection::timeline::{BUCKET_SECS, Timeline, hours_json, recent_week};
use crate::detection::windows::{Span, Why, WindowAnomaly};
use crate::evaluation::grouping::DatasetScore;
use crate::evaluation::rarity::Detection;
use crate::evaluation::windows::Fitted;
use crate::input::ingest::IngestStats;
use crate::input::mined::Origin;
use crate::mining::drain::Template;
use crate::mining::timestamp::rfc3339;
use crate::silences::Over;

/// The tool's name in records and diagnostics.
pub const TOOL: &str = "anomalizer";

/// The fields a table of findings shows.
pub const ANOMALY_COLUMNS: [&str; 5] = ["severity", "detector", "count", "score", "message"];
/// The fields a table of `parse` shows.
pub const PARSE_COLUMNS: [&str; 4] = ["source", "line", "template_id", "template"];
/// The fields a table of `eval` shows.
pub const EVAL_COLUMNS: [&str; 10] = [
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

/// Templates listed in a window anomaly's `contributions`.
const CONTRIBUTIONS: usize = 5;

/// `file:line` of a place in the input.
fn place(files: &[String], o: Origin) -> String {
    format!("{}:{}", files[o.file], o.line)
}

/// `log.rare_template`, `log.token_frequency`, `log.burst`,
/// `log.slowdown`, `log.silence`, `log.new_template`: what a rule found,
/// a firing alert named by the rule, the source and the template's text
/// (and the value, for a dominating one), never by the template's id,
/// which is this run's numbering. A silence that ended within the input
/// is no longer firing: it is written as the end of that alert, so that
/// it resolves the alert an earlier run raised while it went on.
pub fn finding(f: &Finding<'_>, files: &[String]) -> Record {
    let detector = f.rule.detector();
    let Some(t) = &f.template else {
        return source_silence(f);
    };
    let text = t.template.text();
    let source = f.source;
    let message = match f.rule {
        Rule::RareTemplate { share } => format!(
            "Rare template: {text:?} seen {}x ({:.3}% of {} lines of {source})",
            t.count,
            share * 100.0,
            f.source_lines
        ),
        Rule::TokenFrequency { value, repeats, .. } => {
            format!("Unusual token frequency: {value} repeated {repeats}x in {text:?} ({source})")
        }
        Rule::NewAddress {
            value,
            count,
            known,
            lines,
            ..
        } => format!(
            "New address: {value} {count}x in {text:?}, where {lines} lines before held {} ({source})",
            match known {
                1 => "one address".to_string(),
                n => format!("{n} addresses"),
            }
        ),
        Rule::Burst(burst) => format!(
            "Burst: {text:?} {}x in the {WINDOW_SECS}s from {}, usually {:.1}, in {source}",
            burst.count,
            rfc3339(burst.window * WINDOW_SECS),
            burst.expected
        ),
        Rule::Slowdown(slow) => {
            let (from, until) = (slow.from * WINDOW_SECS, slow.until * WINDOW_SECS);
            format!(
                "Slowdown: {text:?} {}x in the {} from {}, usually {:.0}, in {source}",
                slow.count,
                human_secs(until - from),
                rfc3339(from),
                slow.expected
            )
        }
        Rule::Silence(s) => format!(
            "Silence: {text:?} quiet for {} from {}{} (usually every {}) in {source}",
            human_secs(s.secs()),
            rfc3339(s.from),
            if s.ongoing {
                " until the end of the input"
            } else {
                ""
            },
            human_secs(s.usual.round() as i64)
        ),
        Rule::NewTemplate => format!(
            "New template: {text:?} seen {}x in {source}, never while learning",
            t.count
        ),
    };
    let message = match f.episode.len() {
        0 => message,
        n => format!(
            "{message} (+{n} more template{} within {})",
            plural(n),
            human_secs(EPISODE_SECS)
        ),
    };
    let message = match f.also_in.as_slice() {
        [] => message,
        others => format!("{message} (also in {})", others.join(", ")),
    };
    let context = f.context.as_deref().cloned().unwrap_or_default();
    let ended = matches!(f.rule, Rule::Silence(s) if !s.ongoing);
    let expected = package_manager(source);
    let message = match f.routine {
        _ if expected => format!("Expected package-manager activity: {message}"),
        Some(routine) if !ended => format!("{message} ({})", routine.name()),
        _ => message,
    };
    let severity = f.severity();
    let rec = Record::new(TOOL, &format!("log.{detector}"), severity, message)
        .with("detector", detector)
        .with("source", source)
        .with("template_id", t.id)
        .with("template", text.clone())
        .with("first_seen", place(files, t.first))
        .with("last_seen", place(files, t.last))
        .with("first_time", t.first_time.map(rfc3339))
        .with("last_time", t.last.time.map(rfc3339))
        .with("level", t.level)
        .with("sample", t.sample)
        .with("context_before", context.before)
        .with("context_line", context.line)
        .with("context_after", context.after)
        .with("concern", f.concern.name())
        .with("routine", f.routine.map(|r| r.name()))
        .with("episode", episode(&f.episode, files))
        .with("also_in", f.also_in.clone());
    let rec = match f.rule {
        Rule::RareTemplate { share } => rec
            .with("count", t.count)
            .with("source_lines", f.source_lines)
            .with("share", share)
            .with("score", f.score),
        Rule::TokenFrequency {
            value,
            position,
            repeats,
            ..
        } => rec
            .with("token", value)
            .with("position", position)
            .with("count", repeats)
            .with("template_count", t.count)
            .with("score", f.score),
        Rule::NewAddress {
            value,
            position,
            count,
            known,
            lines,
        } => rec
            .with("token", value)
            .with("position", position)
            .with("count", count)
            .with("known_values", known)
            .with("known_lines", lines)
            .with("score", f.score),
        Rule::Burst(burst) => rec
            .with("count", burst.count)
            .with("expected", burst.expected)
            .with("score", f.score)
            .with("window_start", rfc3339(burst.window * WINDOW_SECS))
            .with("window_secs", WINDOW_SECS),
        Rule::Slowdown(slow) => {
            let (from, until) = (slow.from * WINDOW_SECS, slow.until * WINDOW_SECS);
            rec.with("count", slow.count)
                .with("expected", slow.expected)
                .with("score", f.score)
                .with("slow_from", rfc3339(from))
                .with("slow_until", rfc3339(until))
                .with("slow_secs", until - from)
        }
        Rule::Silence(s) => silence_fields(rec, &s).with("count", t.count),
        Rule::NewTemplate => rec.with("count", t.count).with("score", f.score),
    };
    match f.rule {
        // Routine: an observation, never an alert.
        _ if expected => rec.with("expected", "package manager"),
        Rule::TokenFrequency { value, .. } | Rule::NewAddress { value, .. } => {
            rec.firing(&[detector, source, &text, value])
        }
        _ if ended => rec.resolved(&[detector, source, &text]),
        _ => rec.firing(&[detector, source, &text]),
    }
}

/// Templates of an episode listed in its record (its message counts them
/// all).
const EPISODE_LISTED: usize = 10;

/// The templates folded into a finding as its episode, the first
/// [`EPISODE_LISTED`]: each one's text, lines, first place and first line.
fn episode(seen: &[TemplateSeen<'_>], files: &[String]) -> Value {
    seen.iter()
        .take(EPISODE_LISTED)
        .map(|t| {
            json!({
                "template": t.template.text(),
                "count": t.count,
                "first_seen": place(files, t.first),
                "sample": t.sample,
            })
        })
        .collect()
}

/// `log.silence` of a whole source: it logged steadily and went quiet,
/// firing while it stays quiet (named by the source alone), the end of
/// that alert once it logged again.
fn source_silence(f: &Finding<'_>) -> Record {
    let Rule::Silence(s) = f.rule else {
        unreachable!("only a silence is about a whole source")
    };
    let message = format!(
        "Silence: {} logged nothing for {} from {}{} (usually a line every {})",
        f.source,
        human_secs(s.secs()),
        rfc3339(s.from),
        if s.ongoing {
            " while other sources went on"
        } else {
            ""
        },
        human_secs(s.usual.round().max(1.0) as i64),
    );
    let severity = if s.ongoing {
        Severity::Medium
    } else {
        Severity::Info
    };
    let mut rec = Record::new(TOOL, "log.silence", severity, message)
        .with("detector", "silence")
        .with("source", f.source)
        .with("source_lines", f.source_lines);
    if let Some(c) = &f.context {
        rec = rec
            .with("context_before", c.before.clone())
            .with("context_line", c.line.clone())
            .with("context_after", c.after.clone());
    }
    let rec = silence_fields(rec, &s);
    if s.ongoing {
        rec.firing(&["silence", f.source])
    } else {
        rec.resolved(&["silence", f.source])
    }
}

/// `log.silence` that ends a silence an earlier run reported going on:
/// this run's input shows its template (or its source) logging again.
/// Written once, `info`, with the earlier record's `alert_id`.
pub fn silence_over(over: &Over, files: &[String]) -> Record {
    let before = &over.firing;
    let field = |name: &str| before.fields.get(name).cloned().unwrap_or(Value::Null);
    let text = |name: &str| before.fields.get(name).and_then(Value::as_str);
    let source = text("source").unwrap_or_default();
    let since = text("silent_from").unwrap_or_default();
    let when = over
        .back
        .time
        .map_or_else(|| place(files, over.back), rfc3339);
    let message = match text("template") {
        Some(template) => format!(
            "Silence over: {template:?} logged again in {source} (latest {when}), quiet since {since}"
        ),
        None => format!("Silence over: {source} logged again (latest {when}), quiet since {since}"),
    };
    let mut rec = Record::new(TOOL, "log.silence", Severity::Info, message)
        .with("detector", "silence")
        .with("source", source);
    if before.fields.contains_key("template") {
        rec = rec.with("template", field("template"));
    }
    let rec = rec
        .with("silent_from", field("silent_from"))
        .with("usual_gap_secs", field("usual_gap_secs"))
        .with("ongoing", false)
        .with("last_seen", place(files, over.back))
        .with("last_time", over.back.time.map(rfc3339));
    match before.alert_id() {
        Some(id) => rec.with_alert(Stage::Resolved, id),
        None => rec,
    }
}

fn silence_fields(rec: Record, s: &Silence) -> Record {
    rec.with("silent_from", rfc3339(s.from))
        .with("silent_until", rfc3339(s.until))
        .with("silent_secs", s.secs())
        .with("usual_gap_secs", (s.usual * 10.0).round() / 10.0)
        .with("ongoing", s.ongoing)
        .with("score", s.score())
}

/// `log.window_anomaly`: a window whose mix of templates is unusual, a
/// firing alert named by the method, the source and the text of the
/// template most to blame (as a rule's finding is named by its template),
/// so the same storm seen again by a later run is the same alert.
pub fn window_anomaly(a: &WindowAnomaly<'_>, files: &[String]) -> Record {
    let mut order: Vec<usize> = (0..a.dims.len()).collect();
    order.sort_by(|&x, &y| a.dims[y].share.total_cmp(&a.dims[x].share));
    let contributions: Vec<Value> = order
        .iter()
        .take(CONTRIBUTIONS)
        .map(|&d| {
            let dim = &a.dims[d];
            json!({
                "template_id": dim.template_id,
                "template": dim.template,
                "count": dim.count as u64,
                "expected": round(dim.expected, 1),
                "share": round(dim.share, 3),
            })
        })
        .collect();
    // The message names the templates that carry most of the blame and
    // whose counts are visibly off (PCA's linear model may "expect" a
    // negative count, shown as 0, where 0 were seen).
    let describe = |d: usize| {
        let dim = &a.dims[d];
        format!(
            "{:?} {}x (expected {:.1})",
            dim.template, dim.count as u64, dim.expected
        )
    };
    let off = |d: &&usize| (a.dims[**d].count - a.dims[**d].expected).abs() >= 0.5;
    let mut told = Vec::new();
    let mut covered = 0.0;
    for &d in order.iter().filter(off).take(3) {
        if !told.is_empty() && (covered >= 0.8 || a.dims[d].share < 0.1) {
            break;
        }
        covered += a.dims[d].share;
        told.push(describe(d));
    }
    if told.is_empty() {
        told.push(describe(order[0]));
    }
    let (start, end, when) = match a.span {
        Span::Time { start, secs } => (
            Some(rfc3339(start)),
            Some(rfc3339(start + secs)),
            format!("{} to {}", rfc3339(start), rfc3339(start + secs)),
        ),
        Span::Lines { .. } => (
            None,
            None,
            format!(
                "lines {}-{} of {}",
                a.first.line, a.last.line, files[a.first.file]
            ),
        ),
    };
    let verdict = match a.why {
        Why::Pca { spe, threshold, .. } => format!(
            "squared error {spe:.1} is {:.1}x the threshold {threshold:.1}",
            spe / threshold
        ),
        Why::Iforest {
            depth,
            median_depth,
            cut_depth,
            cut_score,
        } => format!(
            "isolated in {depth:.1} splits where the median window needs {median_depth:.1} (cut {cut_depth:.1}): score {:.3} is above the cut {cut_score:.3}",
            a.score
        ),
    };
    let message = format!(
        "Window anomaly: {when} in {}: {}; {verdict}",
        a.source,
        told.join(", ")
    );
    let top = &a.dims[order.iter().find(off).copied().unwrap_or(order[0])];
    let parts = [a.method.name(), a.source, &top.template];
    let mut rec = Record::new(TOOL, "log.window_anomaly", a.severity, message)
        .with("detector", a.method.name())
        .with("source", a.source)
        .with("window_start", start)
        .with("window_end", end);
    rec = match a.span {
        Span::Time { secs, .. } => rec.with("window_secs", secs),
        Span::Lines { lines } => rec.with("window_lines", lines),
    };
    rec = rec
        .with("first_seen", place(files, a.first))
        .with("last_seen", place(files, a.last))
        .with("first_time", a.first.time.map(rfc3339))
        .with("last_time", a.last.time.map(rfc3339))
        .with("lines", a.lines)
        .with("template_id", top.template_id)
        .with("template", top.template.clone())
        .with("count", top.count as u64)
        .with("expected", round(top.expected, 1))
        .with("contributions", contributions)
        .with("score", a.score)
        .with("windows", a.windows)
        .with("dimensions", a.dims.len());
    let rec = match a.why {
        Why::Pca {
            spe,
            threshold,
            components,
        } => rec
            .with("spe", round(spe, 3))
            .with("threshold", round(threshold, 3))
            .with("components", components),
        Why::Iforest {
            depth,
            median_depth,
            cut_depth,
            cut_score,
        } => rec
            .with("threshold", round(cut_score, 3))
            .with("depth", round(depth, 2))
            .with("median_depth", round(median_depth, 2))
            .with("cut_depth", round(cut_depth, 2)),
    };
    rec.firing(&parts)
}

/// What a run read and found, for its `log.summary`.
pub struct RunSummary<'a> {
    pub stats: &'a IngestStats,
    /// Lines the line format did not match.
    pub unmatched: u64,
    pub templates: &'a [Template],
    pub timelines: &'a [Timeline],
    /// Sources judged.
    pub sources: usize,
    /// The findings written.
    pub findings: &'a [Record],
    /// Findings left out by `--max-per-source`.
    pub suppressed: usize,
    /// Whether a window detector ran.
    pub windowed: bool,
}

/// `log.summary`: what was read and found.
pub fn summary(run: &RunSummary<'_>) -> Record {
    let RunSummary {
        stats,
        templates,
        findings,
        suppressed,
        windowed,
        sources,
        ..
    } = *run;
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
    let addresses = count("new_address");
    let addresses_text = match addresses {
        0 => String::new(),
        1 => ", 1 new address".to_string(),
        n => format!(", {n} new addresses"),
    };
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
            "{} from {}, {}: {}, {rare} rare, {}{addresses_text}, {}, {}, {}, {new} new{windows_text}{more}",
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
    .with("new_addresses", addresses)
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
    .with("unmatched_lines", run.unmatched)
    .with("top_templates", top)
    .with("timeline", recent_timeline(templates, run.timelines))
}

/// The `log.summary` record's `timeline`: lines per hour of the most
/// frequent templates over the input's last week, hours without lines
/// left out; `None` when no line had a time.
fn recent_timeline(templates: &[Template], timelines: &[Timeline]) -> Option<Value> {
    let week = recent_week(templates, timelines)?;
    let series: Vec<Value> = week
        .templates
        .iter()
        .map(|&(id, t)| {
            json!({
                "template_id": id,
                "template": templates[id].text(),
                "hours": hours_json(t.between(week.start, week.end)),
            })
        })
        .collect();
    Some(json!({"bucket_secs": BUCKET_SECS, "templates": series}))
}

/// `log.parsed`: one input line's template (`anomalizer parse`).
pub fn parsed(file: &str, line: u64, id: usize, template: String) -> Record {
    Record::new(
        TOOL,
        "log.parsed",
        Severity::Info,
        format!("line {line} is template {id}"),
    )
    .with("source", file)
    .with("line", line)
    .with("template_id", id)
    .with("template", template)
}

/// `log.parsed` records for a run, one line after another: one record
/// rewritten in place rather than a new one per line (whose field map,
/// time, host and names cost more than writing it), all stamped with the
/// time the run began writing them.
pub struct Parsed {
    rec: Record,
    file: Option<usize>,
    /// The JSON line's start, the same for every line:
    /// `{"ts":…,"host":…,"tool":…,"kind":…,"severity":…,"message":"line `.
    head: String,
}

impl Parsed {
    pub fn new() -> Parsed {
        let rec = parsed("", 0, 0, String::new());
        let quoted = |s: &str| Value::from(s).to_string();
        let head = format!(
            "{{\"ts\":{},\"host\":{},\"tool\":{},\"kind\":{},\"severity\":\"{}\",\"message\":\"line ",
            quoted(&rec.ts),
            quoted(&rec.host),
            quoted(&rec.tool),
            quoted(&rec.kind),
            rec.severity,
        );
        Parsed {
            rec,
            file: None,
            head,
        }
    }

    /// The record of line `line` of file number `file` (named `name`),
    /// whose template is `id` with `text`.
    pub fn of(&mut self, file: usize, name: &str, line: u64, id: usize, text: &str) -> &Record {
        use std::fmt::Write as _;
        let rec = &mut self.rec;
        if self.file != Some(file) {
            self.file = Some(file);
            rec.set("source", name);
        }
        rec.message.clear();
        let _ = write!(rec.message, "line {line} is template {id}");
        let mut field = |name: &str, value: Value| {
            if let Some(slot) = rec.fields.get_mut(name) {
                *slot = value;
            }
        };
        field("line", line.into());
        field("template_id", id.into());
        field("template", text.into());
        &self.rec
    }

    /// The same record as its JSON Lines line, appended to `out` without
    /// building it: the line is what serializing [`Parsed::of`]'s record
    /// gives, byte for byte (a test holds the two together), at a fraction
    /// of the cost, which is most of `anomalizer parse`'s time. `name` and
    /// `text` come JSON-encoded (quoted and escaped), as
    /// [`serde_json::to_string`] gives them, once per file and template.
    pub fn jsonl(&self, out: &mut Vec<u8>, name: &str, line: u64, id: usize, text: &str) {
        use std::io::Write as _;
        out.extend_from_slice(self.head.as_bytes());
        let _ = writeln!(
            out,
            "{line} is template {id}\",\"alert\":\"none\",\"source\":{name},\"line\":{line},\"template_id\":{id},\"template\":{text}}}"
        );
    }
}

/// `log.eval` of one Loghub-2k dataset's grouping.
pub fn dataset_score(s: &DatasetScore) -> Record {
    Record::new(
        TOOL,
        "log.eval",
        Severity::Info,
        format!(
            "{}: grouping accuracy {:.3} ({:.3} without a format)",
            s.dataset, s.ga, s.ga_no_format
        ),
    )
    .with("dataset", s.dataset.clone())
    .with("lines", s.lines)
    .with("templates", s.templates)
    .with("truth_templates", s.truth_templates)
    .with("ga", round(s.ga, 3))
    .with("f1", round(s.f1, 3))
    .with("ga_no_format", round(s.ga_no_format, 3))
    .with("ga_by_template", round(s.ga_by_template, 3))
    .with(
        "ga_no_format_by_template",
        round(s.ga_no_format_by_template, 3),
    )
}

/// `log.eval` of the datasets' mean grouping accuracies: with formats,
/// without, and both by template.
pub fn mean_score(ga: f64, ga_no_format: f64, by_template: (f64, f64)) -> Record {
    Record::new(
        TOOL,
        "log.eval",
        Severity::Info,
        format!("mean grouping accuracy {ga:.3} ({ga_no_format:.3} without formats)"),
    )
    .with("dataset", "mean")
    .with("ga", round(ga, 3))
    .with("ga_no_format", round(ga_no_format, 3))
    .with("ga_by_template", round(by_template.0, 3))
    .with("ga_no_format_by_template", round(by_template.1, 3))
}

/// `log.eval` of the rare-template rule on `name` (`BGL lines`, `HDFS
/// blocks`).
pub fn rare_rule_score(name: &str, threshold: f64, d: &Detection) -> Record {
    Record::new(
        TOOL,
        "log.eval",
        Severity::Info,
        format!(
            "{name} in rare templates (share < {threshold}): precision {:.3}, recall {:.3} ({} of {} normal flagged)",
            d.precision, d.recall, d.negatives_flagged, d.negatives
        ),
    )
    .with("dataset", name)
    .with("precision", round(d.precision, 3))
    .with("recall", round(d.recall, 3))
    .with("flagged", d.flagged)
    .with("positives", d.positives)
}

/// `log.eval` of a detector (`pca`, `iforest`, `rules`) on BGL's `lines`
/// or `windows`, cut as `windowing` says.
pub fn bgl_score(unit: &str, detector: &str, windowing: &str, d: &Detection, f1: f64) -> Record {
    Record::new(
        TOOL,
        "log.eval",
        Severity::Info,
        format!(
            "BGL {unit} flagged by {detector} ({windowing}): precision {:.3}, recall {:.3}, F1 {f1:.3} ({} of {} alert {unit} flagged, {} of {} normal)",
            d.precision,
            d.recall,
            d.flagged - d.negatives_flagged,
            d.positives,
            d.negatives_flagged,
            d.negatives
        ),
    )
    .with("dataset", format!("BGL {unit}, {detector}, {windowing}"))
    .with("detector", detector)
    .with("windowing", windowing)
    .with("precision", round(d.precision, 3))
    .with("recall", round(d.recall, 3))
    .with("f1", round(f1, 3))
    .with("flagged", d.flagged)
    .with("positives", d.positives)
    .with("negatives_flagged", d.negatives_flagged)
    .with("negatives", d.negatives)
}

/// `log.eval` of a window detector on the HDFS block sessions, fitted on
/// `fitted_blocks` normal ones.
pub fn hdfs_blocks_score(fitted_blocks: usize, d: &Detection, fitted: Fitted) -> Record {
    let name = match fitted {
        Fitted::Pca { .. } => "pca",
        Fitted::Iforest { .. } => "iforest",
    };
    let rec = Record::new(
        TOOL,
        "log.eval",
        Severity::Info,
        format!(
            "HDFS blocks flagged by {name} (fitted on {fitted_blocks} normal blocks): precision {:.3}, recall {:.3} ({} of {} normal flagged)",
            d.precision, d.recall, d.negatives_flagged, d.negatives
        ),
    )
    .with("dataset", format!("HDFS blocks, {name}"))
    .with("detector", name)
    .with("precision", round(d.precision, 3))
    .with("recall", round(d.recall, 3))
    .with("flagged", d.flagged)
    .with("positives", d.positives)
    .with("negatives_flagged", d.negatives_flagged)
    .with("negatives", d.negatives);
    match fitted {
        Fitted::Pca {
            components,
            threshold,
        } => rec
            .with("components", components)
            .with("threshold", round(threshold, 3)),
        Fitted::Iforest {
            cut_score,
            median_depth,
            cut_depth,
        } => rec
            .with("threshold", round(cut_score, 3))
            .with("median_depth", round(median_depth, 2))
            .with("cut_depth", round(cut_depth, 2)),
    }
}

/// `1 line`, `2 lines`: a count and its noun, plural when it is not 1.
pub fn counted(n: impl TryInto<u64>, noun: &str) -> String {
    match n.try_into().unwrap_or(u64::MAX) {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

/// `v` rounded to `places` decimals, for reading.
fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsed_lines_written_straight_are_the_records_serialized() {
        let mut parsed = Parsed::new();
        let quote = |s: &str| Value::from(s).to_string();
        for (file, name, line, id, text) in [
            (0, "/var/log/app.log", 1, 0, "workerEnv.init() ok <*>"),
            (
                0,
                "/var/log/app.log",
                2,
                7,
                "a \"quoted\" \\ back\tslash \u{1} \u{2028} é <*>",
            ),
            (
                1,
                "/tmp/we\"ird\nname.log",
                18_446_744_073_709_551_615,
                usize::MAX,
                "",
            ),
        ] {
            let mut fast = Vec::new();
            parsed.jsonl(&mut fast, &quote(name), line, id, &quote(text));
            let slow = serde_json::to_string(parsed.of(file, name, line, id, text)).unwrap() + "\n";
            assert_eq!(String::from_utf8(fast).unwrap(), slow);
        }
    }

    #[test]
    fn the_record_timeline_holds_the_last_week_of_the_top_templates() {
        let template = |text: &str, count| Template {
            tokens: vec![text.to_string()],
            count,
        };
        let templates = [
            template("rare", 1),
            template("often", 9),
            template("untimed", 5),
        ];
        let (mut rare, mut often) = (Timeline::default(), Timeline::default());
        rare.add(0);
        for hour in [0, 100, 200, 200] {
            often.add(hour * BUCKET_SECS + 59);
        }
        let timelines = [rare, often, Timeline::default()];
        let value = recent_timeline(&templates, &timelines).unwrap();
        assert_eq!(
            value,
            json!({"bucket_secs": 3600, "templates": [
                {"template_id": 1, "template": "often", "hours": [
                    ["1970-01-05T04:00:00Z", 1], ["1970-01-09T08:00:00Z", 2]]},
                {"template_id": 0, "template": "rare", "hours": []},
            ]})
        );
        assert_eq!(recent_timeline(&templates, &[]), None);
    }

    #[test]
    fn counts_read_as_words() {
        assert_eq!(counted(1, "line"), "1 line");
        assert_eq!(counted(0usize, "line"), "0 lines");
        assert_eq!(counted(2u64, "dominating value"), "2 dominating values");
    }
}
