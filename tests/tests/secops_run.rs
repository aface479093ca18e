//! `secops`, the orchestrator, run as an operator runs it: real tools on
//! short schedules, the central log read back, failures alerting through
//! the real secops-notify to a webhook (or an exec sink), rotation under a flood,
//! kill -9 and catch-up, and `secops check` naming file:line:field.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use secops_pipeline_tests::{bin_dir, central_lines, tool};
use secops_testkit::{PATIENCE, Webhook, wait_until};
use serde_json::Value;

fn secops() -> Command {
    tool("secops")
}

fn bin(name: &str) -> String {
    bin_dir().join(name).display().to_string()
}

/// Every record of the central log and its rotated files, oldest first,
/// failing on a line that is not whole JSON.
fn central(log: &Path) -> Vec<Value> {
    central_lines(log)
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("torn line {e}: {line}")))
        .collect()
}

fn of_job<'a>(records: &'a [Value], tool_name: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["tool"] == tool_name).collect()
}

fn kind<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["kind"] == kind).collect()
}

struct Setup {
    _dir: tempfile::TempDir,
    settings: PathBuf,
    state: PathBuf,
    log: PathBuf,
}

fn setup(jobs: &str, extra: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let state = root.join("state");
    let log = root.join("log/records.jsonl");
    let settings = root.join("settings.yaml");
    let text = format!(
        "log:\n  path: {}\n  max_size: 1MiB\n  keep: 5\ngrace: 5s\n{extra}jobs:\n{jobs}",
        log.display()
    );
    std::fs::write(&settings, text).unwrap();
    Setup {
        _dir: dir,
        settings,
        state,
        log,
    }
}

impl Setup {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = secops();
        cmd.arg("--settings").arg(&self.settings).args(args);
        if args[0] != "check" {
            cmd.arg("--state-dir").arg(&self.state);
        }
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
}

