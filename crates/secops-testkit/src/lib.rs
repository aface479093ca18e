//! Helpers the tools' integration tests share: they run each tool's real
//! binary and read what it wrote, and check that the real programs they
//! compare with are installed. A dev-dependency only.

use std::process::Output;

use serde_json::Value;

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

/// The records of one kind.
pub fn of_kind<'r>(records: &'r [Value], kind: &str) -> Vec<&'r Value> {
    records.iter().filter(|r| r["kind"] == kind).collect()
}

/// Fails the test unless `program` is on `PATH`, naming the Debian
/// `package` to install: tests use real programs (tar, zstd, unshare, df)
/// rather than mocks, and a missing one must say how to get it, not fail
/// later with a confusing spawn error.
pub fn require(program: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false);
    assert!(found, "{program} is missing: apt-get install {package}");
}
