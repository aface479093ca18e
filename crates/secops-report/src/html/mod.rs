//! The HTML report: one self-contained page (styles, script and charts
//! inline; nothing fetched, so it opens on an air-gapped host and can be
//! mailed) with a summary header, then what needs attention (every
//! critical and high alert still firing, each linking to its row), charts
//! drawn as SVG here rather than by a script library, and one table per
//! tool and kind. Tools, tables and rows come worst first, so the first
//! screen shows what matters, as Lynis ends with its warnings.
//!
//! The page is complete without JavaScript: every row and chart is in the
//! HTML. The small inline script only adds sorting and filtering, and a
//! Content-Security-Policy lets no other script run, as a second line
//! behind escaping every value that comes from a record.

mod chart;
mod collect;
mod escape;

use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::Duration;

use secops_common::record::now_rfc3339;
use secops_common::text::human_bytes;
use secops_common::{Record, Severity};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use self::chart::{Bar, Unit};
pub use self::collect::Page;
use self::collect::{KindTable, TemplateSpan, row_id};
use self::escape::{Esc, json_for_script};
use crate::summary::records_phrase;

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// Field text longer than this scrolls within its cell.
const LONG_TEXT: usize = 160;

/// Rows written between flushes of the page buffer.
const ROWS_PER_FLUSH: usize = 256;

/// Writes the whole page.
pub fn render(out: &mut dyn Write, page: &Page) -> io::Result<()> {
    let mut html = String::with_capacity(1 << 16);
    head(&mut html, page);
    header(&mut html, page);
    out.write_all(html.as_bytes())?;
    html.clear();
    html.push_str("<main>");
    attention(&mut html, page);
    overview(&mut html, page);
    let order = tool_order(page);
    for (number, &index) in order.iter().enumerate() {
        let section = &page.tools[index];
        let _ = write!(
            html,
            r#"<section class="tool-section" id="tool-{number}"><h2>{} <small>{}</small></h2>"#,
            Esc(&section.tool),
            records_phrase(section.total())
        );
        let mut kinds: Vec<usize> = (0..section.kinds.len()).collect();
        kinds.sort_by(|&a, &b| {
            let (a, b) = (&section.kinds[a], &section.kinds[b]);
            b.worst.cmp(&a.worst).then(b.total.cmp(&a.total))
        });
        for kind in kinds {
            let table = &section.kinds[kind];
            let ids = Ids { tool: index, kind };
            kind_table(out, &mut html, table, ids, page.summary.host_count() > 1)?;
        }
        html.push_str("</section>");
    }
    html.push_str("</main>");
    let _ = write!(
        html,
        r#"<footer><p>Made by secops-report {} at {}.</p></footer><script type="application/json" id="secops-summary">{}</script><script>{SCRIPT}</script></body></html>"#,
        env!("CARGO_PKG_VERSION"),
        now_rfc3339(),
        json_for_script(&summary_json(page)),
    );
    html.push('\n');
    out.write_all(html.as_bytes())
}

fn head(html: &mut String, page: &Page) {
    let _ = write!(
        html,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src '{}'; base-uri 'none'; form-action 'none'"><meta name="color-scheme" content="light"><meta name="generator" content="secops-report"><title>secops report: {}</title><style>{STYLE}</style></head><body>"#,
        script_hash(),
        Esc(&headline(page)),
    );
}

/// `12 records from web1`, `340 records from 3 hosts (12 filtered out)`.
fn headline(page: &Page) -> String {
    let summary = &page.summary;
    let mut text = records_phrase(summary.records());
    match (summary.only_host(), summary.host_count()) {
        (Some(host), _) => text.push_str(&format!(" from {host}")),
        (None, 0) => {}
        (None, hosts) => text.push_str(&format!(" from {hosts} hosts")),
    }
    if page.filtered_out > 0 {
        text.push_str(&format!(" ({} filtered out)", page.filtered_out));
    }
    text
}

