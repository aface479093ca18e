//! disk-alert as a drop-in for the old cron script, with the script itself
//! as the oracle: same log lines at the same levels, same silence on
//! stdout, dates exactly as date(1) prints them.

mod support;

use std::path::Path;

use support::*;

/// The script from the issue, verbatim but for the mount and log it checks
/// (so the test does not depend on how full this machine's / is).
const SCRIPT: &str = r#"#!/bin/bash
THRESHOLD=80
USAGE=$(df / | tail -1 | awk '{print $5}' | sed 's/%//')
if [ "$USAGE" -gt "$THRESHOLD" ]; then
  echo "$(date): Disk at ${USAGE}% used" >> /var/log/disk_alert.log
fi
"#;

fn script_for(ns: &Namespace, mount: &Path, log: &Path) -> String {
    let text = SCRIPT
        .replace("df /", &format!("df {}", quote(mount)))
        .replace("/var/log/disk_alert.log", &quote(log));
    let path = ns.dir().join("disk_alert.sh");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Log text with each line's date (everything before ": Disk") dropped.
fn undated(log: &str) -> Vec<String> {
    log.lines()
        .map(|l| {
            l.split_once(": Disk")
                .map(|(_, rest)| rest.to_string())
                .unwrap()
        })
        .collect()
}

#[test]
fn no_arguments_behaves_as_the_unchanged_script() {
    let ns = Namespace::new();
    // A private /var/log, so the default log path is exercised without
    // touching the machine's.
    ns.sh("mount -t tmpfs varlog /var/log");
    let log = Path::new("/var/log/disk_alert.log");
    let script = ns.dir().join("original.sh");
    std::fs::write(&script, SCRIPT).unwrap();
    ns.sh(&format!("bash {}", quote(&script)));
    let theirs = ns.sh(&format!("cat {} 2>/dev/null || true", log.display()));
    ns.sh(&format!("rm -f {}", log.display()));

    let out = ns.disk_alert().output().unwrap();
    let ours = ns.sh(&format!("cat {} 2>/dev/null || true", log.display()));
    assert_eq!(stdout(&out), "", "the drop-in prints nothing on stdout");
    assert_eq!(stderr(&out), "");
    assert_eq!(undated(&ours), undated(&theirs));
    let root_percent: u8 = ns.df(&["--output=pcent", "/"])[0][0]
        .trim_end_matches('%')
        .parse()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(if root_percent > 90 { 1 } else { 0 }),
        "{}",
        stderr(&out)
    );
}

#[test]
fn alerts_at_the_same_levels_as_the_script_strictly_above_80() {
    let ns = Namespace::new();
    let mount = percent_tmpfs(&ns, "disk");
    let (script_log, our_log) = (ns.dir().join("script.log"), ns.dir().join("ours.log"));
    let script = script_for(&ns, &mount, &script_log);
    for percent in [0, 50, 79, 80, 81, 90, 91, 100] {
        ns.fill_percent(&mount, percent);
        ns.sh(&format!("bash {script}"));
        let out = ns
            .disk_alert()
            .arg("--mount")
            .arg(&mount)
            .arg("--log")
            .arg(&our_log)
            .output()
            .unwrap();
        assert_eq!(stdout(&out), "");
        // Exit 1 from the critical level (above 90) up, with --fail-on high.
        assert_eq!(
            out.status.code(),
            Some(if percent > 90 { 1 } else { 0 }),
            "{percent}%: {}",
            stderr(&out)
        );
        assert_eq!(
            undated(&read(&our_log)),
            undated(&read(&script_log)),
            "after filling to {percent}%"
        );
    }
    assert_eq!(
        undated(&read(&our_log)),
        [
            " at 81% used",
            " at 90% used",
            " at 91% used",
            " at 100% used"
        ]
    );

    // --threshold moves the line, still strictly above.
    std::fs::remove_file(&our_log).unwrap();
    ns.fill_percent(&mount, 90);
    for threshold in ["90", "89"] {
        ns.disk_alert()
            .arg("--mount")
            .arg(&mount)
            .args(["--threshold", threshold, "--log"])
            .arg(&our_log)
            .status()
            .unwrap();
    }
    assert_eq!(undated(&read(&our_log)), [" at 90% used"]);
}

