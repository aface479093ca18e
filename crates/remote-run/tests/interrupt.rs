//! SIGINT sent to remote-run alone (as a service manager or script sends
//! it) stops every ssh it started and still writes a record per host.

mod support;

use std::fs;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::{
    PATIENCE, Sshd, aliases, processes_under, records, remote_run, results, stderr, wait_until,
};

#[test]
fn sigint_stops_every_ssh_and_reports_each_host() {
    let sshd = Sshd::start();
    let config = sshd.ssh_config(&aliases(3), "");
    let started_dir = sshd.path("started");
    fs::create_dir(&started_dir).unwrap();
    // Two run at once: h01 and h02 start and sleep; h03 never starts.
    let script = format!(
        "touch {}/$(hostname)$$; exec sleep 20",
        started_dir.display()
    );
    let child = remote_run()
        .arg("--ssh-config")
        .arg(&config)
        .args([
            "--hosts",
            "h[01-03]",
            "--parallel",
            "2",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_until(PATIENCE, || fs::read_dir(&started_dir).unwrap().count()
            >= 2),
        "the remote commands did not start"
    );
    assert_eq!(
        processes_under(sshd.dir())
            .iter()
            .filter(|c| c.starts_with("ssh "))
            .count(),
        2
    );
    let interrupted = Instant::now();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        interrupted.elapsed() < Duration::from_secs(15),
        "remote-run waited for the commands: {:?}",
        interrupted.elapsed()
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let results = results(&records(&out.stdout));
    assert_eq!(results.len(), 3, "{results:#?}");
    for rec in results.values() {
        assert_eq!(rec["status"], "interrupted", "{rec}");
        assert_eq!(rec["severity"], "medium");
    }
    assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
    // No ssh started with this test's config is left.
    let ours = || {
        processes_under(sshd.dir())
            .into_iter()
            .filter(|c| c.starts_with("ssh "))
            .collect::<Vec<_>>()
    };
    assert!(
        wait_until(Duration::from_secs(10), || ours().is_empty()),
        "ssh left running: {:#?}",
        ours()
    );
}
