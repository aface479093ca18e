//! The scheduling files in cron/ are code too: every crontab line and unit
//! must parse, name programs that exist, and pass flags the tools accept;
//! every log they append to must be rotated; the Prometheus rules must pass
//! promtool's check and their own unit tests.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use secops_pipeline_tests::schedule_files::{
    Script, cron_files, cron_jobs, exec_lines, parse_shell, with_extension,
};
use secops_pipeline_tests::{bin_dir, repo, tool};

/// The workspace's tools: a command naming one of these is run with
/// `--help` appended, which makes clap check every flag and value before it.
const TOOLS: &[&str] = &[
    "anomalizer",
    "backup-rotate",
    "disk-alert",
    "fim-check",
    "healthmon",
    "remote-run",
    "secops",
    "secops-notify",
    "secops-report",
    "traffic-cop",
    "vulnscan",
];

/// The tools that watch something and so need a systemd unit to schedule
/// them (secops-report and secops-notify run inside their pipelines).
const SCHEDULED: &[&str] = &[
    "anomalizer",
    "backup-rotate",
    "disk-alert",
    "fim-check",
    "healthmon",
    "traffic-cop",
    "vulnscan",
];

/// Shell builtins the schedules use.
const SHELL_BUILTINS: &[&str] = &["set"];

/// Checks one command line from `origin`: each program exists, and each of
/// our tools accepts the flags given (clap parses every one of them before
/// it acts on a trailing `--help`, so a typo or a bad value fails).
fn check_script(origin: &str, script: &Script) {
    assert!(!script.commands.is_empty(), "{origin}: no command");
    for words in &script.commands {
        let program = Path::new(&words[0]);
        let name = program.file_name().unwrap().to_str().unwrap();
        if TOOLS.contains(&name) {
            // Before any `--`: what follows is remote-run's remote command.
            let split = words.iter().position(|w| w == "--").unwrap_or(words.len());
            let out = tool(name)
                .args(&words[1..split])
                .arg("--help")
                .args(&words[split..])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{origin}: `{}` is refused by {name}:\n{}",
                words.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
            if split < words.len() && name == "remote-run" {
                // The remote command is one of ours too: check it the same way.
                let remote = words[split + 1..].join(" ");
                check_script(&format!("{origin} (remote)"), &parse_shell(&remote));
            }
        } else if SHELL_BUILTINS.contains(&name) {
            // `set -o pipefail`: the shell's own.
        } else if program.is_absolute() {
            assert!(
                program.exists(),
                "{origin}: {} does not exist",
                program.display()
            );
        } else {
            assert!(
                which::which(name).is_ok(),
                "{origin}: `{name}` is not on PATH (install it, or fix the line)"
            );
        }
    }
}

#[test]
fn crontab_lines_parse_and_name_real_programs_and_flags() {
    let crontabs = with_extension("cron");
    assert!(crontabs.iter().any(|p| p.ends_with("secops.cron")));
    let mut scheduled = BTreeSet::new();
    for path in &crontabs {
        let jobs = cron_jobs(path);
        assert!(!jobs.is_empty(), "{} has no jobs", path.display());
        for (origin, command) in jobs {
            let script = parse_shell(&command);
            check_script(&origin, &script);
            for words in &script.commands {
                scheduled.insert(words[0].clone());
            }
        }
    }
    // secops.cron schedules every monitor and sends what they find on.
    for tool in SCHEDULED.iter().chain(&["secops-notify"]) {
        assert!(scheduled.contains(*tool), "no crontab line runs {tool}");
    }
}

