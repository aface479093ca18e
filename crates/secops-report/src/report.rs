//! Table and Markdown reports: the summary, then one table, or one table per
//! group under a heading with the group's own counts. Both renderings share
//! one layout and differ only in decoration.
//!
//! Unlike the record formats these are laid out once every record is in:
//! the summary comes first but counts everything, and dropping a column
//! whose value the summary already names needs the whole set.

use std::io::{self, Write};

use secops_common::Record;
use secops_common::output::{Table, cell_text, markdown_literal};
use serde_json::Value;

use crate::columns;
use crate::group::{self, GroupBy};
use crate::summary::{Summary, records_phrase};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Aligned columns for a terminal.
    Text,
    /// GitHub-flavoured Markdown, for tickets and wikis.
    Markdown,
}

/// How a report is laid out.
#[derive(Debug, Clone, Copy)]
pub struct Layout<'a> {
    pub style: Style,
    /// `--columns`, if given.
    pub columns: Option<&'a [String]>,
    pub group_by: Option<GroupBy>,
}

/// Writes the report of `records`; `filtered_out` is how many records were
/// read but left out, which the summary mentions so an empty-looking report
/// is not mistaken for a clean one.
pub fn render(
    out: &mut dyn Write,
    layout: Layout<'_>,
    records: Vec<Record>,
    filtered_out: u64,
) -> io::Result<()> {
    let style = layout.style;
    let summary = Summary::of(&records);
    write_summary(out, style, &summary, filtered_out)?;
    if records.is_empty() {
        return Ok(());
    }
    let columns = columns::choose(layout.columns, &summary, layout.group_by);
    let Some(by) = layout.group_by else {
        writeln!(out)?;
        return write_table(out, style, &columns, records);
    };
    for group in group::group(records, by) {
        let counts = Summary::of(&group.records);
        let mut heading = format!(
            "{} {}: {}",
            by.field(),
            inline(style, &group.key),
            records_phrase(counts.records())
        );
        if by != GroupBy::Severity {
            heading.push_str(&format!(" ({})", severity_counts(&counts)));
        }
        match style {
            Style::Text => writeln!(out, "\n== {heading}")?,
            Style::Markdown => writeln!(out, "\n### {heading}\n")?,
        }
        write_table(out, style, &columns, group.records)?;
    }
    Ok(())
}

/// ```text
/// 42 records from 3 hosts (78 filtered out)
/// severity: 2 critical, 10 high, 30 info
/// tool:     30 traffic-cop, 12 fim-check
/// ```
fn write_summary(
    out: &mut dyn Write,
    style: Style,
    summary: &Summary,
    filtered_out: u64,
) -> io::Result<()> {
    let mut headline = records_phrase(summary.records());
    if style == Style::Markdown {
        headline = format!("**{headline}**");
    }
    match (summary.only_host(), summary.host_count()) {
        (Some(host), _) => headline.push_str(&format!(" from {}", inline(style, host))),
        (None, 0) => {}
        (None, hosts) => headline.push_str(&format!(" from {hosts} hosts")),
    }
    if filtered_out > 0 {
        headline.push_str(&format!(" ({filtered_out} filtered out)"));
    }
    writeln!(out, "{headline}")?;
    if summary.records() == 0 {
        return Ok(());
    }
    let tools = summary
        .tools()
        .into_iter()
        .map(|(tool, count)| format!("{count} {}", inline(style, tool)))
        .collect::<Vec<_>>()
        .join(", ");
    match style {
        Style::Text => {
            writeln!(out, "severity: {}", severity_counts(summary))?;
            writeln!(out, "tool:     {tools}")
        }
        Style::Markdown => {
            writeln!(out, "\n- severity: {}", severity_counts(summary))?;
            writeln!(out, "- tool: {tools}")
        }
    }
}