fn header(html: &mut String, page: &Page) {
    let summary = &page.summary;
    let _ = write!(
        html,
        r#"<header class="summary"><h1>secops report</h1><p class="headline" data-records="{}">{}</p><dl class="facts">"#,
        summary.records(),
        Esc(&headline(page))
    );
    if summary.host_count() > 0 {
        const SHOWN: usize = 30;
        let hosts: Vec<String> = summary
            .hosts()
            .take(SHOWN)
            .map(|h| Esc(h).to_string())
            .collect();
        let more = match summary.host_count().saturating_sub(SHOWN) {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        let _ = write!(
            html,
            r#"<dt>{}</dt><dd class="hosts">{}{more}</dd>"#,
            if summary.host_count() == 1 {
                "Host"
            } else {
                "Hosts"
            },
            hosts.join(", ")
        );
    }
    if let (Some(first), Some(last)) = (&page.first, &page.last) {
        let length = humantime::format_duration(Duration::from_secs(
            (last.secs - first.secs).max(0.0) as u64,
        ));
        let _ = write!(
            html,
            r#"<dt>Time span</dt><dd><time datetime="{f}">{f}</time> to <time datetime="{l}">{l}</time> ({length})</dd>"#,
            f = Esc(&first.text),
            l = Esc(&last.text),
        );
    }
    if summary.tool_count() > 0 {
        let tools: Vec<String> = summary
            .tools()
            .into_iter()
            .map(|(tool, count)| format!("{count} {}", Esc(tool)))
            .collect();
        let _ = write!(html, "<dt>Tools</dt><dd>{}</dd>", tools.join(", "));
    }
    html.push_str(r#"</dl><ul class="counts">"#);
    for (severity, count) in summary.every_severity() {
        let _ = write!(
            html,
            r#"<li class="sev-{severity}{}" data-severity="{severity}"><span class="n">{count}</span> {severity}</li>"#,
            if count == 0 { " none" } else { "" }
        );
    }
    html.push_str("</ul>");
    if !page.tools.is_empty() {
        html.push_str(
            r##"<nav><a href="#attention">Needs attention</a><a href="#overview">Overview</a>"##,
        );
        for (number, &index) in tool_order(page).iter().enumerate() {
            let _ = write!(
                html,
                r##"<a href="#tool-{number}">{}</a>"##,
                Esc(&page.tools[index].tool)
            );
        }
        html.push_str("</nav>");
    }
    html.push_str("</header>");
}

/// Tools with the worst records first, then the most records.
fn tool_order(page: &Page) -> Vec<usize> {
    let mut order: Vec<usize> = (0..page.tools.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&page.tools[a], &page.tools[b]);
        b.worst()
            .cmp(&a.worst())
            .then(b.total().cmp(&a.total()))
            .then(a.tool.cmp(&b.tool))
    });
    order
}

/// Items listed under "Needs attention" at most; the rest are counted.
const ATTENTION_SHOWN: usize = 100;