fn signal(child: &Child, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn check_names_file_line_and_field() {
    let good = "  - name: disk\n    run: [disk-alert, --mount, /]\n    every: 1s\n";
    let cases = [
        ("every: 1s", "every: often", "jobs[0].every"),
        ("every: 1s", "cron: \"61 * * * *\"", "jobs[0].cron"),
        ("--mount, /]", "--mount, /, --bogus]", "jobs[0].run"),
        ("disk-alert,", "no-such-tool,", "jobs[0].run"),
        (
            "    every: 1s",
            "    every: 1s\n    timeout: forever",
            "jobs[0].timeout",
        ),
        (
            "    every: 1s",
            "    every: 1s\n    evry: 1s",
            "jobs[0].evry",
        ),
    ];
    let s = setup(good, "");
    let out = s.cmd(&["check"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (from, to, field) in cases {
        let s = setup(&good.replacen(from, to, 1), "");
        let out = s.cmd(&["check"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{to}: {stderr}");
        let place = format!("{}:", s.settings.display());
        assert!(
            stderr.contains(&place) && stderr.contains(field),
            "{to}: {stderr}"
        );
        // file:LINE:COLUMN: a line number follows the file name.
        let after = &stderr[stderr.find(&place).unwrap() + place.len()..];
        assert!(
            after.starts_with(|c: char| c.is_ascii_digit()),
            "{to}: {stderr}"
        );
    }
    // The shipped example is accepted as written.
    let out = secops()
        .arg("check")
        .arg("--settings")
        .arg(secops_pipeline_tests::repo("config/settings.yaml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn run_appends_every_jobs_records_and_stops_on_sigterm() {
    let jobs = format!(
        "  - name: disk\n    run: [{}, --mount, /, --no-state]\n    every: 1s\n  - name: health\n    run: [{}, --no-state]\n    every: 2s\n",
        bin("disk-alert"),
        bin("healthmon")
    );
    let s = setup(&jobs, "");
    let mut child = s.start();
    let seen = wait_until(PATIENCE, || {
        let records = central(&s.log);
        of_job(&records, "disk-alert").len() >= 2 && !of_job(&records, "healthmon").is_empty()
    });
    signal(&child, "-TERM");
    let out = child.wait().unwrap();
    assert!(seen, "records of both jobs: {:?}", central(&s.log).len());
    assert_eq!(out.code(), Some(0));
    // status: one record per job, from the state the run left.
    let out = s.cmd(&["status", "--format", "jsonl"]).output().unwrap();
    let status: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(status.len(), 2);
    assert!(
        status
            .iter()
            .all(|r| r["kind"] == "job.status" && r["exit"].is_number())
    );
    assert_eq!(status[0]["failures_in_row"], 0);
}

#[test]
fn a_failing_job_alerts_once_and_resolves_when_fixed() {
    let tree_dir = tempfile::tempdir().unwrap();
    let tree = tree_dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("a"), "a").unwrap();
    let baseline = tree_dir.path().join("baseline.json");
    let fim_state = tree_dir.path().join("fim");
    // secops-notify's webhook sink, as config/settings.yaml has it.
    let hook = Webhook::start();
    let url = tree_dir.path().join("webhook.url");
    std::fs::write(&url, hook.url()).unwrap();
    std::fs::set_permissions(&url, std::fs::Permissions::from_mode(0o600)).unwrap();
    let notify = format!(
        "notify:\n  min_severity: high\n  webhook:\n    url_file: {}\n    format: json\n",
        url.display()
    );
    let jobs = format!(
        "  - name: integrity\n    run: [{}, verify, --baseline, {}, --state-dir, {}]\n    every: 1h\n",
        bin("fim-check"),
        baseline.display(),
        fim_state.display()
    );
    let s = setup(&jobs, &notify);
    // Records of `kind_name` the webhook got, in the messages' firing or
    // resolved lists.
    let sent = |kind_name: &str| {
        hook.bodies()
            .iter()
            .flat_map(|body| {
                let firing = body["firing"].as_array().cloned().unwrap_or_default();
                firing
                    .into_iter()
                    .chain(body["resolved"].as_array().cloned().unwrap_or_default())
            })
            .filter(|record| record["kind"] == kind_name)
            .count()
    };
    // Two failed runs (no baseline): one alert.
    for _ in 0..2 {
        let out = s.cmd(&["job", "integrity"]).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(3),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(sent("job.failed"), 1, "one alert for two failed runs");
    let records = central(&s.log);
    let failed = kind(&records, "job.failed");
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[1]["failures_in_row"], 2);
    assert_eq!(failed[0]["alert"], "firing");
    // Fixed: the next run resolves it, once.
    let out = tool("fim-check")
        .args(["init", "--format", "jsonl", "--baseline"])
        .arg(&baseline)
        .arg("--state-dir")
        .arg(&fim_state)
        .arg(&tree)
        .output()
        .unwrap();
    assert!(out.status.success());
    for _ in 0..2 {
        let out = s.cmd(&["job", "integrity"]).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(sent("job.recovered"), 1);
    let records = central(&s.log);
    assert_eq!(kind(&records, "job.recovered").len(), 1);
    assert!(
        !kind(&records, "notify.sent").is_empty(),
        "deliveries are logged"
    );
}

#[test]
fn rotation_under_a_flood_loses_and_tears_no_line() {
    flood(false);
}

#[test]
fn compressed_rotation_under_a_flood_loses_and_tears_no_line() {
    flood(true);
}

/// A `flood` job whose run writes records `round`-0 to 19,999 (secops-report
/// passing a file through), with the log rotated every 64 KiB.
fn flood_setup(dir: &Path, compress: bool) -> Setup {
    let jobs = format!(
        "  - name: flood\n    run: [{}, {}]\n    every: 1h\n",
        bin("secops-report"),
        dir.join("flood.jsonl").display()
    );
    let s = setup(&jobs, "");
    let settings = std::fs::read_to_string(&s.settings).unwrap().replace(
        "max_size: 1MiB\n  keep: 5",
        &format!("max_size: 64KiB\n  keep: 1000\n  compress: {compress}"),
    );
    std::fs::write(&s.settings, settings).unwrap();
    flood_round(dir, 0);
    s
}

/// The flood file of `round`: records with `round` and `n` 0 to 19,999.
fn flood_round(dir: &Path, round: u64) {
    let mut text = String::new();
    for n in 0..20_000 {
        text.push_str(&format!(
            "{{\"ts\":\"2026-12-07T00:00:00Z\",\"host\":\"h\",\"tool\":\"flood\",\"kind\":\"k\",\"severity\":\"info\",\"message\":\"record {n} of the flood\",\"alert\":\"none\",\"round\":{round},\"n\":{n}}}\n"
        ));
    }
    std::fs::write(dir.join("flood.jsonl"), text).unwrap();
}

fn flood(compress: bool) {
    let dir = tempfile::tempdir().unwrap();
    let s = flood_setup(dir.path(), compress);
    let out = s.cmd(&["job", "flood"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = central(&s.log);
    let numbers: Vec<u64> = of_job(&records, "flood")
        .iter()
        .map(|r| r["n"].as_u64().unwrap())
        .collect();
    assert_eq!(
        numbers,
        (0..20_000).collect::<Vec<_>>(),
        "every record once, in order"
    );
    let ext = if compress { ".gz" } else { "" };
    assert!(
        Path::new(&format!("{}.20{ext}", s.log.display())).exists(),
        "rotated"
    );
    for n in 1..=20 {
        let size = std::fs::metadata(format!("{}.{n}{ext}", s.log.display()))
            .unwrap()
            .len();
        assert!(size <= 64 * 1024);
        if compress {
            assert!(!Path::new(&format!("{}.{n}", s.log.display())).exists());
            assert!(size < 16 * 1024, "compressed: {size}");
        }
    }
    let dir_names: Vec<String> = std::fs::read_dir(s.log.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        dir_names.iter().all(|n| !n.ends_with(".tmp")),
        "{dir_names:?}"
    );
}

/// secops killed (-9) while it floods the log through compressed
/// rotations, three times at different points, each followed by a whole
/// run: every line whole, each round's records in order with no gap (the
/// killed rounds end early, the records after the kill died with the
/// pipe), none twice, and no `.1` left beside its `.1.gz` or temporary
/// file once a run has finished.
#[test]
fn kill_9_during_compressed_rotation_loses_no_written_record() {
    let dir = tempfile::tempdir().unwrap();
    let s = flood_setup(dir.path(), true);
    let mut round = 0;
    for rotations in [2, 9, 17] {
        flood_round(dir.path(), round);
        // Rotated files shift up: this many more since the last run.
        let before = std::fs::read_dir(s.log.parent().unwrap()).map_or(0, |d| d.count());
        let mut child = s
            .cmd(&["job", "flood"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let rotated = format!("{}.{}.gz", s.log.display(), before + rotations);
        let reached = wait_until(PATIENCE, || {
            Path::new(&rotated).exists() || child.try_wait().unwrap().is_some()
        });
        signal(&child, "-KILL");
        child.wait().unwrap();
        assert!(reached && Path::new(&rotated).exists(), "{rotated}");
        round += 1;
        flood_round(dir.path(), round);
        let out = s.cmd(&["job", "flood"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        round += 1;
    }
    let records = central(&s.log);
    let flood = of_job(&records, "flood");
    let mut seen = std::collections::BTreeMap::<u64, Vec<u64>>::new();
    for record in &flood {
        let (r, n) = (
            record["round"].as_u64().unwrap(),
            record["n"].as_u64().unwrap(),
        );
        seen.entry(r).or_default().push(n);
    }
    assert_eq!(seen.len() as u64, round, "every round wrote records");
    for (r, numbers) in &seen {
        let whole = (0..numbers.len() as u64).collect::<Vec<_>>();
        assert_eq!(numbers, &whole, "round {r}: in order, no gap, none twice");
        if r % 2 == 1 {
            assert_eq!(numbers.len(), 20_000, "round {r} ran whole");
        }
    }
    let names: Vec<String> = std::fs::read_dir(s.log.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for name in &names {
        assert!(
            name == "records.jsonl" || name.ends_with(".gz"),
            "left over: {name} in {names:?}"
        );
    }
}

/// A job that hangs under `secops run` (its timeout far away) is stale
/// once twice its interval has gone by since it started: one `job.stale`
/// saying it is still running, and no second run beside it.
#[test]
fn a_job_hanging_under_run_is_stale_once() {
    let dir = tempfile::tempdir().unwrap();
    let hang = script(dir.path(), "hang", "exec sleep 60");
    let jobs = format!(
        "  - name: hang\n    run: [{}]\n    every: 1s\n    timeout: 1h\n",
        hang.display()
    );
    let s = setup(&jobs, "");
    let mut child = s.start();
    let stale = wait_until(PATIENCE, || !kind(&central(&s.log), "job.stale").is_empty());
    // A few more turns of the loop: still one.
    std::thread::sleep(Duration::from_secs(3));
    signal(&child, "-TERM");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(stale, "no job.stale: {:?}", central(&s.log));
    let records = central(&s.log);
    let stale = kind(&records, "job.stale");
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(stale[0]["job"], "hang");
    assert_eq!(stale[0]["running"], true);
    assert_eq!(stale[0]["alert"], "firing");
    assert!(
        !kind(&records, "job.skipped").is_empty(),
        "never beside itself"
    );
}

#[test]
fn kill_9_then_once_catches_up_one_run() {
    let jobs = format!(
        "  - name: disk\n    run: [{}, --mount, /, --no-state]\n    every: 2s\n",
        bin("disk-alert")
    );
    let s = setup(&jobs, "");
    let mut child = s.start();
    let first = wait_until(PATIENCE, || s.state.join("secops.jobs.json").exists());
    signal(&child, "-KILL");
    child.wait().unwrap();
    assert!(first, "the first run was remembered");
    let before = of_job(&central(&s.log), "disk-alert").len();
    // Down for several slots: --once runs the job once, not once per slot.
    std::thread::sleep(Duration::from_millis(4500));
    let out = s.cmd(&["run", "--once"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = of_job(&central(&s.log), "disk-alert").len();
    assert_eq!(
        after - before,
        before,
        "one more run, as many records as the first"
    );
    // Nothing is due right after.
    let out = s.cmd(&["run", "--once"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(of_job(&central(&s.log), "disk-alert").len(), after);
}

#[test]
fn a_slow_job_never_overlaps_and_a_broken_reload_keeps_the_old_settings() {
    // healthmon sampling three times a second apart: a 2 s run every 1 s.
    let jobs = format!(
        "  - name: slow\n    run: [{}, --no-state, --interval, 1s, --count, 3]\n    every: 1s\n",
        bin("healthmon")
    );
    let s = setup(&jobs, "");
    let mut child = s.start();
    let skipped = wait_until(PATIENCE, || {
        !kind(&central(&s.log), "job.skipped").is_empty()
    });
    std::fs::write(&s.settings, "jobs: [ {name: x, evry: 1s} ]\n").unwrap();
    signal(&child, "-HUP");
    let refused = wait_until(PATIENCE, || {
        !kind(&central(&s.log), "secops.settings_invalid").is_empty()
    });
    let runs_before = kind(&central(&s.log), "job.skipped").len();
    let still = wait_until(PATIENCE, || {
        kind(&central(&s.log), "job.skipped").len() > runs_before
    });
    signal(&child, "-TERM");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(
        skipped && refused && still,
        "skip {skipped}, refused {refused}, old settings still run {still}"
    );
    let status = s.cmd(&["status", "--format", "jsonl"]).output().unwrap();
    assert_eq!(status.status.code(), Some(2), "the file is broken now");
}

/// An executable script in `dir` that exits 0 on `--help` (secops checks
/// every command that way) and otherwise runs `body`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = --help ] && exit 0; done\n{body}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Whether `pid` is still a live process (a zombie is not).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

#[test]
fn a_fleet_job_runs_on_the_inventory_group_through_the_loopback_sshd() {
    use secops_testkit::{Sshd, client_config};
    let web = Sshd::builder().on("127.0.0.2").start();
    let db = Sshd::builder().on("127.0.0.3").start();
    let dir = tempfile::tempdir().unwrap();
    let ssh_config = client_config(dir.path(), &[&web, &db]);
    let host = |name: &str, s: &Sshd, group: &str| {
        format!(
            "{{\"name\":\"{name}\",\"address\":\"{}\",\"port\":{},\"user\":\"root\",\"identity_file\":\"{}\",\"groups\":[\"{group}\"]}}",
            s.addr,
            s.port,
            s.client_key.display()
        )
    };
    let inventory = dir.path().join("servers.json");
    std::fs::write(
        &inventory,
        format!(
            "{{\"servers\":[{},{}]}}\n",
            host("web1", &web, "web"),
            host("db1", &db, "db")
        ),
    )
    .unwrap();
    let jobs = format!(
        "  - name: fleet-disk\n    run: [{}, --mount, /, --no-state]\n    on: {{ inventory: {}, group: web, ssh_config: {} }}\n    every: 1h\n",
        bin("disk-alert"),
        inventory.display(),
        ssh_config.display()
    );
    let s = setup(&jobs, "");
    let out = s.cmd(&["job", "fleet-disk", "-v"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    let records = central(&s.log);
    let disk = of_job(&records, "disk-alert");
    assert!(
        !disk.is_empty(),
        "disk-alert's records came back: {stderr} {records:#?}"
    );
    assert!(
        disk.iter().all(|r| r["host"] == "web1"),
        "under the inventory name: {disk:?}"
    );
    let results = kind(&records, "remote.result");
    assert_eq!(results.len(), 1, "the web group only: {results:?}");
    assert_eq!(results[0]["host"], "web1");
    assert_eq!(results[0]["status"], "ok");
    assert!(kind(&records, "job.failed").is_empty());
}

#[test]
fn a_report_job_writes_the_html_report_of_the_central_log() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("reports/daily.html");
    let jobs = format!(
        "  - name: disk\n    run: [{}, --mount, /, --no-state]\n    every: 1h\n  - name: daily-report\n    report: {{ since: 1h, output: {} }}\n    cron: \"0 7 * * *\"\n",
        bin("disk-alert"),
        html.display()
    );
    let s = setup(&jobs, "");
    for job in ["disk", "daily-report"] {
        let out = s.cmd(&["job", job]).output().unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{job}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = std::fs::read_to_string(&html).expect("the report was written");
    assert!(text.contains("<html") || text.contains("<!DOCTYPE"), "HTML");
    let records = central(&s.log);
    let disk = of_job(&records, "disk-alert");
    assert!(!disk.is_empty());
    let mount = disk
        .iter()
        .find_map(|r| r["mount"].as_str())
        .expect("a record names its mount");
    assert!(
        text.contains("disk-alert"),
        "the disk job's records are in it"
    );
    assert!(text.contains(mount));
}

#[test]
fn a_timeout_kills_the_jobs_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let forker = script(
        dir.path(),
        "forker",
        &format!(
            "sleep 300 &\necho $! >> {p}\necho $$ >> {p}\nwait",
            p = pids.display()
        ),
    );
    let jobs = format!(
        "  - name: hangs\n    run: [{}]\n    every: 1h\n    timeout: 1s\n",
        forker.display()
    );
    let s = setup(&jobs, "");
    let started = std::time::Instant::now();
    let out = s.cmd(&["job", "hangs"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    let text = std::fs::read_to_string(&pids).unwrap();
    let both: Vec<&str> = text.lines().collect();
    assert_eq!(both.len(), 2, "the child and the script: {text}");
    let gone = wait_until(PATIENCE, || both.iter().all(|pid| !alive(pid)));
    assert!(gone, "left running: {both:?}");
    let records = central(&s.log);
    let failed = kind(&records, "job.failed");
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["message"].as_str().unwrap().contains("timeout"),
        "{}",
        failed[0]["message"]
    );
}

#[test]
fn sigusr1_reopens_the_log_after_logrotate_renamed_it() {
    let jobs = format!(
        "  - name: disk\n    run: [{}, --mount, /, --no-state]\n    every: 1s\n",
        bin("disk-alert")
    );
    let s = setup(&jobs, "");
    let mut child = s.start();
    let first = wait_until(PATIENCE, || {
        !of_job(&central(&s.log), "disk-alert").is_empty()
    });
    let moved = PathBuf::from(format!("{}-20261207", s.log.display()));
    std::fs::rename(&s.log, &moved).unwrap();
    signal(&child, "-USR1");
    let reopened = wait_until(PATIENCE, || {
        s.log.exists() && !of_job(&central(&s.log), "disk-alert").is_empty()
    });
    // Nothing more goes to the file logrotate moved away.
    let old = std::fs::read_to_string(&moved).unwrap().lines().count();
    std::thread::sleep(Duration::from_millis(2500));
    let still = std::fs::read_to_string(&moved).unwrap().lines().count();
    signal(&child, "-TERM");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(first && reopened, "first {first}, reopened {reopened}");
    assert_eq!(old, still, "the moved file is no longer written");
    assert!(old > 0);
}

#[test]
fn a_job_not_run_for_twice_its_interval_alerts_and_its_next_run_resolves_it() {
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().join("sent.jsonl");
    let notify = format!(
        "notify:\n  min_severity: high\n  exec: \"cat >> '{}'\"\n",
        sink.display()
    );
    let jobs = format!(
        "  - name: disk\n    run: [{}, --mount, /, --no-state]\n    every: 1h\n",
        bin("disk-alert")
    );
    let s = setup(&jobs, &notify);
    let out = s.cmd(&["job", "disk"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = |s: &Setup| -> Vec<Value> {
        let out = s.cmd(&["status", "--format", "jsonl"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    assert!(kind(&status(&s), "job.stale").is_empty(), "just ran");
    // The scheduler was stopped three hours ago.
    let path = s.state.join("secops.jobs.json");
    let mut state: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let start = state["jobs"]["disk"]["last_start_ms"].as_u64().unwrap();
    state["jobs"]["disk"]["last_start_ms"] = Value::from(start - 3 * 3600 * 1000);
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
    // status says so, as a firing record a cron line can pipe to notify.
    let seen = status(&s);
    let stale = kind(&seen, "job.stale");
    assert_eq!(stale.len(), 1, "{seen:?}");
    assert_eq!(stale[0]["alert"], "firing");
    assert_eq!(stale[0]["job"], "disk");
    assert_eq!(kind(&seen, "job.status")[0]["stale"], true);
    // --once: the alert, then the catch-up run resolves it.
    let before = of_job(&central(&s.log), "disk-alert").len();
    let out = s.cmd(&["run", "--once"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = central(&s.log);
    let ours: Vec<&str> = records
        .iter()
        .filter(|r| r["tool"] == "secops")
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(ours, ["job.stale", "job.recovered"]);
    assert_eq!(
        kind(&records, "job.stale")[0]["alert_id"],
        kind(&records, "job.recovered")[0]["alert_id"]
    );
    assert!(of_job(&records, "disk-alert").len() > before, "it ran");
    let sent = std::fs::read_to_string(&sink).unwrap_or_default();
    assert!(sent.contains("\"kind\":\"job.stale\""), "{sent}");
    assert!(sent.contains("\"kind\":\"job.recovered\""), "{sent}");
    // Fresh again: nothing more.
    let out = s.cmd(&["run", "--once"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(kind(&central(&s.log), "job.stale").len(), 1);
    assert!(kind(&status(&s), "job.stale").is_empty());
}
