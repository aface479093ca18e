//! Connection sharing against a real sshd: `--persist` leaves one master
//! per host that later runs reuse (sshd sees no new login), `close` ends
//! them, and no run leaves an ssh process behind otherwise.

mod support;

use std::fs;

use support::{
    Sshd, aliases, processes_under, records, remote_run, results, run, stderr, wait_until_gone,
};

#[test]
fn persisted_masters_are_reused_then_closed() {
    let sshd = Sshd::start();
    let config = sshd.ssh_config(&aliases(3), "");
    // Short, private, and removed with the test: unix sockets must fit
    // in about 104 bytes.
    let state = tempfile::Builder::new()
        .prefix("rrs")
        .tempdir_in("/tmp")
        .unwrap();
    let remote_run_with = |args: &[&str]| {
        let out = run(remote_run()
            .arg("--ssh-config")
            .arg(&config)
            .arg("--state-dir")
            .arg(state.path())
            .args(["--hosts", "h[01-03]"])
            .args(args));
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        records(&out.stdout)
    };

    let all = remote_run_with(&["--persist", "60s", "--", "echo", "first"]);
    assert_eq!(results(&all).len(), 3, "{all:#?}");
    assert_eq!(sshd.logins(), 3, "one login per host");
    let mode = fs::metadata(state.path().join("ssh")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o700
    );
    assert_eq!(
        processes_under(state.path()).len(),
        3,
        "one master per host"
    );

    // Without --persist, a run joins the masters: sshd sees no new login.
    let all = remote_run_with(&["--", "echo", "second"]);
    for rec in results(&all).values() {
        assert_eq!(rec["status"], "ok", "{rec}");
        assert_eq!(rec["stdout"], "second\n");
    }
    assert_eq!(sshd.logins(), 3, "the second run reused the masters");

    let all = remote_run_with(&["close"]);
    let closed: Vec<_> = all
        .iter()
        .filter(|r| r["kind"] == "remote.master")
        .collect();
    assert_eq!(closed.len(), 3);
    assert!(
        closed.iter().all(|r| r["status"] == "closed"),
        "{closed:#?}"
    );
    wait_until_gone(state.path());

    // With no master left, a plain run logs in afresh and leaves nothing.
    remote_run_with(&["--", "true"]);
    assert_eq!(sshd.logins(), 6);
    wait_until_gone(state.path());
    let all = remote_run_with(&["close"]);
    assert!(all.iter().all(|r| r["status"] == "not_running"), "{all:#?}");
}

#[test]
fn a_control_directory_too_long_for_sockets_is_a_usage_error() {
    let state = tempfile::Builder::new()
        .prefix("rrs")
        .tempdir_in("/tmp")
        .unwrap();
    let deep = state.path().join("x".repeat(80));
    let out = run(remote_run().arg("--state-dir").arg(&deep).args([
        "--hosts",
        "h01",
        "--persist",
        "1m",
        "--",
        "true",
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("too long for ssh's sockets"),
        "{}",
        stderr(&out)
    );
}
