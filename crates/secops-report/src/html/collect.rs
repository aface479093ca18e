//! What an HTML report gathers as records stream by: the counts for the
//! header, the time span, the tables (one per tool and kind, at most
//! [`MAX_ROWS`] rows each) and the points its charts draw.
//!
//! The page is a summary, laid out once the input ends, so it buffers; but
//! only what it shows: rows beyond the cap are counted, not kept, and a
//! chart keeps two numbers per point. Memory is therefore bounded by the
//! number of tools, kinds and chart points, not by the input.

use std::collections::HashMap;
use std::time::UNIX_EPOCH;

use secops_common::alert::ALERT_ID;
use secops_common::{Alerting, Record, Severity, Stage};
use serde_json::Value;

use crate::summary::Summary;

/// Rows kept per table. A browser slows down well before a million rows,
/// and a reader wanting every row asks for CSV; the counts and charts still
/// cover every record.
pub const MAX_ROWS: usize = 5000;

/// Burst windows kept per template for the timeline.
const MAX_BURSTS: usize = 50;

/// anomalizer summaries kept for the lines-per-hour charts (a fleet report
/// has one per host); the rest are counted.
pub const MAX_HOURLY: usize = 12;

/// Templates kept per summary: anomalizer sends its top 10.
const MAX_HOURLY_TEMPLATES: usize = 10;

/// Hours kept per template, the latest: anomalizer sends a week (168); a
/// month bounds what a hand-made record can make the page draw.
const MAX_HOURS: i64 = 744;

/// Everything the page shows, gathered record by record.
#[derive(Debug, Default)]
pub struct Page {
    pub summary: Summary,
    /// Records read but left out by the filters.
    pub filtered_out: u64,
    pub first: Option<Moment>,
    pub last: Option<Moment>,
    /// One per tool, in the order first seen.
    pub tools: Vec<ToolSection>,
    /// healthmon's busy CPU percent per host.
    pub cpu: Series,
    /// healthmon's used memory percent per host.
    pub memory: Series,
    /// healthmon's disk use percent per host and mount.
    pub disk: Series,
    /// anomalizer's templates, from first to last line seen, in the
    /// order first reported.
    pub templates: Vec<TemplateSpan>,
    template_index: HashMap<String, usize>,
    /// anomalizer's lines per hour of its top templates, one per
    /// `log.summary` record that has a `timeline`, in input order.
    pub hourly: Vec<HourlyTemplates>,
    /// Such summaries past [`MAX_HOURLY`], not drawn.
    pub hourly_left_out: u64,
    /// What needs attention: the latest word of each critical or high
    /// alert still firing.
    pub attention: Attention,
}

/// The critical and high alerts still firing at the end of the input,
/// one per alert (host and `alert_id`, as docs/records.md defines it; a
/// record of a program without the contract is its own alert, by host,
/// kind and message). An alert that resolved, or fell below high, is off
/// the list. Observations are never on it.
#[derive(Debug, Default)]
pub struct Attention {
    index: HashMap<(String, String), usize>,
    items: Vec<Option<Flagged>>,
}

/// One alert that needs attention, and the table row that shows it.
#[derive(Debug, Clone)]
pub struct Flagged {
    pub severity: Severity,
    pub ts: String,
    pub secs: Option<f64>,
    pub host: String,
    pub tool: String,
    pub kind: String,
    pub message: String,
    /// The row's id, when its table kept it.
    pub anchor: Option<String>,
    /// Arrival order, to break ties of time.
    seq: u64,
}

impl Attention {
    /// Takes in `rec`, whose row (if kept) has id `anchor`; `seq` is its
    /// place in the input.
    fn add(&mut self, rec: &Record, anchor: Option<String>, seq: u64) {
        let (key, firing) = match rec.alerting() {
            Alerting::Observation => return,
            Alerting::Alert(stage, id) => {
                ((rec.host.clone(), id.to_string()), stage == Stage::Firing)
            }
            Alerting::Unknown => (
                (rec.host.clone(), format!("{}\0{}", rec.kind, rec.message)),
                true,
            ),
        };
        let flagged = (firing && rec.severity >= Severity::High).then(|| Flagged {
            severity: rec.severity,
            ts: rec.ts.clone(),
            secs: epoch_secs(&rec.ts),
            host: rec.host.clone(),
            tool: rec.tool.clone(),
            kind: rec.kind.clone(),
            message: rec.message.clone(),
            anchor,
            seq,
        });
        match self.index.get(&key) {
            Some(&slot) => self.items[slot] = flagged,
            None if flagged.is_some() => {
                self.index.insert(key, self.items.len());
                self.items.push(flagged);
            }
            None => {}
        }
    }

