//! The shipped systemd units are hardened, the hardening leaves each tool
//! able to do its job, and every shipped command line runs clean.
//!
//! systemd is not PID 1 on the machines these tests run on, so a unit
//! cannot be started as systemd would start it. Instead each unit's
//! ExecStart runs in a sandbox built from the unit's own settings with
//! bubblewrap: `ProtectSystem=strict` (the root read-only, only the
//! unit's log, state and `ReadWritePaths=` writable), `PrivateTmp=`,
//! `PrivateDevices=`, `ProtectHome=`, `ProtectProc=invisible` (a pid
//! namespace of its own, which hides more), `UMask=`, `Environment=`,
//! `NoNewPrivileges=` and `CapabilityBoundingSet=` (its processes hold
//! those capabilities and no others); and under strace, whose log is held
//! against `SystemCallFilter=`, `RestrictAddressFamilies=`,
//! `MemoryDenyWriteExecute=` and `ProcSubset=pid` (every system call,
//! socket family, W+X mapping and /proc file the run used must be allowed).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use secops_pipeline_tests::schedule_files::{cron_jobs, parse_shell, with_extension};
use secops_pipeline_tests::{bin_dir, repo};
use serde_json::Value;

/// The exposure `systemd-analyze security` may give a shipped unit at
/// most: 4.5 and below is "OK" (below 2.0 "SAFE").
const MAX_EXPOSURE: f64 = 4.5;

/// The `[Service]` settings of a unit, in order (a key may repeat).
fn directives(unit: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(unit).unwrap();
    let mut section = String::new();
    let mut found = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_string();
        } else if section == "[Service]"
            && !line.starts_with('#')
            && let Some((key, value)) = line.split_once('=')
        {
            found.push((key.to_string(), value.to_string()));
        }
    }
    found
}

fn values<'d>(directives: &'d [(String, String)], key: &str) -> Vec<&'d str> {
    directives
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn value<'d>(directives: &'d [(String, String)], key: &str) -> Option<&'d str> {
    values(directives, key).last().copied()
}

/// `systemd-analyze security --offline=true`'s overall exposure of a unit.
fn exposure(unit: &Path) -> f64 {
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(unit)
        .output()
        .expect("systemd-analyze must be installed (apt-get install systemd)");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level for"))
        .unwrap_or_else(|| {
            panic!(
                "{}: no overall exposure in systemd-analyze's answer: {text}{}",
                unit.display(),
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let after = line.rsplit_once(": ").unwrap().1;
    after.split_whitespace().next().unwrap().parse().unwrap()
}

/// Every shipped unit is hardened to "OK" or better, and its comment and
/// docs/scheduling.md give the score it really has.
#[test]
fn every_unit_scores_ok_in_systemd_analyze_security() {
    let units = with_extension("service");
    assert!(units.len() >= 9, "{units:?}");
    let docs = std::fs::read_to_string(repo("docs/scheduling.md")).unwrap();
    let mut failures = Vec::new();
    for unit in &units {
        let name = unit.file_name().unwrap().to_string_lossy();
        let score = exposure(unit);
        let text = std::fs::read_to_string(unit).unwrap();
        if score > MAX_EXPOSURE {
            failures.push(format!("{name} scores {score:.1}, above {MAX_EXPOSURE}"));
        }
        if !text.contains(&format!("scores this unit {score:.1}\n")) {
            failures.push(format!(
                "{name}: its comment must say it \"scores this unit {score:.1}\" (at the end of a line)"
            ));
        }
        if !docs.contains(&format!("| `{name}` | {score:.1} |")) {
            failures.push(format!(
                "docs/scheduling.md must list \"| `{name}` | {score:.1} |\""
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A port in use on 127.0.0.1 by a process running as `nobody` (uid
/// 65534): only a tool that may look into other users' processes can say
/// who holds it.
struct ForeignListener {
    child: Child,
    port: u16,
}

impl ForeignListener {
    fn start() -> ForeignListener {
        let mut child = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .args(["/usr/bin/python3", "-c"])
            .arg(
                "import socket, time\n\
                 s = socket.socket()\n\
                 s.bind(('127.0.0.1', 0))\n\
                 s.listen()\n\
                 print(s.getsockname()[1], flush=True)\n\
                 time.sleep(900)\n",
            )
            .stdout(Stdio::piped())
            .spawn()
            .expect("setpriv and python3 must be installed");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the listener's port");
        ForeignListener { child, port }
    }
}

impl Drop for ForeignListener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A webhook receiver on 127.0.0.1: the bodies of the POSTs it answered.
struct Webhook {
    port: u16,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Webhook {
    fn start() -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&bodies);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(n) = lower.strip_prefix("content-length:") {
                        length = n.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_ok() {
                    kept.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&body).into_owned());
                }
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            }
        });
        Webhook { port, bodies }
    }

    fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }
}

/// A listener on 127.0.0.1 that greets every connection with an SSH
/// banner and hangs up: its port.
fn greeter() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    });
    port
}

