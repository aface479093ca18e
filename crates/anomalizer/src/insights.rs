//! `--summary FILE`: the run's insights for a person or a dashboard, as
//! JSON or Markdown (by the file's extension): what was read, per source,
//! the most frequent templates, the findings, and an hourly timeline of
//! the top templates (templates over time).

use std::path::Path;

use secops_common::{Error, Record};
use serde_json::{Value, json};

use crate::mining::drain::Template;
use crate::mining::timestamp::rfc3339;

/// Timeline bucket length.
pub const BUCKET_SECS: i64 = 3600;

/// Distinct hours kept per template (a month); lines in later new hours
/// are only counted, so memory stays bounded on years of logs.
const MAX_BUCKETS: usize = 744;

/// Templates given a timeline, the most frequent first.
const TIMELINE_TEMPLATES: usize = 10;

/// Hours a recent timeline covers (a week), up to the input's last hour.
const RECENT_HOURS: i64 = 168;

/// One template's lines per hour, sorted by hour.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    buckets: Vec<(i64, u64)>,
    /// Lines in hours past [`MAX_BUCKETS`].
    dropped: u64,
}

impl Timeline {
    pub fn add(&mut self, time: i64) {
        let hour = time.div_euclid(BUCKET_SECS);
        // Logs come mostly in order: the last bucket is the usual one.
        if let Some(last) = self.buckets.last_mut()
            && last.0 == hour
        {
            last.1 += 1;
            return;
        }
        match self.buckets.binary_search_by_key(&hour, |b| b.0) {
            Ok(i) => self.buckets[i].1 += 1,
            Err(_) if self.buckets.len() >= MAX_BUCKETS => self.dropped += 1,
            Err(i) => self.buckets.insert(i, (hour, 1)),
        }
    }

    /// The hours from `start` to `end` (bucket numbers, both included).
    fn between(&self, start: i64, end: i64) -> &[(i64, u64)] {
        let from = self.buckets.partition_point(|b| b.0 < start);
        let to = self.buckets.partition_point(|b| b.0 <= end);
        &self.buckets[from..to]
    }
}

/// `[["2026-11-21T10:00:00Z", 60], ...]`: hours and their line counts.
fn hours_json(buckets: &[(i64, u64)]) -> Vec<Value> {
    buckets
        .iter()
        .map(|(h, n)| json!([rfc3339(h * BUCKET_SECS), n]))
        .collect()
}

/// The last week of the input (bucket numbers `start..=end`, ending at
/// its latest timed hour) and the most frequent templates with timed
/// lines: what the Markdown sparklines draw and the `log.summary`
/// record's `timeline` carries, so both show the same thing.
struct RecentWeek<'a> {
    start: i64,
    end: i64,
    /// Template ids and their timelines, the most frequent first.
    templates: Vec<(usize, &'a Timeline)>,
}

fn recent_week<'a>(templates: &[Template], timelines: &'a [Timeline]) -> Option<RecentWeek<'a>> {
    let spans = timelines
        .iter()
        .filter_map(|t| Some((t.buckets.first()?.0, t.buckets.last()?.0)));
    let start = spans.clone().map(|s| s.0).min()?;
    let end = spans.map(|s| s.1).max()?;
    Some(RecentWeek {
        start: start.max(end - (RECENT_HOURS - 1)),
        end,
        templates: by_count(templates)
            .into_iter()
            .take(TIMELINE_TEMPLATES)
            .filter_map(|id| Some((id, timelines.get(id).filter(|t| !t.buckets.is_empty())?)))
            .collect(),
    })
}

/// The `log.summary` record's `timeline`: lines per hour of the most
/// frequent templates over the input's last week, hours without lines
/// left out; `None` when no line had a time.
pub fn recent_timeline(templates: &[Template], timelines: &[Timeline]) -> Option<Value> {
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

/// One source as the summary shows it.
#[derive(Debug, Clone)]
pub struct SourceOverview {
    pub name: String,
    pub lines: u64,
    pub first_time: Option<i64>,
    pub last_time: Option<i64>,
}

/// Everything the summary file holds.
pub struct Insights<'a> {
    pub summary: &'a Record,
    pub sources: Vec<SourceOverview>,
    pub templates: &'a [Template],
    pub timelines: &'a [Timeline],
    pub findings: &'a [Record],
}

/// Writes `insights` to `path` atomically: Markdown for `.md`/`.markdown`,
/// JSON otherwise.
pub fn write(path: &Path, insights: &Insights<'_>) -> Result<(), Error> {
    let markdown = path
        .extension()
        .is_some_and(|e| e == "md" || e == "markdown");
    let text = if markdown {
        to_markdown(insights)
    } else {
        let mut text =
            serde_json::to_string_pretty(&to_json(insights)).expect("a summary always serializes");
        text.push('\n');
        text
    };
    secops_common::atomic::write_atomic(path, text.as_bytes(), 0o644)
        .map_err(|err| Error::failed(format!("cannot write {}: {err}", path.display())))
}

