//! Usage errors, which need no sshd.

mod support;

use std::fs;

use support::{remote_run, run, stderr};

#[test]
fn a_bad_inventory_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let servers = dir.path().join("servers.json");
    fs::write(
        &servers,
        "{\"servers\": [\n  {\"name\": \"a\"},\n  {\"name\": \"b\", \"port\": 70000}\n]}\n",
    )
    .unwrap();
    let out = run(remote_run()
        .arg("--servers")
        .arg(&servers)
        .args(["--", "true"]));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("servers.json:3:") && err.contains("servers[1].port"),
        "{err}"
    );
    fs::write(
        &servers,
        "{\"servers\": [{\"name\": \"a\", \"pasword\": \"x\"}]}",
    )
    .unwrap();
    let out = run(remote_run()
        .arg("--servers")
        .arg(&servers)
        .args(["--", "true"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown field `pasword`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = run(remote_run().args(["--", "true"]));
    assert_eq!(out.status.code(), Some(2), "no hosts: {}", stderr(&out));
    let out = run(remote_run().args(["--hosts", "h[2-1]", "--", "true"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--hosts"), "{}", stderr(&out));
    let out = run(remote_run().args(["--hosts", "h1"]));
    assert_eq!(out.status.code(), Some(2), "no command: {}", stderr(&out));
}

/// Runs remote-run on an inventory written to a temp dir as `name`.
fn with_inventory(name: &str, text: &str, args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    fs::write(&path, text).unwrap();
    let out = run(remote_run().arg("--inventory").arg(&path).args(args));
    (out.status.code(), stderr(&out))
}

#[test]
fn ansible_inventory_errors_name_file_line_and_field() {
    let (code, err) = with_inventory(
        "hosts.ini",
        "[web]\nweb1\n\n[prod:children]\nweb\nwbe\n",
        &["--", "true"],
    );
    assert_eq!(code, Some(2));
    assert!(
        err.contains("hosts.ini:6: group \"wbe\" is used but never defined"),
        "{err}"
    );
    let (code, err) = with_inventory("hosts", "[web]\nweb1 ansible_port=22x\n", &["--", "true"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("hosts:2: ansible_port: invalid port \"22x\""),
        "{err}"
    );
    let (code, err) = with_inventory(
        "hosts.yml",
        "all:\n  hosts:\n    web1:\n      ansible_port: 70000\n",
        &["--", "true"],
    );
    assert_eq!(code, Some(2));
    assert!(
        err.contains("hosts.yml:4:") && err.contains("all.hosts.web1.ansible_port"),
        "{err}"
    );
    let (code, err) = with_inventory(
        "hosts.yaml",
        "all:\n  children:\n    web:\n      host:\n        web1:\n",
        &["--", "true"],
    );
    assert_eq!(code, Some(2));
    assert!(
        err.contains("hosts.yaml:4:") && err.contains("unknown field `host`"),
        "{err}"
    );
    let (code, err) = with_inventory("hosts", "web1 ansible_ssh_pass=hunter2\n", &["--", "true"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("hosts:1: ansible_ssh_pass: passwords are not supported"),
        "{err}"
    );
}

#[test]
fn a_host_reached_other_than_by_ssh_is_refused_only_when_selected() {
    // Ansible inventories often hold `localhost ansible_connection=local`.
    let hosts = "[local]\nlocalhost ansible_connection=local\n[web]\nweb1 ansible_host=127.0.0.1 ansible_port=1\n";
    let (code, err) = with_inventory("hosts", hosts, &["--", "true"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("host localhost: ansible_connection \"local\" is not supported")
            && err.contains("--limit 'all:!localhost'"),
        "{err}"
    );
    let (code, err) = with_inventory(
        "hosts",
        hosts,
        &[
            "--limit",
            "all:!localhost",
            "--connect-timeout",
            "2s",
            "--",
            "true",
        ],
    );
    assert_ne!(code, Some(2), "{err}");
    assert!(!err.contains("ansible_connection"), "{err}");
}

#[test]
fn without_ssh_on_path_the_run_says_so_once_and_exits_3() {
    let out = run(remote_run()
        .env("PATH", "/nonexistent")
        .args(["--hosts", "h[1-50]", "--format", "jsonl", "--", "true"]));
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("ssh is not on PATH"), "{err}");
    assert_eq!(err.matches("ssh is not on PATH").count(), 1, "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("unreachable"), "{stdout}");
}

#[test]
fn the_table_is_one_table_with_a_host_column() {
    // Unreachable on purpose: port 1 of 127.0.0.1 refuses at once.
    let hosts = "[web]\nweb1 ansible_host=127.0.0.1 ansible_port=1\nweb2 ansible_host=127.0.0.1 ansible_port=1\nweb3 ansible_host=127.0.0.1 ansible_port=1\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hosts");
    fs::write(&path, hosts).unwrap();
    let out = run(remote_run().arg("--inventory").arg(&path).args([
        "--format",
        "table",
        "--connect-timeout",
        "2s",
        "--",
        "true",
    ]));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "one header and a row per host:\n{table}");
    assert!(lines[0].starts_with("SEVERITY  HOST"), "{table}");
    for host in ["web1", "web2", "web3"] {
        assert_eq!(
            lines[1..]
                .iter()
                .filter(|l| l.contains(&format!(" {host} ")))
                .count(),
            1,
            "{table}"
        );
    }
}

#[test]
fn unknown_groups_in_a_selection_name_the_inventory() {
    let hosts = "[web]\nweb1\n[db]\ndb1\n";
    let (code, err) = with_inventory("hosts.ini", hosts, &["--limit", "web:!dbb", "--", "true"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("\"dbb\" is not a group or host of") && err.contains("hosts.ini"),
        "{err}"
    );
    let (code, err) = with_inventory("hosts.ini", hosts, &["--group", "wbe", "--", "true"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--group wbe:") && err.contains("hosts.ini has no such group"),
        "{err}"
    );
}

#[test]
fn a_bad_vars_file_names_its_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("group_vars")).unwrap();
    let vars = dir.path().join("group_vars/web.yml");
    fs::write(
        &vars,
        "# web servers\nansible_user: ops\nansible_port: 70000\n",
    )
    .unwrap();
    let hosts = dir.path().join("hosts");
    fs::write(&hosts, "[web]\nweb1\n").unwrap();
    let out = run(remote_run()
        .arg("--inventory")
        .arg(&hosts)
        .args(["--", "true"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:3:", vars.display()))
            && err.contains("ansible_port")
            && err.contains("invalid port"),
        "{err}"
    );
}
