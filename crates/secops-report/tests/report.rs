//! Table and Markdown reports: the summary on top, default and chosen
//! columns, `--group-by` sections, and ordering of grouped records.

mod common;

use common::{jsonl, messages, parse_csv, record, report, report_in, with, write};
use serde_json::json;

fn fleet() -> String {
    jsonl(&[
        with(
            record(
                "web1",
                "traffic-cop",
                "port",
                "high",
                "tcp 0.0.0.0:8080 not whitelisted",
            ),
            &[("port", json!(8080)), ("process", json!("python3"))],
        ),
        record(
            "db1",
            "fim-check",
            "fim.changed",
            "critical",
            "/etc/passwd changed",
        ),
        with(
            record(
                "web1",
                "traffic-cop",
                "port",
                "info",
                "tcp 0.0.0.0:22 whitelisted",
            ),
            &[("port", json!(22)), ("process", json!("sshd"))],
        ),
        record(
            "web2",
            "traffic-cop",
            "port",
            "info",
            "udp 0.0.0.0:53 whitelisted",
        ),
        record("db1", "healthmon", "disk.usage", "low", "/var at 81%"),
    ])
}

#[test]
fn table_opens_with_counts_by_severity_and_tool() {
    let run = report(
        &["--format", "table", "--host", "web1,db1"],
        fleet().as_bytes(),
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "4 records from 2 hosts (1 filtered out)",
            "severity: 1 critical, 1 high, 1 low, 1 info",
            "tool:     2 traffic-cop, 1 fim-check, 1 healthmon",
            "",
        ]
    );
    let header: Vec<&str> = lines[4].split_whitespace().collect();
    assert_eq!(header, ["SEVERITY", "HOST", "TOOL", "KIND", "MESSAGE"]);
    assert_eq!(lines.len(), 5 + 4);
    assert!(
        lines[5].starts_with("high      web1  traffic-cop  port"),
        "{}",
        lines[5]
    );
}

#[test]
fn a_host_or_tool_shared_by_every_row_moves_to_the_summary() {
    let run = report(&["--format", "table", "--host", "web1"], fleet().as_bytes());
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "2 records from web1 (3 filtered out)");
    assert_eq!(lines[2], "tool:     2 traffic-cop");
    let header: Vec<&str> = lines[4].split_whitespace().collect();
    assert_eq!(header, ["SEVERITY", "KIND", "MESSAGE"]);
}

#[test]
fn columns_choose_fields_and_a_field_nobody_has_is_warned_about() {
    let run = report(
        &["--format", "table", "--columns", "host,port,process,prot"],
        fleet().as_bytes(),
    );
    let header = run.stdout.lines().nth(4).unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["HOST", "PORT", "PROCESS"]
    );
    assert!(run.stdout.contains("web1  8080  python3"), "{}", run.stdout);
    assert!(run.stdout.contains("web2  -     -"), "{}", run.stdout);
    assert!(
        run.stderr
            .contains("no reported record has a value for --columns field `prot`"),
        "{}",
        run.stderr
    );
}

/// Splits a text report into `(heading, rows)` sections.
fn sections(text: &str) -> Vec<(String, Vec<String>)> {
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("== ") {
            sections.push((heading.to_string(), Vec::new()));
        } else if let Some((_, rows)) = sections.last_mut()
            && !line.is_empty()
        {
            rows.push(line.to_string());
        }
    }
    sections
}

#[test]
fn group_by_host_gives_each_host_a_section_with_its_counts() {
    let run = report(
        &["--format", "table", "--group-by", "host"],
        fleet().as_bytes(),
    );
    let sections = sections(&run.stdout);
    let headings: Vec<&str> = sections.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(
        headings,
        [
            "host db1: 2 records (1 critical, 1 low)",
            "host web1: 2 records (1 high, 1 info)",
            "host web2: 1 record (1 info)",
        ]
    );
    let (_, web1) = &sections[1];
    assert_eq!(
        web1[0].split_whitespace().collect::<Vec<_>>(),
        ["SEVERITY", "TOOL", "KIND", "MESSAGE"],
        "the heading names the host, so the column goes"
    );
    assert!(
        web1[1].contains("8080") && web1[2].contains(":22"),
        "input order kept"
    );
}