    /// The alerts, critical first, then newest first.
    pub fn sorted(&self) -> Vec<&Flagged> {
        let mut items: Vec<&Flagged> = self.items.iter().flatten().collect();
        items.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.secs.unwrap_or(0.0).total_cmp(&a.secs.unwrap_or(0.0)))
                .then(b.seq.cmp(&a.seq))
        });
        items
    }
}

/// One anomalizer run's most frequent templates, a line each of their
/// lines per hour (hours without lines at zero, so a quiet hour reads as a
/// dip, not as a straight line to the next busy one).
#[derive(Debug)]
pub struct HourlyTemplates {
    pub host: String,
    /// Lines named by template text; points are (hour start, lines).
    pub series: Series,
}

/// A record time: seconds since the epoch for placing it, the text for
/// showing it.
#[derive(Debug, Clone, PartialEq)]
pub struct Moment {
    pub secs: f64,
    pub text: String,
}

#[derive(Debug)]
pub struct ToolSection {
    pub tool: String,
    /// One per kind, in the order first seen.
    pub kinds: Vec<KindTable>,
}

#[derive(Debug)]
pub struct KindTable {
    pub kind: String,
    /// Every kind field of the kept rows, in the order first seen.
    pub fields: Vec<String>,
    pub rows: Vec<Record>,
    /// Records of this kind, kept or not.
    pub total: u64,
    /// The worst severity among them.
    pub worst: Severity,
}

impl ToolSection {
    /// The worst severity among its records.
    pub fn worst(&self) -> Severity {
        self.kinds
            .iter()
            .map(|k| k.worst)
            .max()
            .unwrap_or(Severity::Info)
    }

    pub fn total(&self) -> u64 {
        self.kinds.iter().map(|k| k.total).sum()
    }
}

/// The id of row `row` of table `kind` of tool section `tool`, as stored
/// (before the page orders them).
pub fn row_id(tool: usize, kind: usize, row: usize) -> String {
    format!("r{tool}-{kind}-{row}")
}

/// Named lines of (time, value) points.
#[derive(Debug, Default)]
pub struct Series {
    pub lines: Vec<Line>,
}

#[derive(Debug)]
pub struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// One anomalizer template: when its lines began and ended, and its bursts
/// (and the windows a `--detector pca`/`iforest` flagged it in).
#[derive(Debug)]
pub struct TemplateSpan {
    pub host: String,
    /// The log it came from, when a finding names it: logs of different
    /// times get a time axis each.
    pub source: Option<String>,
    pub template: String,
    pub first: f64,
    pub last: f64,
    /// Lines of the template, where a finding says.
    pub lines: Option<u64>,
    /// Start of each burst window, or window anomaly.
    pub bursts: Vec<f64>,
    pub detectors: Vec<String>,
}

impl Page {
    /// Takes one reported record.
    pub fn add(&mut self, rec: Record) {
        self.summary.add(&rec);
        if let Some(secs) = epoch_secs(&rec.ts) {
            let moment = || Moment {
                secs,
                text: rec.ts.clone(),
            };
            if self.first.as_ref().is_none_or(|m| secs < m.secs) {
                self.first = Some(moment());
            }
            if self.last.as_ref().is_none_or(|m| secs > m.secs) {
                self.last = Some(moment());
            }
        }
        self.chart(&rec);
        let seq = self.summary.records();
        let (tool, kind, row) = self.table(&rec);
        self.attention
            .add(&rec, row.map(|row| row_id(tool, kind, row)), seq);
        if row.is_some() {
            self.tools[tool].kinds[kind].rows.push(rec);
        }
    }

    fn chart(&mut self, rec: &Record) {
        let number = |name: &str| rec.fields.get(name).and_then(Value::as_f64);
        match (rec.tool.as_str(), rec.kind.as_str()) {
            ("healthmon", "health.sample") => {
                let Some(at) = epoch_secs(&rec.ts) else {
                    return;
                };
                if let Some(cpu) = number("cpu_percent") {
                    self.cpu.push(&rec.host, at, cpu);
                }
                if let Some(memory) = number("mem_percent") {
                    self.memory.push(&rec.host, at, memory);
                }
            }
            ("healthmon", "health.disk") => {
                let (Some(at), Some(percent)) = (epoch_secs(&rec.ts), number("percent")) else {
                    return;
                };
                let mount = rec
                    .fields
                    .get("mount")
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                self.disk
                    .push(&format!("{} {mount}", rec.host), at, percent);
            }
            (
                "anomalizer",
                "log.rare_template"
                | "log.token_frequency"
                | "log.burst"
                | "log.slowdown"
                | "log.silence"
                | "log.new_template"
                | "log.window_anomaly",
            ) => self.template(rec),
            ("anomalizer", "log.summary") => self.hourly(rec),
            _ => {}
        }
    }

