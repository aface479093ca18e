//! The appended logs and the reports, on a disk that is full, read-only or
//! failing with EIO, and under kill -9: disk-alert's alert log and
//! textfile, secops's central log, secops-report's `-o`. What must hold is
//! the promise: no alert is silenced (the disk that is full is
//! the one disk-alert must page about), the previous good artefact stays,
//! no cut line swallows the next, and a record says what happened.

use std::path::{Path, PathBuf};
use std::process::Command;

use secops_pipeline_tests::{bin_dir, notify, tool};
use secops_testkit::{EioFs, Fate, KillSoak, Tmpfs, hidden_files, records, stderr};
use serde_json::Value;

/// The three faults, each made on a fresh mount, as the tests take them.
enum Fault {
    Full(Tmpfs),
    ReadOnly(Tmpfs),
    Eio(EioFs),
}

impl Fault {
    fn all() -> [fn() -> Fault; 3] {
        [
            || Fault::Full(Tmpfs::new(1 << 20)),
            || Fault::ReadOnly(Tmpfs::new(1 << 20)),
            || Fault::Eio(EioFs::new()),
        ]
    }

    fn path(&self) -> PathBuf {
        match self {
            Fault::Full(t) | Fault::ReadOnly(t) => t.path().to_path_buf(),
            Fault::Eio(e) => e.path(),
        }
    }

    fn on(&self, on: bool) {
        match self {
            Fault::Full(t) if on => t.fill(),
            Fault::Full(t) => t.free(),
            Fault::ReadOnly(t) => t.read_only(on),
            Fault::Eio(e) => e.failing(on),
        }
    }

    /// Turns the fault on for a file that is appended to. A full disk
    /// still takes an append that fits in the slack of the file's last
    /// page, so that slack is first taken by a line `pad(n)` makes, of n
    /// bytes with its newline.
    fn on_for_append(&self, file: &Path, pad: impl Fn(usize) -> String) {
        if let Fault::Full(_) = self {
            let len = std::fs::metadata(file).unwrap().len() as usize;
            let mut need = (4096 - len % 4096) % 4096;
            if need > 0 && need < 32 {
                need += 4096;
            }
            if need > 0 {
                let line = pad(need);
                assert_eq!(line.len(), need);
                let mut f = std::fs::OpenOptions::new().append(true).open(file).unwrap();
                std::io::Write::write_all(&mut f, line.as_bytes()).unwrap();
            }
        }
        self.on(true);
    }

    /// What the error says, as strerror has it.
    fn says(&self) -> &'static str {
        match self {
            Fault::Full(_) => "No space left on device",
            Fault::ReadOnly(_) => "Read-only file system",
            Fault::Eio(_) => "Input/output error",
        }
    }
}

fn kind<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["kind"] == kind).collect()
}

/// disk-alert over `mount` with its log (and textfile) in `dir`, every
/// filesystem alerting (--warn 1), memory in `state`.
fn disk_alert(mount: &Path, dir: &Path, state: &Path) -> std::process::Output {
    tool("disk-alert")
        .args(["--warn", "1", "--crit", "99", "--format", "jsonl"])
        .arg("--log")
        .arg(dir.join("disk_alert.log"))
        .arg("--prom-file")
        .arg(dir.join("disk.prom"))
        .arg("--state-dir")
        .arg(state)
        .arg("--mount")
        .arg(mount)
        .output()
        .unwrap()
}

