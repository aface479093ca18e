//! The programs a test runs: a sibling tool of the workspace, or a real
//! program of the system that a tool is compared with or driven by.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>/`, where cargo puts the workspace's binaries beside
/// the `deps/` directory the running test binary is in.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's own path");
    // target/debug/deps/TEST -> target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary is in target/<profile>/deps")
        .to_path_buf()
}

/// A sibling tool's binary (another crate's, which cargo builds for this
/// crate's tests only under `--workspace`). Found, never built here: a
/// nested `cargo build` would wait on the build lock of the cargo that
/// runs the tests, and build against another profile's flags.
pub fn tool_path(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: run the tests with `cargo test --workspace` (scripts/test does), which builds every tool",
        path.display()
    );
    path
}

/// A sibling tool, ready to run.
pub fn tool(name: &str) -> Command {
    Command::new(tool_path(name))
}

/// The path of `program` on `PATH`, failing the test unless it is there
/// and naming the Debian `package` to install: tests use real programs
/// (tar, zstd, nmap, df) rather than mocks, and a missing one must say how
/// to get it, not fail later with a confusing spawn error.
pub fn require(program: &str, package: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(program))
                .find(|path| path.is_file())
        })
        .unwrap_or_else(|| panic!("{program} is missing: apt-get install {package}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "run the tests with `cargo test --workspace`")]
    fn a_missing_sibling_says_how_to_build_it() {
        tool_path("no-such-secops-tool");
    }

    #[test]
    fn a_program_is_found_on_path() {
        assert!(require("sh", "dash").is_file());
    }
}
