//! remote-run against a real sshd on loopback, as an operator runs it.

mod support;

use std::fs;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use support::{Sshd, aliases, closed_port, records, remote_run, results, run, stderr, wait_until};

#[test]
fn twenty_aliases_each_get_one_result() {
    let sshd = Sshd::start();
    let config = sshd.ssh_config(&aliases(20), "");
    let out = run(remote_run().arg("--ssh-config").arg(&config).args([
        "--hosts",
        "h[01-20]",
        "--parallel",
        "20",
        "--",
        "echo",
        "hi",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let results = results(&records(&out.stdout));
    assert_eq!(results.len(), 20, "{results:#?}");
    for (host, rec) in &results {
        assert_eq!(rec["status"], "ok", "{host}: {rec}");
        assert_eq!(rec["exit_code"], 0);
        assert_eq!(rec["stdout"], "hi\n");
        assert_eq!(rec["tool"], "remote-run");
        assert_eq!(rec["severity"], "info");
    }
}

#[test]
fn ssh_failures_are_told_apart() {
    let sshd = Sshd::start();
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let wrong_known_hosts = sshd.path("wrong_known_hosts");
    let other_host_key = fs::read_to_string(sshd.stranger_key.with_extension("pub")).unwrap();
    fs::write(
        &wrong_known_hosts,
        format!("[127.0.0.1]:{} {other_host_key}", sshd.port),
    )
    .unwrap();
    let p = sshd.port;
    let key = sshd.client_key.display();
    let extra = format!(
        "Host down\n  HostName 127.0.0.1\n  Port {closed}\n  IdentityFile {key}\n\
         Host silent\n  HostName 127.0.0.1\n  Port {silent_port}\n  IdentityFile {key}\n\
         Host stranger\n  HostName 127.0.0.1\n  Port {p}\n  IdentityFile {stranger}\n\
         Host changed\n  HostName 127.0.0.1\n  Port {p}\n  IdentityFile {key}\n  UserKnownHostsFile {wrong}\n\
         Host unknown\n  HostName 127.0.0.1\n  Port {p}\n  IdentityFile {key}\n  UserKnownHostsFile /dev/null\n",
        closed = closed_port(),
        stranger = sshd.stranger_key.display(),
        wrong = wrong_known_hosts.display(),
    );
    let config = sshd.ssh_config(&aliases(1), &extra);
    let started = Instant::now();
    let out = run(remote_run().arg("--ssh-config").arg(&config).args([
        "--hosts",
        "h01,down,silent,stranger,changed,unknown",
        "--connect-timeout",
        "1s",
        "--",
        "true",
    ]));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let results = results(&records(&out.stdout));
    let status = |host: &str| results[host]["status"].as_str().unwrap().to_string();
    assert_eq!(status("h01"), "ok");
    assert_eq!(status("down"), "unreachable", "{}", results["down"]);
    assert_eq!(status("silent"), "unreachable", "{}", results["silent"]);
    assert_eq!(status("stranger"), "auth_failed", "{}", results["stranger"]);
    assert_eq!(
        status("changed"),
        "hostkey_mismatch",
        "{}",
        results["changed"]
    );
    assert_eq!(
        status("unknown"),
        "hostkey_unknown",
        "{}",
        results["unknown"]
    );
    assert_eq!(results["down"]["severity"], "high");
    drop(silent);
}

#[test]
fn a_failing_command_is_failed_and_exits_1() {
    let sshd = Sshd::start();
    let config = sshd.ssh_config(&aliases(2), "");
    let out = run(remote_run().arg("--ssh-config").arg(&config).args([
        "--hosts",
        "h[01-02]",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 7",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    for rec in results(&records(&out.stdout)).values() {
        assert_eq!(rec["status"], "failed");
        assert_eq!(rec["exit_code"], 7);
        assert_eq!(rec["stdout"], "out\n");
        // The remote login shell's own start-up may print first.
        let stderr = rec["stderr"].as_str().unwrap();
        assert!(stderr.ends_with("err\n"), "{stderr:?}");
    }
}

#[test]
fn the_timeout_kills_the_remote_command() {
    let sshd = Sshd::start();
    let config = sshd.ssh_config(&aliases(1), "");
    let pid_file = sshd.path("sleep.pid");
    let script = format!("echo $$ > {}; exec sleep 30", pid_file.display());
    let started = Instant::now();
    let out = run(remote_run().arg("--ssh-config").arg(&config).args([
        "--hosts",
        "h01",
        "--timeout",
        "1s",
        "--",
        "sh",
        "-c",
        &script,
    ]));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let results = results(&records(&out.stdout));
    assert_eq!(results["h01"]["status"], "timeout", "{}", results["h01"]);
    let pid = fs::read_to_string(&pid_file).expect("the remote command started");
    let proc_dir = format!("/proc/{}", pid.trim());
    assert!(
        wait_until(Duration::from_secs(5), || fs::metadata(&proc_dir).is_err()),
        "remote sleep (pid {}) still runs",
        pid.trim()
    );
}

#[test]
fn remote_records_pass_through_with_the_inventory_name() {
    let sshd = Sshd::start();
    let config = sshd.ssh_config(&aliases(2), "");
    let rec = |sev: &str, port: u16| {
        format!(
            r#"{{"ts":"2026-11-21T19:02:00Z","host":"localhost","tool":"traffic-cop","kind":"port","severity":"{sev}","message":"m","port":{port}}}"#
        )
    };
    let (first, second) = (rec("high", 22), rec("low", 80));
    let command = [
        "printf",
        "%s\\n",
        first.as_str(),
        "not a record",
        second.as_str(),
    ];
    let out = run(remote_run()
        .arg("--ssh-config")
        .arg(&config)
        .args(["--hosts", "h[01-02]", "--"])
        .args(command));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a high record reaches --fail-on high: {}",
        stderr(&out)
    );
    let all = records(&out.stdout);
    let ports: Vec<_> = all.iter().filter(|r| r["kind"] == "port").collect();
    assert_eq!(ports.len(), 4, "{all:#?}");
    for host in ["h01", "h02"] {
        let mine: Vec<_> = ports.iter().filter(|r| r["host"] == host).collect();
        assert_eq!(mine.len(), 2);
        assert_eq!(mine[0]["port"], 22);
        assert_eq!(mine[1]["port"], 80);
    }
    for rec in results(&all).values() {
        assert_eq!(rec["stdout"], "not a record\n");
        assert_eq!(rec["records"], 2);
    }
    let out = run(remote_run()
        .arg("--ssh-config")
        .arg(&config)
        .args(["--hosts", "h01", "--fail-on", "critical", "--"])
        .args(command));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn arguments_reach_the_remote_command_as_data() {
    let sshd = Sshd::start();
    let config = sshd.ssh_config(&aliases(1), "");
    let canary = sshd.path("injected");
    let touch = format!("touch {}", canary.display());
    let tricky = [
        format!("a;{touch}"),
        format!("$({touch})"),
        format!("`{touch}`"),
        "it's \"quoted\"\nnext line".to_string(),
    ];
    let out = run(remote_run()
        .arg("--ssh-config")
        .arg(&config)
        .args(["--hosts", "h01", "--", "printf", "%s|"])
        .args(&tricky));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let results = results(&records(&out.stdout));
    let expected: String = tricky.iter().map(|t| format!("{t}|")).collect();
    assert_eq!(results["h01"]["stdout"], expected);
    assert!(!canary.exists(), "an argument was run as shell code");
}

#[test]
fn large_binary_output_is_bounded_and_marked() {
    let sshd = Sshd::start();
    let config = sshd.ssh_config(&aliases(1), "");
    let out = run(remote_run().arg("--ssh-config").arg(&config).args([
        "--hosts",
        "h01",
        "--max-output",
        "1000",
        "--",
        "head",
        "-c",
        "3000000",
        "/dev/urandom",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let results = results(&records(&out.stdout));
    let rec = &results["h01"];
    assert_eq!(rec["stdout_bytes"], 3_000_000);
    assert_eq!(rec["stdout_truncated"], true);
    assert_eq!(rec["stderr_truncated"], false);
    assert!(rec["stdout"].as_str().unwrap().chars().count() <= 1000);
}

#[test]
fn an_inventory_selects_by_group_and_names_records() {
    let sshd = Sshd::start();
    let config = sshd.ssh_config(&[], "");
    let servers = sshd.path("servers.json");
    let entry = |name: &str, group: &str| {
        format!(
            r#"{{"name": "{name}", "address": "127.0.0.1", "port": {}, "user": "root", "identity_file": "{}", "groups": ["{group}"]}}"#,
            sshd.port,
            sshd.client_key.display()
        )
    };
    fs::write(
        &servers,
        format!(
            "{{\"servers\": [\n{},\n{}\n]}}\n",
            entry("web01", "web"),
            entry("db01", "db")
        ),
    )
    .unwrap();
    let out = run(remote_run()
        .arg("--ssh-config")
        .arg(&config)
        .arg("--servers")
        .arg(&servers)
        .args(["--group", "web", "--", "true"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let results = results(&records(&out.stdout));
    assert_eq!(results.keys().collect::<Vec<_>>(), ["web01"]);
    assert_eq!(results["web01"]["status"], "ok");
}

#[test]
fn records_of_a_real_tool_run_remotely_pass_through() {
    let sshd = Sshd::start();
    let config = sshd.ssh_config(&aliases(2), "");
    let tool = env!("CARGO_BIN_EXE_remote-run");
    // On h01, remote-run itself (a real secops tool) runs `echo nested`
    // on h02 and prints its remote.result record.
    let out = run(remote_run().arg("--ssh-config").arg(&config).args([
        "--hosts",
        "h01",
        "--",
        tool,
        "--format",
        "jsonl",
        "--ssh-config",
        config.to_str().unwrap(),
        "--hosts",
        "h02",
        "--",
        "echo",
        "nested",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all = records(&out.stdout);
    assert_eq!(all.len(), 2, "{all:#?}");
    let (inner, outer) = (&all[0], &all[1]);
    assert_eq!(inner["kind"], "remote.result");
    assert_eq!(inner["host"], "h01", "re-emitted under the inventory name");
    assert_eq!(inner["stdout"], "nested\n");
    assert_eq!(outer["records"], 1);
    assert_eq!(outer["stdout"], "");
}

#[test]
fn parallelism_is_lowered_to_fit_the_open_file_limit() {
    let sshd = Sshd::start();
    let config = sshd.ssh_config(&aliases(30), "");
    let out = run(std::process::Command::new("sh")
        .args(["-c", "ulimit -n 64 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_remote-run"))
        .arg("--ssh-config")
        .arg(&config)
        .args(["--hosts", "h[01-30]", "--parallel", "30", "--", "true"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("running 8 at once"),
        "{}",
        stderr(&out)
    );
    assert_eq!(results(&records(&out.stdout)).len(), 30);
}