#[test]
fn group_by_severity_runs_worst_first_in_every_format() {
    let run = report(
        &["--format", "table", "--group-by", "severity"],
        fleet().as_bytes(),
    );
    let headings: Vec<String> = sections(&run.stdout).into_iter().map(|(h, _)| h).collect();
    assert_eq!(
        headings,
        [
            "severity critical: 1 record",
            "severity high: 1 record",
            "severity low: 1 record",
            "severity info: 2 records",
        ]
    );
    let run = report(
        &["--format", "jsonl", "--group-by", "severity"],
        fleet().as_bytes(),
    );
    assert_eq!(
        messages(&run.stdout),
        [
            "/etc/passwd changed",
            "tcp 0.0.0.0:8080 not whitelisted",
            "/var at 81%",
            "tcp 0.0.0.0:22 whitelisted",
            "udp 0.0.0.0:53 whitelisted",
        ]
    );
    let run = report(&["--csv", "--group-by", "tool"], fleet().as_bytes());
    let tools: Vec<String> = parse_csv(&run.stdout)[1..]
        .iter()
        .map(|row| row[2].clone())
        .collect();
    assert_eq!(
        tools,
        [
            "fim-check",
            "healthmon",
            "traffic-cop",
            "traffic-cop",
            "traffic-cop"
        ]
    );
}

#[test]
fn markdown_for_a_ticket_from_the_file_extension() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "fleet.jsonl", fleet());
    let run = report_in(
        dir.path(),
        &[
            "-o",
            "ticket.md",
            "--group-by",
            "kind",
            "--min-severity",
            "low",
            "fleet.jsonl",
        ],
        b"",
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    let text = std::fs::read_to_string(dir.path().join("ticket.md")).unwrap();
    assert_eq!(
        text,
        "**3 records** from 2 hosts (2 filtered out)\n\
         \n\
         - severity: 1 critical, 1 high, 1 low\n\
         - tool: 1 `fim-check`, 1 `healthmon`, 1 `traffic-cop`\n\
         \n\
         ### kind `disk.usage`: 1 record (1 low)\n\
         \n\
         | severity | host | tool | message |\n\
         | --- | --- | --- | --- |\n\
         | `low` | `db1` | `healthmon` | `/var at 81%` |\n\
         \n\
         ### kind `fim.changed`: 1 record (1 critical)\n\
         \n\
         | severity | host | tool | message |\n\
         | --- | --- | --- | --- |\n\
         | `critical` | `db1` | `fim-check` | `/etc/passwd changed` |\n\
         \n\
         ### kind `port`: 1 record (1 high)\n\
         \n\
         | severity | host | tool | message |\n\
         | --- | --- | --- | --- |\n\
         | `high` | `web1` | `traffic-cop` | `tcp 0.0.0.0:8080 not whitelisted` |\n"
    );
}

#[test]
fn help_shows_examples_and_man_page_and_completions_are_generated() {
    let run = report(&["--help"], b"");
    assert_eq!(run.status, 0);
    assert!(run.stdout.contains("Examples:"));
    assert!(
        run.stdout.contains(
            "traffic-cop --whitelist config/ports.json | secops-report --csv > ports.csv"
        )
    );

    let man = report(&["--generate", "man"], b"");
    assert_eq!(man.status, 0);
    assert!(man.stdout.contains(".TH secops-report 1"), "{}", man.stdout);
    assert!(
        man.stdout.contains("\\fB\\-\\-group\\-by\\fR"),
        "flags are documented"
    );

    let bash = report(&["--generate", "complete-bash"], b"");
    assert_eq!(bash.status, 0);
    assert!(bash.stdout.contains("--min-severity"));
}

