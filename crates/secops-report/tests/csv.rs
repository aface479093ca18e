//! CSV as a spreadsheet or a script reads it: every field of every record,
//! common columns first, and no cell that a spreadsheet would run.

mod common;

use common::{jsonl, parse_csv, record, report, report_in, with, write};
use serde_json::{Value, json};

/// What a CSV cell holds for a field, as secops-common documents it.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn mixed_records() -> Vec<Value> {
    vec![
        with(
            record(
                "web1",
                "traffic-cop",
                "port",
                "high",
                "tcp 0.0.0.0:8080 is held by python3 (pid 1234, user devops) and is not on the whitelist",
            ),
            &[
                ("status", json!("unapproved")),
                ("proto", json!("tcp")),
                ("addr", json!("0.0.0.0")),
                ("port", json!(8080)),
                ("pid", json!(1234)),
                ("user", json!("devops")),
                ("process", json!("python3")),
                ("exe", json!("/usr/bin/python3.11")),
            ],
        ),
        with(
            record(
                "db1",
                "fim-check",
                "fim.changed",
                "critical",
                "/etc/passwd changed: \"root\" line edited,\nsize 2 KiB",
            ),
            &[
                ("path", json!("/etc/passwd")),
                ("changes", json!(["sha256", "mtime"])),
                ("user", json!("root")),
            ],
        ),
        with(
            record(
                "web2",
                "healthmon",
                "cpu.load",
                "info",
                "load 0.42 on 8 CPUs, é ok",
            ),
            &[
                ("load", json!(0.42)),
                ("cpus", json!(8)),
                ("pid", Value::Null),
                ("throttled", json!(false)),
                ("temps", json!({"core0": 51})),
            ],
        ),
    ]
}

#[test]
fn every_field_round_trips_with_common_columns_first_then_first_seen() {
    let records = mixed_records();
    let run = report(&["--csv"], jsonl(&records).as_bytes());
    assert_eq!(run.status, 1, "a high record was reported: {}", run.stderr);
    let rows = parse_csv(&run.stdout);
    assert_eq!(
        rows[0],
        [
            "ts",
            "host",
            "tool",
            "kind",
            "severity",
            "message",
            "status",
            "proto",
            "addr",
            "port",
            "pid",
            "user",
            "process",
            "exe",
            "path",
            "changes",
            "load",
            "cpus",
            "throttled",
            "temps"
        ]
    );
    assert_eq!(rows.len(), records.len() + 1);
    for (row, rec) in rows[1..].iter().zip(&records) {
        assert_eq!(row.len(), rows[0].len(), "every row has every column");
        for (name, got) in rows[0].iter().zip(row) {
            assert_eq!(*got, cell(rec.get(name)), "column {name} of {rec}");
        }
    }
}

#[test]
fn formula_cells_are_neutralised_unless_raw_csv() {
    let rec = with(
        record("web1", "traffic-cop", "port", "low", "+1 port opened"),
        &[
            ("process", json!("=HYPERLINK(\"http://evil\",\"x\")")),
            ("user", json!("@SUM(A1:A9)")),
            ("cmd", json!("-e cmd|' /C calc'!A0")),
            ("tabbed", json!("\t=1+1")),
            ("delta", json!(-5)),
            ("plain", json!("a=b")),
        ],
    );
    let input = jsonl(&[rec]);

    let guarded = parse_csv(&report(&["--csv"], input.as_bytes()).stdout);
    let row = &guarded[1];
    assert_eq!(row[5], "'+1 port opened");
    assert_eq!(row[6], "'=HYPERLINK(\"http://evil\",\"x\")");
    assert_eq!(row[7], "'@SUM(A1:A9)");
    assert_eq!(row[8], "'-e cmd|' /C calc'!A0");
    assert_eq!(row[9], "'\t=1+1");
    assert_eq!(row[10], "-5", "numbers are numbers, not formulas");
    assert_eq!(row[11], "a=b");

    let raw = parse_csv(&report(&["--csv", "--raw-csv"], input.as_bytes()).stdout);
    assert_eq!(
        raw[1][5..],
        [
            "+1 port opened",
            "=HYPERLINK(\"http://evil\",\"x\")",
            "@SUM(A1:A9)",
            "-e cmd|' /C calc'!A0",
            "\t=1+1",
            "-5",
            "a=b"
        ]
    );
}

#[test]
fn output_file_gets_its_format_from_the_extension_and_appears_whole() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "in.jsonl", jsonl(&mixed_records()));
    let run = report_in(dir.path(), &["-o", "out/../ports.csv", "in.jsonl"], b"");
    assert_eq!(run.status, 2, "the out/ directory does not exist");
    assert!(run.stderr.contains("ports.csv"), "{}", run.stderr);

    let run = report_in(dir.path(), &["-o", "ports.csv", "in.jsonl"], b"");
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert_eq!(run.stdout, "", "the report went to the file");
    let text = std::fs::read_to_string(dir.path().join("ports.csv")).unwrap();
    assert_eq!(parse_csv(&text).len(), 4);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["in.jsonl", "ports.csv"],
        "no temporary file is left"
    );

    let run = report_in(dir.path(), &["-o", "ports.out", "in.jsonl"], b"");
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("--format"), "{}", run.stderr);
}