#[test]
fn disk_alert_still_alerts_when_its_log_cannot_be_written_and_says_why() {
    for make in Fault::all() {
        let fault = make();
        let dir = fault.path();
        let state = tempfile::tempdir().unwrap();
        let notify_state = tempfile::tempdir().unwrap();
        let log = dir.join("disk_alert.log");
        // A good run first (over its warning level, so it logs): the log
        // and textfile the fault must not harm.
        std::fs::write(dir.join("ballast"), vec![1u8; 300 << 10]).unwrap();
        let out = disk_alert(&dir, &dir, state.path());
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        fault.on_for_append(&log, |n| format!("#{}\n", "-".repeat(n - 2)));
        let log_before = std::fs::read(&log).unwrap();
        let prom_before = std::fs::read(dir.join("disk.prom")).unwrap();

        let out = disk_alert(&dir, &dir, state.path());
        let recs = records(&out.stdout);
        assert_eq!(out.status.code(), Some(3), "exit 3: {}", stderr(&out));
        assert_eq!(
            kind(&recs, "disk.alert").len(),
            1,
            "the alert is out: {recs:?}"
        );
        let failed = kind(&recs, "disk.write_failed");
        assert_eq!(failed.len(), 2, "log and textfile: {recs:?}");
        for rec in &failed {
            assert_eq!(rec["alert"], "firing");
            assert_eq!(rec["severity"], "high");
            assert!(
                rec["message"].as_str().unwrap().contains(fault.says()),
                "{rec}"
            );
        }
        // They reach the people: tool | secops-notify.
        let sent = notify(
            &out.stdout,
            notify_state.path(),
            &["--min-severity", "high"],
        );
        let firing: Vec<&Value> = sent.messages.iter().flat_map(|m| &m.firing).collect();
        assert!(
            firing.iter().any(|r| r["kind"] == "disk.write_failed"),
            "{sent:?}"
        );
        fault.on(false);
        assert_eq!(std::fs::read(&log).unwrap(), log_before);
        assert_eq!(std::fs::read(dir.join("disk.prom")).unwrap(), prom_before);

        // Lifted: the next run writes both and resolves both alerts.
        let out = disk_alert(&dir, &dir, state.path());
        let recs = records(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let recovered = kind(&recs, "disk.write_recovered");
        assert_eq!(recovered.len(), 2, "{recs:?}");
        let mut fired: Vec<&Value> = failed.iter().map(|r| &r["alert_id"]).collect();
        let mut ended: Vec<&Value> = recovered.iter().map(|r| &r["alert_id"]).collect();
        fired.sort_by_key(|v| v.to_string());
        ended.sort_by_key(|v| v.to_string());
        assert_eq!(fired, ended, "the same alerts end");
        let text = std::fs::read_to_string(&log).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines.iter().all(|l| l.contains(": Disk at ")), "{text}");
        assert!(hidden_files(&dir).is_empty(), "{:?}", hidden_files(&dir));
    }
}

/// Settings for `secops run --once` with one job, disk-alert over `mount`,
/// the central log in `log_dir`, and notify's exec sink appending to `sink`.
fn secops_settings(root: &Path, mount: &Path, log_dir: &Path, sink: &Path) -> PathBuf {
    let settings = root.join("settings.yaml");
    let text = format!(
        "log:\n  path: {log}\n  max_size: 1MiB\n  keep: 2\n\
         notify:\n  min_severity: high\n  exec: \"cat >> '{sink}'\"\n\
         jobs:\n  - name: disk\n    run: [{bin}, --warn, '1', --crit, '2', --no-state, --mount, {mount}]\n    every: 1m\n",
        log = log_dir.join("records.jsonl").display(),
        sink = sink.display(),
        bin = bin_dir().join("disk-alert").display(),
        mount = mount.display(),
    );
    std::fs::write(&settings, text).unwrap();
    settings
}

fn secops_job(settings: &Path, state: &Path) -> std::process::Output {
    tool("secops")
        .arg("--settings")
        .arg(settings)
        .args(["job", "disk", "--state-dir"])
        .arg(state)
        .output()
        .unwrap()
}

fn sent_kinds(sink: &Path) -> Vec<String> {
    std::fs::read_to_string(sink)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|r| r["kind"].as_str().map(String::from))
        .collect()
}

