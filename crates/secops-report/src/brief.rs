//! `--brief`: one screen of what matters, for a person at a terminal (the
//! sweep's summary, a cron mail): the counts, then the findings worst
//! first, grouped by severity, tool and kind with a count and a few
//! examples each, every line clipped to the terminal's width, and for a
//! group with more, the command that lists it whole. As Lynis ends with
//! its warnings and suggestions, not with every test it ran.

use std::io::{self, Write};
use std::path::PathBuf;

use secops_common::{Record, Severity};

use crate::summary::{Summary, records_phrase};

/// Groups shown at most; the rest are counted.
const MAX_GROUPS: usize = 12;

/// Examples shown of a group: all of a group this small, else fewer.
const ALL_UP_TO: usize = 3;
const EXAMPLES: usize = 2;

/// Where a group's examples start.
const INDENT: usize = 10;

/// Narrower than this and nothing reads anyway.
const MIN_WIDTH: usize = 40;

/// Records that share severity, tool and kind.
struct Group {
    severity: Severity,
    tool: String,
    kind: String,
    count: u64,
    /// Distinct messages, in input order, as many as are shown.
    examples: Vec<String>,
}

/// Summaries shown at most (the latest of each tool and host).
const MAX_RAN: usize = 12;

/// Whether `rec` is a run's closing summary (`fim.summary`, `vuln.summary`,
/// `log.summary`, …): an observation that says what ran.
pub fn is_summary(rec: &Record) -> bool {
    rec.kind.ends_with(".summary") && rec.alert_id().is_none()
}

/// Writes the brief report of `records` (what the filters kept) in
/// `width` columns, after a line per run `ran` says happened; `files` are
/// the inputs, for the commands that list a group whole.
pub fn render(
    out: &mut dyn Write,
    ran: &[Record],
    records: Vec<Record>,
    filtered_out: u64,
    width: usize,
    files: &[PathBuf],
) -> io::Result<()> {
    let width = width.max(MIN_WIDTH);
    let summary = Summary::of(&records);
    let mut headline = records_phrase(summary.records());
    match (summary.only_host(), summary.host_count()) {
        (Some(host), _) => headline.push_str(&format!(" from {host}")),
        (None, 0) => {}
        (None, hosts) => headline.push_str(&format!(" from {hosts} hosts")),
    }
    let counts: Vec<String> = summary
        .every_severity()
        .map(|(severity, n)| format!("{n} {severity}"))
        .collect();
    if summary.records() > 0 {
        headline.push_str(&format!(": {}", counts.join(", ")));
    }
    if filtered_out > 0 {
        headline.push_str(&format!(" ({filtered_out} below the filters)"));
    }
    writeln!(out, "{}", clip(&headline, width))?;
    write_ran(out, ran, width)?;
    let groups = group(records);
    if groups.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    let inputs = match files {
        [] => "FILE".to_string(),
        files => files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(" "),
    };
    for group in groups.iter().take(MAX_GROUPS) {
        let head = format!(
            "{:<INDENT$}{} {}: {}",
            group.severity.as_str(),
            group.tool,
            group.kind,
            group.count
        );
        writeln!(out, "{}", clip(&head, width))?;
        for example in &group.examples {
            let line = format!("{:INDENT$}{example}", "");
            writeln!(out, "{}", clip(&line, width))?;
        }
        let shown = group.examples.len() as u64;
        if group.count > shown {
            let line = format!(
                "{:INDENT$}… {} more: secops-report --kind {} {inputs}",
                "",
                group.count - shown,
                group.kind,
            );
            writeln!(out, "{}", clip(&line, width))?;
        }
    }
    if groups.len() > MAX_GROUPS {
        let rest = &groups[MAX_GROUPS..];
        let line = format!(
            "… and {} more groups ({}), the worst {}: see the full report",
            rest.len(),
            records_phrase(rest.iter().map(|g| g.count).sum()),
            rest[0].severity
        );
        writeln!(out, "\n{}", clip(&line, width))?;
    }
    Ok(())
}

/// A line per tool (and host) that says it ran: its latest summary.
fn write_ran(out: &mut dyn Write, ran: &[Record], width: usize) -> io::Result<()> {
    let mut latest: Vec<&Record> = Vec::new();
    for rec in ran {
        match latest
            .iter_mut()
            .find(|r| r.tool == rec.tool && r.host == rec.host)
        {
            Some(seen) => *seen = rec,
            None => latest.push(rec),
        }
    }
    let hosts = latest.iter().any(|r| r.host != latest[0].host);
    for rec in latest.iter().take(MAX_RAN) {
        let who = match hosts {
            true => format!("{} on {}", rec.tool, rec.host),
            false => rec.tool.clone(),
        };
        let line = format!("{:<INDENT$}{who}: {}", "ran", rec.message);
        writeln!(out, "{}", clip(&line, width))?;
    }
    if latest.len() > MAX_RAN {
        writeln!(
            out,
            "{:<INDENT$}… and {} more",
            "ran",
            latest.len() - MAX_RAN
        )?;
    }
    Ok(())
}