/// Template ids by count, most frequent first.
fn by_count(templates: &[Template]) -> Vec<usize> {
    let mut ids: Vec<usize> = (0..templates.len()).collect();
    ids.sort_by_key(|&id| (std::cmp::Reverse(templates[id].count), id));
    ids
}

fn to_json(i: &Insights<'_>) -> Value {
    let ids = by_count(i.templates);
    let timeline: Vec<Value> = ids
        .iter()
        .take(TIMELINE_TEMPLATES)
        .filter_map(|&id| {
            let t = i.timelines.get(id)?;
            (!t.buckets.is_empty()).then(|| {
                json!({
                    "template_id": id,
                    "template": i.templates[id].text(),
                    "hours": hours_json(&t.buckets),
                    "lines_past_limit": t.dropped,
                })
            })
        })
        .collect();
    // The record's `timeline` is the last week of the file's own below.
    let mut summary = i.summary.clone();
    summary.fields.shift_remove("timeline");
    json!({
        "version": 1,
        "summary": summary,
        "sources": i.sources.iter().map(|s| json!({
            "source": s.name,
            "lines": s.lines,
            "first_time": s.first_time.map(rfc3339),
            "last_time": s.last_time.map(rfc3339),
        })).collect::<Vec<_>>(),
        "top_templates": ids.iter().take(20).map(|&id| json!({
            "template_id": id,
            "template": i.templates[id].text(),
            "count": i.templates[id].count,
        })).collect::<Vec<_>>(),
        "findings": i.findings,
        "timeline": {"bucket_secs": BUCKET_SECS, "templates": timeline},
    })
}

/// Eight levels of a sparkline, empty to full.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A template's hours from `start` to `end` as one bar per hour.
fn sparkline(t: &Timeline, start: i64, end: i64) -> String {
    let max = t.buckets.iter().map(|b| b.1).max().unwrap_or(1).max(1);
    (start..=end)
        .map(
            |hour| match t.buckets.binary_search_by_key(&hour, |b| b.0) {
                Ok(i) => BARS[((t.buckets[i].1 * 7).div_ceil(max)) as usize],
                Err(_) => ' ',
            },
        )
        .collect()
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn to_markdown(i: &Insights<'_>) -> String {
    let mut md = format!("# anomalizer summary\n\n{}\n\n", i.summary.message);
    md += "## Sources\n\n| source | lines | first | last |\n|---|---|---|---|\n";
    let time = |t: Option<i64>| t.map_or("-".to_string(), rfc3339);
    for s in &i.sources {
        md += &format!(
            "| {} | {} | {} | {} |\n",
            cell(&s.name),
            s.lines,
            time(s.first_time),
            time(s.last_time)
        );
    }
    md += "\n## Findings\n\n";
    if i.findings.is_empty() {
        md += "None.\n";
    }
    for f in i.findings {
        md += &format!("- {}\n", f.message);
    }
    let ids = by_count(i.templates);
    md += "\n## Top templates\n\n| count | template |\n|---|---|\n";
    for &id in ids.iter().take(20) {
        md += &format!(
            "| {} | `{}` |\n",
            i.templates[id].count,
            cell(&i.templates[id].text()).replace('`', "'")
        );
    }
    if let Some(week) = recent_week(i.templates, i.timelines) {
        md += &format!(
            "\n## Timeline\n\nLines per hour from {} to {} (one bar per hour, the last week at most):\n\n```\n",
            rfc3339(week.start * BUCKET_SECS),
            rfc3339(week.end * BUCKET_SECS)
        );
        for &(id, t) in &week.templates {
            let mut text = i.templates[id].text();
            secops_common::text::clip(&mut text, 60);
            md += &format!("{}  {text}\n", sparkline(t, week.start, week.end));
        }
        md += "```\n";
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_are_counted_in_order_and_bounded() {
        let mut t = Timeline::default();
        for time in [7200, 7300, 0, 3600, 7201] {
            t.add(time);
        }
        assert_eq!(t.buckets, [(0, 1), (1, 1), (2, 3)]);
        for hour in 3..(MAX_BUCKETS as i64 + 10) {
            t.add(hour * BUCKET_SECS);
        }
        assert_eq!(t.buckets.len(), MAX_BUCKETS);
        assert_eq!(t.dropped, 10);
        assert_eq!(sparkline(&t, 0, 2), "▄▄█");
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
}