#[test]
fn secops_delivers_the_alert_when_its_central_log_cannot_be_written() {
    for make in Fault::all() {
        let fault = make();
        let root = tempfile::tempdir().unwrap();
        let state = root.path().join("state");
        let sink = root.path().join("sent.jsonl");
        let settings = secops_settings(root.path(), &fault.path(), &fault.path(), &sink);
        let log = fault.path().join("records.jsonl");
        std::fs::write(fault.path().join("ballast"), vec![1u8; 300 << 10]).unwrap();
        // A critical alert: exit 1. (Its own state, so the alert is new
        // to secops-notify again when the fault comes.)
        let out = secops_job(&settings, &root.path().join("first-state"));
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        fault.on_for_append(&log, |n| {
            format!("{{\"pad\":\"{}\"}}\n", "-".repeat(n - 11))
        });
        let before = std::fs::read(&log).unwrap();

        std::fs::remove_file(&sink).ok();
        let out = secops_job(&settings, &state);
        assert_eq!(out.status.code(), Some(3), "exit 3: {}", stderr(&out));
        assert!(stderr(&out).contains(fault.says()), "{}", stderr(&out));
        let sent = sent_kinds(&sink);
        assert!(sent.contains(&"disk.alert".to_string()), "{sent:?}");
        assert!(
            sent.contains(&"secops.write_failed".to_string()),
            "{sent:?}"
        );
        fault.on(false);
        assert_eq!(std::fs::read(&log).unwrap(), before, "the log as it was");

        std::fs::remove_file(&sink).ok();
        let out = secops_job(&settings, &state);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let sent = sent_kinds(&sink);
        assert!(
            sent.contains(&"secops.write_recovered".to_string()),
            "{sent:?}"
        );
        let text = std::fs::read_to_string(&log).unwrap();
        for line in text.lines() {
            serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        }
        assert!(text.contains("secops.write_recovered"));
    }
}

#[test]
fn a_line_cut_by_a_full_disk_does_not_swallow_the_next_record() {
    // A write cut short leaves the start of a line; made here by hand, as
    // a full disk makes it only by chance.
    let root = tempfile::tempdir().unwrap();
    let mount = tempfile::tempdir().unwrap();
    let sink = root.path().join("sent.jsonl");
    let settings = secops_settings(root.path(), mount.path(), root.path(), &sink);
    let log = root.path().join("records.jsonl");
    std::fs::write(&log, "{\"ts\":\"2026-12-07T00:00:00Z\",\"host\":\"h").unwrap();
    let out = secops_job(&settings, &root.path().join("state"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].ends_with("\"host\":\"h"), "{text}");
    for line in &lines[1..] {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    assert!(lines.len() > 1);
}

/// A few thousand records for secops-report to render.
fn many_records(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        out.extend_from_slice(
            format!(
                "{{\"ts\":\"2026-12-07T00:00:00Z\",\"host\":\"h{}\",\"tool\":\"fim-check\",\"kind\":\"fim.changed\",\"severity\":\"medium\",\"message\":\"/etc/file{i} changed\",\"alert\":\"none\",\"path\":\"/etc/file{i}\"}}\n",
                i % 7
            )
            .as_bytes(),
        );
    }
    out
}

fn report(input: &Path, out: &Path, format: &str) -> Command {
    let mut cmd = tool("secops-report");
    cmd.args(["--format", format, "-o"]).arg(out).arg(input);
    cmd
}

#[test]
fn a_report_on_a_failing_disk_keeps_the_previous_one_and_says_so() {
    for make in Fault::all() {
        let fault = make();
        let input = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(input.path(), many_records(500)).unwrap();
        let target = fault.path().join("report.html");
        let out = report(input.path(), &target, "html").output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let before = std::fs::read(&target).unwrap();
        std::fs::write(input.path(), many_records(600)).unwrap();
        fault.on(true);
        let out = report(input.path(), &target, "html").output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(fault.says()) && stderr(&out).contains("report.html"),
            "{}",
            stderr(&out)
        );
        fault.on(false);
        assert_eq!(
            std::fs::read(&target).unwrap(),
            before,
            "the previous report"
        );
        let out = report(input.path(), &target, "html").output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(hidden_files(&fault.path()).is_empty());
    }
}

