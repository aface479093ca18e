//! anomalizer run as an operator runs it, on small fixtures of its own.

mod support;

use std::fs;
use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use secops_testkit::auth_log;
use serde_json::Value;
use support::{
    StdinBytes, anomalizer, bin, by_detector, data_dir, loghub_format, records, run, run_records,
    stderr,
};

fn write_gz(path: &Path, text: &str) {
    let mut gz = GzEncoder::new(fs::File::create(path).unwrap(), Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap();
}

#[test]
fn the_seed_example_reports_the_dominating_user_and_the_rare_line() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("auth.log"), auth_log()).unwrap();
    let out = run(anomalizer().arg("--log-dir").arg(dir.path()).args([
        "--threshold",
        "0.01",
        "--format",
        "table",
    ]));
    assert_eq!(
        out.status.code(),
        Some(1),
        "the out-of-memory kill is critical: exit 1 under the default --fail-on high: {}",
        stderr(&out)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("[ANOMALY] Unusual token frequency: user_xyz repeated 87x in \"Failed password for <*> from <*> port <*>\""),
        "{text}"
    );
    assert!(
        text.contains(
            "[ANOMALY] Rare template: \"kernel: Out of memory: Killed process <*> (java)\" seen 1x"
        ),
        "{text}"
    );
    // `--format text` is the same lines, in a pipe as here.
    let out = run(anomalizer()
        .arg("--log-dir")
        .arg(dir.path())
        .args(["--format", "text"]));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), text);
}

#[test]
fn jsonl_records_carry_the_kind_fields_and_a_summary() {
    let recs = run_records(
        anomalizer()
            .args(["--format", "jsonl"])
            .arg("--log")
            .arg("-")
            .stdin_bytes(auth_log()),
    );
    let rare = by_detector(&recs, "rare_template");
    assert_eq!(rare.len(), 1, "{recs:#?}");
    assert_eq!(rare[0]["kind"], "log.rare_template");
    // Each rule's findings are a record kind of their own.
    for rec in recs.iter().filter(|r| r["detector"].is_string()) {
        assert_eq!(
            rec["kind"],
            format!("log.{}", rec["detector"].as_str().unwrap())
        );
    }
    assert_eq!(rare[0]["count"], 1);
    assert_eq!(rare[0]["first_seen"], "-:501");
    let score = rare[0]["score"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&score));
    let summary = recs.last().unwrap();
    assert_eq!(summary["kind"], "log.summary");
    assert_eq!(summary["lines"], 501);
    assert_eq!(summary["templates"], 3);
}

#[test]
fn rotated_and_compressed_logs_are_read_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    write_gz(&dir.path().join("app.log.2.gz"), "oldest line 1\n");
    fs::write(dir.path().join("app.log.1"), "middle line 2\n").unwrap();
    fs::write(dir.path().join("app.log"), "newest line 3\n").unwrap();
    fs::write(dir.path().join("notes.txt"), "not a log\n").unwrap();
    let recs = run_records(
        bin()
            .arg("parse")
            .args(["--log-dir"])
            .arg(dir.path())
            .args(["--glob", "app.log*", "--format", "jsonl"]),
    );
    let sources: Vec<&str> = recs
        .iter()
        .map(|r| r["source"].as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    assert_eq!(sources, ["app.log.2.gz", "app.log.1", "app.log"]);
}

