//! Running the real binary as an operator would, inside private mount
//! namespaces the tests make ([`Namespace`]: every test that mounts does so
//! in one of its own), next to the anchor it must agree with (df).

#![allow(dead_code)] // each test file uses its own subset

pub mod fuse;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

#[allow(unused_imports)] // each test file uses its own subset
pub use secops_testkit::{Namespace, of_kind, page_size, percent_tmpfs, quote, records, stderr};

pub const BIN: &str = env!("CARGO_BIN_EXE_disk-alert");

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The one record of `kind` for `mount`, failing with all records if missing.
pub fn record_for<'r>(records: &'r [Value], kind: &str, mount: &Path) -> &'r Value {
    let mount = mount.to_str().unwrap();
    let found: Vec<_> = records
        .iter()
        .filter(|r| r["kind"] == kind && r["mount"] == mount)
        .collect();
    assert_eq!(found.len(), 1, "one {kind} for {mount} in {records:#?}");
    found[0]
}

/// disk-alert run inside a [`Namespace`].
pub trait DiskAlert {
    fn disk_alert(&self) -> Command;
}

impl DiskAlert for Namespace {
    fn disk_alert(&self) -> Command {
        self.command(BIN)
    }
}