/// Every critical and high alert still firing, critical first, then
/// newest first, each linking to its row; or a sentence saying there is
/// none, which is news too.
fn attention(html: &mut String, page: &Page) {
    if page.summary.records() == 0 {
        return;
    }
    let items = page.attention.sorted();
    let _ = write!(
        html,
        r#"<section id="attention"><h2>Needs attention <small>{}</small></h2>"#,
        match items.len() {
            0 => "nothing critical or high is firing".to_string(),
            1 => "1 critical or high alert firing".to_string(),
            n => format!("{n} critical or high alerts firing"),
        }
    );
    if items.is_empty() {
        html.push_str("</section>");
        return;
    }
    let fleet = page.summary.host_count() > 1;
    html.push_str(r#"<ol class="attention">"#);
    for item in items.iter().take(ATTENTION_SHOWN) {
        let _ = write!(
            html,
            r#"<li class="sev-{s}"><span class="badge">{s}</span> "#,
            s = item.severity
        );
        match &item.anchor {
            Some(anchor) => {
                let _ = write!(html, r##"<a href="#{anchor}">{}</a>"##, Esc(&item.message));
            }
            None => {
                let _ = write!(html, "{}", Esc(&item.message));
            }
        }
        let _ = write!(
            html,
            r#" <small>{}{} {} · <time datetime="{t}">{t}</time></small></li>"#,
            if fleet {
                format!("{} · ", Esc(&item.host))
            } else {
                String::new()
            },
            Esc(&item.tool),
            Esc(&item.kind),
            t = Esc(&item.ts),
        );
    }
    html.push_str("</ol>");
    if items.len() > ATTENTION_SHOWN {
        let _ = write!(
            html,
            r#"<p class="note">and {} more; <code>secops-report --open --min-severity high</code> lists them all.</p>"#,
            items.len() - ATTENTION_SHOWN
        );
    }
    html.push_str("</section>");
}

fn overview(html: &mut String, page: &Page) {
    let summary = &page.summary;
    if summary.records() == 0 {
        return;
    }
    html.push_str(r#"<section id="overview"><h2>Overview</h2><div class="charts"><figure class="chart-box"><figcaption>Records by severity</figcaption>"#);
    let severities: Vec<(Severity, u64)> = summary.every_severity().collect();
    let classes: Vec<String> = severities.iter().map(|(s, _)| format!("sev-{s}")).collect();
    let bars: Vec<Bar<'_>> = severities
        .iter()
        .zip(&classes)
        .map(|((severity, count), class)| Bar {
            label: severity.as_str(),
            count: *count,
            class,
        })
        .collect();
    chart::bars(html, "records by severity", &bars);
    html.push_str(r#"</figure><figure class="chart-box"><figcaption>Records by tool</figcaption>"#);
    let tools: Vec<Bar<'_>> = summary
        .tools()
        .into_iter()
        .map(|(tool, count)| Bar {
            label: tool,
            count,
            class: "tool",
        })
        .collect();
    chart::bars(html, "records by tool", &tools);
    html.push_str("</figure></div>");
    let health = [
        ("CPU busy, percent of all cores", &page.cpu),
        ("Memory used, percent", &page.memory),
        ("Disk used, percent, per mount", &page.disk),
    ];
    if health.iter().any(|(_, series)| !series.is_empty()) {
        html.push_str(r#"<h3>healthmon over time</h3><div class="charts wide">"#);
        for (title, series) in health {
            if series.lines.iter().any(|line| line.points.len() > 1) {
                chart::lines(html, title, series, Unit::Percent);
            } else if !series.is_empty() {
                figures(html, title, series);
            }
        }
        html.push_str("</div>");
    }
    if !page.templates.is_empty() {
        html.push_str(r#"<h3>anomalizer templates over time</h3><p class="note">Each anomalous template from its first to its last line; red marks are bursts and flagged windows (--detector pca, iforest).</p><div class="charts stack">"#);
        let logs = template_logs(page);
        for (log, templates) in logs.iter().take(chart::MAX_TIMELINES) {
            chart::timeline(html, log, templates);
        }
        html.push_str("</div>");
        if logs.len() > chart::MAX_TIMELINES {
            let _ = write!(
                html,
                r#"<p class="note">{} more logs are not drawn.</p>"#,
                logs.len() - chart::MAX_TIMELINES
            );
        }
    }
    hourly_templates(html, page);
    html.push_str("</section>");
}

/// A series of one sample per line (a one-shot sweep) as figures: a line
/// chart of single dots says nothing.
fn figures(html: &mut String, title: &str, series: &collect::Series) {
    let _ = write!(
        html,
        r#"<figure class="chart-box figures"><figcaption>{}</figcaption><dl>"#,
        Esc(title)
    );
    for line in &series.lines {
        if let Some(&(_, value)) = line.points.last() {
            let _ = write!(html, "<dt>{}</dt><dd>{value:.1}%</dd>", Esc(&line.name));
        }
    }
    html.push_str("</dl></figure>");
}

/// anomalizer's most frequent templates, lines per hour over the last week
/// of each run's logs (its `log.summary` timeline): one chart per run, so
/// per host in a fleet report.
fn hourly_templates(html: &mut String, page: &Page) {
    if page.hourly.is_empty() {
        return;
    }
    html.push_str(r#"<h3>anomalizer: lines per hour by template</h3><p class="note">The most frequent templates of each anomalizer run, lines per hour over the last week of its logs.</p><div class="charts wide">"#);
    for run in &page.hourly {
        let title = format!("anomalizer: lines per hour by template on {}", run.host);
        chart::lines(html, &title, &run.series, Unit::Lines);
    }
    html.push_str("</div>");
    if page.hourly_left_out > 0 {
        let _ = write!(
            html,
            r#"<p class="note">{} more anomalizer summaries are not drawn.</p>"#,
            page.hourly_left_out
        );
    }
}

/// The templates per log (and host, in a fleet report), in the order first
/// reported: logs from different times would squash each other on one axis.
/// A template only bursts named (they carry no file) joins the log whose
/// time range holds it.
fn template_logs(page: &Page) -> Vec<(String, Vec<&TemplateSpan>)> {
    let fleet = page.summary.host_count() > 1;
    let name = |span: &TemplateSpan, file: &str| match fleet {
        true => format!("{}: {file}", span.host),
        false => file.to_string(),
    };
    let mut logs: Vec<(String, Vec<&TemplateSpan>)> = Vec::new();
    let mut unplaced = Vec::new();
    for span in &page.templates {
        let Some(file) = &span.source else {
            unplaced.push(span);
            continue;
        };
        let log = name(span, file);
        match logs.iter_mut().find(|(name, _)| *name == log) {
            Some((_, spans)) => spans.push(span),
            None => logs.push((log, vec![span])),
        }
    }
    let ranges: Vec<(f64, f64)> = logs
        .iter()
        .map(|(_, spans)| {
            spans.iter().fold((f64::MAX, f64::MIN), |(lo, hi), s| {
                (lo.min(s.first), hi.max(s.last))
            })
        })
        .collect();
    for span in unplaced {
        let home = logs
            .iter()
            .zip(&ranges)
            .position(|((_, spans), &(lo, hi))| {
                spans[0].host == span.host && lo <= span.first && span.last <= hi
            });
        match home {
            Some(index) => logs[index].1.push(span),
            None => match logs
                .iter_mut()
                .find(|(name, spans)| name.is_empty() && spans[0].host == span.host)
            {
                Some((_, spans)) => spans.push(span),
                None => logs.push((String::new(), vec![span])),
            },
        }
    }
    for (log, spans) in &mut logs {
        if log.is_empty() {
            *log = name(spans[0], "logs not named");
        }
    }
    logs
}

/// Where a table is stored in the page, for its rows' ids.
#[derive(Clone, Copy)]
struct Ids {
    tool: usize,
    kind: usize,
}

/// One kind's records as a table: severity, time, host (when there are
/// several), message, then every kind field in the order first seen. Rows
/// come worst first, in input order within a severity; each has the id
/// "Needs attention" links to.
fn kind_table(
    out: &mut dyn Write,
    html: &mut String,
    table: &KindTable,
    ids: Ids,
    show_host: bool,
) -> io::Result<()> {
    let _ = write!(
        html,
        r#"<div class="kind" data-table><h3>{} <small>{}</small></h3>"#,
        Esc(&table.kind),
        records_phrase(table.total)
    );
    if table.total > table.rows.len() as u64 {
        let _ = write!(
            html,
            r#"<p class="note">The first {} of {} records are shown; the counts and charts cover them all. <code>secops-report --csv</code> writes every one.</p>"#,
            table.rows.len(),
            table.total
        );
    }
    let mut columns = vec!["severity", "ts"];
    if show_host {
        columns.push("host");
    }
    columns.push("message");
    columns.extend(table.fields.iter().map(String::as_str));
    html.push_str(r#"<div class="scroll"><table><thead><tr>"#);
    for column in &columns {
        let _ = write!(html, r#"<th scope="col">{}</th>"#, Esc(column));
    }
    html.push_str("</tr></thead><tbody>");
    let mut order: Vec<usize> = (0..table.rows.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(table.rows[i].severity));
    for (i, &stored) in order.iter().enumerate() {
        let id = row_id(ids.tool, ids.kind, stored);
        row(html, &table.rows[stored], &columns, &id);
        if i % ROWS_PER_FLUSH == ROWS_PER_FLUSH - 1 {
            out.write_all(html.as_bytes())?;
            html.clear();
        }
    }
    html.push_str("</tbody></table></div></div>");
    Ok(())
}

fn row(html: &mut String, rec: &Record, columns: &[&str], id: &str) {
    let rank = rec.severity as usize;
    let _ = write!(html, r#"<tr id="{id}" data-sev="{rank}">"#);
    for &column in columns {
        match column {
            "severity" => {
                let _ = write!(
                    html,
                    r#"<td class="sev sev-{s}" data-sort="{rank}"><span>{s}</span></td>"#,
                    s = rec.severity
                );
            }
            "ts" => {
                let _ = write!(html, r#"<td class="ts">{}</td>"#, Esc(&rec.ts));
            }
            "host" => {
                let _ = write!(html, "<td>{}</td>", Esc(&rec.host));
            }
            "message" => {
                let _ = write!(html, r#"<td class="message">{}</td>"#, Esc(&rec.message));
            }
            field => cell(html, field, rec.fields.get(field)),
        }
    }
    html.push_str("</tr>");
}

/// A kind field's cell. Numbers sort as numbers; byte counts read as
/// `1.5 GiB` and long fractions with three decimals, both sorting by (and
/// hovering to) their exact value; lists and objects show as JSON.
fn cell(html: &mut String, field: &str, value: Option<&Value>) {
    match value {
        None | Some(Value::Null) => html.push_str(r#"<td class="none"></td>"#),
        // A long command line would make its row a page tall: it scrolls
        // inside a few lines instead (and prints whole).
        Some(Value::String(text)) if text.len() > LONG_TEXT => {
            let _ = write!(html, r#"<td><div class="long">{}</div></td>"#, Esc(text));
        }
        Some(Value::String(text)) => {
            let _ = write!(html, "<td>{}</td>", Esc(text));
        }
        Some(Value::Number(n)) => match n.as_u64() {
            Some(bytes) if field.ends_with("_bytes") => {
                let _ = write!(
                    html,
                    r#"<td class="num" data-sort="{bytes}" title="{bytes} bytes">{}</td>"#,
                    human_bytes(bytes)
                );
            }
            // Scores and ratios carry 16 digits; three decimals read.
            _ if n.is_f64()
                && n.to_string()
                    .split_once('.')
                    .is_some_and(|(_, d)| d.len() > 3) =>
            {
                let _ = write!(
                    html,
                    r#"<td class="num" data-sort="{n}" title="{n}">{:.3}</td>"#,
                    n.as_f64().unwrap_or_default()
                );
            }
            _ => {
                let _ = write!(html, r#"<td class="num">{n}</td>"#);
            }
        },
        // anomalizer's week of hourly counts is thousands of characters.
        Some(other) => {
            let text = other.to_string();
            if text.len() > LONG_TEXT {
                let _ = write!(html, r#"<td><div class="long">{}</div></td>"#, Esc(&text));
            } else {
                let _ = write!(html, "<td>{}</td>", Esc(&text));
            }
        }
    }
}

/// The header's figures for scripts that read a report: records, hosts,
/// time span and counts by severity and tool.
fn summary_json(page: &Page) -> Value {
    let summary = &page.summary;
    let severities: serde_json::Map<String, Value> = summary
        .every_severity()
        .map(|(severity, count)| (severity.to_string(), json!(count)))
        .collect();
    let tools: serde_json::Map<String, Value> = summary
        .tools()
        .into_iter()
        .map(|(tool, count)| (tool.to_string(), json!(count)))
        .collect();
    json!({
        "records": summary.records(),
        "filtered_out": page.filtered_out,
        "hosts": summary.hosts().collect::<Vec<_>>(),
        "first": page.first.as_ref().map(|m| &m.text),
        "last": page.last.as_ref().map(|m| &m.text),
        "severity": severities,
        "tool": tools,
    })
}

/// `sha256-…` of the inline script, for the Content-Security-Policy.
fn script_hash() -> String {
    format!("sha256-{}", base64(&Sha256::digest(SCRIPT.as_bytes())))
}

/// Standard base64 with padding (RFC 4648), for the one hash above.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                text.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                text.push('=');
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    fn page(records: Vec<Record>) -> String {
        let mut page = Page::default();
        for rec in records {
            page.add(rec);
        }
        let mut out = Vec::new();
        render(&mut out, &page).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn record_values_never_become_markup() {
        let hostile = "\"><img src=x onerror=alert(1)><script>alert(2)</script>";
        let mut rec = Record::new(hostile, hostile, Severity::High, hostile).with(hostile, hostile);
        rec.host = hostile.to_string();
        let html = page(vec![rec]);
        assert!(!html.contains("<img"), "{html}");
        assert_eq!(
            html.matches("<script").count(),
            2,
            "only the page's own scripts"
        );
        assert!(html.contains("&lt;script&gt;alert(2)&lt;/script&gt;"));
    }

    #[test]
    fn cells_read_well_and_sort_by_exact_values() {
        let mut html = String::new();
        cell(&mut html, "rss_bytes", Some(&json!(2040109465)));
        cell(&mut html, "score", Some(&json!(0.978544061302682)));
        cell(&mut html, "port", Some(&json!(8080)));
        cell(&mut html, "pids", Some(&json!([1, 2])));
        cell(&mut html, "pid", Some(&Value::Null));
        assert_eq!(
            html,
            "<td class=\"num\" data-sort=\"2040109465\" title=\"2040109465 bytes\">1.9 GiB</td>\
             <td class=\"num\" data-sort=\"0.978544061302682\" title=\"0.978544061302682\">0.979</td>\
             <td class=\"num\">8080</td><td>[1,2]</td><td class=\"none\"></td>"
        );
    }

    #[test]
    fn an_empty_report_says_so() {
        let html = page(Vec::new());
        assert!(html.contains("no records"));
        assert!(!html.contains("<table"));
    }
}
