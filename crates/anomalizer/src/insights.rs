//! `--summary FILE`: the run's insights for a person or a dashboard, as
//! JSON or Markdown (by the file's extension): what was read, per source,
//! the most frequent templates, the findings, and an hourly timeline of
//! the top templates (templates over time).

use std::path::Path;

use secops_common::{Context, Error, Record};
use serde_json::{Value, json};

use crate::detection::timeline::{
    BUCKET_SECS, TIMELINE_TEMPLATES, Timeline, by_count, hours_json, recent_week,
};
use crate::mining::drain::Template;
use crate::mining::timestamp::rfc3339;

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
    secops_common::atomic::write_atomic(path, text.as_bytes(), secops_common::perms::REPORT)
        .context(|| format!("cannot write {}", path.display()))
}

fn to_json(i: &Insights<'_>) -> Value {
    let ids = by_count(i.templates);
    let timeline: Vec<Value> = ids
        .iter()
        .take(TIMELINE_TEMPLATES)
        .filter_map(|&id| {
            let t = i.timelines.get(id)?;
            (!t.hours().is_empty()).then(|| {
                json!({
                    "template_id": id,
                    "template": i.templates[id].text(),
                    "hours": hours_json(t.hours()),
                    "lines_past_limit": t.dropped(),
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
    let max = t.hours().iter().map(|b| b.1).max().unwrap_or(1).max(1);
    (start..=end)
        .map(
            |hour| match t.hours().binary_search_by_key(&hour, |b| b.0) {
                Ok(i) => BARS[((t.hours()[i].1 * 7).div_ceil(max)) as usize],
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
    fn a_sparkline_has_one_bar_per_hour() {
        let mut t = Timeline::default();
        for time in [7200, 7300, 0, 3600, 7201] {
            t.add(time);
        }
        assert_eq!(sparkline(&t, 0, 2), "▄▄█");
        assert_eq!(sparkline(&t, 0, 3), "▄▄█ ");
    }
}
