//! Running the real binary on temporary trees, as an operator would.

#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

#[allow(unused_imports)] // each test file uses its own subset
pub use secops_testkit::stderr;

/// The records on a run's stdout but a verify's `fim.summary`, which must
/// follow the differences and agree with them: as many changed, added and
/// removed paths and errors as there are records of each, and the
/// severities they carry.
pub fn records(stdout: &[u8]) -> Vec<Value> {
    let mut recs = secops_testkit::records(stdout);
    let Some(at) = recs.iter().position(|r| r["kind"] == "fim.summary") else {
        return recs;
    };
    let summary = recs.remove(at);
    assert!(
        recs[at..]
            .iter()
            .all(|r| r["kind"] == "fim.resolved" || r["kind"] == "run.failed"),
        "fim.summary comes last but for recoveries and a failure: {summary} then {:?}",
        &recs[at..]
    );
    let found: Vec<&Value> = recs[..at]
        .iter()
        .filter(|r| r["kind"] != "fim.resolved")
        .collect();
    let count = |kind: &str| found.iter().filter(|r| r["kind"] == kind).count() as u64;
    assert_eq!(summary["changed"], count("fim.changed"), "{summary}");
    assert_eq!(summary["added"], count("fim.added"), "{summary}");
    assert_eq!(summary["removed"], count("fim.removed"), "{summary}");
    assert_eq!(summary["errors"], count("fim.error"), "{summary}");
    for severity in ["critical", "high", "medium", "low", "info"] {
        let of = found.iter().filter(|r| r["severity"] == severity).count() as u64;
        assert_eq!(summary["findings"][severity], of, "{severity}: {summary}");
    }
    recs
}

pub fn fim_check() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fim-check"))
}

/// A tree to watch and a private state directory beside it (or where
/// [`Sandbox::with_state`] puts it).
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    state: PathBuf,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        Sandbox::with_state(dir, state)
    }

    /// A sandbox whose state directory is `state` (on a file system a test
    /// mounted, say).
    pub fn with_state(dir: tempfile::TempDir, state: PathBuf) -> Sandbox {
        std::fs::create_dir(dir.path().join("tree")).unwrap();
        Sandbox { dir, state }
    }

    pub fn tree(&self) -> PathBuf {
        self.dir.path().join("tree")
    }

    pub fn state(&self) -> PathBuf {
        self.state.clone()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tree().join(name)
    }

    /// fim-check with this sandbox's state directory and JSON Lines out.
    pub fn cmd(&self, sub: &str) -> Command {
        let mut cmd = fim_check();
        cmd.arg(sub)
            .arg("--state-dir")
            .arg(self.state())
            .args(["--format", "jsonl"]);
        cmd
    }

    pub fn init(&self) {
        let out = run(self.cmd("init").arg(self.tree()));
        assert_eq!(out.status.code(), Some(0), "init: {}", stderr(&out));
    }

    pub fn verify(&self) -> (Option<i32>, Vec<Value>) {
        let out = run(&mut self.cmd("verify"));
        (out.status.code(), records(&out.stdout))
    }
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("fim-check runs")
}

/// The record of `kind` about `path`, failing with all records if missing.
pub fn record_for<'r>(records: &'r [Value], kind: &str, path: &Path) -> &'r Value {
    let want = path.to_str().unwrap();
    records
        .iter()
        .find(|r| r["kind"] == kind && r["path"] == want)
        .unwrap_or_else(|| panic!("no {kind} for {want} in {records:#?}"))
}

/// The `attributes` of the `fim.changed` record about `path`.
pub fn changed_attrs(records: &[Value], path: &Path) -> Vec<String> {
    record_for(records, "fim.changed", path)["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

pub fn sh(script: &str) {
    let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
    assert!(out.status.success(), "{script}: {}", stderr(&out));
}
