//! Running the real binary as an operator would, and reading what the
//! kernel itself says to compare with.

#![allow(dead_code)] // each test file uses its own subset

use std::process::{Command, Output};

#[allow(unused_imports)] // each test file uses its own subset
pub use secops_testkit::{assert_promtool_clean, of_kind, records, stderr};

/// healthmon remembering nothing between runs, so tests running side by
/// side never see each other's alerts (the state directory of root is
/// shared); tests of that memory use [`healthmon_with_state`].
pub fn healthmon() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_healthmon"));
    cmd.arg("--no-state");
    cmd
}

/// healthmon remembering its alerts in `dir`.
pub fn healthmon_with_state(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_healthmon"));
    cmd.arg("--state-dir").arg(dir);
    cmd
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("healthmon runs")
}

/// One field of /proc/meminfo, in bytes.
pub fn meminfo(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/meminfo"));
    line.trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .unwrap()
        * 1024
}

/// The three load averages of /proc/loadavg.
pub fn loadavg() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap();
    let mut f = text.split_whitespace().map(|x| x.parse::<f64>().unwrap());
    [f.next().unwrap(), f.next().unwrap(), f.next().unwrap()]
}

/// The `cpuN` lines of /proc/stat.
pub fn cpu_lines() -> usize {
    std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count()
}

/// True when `value` lies between two readings taken before and after it,
/// widened by `slack`.
pub fn between(value: f64, a: f64, b: f64, slack: f64) -> bool {
    value >= a.min(b) - slack && value <= a.max(b) + slack
}
