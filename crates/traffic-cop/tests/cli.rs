//! traffic-cop run as an operator runs it, against real sockets this test
//! opens and the real /proc.

mod support;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use secops_testkit::of_kind;
use serde_json::{Value, json};
use support::*;

fn my_comm() -> String {
    std::fs::read_to_string("/proc/self/comm")
        .unwrap()
        .trim()
        .to_string()
}

fn my_exe() -> String {
    std::env::current_exe()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

fn whitelist(dir: &tempfile::TempDir, body: &Value) -> String {
    let path = dir.path().join("ports.json");
    std::fs::write(&path, serde_json::to_string_pretty(body).unwrap()).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn statuses_severities_and_exit_codes_follow_the_whitelist() {
    let approved = TcpListener::bind("127.0.0.1:0").unwrap();
    let hijacked = TcpListener::bind("0.0.0.0:0").unwrap();
    let unknown_any = TcpListener::bind("0.0.0.0:0").unwrap();
    let unknown_lo = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = |l: &TcpListener| l.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let user = String::from_utf8(
        std::process::Command::new("id")
            .arg("-nu")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let list = whitelist(
        &dir,
        &json!({"ports": [
            {"port": port(&approved), "process": my_comm(), "exe": my_exe(), "user": user.trim(), "scope": "loopback"},
            {"port": port(&hijacked), "process": my_comm(), "exe": "/usr/sbin/sshd", "comment": "only sshd here"},
        ]}),
    );
    let out = run(traffic_cop().args([
        "--whitelist",
        &list,
        "--format",
        "jsonl",
        "--fail-on",
        "critical",
    ]));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a critical finding exits 1: {}",
        stderr(&out)
    );
    let recs = records(&out.stdout);
    let me = std::process::id();

    let a = record_for(&recs, "tcp", port(&approved));
    assert_eq!(
        (a["status"].as_str(), a["severity"].as_str()),
        (Some("approved"), Some("info")),
        "{a}"
    );
    assert_eq!(
        (a["pid"].as_u64(), a["exe"].as_str()),
        (Some(me as u64), Some(my_exe().as_str()))
    );
    assert_eq!(a["scope"], "loopback");

    let h = record_for(&recs, "tcp", port(&hijacked));
    assert_eq!(
        (h["status"].as_str(), h["severity"].as_str()),
        (Some("unapproved"), Some("critical")),
        "{h}"
    );
    assert!(h["reason"].as_str().unwrap().contains("exe is "), "{h}");
    assert!(
        h["message"]
            .as_str()
            .unwrap()
            .contains(&format!("(pid {me}, user ")),
        "{h}"
    );

    let u = record_for(&recs, "tcp", port(&unknown_any));
    assert_eq!(
        (u["status"].as_str(), u["severity"].as_str()),
        (Some("unknown"), Some("high"))
    );
    assert!(
        u["message"]
            .as_str()
            .unwrap()
            .ends_with("and is not on the whitelist"),
        "{u}"
    );
    let l = record_for(&recs, "udp", unknown_lo.local_addr().unwrap().port());
    assert_eq!(
        (l["status"].as_str(), l["severity"].as_str()),
        (Some("unknown"), Some("low"))
    );

    // Everything approved: nothing to report at any level.
    let all = whitelist(&dir, &json!([{"port": "1-65535", "proto": "any"}]));
    let out = run(traffic_cop().args(["-w", &all, "--fail-on", "low", "--format", "jsonl"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        records(&out.stdout)
            .iter()
            .all(|r| r["status"] == "approved")
    );
}

#[test]
fn bad_whitelists_exit_2_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "{\"ports\": [\n  {\"port\": 22, \"proces\": \"sshd\"}\n]}\n",
            ":2:",
            "unknown field `proces`",
        ),
        (
            "{\"ports\": [\n  {\"port\": 70000}\n]}\n",
            ":2:",
            "ports[0].port: 70000 is not a port",
        ),
        (
            "[{\"port\": 22}, {\"port\": -1}]",
            ":1:",
            "[1].port: -1 is not a port",
        ),
        (
            "[{\"port\": \"http\"}]",
            ":1:",
            "[0].port: \"http\" is not a port",
        ),
        ("{\"ports\": [\n{\"port\": 22\n", ":3:", "EOF while parsing"),
    ];
    for (text, line, what) in cases {
        let path = dir.path().join("ports.json");
        std::fs::write(&path, text).unwrap();
        let out = run(traffic_cop().arg("-w").arg(&path));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        // No listing from a bad whitelist: only the failure, as a record.
        let failed = secops_testkit::only_failure(&out.stdout);
        assert!(failed["error"].as_str().unwrap().contains(what), "{failed}");
        assert!(err.contains(&format!("{}{line}", path.display())), "{err}");
        assert!(err.contains(what), "expected {what:?} in {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    let out = run(traffic_cop().args(["-w", "/nonexistent/ports.json"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/ports.json"));
}

#[test]
fn seed_usage_writes_a_json_array_report() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let list = whitelist(&dir, &json!({"ports": []}));
    let report = dir.path().join("report.json");
    let out = run(traffic_cop()
        .args(["--whitelist", &list, "--output"])
        .arg(&report));
    assert!(
        out.stdout.is_empty(),
        "records went to the file, not stdout"
    );
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let array: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let mine = record_for(&array, "tcp", listener.local_addr().unwrap().port());
    for field in ["port", "pid", "user", "status"] {
        assert!(!mine[field].is_null(), "{field} in {mine}");
    }
    assert_eq!(mine["pid"], std::process::id());

    let csv = dir.path().join("ports.csv");
    run(traffic_cop().arg("-o").arg(&csv));
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(
        text.starts_with("ts,host,tool,kind,severity,message,alert,status,proto,addr,port,"),
        "{text}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 3, "no temporary files left: {leftovers:?}");
}

#[test]
fn without_root_sockets_of_others_are_reported_without_a_pid() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root (CI runs as root): it runs traffic-cop as nobody to see another user's socket"
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let out = run(traffic_cop()
        .args(["--format", "jsonl"])
        .current_dir("/")
        .uid(65534)
        .gid(65534));
    assert!(out.status.success(), "{}", stderr(&out));
    let rec = record_for(
        &records(&out.stdout),
        "tcp",
        listener.local_addr().unwrap().port(),
    );
    assert!(rec["pid"].is_null() && rec["process"].is_null(), "{rec}");
    assert_eq!(
        rec["user"], "root",
        "the socket's owner is known without its process"
    );
    assert!(
        rec["note"]
            .as_str()
            .unwrap()
            .contains("not visible without root"),
        "{rec}"
    );
    assert!(stderr(&out).contains("run as root"), "{}", stderr(&out));
}

