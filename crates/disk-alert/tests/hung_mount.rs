//! A mount whose statfs never returns (a FUSE filesystem the test serves,
//! standing in for a dead NFS server) must cost a timeout, not the run.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::fuse::mount_hanging;
use support::*;

#[test]
fn a_hung_mount_times_out_as_a_record_and_the_others_are_still_checked() {
    let ns = Namespace::new();
    let healthy = percent_tmpfs(&ns, "healthy");
    ns.fill_percent(&healthy, 50);
    let hung = mount_hanging(&ns, "hung");
    let hung = &hung.mountpoint;
    // The mount really hangs: stat -f does not come back.
    let probe = ns
        .command("timeout")
        .args(["1", "stat", "-f"])
        .arg(hung)
        .output()
        .unwrap();
    assert_eq!(
        probe.status.code(),
        Some(124),
        "stat -f did not hang: {}",
        stderr(&probe)
    );

    let started = Instant::now();
    let out = ns
        .disk_alert()
        .args([
            "--all",
            "--mount-timeout",
            "1s",
            "--format",
            "jsonl",
            "--no-state",
        ])
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let recs = records(&out.stdout);

    let error = record_for(&recs, "disk.error", hung);
    assert_eq!(error["timed_out"], true, "{error}");
    assert_eq!(error["fstype"], "fuse.hang");
    assert_eq!(error["severity"], "high");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("timed out after 1s"),
        "{error}"
    );
    assert!(
        stderr(&out).contains("timed out after 1s"),
        "{}",
        stderr(&out)
    );

    // Mounts listed after the hung one were still checked.
    let usage = record_for(&recs, "disk.usage", &healthy);
    assert_eq!(usage["percent"], 50);
    let root = record_for(&recs, "disk.usage", Path::new("/"));
    assert!(root["percent"].is_number());
}

#[test]
fn a_hung_mount_named_with_mount_times_out_too() {
    let ns = Namespace::new();
    let hung = mount_hanging(&ns, "hung");
    let hung = &hung.mountpoint;
    let log = ns.dir().join("alerts.log");
    let started = Instant::now();
    let out = ns
        .disk_alert()
        .args([
            "--mount-timeout",
            "500ms",
            "--threshold",
            "0",
            "--mount",
            "/",
            "--mount",
        ])
        .arg(hung)
        .arg("--log")
        .arg(&log)
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(6));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    // Drop-in mode: nothing on stdout, the error on stderr, and the
    // healthy mount's alert still logged.
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot check {}", hung.display())) && err.contains("500ms"),
        "{err}"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.ends_with("% used on /\n"), "{logged}");
}