    fn template(&mut self, rec: &Record) {
        let text = |name: &str| rec.fields.get(name).and_then(Value::as_str);
        let (Some(template), Some(first), Some(last)) = (
            text("template"),
            text("first_time").and_then(epoch_secs),
            text("last_time").and_then(epoch_secs),
        ) else {
            return;
        };
        let detector = text("detector").unwrap_or("?");
        let count = |name: &str| rec.fields.get(name).and_then(Value::as_u64);
        let lines = match detector {
            "rare_template" | "new_template" => count("count"),
            "token_frequency" => count("template_count"),
            _ => None,
        };
        let key = format!("{}\0{template}", rec.host);
        let index = match self.template_index.get(&key) {
            Some(&index) => index,
            None => {
                self.templates.push(TemplateSpan {
                    host: rec.host.clone(),
                    source: None,
                    template: template.to_string(),
                    first,
                    last,
                    lines: None,
                    bursts: Vec::new(),
                    detectors: Vec::new(),
                });
                self.template_index.insert(key, self.templates.len() - 1);
                self.templates.len() - 1
            }
        };
        let span = &mut self.templates[index];
        if span.source.is_none() {
            // `source`, else the file of `first_seen` (`file:line`, and a
            // file name may hold colons itself).
            span.source = text("source")
                .or_else(|| text("first_seen").and_then(|seen| Some(seen.rsplit_once(':')?.0)))
                .map(str::to_string);
        }
        span.first = span.first.min(first);
        span.last = span.last.max(last);
        span.lines = span.lines.max(lines);
        // A window anomaly over line windows has no window_start: its first
        // line's time marks it.
        if matches!(detector, "burst" | "pca" | "iforest")
            && span.bursts.len() < MAX_BURSTS
            && let Some(start) = text("window_start")
                .or_else(|| text("first_time"))
                .and_then(epoch_secs)
        {
            span.bursts.push(start);
        }
        if !span.detectors.iter().any(|d| d == detector) {
            span.detectors.push(detector.to_string());
        }
    }