/// Where a test run puts what the shipped files put in /etc, /var/log,
/// /var/lib and /usr/local/bin. Outside /tmp, so that a unit's
/// `PrivateTmp=` does not hide it.
struct Host {
    _dir: tempfile::TempDir,
    root: PathBuf,
    /// The port vulnscan must find: a service that greets like sshd, so
    /// nmap names it at once rather than waiting out every probe.
    scanned: u16,
    webhook: Webhook,
}

/// The tools that keep state: the test's copies get `--state-dir`.
const STATEFUL: &[&str] = &[
    "anomalizer",
    "disk-alert",
    "fim-check",
    "healthmon",
    "secops",
    "secops-notify",
    "traffic-cop",
    "vulnscan",
];

impl Host {
    fn new() -> Host {
        let dir = tempfile::Builder::new()
            .prefix("units-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        let root = dir.path().to_path_buf();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let host = Host {
            _dir: dir,
            root,
            scanned: greeter(),
            webhook: Webhook::start(),
        };
        for sub in [
            "bin", "etc", "log", "state", "backup", "prom", "trace", "src",
        ] {
            std::fs::create_dir_all(host.path(sub)).unwrap();
        }
        std::fs::set_permissions(host.path("state"), std::fs::Permissions::from_mode(0o700))
            .unwrap();
        host.install_tools();
        host.install_settings();
        host
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.root.join(sub)
    }

    fn show(&self, sub: &str) -> String {
        self.path(sub).display().to_string()
    }

    /// bin/: each tool, as a script that runs the real one with the
    /// test's state directory (and disk-alert's drop-in log in the test's
    /// log directory) unless the command line gave them; journalctl,
    /// whose journal is a few lines of the test's.
    fn install_tools(&self) {
        let state = self.show("state");
        for name in STATEFUL
            .iter()
            .chain(&["backup-rotate", "secops", "remote-run"])
        {
            let real = bin_dir().join(name);
            let mut extra = String::new();
            if STATEFUL.contains(name) {
                extra.push_str(&format!(
                    "case \" $* \" in *' --state-dir '*) ;; *) set -- \"$@\" --state-dir '{state}';; esac\n"
                ));
            }
            if *name == "disk-alert" {
                extra.push_str(&format!(
                    "case \" $* \" in *' --log '*) ;; *) set -- \"$@\" --log '{}';; esac\n",
                    self.path("log/disk_alert.log").display()
                ));
            }
            self.script(name, &format!("{extra}exec '{}' \"$@\"", real.display()));
        }
        let journal = self.path("etc/journal.json");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros();
        let lines: Vec<String> = (0..20)
            .map(|i| {
                serde_json::json!({
                    "__REALTIME_TIMESTAMP": (now - 60_000_000 + i * 1_000_000).to_string(),
                    "MESSAGE": format!("session {} opened for user root", i % 3),
                    "SYSLOG_IDENTIFIER": "cron",
                    "_HOSTNAME": "web1",
                    "PRIORITY": "6",
                })
                .to_string()
            })
            .collect();
        std::fs::write(&journal, lines.join("\n") + "\n").unwrap();
        self.script("journalctl", &format!("exec cat '{}'", journal.display()));
    }

