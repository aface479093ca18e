//! Running the real binary as an operator would, and finding the shared
//! labelled data.

#![allow(dead_code)] // each test file uses its own subset

pub mod server;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

#[allow(unused_imports)] // each test file uses its own subset
pub use secops_testkit::{records, stderr};

/// The binary, for a detection run that remembers nothing between runs:
/// tests may run as root, whose default state directory is the machine's.
pub fn anomalizer() -> Command {
    let mut cmd = bin();
    cmd.arg("--no-state");
    cmd
}

/// The binary without arguments: for subcommands, and runs given their
/// own `--state-dir`.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_anomalizer"))
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("anomalizer runs")
}

/// The records of a run that must succeed: status 0, or 1 when it found
/// something at or above `--fail-on`.
pub fn run_records(cmd: &mut Command) -> Vec<Value> {
    let out = run(cmd);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    records(&out.stdout)
}

/// The records of one detector (`rare_template`, `burst`, `pca`, ...).
pub fn by_detector<'r>(records: &'r [Value], detector: &str) -> Vec<&'r Value> {
    records
        .iter()
        .filter(|r| r["detector"] == detector)
        .collect()
}

/// The shared labelled logs (never copied into the repository).
pub fn data_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    assert!(
        dir.join("loghub/formats.tsv").is_file(),
        "the labelled Loghub data is missing: expected {} (see the data README; it sits beside the repository as ../shared/data)",
        dir.display()
    );
    dir
}

/// The `--log-format` of a Loghub dataset, from `loghub/formats.tsv`.
pub fn loghub_format(dataset: &str) -> String {
    anomalizer::evaluation::grouping::loghub_formats(&data_dir())
        .expect("formats.tsv reads")
        .into_iter()
        .find(|(d, _)| d == dataset)
        .unwrap_or_else(|| panic!("{dataset} is not in formats.tsv"))
        .1
}

/// Running a command with given bytes on its stdin.
pub trait StdinBytes {
    fn stdin_bytes(&mut self, data: impl Into<Vec<u8>>) -> &mut Self;
}

impl StdinBytes for Command {
    /// Feeds `data` on stdin through a file, so no writer thread is needed.
    fn stdin_bytes(&mut self, data: impl Into<Vec<u8>>) -> &mut Self {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&data.into()).unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        self.stdin(file)
    }
}