/// `2 critical, 10 high, 30 info`: the severities present, worst first.
fn severity_counts(summary: &Summary) -> String {
    summary
        .severities()
        .into_iter()
        .map(|(severity, count)| format!("{count} {severity}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn write_table(
    out: &mut dyn Write,
    style: Style,
    columns: &[String],
    records: Vec<Record>,
) -> io::Result<()> {
    let mut table = Table::new(columns);
    for rec in records {
        table.push(&rec);
    }
    match style {
        Style::Text => table.render_text(out),
        Style::Markdown => table.render_markdown(out),
    }
}

/// A host, tool or group name in running text. Names come from records,
/// which an attacker may have shaped, so control, bidi and invisible
/// characters are escaped as in table cells, and in Markdown the name is a
/// code span, literal text in every renderer, as table cells are.
fn inline(style: Style, name: &str) -> String {
    let text = cell_text(Some(&Value::String(name.to_string())));
    match style {
        Style::Text => text,
        Style::Markdown => markdown_literal(&text),
    }
}

#[cfg(test)]
mod tests {
    use secops_common::Severity;

    use super::*;

    fn rec(host: &str, tool: &str, severity: Severity, message: &str) -> Record {
        let mut rec = Record::new(tool, "port", severity, message).with("port", 22);
        rec.host = host.to_string();
        rec
    }

    fn sample() -> Vec<Record> {
        vec![
            rec("web1", "traffic-cop", Severity::High, "a"),
            rec("db1", "traffic-cop", Severity::Info, "b"),
            rec("web1", "fim-check", Severity::Critical, "c"),
        ]
    }

    fn rendered(style: Style, group_by: Option<GroupBy>, records: Vec<Record>) -> String {
        let layout = Layout {
            style,
            columns: None,
            group_by,
        };
        let mut out = Vec::new();
        render(&mut out, layout, records, 2).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_report_opens_with_the_summary() {
        assert_eq!(
            rendered(Style::Text, None, sample()),
            "3 records from 2 hosts (2 filtered out)\n\
             severity: 1 critical, 1 high, 1 info\n\
             tool:     2 traffic-cop, 1 fim-check\n\
             \n\
             SEVERITY  HOST  TOOL         KIND  MESSAGE\n\
             high      web1  traffic-cop  port  a\n\
             info      db1   traffic-cop  port  b\n\
             critical  web1  fim-check    port  c\n"
        );
    }

    #[test]
    fn groups_get_headings_with_their_counts() {
        assert_eq!(
            rendered(Style::Text, Some(GroupBy::Host), sample()),
            "3 records from 2 hosts (2 filtered out)\n\
             severity: 1 critical, 1 high, 1 info\n\
             tool:     2 traffic-cop, 1 fim-check\n\
             \n\
             == host db1: 1 record (1 info)\n\
             SEVERITY  TOOL         KIND  MESSAGE\n\
             info      traffic-cop  port  b\n\
             \n\
             == host web1: 2 records (1 critical, 1 high)\n\
             SEVERITY  TOOL         KIND  MESSAGE\n\
             high      traffic-cop  port  a\n\
             critical  fim-check    port  c\n"
        );
    }

    #[test]
    fn markdown_report_escapes_names_from_records() {
        let records = vec![
            rec("web*1*", "traffic-cop", Severity::High, "a|b"),
            rec("web*1*", "traffic-cop", Severity::High, "c"),
        ];
        assert_eq!(
            rendered(Style::Markdown, Some(GroupBy::Severity), records),
            "**2 records** from `web*1*` (2 filtered out)\n\
             \n\
             - severity: 2 high\n\
             - tool: 2 `traffic-cop`\n\
             \n\
             ### severity `high`: 2 records\n\
             \n\
             | kind | message |\n\
             | --- | --- |\n\
             | `port` | `a\\|b` |\n\
             | `port` | `c` |\n"
        );
    }

    #[test]
    fn nothing_to_report_says_so() {
        assert_eq!(
            rendered(Style::Text, None, Vec::new()),
            "no records (2 filtered out)\n"
        );
    }
}
