//! Filters, and the exit status that follows from what is reported: a
//! record a filter removed is not reported, so it cannot fail the run.

mod common;

use common::{jsonl, messages, record, report};

fn fleet() -> String {
    jsonl(&[
        record("web1", "traffic-cop", "port", "high", "web1 port"),
        record(
            "web1",
            "traffic-cop",
            "port.opened",
            "medium",
            "web1 port.opened",
        ),
        record("WEB2", "traffic-cop", "portscan", "low", "web2 portscan"),
        record("db1", "fim-check", "fim.changed", "critical", "db1 fim"),
        record("db1", "healthmon", "disk.usage", "info", "db1 disk"),
    ])
}

fn kept(args: &[&str]) -> Vec<String> {
    let mut all = vec!["--format", "jsonl"];
    all.extend_from_slice(args);
    let run = report(&all, fleet().as_bytes());
    assert!(run.status < 2, "{}", run.stderr);
    messages(&run.stdout)
}

#[test]
fn min_severity_keeps_that_and_worse() {
    assert_eq!(
        kept(&["--min-severity", "medium"]),
        ["web1 port", "web1 port.opened", "db1 fim"]
    );
    assert_eq!(kept(&["--min-severity", "CRITICAL"]), ["db1 fim"]);
}

#[test]
fn kind_matches_dotted_sub_kinds_but_not_longer_words() {
    assert_eq!(kept(&["--kind", "port"]), ["web1 port", "web1 port.opened"]);
    assert_eq!(kept(&["--kind", "port.opened"]), ["web1 port.opened"]);
    assert_eq!(
        kept(&["--kind", "fim", "--kind", "disk.usage"]),
        ["db1 fim", "db1 disk"]
    );
}

#[test]
fn tool_and_host_take_several_values() {
    assert_eq!(
        kept(&["--tool", "fim-check,healthmon"]),
        ["db1 fim", "db1 disk"]
    );
    assert_eq!(
        kept(&["--host", "web2", "--host", "DB1"]),
        ["web2 portscan", "db1 fim", "db1 disk"],
        "host names match whatever their case"
    );
}

#[test]
fn different_filters_must_all_match() {
    assert_eq!(
        kept(&[
            "--host",
            "web1,db1",
            "--min-severity",
            "high",
            "--tool",
            "traffic-cop"
        ]),
        ["web1 port"]
    );
    assert!(kept(&["--tool", "traffic-cop", "--kind", "fim"]).is_empty());
}

#[test]
fn exit_status_follows_what_is_reported() {
    let status = |args: &[&str]| report(args, fleet().as_bytes()).status;
    assert_eq!(status(&["--format", "jsonl"]), 1, "critical >= high");
    assert_eq!(status(&["--format", "jsonl", "--host", "web2"]), 0);
    assert_eq!(
        status(&[
            "--format",
            "jsonl",
            "--tool",
            "traffic-cop",
            "--fail-on",
            "critical"
        ]),
        0
    );
    assert_eq!(
        status(&["--format", "jsonl", "--fail-on", "info", "--kind", "disk"]),
        1
    );
    // Tables are laid out apart from the record formats; same rule.
    assert_eq!(status(&["--format", "table", "--kind", "port"]), 1);
    assert_eq!(
        status(&[
            "--format",
            "markdown",
            "--min-severity",
            "low",
            "--kind",
            "portscan"
        ]),
        0
    );
    assert_eq!(status(&["--csv", "--group-by", "host", "--host", "db1"]), 1);
}

#[test]
fn bad_usage_exits_2_with_a_reason() {
    let run = report(&["--min-severity", "urgent"], b"");
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("unknown severity \"urgent\""),
        "{}",
        run.stderr
    );

    let run = report(&["--csv", "--columns", "host"], fleet().as_bytes());
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("--columns"), "{}", run.stderr);
    assert_eq!(run.stdout, "");

    let run = report(&["--csv", "--format", "json"], b"");
    assert_eq!(run.status, 2);
}
