//! Levels, severities, exit statuses, inode checks, the config file and
//! recoveries (across runs through the state file, and within an
//! --interval loop), on tmpfs mounts filled to known levels.

mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

fn run_jsonl(ns: &Namespace, mount: &Path, extra: &[&str]) -> (Option<i32>, Vec<Value>) {
    let out = ns
        .disk_alert()
        .arg("--mount")
        .arg(mount)
        .args(["--format", "jsonl"])
        .args(extra)
        .output()
        .unwrap();
    (out.status.code(), records(&out.stdout))
}

#[test]
fn levels_map_to_severities_and_exit_statuses() {
    let ns = Namespace::new();
    let mount = percent_tmpfs(&ns, "disk");
    let cases = [
        (80, "ok", "info", 0),
        (85, "warn", "medium", 0),
        (95, "crit", "high", 1),
        (100, "full", "critical", 1),
    ];
    for (percent, level, severity, exit) in cases {
        ns.fill_percent(&mount, percent);
        let (code, recs) = run_jsonl(&ns, &mount, &["--no-state"]);
        assert_eq!(code, Some(exit), "{percent}%: {recs:?}");
        let usage = record_for(&recs, "disk.usage", &mount);
        assert_eq!(
            (&usage["level"], &usage["severity"], &usage["percent"]),
            (
                &Value::from(level),
                &Value::from(severity),
                &Value::from(percent)
            )
        );
        assert_eq!(
            (usage["warn"].as_u64(), usage["crit"].as_u64()),
            (Some(80), Some(90))
        );
        let alerts = of_kind(&recs, "disk.alert");
        if level == "ok" {
            assert!(alerts.is_empty(), "{alerts:?}");
        } else {
            assert_eq!(alerts.len(), 1);
            assert_eq!(alerts[0]["severity"], severity);
            assert_eq!(alerts[0]["measure"], "space");
            assert_eq!(alerts[0]["level"], level);
        }
    }
    // The full disk's message says so.
    let (_, recs) = run_jsonl(&ns, &mount, &["--no-state"]);
    let alert = record_for(&recs, "disk.alert", &mount);
    assert!(
        alert["message"].as_str().unwrap().contains("is full"),
        "{alert}"
    );

    // --fail-on moves the exit threshold; --warn/--crit the levels.
    ns.fill_percent(&mount, 85);
    assert_eq!(
        run_jsonl(&ns, &mount, &["--no-state", "--fail-on", "medium"]).0,
        Some(1)
    );
    let (code, recs) = run_jsonl(&ns, &mount, &["--no-state", "--warn", "60", "--crit", "70"]);
    assert_eq!(code, Some(1));
    assert_eq!(record_for(&recs, "disk.alert", &mount)["level"], "crit");
    let out = ns
        .disk_alert()
        .args(["--warn", "90", "--crit", "80"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--crit 80 is below --warn 90"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn inodes_are_checked_like_df_i_when_asked() {
    let ns = Namespace::new();
    let mount = ns.tmpfs("few-inodes", "size=1m,nr_inodes=10");
    let files = |n: usize| {
        ns.sh(&format!(
            "cd {} && rm -f f* && for i in $(seq {n}); do : > f$i; done",
            quote(&mount)
        ));
    };
    files(8); // the root directory and 8 files: 9 of 10
    let (code, recs) = run_jsonl(&ns, &mount, &["--no-state"]);
    assert_eq!(code, Some(0));
    assert!(
        of_kind(&recs, "disk.alert").is_empty(),
        "inodes are not checked by default"
    );
    let usage = record_for(&recs, "disk.usage", &mount);
    let df = ns.df(&["--output=ipcent", mount.to_str().unwrap()]);
    assert_eq!(format!("{}%", usage["inodes_percent"]), df[0][0]);
    assert_eq!(usage["inodes_level"], Value::Null);

    let (code, recs) = run_jsonl(&ns, &mount, &["--no-state", "--inodes"]);
    assert_eq!(code, Some(0));
    let alert = record_for(&recs, "disk.alert", &mount);
    assert_eq!(
        (&alert["measure"], &alert["level"]),
        (&Value::from("inodes"), &Value::from("warn"))
    );
    assert_eq!(alert["inodes_percent"], 90);
    assert_eq!(
        record_for(&recs, "disk.usage", &mount)["inodes_level"],
        "warn"
    );

    files(9);
    let (code, recs) = run_jsonl(&ns, &mount, &["--no-state", "--inodes"]);
    assert_eq!(code, Some(1));
    let alert = record_for(&recs, "disk.alert", &mount);
    assert_eq!(
        (&alert["level"], &alert["severity"]),
        (&Value::from("full"), &Value::from("critical"))
    );
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .contains("no free inodes"),
        "{alert}"
    );
}

#[test]
fn the_config_file_sets_levels_per_mount_and_lists_mounts() {
    let ns = Namespace::new();
    let (a, b) = (percent_tmpfs(&ns, "a"), percent_tmpfs(&ns, "b"));
    ns.fill_percent(&a, 60);
    ns.fill_percent(&b, 60);
    let config = ns.dir().join("disk-alert.yaml");
    std::fs::write(
        &config,
        format!(
            "warn: 70\nmounts:\n  {}: {{warn: 50, crit: 55}}\n  {}: {{}}\n",
            a.display(),
            b.display()
        ),
    )
    .unwrap();
    let out = ns
        .disk_alert()
        .arg("--config")
        .arg(&config)
        .args(["--format", "jsonl", "--no-state"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let recs = records(&out.stdout);
    let alert = record_for(&recs, "disk.alert", &a);
    assert_eq!(
        (alert["warn"].as_u64(), alert["crit"].as_u64()),
        (Some(50), Some(55))
    );
    assert_eq!(alert["level"], "crit");
    let usage_b = record_for(&recs, "disk.usage", &b);
    assert_eq!(
        (usage_b["warn"].as_u64(), usage_b["level"].as_str()),
        (Some(70), Some("ok"))
    );

    // A typo is an error naming file, line and field, exit 2.
    std::fs::write(
        &config,
        format!("warn: 70\nmounts:\n  {}:\n    wran: 50\n", a.display()),
    )
    .unwrap();
    let out = ns
        .disk_alert()
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let expected = format!("disk-alert: error: {}:4:", config.display());
    assert!(err.starts_with(&expected) && err.contains("wran"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");

    std::fs::write(&config, "{\"warn\": 80,\n \"crit\": 120}").unwrap();
    let json = ns.dir().join("disk-alert.json");
    std::fs::rename(&config, &json).unwrap();
    let out = ns.disk_alert().arg("--config").arg(&json).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(":2:") && err.contains("crit: 120 is not a percentage"),
        "{err}"
    );
}

#[test]
fn a_recovery_is_reported_once_across_cron_runs() {
    let ns = Namespace::new();
    let mount = percent_tmpfs(&ns, "disk");
    let state = ns.dir().join("state");
    let state_arg = ["--state-dir", state.to_str().unwrap()];

    ns.fill_percent(&mount, 85);
    let (_, first) = run_jsonl(&ns, &mount, &state_arg);
    let since = record_for(&first, "disk.alert", &mount)["since"].clone();
    assert!(since.is_string());
    std::thread::sleep(Duration::from_millis(1100));
    let (_, second) = run_jsonl(&ns, &mount, &state_arg);
    assert_eq!(
        record_for(&second, "disk.alert", &mount)["since"],
        since,
        "the alert began once"
    );

    let file = state.join("disk-alert.last-run.json");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&state).unwrap().permissions().mode() & 0o777,
        0o700
    );

    ns.fill_percent(&mount, 50);
    let (code, third) = run_jsonl(&ns, &mount, &state_arg);
    assert_eq!(code, Some(0));
    let recovered = record_for(&third, "disk.recovered", &mount);
    assert_eq!(recovered["since"], since);
    assert_eq!(
        (&recovered["was"], &recovered["level"]),
        (&Value::from("warn"), &Value::from("ok"))
    );
    assert_eq!(recovered["severity"], "info");
    assert_eq!(recovered["percent"], 50);
    // The contract: the recovery resolves the alert the first run raised.
    let alert = record_for(&first, "disk.alert", &mount);
    assert_eq!(
        (&alert["alert"], &recovered["alert"]),
        (&Value::from("firing"), &Value::from("resolved"))
    );
    assert_eq!(recovered["alert_id"], alert["alert_id"]);
    assert_eq!(record_for(&first, "disk.usage", &mount)["alert"], "none");

    let (_, fourth) = run_jsonl(&ns, &mount, &state_arg);
    assert!(of_kind(&fourth, "disk.recovered").is_empty(), "{fourth:?}");
    // Without state, nothing is remembered.
    ns.fill_percent(&mount, 85);
    run_jsonl(&ns, &mount, &["--no-state"]);
    ns.fill_percent(&mount, 50);
    assert!(of_kind(&run_jsonl(&ns, &mount, &["--no-state"]).1, "disk.recovered").is_empty());
}

#[test]
fn an_interval_loop_reports_the_recovery_from_memory() {
    let ns = Namespace::new();
    let mount = percent_tmpfs(&ns, "disk");
    ns.fill_percent(&mount, 95);
    let mut child = ns
        .disk_alert()
        .arg("--mount")
        .arg(&mount)
        .args([
            "--format",
            "jsonl",
            "--no-state",
            "--interval",
            "200ms",
            "--count",
            "50",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut kinds = Vec::new();
    for line in lines {
        assert!(Instant::now() < deadline, "no recovery: {kinds:?}");
        let rec: Value = serde_json::from_str(&line.unwrap()).unwrap();
        let kind = rec["kind"].as_str().unwrap().to_string();
        if kind == "disk.alert" && !kinds.contains(&kind) {
            ns.fill_percent(&mount, 10);
        }
        kinds.push(kind.clone());
        if kind == "disk.recovered" {
            assert_eq!(rec["was"], "crit");
            break;
        }
    }
    // SIGTERM ends the loop cleanly after the pass.
    Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "a critical alert was written");
    assert_eq!(kinds.iter().filter(|k| *k == "disk.recovered").count(), 1);
}

#[test]
fn output_files_follow_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("disk.json");
    let status = Command::new(BIN)
        .args(["--all", "--no-state", "-o"])
        .arg(&json)
        .status()
        .unwrap();
    assert!(status.code().is_some_and(|c| c < 2));
    let parsed: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(
        parsed
            .iter()
            .any(|r| r["kind"] == "disk.usage" && r["mount"] == "/")
    );
    assert!(parsed.iter().all(|r| r["tool"] == "disk-alert"));
}
