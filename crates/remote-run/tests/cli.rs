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
