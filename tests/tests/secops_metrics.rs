//! `secops run` with `metrics: { path: FILE }`, as an operator runs it: a
//! job that succeeds and one that fails, every second, real tools; the
//! textfile judged by the real promtool and its figures against what the
//! jobs did and what `secops status` says. A metrics file that cannot be
//! written alerts once and stops nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use secops_pipeline_tests::{bin_dir, tool};
use secops_testkit::{
    PATIENCE, assert_promtool_accepts, assert_promtool_clean, unix_now, wait_until,
};
use serde_json::Value;

fn bin(name: &str) -> String {
    bin_dir().join(name).display().to_string()
}

/// One firing alert (high) and one observation, for secops-report to pass
/// through: the good job's run has exactly one finding.
const RECORDS: &str = concat!(
    r#"{"ts":"2026-12-07T00:00:00Z","host":"h","tool":"probe","kind":"probe.down","severity":"high","message":"the probe is down","alert":"firing","alert_id":"probe:1"}"#,
    "\n",
    r#"{"ts":"2026-12-07T00:00:00Z","host":"h","tool":"probe","kind":"probe.sample","severity":"info","message":"a sample","alert":"none"}"#,
    "\n"
);

struct Setup {
    dir: tempfile::TempDir,
    settings: PathBuf,
    state: PathBuf,
    log: PathBuf,
    prom: PathBuf,
}

/// Settings with `jobs` (YAML list items, given the temporary directory)
/// and the metrics file at `prom` (relative to that directory).
fn setup(jobs: impl Fn(&Path) -> String, prom: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("prom")).unwrap();
    std::fs::write(root.join("records.jsonl"), RECORDS).unwrap();
    let log = root.join("log/records.jsonl");
    let prom = root.join(prom);
    let settings = root.join("settings.yaml");
    std::fs::write(
        &settings,
        format!(
            "log:\n  path: {}\ngrace: 5s\nmetrics:\n  path: {}\njobs:\n{}",
            log.display(),
            prom.display(),
            jobs(root)
        ),
    )
    .unwrap();
    Setup {
        settings,
        state: root.join("state"),
        log,
        prom,
        dir,
    }
}

/// A job that succeeds (secops-report passing RECORDS through, exit 1)
/// and one that fails (fim-check verify without a baseline, exit 2),
/// both every second.
fn two_jobs(root: &Path) -> String {
    format!(
        "  - name: good\n    run: [{}, {}]\n    every: 1s\n  - name: broken\n    run: [{}, verify, --baseline, {}, --state-dir, {}]\n    every: 1s\n",
        bin("secops-report"),
        root.join("records.jsonl").display(),
        bin("fim-check"),
        root.join("no-baseline.json").display(),
        root.join("fim").display()
    )
}

