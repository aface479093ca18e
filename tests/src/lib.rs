//! Cross-tool tests live in `tests/`; this library holds what they share:
//! finding the workspace's tool binaries and the repository's files.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding the workspace binaries that `cargo test
/// --workspace` builds beside this crate's tests.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's own path");
    // target/debug/deps/TEST -> target/debug
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// A workspace binary, ready to run.
pub fn tool(name: &str) -> Command {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (scripts/test does), which builds every tool",
        path.display()
    );
    Command::new(path)
}

/// A file or directory of the repository, e.g. `repo("cron")`.
pub fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}