/// kill -9 of each appending or replacing writer at random points: the
/// alert log's lines, the central log's records and the report stay whole,
/// and no temporary file outlives the next run. `scripts/soak-faults`
/// runs it with 100 kills per writer.
#[test]
fn kill_9_tears_no_log_line_record_or_report() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();

    // disk-alert: every mount, every one alerting, log and textfile.
    let mut soak = KillSoak::new("disk-alert log", 10);
    let disk = |state: &Path| {
        let mut cmd = tool("disk-alert");
        cmd.args([
            "--mount", "/", "--mount", "/tmp", "--warn", "0", "--format", "jsonl",
        ])
        .arg("--log")
        .arg(dir.join("disk_alert.log"))
        .arg("--prom-file")
        .arg(dir.join("disk.prom"))
        .arg("--state-dir")
        .arg(state);
        cmd
    };
    let state = dir.join("state");
    soak.measure(&mut disk(&state));
    for _ in 0..soak.kills {
        soak.run(&mut disk(&state));
        let log = std::fs::read_to_string(dir.join("disk_alert.log")).unwrap();
        assert!(log.ends_with('\n'), "cut: {log}");
        assert!(log.lines().all(|l| l.contains(": Disk at ")), "{log}");
        let prom = std::fs::read_to_string(dir.join("disk.prom")).unwrap();
        assert!(
            prom.contains("disk_alert_last_success_timestamp_seconds"),
            "{prom}"
        );
    }
    assert!(matches!(
        disk(&state).output().unwrap().status.code(),
        Some(0 | 1)
    ));
    assert!(hidden_files(dir).is_empty(), "{:?}", hidden_files(dir));
    assert!(
        hidden_files(&state).is_empty(),
        "{:?}",
        hidden_files(&state)
    );
    soak.summary("");

    // secops: a job whose records go to the central log.
    let mut soak = KillSoak::new("secops central log", 10);
    let mount = tempfile::tempdir().unwrap();
    let settings = secops_settings(dir, mount.path(), dir, &dir.join("sent.jsonl"));
    let secops = || {
        let mut cmd = tool("secops");
        cmd.arg("--settings")
            .arg(&settings)
            .args(["job", "disk", "--state-dir"])
            .arg(dir.join("secops-state"));
        cmd
    };
    soak.measure(&mut secops());
    for _ in 0..soak.kills {
        soak.run(&mut secops());
        let text = std::fs::read_to_string(dir.join("records.jsonl")).unwrap_or_default();
        assert!(text.is_empty() || text.ends_with('\n'), "cut: {text}");
        for line in text.lines() {
            serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        }
    }
    soak.summary("");

    // secops-report -o: the old report or a whole new one, never a part.
    let mut soak = KillSoak::new("secops-report -o", 10);
    let input = dir.join("input.jsonl");
    std::fs::write(&input, many_records(20_000)).unwrap();
    let target = dir.join("report.html");
    soak.measure(&mut report(&input, &target, "html"));
    let whole = std::fs::read(&target).unwrap();
    for n in 0..soak.kills {
        // Alternating inputs, so a new report differs from the old one.
        std::fs::write(&input, many_records(20_000 + n % 2)).unwrap();
        let before = std::fs::read(&target).unwrap();
        let fate = soak.run(&mut report(&input, &target, "html"));
        let after = std::fs::read(&target).unwrap();
        if fate == Fate::Killed && after != before {
            // Replaced just before the kill: then it is whole.
            assert!(after.ends_with(b"</html>\n"), "a part of a report");
        }
        assert!(after.len() * 2 > whole.len(), "a part of a report");
    }
    assert!(
        report(&input, &target, "html")
            .output()
            .unwrap()
            .status
            .success()
    );
    assert!(hidden_files(dir).is_empty(), "{:?}", hidden_files(dir));
    soak.summary("");
}

/// Every file a tool reads whole has a size limit it checks before or
/// while reading, so `/dev/zero` (endless, as a FIFO or a huge file would
/// be) is refused at the limit with exit 2 and the file named, not read
/// until memory runs out.
#[test]
fn an_endless_input_file_is_refused_at_its_limit() {
    let cases: [(&str, &[&str]); 6] = [
        ("secops", &["check", "--settings", "/dev/zero"]),
        ("traffic-cop", &["--whitelist", "/dev/zero"]),
        ("vulnscan", &["--from-xml", "/dev/zero"]),
        ("vulnscan", &["--targets-file", "/dev/zero"]),
        ("healthmon", &["--config", "/dev/zero"]),
        ("secops-notify", &["--config", "/dev/zero"]),
    ];
    for (name, args) in cases {
        let out = tool(name)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name} {args:?}: {err}");
        assert!(
            err.contains("/dev/zero") && err.contains("over the limit"),
            "{name} {args:?}: {err}"
        );
    }
}
