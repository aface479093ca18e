//! disk-alert into the real secops-notify, as the shipped cron line runs
//! it: a tmpfs (in a private mount namespace, mounted afresh for each cron
//! run at the same place) filled past its warning level, checked twice, then
//! emptied: one firing message, no repeat, one resolved message, nothing
//! left firing. The `disk.usage` observation beside each alert never counts.

use std::path::Path;
use std::process::Command;

use secops_pipeline_tests::{bin_dir, notify, still_firing};

/// One cron run: a 10 MiB tmpfs at `mount`, `percent` of it filled, then
/// `disk-alert --all --format jsonl` with its state in `state`.
fn cron_run(mount: &Path, state: &Path, percent: u32) -> Vec<u8> {
    let script = format!(
        "set -e; mount -t tmpfs -o size=10m secops-test '{mount}'; \
         fallocate -l {kib}K '{mount}/fill'; \
         '{bin}/disk-alert' --mount '{mount}' --state-dir '{state}' --format jsonl || [ $? -eq 1 ]",
        mount = mount.display(),
        kib = 10 * 1024 * percent / 100,
        bin = bin_dir().display(),
        state = state.display(),
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .expect("unshare runs (apt-get install util-linux)");
    assert!(
        out.status.success(),
        "disk-alert in a mount namespace (needs root): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Only this test's mount: the machine's own may be alerting too.
    let mine = format!("\"mount\":\"{}\"", mount.display());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains(&mine))
        .flat_map(|l| [l, "\n"])
        .collect::<String>()
        .into_bytes()
}

#[test]
fn a_full_tmpfs_pages_once_and_resolves_once() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("data");
    std::fs::create_dir(&mount).unwrap();
    let (state, notify_state) = (dir.path().join("state"), dir.path().join("notify"));
    std::fs::create_dir(&notify_state).unwrap();

    let records = cron_run(&mount, &state, 85);
    let text = String::from_utf8_lossy(&records).into_owned();
    assert!(text.contains("\"kind\":\"disk.usage\""), "{text}");
    assert!(text.contains("\"kind\":\"disk.alert\""), "{text}");
    let sent = notify(&records, &notify_state, &["--min-severity", "medium"]);
    assert_eq!(sent.messages.len(), 1, "{sent:?}");
    assert_eq!(
        (sent.firing(), sent.resolved()),
        (1, 0),
        "one alert, not two: {sent:?}"
    );
    assert_eq!(sent.messages[0].firing[0]["kind"], "disk.alert");

    let sent = notify(
        &cron_run(&mount, &state, 86),
        &notify_state,
        &["--min-severity", "medium"],
    );
    assert!(sent.messages.is_empty(), "no repeat: {sent:?}");

    // Past the critical level: the same alert, escalated at once.
    let sent = notify(
        &cron_run(&mount, &state, 95),
        &notify_state,
        &["--min-severity", "medium"],
    );
    assert_eq!((sent.firing(), sent.resolved()), (1, 0), "{sent:?}");
    assert_eq!(sent.messages[0].firing[0]["level"], "crit");

    let records = cron_run(&mount, &state, 20);
    let sent = notify(&records, &notify_state, &["--min-severity", "medium"]);
    assert_eq!((sent.firing(), sent.resolved()), (0, 1), "{sent:?}");
    assert_eq!(sent.messages[0].resolved[0]["kind"], "disk.recovered");
    assert!(
        still_firing(&notify_state).is_empty(),
        "nothing left firing"
    );

    let sent = notify(
        &cron_run(&mount, &state, 20),
        &notify_state,
        &["--min-severity", "medium"],
    );
    assert!(
        sent.messages.is_empty(),
        "the recovery is said once: {sent:?}"
    );
}