    fn script(&self, name: &str, body: &str) {
        let path = self.path("bin").join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// etc/: the shipped healthmon.yaml and ports.json as they are, a
    /// notify.yaml that posts to the test's webhook, a FIM policy over a
    /// test tree with its baseline made, settings.yaml for secops, and
    /// the trees backup-rotate and fim-check read, each with a file only
    /// its owner (nobody) may read.
    fn install_settings(&self) {
        for name in ["healthmon.yaml", "ports.json"] {
            std::fs::copy(repo("config").join(name), self.path("etc").join(name)).unwrap();
        }
        let url = self.path("etc/webhook.url");
        std::fs::write(
            &url,
            format!("http://127.0.0.1:{}/hook\n", self.webhook.port),
        )
        .unwrap();
        std::fs::set_permissions(&url, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(
            self.path("etc/notify.yaml"),
            format!(
                "min_severity: high\ngroup_wait: 1s\nattempts: 1\ntimeout: 10s\nstate_dir: {}\nwebhook:\n  url_file: {}\n  format: json\n",
                self.show("state"),
                url.display()
            ),
        )
        .unwrap();
        for tree in ["src/etc", "src/www", "watched"] {
            let dir = self.path(tree);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("public.conf"), "a = 1\n").unwrap();
            let private = dir.join("private.key");
            std::fs::write(&private, "secret\n").unwrap();
            std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
            std::os::unix::fs::chown(&private, Some(65534), Some(65534)).unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
            std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        }
        std::fs::write(
            self.path("etc/fim.yaml"),
            format!(
                "paths:\n  - path: {}\n    attributes: full\n    severity: high\n",
                self.show("watched")
            ),
        )
        .unwrap();
        let out = Command::new(self.path("bin/fim-check"))
            .args(["init", "--policy"])
            .arg(self.path("etc/fim.yaml"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "fim-check init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // secops's settings: the shipped jobs that run on this host, each
        // with the test's state directory.
        let state = self.show("state");
        std::fs::write(
            self.path("etc/settings.yaml"),
            format!(
                "log:\n  path: {log}/records.jsonl\nnotify:\n  settings: {etc}/notify.yaml\njobs:\n\
                 \x20 - name: ports\n    run: [traffic-cop, --whitelist, {etc}/ports.json, --state-dir, {state}]\n    every: 5m\n\
                 \x20 - name: disk\n    run: [disk-alert, --all, --inodes, --state-dir, {state}]\n    every: 10m\n\
                 \x20 - name: integrity\n    run: [fim-check, verify, --state-dir, {state}]\n    every: 1h\n\
                 \x20 - name: daily-report\n    report: {{ since: 24h, output: {state}/reports/daily.html }}\n    every: 24h\n",
                log = self.show("log"),
                etc = self.show("etc"),
            ),
        )
        .unwrap();
    }

    /// A shipped command line with its paths pointed into the test's
    /// directories. The only changes beyond paths: vulnscan scans the
    /// test's port rather than the top 1000, and the resident healthmon
    /// stops after two samples a second apart.
    fn localize(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (from, to) in [
            ("/usr/local/bin/", format!("{}/", self.show("bin"))),
            ("/usr/bin/journalctl", self.show("bin/journalctl")),
            ("/var/log/disk_alert.log", self.show("log/disk_alert.log")),
            ("/var/log/secops", self.show("log")),
            ("/var/lib/secops", self.show("state")),
            ("/etc/secops/", format!("{}/", self.show("etc"))),
            ("/var/lib/prometheus/node-exporter", self.show("prom")),
            (
                "--source /etc ",
                format!("--source {} ", self.show("src/etc")),
            ),
            (
                "--source /var/www ",
                format!("--source {} ", self.show("src/www")),
            ),
            (" /backup", format!(" {}", self.show("backup"))),
            (" 127.0.0.1", format!(" --ports {} 127.0.0.1", self.scanned)),
            ("--interval 10s", "--interval 1s --count 2".to_string()),
        ] {
            text = text.replace(from, &to);
        }
        text
    }

    fn path_env(&self) -> String {
        format!("{}:/usr/bin:/bin:/usr/sbin:/sbin", self.show("bin"))
    }
}

/// What a unit runs: its ExecStartPre= and ExecStart= lines, localized,
/// as argument vectors, each with whether it runs outside the sandbox
/// (`+`). `secops run` becomes `secops job NAME` for every job of the
/// test's settings: the same runs, now rather than on their schedule.
fn unit_commands(host: &Host, directives: &[(String, String)]) -> Vec<(bool, Vec<String>)> {
    let mut commands = Vec::new();
    for key in ["ExecStartPre", "ExecStart"] {
        for line in values(directives, key) {
            let privileged = line.starts_with('+');
            let line = line.trim_start_matches(['-', '@', '+', '!']);
            let words: Vec<String> = parse_shell(line).commands.remove(0);
            let words: Vec<String> = words.iter().map(|w| host.localize(w)).collect();
            if words.ends_with(&["run".to_string()]) && words[0].ends_with("/secops") {
                for job in ["ports", "disk", "integrity", "daily-report"] {
                    commands.push((
                        privileged,
                        vec![
                            words[0].clone(),
                            "job".into(),
                            job.into(),
                            "--settings".into(),
                            host.show("etc/settings.yaml"),
                        ],
                    ));
                }
            } else {
                commands.push((privileged, words));
            }
        }
    }
    commands
}

/// The command's exit statuses that the unit counts as success; for a
/// `secops job` (the daemon's job, run now), those that do not make a
/// job.failed: 0, and 1 for a finding.
fn success_statuses(directives: &[(String, String)], words: &[String]) -> Vec<i32> {
    if words.get(1).is_some_and(|w| w == "job") {
        return vec![0, 1];
    }
    let mut ok = vec![0];
    for v in values(directives, "SuccessExitStatus") {
        ok.extend(v.split_whitespace().filter_map(|s| s.parse::<i32>().ok()));
    }
    ok
}

/// The log files a command appends its records to (`tee -a FILE`).
fn record_logs(words: &[String]) -> Vec<String> {
    let script = words.last().unwrap();
    parse_shell(script)
        .commands
        .iter()
        .filter(|w| w[0] == "tee")
        .flat_map(|w| w[1..].iter().filter(|a| !a.starts_with('-')).cloned())
        .collect()
}

fn read_records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// A command run as it is, but with /var read-only: a path the test
/// failed to point at its own directory fails the test instead of
/// writing this machine's /var/lib/secops or /var/log.
fn guarded() -> Command {
    let mut cmd = Command::new("bwrap");
    cmd.args(["--dev-bind", "/", "/", "--ro-bind", "/var", "/var", "--"]);
    cmd
}

/// Every shipped crontab line and unit command, with paths pointed at a
/// test directory, writes nothing to errors.log (a unit's stderr, which
/// systemd sends to the journal) and ends with a status that is not a
/// failure. The healthmon line and config/healthmon.yaml used to disagree:
/// every run warned that proc_cpu needed 30 samples.
#[test]
fn shipped_cron_lines_and_unit_commands_run_clean() {
    let host = Host::new();
    let mut ran = 0;
    for crontab in with_extension("cron") {
        if crontab.ends_with("fleet.cron") {
            // remote-run over SSH to the fleet: tests/tests/schedule.rs
            // checks its flags; there is no fleet here.
            continue;
        }
        for (origin, command) in cron_jobs(&crontab) {
            let errors = host.path("log/errors.log");
            let _ = std::fs::remove_file(&errors);
            let out = guarded()
                .args(["/bin/bash", "-c"])
                .arg(host.localize(&command))
                .env("PATH", host.path_env())
                .output()
                .unwrap();
            let logged = std::fs::read_to_string(&errors).unwrap_or_default();
            assert!(
                logged.is_empty() && out.stderr.is_empty(),
                "{origin}: errors.log must stay empty on a healthy machine:\n{logged}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                matches!(out.status.code(), Some(0 | 1)),
                "{origin}: exit {:?}",
                out.status
            );
            ran += 1;
        }
    }
    for unit in with_extension("service") {
        let name = unit.file_name().unwrap().to_string_lossy().into_owned();
        let directives = directives(&unit);
        for (_, words) in unit_commands(&host, &directives) {
            let ok = success_statuses(&directives, &words);
            let out = guarded()
                .args(&words)
                .env("PATH", host.path_env())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(
                stderr.is_empty(),
                "{name}: `{}` wrote to the journal on a healthy machine:\n{stderr}",
                words.join(" "),
            );
            assert!(
                out.status.code().is_some_and(|c| ok.contains(&c)),
                "{name}: `{}` ended {:?}, a failed unit",
                words.join(" "),
                out.status
            );
            ran += 1;
        }
    }
    assert!(ran >= 20, "ran only {ran} command lines");
}

/// Every system call `systemd-analyze syscall-filter` puts in each group,
/// with nested groups expanded.
fn syscall_groups() -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new("systemd-analyze")
        .args(["syscall-filter", "--no-pager"])
        .output()
        .unwrap();
    let mut raw: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = None;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(group) = line.strip_prefix('@') {
            current = Some(format!("@{}", group.trim()));
            raw.insert(format!("@{}", group.trim()), Vec::new());
        } else if let Some(group) = &current {
            let item = line.trim();
            if !item.is_empty() && !item.starts_with('#') {
                raw.get_mut(group).unwrap().push(item.to_string());
            }
        }
    }
    fn expand(raw: &BTreeMap<String, Vec<String>>, group: &str, into: &mut BTreeSet<String>) {
        for item in &raw[group] {
            if item.starts_with('@') {
                expand(raw, item, into);
            } else {
                into.insert(item.clone());
            }
        }
    }
    raw.keys()
        .map(|g| {
            let mut set = BTreeSet::new();
            expand(&raw, g, &mut set);
            (g.clone(), set)
        })
        .collect()
}

/// The system calls a unit's `SystemCallFilter=` lines allow.
fn allowed_syscalls(
    groups: &BTreeMap<String, BTreeSet<String>>,
    directives: &[(String, String)],
) -> BTreeSet<String> {
    let mut allowed = BTreeSet::new();
    for line in values(directives, "SystemCallFilter") {
        let (deny, list) = match line.strip_prefix('~') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        for item in list.split_whitespace() {
            let names = match groups.get(item) {
                Some(set) => set.clone(),
                None => BTreeSet::from([item.to_string()]),
            };
            if deny {
                allowed.retain(|s| !names.contains(s));
            } else {
                allowed.extend(names);
            }
        }
    }
    allowed
}

/// What a strace log shows a run did that its unit does not allow.
fn violations(
    trace: &str,
    syscalls: &BTreeSet<String>,
    families: &[&str],
    no_wx: bool,
    pid_subset: bool,
) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in trace.lines() {
        // "1234  name(args) = ret", or "1234  <... name resumed>".
        let call = line
            .split_once(char::is_whitespace)
            .map_or(line, |(_, rest)| rest)
            .trim_start();
        if call.starts_with("<...") || call.starts_with("+++") || call.starts_with("---") {
            continue;
        }
        let Some((name, args)) = call.split_once('(') else {
            continue;
        };
        // strace's name for a call it could not tell (a thread ended by
        // another's exit_group in the middle of one): nothing to judge.
        if name == "???" {
            continue;
        }
        if !syscalls.contains(name) {
            found.insert(format!("system call {name} (SystemCallFilter=)"));
        }
        if name == "socket" {
            let family = args.split(',').next().unwrap_or("").trim();
            if !families.contains(&family) {
                found.insert(format!("socket family {family} (RestrictAddressFamilies=)"));
            }
        }
        if no_wx {
            let exec = args.contains("PROT_EXEC");
            let write = args.contains("PROT_WRITE");
            let wx = match name {
                "mmap" => exec && write,
                "mprotect" | "pkey_mprotect" => exec,
                _ => false,
            };
            if wx {
                found.insert(format!("{name} with PROT_EXEC (MemoryDenyWriteExecute=)"));
            }
        }
        if pid_subset && let Some(start) = args.find("\"/proc/") {
            let entry = args[start + 7..].split(['/', '"']).next().unwrap_or("");
            let per_process = entry.chars().all(|c| c.is_ascii_digit())
                || matches!(entry, "self" | "thread-self");
            if !per_process && !line.contains("= -1 ENOENT") {
                found.insert(format!("/proc/{entry} (ProcSubset=pid)"));
            }
        }
    }
    found
}

