//! Running the real binary as an operator would, and reading its records.

#![allow(dead_code)] // each test file uses its own subset

use std::collections::BTreeSet;
use std::process::{Command, Output};

use serde_json::Value;

#[allow(unused_imports)] // each test file uses its own subset
pub use secops_testkit::{records, stderr};

/// traffic-cop with `--no-state`: a test run must not read or write the
/// machine's state directory (/var/lib/secops as root).
pub fn traffic_cop() -> Command {
    let mut cmd = traffic_cop_with_state();
    cmd.arg("--no-state");
    cmd
}

/// traffic-cop as it is installed: the test passes `--state-dir`.
pub fn traffic_cop_with_state() -> Command {
    Command::new(env!("CARGO_BIN_EXE_traffic-cop"))
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("traffic-cop runs")
}

/// The record for one local port, failing with the output when missing.
pub fn record_for(records: &[Value], proto: &str, port: u16) -> Value {
    records
        .iter()
        .find(|r| r["proto"] == proto && r["port"] == port)
        .unwrap_or_else(|| panic!("no record for {proto} port {port} in {records:#?}"))
        .clone()
}

/// `(proto, address, port, pid)` rows as `ss -tulpnH` reports them, with
/// its address spellings normalised: `*` (a dual-stack IPv6 wildcard) is
/// `::`, brackets and `%interface` suffixes dropped.
pub fn ss_rows() -> BTreeSet<(String, String, u16, Option<u32>)> {
    let out = Command::new("ss")
        .arg("-tulpnH")
        .output()
        .expect("ss (Debian package iproute2) must be installed: apt-get install iproute2");
    assert!(
        out.status.success(),
        "ss failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rows = BTreeSet::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (addr, port) = cols[4]
            .rsplit_once(':')
            .expect("ss local address has a port");
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        let addr = addr.split('%').next().unwrap();
        let addr = if addr == "*" { "::" } else { addr };
        let addr: std::net::IpAddr = addr.parse().unwrap_or_else(|e| panic!("{e}: {line}"));
        let port: u16 = port.parse().unwrap();
        let pids: Vec<u32> = cols[6..]
            .join(" ")
            .split("pid=")
            .skip(1)
            .map(|rest| {
                rest.split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        let proto = cols[0].to_string();
        if pids.is_empty() {
            rows.insert((proto.clone(), addr.to_string(), port, None));
        }
        for pid in pids {
            rows.insert((proto.clone(), addr.to_string(), port, Some(pid)));
        }
    }
    rows
}

/// The same rows from traffic-cop records, one per holder pid.
pub fn our_rows(records: &[Value]) -> BTreeSet<(String, String, u16, Option<u32>)> {
    let mut rows = BTreeSet::new();
    for r in records {
        let key = |pid| {
            (
                r["proto"].as_str().unwrap().to_string(),
                r["addr"].as_str().unwrap().to_string(),
                r["port"].as_u64().unwrap() as u16,
                pid,
            )
        };
        match r.get("pids").and_then(Value::as_array) {
            Some(pids) => rows.extend(pids.iter().map(|p| key(Some(p.as_u64().unwrap() as u32)))),
            None => {
                rows.insert(key(r["pid"].as_u64().map(|p| p as u32)));
            }
        }
    }
    rows
}
