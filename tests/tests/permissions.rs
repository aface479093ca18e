//! Every file the tools create gets its mode whatever the umask of the cron
//! job, unit or shell that ran them (docs/files.md): reports, records and
//! logs 0640, state 0600 in a 0700 directory, Prometheus textfiles 0644.
//! Each writer runs under `umask 000` (which made alert logs 0666) and
//! `umask 077` (which made textfiles 0600, unreadable by node_exporter).
//! A rewrite never widens a file's mode.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use secops_pipeline_tests::bin_dir;
use secops_testkit::{require, stderr};

const UMASKS: [&str; 2] = ["000", "077"];

/// `tool args...` run by `sh` under `umask`.
fn under_umask(umask: &str, tool: &str, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(bin_dir().join(tool))
        .args(args)
        .output()
        .unwrap()
}

fn ran(out: &Output, codes: &[i32], what: &str) {
    assert!(
        out.status.code().is_some_and(|c| codes.contains(&c)),
        "{what}: {}\n{}",
        out.status,
        stderr(out)
    );
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn assert_mode(path: &Path, want: u32, umask: &str) {
    let got = mode(path);
    assert_eq!(
        got,
        want,
        "{} is {got:04o} under umask {umask}, not {want:04o}",
        path.display()
    );
}

/// `id FLAG [USER]`: a user's or this process's ids.
fn id(args: &[&str]) -> u32 {
    let out = Command::new("id").args(args).output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn is_root() -> bool {
    id(&["-u"]) == 0
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A few records for secops-report to read.
fn records(dir: &Path) -> PathBuf {
    let path = dir.join("in.jsonl");
    std::fs::write(
        &path,
        "{\"ts\":\"2026-01-01T00:00:00Z\",\"host\":\"h\",\"tool\":\"t\",\"kind\":\"k\",\"severity\":\"info\",\"message\":\"m\",\"alert\":\"none\"}\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path
}

#[test]
fn reports_written_with_o_are_0640_whatever_the_umask() {
    for umask in UMASKS {
        let dir = tempfile::tempdir().unwrap();
        let input = records(dir.path());
        for name in ["report.json", "report.csv", "report.html", "report.md"] {
            let report = dir.path().join(name);
            let out = under_umask(umask, "secops-report", &["-o", s(&report), s(&input)]);
            ran(&out, &[0], "secops-report -o");
            assert_mode(&report, 0o640, umask);
        }
        // Through another tool's records writer: the same path for all.
        let report = dir.path().join("disk.json");
        let out = under_umask(
            umask,
            "disk-alert",
            &["--mount", "/", "--no-log", "--no-state", "-o", s(&report)],
        );
        ran(&out, &[0, 1], "disk-alert -o");
        assert_mode(&report, 0o640, umask);
    }
}

#[test]
fn a_rewritten_report_keeps_its_mode_and_group() {
    let dir = tempfile::tempdir().unwrap();
    let input = records(dir.path());
    let report = dir.path().join("report.json");
    // Narrowed by the operator, widened by the operator (published), and
    // set-user-ID (never copied onto the writer's file).
    for (before, after) in [(0o600, 0o600), (0o644, 0o644), (0o4750, 0o750)] {
        std::fs::write(&report, "old").unwrap();
        std::fs::set_permissions(&report, std::fs::Permissions::from_mode(before)).unwrap();
        let out = under_umask("000", "secops-report", &["-o", s(&report), s(&input)]);
        ran(&out, &[0], "secops-report -o");
        assert_mode(&report, after, "000");
        assert_ne!(std::fs::read_to_string(&report).unwrap(), "old");
    }
    // Its group too, where the writer may give it (root may).
    if is_root() {
        std::os::unix::fs::chown(&report, None, Some(4242)).unwrap();
        std::fs::set_permissions(&report, std::fs::Permissions::from_mode(0o640)).unwrap();
        let out = under_umask("000", "secops-report", &["-o", s(&report), s(&input)]);
        ran(&out, &[0], "secops-report -o");
        let meta = std::fs::metadata(&report).unwrap();
        assert_eq!((meta.gid(), meta.mode() & 0o7777), (4242, 0o640));
    }
}

#[test]
fn a_report_rewritten_by_who_cannot_give_its_group_loses_the_groups_access() {
    // nobody rewrites its own report of group root, which nobody may not
    // give: the group that could read the old file must not read the new
    // one as nogroup instead.
    if !is_root() {
        eprintln!("skipped: needs root to run as nobody");
        return;
    }
    require("setpriv", "util-linux");
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let input = records(dir.path());
    let report = dir.path().join("report.json");
    std::fs::write(&report, "old").unwrap();
    let (nobody, nogroup) = (id(&["-u", "nobody"]), id(&["-g", "nobody"]));
    assert_ne!(nogroup, 0);
    std::os::unix::fs::chown(&report, Some(nobody), Some(0)).unwrap();
    std::fs::set_permissions(&report, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = Command::new("setpriv")
        .args([
            "--reuid",
            "nobody",
            "--regid",
            &nogroup.to_string(),
            "--clear-groups",
        ])
        .arg(bin_dir().join("secops-report"))
        .args(["-o", s(&report), s(&input)])
        .output()
        .unwrap();
    ran(&out, &[0], "secops-report -o as nobody");
    let meta = std::fs::metadata(&report).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (nobody, nogroup),
        "written by nobody"
    );
    assert_eq!(
        meta.mode() & 0o7777,
        0o600,
        "the group's read is taken away"
    );
}

#[test]
fn disk_alerts_alert_log_is_0640_whatever_the_umask_and_an_old_one_keeps_its_mode() {
    for umask in UMASKS {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("disk_alert.log");
        // --warn 1: the root filesystem is above 1%, so a line is written.
        let args = [
            "--mount",
            "/",
            "--warn",
            "1",
            "--crit",
            "2",
            "--no-state",
            "--log",
            s(&log),
        ];
        ran(
            &under_umask(umask, "disk-alert", &args),
            &[1],
            "disk-alert --log",
        );
        assert!(
            std::fs::read_to_string(&log)
                .unwrap()
                .contains(": Disk at ")
        );
        assert_mode(&log, 0o640, umask);
        // logrotate's `create 0644`, or an operator's chmod, stays.
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o600)).unwrap();
        ran(
            &under_umask(umask, "disk-alert", &args),
            &[1],
            "disk-alert --log",
        );
        assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 2);
        assert_mode(&log, 0o600, umask);
    }
}

#[test]
fn prometheus_textfiles_are_0644_whatever_the_umask() {
    for umask in UMASKS {
        let dir = tempfile::tempdir().unwrap();
        let disk = dir.path().join("disk.prom");
        let out = under_umask(
            umask,
            "disk-alert",
            &[
                "--mount",
                "/",
                "--no-log",
                "--no-state",
                "--format",
                "jsonl",
                "--prom-file",
                s(&disk),
            ],
        );
        ran(&out, &[0, 1], "disk-alert --prom-file");
        assert_mode(&disk, 0o644, umask);
        let health = dir.path().join("health.prom");
        let out = under_umask(
            umask,
            "healthmon",
            &["--no-state", "--format", "jsonl", "--prom-file", s(&health)],
        );
        ran(&out, &[0, 1], "healthmon --prom-file");
        assert_mode(&health, 0o644, umask);
    }
}

#[test]
fn state_is_0600_in_a_0700_directory_whatever_the_umask() {
    for umask in UMASKS {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let out = under_umask(
            umask,
            "disk-alert",
            &[
                "--mount",
                "/",
                "--no-log",
                "--format",
                "jsonl",
                "--state-dir",
                s(&state),
            ],
        );
        ran(&out, &[0, 1], "disk-alert --state-dir");
        assert_mode(&state, 0o700, umask);
        let file = state.join("disk-alert.last-run.json");
        assert_mode(&file, 0o600, umask);
    }
}

#[test]
fn anomalizers_model_and_summary_are_0640_whatever_the_umask() {
    for umask in UMASKS {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        std::fs::write(
            &log,
            "Jan  1 00:00:01 h app[1]: started worker 1\nJan  1 00:00:02 h app[1]: started worker 2\n",
        )
        .unwrap();
        let model = dir.path().join("model.json");
        let out = under_umask(
            umask,
            "anomalizer",
            &["learn", "--log", s(&log), "--model", s(&model)],
        );
        ran(&out, &[0], "anomalizer learn");
        assert_mode(&model, 0o640, umask);
        let summary = dir.path().join("insights.md");
        let out = under_umask(
            umask,
            "anomalizer",
            &[
                "--log",
                s(&log),
                "--format",
                "jsonl",
                "--no-state",
                "--summary",
                s(&summary),
            ],
        );
        ran(&out, &[0, 1], "anomalizer --summary");
        assert_mode(&summary, 0o640, umask);
    }
}

#[test]
fn secops_central_log_is_0640_in_a_0750_directory_whatever_the_umask() {
    for umask in UMASKS {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("log/secops");
        let log = logs.join("records.jsonl");
        let settings = dir.path().join("settings.yaml");
        std::fs::write(
            &settings,
            format!(
                "log:\n  path: {}\njobs:\n  - name: disk\n    run: [{}, --mount, /, --no-log, --no-state]\n    every: 1m\n",
                log.display(),
                bin_dir().join("disk-alert").display()
            ),
        )
        .unwrap();
        let state = dir.path().join("state");
        let out = under_umask(
            umask,
            "secops",
            &[
                "--settings",
                s(&settings),
                "job",
                "disk",
                "--state-dir",
                s(&state),
            ],
        );
        ran(&out, &[0, 1], "secops job");
        assert!(
            std::fs::read_to_string(&log)
                .unwrap()
                .contains("\"tool\":\"disk-alert\"")
        );
        assert_mode(&log, 0o640, umask);
        // Directories it makes are never wider than 0750.
        for d in [dir.path().join("log"), logs] {
            let got = mode(&d);
            assert_eq!(
                got & !0o750,
                0,
                "{} is {got:04o} under umask {umask}",
                d.display()
            );
        }
    }
}