/// Runs `words` as the unit would: in a sandbox made from its settings,
/// under strace (log in `trace`).
fn run_sandboxed(host: &Host, d: &[(String, String)], words: &[String], trace: &Path) -> Output {
    let yes = |key: &str| value(d, key).is_some_and(|v| v == "yes" || v == "true");
    let mut cmd = Command::new("bwrap");
    cmd.args(["--die-with-parent", "--new-session"]);
    // ProtectSystem=strict: all of it read-only...
    assert_eq!(value(d, "ProtectSystem"), Some("strict"));
    cmd.args(["--ro-bind", "/", "/"]);
    if yes("PrivateDevices") {
        cmd.args(["--dev", "/dev"]);
    } else {
        cmd.args(["--dev-bind", "/dev", "/dev"]);
    }
    if yes("PrivateTmp") {
        cmd.args(["--tmpfs", "/tmp", "--tmpfs", "/var/tmp"]);
    }
    match value(d, "ProtectHome") {
        Some("yes" | "true") => {
            cmd.args(["--tmpfs", "/home", "--tmpfs", "/root"]);
        }
        Some("read-only") => {}
        other => panic!("ProtectHome={other:?}: yes or read-only"),
    }
    // The checkout (the test's /usr/local/bin, /etc and /var, and the
    // tools in target/) stands for the system's own files: a checkout
    // under /tmp or /root must not vanish with them.
    let checkout = repo("").canonicalize().unwrap();
    cmd.arg("--ro-bind").arg(&checkout).arg(&checkout);
    if value(d, "ProtectProc") == Some("invisible") {
        // Its own pid namespace: it sees its own processes only, which is
        // less than ProtectProc=invisible leaves root.
        cmd.args(["--unshare-pid", "--proc", "/proc"]);
    }
    // ...but for its logs, its state and its ReadWritePaths=.
    let mut writable = vec![host.path("trace")];
    if value(d, "LogsDirectory") == Some("secops") {
        writable.push(host.path("log"));
    }
    if value(d, "StateDirectory") == Some("secops") {
        writable.push(host.path("state"));
    }
    for paths in values(d, "ReadWritePaths") {
        for path in paths.split_whitespace() {
            writable.push(PathBuf::from(host.localize(&format!(" {path}")).trim()));
        }
    }
    for path in &writable {
        assert!(path.exists(), "{} must exist", path.display());
        cmd.arg("--bind").arg(path).arg(path);
    }
    // CapabilityBoundingSet=, under NoNewPrivileges= (bwrap sets it).
    assert_eq!(value(d, "NoNewPrivileges"), Some("yes"));
    cmd.args(["--cap-drop", "ALL"]);
    for cap in value(d, "CapabilityBoundingSet")
        .expect("CapabilityBoundingSet=")
        .split_whitespace()
    {
        cmd.args(["--cap-add", cap]);
    }
    for env in values(d, "Environment") {
        let (k, v) = env.split_once('=').unwrap();
        cmd.args(["--setenv", k, v]);
    }
    cmd.args(["--setenv", "PATH", &host.path_env()]);
    let umask = value(d, "UMask").expect("UMask=");
    cmd.arg("--")
        .args(["strace", "-f", "-qq", "-o"])
        .arg(trace)
        .args(["--", "/bin/sh", "-c", "umask \"$0\"; exec \"$@\"", umask])
        .args(words);
    cmd.output().expect("bwrap and strace must be installed")
}

