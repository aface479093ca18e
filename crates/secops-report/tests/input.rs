//! Reading: files and stdin in the order given, and bad lines named by file
//! and line, skipped, counted, and answered with exit status 2 while every
//! good record is still reported.

mod common;

use common::{jsonl, messages, record, report, report_in, write};

#[test]
fn bad_lines_are_named_and_skipped_and_the_rest_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut input = Vec::new();
    input.extend(jsonl(&[record("web1", "t", "port", "high", "first")]).bytes());
    input.extend(b"this is not json\n");
    input.extend(
        br#"{"ts":"2026-11-21T19:02:00Z","host":"web1","tool":"t","kind":"port","message":"no severity"}"#,
    );
    input.extend(b"\n");
    input.extend(jsonl(&[record("web1", "t", "port", "urgent", "odd severity")]).bytes());
    input.extend(b"{\"message\":\"caf\xe9\"}\n");
    input.extend(b"\n");
    input.extend(jsonl(&[record("web2", "t", "port", "info", "last")]).bytes());
    write(dir.path(), "in.jsonl", &input);

    let run = report_in(dir.path(), &["--format", "jsonl", "in.jsonl"], b"");
    assert_eq!(messages(&run.stdout), ["first", "last"]);
    assert_eq!(run.status, 2, "rejected lines outrank the high finding");
    for expected in [
        "in.jsonl:2: skipped: not JSON",
        "in.jsonl:3: skipped: missing field `severity`",
        "in.jsonl:4: skipped: field `severity`: unknown severity \"urgent\"",
        "in.jsonl:5: skipped: not valid UTF-8",
        "4 lines were rejected as not records (2 records read)",
    ] {
        assert!(
            run.stderr.contains(expected),
            "no {expected:?} in:\n{}",
            run.stderr
        );
    }
    assert!(!run.stderr.contains(":7:"), "a blank line is not an error");
}

#[test]
fn bad_lines_in_a_table_report_still_exit_2() {
    let input = format!(
        "{}not json\n",
        jsonl(&[record("web1", "t", "port", "low", "kept")])
    );
    let run = report(&["--format", "table"], input.as_bytes());
    assert_eq!(run.status, 2);
    assert!(run.stdout.contains("kept"), "{}", run.stdout);
    assert!(
        run.stderr.contains("<stdin>:2: skipped: not JSON"),
        "{}",
        run.stderr
    );
}

#[test]
fn empty_input_says_so_and_is_not_an_error() {
    let run = report(&["--csv"], b"");
    assert_eq!(run.status, 0);
    assert!(
        run.stderr.contains("the input held no records"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "ts,host,tool,kind,severity,message\n");

    let run = report(&["--format", "table"], b"\n\n");
    assert_eq!((run.status, run.stdout.as_str()), (0, "no records\n"));
}

#[test]
fn files_and_stdin_are_read_in_the_order_given() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.jsonl",
        jsonl(&[record("web1", "t", "k", "info", "from a")]),
    );
    write(
        dir.path(),
        "b.jsonl",
        jsonl(&[record("web1", "t", "k", "info", "from b")]),
    );
    let stdin = jsonl(&[record("web1", "t", "k", "info", "from stdin")]);
    let run = report_in(
        dir.path(),
        &["--format", "jsonl", "a.jsonl", "-", "b.jsonl"],
        stdin.as_bytes(),
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(messages(&run.stdout), ["from a", "from stdin", "from b"]);
}

#[test]
fn a_missing_file_is_named_and_the_others_still_reported() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.jsonl",
        jsonl(&[record("web1", "t", "k", "info", "from a")]),
    );
    let run = report_in(
        dir.path(),
        &["--format", "jsonl", "gone.jsonl", "a.jsonl"],
        b"",
    );
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("cannot read gone.jsonl"),
        "{}",
        run.stderr
    );
    assert_eq!(messages(&run.stdout), ["from a"]);
}