#[test]
fn interval_mode_reports_opened_and_closed_ports() {
    let closing = TcpListener::bind("127.0.0.1:0").unwrap();
    let closing_port = closing.local_addr().unwrap().port();
    let mut child = traffic_cop()
        .args(["--format", "jsonl", "--interval", "200ms", "--count", "8"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The first pass is written whole after its scan: once our listener's
    // record arrives, any socket opened now is new to the monitor.
    let first = lines
        .by_ref()
        .map(|l| serde_json::from_str::<Value>(&l.unwrap()).unwrap());
    let mut seen = false;
    for rec in first {
        assert_eq!(rec["kind"], "port");
        if rec["port"] == closing_port {
            seen = true;
            break;
        }
    }
    assert!(seen, "first pass lists our listener");
    let opened = TcpListener::bind("127.0.0.1:0").unwrap();
    let opened_port = opened.local_addr().unwrap().port();
    drop(closing);
    let rest: Vec<Value> = lines
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert!(child.wait().unwrap().code().is_some());
    let event = |kind: &str, port: u16| rest.iter().any(|r| r["kind"] == kind && r["port"] == port);
    assert!(event("port.opened", opened_port), "{rest:#?}");
    assert!(event("port.closed", closing_port), "{rest:#?}");
    let opened_rec = rest
        .iter()
        .find(|r| r["kind"] == "port.opened" && r["port"] == opened_port)
        .unwrap();
    assert_eq!(opened_rec["pid"], std::process::id());
}

#[test]
fn sigterm_ends_the_loop_with_a_complete_report() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("live.json");
    // An hour between passes: only a wait that the signal interrupts ends in time.
    let mut child = traffic_cop()
        .args(["--interval", "1h", "-o"])
        .arg(&report)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let started = Instant::now();
    let status = child.wait().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped promptly"
    );
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "clean exit, not killed: {status:?}"
    );
    let array: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert!(!array.is_empty(), "the first pass reached the report");
}