/// The tool of a unit, from its name: `secops-fim-check.service` ->
/// `fim-check`; `secops.service` -> `secops`.
fn tool_of(unit: &str) -> &str {
    let stem = unit.trim_end_matches(".service");
    let stem = stem.strip_prefix("secops-").unwrap_or(stem);
    stem.trim_end_matches("-snapshot")
}

/// Each unit's commands, run in a sandbox made from the unit's own
/// settings, do the tool's job, and use no system call, socket family,
/// W+X mapping or /proc file the unit forbids.
#[test]
fn every_unit_does_its_job_in_its_sandbox() {
    let host = Host::new();
    let holder = ForeignListener::start();
    let groups = syscall_groups();
    assert!(groups.contains_key("@system-service"), "{groups:?}");
    let mut failures = Vec::new();
    for unit in with_extension("service") {
        let name = unit.file_name().unwrap().to_string_lossy().into_owned();
        let d = directives(&unit);
        let syscalls = allowed_syscalls(&groups, &d);
        let families: Vec<&str> = value(&d, "RestrictAddressFamilies")
            .expect("RestrictAddressFamilies=")
            .split_whitespace()
            .collect();
        // A changed watched file: fim-check must see it, and its alert
        // must reach the webhook through the sandbox.
        std::fs::write(host.path("watched/public.conf"), format!("a = {name}\n")).unwrap();
        let mut records = Vec::new();
        for (i, (privileged, words)) in unit_commands(&host, &d).into_iter().enumerate() {
            let ok = success_statuses(&d, &words);
            for log in record_logs(&words) {
                let _ = std::fs::remove_file(&log);
            }
            let out = if privileged {
                Command::new(&words[0]).args(&words[1..]).output().unwrap()
            } else {
                let trace = host.path("trace").join(format!("{name}.{i}"));
                let out = run_sandboxed(&host, &d, &words, &trace);
                let text = std::fs::read_to_string(&trace).unwrap_or_default();
                let bad = violations(
                    &text,
                    &syscalls,
                    &families,
                    value(&d, "MemoryDenyWriteExecute") == Some("yes"),
                    value(&d, "ProcSubset") == Some("pid"),
                );
                if !bad.is_empty() {
                    failures.push(format!(
                        "{name}: `{}` used what the unit forbids: {bad:?}",
                        words.join(" ")
                    ));
                }
                out
            };
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            if !out.status.code().is_some_and(|c| ok.contains(&c)) || !stderr.is_empty() {
                failures.push(format!(
                    "{name}: `{}` ended {:?} in its sandbox:\n{stderr}",
                    words.join(" "),
                    out.status,
                ));
            }
            for log in record_logs(&words) {
                records.extend(read_records(Path::new(&log)));
            }
            if words[0].ends_with("/secops") {
                // Its jobs' records go to the central log.
                records.extend(read_records(&host.path("log/records.jsonl")));
            }
        }
        let of =
            |kind: &str| -> Vec<&Value> { records.iter().filter(|r| r["kind"] == kind).collect() };
        let job = match tool_of(&name) {
            "fim-check" => of("fim.changed").len() == 1 && of("fim.error").is_empty(),
            "backup-rotate" => {
                !of("backup.created").is_empty()
                    && std::fs::read_dir(host.path("backup")).unwrap().count() > 0
            }
            "traffic-cop" | "secops" => records
                .iter()
                .any(|r| r["port"] == holder.port && r["user"] == "nobody" && r["pid"].is_u64()),
            "disk-alert" => {
                records.iter().any(|r| {
                    r["kind"] == "disk.usage" && r["mount"] == "/" && r["readonly"] == false
                }) && std::fs::metadata(host.path("prom/disk-alert.prom"))
                    .is_ok_and(|m| m.mode() & 0o004 != 0)
            }
            "healthmon" if name.contains("snapshot") => !of("health.sample").is_empty(),
            "healthmon" => std::fs::metadata(host.path("prom/healthmon.prom"))
                .is_ok_and(|m| m.mode() & 0o004 != 0),
            "vulnscan" => records
                .iter()
                .any(|r| r["kind"] == "vuln.port" && r["port"] == host.scanned),
            "anomalizer" => !of("log.summary").is_empty(),
            other => panic!("{name}: no check of {other}'s job"),
        };
        if !job {
            failures.push(format!(
                "{name}: the tool did not do its job in its sandbox; its records:\n{}",
                records
                    .iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
    }
    // The alerts went out over the network the units keep.
    let bodies = host.webhook.bodies();
    for expected in ["fim.changed", "port"] {
        if !bodies
            .iter()
            .any(|b| b.contains(&format!("\"kind\":\"{expected}\"")))
        {
            failures.push(format!(
                "no {expected} alert reached the webhook: {bodies:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
