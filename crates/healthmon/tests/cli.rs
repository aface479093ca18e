//! healthmon run as an operator runs it: exit statuses, thresholds from
//! flags and files, --alerts-only, the --interval loop and its signals,
//! and the Prometheus textfile judged by the real promtool.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;
use support::*;

#[test]
fn a_critical_alert_exits_1_and_fail_on_raises_the_bar() {
    // Some memory is always in use, so a 0.1% level is always crossed.
    let out = run(healthmon().args(["--once", "--format", "jsonl", "--top", "0", "--mem", "0.1"]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let recs = records(&out.stdout);
    let alerts = of_kind(&recs, "health.alert");
    assert_eq!(alerts.len(), 1, "{recs:#?}");
    let a = alerts[0];
    assert_eq!(
        (
            a["metric"].as_str(),
            a["level"].as_str(),
            a["severity"].as_str()
        ),
        (Some("mem"), Some("critical"), Some("high"))
    );
    assert_eq!(
        (a["threshold"].as_f64(), a["unit"].as_str()),
        (Some(0.1), Some("percent"))
    );
    let sample = of_kind(&recs, "health.sample")[0];
    assert_eq!(
        a["value"], sample["mem_percent"],
        "the alert quotes the sampled figure"
    );
    assert_eq!(sample["alerts"], 1);
    assert!(
        a["message"].as_str().unwrap().starts_with("memory is "),
        "{a}"
    );

    let out = run(healthmon().args([
        "--once",
        "--format",
        "jsonl",
        "--top",
        "0",
        "--mem",
        "0.1",
        "--fail-on",
        "critical",
    ]));
    assert_eq!(out.status.code(), Some(0));
    // A warning is medium: below the default --fail-on high.
    let out = run(healthmon().args([
        "--once", "--format", "jsonl", "--top", "0", "--mem", "0.1,99.9",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recs = records(&out.stdout);
    assert_eq!(of_kind(&recs, "health.alert")[0]["severity"], "medium");
}

#[test]
fn alerts_only_and_top_n() {
    let out = run(healthmon().args([
        "--once",
        "--format",
        "jsonl",
        "--alerts-only",
        "--mem",
        "0.1",
        "--fail-on",
        "critical",
    ]));
    let recs = records(&out.stdout);
    assert_eq!(recs.len(), 1, "{recs:#?}");
    assert_eq!(recs[0]["kind"], "health.alert");

    let out = run(healthmon().args(["--once", "--format", "jsonl", "--top", "2"]));
    let recs = records(&out.stdout);
    let procs = of_kind(&recs, "health.process");
    let by = |b: &str| {
        procs
            .iter()
            .filter(|p| p["by"] == b)
            .map(|p| p["rank"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!((by("cpu"), by("memory")), (vec![1, 2], vec![1, 2]));
    let mem: Vec<&&Value> = procs.iter().filter(|p| p["by"] == "memory").collect();
    assert!(mem[0]["rss_bytes"].as_u64() >= mem[1]["rss_bytes"].as_u64());
    for p in &procs {
        let pid = p["pid"].as_u64().unwrap();
        // The same name ps would show, from the kernel.
        if let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm")) {
            assert_eq!(p["process"].as_str(), Some(comm.trim()), "{p}");
        }
        assert!(p["user"].is_string(), "{p}");
    }
}

#[test]
fn thresholds_from_a_config_file_and_its_mistakes() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("healthmon.yaml");
    std::fs::write(
        &good,
        "for: 1\nthresholds:\n  mem: {warn: 0.1, crit: 99.9}\n  disk: {crit: 99.9}\n",
    )
    .unwrap();
    let out = run(healthmon()
        .args(["--once", "--format", "jsonl", "--top", "0", "--config"])
        .arg(&good));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recs = records(&out.stdout);
    let alerts = of_kind(&recs, "health.alert");
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(
        (alerts[0]["metric"].as_str(), alerts[0]["level"].as_str()),
        (Some("mem"), Some("warning"))
    );

    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        "{\n  \"thresholds\": {\n    \"cpu\": {\"crit\": 90, \"warm\": 80}\n  }\n}\n",
    )
    .unwrap();
    let out = run(healthmon().args(["--once", "--config"]).arg(&bad));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("healthmon: error: ")
            && err.contains("bad.json:3:")
            && err.contains("thresholds.cpu.warm"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    // Down a pipe, the same sentence as a record, so a notifier pages.
    let failed = secops_testkit::only_failure(&out.stdout);
    assert!(err.contains(failed["error"].as_str().unwrap()), "{failed}");

    let out = run(healthmon().args(["--once", "--cpu", "101"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("above 100"), "{}", stderr(&out));
    let out = run(healthmon().args(["--once", "--interval", "1s"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_interval_loop_counts_and_stops_cleanly_on_sigterm() {
    let out = run(healthmon().args([
        "--interval",
        "100ms",
        "--count",
        "3",
        "--format",
        "jsonl",
        "--top",
        "0",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let samples = records(&out.stdout)
        .into_iter()
        .filter(|r| r["kind"] == "health.sample")
        .count();
    assert_eq!(samples, 3);

    let mut child = healthmon()
        .args(["--interval", "100ms", "--format", "jsonl", "--top", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut samples = 0;
    while samples < 2 {
        let line = lines.next().expect("a record").unwrap();
        samples += usize::from(line.contains("\"kind\":\"health.sample\""));
    }
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    for line in lines {
        let line = line.unwrap();
        serde_json::from_str::<Value>(&line)
            .unwrap_or_else(|e| panic!("a whole record after SIGTERM: {e}: {line}"));
    }
    assert_eq!(
        child.wait().unwrap().code(),
        Some(0),
        "SIGTERM ends the loop with the usual status"
    );
}

/// `name{labels} value` lines of a textfile, by name and label text.
fn series(text: &str, name: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            let (n, labels) = key
                .split_once('{')
                .map_or((key, ""), |(n, l)| (n, l.trim_end_matches('}')));
            (n == name).then(|| (labels.to_string(), value.parse().unwrap()))
        })
        .collect()
}

#[test]
fn the_prometheus_textfile_passes_promtool_and_matches_the_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("healthmon.prom");
    let user_before = cpu0_user_seconds();
    let out = run(healthmon()
        .args([
            "--once",
            "--format",
            "jsonl",
            "--top",
            "2",
            // Levels nothing can exceed (alerts are strictly above), so the
            // machine's own load during the test cannot trip them.
            "--cpu",
            "100",
            "--disk",
            "100",
            "--proc-cpu",
            "400",
            "--prom-node",
            "--prom-file",
        ])
        .arg(&path));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let user_after = cpu0_user_seconds();

    // Lint-clean with every family: node_memory_* (camelCase, node_exporter's
    // own names) is left out even with --prom-node.
    assert_promtool_clean(&path);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("node_memory_"), "{text}");
    let one = |name: &str| {
        let s = series(&text, name);
        assert_eq!(s.len(), 1, "{name}: {s:?}");
        s[0].1
    };
    let (total, available) = (meminfo("MemTotal") as f64, meminfo("MemAvailable") as f64);
    assert!(between(
        one("healthmon_memory_used_ratio"),
        (total - available) / total,
        (total - available) / total,
        0.02
    ));
    let user0 = series(&text, "node_cpu_seconds_total")
        .into_iter()
        .find(|(l, _)| l == "cpu=\"0\",mode=\"user\"")
        .unwrap()
        .1;
    assert!(
        between(user0, user_before, user_after, 0.0),
        "{user0} not within {user_before}..{user_after}"
    );
    assert_eq!(
        series(&text, "node_cpu_seconds_total").len(),
        cpu_lines() * 8
    );
    let load = loadavg();
    assert!(between(one("node_load1"), load[0], load[0], 0.5));
    let root = series(&text, "node_filesystem_avail_bytes");
    assert!(
        root.iter().any(|(l, _)| l.contains("mountpoint=\"/\"")),
        "{root:?}"
    );
    // A true ratio, which the record's df-style whole percent rounds up.
    let disk = records(&out.stdout)
        .into_iter()
        .find(|r| r["kind"] == "health.disk" && r["mount"] == "/")
        .expect("a health.disk record for /");
    let used = series(&text, "healthmon_filesystem_used_ratio")
        .into_iter()
        .find(|(l, _)| l.contains("mountpoint=\"/\"") && l.starts_with("device="))
        .unwrap()
        .1;
    assert_eq!((used * 100.0).ceil(), disk["percent"].as_f64().unwrap());
    let levels = series(&text, "healthmon_alert_level");
    assert!(
        levels
            .iter()
            .any(|(l, v)| l == "metric=\"cpu\"" && *v == 0.0),
        "{levels:?}"
    );
    assert!(
        levels
            .iter()
            .any(|(l, _)| l.starts_with("metric=\"disk\",device=") && l.contains("mountpoint=")),
        "{levels:?}"
    );
    let top = series(&text, "healthmon_top_process_resident_memory_bytes");
    assert!(!top.is_empty());
    assert!(!text.contains("pid=\""), "no pid label: {text}");
    assert_eq!(
        series(&text, "healthmon_last_success_timestamp_seconds").len(),
        1
    );

    // By default, no node_* family at all: node_exporter's own collectors
    // have them, and it drops duplicates.
    let out = run(healthmon()
        .args(["--once", "--format", "jsonl", "--top", "0", "--prom-file"])
        .arg(&path));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_promtool_clean(&path);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("node_"), "{text}");
    assert!(!series(&text, "healthmon_memory_used_ratio").is_empty());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "written atomically, no temp files left: {leftovers:?}"
    );
}

fn cpu0_user_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let line = stat.lines().find(|l| l.starts_with("cpu0 ")).unwrap();
    let ticks: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    // USER_HZ is 100 on every Linux architecture healthmon targets.
    ticks / 100.0
}

#[test]
/// A --prom-file in a directory that does not exist is a usage error, exit
/// 2 as for -o in every tool (Error::cannot_write); the sample is still out.
fn a_prom_file_in_a_missing_directory_is_exit_2_with_records_still_written() {
    let out = run(healthmon().args([
        "--once",
        "--format",
        "jsonl",
        "--top",
        "0",
        "--prom-file",
        "/nonexistent-dir/h.prom",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent-dir/h.prom"),
        "{}",
        stderr(&out)
    );
    assert_eq!(of_kind(&records(&out.stdout), "health.sample").len(), 1);
}

#[test]
fn the_shipped_example_settings_are_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/healthmon.yaml");
    let out = run(healthmon().args(["--once", "--format", "jsonl", "--config", example]));
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    assert!(out.stdout.starts_with(b"{"), "records were written");
}