    /// The `timeline` of an anomalizer `log.summary`: `bucket_secs` and
    /// `templates`, each with `template` and `hours` as `[time, lines]`.
    fn hourly(&mut self, rec: &Record) {
        let Some(timeline) = rec.fields.get("timeline").filter(|t| !t.is_null()) else {
            return;
        };
        let bucket = timeline
            .get("bucket_secs")
            .and_then(Value::as_u64)
            .filter(|&b| b > 0)
            .unwrap_or(3600) as f64;
        let templates: Vec<(&str, Vec<(f64, f64)>)> = timeline
            .get("templates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .take(MAX_HOURLY_TEMPLATES)
            .filter_map(|t| {
                let hours = t
                    .get("hours")?
                    .as_array()?
                    .iter()
                    .filter_map(|hour| {
                        let at = epoch_secs(hour.get(0)?.as_str()?)?;
                        Some((at, hour.get(1)?.as_f64()?))
                    })
                    .collect();
                Some((t.get("template")?.as_str()?, hours))
            })
            .collect();
        let times = || {
            templates
                .iter()
                .flat_map(|(_, hours)| hours.iter().map(|h| h.0))
        };
        let (Some(first), Some(last)) = (
            times().min_by(f64::total_cmp),
            times().max_by(f64::total_cmp),
        ) else {
            return;
        };
        if self.hourly.len() >= MAX_HOURLY {
            self.hourly_left_out += 1;
            return;
        }
        let count = (((last - first) / bucket).floor() as i64 + 1).min(MAX_HOURS);
        let start = last - (count - 1) as f64 * bucket;
        let lines = templates
            .into_iter()
            .map(|(template, hours)| {
                let mut points: Vec<(f64, f64)> = (0..count)
                    .map(|i| (start + i as f64 * bucket, 0.0))
                    .collect();
                for (at, lines) in hours {
                    let slot = ((at - start) / bucket).floor();
                    if (0.0..count as f64).contains(&slot) {
                        points[slot as usize].1 += lines;
                    }
                }
                Line {
                    name: template.to_string(),
                    points,
                }
            })
            .collect();
        self.hourly.push(HourlyTemplates {
            host: rec.host.clone(),
            series: Series { lines },
        });
    }

    /// Counts `rec` in its tool's table of its kind: the table's place
    /// (tool section, kind) and the row it takes when it is kept.
    fn table(&mut self, rec: &Record) -> (usize, usize, Option<usize>) {
        let tool = match self.tools.iter().position(|s| s.tool == rec.tool) {
            Some(index) => index,
            None => {
                self.tools.push(ToolSection {
                    tool: rec.tool.clone(),
                    kinds: Vec::new(),
                });
                self.tools.len() - 1
            }
        };
        let section = &mut self.tools[tool];
        let kind = match section.kinds.iter().position(|t| t.kind == rec.kind) {
            Some(index) => index,
            None => {
                section.kinds.push(KindTable {
                    kind: rec.kind.clone(),
                    fields: Vec::new(),
                    rows: Vec::new(),
                    total: 0,
                    worst: rec.severity,
                });
                section.kinds.len() - 1
            }
        };
        let table = &mut section.kinds[kind];
        table.total += 1;
        table.worst = table.worst.max(rec.severity);
        if table.rows.len() >= MAX_ROWS {
            return (tool, kind, None);
        }
        // The alert's stage is a column; its id is a hash that means
        // nothing to a reader of the page.
        for name in rec.fields.keys().filter(|n| *n != ALERT_ID) {
            if !table.fields.contains(name) {
                table.fields.push(name.clone());
            }
        }
        (tool, kind, Some(table.rows.len()))
    }
}

impl Series {
    fn push(&mut self, name: &str, at: f64, value: f64) {
        let line = match self.lines.iter().position(|l| l.name == name) {
            Some(index) => &mut self.lines[index],
            None => {
                self.lines.push(Line {
                    name: name.to_string(),
                    points: Vec::new(),
                });
                self.lines.last_mut().expect("just pushed")
            }
        };
        line.points.push((at, value));
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// Seconds since the epoch of an RFC 3339 time; `None` for anything else,
/// which then simply is not placed on a time axis.
fn epoch_secs(ts: &str) -> Option<f64> {
    let time = humantime::parse_rfc3339_weak(ts).ok()?;
    Some(match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use secops_common::Severity;

    use super::*;

    fn rec(tool: &str, kind: &str, ts: &str) -> Record {
        let mut rec = Record::new(tool, kind, Severity::Info, "m");
        rec.ts = ts.to_string();
        rec.host = "web1".to_string();
        rec
    }

    #[test]
    fn tables_split_by_tool_and_kind_and_stop_keeping_rows_at_the_cap() {
        let mut page = Page::default();
        for i in 0..MAX_ROWS + 3 {
            page.add(rec("t", "a", "2026-11-21T19:02:00Z").with("n", i));
        }
        page.add(
            rec("t", "b", "2026-11-21T19:01:00Z")
                .with("x", 1)
                .with("y", 2),
        );
        page.add(rec("u", "a", "2026-11-21T19:03:00Z"));
        let t = &page.tools[0];
        assert_eq!((t.tool.as_str(), t.kinds.len()), ("t", 2));
        assert_eq!(
            (t.kinds[0].rows.len(), t.kinds[0].total),
            (MAX_ROWS, MAX_ROWS as u64 + 3)
        );
        assert_eq!(t.kinds[1].fields, ["alert", "x", "y"]);
        assert_eq!(page.tools[1].tool, "u");
        assert_eq!(page.summary.records(), MAX_ROWS as u64 + 5);
        assert_eq!(page.first.unwrap().text, "2026-11-21T19:01:00Z");
        assert_eq!(page.last.unwrap().text, "2026-11-21T19:03:00Z");
    }

    #[test]
    fn healthmon_and_anomalizer_records_become_chart_points() {
        let mut page = Page::default();
        page.add(
            rec("healthmon", "health.sample", "2026-11-21T19:02:00Z")
                .with("cpu_percent", 12.5)
                .with("mem_percent", 40),
        );
        page.add(
            rec("healthmon", "health.sample", "2026-11-21T19:02:10Z")
                .with("cpu_percent", Value::Null)
                .with("mem_percent", 41),
        );
        page.add(
            rec("healthmon", "health.disk", "2026-11-21T19:02:10Z")
                .with("mount", "/var")
                .with("percent", 81),
        );
        let anomaly = |detector: &str| {
            let mut rec = rec(
                "anomalizer",
                &format!("log.{detector}"),
                "2026-11-21T19:05:00Z",
            )
            .with("detector", detector);
            if detector != "burst" {
                rec.set("first_seen", "/var/log/a:b.log:12");
            }
            rec.with("template", "Failed password for <*>")
                .with("count", 11)
                .with("template_count", 200)
                .with("window_start", "2026-11-21T18:10:00Z")
                .with("first_time", "2026-11-21T18:00:00Z")
                .with("last_time", "2026-11-21T18:30:00Z")
        };
        page.add(anomaly("burst"));
        page.add(anomaly("token_frequency"));
        page.add(
            rec("anomalizer", "log.window_anomaly", "2026-11-21T19:05:00Z")
                .with("detector", "pca")
                .with("template", "Failed password for <*>")
                .with("window_start", Value::Null)
                .with("first_time", "2026-11-21T18:20:00Z")
                .with("last_time", "2026-11-21T18:40:00Z"),
        );
        page.add(
            rec("anomalizer", "log.rare_template", "2026-11-21T19:05:00Z")
                .with("template", "no times")
                .with("first_time", Value::Null),
        );

        let at = epoch_secs("2026-11-21T19:02:00Z").unwrap();
        assert_eq!(page.cpu.lines[0].points, [(at, 12.5)]);
        assert_eq!(page.memory.lines[0].points.len(), 2);
        assert_eq!(page.disk.lines[0].name, "web1 /var");
        assert_eq!(page.templates.len(), 1);
        let span = &page.templates[0];
        assert_eq!(span.lines, Some(200));
        assert_eq!(span.source.as_deref(), Some("/var/log/a:b.log"));
        let marks =
            ["2026-11-21T18:10:00Z", "2026-11-21T18:20:00Z"].map(|t| epoch_secs(t).unwrap());
        assert_eq!(span.bursts, marks);
        assert_eq!(span.detectors, ["burst", "token_frequency", "pca"]);
        assert_eq!(span.last - span.first, 2400.0);
    }

    #[test]
    fn anomalizer_summaries_become_hourly_lines_with_quiet_hours_at_zero() {
        let mut page = Page::default();
        let timeline = serde_json::json!({"bucket_secs": 3600, "templates": [
            {"template_id": 0, "template": "worker <*> ok", "hours": [
                ["2026-11-21T10:00:00Z", 60], ["2026-11-21T13:00:00Z", 5]]},
            {"template_id": 3, "template": "cache <*>", "hours": [
                ["2026-11-21T11:00:00Z", 2], "not an hour"]},
        ]});
        page.add(
            rec("anomalizer", "log.summary", "2026-11-21T14:00:00Z").with("timeline", timeline),
        );
        page.add(
            rec("anomalizer", "log.summary", "2026-11-21T14:00:00Z").with("timeline", Value::Null),
        );
        page.add(rec("anomalizer", "log.summary", "2026-11-21T14:00:00Z"));
        assert_eq!(page.hourly.len(), 1);
        let run = &page.hourly[0];
        assert_eq!(run.host, "web1");
        let hour = |h: u32| epoch_secs(&format!("2026-11-21T{h}:00:00Z")).unwrap();
        let lines = &run.series.lines;
        assert_eq!(lines[0].name, "worker <*> ok");
        assert_eq!(
            lines[0].points,
            [
                (hour(10), 60.0),
                (hour(11), 0.0),
                (hour(12), 0.0),
                (hour(13), 5.0)
            ]
        );
        assert_eq!(lines[1].name, "cache <*>");
        assert_eq!(
            lines[1].points,
            [
                (hour(10), 0.0),
                (hour(11), 2.0),
                (hour(12), 0.0),
                (hour(13), 0.0)
            ]
        );

        // A hand-made record spanning years draws its last month only.
        let far = serde_json::json!({"bucket_secs": 3600, "templates": [{"template": "t", "hours": [
            ["2020-01-01T00:00:00Z", 1], ["2026-11-21T10:00:00Z", 7]]}]});
        page.add(rec("anomalizer", "log.summary", "2026-11-21T14:00:00Z").with("timeline", far));
        let points = &page.hourly[1].series.lines[0].points;
        assert_eq!(points.len(), MAX_HOURS as usize);
        assert_eq!(points.last(), Some(&(hour(10), 7.0)));
        assert_eq!(points.iter().map(|p| p.1).sum::<f64>(), 7.0);
    }
}