#[test]
fn profile_describes_the_listening_process() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let out = run(traffic_cop().args(["--profile", "--format", "jsonl"]));
    let rec = record_for(
        &records(&out.stdout),
        "tcp",
        listener.local_addr().unwrap().port(),
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let threads: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        rec["threads"].as_u64().unwrap() >= 1 && threads >= 1,
        "{rec}"
    );
    assert!(rec["rss_bytes"].as_u64().unwrap() > 1 << 20, "{rec}");
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    let theirs = rec["fds"].as_u64().unwrap();
    assert!(theirs.abs_diff(fds) <= 16, "fds {theirs} vs ours {fds}");
    assert!(rec["cpu_percent"].as_f64().unwrap() >= 0.0);
    assert!(rec["started"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn connections_with_all() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (_server, _) = listener.accept().unwrap();
    let local = client.local_addr().unwrap();
    let out = run(traffic_cop().args(["--all", "--format", "jsonl"]));
    let recs = records(&out.stdout);
    let conn = recs
        .iter()
        .find(|r| {
            r["kind"] == "connection" && r["port"] == local.port() && r["addr"] == "127.0.0.1"
        })
        .unwrap_or_else(|| panic!("client side of our connection in {recs:#?}"));
    assert_eq!(conn["remote_port"], listener.local_addr().unwrap().port());
    assert_eq!(
        (conn["state"].as_str(), conn["status"].as_str()),
        (Some("estab"), Some("unchecked"))
    );
    assert_eq!(conn["pid"], std::process::id());
    let plain = records(&run(traffic_cop().args(["--format", "jsonl"])).stdout);
    assert!(
        plain.iter().all(|r| r["kind"] == "port"),
        "only listeners without --all"
    );
}

#[test]
fn generates_a_man_page_and_completions() {
    let man = run(traffic_cop().args(["--generate", "man"]));
    let text = String::from_utf8(man.stdout).unwrap();
    assert!(
        text.contains(".TH traffic-cop") && text.contains("whitelist"),
        "{text}"
    );
    let bash = run(traffic_cop().args(["--generate", "complete-bash"]));
    assert!(
        String::from_utf8(bash.stdout)
            .unwrap()
            .contains("--whitelist")
    );
}

#[test]
fn the_shipped_example_whitelist_is_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/ports.json");
    let out = run(traffic_cop().args(["--whitelist", example, "--format", "jsonl"]));
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    assert!(
        records(&out.stdout)
            .iter()
            .all(|r| r["status"] != "unchecked" || r["kind"] != "port")
    );
}

/// A one-shot run that keeps its listeners in `dir`.
fn run_with_state(dir: &std::path::Path, whitelist: Option<&str>) -> std::process::Output {
    let mut cmd = traffic_cop_with_state();
    cmd.args(["--format", "jsonl", "--state-dir"]).arg(dir);
    if let Some(list) = whitelist {
        cmd.args(["--whitelist", list]);
    }
    run(&mut cmd)
}

#[test]
fn state_dir_reports_listeners_closed_since_the_last_run() {
    let state = tempfile::tempdir().unwrap();
    let closing = TcpListener::bind("127.0.0.1:0").unwrap();
    let staying = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = |l: &TcpListener| l.local_addr().unwrap().port();
    let (closing_port, staying_port) = (port(&closing), port(&staying));
    let pass = || {
        let out = run_with_state(state.path(), None);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
        records(&out.stdout)
    };
    let closed_on = |recs: &[Value], port: u16| {
        recs.iter()
            .filter(|r| r["kind"] == "port.closed" && r["port"] == port)
            .count()
    };

    let first = pass();
    assert!(
        of_kind(&first, "port.closed").is_empty(),
        "a first run has nothing to compare"
    );
    let file = state.path().join("traffic-cop.last-run.json");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    drop(closing);
    let second = pass();
    assert_eq!(closed_on(&second, closing_port), 1, "{second:#?}");
    let closed = second
        .iter()
        .find(|r| r["kind"] == "port.closed" && r["port"] == closing_port)
        .unwrap();
    assert_eq!(closed["severity"], "info");
    assert_eq!(
        closed["alert"], "none",
        "without a whitelist nothing alerted, so nothing resolves"
    );
    assert_eq!(closed["pid"], std::process::id(), "it names who held it");
    assert_eq!(closed_on(&second, staying_port), 0);
    assert!(
        second
            .iter()
            .any(|r| r["kind"] == "port" && r["port"] == staying_port),
        "the full listing is still written"
    );

    let third = pass();
    assert_eq!(
        closed_on(&third, closing_port),
        0,
        "a closure is reported once"
    );
    drop(staying);
}