#[test]
fn systemd_units_verify_and_run_real_flags() {
    let units: Vec<PathBuf> = cron_files()
        .into_iter()
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "service" || e == "timer")
        })
        .collect();
    // systemd-analyze checks that ExecStart's program is executable: point
    // /usr/local/bin at the binaries this test run built.
    let dir = tempfile::tempdir().unwrap();
    let bins = format!("{}/", bin_dir().display());
    for unit in &units {
        let text = std::fs::read_to_string(unit).unwrap();
        std::fs::write(
            dir.path().join(unit.file_name().unwrap()),
            text.replace("/usr/local/bin/", &bins),
        )
        .unwrap();
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(
            units
                .iter()
                .map(|u| dir.path().join(u.file_name().unwrap())),
        )
        .output()
        .expect("systemd-analyze must be installed (apt-get install systemd)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {stderr}"
    );

    let mut scheduled = BTreeSet::new();
    for service in units.iter().filter(|u| u.extension().unwrap() == "service") {
        let text = std::fs::read_to_string(service).unwrap();
        let name = service.file_name().unwrap().to_string_lossy();
        assert!(
            text.contains("\nNoNewPrivileges=yes"),
            "{name}: every unit runs with NoNewPrivileges=yes"
        );
        for (origin, script) in exec_lines(service) {
            check_script(&origin, &script);
            for words in &script.commands {
                let program = Path::new(&words[0]).file_name().unwrap().to_string_lossy();
                scheduled.insert(program.into_owned());
            }
        }
    }
    for tool in SCHEDULED {
        assert!(scheduled.contains(*tool), "no systemd unit runs {tool}");
    }
    // Each timer starts a service that exists.
    for timer in units.iter().filter(|u| u.extension().unwrap() == "timer") {
        let service = timer.with_extension("service");
        assert!(
            service.exists(),
            "{} has no {}",
            timer.display(),
            service.display()
        );
    }
}