#[test]
fn bad_input_is_counted_and_reported_never_fatal() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("empty.log"), "").unwrap();
    let mut mixed = b"ok line 1\n".to_vec();
    mixed.extend_from_slice(b"caf\xe9 latin-1 line 2\n");
    mixed.extend_from_slice(b"\x00\x01\x02\x7fELF\x03\x04\n");
    mixed.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
    mixed.extend_from_slice(b"\nok line 3\r\n");
    fs::write(dir.path().join("mixed.log"), mixed).unwrap();
    let out = run(anomalizer()
        .arg("--log-dir")
        .arg(dir.path())
        .args(["--format", "jsonl"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = records(&out.stdout).pop().unwrap();
    assert_eq!(summary["kind"], "log.summary");
    assert_eq!(summary["files"], 2);
    assert_eq!(summary["empty_files"], 1);
    assert_eq!(summary["non_utf8_lines"], 1);
    assert_eq!(summary["binary_lines"], 1);
    assert_eq!(summary["huge_lines"], 1);
    assert_eq!(summary["lines"], 5);
    let err = stderr(&out);
    assert!(err.contains("1 line was not valid UTF-8"), "{err}");
    assert!(err.contains("1 file was empty"), "{err}");
}

#[test]
fn a_missing_file_is_a_run_failure_with_results_still_written() {
    let out = run(anomalizer().args(["--log", "/nonexistent/app.log", "--format", "jsonl"]));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("/nonexistent/app.log"));
    assert_eq!(records(&out.stdout).pop().unwrap()["unreadable_files"], 1);
}

#[test]
fn a_log_dir_that_is_not_there_is_a_usage_error() {
    let out = run(anomalizer().args(["--log-dir", "/nonexistent/app"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--log-dir /nonexistent/app: no such directory"),
        "{}",
        stderr(&out)
    );
}

/// The hours of the summary's timeline for `log` read with `TZ=zone`, and
/// with `--timezone zone` under `TZ=UTC`, which must agree.
fn timeline_hours(log: &Path, zone: &str) -> Vec<String> {
    let hours = |cmd: &mut std::process::Command| -> Vec<String> {
        let out = run(cmd.args(["--format", "jsonl", "--log"]).arg(log));
        assert!(out.status.success(), "{}", stderr(&out));
        let summary = records(&out.stdout).pop().unwrap();
        summary["timeline"]["templates"][0]["hours"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h[0].as_str().unwrap().to_string())
            .collect()
    };
    let by_env = hours(anomalizer().env("TZ", zone));
    let by_flag = hours(anomalizer().env("TZ", "UTC").args(["--timezone", zone]));
    assert_eq!(by_env, by_flag, "TZ={zone} against --timezone {zone}");
    by_env
}

#[test]
fn zoneless_times_are_local_time_in_the_system_zone() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, line: &dyn Fn(u32) -> String| {
        let path = dir.path().join(name);
        fs::write(&path, (0..60).map(line).collect::<String>()).unwrap();
        path
    };
    let syslog = write("syslog", &|m| {
        format!("Jan 10 03:{m:02}:01 web1 app[12]: heartbeat ok seq={m}\n")
    });
    let iso = write("iso.log", &|m| {
        format!("2026-01-10 03:{m:02}:01,250 INFO heartbeat ok seq={m}\n")
    });
    // A time with its zone is that instant whatever TZ says.
    let utc = write("utc.log", &|m| {
        format!("2026-01-10T03:{m:02}:01Z INFO heartbeat ok seq={m}\n")
    });
    let year = timeline_hours(&syslog, "UTC")[0][..4].to_string();
    let hours = |day_hours: &[&str]| -> Vec<String> {
        day_hours
            .iter()
            .map(|h| format!("-01-{h}:00:00Z"))
            .collect()
    };
    for (zone, expected) in [
        ("UTC", hours(&["10T03"])),
        ("America/New_York", hours(&["10T08"])),
        // 03:00 to 03:59 IST is 21:30 to 22:29 UTC the day before.
        ("Asia/Kolkata", hours(&["09T21", "09T22"])),
    ] {
        let in_year =
            |y: &str| -> Vec<String> { expected.iter().map(|h| format!("{y}{h}")).collect() };
        assert_eq!(timeline_hours(&syslog, zone), in_year(&year), "{zone}");
        assert_eq!(timeline_hours(&iso, zone), in_year("2026"), "{zone}");
        assert_eq!(
            timeline_hours(&utc, zone),
            ["2026-01-10T03:00:00Z"],
            "{zone}"
        );
    }
}

#[test]
fn an_unknown_timezone_is_a_usage_error_naming_it() {
    let out = run(anomalizer().args(["--timezone", "Mars/Olympus_Mons", "--log", "-"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--timezone \"Mars/Olympus_Mons\" is not a zone"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_log_dir_follows_links_to_files_once_and_not_links_to_directories() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir_all(&logs).unwrap();
    fs::create_dir_all(elsewhere.join("sub")).unwrap();
    let lines = |n: u32, what: &str| (0..n).map(|i| format!("{what} {i}\n")).collect::<String>();
    fs::write(elsewhere.join("app.log"), lines(10, "linked")).unwrap();
    fs::write(elsewhere.join("sub/other.log"), lines(7, "other")).unwrap();
    fs::write(logs.join("own.log"), lines(5, "own")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("app.log"), logs.join("current.log")).unwrap();
    std::os::unix::fs::symlink(logs.join("own.log"), logs.join("own-again.log")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("sub"), logs.join("sub")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("nothing"), logs.join("dangling.log")).unwrap();
    let out = run(anomalizer()
        .args(["--format", "jsonl", "-v", "--log-dir"])
        .arg(&logs));
    let summary = records(&out.stdout).pop().unwrap();
    assert_eq!(
        (summary["files"].as_u64(), summary["lines"].as_u64()),
        (Some(2), Some(15)),
        "{summary}"
    );
    let err = stderr(&out);
    assert!(
        err.contains("a link to a directory") && err.contains("a link to nothing"),
        "{err}"
    );
}

/// The `count` of the token_frequency record about `token`.
fn repeats_of(log: &str, token: &str) -> Option<u64> {
    let out = run(anomalizer()
        .args(["--format", "jsonl", "--threshold", "0"])
        .stdin_bytes(log));
    records(&out.stdout)
        .into_iter()
        .find(|r| r["kind"] == "log.token_frequency" && r["token"] == token)
        .and_then(|r| r["count"].as_u64())
}

#[test]
fn a_value_is_counted_exactly_whatever_line_made_its_position_a_wildcard() {
    let xyz = || "session opened for user user_xyz by sshd".to_string();
    let other = |i: usize| {
        format!(
            "session opened for user user_{} by sshd",
            ["abc", "def", "ghi", "jkl", "mno", "pqr"][i % 6]
        )
    };
    let log = |lines: Vec<String>| lines.iter().map(|l| format!("{l}\n")).collect::<String>();
    // 87 of user_xyz and 6 others, in orders that make the user a
    // wildcard early, late, and only at the very end.
    let mut first_xyz: Vec<String> = (0..87).map(|_| xyz()).collect();
    first_xyz.extend((0..6).map(other));
    let mut others_first: Vec<String> = (0..6).map(other).collect();
    others_first.extend((0..87).map(|_| xyz()));
    let mut middle: Vec<String> = (0..40).map(|_| xyz()).collect();
    middle.extend((0..6).map(other));
    middle.extend((0..47).map(|_| xyz()));
    let mut interleaved = Vec::new();
    for i in 0..87 {
        interleaved.push(xyz());
        if i % 15 == 14 {
            interleaved.push(other(i / 15));
        }
    }
    for (name, lines) in [
        ("xyz first", first_xyz),
        ("others first", others_first),
        ("middle", middle),
        ("interleaved", interleaved),
    ] {
        assert_eq!(repeats_of(&log(lines), "user_xyz"), Some(87), "{name}");
    }
}

#[test]
fn package_manager_logs_are_expected_activity_and_page_no_one() {
    let dir = tempfile::tempdir().unwrap();
    let apt = dir.path().join("apt");
    fs::create_dir(&apt).unwrap();
    let mut dpkg = String::new();
    for i in 0..400 {
        let package = format!("lib{}{}", ["foo", "bar", "baz", "qux"][i % 4], i);
        dpkg.push_str(&format!(
            "2026-05-09 07:29:{:02} status unpacked {package}:amd64 1.{i}-1\n",
            i % 60
        ));
        dpkg.push_str(&format!(
            "2026-05-09 07:29:{:02} status installed {package}:amd64 1.{i}-1\n",
            i % 60
        ));
    }
    dpkg.push_str("2026-05-09 07:30:00 install media-types:all <none> 10.0.0\n");
    fs::write(dir.path().join("dpkg.log"), dpkg).unwrap();
    fs::write(apt.join("history.log"), "Start-Date: 2026-05-09  07:29:00\nCommandline: apt-get -qqy upgrade\nEnd-Date: 2026-05-09  07:30:00\n".repeat(3) + "Commandline: apt-get install -y gcc\n").unwrap();
    let mut auth = String::new();
    for i in 0..500 {
        auth.push_str(&format!("2026-05-09T07:{:02}:00Z web1 sshd[{}]: Accepted publickey for deploy from 10.0.0.{} port {}\n", i % 60, 1000 + i, i % 200, 40000 + i));
    }
    auth.push_str("2026-05-09T07:59:00Z web1 kernel: Out of memory: Killed process 4242 (java)\n");
    fs::write(dir.path().join("auth.log"), auth).unwrap();
    let out = run(anomalizer()
        .args(["--format", "jsonl", "--log-dir"])
        .arg(dir.path()));
    let recs = records(&out.stdout);
    let from = |name: &str| -> Vec<&Value> {
        recs.iter()
            .filter(|r| r["source"].as_str().is_some_and(|s| s.ends_with(name)))
            .collect()
    };
    let package = [from("dpkg.log"), from("apt/history.log")].concat();
    assert!(
        !package.is_empty(),
        "the package manager's activity is still reported: {recs:#?}"
    );
    for rec in &package {
        assert_eq!(
            (
                rec["severity"].as_str(),
                rec["alert"].as_str(),
                rec["expected"].as_str()
            ),
            (Some("info"), Some("none"), Some("package manager")),
            "{rec}"
        );
        assert!(
            rec["message"]
                .as_str()
                .unwrap()
                .starts_with("Expected package-manager activity: ")
        );
    }
    let oom: Vec<_> = from("auth.log")
        .into_iter()
        .filter(|r| r["message"].as_str().unwrap().contains("Out of memory"))
        .collect();
    assert_eq!(
        (
            oom.len(),
            oom[0]["severity"].as_str(),
            oom[0]["alert"].as_str()
        ),
        (1, Some("critical"), Some("firing"))
    );
}

#[test]
fn a_bad_log_format_is_a_usage_error() {
    let out = run(anomalizer()
        .args(["--log-format", "<Date> <Time>"])
        .stdin_bytes("x\n"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("<Content>"), "{}", stderr(&out));
}

#[test]
fn crlf_loghub_files_parse_the_same_as_lf() {
    let log = data_dir().join("loghub/HDFS/HDFS_2k.log");
    let crlf = fs::read(&log).unwrap();
    assert!(
        crlf.windows(2).any(|w| w == b"\r\n"),
        "the Loghub file has CRLF endings"
    );
    let dir = tempfile::tempdir().unwrap();
    let lf_path = dir.path().join("lf.log");
    fs::write(
        &lf_path,
        String::from_utf8(crlf).unwrap().replace("\r\n", "\n"),
    )
    .unwrap();
    let format = loghub_format("HDFS");
    let parse = |path: &Path| {
        let out =
            run(bin()
                .arg("parse")
                .arg(path)
                .args(["--log-format", &format, "--format", "jsonl"]));
        assert!(out.status.success(), "{}", stderr(&out));
        records(&out.stdout)
            .into_iter()
            .map(|r| (r["line"].clone(), r["template"].clone()))
            .collect::<Vec<_>>()
    };
    let (a, b) = (parse(&log), parse(&lf_path));
    assert_eq!(a.len(), 2000);
    assert_eq!(a, b);
}

#[test]
fn templates_unseen_while_learning_are_reported_as_new() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.log");
    let today = dir.path().join("today.log");
    let model = dir.path().join("model.json");
    fs::write(&good, auth_log()).unwrap();
    fs::write(
        &today,
        auth_log() + "sudo: deploy : command not allowed ; COMMAND=/bin/sh\n",
    )
    .unwrap();
    let out = run(bin()
        .arg("learn")
        .arg("--log")
        .arg(&good)
        .arg("--model")
        .arg(&model));
    assert!(out.status.success(), "{}", stderr(&out));
    let saved: Value = serde_json::from_slice(&fs::read(&model).unwrap()).unwrap();
    assert_eq!(saved["version"], 2);
    assert_eq!(saved["templates"].as_array().unwrap().len(), 3);
    let good_name = good.display().to_string();
    assert_eq!(
        saved["sources"][&good_name].as_array().unwrap().len(),
        3,
        "{saved:#}"
    );

    let out = run(anomalizer()
        .arg("--log")
        .arg(&today)
        .arg("--model")
        .arg(&model)
        .args(["--format", "jsonl"]));
    assert_eq!(
        out.status.code(),
        Some(1),
        "the out-of-memory kill is critical: {}",
        stderr(&out)
    );
    let recs = records(&out.stdout);
    let new = by_detector(&recs, "new_template");
    assert_eq!(new.len(), 1, "{recs:#?}");
    assert_eq!(
        new[0]["template"],
        "sudo: deploy : command not allowed ; COMMAND=<*>"
    );
    assert_eq!(new[0]["first_seen"], format!("{}:502", today.display()));

    fs::write(&model, r#"{"version":1,"templates":[],"extra":true}"#).unwrap();
    let out = run(anomalizer()
        .arg("--log")
        .arg(&today)
        .arg("--model")
        .arg(&model));
    assert_eq!(
        out.status.code(),
        Some(2),
        "a model with unknown keys is refused"
    );
    assert!(stderr(&out).contains("extra"), "{}", stderr(&out));
}

#[test]
fn a_learnt_model_judges_each_source_against_its_own_past() {
    let dir = tempfile::tempdir().unwrap();
    let (auth, app) = (dir.path().join("auth.log"), dir.path().join("app.log"));
    let model = dir.path().join("model.json");
    let app_log = |n: usize| -> String {
        (0..n)
            .map(|i| format!("worker {i} started in {}ms\n", 10 + i))
            .collect()
    };
    fs::write(&auth, auth_log()).unwrap();
    fs::write(&app, app_log(200)).unwrap();
    let out = run(bin()
        .arg("learn")
        .arg("--log")
        .arg(&auth)
        .arg("--log")
        .arg(&app)
        .arg("--model")
        .arg(&model));
    assert!(out.status.success(), "{}", stderr(&out));
    let saved: Value = serde_json::from_slice(&fs::read(&model).unwrap()).unwrap();
    let sources = saved["sources"].as_object().unwrap();
    assert_eq!(sources.len(), 2, "{saved:#}");
    assert_eq!(
        sources[&app.display().to_string()],
        serde_json::json!(["worker <*> started in <*>"])
    );

    // The app's line turns up in the auth log: known to the model, but
    // never seen in that source.
    fs::write(&auth, auth_log() + "worker 9 started in 12ms\n").unwrap();
    let recs = run_records(
        anomalizer()
            .args([&auth, &app])
            .arg("--model")
            .arg(&model)
            .args(["--format", "jsonl"]),
    );
    let new = by_detector(&recs, "new_template");
    assert_eq!(new.len(), 1, "{recs:#?}");
    assert_eq!(new[0]["source"], auth.display().to_string());
    assert_eq!(new[0]["template"], "worker <*> started in <*>");
}

#[test]
fn a_storm_of_one_template_is_a_burst_with_its_time() {
    let mut log = String::new();
    for minute in 0..60 {
        log += &format!("2026-11-21T10:{minute:02}:00Z heartbeat ok seq={minute}\n");
        if minute % 10 == 0 {
            log += &format!(
                "2026-11-21T10:{minute:02}:30Z Failed password for user{minute} from 10.0.0.{minute}\n"
            );
        }
    }
    for second in 0..40 {
        log += &format!(
            "2026-11-21T11:00:{second:02}Z Failed password for user{second} from 10.0.1.{second}\n"
        );
    }
    let recs = run_records(anomalizer().args(["--format", "jsonl"]).stdin_bytes(log));
    let bursts = by_detector(&recs, "burst");
    assert_eq!(bursts.len(), 1, "{recs:#?}");
    assert_eq!(bursts[0]["template"], "Failed password for <*> from <*>");
    assert_eq!(bursts[0]["count"], 40);
    assert_eq!(bursts[0]["window_start"], "2026-11-21T11:00:00Z");
    assert_eq!(bursts[0]["first_time"], "2026-11-21T10:00:30Z");
    assert_eq!(bursts[0]["last_time"], "2026-11-21T11:00:39Z");
}

#[test]
fn a_template_that_slows_far_below_its_rate_is_a_slowdown() {
    // "request served" 60 times a minute; from 10:30 to 10:50 six times a
    // minute, then back. A heartbeat keeps the source going throughout.
    let mut log = String::new();
    for minute in 0..70 {
        let per_minute = if (30..50).contains(&minute) { 6 } else { 60 };
        let (h, m) = (10 + minute / 60, minute % 60);
        for i in 0..per_minute {
            let second = i * 60 / per_minute;
            log += &format!("2026-11-21T{h:02}:{m:02}:{second:02}Z request served in {i}ms\n");
        }
        log += &format!("2026-11-21T{h:02}:{m:02}:59Z heartbeat ok seq={minute}\n");
    }
    let recs = run_records(anomalizer().args(["--format", "jsonl"]).stdin_bytes(log));
    let slow = by_detector(&recs, "slowdown");
    assert_eq!(slow.len(), 1, "{recs:#?}");
    assert_eq!(slow[0]["kind"], "log.slowdown");
    assert_eq!(slow[0]["template"], "request served in <*>");
    assert_eq!(slow[0]["slow_from"], "2026-11-21T10:30:00Z");
    assert_eq!(slow[0]["slow_until"], "2026-11-21T10:50:00Z");
    assert_eq!(slow[0]["count"], 120);
    assert_eq!(slow[0]["expected"], 1200.0);
    assert!(by_detector(&recs, "silence").is_empty(), "it never stopped");
}

/// `count` lines of one steady template a minute apart from 10:00, plus
/// `odd` once at line `odd_at`.
fn steady_log(count: u32, odd_at: u32) -> String {
    let mut log = String::new();
    for i in 0..count {
        let (h, m) = (10 + i / 60, i % 60);
        log += &format!("2026-11-21T{h:02}:{m:02}:00Z worker {i} finished batch ok\n");
        if i == odd_at {
            log += &format!("2026-11-21T{h:02}:{m:02}:30Z disk sda1 remounted read-only\n");
        }
    }
    log
}

#[test]
fn each_file_is_judged_by_its_own_volume() {
    let dir = tempfile::tempdir().unwrap();
    // The odd line is 1 of 61 lines in the small file (not rare there),
    // although it would be 1 of 10,061 lines over both files.
    fs::write(dir.path().join("small.log"), steady_log(60, 30)).unwrap();
    let mut big = String::new();
    for i in 0..10_000 {
        big += &format!("GET /index.html 200 {i}\n");
    }
    big += "GET /admin.php 403 1\n";
    fs::write(dir.path().join("big.log"), big).unwrap();
    let recs = run_records(
        anomalizer()
            .arg("--log-dir")
            .arg(dir.path())
            .args(["--format", "jsonl"]),
    );
    let rare = by_detector(&recs, "rare_template");
    assert_eq!(rare.len(), 1, "{rare:#?}");
    assert_eq!(rare[0]["template"], "GET /admin.php <*> <*>");
    assert!(rare[0]["source"].as_str().unwrap().ends_with("big.log"));
    assert_eq!(rare[0]["source_lines"], 10_001);
    assert_eq!(rare[0]["context_line"], "GET /admin.php 403 1");
    assert_eq!(
        rare[0]["context_before"].as_array().unwrap().len(),
        3,
        "{:#?}",
        rare[0]
    );
    assert_eq!(rare[0]["context_after"], serde_json::json!([]));
    let summary = recs.last().unwrap();
    assert_eq!(summary["sources"], 2);
}

#[test]
fn a_plain_line_s_level_is_read_from_its_header() {
    let mut log = String::new();
    for i in 0..300 {
        log += &format!(
            "2026-11-21T10:{:02}:00Z INFO request served in {i}ms\n",
            i % 60
        );
    }
    log += "2026-11-21T10:59:30Z [ERROR] disk sda1 remounted read-only\n";
    let recs = run_records(
        anomalizer()
            .args(["--format", "jsonl", "--log", "-"])
            .stdin_bytes(log),
    );
    let rare = by_detector(&recs, "rare_template");
    assert_eq!(rare.len(), 1, "{recs:#?}");
    assert_eq!(rare[0]["template"], "disk sda1 remounted read-only");
    assert_eq!(rare[0]["level"], "ERROR");
}

#[test]
fn a_heartbeat_that_stops_is_a_silence_with_its_times() {
    // A heartbeat each minute until 11:29, requests each minute until 11:59.
    let mut log = String::new();
    for i in 0..120 {
        let (h, m) = (10 + i / 60, i % 60);
        if i < 90 {
            log += &format!("2026-11-21T{h:02}:{m:02}:05Z heartbeat ok seq={i}\n");
        }
        log += &format!(
            "2026-11-21T{h:02}:{m:02}:10Z request served in {}ms\n",
            i % 7
        );
    }
    let recs = run_records(anomalizer().args(["--format", "jsonl"]).stdin_bytes(log));
    let silences = by_detector(&recs, "silence");
    assert_eq!(silences.len(), 1, "{recs:#?}");
    let s = silences[0];
    assert_eq!(s["template"], "heartbeat ok seq=<*>");
    assert_eq!(s["silent_from"], "2026-11-21T11:29:05Z");
    assert_eq!(s["silent_until"], "2026-11-21T11:59:10Z");
    assert_eq!(s["ongoing"], true);
    assert_eq!(s["usual_gap_secs"], 60.0);
    assert_eq!(
        s["context_line"], "2026-11-21T11:29:05Z heartbeat ok seq=89",
        "an ongoing silence shows the last line before it"
    );
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .starts_with("Silence: \"heartbeat ok seq=<*>\" quiet for 30m")
    );
    assert_eq!(recs.last().unwrap()["silences"], 1);
}

#[test]
fn journald_json_is_split_by_unit() {
    let mut log = String::new();
    let start: u64 = 1_795_287_720_000_000;
    for i in 0..400u64 {
        log += &format!(
            r#"{{"__REALTIME_TIMESTAMP":"{}","_HOSTNAME":"web1","_SYSTEMD_UNIT":"nginx.service","PRIORITY":"6","MESSAGE":"GET /page/{i} 200"}}"#,
            start + i * 1_000_000
        );
        log.push('\n');
    }
    // cron logs little, so one odd line is not rare for cron's volume.
    for i in 0..20u64 {
        log += &format!(
            r#"{{"__REALTIME_TIMESTAMP":"{}","_HOSTNAME":"web1","_SYSTEMD_UNIT":"cron.service","PRIORITY":"6","MESSAGE":"job {i} ran"}}"#,
            start + i * 20_000_000
        );
        log.push('\n');
    }
    log += r#"{"__REALTIME_TIMESTAMP":"1795288000000000","_HOSTNAME":"web1","_SYSTEMD_UNIT":"cron.service","PRIORITY":"3","MESSAGE":"job failed: no space left"}"#;
    log.push('\n');
    log += r#"{"__REALTIME_TIMESTAMP":"1795288000000000","_HOSTNAME":"web1","_SYSTEMD_UNIT":"nginx.service","PRIORITY":"3","MESSAGE":"upstream timed out"}"#;
    log.push('\n');
    let out = run(anomalizer().args(["--format", "jsonl"]).stdin_bytes(log));
    assert_eq!(
        out.status.code(),
        Some(1),
        "\"upstream timed out\" at level err is high: {}",
        stderr(&out)
    );
    let recs = records(&out.stdout);
    let rare = by_detector(&recs, "rare_template");
    assert_eq!(rare.len(), 1, "{rare:#?}");
    assert_eq!(rare[0]["source"], "web1/nginx.service");
    assert_eq!(rare[0]["template"], "upstream timed out");
    assert_eq!(rare[0]["level"], "err");
    assert_eq!(rare[0]["first_time"], "2026-11-21T19:06:40Z");
    assert_eq!(recs.last().unwrap()["sources"], 2);
}

#[test]
fn a_format_regex_splits_custom_lines_and_bad_ones_are_named() {
    let mut log = String::new();
    for i in 0..300 {
        log += &format!("{i:05}|api|INFO|request {i} served\n");
    }
    log += "00300|api|ERROR|database connection lost\n";
    let out = run(anomalizer()
        .args([
            "--format",
            "jsonl",
            "--format-regex",
            r"^(?P<ts>\d+)\|(?P<source>\w+)\|(?P<level>\w+)\|(?P<msg>.*)$",
        ])
        .stdin_bytes(log));
    assert_eq!(
        out.status.code(),
        Some(1),
        "an ERROR line is high: {}",
        stderr(&out)
    );
    let recs = records(&out.stdout);
    let rare = by_detector(&recs, "rare_template");
    assert_eq!(rare.len(), 1, "{recs:#?}");
    assert_eq!(rare[0]["template"], "database connection lost");
    assert_eq!(rare[0]["source"], "api");
    assert_eq!(rare[0]["level"], "ERROR");

    let out = run(anomalizer()
        .args(["--format-regex", r"^(?P<msg>.*"])
        .stdin_bytes("x\n"));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(r#"--format-regex "^(?P<msg>.*""#), "{err}");
}

#[test]
fn findings_are_capped_per_source_and_the_rest_counted() {
    let mut log = String::new();
    for i in 0..2000 {
        log += &format!("steady line number {i}\n");
    }
    for word in [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliet", "kilo", "lima", "mike", "november", "oscar",
    ] {
        log += &format!("{word} happened\n");
    }
    let recs = run_records(
        anomalizer()
            .args(["--format", "jsonl", "--max-per-source", "4"])
            .stdin_bytes(log),
    );
    assert_eq!(recs.len(), 5, "4 findings and the summary: {recs:#?}");
    assert_eq!(recs[4]["suppressed"], 11);
}

#[test]
fn binary_files_are_skipped_whole_and_a_rotated_set_is_one_source() {
    let dir = tempfile::tempdir().unwrap();
    // A sparse lastlog or wtmp: all NULs and record bytes.
    fs::write(dir.path().join("wtmp"), [0u8; 8192]).unwrap();
    write_gz(&dir.path().join("app.log.2.gz"), "service started\n");
    fs::write(dir.path().join("app.log.1"), "service started\n").unwrap();
    fs::write(dir.path().join("app.log"), "service started\n").unwrap();
    // A directory given as a plain argument, as `anomalizer /var/log`.
    let out = run(anomalizer().arg(dir.path()).args(["--format", "jsonl"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = records(&out.stdout).pop().unwrap();
    assert_eq!(summary["binary_files"], 1);
    assert_eq!(summary["binary_lines"], 0, "not read line by line");
    assert_eq!(summary["lines"], 3);
    assert_eq!(summary["sources"], 1, "app.log.2.gz, app.log.1, app.log");
    assert!(
        stderr(&out).contains("1 file was binary"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_summary_file_holds_sources_findings_and_a_timeline() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("app.log"), steady_log(150, 30)).unwrap();
    let json = dir.path().join("insights.json");
    let md = dir.path().join("insights.md");
    for path in [&json, &md] {
        let out = run(anomalizer()
            .arg("--log")
            .arg(dir.path().join("app.log"))
            .arg("--summary")
            .arg(path)
            .args(["--format", "jsonl"]));
        assert_eq!(
            out.status.code(),
            Some(1),
            "a disk remounted read-only is critical: {}",
            stderr(&out)
        );
    }
    let s: Value = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
    assert_eq!(s["version"], 1);
    assert_eq!(s["summary"]["kind"], "log.summary");
    assert_eq!(s["sources"][0]["lines"], 151);
    assert_eq!(s["sources"][0]["first_time"], "2026-11-21T10:00:00Z");
    assert_eq!(
        s["top_templates"][0]["template"],
        "worker <*> finished batch ok"
    );
    assert_eq!(s["findings"][0]["detector"], "rare_template");
    let hours = &s["timeline"]["templates"][0]["hours"];
    assert_eq!(
        hours,
        &serde_json::json!([
            ["2026-11-21T10:00:00Z", 60],
            ["2026-11-21T11:00:00Z", 60],
            ["2026-11-21T12:00:00Z", 30]
        ])
    );
    let text = fs::read_to_string(&md).unwrap();
    assert!(text.contains("## Timeline"), "{text}");
    assert!(text.contains("██▅  worker <*> finished batch ok"), "{text}");
    assert!(
        text.contains("- Rare template: \"disk sda1 remounted read-only\""),
        "{text}"
    );
}

#[test]
fn the_summary_record_carries_the_last_week_of_lines_per_hour() {
    // 200 hours from 2026-11-10: a worker line (h % 7 + 1) times in every
    // hour but each fifth, and a cache line twice every third hour.
    let mut log = String::new();
    let mut expected: [std::collections::BTreeMap<u32, u64>; 2] = Default::default();
    for h in 0..200u32 {
        let stamp =
            |minute: u32| format!("2026-11-{:02}T{:02}:{minute:02}:00Z", 10 + h / 24, h % 24);
        if h % 5 != 0 {
            for i in 0..h % 7 + 1 {
                log += &format!("{} worker {i} finished batch ok\n", stamp(i));
                *expected[0].entry(h).or_default() += 1;
            }
        }
        if h % 3 == 0 {
            for i in 0..2 {
                log += &format!("{} cache refreshed {} entries\n", stamp(30 + i), h * 10 + i);
                *expected[1].entry(h).or_default() += 1;
            }
        }
    }
    // The input ends in hour 199: the last week starts at hour 32.
    let hours = |counts: &std::collections::BTreeMap<u32, u64>| -> Value {
        counts
            .range(199 - 167..)
            .map(|(h, n)| {
                serde_json::json!([
                    format!("2026-11-{:02}T{:02}:00:00Z", 10 + h / 24, h % 24),
                    n
                ])
            })
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let insights = dir.path().join("insights.json");
    let out = run(anomalizer()
        .args(["--format", "jsonl", "--summary"])
        .arg(&insights)
        .stdin_bytes(log));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let line = text.lines().last().unwrap();
    let summary: Value = serde_json::from_str(line).unwrap();
    assert_eq!(summary["kind"], "log.summary", "the summary is one line");
    let timeline = &summary["timeline"];
    assert_eq!(timeline["bucket_secs"], 3600);
    let series = timeline["templates"].as_array().unwrap();
    assert_eq!(series.len(), 2, "{timeline}");
    assert!(
        series[0]["template"]
            .as_str()
            .unwrap()
            .starts_with("worker")
    );
    assert!(series[1]["template"].as_str().unwrap().starts_with("cache"));
    assert!(series[0]["template_id"].is_u64());
    assert_eq!(series[0]["hours"], hours(&expected[0]));
    assert_eq!(series[1]["hours"], hours(&expected[1]));
    // The --summary file keeps its own full timeline, not a second copy.
    let file: Value = serde_json::from_slice(&fs::read(&insights).unwrap()).unwrap();
    assert!(
        file["summary"].get("timeline").is_none(),
        "{}",
        file["summary"]
    );
    assert_eq!(
        file["timeline"]["templates"][0]["hours"]
            .as_array()
            .unwrap()
            .len(),
        160
    );

    // No line with a time: the field is there, null.
    let out = run(anomalizer()
        .args(["--format", "jsonl"])
        .stdin_bytes(auth_log()));
    let recs = records(&out.stdout);
    let summary = recs.iter().find(|r| r["kind"] == "log.summary").unwrap();
    assert_eq!(summary["timeline"], Value::Null);
    assert!(summary.as_object().unwrap().contains_key("timeline"));
}

#[test]
fn user_masks_group_what_the_built_in_masking_does_not() {
    let pods = [
        "web-7d9f8b6c5-x2x9k",
        "web-7d9f8b6c5-qq7rt",
        "api-5c4b9-zz1aa",
    ];
    let log: String = pods.iter().map(|p| format!("restarted {p}\n")).collect();
    let templates = |masks: &[&str]| -> Vec<String> {
        let mut cmd = bin();
        cmd.args(["parse", "-", "--format", "jsonl"]);
        for m in masks {
            cmd.args(["--mask", m]);
        }
        let recs = run_records(cmd.stdin_bytes(log.clone()));
        recs.iter()
            .map(|r| r["template"].as_str().unwrap().to_string())
            .collect()
    };
    // Two tokens, one different: below the similarity, apart.
    let plain = templates(&[]);
    assert_ne!(plain[0], plain[2], "{plain:?}");
    assert_eq!(
        templates(&[r"\b[a-z]+-[0-9a-z]+(-[0-9a-z]+)?\b=POD"]),
        ["restarted <POD>"; 3]
    );
    let out = run(bin()
        .args(["parse", "-", "--mask", "(unclosed=POD"])
        .stdin_bytes(log));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--mask \"(unclosed=POD\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn parse_keeps_every_line_in_order_past_what_it_holds_in_memory() {
    // More lines than parse keeps in memory (65,536): the rest go through
    // its temporary file and must come back in order.
    let n = 140_000u64;
    let log: String = (1..=n)
        .map(|i| match i % 3 {
            0 => format!("job {i} failed on node-{}\n", i % 7),
            _ => format!("request {i} served in {} ms\n", i % 50),
        })
        .collect();
    let out = run(bin()
        .args(["parse", "-", "--format", "csv"])
        .stdin_bytes(log));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rows = text.lines().skip(1);
    for i in 1..=n {
        let row = rows.next().unwrap_or_else(|| panic!("line {i} is missing"));
        let fields: Vec<&str> = row.rsplitn(3, ',').collect();
        assert_eq!(
            fields[2].rsplit(',').next(),
            Some(i.to_string().as_str()),
            "{row}"
        );
        let failed = fields[0].starts_with("job");
        assert_eq!(failed, i % 3 == 0, "{row}");
    }
    assert_eq!(rows.next(), None);
}
