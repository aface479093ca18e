//! `--prom-file` judged by the real promtool, with values that agree with
//! the records of the same run.

mod support;

use std::process::{Command, Stdio};

use support::*;

fn promtool_check(path: &std::path::Path) -> std::process::Output {
    let file = std::fs::File::open(path).unwrap();
    Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::from(file))
        .output()
        .unwrap_or_else(|err| panic!("promtool is missing ({err}): apt-get install prometheus"))
}

/// The value of the sample of `family` whose labels include `mountpoint`.
fn sample(text: &str, family: &str, mountpoint: &str, extra: &str) -> f64 {
    let label = format!("mountpoint=\"{mountpoint}\"");
    text.lines()
        .find(|l| l.starts_with(&format!("{family}{{")) && l.contains(&label) && l.contains(extra))
        .unwrap_or_else(|| panic!("no {family} for {mountpoint} in\n{text}"))
        .rsplit_once(' ')
        .unwrap()
        .1
        .parse()
        .unwrap()
}

#[test]
fn metrics_pass_promtool_and_match_the_records() {
    let ns = Namespace::new();
    let mount = percent_tmpfs(&ns, "disk");
    ns.fill_percent(&mount, 85);
    let prom = ns.dir().join("disk.prom");
    let out = ns
        .disk_alert()
        .args([
            "--all",
            "--inodes",
            "--format",
            "jsonl",
            "--no-state",
            "--prom-file",
        ])
        .arg(&prom)
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c < 2), "{}", stderr(&out));

    let check = promtool_check(&prom);
    assert!(
        check.status.success(),
        "promtool check metrics: {}{}",
        stdout(&check),
        stderr(&check)
    );

    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(
        !text.contains("node_"),
        "node_* only with --prom-node:\n{text}"
    );
    let recs = records(&out.stdout);
    let m = mount.to_str().unwrap();
    let usage = record_for(&recs, "disk.usage", &mount);
    let field = |name: &str| usage[name].as_f64().unwrap();
    assert_eq!(
        sample(&text, "disk_alert_size_bytes", m, ""),
        field("size_bytes")
    );
    assert_eq!(
        sample(&text, "disk_alert_avail_bytes", m, ""),
        field("avail_bytes")
    );
    // A true ratio, which df's whole percentage rounds up.
    let ratio = sample(&text, "disk_alert_used_ratio", m, "");
    assert_eq!(
        ratio,
        field("used_bytes") / (field("used_bytes") + field("avail_bytes"))
    );
    assert_eq!((ratio * 100.0).ceil(), field("percent"));
    let inodes = sample(&text, "disk_alert_inodes_used_ratio", m, "");
    assert_eq!(inodes, field("inodes_used") / field("inodes_total"));
    assert_eq!(
        sample(&text, "disk_alert_level", m, "measure=\"space\""),
        1.0
    );
    assert_eq!(
        sample(&text, "disk_alert_level", m, "measure=\"inodes\""),
        0.0
    );
    assert_eq!(
        sample(&text, "disk_alert_warn_ratio", m, "measure=\"space\""),
        0.8
    );
    assert_eq!(sample(&text, "disk_alert_check_failed", m, ""), 0.0);
    // The run's firing alerts, counted by kind and severity.
    let firing = recs.iter().filter(|r| r["alert"] == "firing").count();
    assert!(firing > 0);
    let counted: f64 = text
        .lines()
        .filter(|l| l.starts_with("disk_alert_findings{"))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
        .sum();
    assert_eq!(counted, firing as f64, "{text}");
    let stamp: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("disk_alert_last_success_timestamp_seconds "))
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - stamp).abs() < 120.0, "{stamp} is not now");
    let mode = std::fs::metadata(&prom).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o644
    );

    // With --prom-node, node_exporter's filesystem families as well, for
    // every mount of the run, and still lint-clean.
    let out = ns
        .disk_alert()
        .args([
            "--all",
            "--format",
            "jsonl",
            "--no-state",
            "--prom-node",
            "--prom-file",
        ])
        .arg(&prom)
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c < 2), "{}", stderr(&out));
    let check = promtool_check(&prom);
    assert!(
        check.status.success(),
        "{}{}",
        stdout(&check),
        stderr(&check)
    );
    let text = std::fs::read_to_string(&prom).unwrap();
    let recs = records(&out.stdout);
    let usage = record_for(&recs, "disk.usage", &mount);
    for (family, field) in [
        ("node_filesystem_size_bytes", "size_bytes"),
        ("node_filesystem_avail_bytes", "avail_bytes"),
        ("node_filesystem_free_bytes", "free_bytes"),
        ("node_filesystem_files", "inodes_total"),
        ("node_filesystem_files_free", "inodes_free"),
    ] {
        assert_eq!(
            sample(&text, family, m, ""),
            usage[field].as_f64().unwrap(),
            "{family}"
        );
    }
    assert_eq!(sample(&text, "node_filesystem_device_error", m, ""), 0.0);
    let mounts = of_kind(&recs, "disk.usage").len();
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("node_filesystem_avail_bytes{"))
            .count(),
        mounts
    );
}

#[test]
fn an_unwritable_metrics_file_exits_3_after_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["--format", "jsonl", "--no-state", "--prom-file"])
        .arg(dir.path().join("no/such/dir/disk.prom"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("no/such/dir/disk.prom"),
        "{}",
        stderr(&out)
    );
    assert_eq!(of_kind(&records(&out.stdout), "disk.usage").len(), 1);
}
