//! Cross-tool tests live in `tests/`; this library holds what only they
//! need (the repository's files) and re-exports the harness they share
//! with every crate's tests (secops-testkit).

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod examples;
pub mod schedule_files;

pub use secops_testkit::{
    Message, Seen, Sent, Service, bin_dir, certs, notify, still_firing, tool,
};

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

/// A Grafana panel's or variable's PromQL with Grafana's variables replaced
/// by what Prometheus accepts: the whole fleet for `$instance`.
pub fn grafana_promql(expr: &str) -> String {
    expr.replace("$__rate_interval", "5m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h")
        .replace("${instance}", ".*")
        .replace("$instance", ".*")
}

/// (panel title, PromQL) of every target of the repository's Grafana
/// dashboard, variables replaced ([`grafana_promql`]).
pub fn dashboard_targets() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo("prometheus/grafana/secops.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut targets = Vec::new();
    for panel in dash["panels"].as_array().into_iter().flatten() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            targets.push((
                panel["title"].as_str().unwrap_or_default().to_string(),
                grafana_promql(target["expr"].as_str().unwrap_or_default()),
            ));
        }
    }
    targets
}

/// The lines of a secops central log and its rotated files (`.N`, or
/// `.N.gz` gunzipped), oldest first, failing on a file that ends in the
/// middle of a line. A kill -9 in the middle of shifting the rotated files
/// up can leave a gap in their numbers, which the next rotations carry up:
/// the files past it are still older, so they count too.
pub fn central_lines(log: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = (1..=1000)
        .map(|n| PathBuf::from(format!("{}.{n}", log.display())))
        .map(|p| match p.exists() {
            true => p,
            false => PathBuf::from(format!("{}.gz", p.display())),
        })
        .filter(|p| p.exists())
        .collect();
    files.reverse();
    files.push(log.to_path_buf());
    let mut lines = Vec::new();
    for file in files {
        let text = if file.extension().is_some_and(|e| e == "gz") {
            let out = Command::new("gzip").arg("-dc").arg(&file).output().unwrap();
            assert!(out.status.success(), "{}: not whole gzip", file.display());
            String::from_utf8(out.stdout).unwrap()
        } else {
            std::fs::read_to_string(&file).unwrap_or_default()
        };
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{}: torn",
            file.display()
        );
        lines.extend(text.lines().map(String::from));
    }
    lines
}
