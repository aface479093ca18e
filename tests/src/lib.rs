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
