//! Cross-tool tests live in `tests/`; this library holds what only they
//! need (the repository's files) and re-exports the harness they share
//! with every crate's tests (secops-testkit).

use std::path::{Path, PathBuf};

pub mod schedule_files;

pub use secops_testkit::{Message, Sent, bin_dir, notify, still_firing, tool};

/// A file or directory of the repository, e.g. `repo("cron")`.
pub fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// Every tool of the workspace, sorted: a crate with a `src/main.rs`.
pub fn tools() -> Vec<String> {
    let mut tools: Vec<String> = std::fs::read_dir(repo("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|dir| dir.join("src/main.rs").is_file())
        .map(|dir| dir.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    tools.sort();
    assert!(tools.len() >= 11, "{tools:?}");
    tools
}