impl Setup {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = tool("secops");
        cmd.arg("--settings")
            .arg(&self.settings)
            .args(args)
            .arg("--state-dir")
            .arg(&self.state);
        cmd
    }

    fn start(&self) -> Child {
        self.cmd(&["run"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// The metrics file's samples, `family{labels}` -> value (empty while
    /// there is no file).
    fn samples(&self) -> BTreeMap<String, f64> {
        parse(&std::fs::read_to_string(&self.prom).unwrap_or_default())
    }

    fn central(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn parse(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_string(), value.parse().unwrap())
        })
        .collect()
}

fn stop(child: Child) -> String {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const BROKEN_FAILURES: &str = "secops_job_failures{job=\"broken\"}";

#[test]
fn run_keeps_a_textfile_of_every_job_that_promtool_accepts() {
    let s = setup(two_jobs, "prom/secops.prom");
    let started = unix_now();
    let child = s.start();
    // Failures in a row, as each rewrite of the file shows them.
    let mut seen: Vec<f64> = Vec::new();
    let mut alive: Vec<f64> = Vec::new();
    let grew = wait_until(PATIENCE, || {
        let samples = s.samples();
        if let Some(n) = samples.get(BROKEN_FAILURES)
            && seen.last() != Some(n)
        {
            seen.push(*n);
        }
        if let Some(t) = samples.get("secops_last_success_timestamp_seconds")
            && alive.last() != Some(t)
        {
            alive.push(*t);
        }
        seen.last().is_some_and(|n| *n >= 3.0)
    });
    let text = std::fs::read_to_string(&s.prom).unwrap();
    let stderr = stop(child);
    assert!(grew, "failures in a row seen: {seen:?}\n{stderr}");
    assert!(
        seen.windows(2).all(|w| w[1] > w[0]),
        "failures in a row only grow: {seen:?}"
    );
    assert!(
        alive.windows(2).all(|w| w[1] >= w[0]) && alive.len() >= 2,
        "the scheduler's own timestamp moves on: {alive:?}"
    );
    assert_promtool_accepts(text.as_bytes());

    // The last file secops wrote (after its last run), against `secops
    // status`, which reads the same history.
    let samples = s.samples();
    assert_promtool_clean(&s.prom);
    let status: Vec<Value> = {
        let out = s.cmd(&["status", "--format", "jsonl"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|r: &Value| r["kind"] == "job.status")
            .collect()
    };
    assert_eq!(status.len(), 2, "{status:#?}");
    for rec in &status {
        let job = rec["job"].as_str().unwrap();
        let get = |family: &str| samples.get(&format!("{family}{{job=\"{job}\"}}")).copied();
        assert_eq!(
            get("secops_job_failures"),
            rec["failures_in_row"].as_f64(),
            "{job}: {samples:#?} {rec}"
        );
        let duration = get("secops_job_last_duration_seconds").unwrap();
        assert!(
            (duration - rec["duration_s"].as_f64().unwrap()).abs() < 0.002,
            "{job}: {duration} {rec}"
        );
        // last_run is when the run ended that status says started at its
        // last_run (whole seconds there): end - duration is that start.
        let end = get("secops_job_last_run_timestamp_seconds").unwrap();
        let start_ms = ((end - duration) * 1000.0).round() as u64;
        let starts: Vec<String> = (start_ms - 2..=start_ms + 2)
            .map(|ms| secops_common::record::rfc3339(UNIX_EPOCH + Duration::from_millis(ms)))
            .collect();
        assert!(
            starts.iter().any(|s| rec["last_run"] == s.as_str()),
            "{job}: ended {end} after {duration}: {starts:?} {rec}"
        );
        assert!(end >= started && end <= unix_now(), "{job}: {end}");
    }

    // The good job: succeeded, last success is its last run, one firing
    // alert (high) among its records.
    assert_eq!(samples["secops_job_failures{job=\"good\"}"], 0.0);
    assert_eq!(
        samples["secops_job_last_success_timestamp_seconds{job=\"good\"}"],
        samples["secops_job_last_run_timestamp_seconds{job=\"good\"}"]
    );
    for (severity, count) in [
        ("info", 0.0),
        ("low", 0.0),
        ("medium", 0.0),
        ("high", 1.0),
        ("critical", 0.0),
    ] {
        assert_eq!(
            samples[&format!("secops_job_findings{{job=\"good\",severity=\"{severity}\"}}")],
            count,
            "{samples:#?}"
        );
    }
    // The broken job: never succeeded, so no last success at all.
    assert!(
        !samples.contains_key("secops_job_last_success_timestamp_seconds{job=\"broken\"}"),
        "{samples:#?}"
    );
    assert!(samples[BROKEN_FAILURES] >= 3.0);
    let own = samples["secops_last_success_timestamp_seconds"];
    assert!(own >= started.floor() && own <= unix_now(), "{own}");
    // Written 0644 for node_exporter's user.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&s.prom).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    // The central log holds both jobs' runs: the file changed nothing there.
    let central = s.central();
    assert!(central.iter().any(|r| r["kind"] == "job.failed"));
    assert!(central.iter().any(|r| r["kind"] == "probe.down"));
    assert!(!central.iter().any(|r| r["kind"] == "secops.write_failed"));
}

#[test]
fn the_file_is_written_at_start_before_any_job_ran() {
    let s = setup(
        |_| {
            "  - name: yearly\n    run: [secops-report, /dev/null]\n    cron: \"0 0 1 1 *\"\n"
                .into()
        },
        "prom/secops.prom",
    );
    let out = s.cmd(&["run", "--once"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&s.prom).unwrap();
    assert_promtool_accepts(text.as_bytes());
    let samples = parse(&text);
    assert_eq!(
        samples.keys().collect::<Vec<_>>(),
        [
            "secops_job_failures{job=\"yearly\"}",
            "secops_last_success_timestamp_seconds"
        ],
        "a job never run has no run, success, duration or findings: {text}"
    );
}

#[test]
fn a_metrics_file_that_cannot_be_written_alerts_once_and_stops_nothing() {
    let good_only = |root: &Path| {
        let jobs = two_jobs(root);
        jobs.split("  - name: broken").next().unwrap().to_string()
    };
    // A directory that is not there yet.
    let s = setup(good_only, "missing/secops.prom");
    let child = s.start();
    let runs = |central: &[Value]| central.iter().filter(|r| r["kind"] == "probe.down").count();
    let ran_on = wait_until(PATIENCE, || runs(&s.central()) >= 3);
    let failed: Vec<Value> = s
        .central()
        .into_iter()
        .filter(|r| r["kind"] == "secops.write_failed")
        .collect();
    // The directory appears: the next write works and resolves the alert.
    std::fs::create_dir_all(s.dir.path().join("missing")).unwrap();
    let recovered = wait_until(PATIENCE, || {
        s.central()
            .iter()
            .any(|r| r["kind"] == "secops.write_recovered")
    });
    let stderr = stop(child);
    assert!(ran_on, "the jobs kept running: {stderr}");
    assert_eq!(failed.len(), 1, "one alert: {failed:#?}");
    assert_eq!(failed[0]["alert"], "firing");
    assert_eq!(failed[0]["file"], "metrics file");
    assert_eq!(failed[0]["path"], s.prom.display().to_string());
    assert!(recovered, "{stderr}");
    let recovery = s
        .central()
        .into_iter()
        .find(|r| r["kind"] == "secops.write_recovered")
        .unwrap();
    assert_eq!(recovery["alert_id"], failed[0]["alert_id"]);
    assert_eq!(
        stderr.matches("cannot write the metrics file").count(),
        1,
        "said once for the streak: {stderr}"
    );
    assert_promtool_clean(&s.prom);
    assert_eq!(
        s.samples()["secops_job_failures{job=\"good\"}"],
        0.0,
        "{:?}",
        s.samples()
    );
}

#[test]
fn a_reload_that_moves_the_file_removes_the_old_one() {
    let s = setup(
        |root: &Path| {
            let jobs = two_jobs(root);
            jobs.split("  - name: broken").next().unwrap().to_string()
        },
        "prom/secops.prom",
    );
    let child = s.start();
    let first = wait_until(PATIENCE, || {
        s.samples()
            .contains_key("secops_job_last_run_timestamp_seconds{job=\"good\"}")
    });
    let moved = s.dir.path().join("prom/moved.prom");
    let text = std::fs::read_to_string(&s.settings)
        .unwrap()
        .replace(&s.prom.display().to_string(), &moved.display().to_string());
    std::fs::write(&s.settings, text).unwrap();
    let ok = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let swapped = wait_until(PATIENCE, || moved.exists() && !s.prom.exists());
    let stderr = stop(child);
    assert!(first && swapped, "{stderr}");
    assert_promtool_clean(&moved);
}