#[test]
fn unapproved_listeners_fire_and_resolve_when_approved_or_closed() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let approving = TcpListener::bind("0.0.0.0:0").unwrap();
    let closing = TcpListener::bind("0.0.0.0:0").unwrap();
    let approved = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = |l: &TcpListener| l.local_addr().unwrap().port();
    let none = whitelist(&dir, &json!([{"port": port(&approved)}]));
    let pass = |list: &str| {
        let out = run_with_state(state.path(), Some(list));
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
        records(&out.stdout)
    };
    // (kind, severity, alert) of the records about one port.
    let about = |recs: &[Value], port: u16| -> Vec<(String, String, String)> {
        recs.iter()
            .filter(|r| r["proto"] == "tcp" && r["port"] == port)
            .map(|r| {
                let text = |f: &str| r[f].as_str().unwrap().to_string();
                (text("kind"), text("severity"), text("alert"))
            })
            .collect()
    };
    let row = |kind: &str, severity: &str, alert: &str| {
        (kind.to_string(), severity.to_string(), alert.to_string())
    };

    let first = pass(&none);
    assert_eq!(
        about(&first, port(&approving)),
        [row("port", "high", "firing")]
    );
    assert_eq!(
        about(&first, port(&approved)),
        [row("port", "info", "none")]
    );
    let firing = record_for(&first, "tcp", port(&approving));
    let id = firing["alert_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("traffic-cop:") && id.len() == 44, "{id}");
    assert!(
        first
            .iter()
            .all(|r| r.get("alert_id").is_none() || r["alert"] != "none"),
        "observations carry no alert_id"
    );

    // Still unapproved: written again, firing, the same alert.
    let second = pass(&none);
    let again = record_for(&second, "tcp", port(&approving));
    assert_eq!(
        (&again["alert"], &again["alert_id"]),
        (&json!("firing"), &json!(id))
    );

    // One approved, the other closed: one resolution each.
    let approving_port = port(&approving);
    let closing_port = port(&closing);
    drop(closing);
    let some = whitelist(
        &dir,
        &json!([{"port": port(&approved)}, {"port": approving_port}]),
    );
    let third = pass(&some);
    assert_eq!(
        about(&third, approving_port),
        [
            row("port", "info", "none"),
            row("port.changed", "info", "resolved")
        ]
    );
    let changed = third
        .iter()
        .find(|r| r["kind"] == "port.changed" && r["port"] == approving_port)
        .unwrap();
    assert_eq!(changed["alert_id"], json!(id));
    assert!(
        changed["message"]
            .as_str()
            .unwrap()
            .contains(" and is on the whitelist (was unknown, pid "),
        "{changed}"
    );
    assert_eq!(
        about(&third, closing_port),
        [row("port.closed", "info", "resolved")]
    );
    let fourth = pass(&some);
    assert!(
        fourth.iter().all(|r| r["alert"] != "resolved"
            || r["port"] != approving_port && r["port"] != closing_port),
        "resolved once: {fourth:#?}"
    );
}

#[test]
fn a_damaged_state_file_is_named_and_replaced() {
    let state = tempfile::tempdir().unwrap();
    std::fs::set_permissions(state.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let file = state.path().join("traffic-cop.last-run.json");
    std::fs::write(&file, "not json\n").unwrap();
    let out = run_with_state(state.path(), None);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{}: damaged", file.display())),
        "{}",
        stderr(&out)
    );
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["version"], 1, "{saved}");

    // A newer file is refused rather than overwritten.
    std::fs::write(&file, r#"{"version":9,"saved":"x","entries":{}}"#).unwrap();
    let out = run_with_state(state.path(), None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("field `version`: 9"),
        "{}",
        stderr(&out)
    );

    let out = traffic_cop()
        .args(["--state-dir"])
        .arg(state.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "--no-state and --state-dir conflict"
    );
}
