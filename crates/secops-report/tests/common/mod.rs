//! Running secops-report as a user does: real files, real stdin, the real
//! binary, and CSV read back by Python's `csv` module (secops-testkit's
//! `parse_csv`), the way a spreadsheet import or a script would read it.

#![allow(dead_code)] // each test file uses its own share of these

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

#[allow(unused_imports)] // each test file uses its own share of these
pub use secops_testkit::parse_csv;

pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs secops-report with `args`, feeding `stdin`.
pub fn report(args: &[&str], stdin: &[u8]) -> Run {
    report_in(Path::new("."), args, stdin)
}

/// Runs secops-report in `dir`.
pub fn report_in(dir: &Path, args: &[&str], stdin: &[u8]) -> Run {
    let out = secops_testkit::run_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_secops-report"))
            .args(args)
            .current_dir(dir),
        stdin,
    );
    Run {
        status: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// A record with the common fields, then `extra`'s fields in order.
pub fn record(host: &str, tool: &str, kind: &str, severity: &str, message: &str) -> Value {
    json!({
        "ts": "2026-11-21T19:02:00Z",
        "host": host,
        "tool": tool,
        "kind": kind,
        "severity": severity,
        "message": message,
    })
}

/// `record` plus kind fields.
pub fn with(mut rec: Value, fields: &[(&str, Value)]) -> Value {
    let object = rec.as_object_mut().unwrap();
    for (name, value) in fields {
        object.insert(name.to_string(), value.clone());
    }
    rec
}

pub fn jsonl(records: &[Value]) -> String {
    records.iter().map(|r| format!("{r}\n")).collect()
}

pub fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The `message` of each JSON Lines record in `text`, in order.
pub fn messages(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            let rec: Value = serde_json::from_str(line).expect("output is JSON Lines");
            rec["message"].as_str().unwrap().to_string()
        })
        .collect()
}