#[test]
fn every_log_a_schedule_appends_to_is_rotated() {
    let mut logs = BTreeSet::new();
    for path in with_extension("cron") {
        for (_, command) in cron_jobs(&path) {
            logs.extend(parse_shell(&command).appends);
        }
    }
    for unit in with_extension("service") {
        for (_, script) in exec_lines(&unit) {
            logs.extend(script.appends);
        }
    }
    assert!(logs.len() >= 5, "expected the tools' logs, found {logs:?}");

    let mut globs = globset::GlobSetBuilder::new();
    let state = tempfile::tempdir().unwrap();
    for snippet in with_extension("logrotate") {
        let text = std::fs::read_to_string(&snippet).unwrap();
        // The file patterns are the words before each `{`.
        for header in text.lines().filter(|l| l.trim_end().ends_with('{')) {
            for pattern in header.trim_end_matches('{').split_whitespace() {
                globs.add(globset::Glob::new(pattern).unwrap());
            }
        }
        // logrotate's own parser, in debug mode (reads, rotates nothing).
        let out = Command::new("logrotate")
            .arg("-d")
            .arg("-s")
            .arg(state.path().join("status"))
            .arg(&snippet)
            .output()
            .expect("logrotate must be installed (apt-get install logrotate)");
        assert!(
            out.status.success(),
            "logrotate -d {}: {}",
            snippet.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let globs = globs.build().unwrap();
    for log in &logs {
        assert!(
            log.starts_with("/var/log/"),
            "{log}: logs belong under /var/log"
        );
        assert!(
            globs.is_match(log),
            "{log} is written but no cron/*.logrotate rotates it"
        );
    }
}

#[test]
fn prometheus_alert_rules_check_and_pass_their_unit_tests() {
    let rules = repo("prometheus/secops.rules.yml");
    for args in [vec!["check", "rules"], vec!["test", "rules"]] {
        let file = if args[0] == "check" {
            rules.clone()
        } else {
            repo("prometheus/secops.rules.test.yml")
        };
        let out = Command::new("promtool")
            .args(&args)
            .arg(&file)
            .output()
            .expect("promtool must be installed (apt-get install prometheus)");
        assert!(
            out.status.success(),
            "promtool {} {}: {}{}",
            args.join(" "),
            file.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The rules speak of the metrics the tools really write.
    let text = std::fs::read_to_string(&rules).unwrap();
    for metric in [
        "disk_alert_level",
        "disk_alert_check_failed",
        "healthmon_alert_level",
    ] {
        assert!(text.contains(metric), "no rule on {metric}");
        let source = if metric.starts_with("disk") {
            "crates/disk-alert/src/metrics.rs"
        } else {
            "crates/healthmon/src/metrics.rs"
        };
        let code = std::fs::read_to_string(repo(source)).unwrap();
        assert!(
            code.contains(&format!("\"{metric}\"")),
            "{source} no longer writes {metric}"
        );
    }
}

#[test]
fn shell_parser_understands_the_constructs_used() {
    let s = parse_shell(
        r#"a --x '*.cache' "b c" 2>>/var/log/e.log | tee -a /var/log/t.jsonl | n >>/var/log/n.jsonl 2>&1"#,
    );
    assert_eq!(
        s.commands,
        vec![
            vec!["a", "--x", "*.cache", "b c"],
            vec!["tee", "-a", "/var/log/t.jsonl"],
            vec!["n"],
        ]
    );
    assert_eq!(
        s.appends,
        vec!["/var/log/e.log", "/var/log/n.jsonl", "/var/log/t.jsonl"]
    );
}

/// Every shipped pipeline (`tool | tee | secops-notify`, in a unit or a
/// crontab line) ends with the tool's status when the tool fails, not the
/// notifier's: a unit whose tool failed must fail (`pipefail`), so systemd
/// shows it and `OnFailure=` fires. The tools are the real binaries, made
/// to fail by a flag they refuse (exit 2), and to succeed by `--version`;
/// secops-notify is the real one with an `--exec` sink.
#[test]
fn shipped_pipelines_fail_when_their_tool_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, log) = (dir.path().join("bin"), dir.path().join("log"));
    std::fs::create_dir_all(&log).unwrap();
    let wrap = |tool_args: &str| {
        let _ = std::fs::remove_dir_all(&bin);
        std::fs::create_dir_all(&bin).unwrap();
        for name in TOOLS.iter().chain(&["journalctl"]) {
            let body = match *name {
                "secops-notify" => format!(
                    "exec '{}/secops-notify' --state-dir '{}' --exec 'cat >/dev/null'",
                    bin_dir().display(),
                    dir.path().join("notify").display()
                ),
                // The journal is only the input: empty.
                "journalctl" => "exit 0".to_string(),
                _ => format!("exec '{}/{name}' {tool_args}", bin_dir().display()),
            };
            let path = bin.join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    };
    let localize = |text: &str| {
        text.replace("/usr/local/bin/", &format!("{}/", bin.display()))
            .replace(
                "/usr/bin/journalctl",
                &bin.join("journalctl").display().to_string(),
            )
            .replace("/var/log/secops", &log.display().to_string())
            .replace(
                "/var/log/disk_alert.log",
                &log.join("disk_alert.log").display().to_string(),
            )
    };
    // (origin, program and arguments) of every pipeline that feeds a tool
    // into secops-notify.
    let mut pipelines: Vec<(String, Vec<String>)> = Vec::new();
    for unit in with_extension("service") {
        let text = std::fs::read_to_string(&unit).unwrap();
        for (i, line) in text.lines().enumerate() {
            if let Some(value) = line.strip_prefix("ExecStart=")
                && value.contains("secops-notify")
            {
                let origin = format!("{}:{}", unit.file_name().unwrap().to_string_lossy(), i + 1);
                pipelines.push((origin, parse_shell(value).commands.remove(0)));
            }
        }
    }
    for crontab in with_extension("cron") {
        for (origin, command) in cron_jobs(&crontab) {
            if command.contains("| secops-notify") {
                pipelines.push((origin, vec!["/bin/bash".into(), "-c".into(), command]));
            }
        }
    }
    assert!(pipelines.len() >= 15, "{pipelines:?}");
    let run = |words: &[String]| {
        let words: Vec<String> = words.iter().map(|w| localize(w)).collect();
        Command::new(&words[0])
            .args(&words[1..])
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .output()
            .unwrap()
    };
    wrap("--no-such-flag");
    for (origin, words) in &pipelines {
        let out = run(words);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{origin}: the tool failed with 2, the pipeline must too: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    wrap("--version >/dev/null");
    for (origin, words) in &pipelines {
        let out = run(words);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{origin}: every part succeeded: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
