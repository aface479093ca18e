//! remote-run's real binary run against real OpenSSH servers on loopback
//! (secops-testkit's `Sshd`), and reading what it did.

#![allow(dead_code)] // each test file uses its own subset

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

#[allow(unused_imports)] // each test file uses its own subset
pub use secops_testkit::{
    PATIENCE, Sshd, client_config, closed_port, records, run, stderr, wait_until,
};

pub fn remote_run() -> Command {
    Command::new(env!("CARGO_BIN_EXE_remote-run"))
}

/// The `remote.result` records by host.
pub fn results(records: &[Value]) -> BTreeMap<String, Value> {
    records
        .iter()
        .filter(|r| r["kind"] == "remote.result")
        .map(|r| (r["host"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

/// `h01` … `hNN`.
pub fn aliases(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("h{i:02}")).collect()
}

/// Processes whose command line mentions `dir` (ssh masters retitle
/// themselves `ssh: DIR/ssh/<hash> [mux]`).
pub fn processes_under(dir: &Path) -> Vec<String> {
    let needle = dir.display().to_string();
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            e.file_name().to_str()?.parse::<u32>().ok()?;
            let cmdline = fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline.contains(&needle).then_some(cmdline)
        })
        .collect()
}

/// Waits until no process mentions `dir` any more.
pub fn wait_until_gone(dir: &Path) {
    let gone = wait_until(PATIENCE, || processes_under(dir).is_empty());
    assert!(
        gone,
        "ssh processes left behind: {:#?}",
        processes_under(dir)
    );
}

/// Every path under `dir`, relative, symlinks not followed.
pub fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            found.push(path.strip_prefix(dir).unwrap().to_path_buf());
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                stack.push(path);
            }
        }
    }
    found.sort();
    found
}