#[test]
fn brief_fits_one_screen_worst_first_even_in_a_pipe() {
    let mut records = vec![record(
        "web1",
        "anomalizer",
        "log.anomaly",
        "medium",
        "rare line",
    )];
    for i in 0..576 {
        records.push(record(
            "web1",
            "fim-check",
            "fim.changed",
            "high",
            &format!(
                "/usr/bin/tool{i} changed: sha256, mtime {}",
                "x".repeat(1200)
            ),
        ));
    }
    records.push(record(
        "web1",
        "traffic-cop",
        "port.opened",
        "critical",
        "tcp 0.0.0.0:4444 is listening",
    ));
    records.push(record(
        "web1",
        "healthmon",
        "health.sample",
        "info",
        "cpu 3%",
    ));
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "records.jsonl", jsonl(&records));
    // stdout is a pipe here: --brief is a table all the same.
    let run = report_in(
        dir.path(),
        &[
            "--brief",
            "--min-severity",
            "medium",
            "--width",
            "72",
            "records.jsonl",
        ],
        b"",
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines.len() <= 24, "one screen: {}", run.stdout);
    assert!(
        lines.iter().all(|l| l.chars().count() <= 72),
        "{}",
        run.stdout
    );
    assert!(
        lines[0].starts_with("578 records from web1: 1 critical, 576 high, 1 medium"),
        "{}",
        run.stdout
    );
    let heads: Vec<&str> = lines
        .iter()
        .filter(|l| !l.starts_with(' ') && !l.is_empty())
        .skip(1)
        .copied()
        .collect();
    assert_eq!(
        heads,
        [
            "critical  traffic-cop port.opened: 1",
            "high      fim-check fim.changed: 576",
            "medium    anomalizer log.anomaly: 1"
        ]
    );
    assert!(
        run.stdout
            .contains("… 574 more: secops-report --kind fim.changed records.jsonl"),
        "{}",
        run.stdout
    );
    assert!(file.exists());

    let refused = report(&["--brief", "--format", "json"], b"");
    assert_eq!(refused.status, 2, "{}", refused.stderr);
}

#[test]
fn brief_judges_alert_filters_and_summaries_by_the_records_fields() {
    let firing = |message: &str| {
        with(
            record("web1", "disk-alert", "disk.alert", "high", message),
            &[
                ("alert", json!("firing")),
                ("alert_id", json!("disk-alert:/srv")),
            ],
        )
    };
    let summary = with(
        record(
            "web1",
            "fim-check",
            "fim.summary",
            "info",
            "verified 3 entries: 0 changed",
        ),
        &[("alert", json!("none"))],
    );
    // A firing record whose kind ends in .summary is an alert, not a run.
    let odd = with(
        record(
            "web1",
            "cron-check",
            "job.summary",
            "high",
            "nightly job failed",
        ),
        &[
            ("alert", json!("firing")),
            ("alert_id", json!("cron-check:nightly")),
        ],
    );
    let seen = with(
        record(
            "web1",
            "disk-alert",
            "disk.usage",
            "high",
            "/var is 85% full",
        ),
        &[("alert", json!("none"))],
    );
    let input = jsonl(&[firing("/srv is 97% full"), summary, odd, seen]);
    // --alert firing: the alerts, the odd one included; no observation.
    let run = report(
        &["--brief", "--alert", "firing", "--width", "100", "-"],
        input.as_bytes(),
    );
    assert!(
        run.stdout.starts_with("2 records from web1"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("high      cron-check job.summary: 1"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("/srv is 97% full"), "{}", run.stdout);
    assert!(!run.stdout.contains("/var is 85% full"), "{}", run.stdout);
    assert!(!run.stdout.contains("ran "), "{}", run.stdout);
    // --min-severity high: the summary says what ran; the odd one is no run.
    let run = report(
        &["--brief", "--min-severity", "high", "--width", "100", "-"],
        input.as_bytes(),
    );
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with("3 records from web1"),
        "{}",
        run.stdout
    );
    assert_eq!(
        lines[1], "ran       fim-check: verified 3 entries: 0 changed",
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("high      cron-check job.summary: 1"),
        "{}",
        run.stdout
    );
}