/// The groups, worst first, then largest first, then as they came.
fn group(records: Vec<Record>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for rec in records {
        let index = groups
            .iter()
            .position(|g| g.severity == rec.severity && g.tool == rec.tool && g.kind == rec.kind);
        let group = match index {
            Some(index) => &mut groups[index],
            None => {
                groups.push(Group {
                    severity: rec.severity,
                    tool: rec.tool,
                    kind: rec.kind,
                    count: 0,
                    examples: Vec::new(),
                });
                groups.last_mut().expect("just pushed")
            }
        };
        group.count += 1;
        let message = one_line(&rec.message);
        if group.examples.len() < ALL_UP_TO && !group.examples.contains(&message) {
            group.examples.push(message);
        }
    }
    for group in &mut groups {
        if group.count > ALL_UP_TO as u64 {
            group.examples.truncate(EXAMPLES);
        }
    }
    groups.sort_by(|a, b| b.severity.cmp(&a.severity).then(b.count.cmp(&a.count)));
    groups
}

/// A message from elsewhere may hold line breaks or controls.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` in at most `width` characters, "…" marking a cut.
fn clip(text: &str, width: usize) -> String {
    let mut text = text.to_string();
    secops_common::text::clip_chars(&mut text, width);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(tool: &str, kind: &str, severity: Severity, message: &str) -> Record {
        Record::new(tool, kind, severity, message)
    }

    #[test]
    fn worst_first_grouped_counted_and_clipped() {
        let mut records = vec![rec(
            "healthmon",
            "health.alert",
            Severity::Medium,
            "load is high",
        )];
        for i in 0..552 {
            records.push(rec(
                "fim-check",
                "fim.changed",
                Severity::High,
                &format!("/usr/bin/tool{i} changed: sha256 {}", "x".repeat(1000)),
            ));
        }
        records.push(rec(
            "fim-check",
            "fim.changed",
            Severity::Critical,
            "/etc/passwd changed",
        ));
        let mut out = Vec::new();
        render(
            &mut out,
            &[],
            records,
            7,
            80,
            &[PathBuf::from("records.jsonl")],
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.iter().all(|l| l.chars().count() <= 80), "{text}");
        assert!(
            lines[0].contains("554 records") && lines[0].contains("1 critical, 552 high, 1 medium"),
            "{text}"
        );
        assert_eq!(lines[2], "critical  fim-check fim.changed: 1");
        assert_eq!(lines[3], "          /etc/passwd changed");
        assert_eq!(lines[4], "high      fim-check fim.changed: 552");
        assert!(
            lines[5].starts_with("          /usr/bin/tool0 changed") && lines[5].ends_with('…')
        );
        assert_eq!(
            lines[7],
            "          … 550 more: secops-report --kind fim.changed records.jsonl"
        );
        assert_eq!(lines[8], "medium    healthmon health.alert: 1");
        assert_eq!(lines.len(), 10, "{text}");
    }

    #[test]
    fn each_tool_that_ran_says_so_once_with_its_latest_summary() {
        let summary =
            |tool: &str, kind: &str, message: &str| rec(tool, kind, Severity::Info, message);
        let ran = [
            summary("fim-check", "fim.summary", "verified 10 entries: 1 changed"),
            summary(
                "vulnscan",
                "vuln.summary",
                "scanned 1 host with nmap: 0 open ports",
            ),
            summary("fim-check", "fim.summary", "verified 10 entries: 0 changed"),
        ];
        let found = vec![rec(
            "fim-check",
            "fim.changed",
            Severity::High,
            "/etc/hosts changed",
        )];
        let mut out = Vec::new();
        render(&mut out, &ran, found, 3, 100, &[]).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("1 record"), "{text}");
        assert_eq!(
            lines[1],
            "ran       fim-check: verified 10 entries: 0 changed"
        );
        assert_eq!(
            lines[2],
            "ran       vulnscan: scanned 1 host with nmap: 0 open ports"
        );
        assert_eq!(lines[4], "high      fim-check fim.changed: 1");
        assert!(is_summary(&ran[0]));
        assert!(!is_summary(
            &rec("x", "x.summary", Severity::High, "m").firing(&["a"])
        ));
    }
}
