//! A tool's `--prom-file` as Prometheus reads it: checked by the real
//! promtool, its samples read back and held against the run's records.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use serde_json::Value;

use crate::programs::require;
use crate::run::{run_with_stdin, stderr};

/// `promtool check metrics` on the file's text (stdin): no error and no
/// lint warning, or the test fails with what promtool says.
pub fn assert_promtool_clean(path: &Path) {
    assert_promtool_accepts(&std::fs::read(path).unwrap());
}

/// The same for a textfile's text read earlier.
pub fn assert_promtool_accepts(text: &[u8]) {
    let promtool = require("promtool", "prometheus");
    let out = run_with_stdin(Command::new(promtool).args(["check", "metrics"]), text);
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out),
        String::from_utf8_lossy(text)
    );
}

/// The value of the unlabelled sample `name`.
pub fn value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .map(|v| v.parse().unwrap())
}

/// `family` (a `TOOL_findings`) by (kind, severity).
pub fn findings(text: &str, family: &str) -> BTreeMap<(String, String), f64> {
    let prefix = format!("{family}{{kind=\"");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|rest| {
            let (kind, rest) = rest.split_once("\",severity=\"").unwrap();
            let (severity, value) = rest.split_once("\"} ").unwrap();
            (
                (kind.to_string(), severity.to_string()),
                value.parse().unwrap(),
            )
        })
        .collect()
}

/// The firing records of a run by (kind, severity), as `TOOL_findings`
/// counts them.
pub fn firing(records: &[Value]) -> BTreeMap<(String, String), f64> {
    let mut tally = BTreeMap::new();
    for r in records.iter().filter(|r| r["alert"] == "firing") {
        let key = (
            r["kind"].as_str().unwrap().to_string(),
            r["severity"].as_str().unwrap().to_string(),
        );
        *tally.entry(key).or_default() += 1.0;
    }
    tally
}

/// A file's identity (inode and modification time), which every atomic
/// rewrite changes.
pub fn version(path: &Path) -> Option<(u64, i64, i64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.ino(), meta.mtime(), meta.mtime_nsec()))
}

/// Now, in seconds since the epoch, as `*_timestamp_seconds` are.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}
