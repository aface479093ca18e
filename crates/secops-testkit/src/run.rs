//! Running a tool to the end and reading what it wrote.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::thread;

use serde_json::Value;

/// Runs `cmd` to the end with no input, capturing stdout and stderr.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|err| panic!("{} does not start: {err}", program(cmd)))
}

/// Runs `cmd` to the end with `stdin` as its input. The input is written
/// from another thread, so a large input cannot deadlock against a large
/// output; a tool that exits before reading it all (bad usage) is fine.
pub fn run_with_stdin(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("{} does not start: {err}", program(cmd)));
    let mut input = child.stdin.take().expect("stdin is piped");
    let stdin = stdin.to_vec();
    let writer = thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let out = child.wait_with_output().expect("the run is waited for");
    writer.join().expect("the stdin writer does not panic");
    out
}

fn program(cmd: &Command) -> String {
    cmd.get_program().to_string_lossy().into_owned()
}

/// Fails the test, showing the run's stderr, unless it exited with `code`.
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit status {}, expected {code}; stderr:\n{}",
        out.status,
        stderr(out)
    );
}

/// Every line of a run's stdout as JSON, failing the test on a line that
/// is not JSON (a tool must never mix anything else into its records).
pub fn records(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8(stdout.to_vec())
        .expect("stdout is UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {e}: {line}")))
        .collect()
}

/// A run's stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The one record a run that could not do its job writes down a pipe
/// (`run.failed`, a firing alert naming the error), failing the test if
/// stdout holds anything else: a failed run reports nothing else as found.
pub fn only_failure(stdout: &[u8]) -> Value {
    let recs = records(stdout);
    assert_eq!(
        recs.len(),
        1,
        "one run.failed record, nothing else: {recs:#?}"
    );
    let rec = recs.into_iter().next().expect("one record");
    assert_eq!(
        (&rec["kind"], &rec["alert"], &rec["severity"]),
        (
            &Value::from("run.failed"),
            &Value::from("firing"),
            &Value::from("high")
        ),
        "{rec:#}"
    );
    assert_eq!(
        rec["message"]
            .as_str()
            .map(|m| m.contains(rec["error"].as_str().unwrap_or("?"))),
        Some(true),
        "{rec:#}"
    );
    rec
}

/// The records of one kind.
pub fn of_kind<'r>(records: &'r [Value], kind: &str) -> Vec<&'r Value> {
    records.iter().filter(|r| r["kind"] == kind).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_reaches_the_program_and_its_exit_code_is_read() {
        let out = run_with_stdin(
            Command::new("sh").args(["-c", "cat; echo oops >&2; exit 3"]),
            b"{\"kind\":\"a\"}\n{\"kind\":\"b\"}\n",
        );
        assert_exit(&out, 3);
        assert_eq!(of_kind(&records(&out.stdout), "b").len(), 1);
        assert_eq!(stderr(&out), "oops\n");
    }

    #[test]
    fn a_program_that_does_not_read_its_input_is_no_failure() {
        let big = vec![b'x'; 1 << 20];
        assert_exit(&run_with_stdin(&mut Command::new("true"), &big), 0);
    }
}