#[test]
fn the_date_is_what_date_prints_in_the_c_locale() {
    let ns = Namespace::new();
    let mount = percent_tmpfs(&ns, "disk");
    ns.fill_percent(&mount, 85);
    for tz in ["America/New_York", "Asia/Kolkata", "UTC"] {
        let log = ns.dir().join(format!("{}.log", tz.replace('/', "_")));
        let date = || {
            let out = ns
                .command("date")
                .env("TZ", tz)
                .env("LC_ALL", "C")
                .output()
                .unwrap();
            stdout(&out).trim_end().to_string()
        };
        let before = date();
        let out = ns
            .disk_alert()
            .env("TZ", tz)
            .arg("--mount")
            .arg(&mount)
            .arg("--log")
            .arg(&log)
            .output()
            .unwrap();
        let after = date();
        assert!(out.status.success(), "{}", stderr(&out));
        let line = read(&log);
        let (ours, rest) = line.split_once(": Disk").unwrap();
        assert!(
            ours == before || ours == after,
            "{tz}: {ours:?} is not date's {before:?} / {after:?}"
        );
        assert_eq!(rest, " at 85% used\n");
    }
}

#[test]
fn the_default_log_and_several_mounts() {
    let ns = Namespace::new();
    ns.sh("mount -t tmpfs varlog /var/log");
    let (a, b) = (percent_tmpfs(&ns, "a"), percent_tmpfs(&ns, "b"));
    ns.fill_percent(&a, 60);
    ns.fill_percent(&b, 40);
    let out = ns
        .disk_alert()
        .arg("--mount")
        .arg(&a)
        .args(["--threshold", "50"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "");
    let log = ns.sh("cat /var/log/disk_alert.log");
    assert_eq!(undated(&log), [" at 60% used"]);

    // With several mounts each line names its mount.
    ns.sh("rm /var/log/disk_alert.log");
    ns.disk_alert()
        .arg("--mount")
        .arg(&a)
        .arg("--mount")
        .arg(&b)
        .args(["--threshold", "30"])
        .status()
        .unwrap();
    let log = ns.sh("cat /var/log/disk_alert.log");
    assert_eq!(
        undated(&log),
        [
            format!(" at 60% used on {}", a.display()),
            format!(" at 40% used on {}", b.display())
        ]
    );
}

#[test]
fn a_log_that_cannot_be_opened_exits_3_and_records_still_flow() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("missing-dir/disk_alert.log");
    let out = std::process::Command::new(BIN)
        .args(["--threshold", "0", "--log"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert!(
        err.starts_with("disk-alert: error: cannot append to the alert log")
            && err.contains(bad.to_str().unwrap()),
        "{err}"
    );

    let out = std::process::Command::new(BIN)
        .args([
            "--threshold",
            "0",
            "--format",
            "jsonl",
            "--no-state",
            "--log",
        ])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let recs = records(&out.stdout);
    assert_eq!(of_kind(&recs, "disk.alert").len(), 1, "{recs:?}");
}

#[test]
fn records_mode_leaves_the_default_log_alone() {
    let ns = Namespace::new();
    ns.sh("mount -t tmpfs varlog /var/log");
    let out = ns
        .disk_alert()
        .args(["--threshold", "0", "--format", "jsonl", "--no-state"])
        .output()
        .unwrap();
    let recs = records(&out.stdout);
    let alerts = of_kind(&recs, "disk.alert");
    assert_eq!(alerts.len(), 1, "{recs:?}");
    // Every level is an alert at threshold 0; the exit status follows how
    // full this machine's / is (1 from `crit` up, as --fail-on high says).
    let failing = matches!(alerts[0]["severity"].as_str(), Some("high" | "critical"));
    assert_eq!(
        out.status.code(),
        Some(i32::from(failing)),
        "{}",
        stderr(&out)
    );
    assert_eq!(ns.sh("ls -A /var/log"), "");
}
