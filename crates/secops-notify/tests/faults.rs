//! The state file under faults (issue 22): a full disk, a read-only one and
//! one whose writes fail with EIO, each real (secops-testkit's Tmpfs and
//! EioFs), while firing records are piped in; and kill -9 at random points
//! of runs (KillSoak). A state that cannot be saved must never silence an
//! alert: it is still sent, a `notify.state_failed` and exit 3 say what
//! happened, the last good state file stays as it was, and the next run
//! after the fault works and leaves no temporary file.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use secops_testkit::{
    EioFs, Fate, KillSoak, Tmpfs, hidden_files, of_kind, records, stderr, still_firing,
};
use serde_json::Value;
use support::{BIN, disk_alert, disk_recovered, run};

/// A sink that needs no network: each message's records appended to
/// `out` (outside the faulty file system).
fn exec_sink(out: &Path) -> String {
    format!("cat >> '{}'", out.display())
}

/// What the sink was sent so far: the alerts' mounts, in order.
fn delivered(out: &Path) -> Vec<String> {
    fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["mount"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn notify(state: &Path, out: &Path, input: &str) -> Output {
    run(
        &[
            "--exec",
            &exec_sink(out),
            "--state-dir",
            state.to_str().unwrap(),
            "--format",
            "jsonl",
        ],
        input,
    )
}

/// Every alert key in the state file: a file that does not parse fails
/// the test here.
fn keys(state: &Path) -> Vec<String> {
    let text = fs::read_to_string(state.join("notify.json")).unwrap();
    let file: Value = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("notify.json ({} bytes) does not parse: {err}", text.len()));
    file["alerts"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

/// One fault: a good run into `state`, then `fault` on, then a run with a
/// new alert that must still be delivered, and `lift`, then a run that
/// works. `errno` is the error the record must name.
fn survives(state: &Path, fault: impl Fn(), lift: impl Fn(), errno: &str) {
    let sink = tempfile::tempdir().unwrap();
    let out = sink.path().join("sent.jsonl");
    let first = notify(state, &out, &disk_alert("/var", 93, "high"));
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    assert_eq!(delivered(&out), ["/var"]);
    let good = fs::read(state.join("notify.json")).unwrap();
    let firing = still_firing(state);
    assert_eq!(firing.len(), 1);

    fault();
    let input = disk_alert("/srv", 97, "critical") + &disk_alert("/var", 93, "high");
    let faulty = notify(state, &out, &input);
    // Delivered all the same: a disk that cannot be written must never
    // silence an alert. (/var was told within the repeat interval.)
    assert_eq!(delivered(&out), ["/var", "/srv"], "{}", stderr(&faulty));
    assert_eq!(faulty.status.code(), Some(3), "{}", stderr(&faulty));
    let recs = records(&faulty.stdout);
    assert_eq!(of_kind(&recs, "notify.sent").len(), 1, "{recs:#?}");
    let failed = of_kind(&recs, "notify.state_failed");
    assert_eq!(
        failed.len(),
        1,
        "one record per run, not per save: {recs:#?}"
    );
    let error = failed[0]["error"].as_str().unwrap();
    assert!(error.contains(errno), "{error}");
    assert!(error.contains(state.to_str().unwrap()), "{error}");
    assert_eq!(failed[0]["severity"], "high");
    assert_eq!(failed[0]["alert"], "firing");
    assert!(
        stderr(&faulty).contains("could not save the alert state"),
        "{}",
        stderr(&faulty)
    );
    assert_eq!(
        fs::read(state.join("notify.json")).unwrap(),
        good,
        "the last good state was touched"
    );
    assert_eq!(still_firing(state), firing);
    assert_eq!(hidden_files(state), Vec::<PathBuf>::new());

    lift();
    let next = notify(state, &out, &input);
    assert_eq!(next.status.code(), Some(1), "{}", stderr(&next));
    assert!(of_kind(&records(&next.stdout), "notify.state_failed").is_empty());
    // The unsaved alert goes out again (at least once, never lost).
    assert_eq!(delivered(&out), ["/var", "/srv", "/srv"]);
    assert_eq!(keys(state).len(), 2);
    assert_eq!(still_firing(state).len(), 2);
    assert_eq!(hidden_files(state), Vec::<PathBuf>::new());
    // And the state is whole again: the recovery reaches the sink.
    let resolved = notify(state, &out, &disk_recovered("/srv"));
    assert_eq!(resolved.status.code(), Some(0), "{}", stderr(&resolved));
    assert_eq!(still_firing(state), firing);
}

#[test]
fn a_full_disk_still_delivers_and_keeps_the_last_state() {
    let tmp = Tmpfs::new(1 << 20);
    let state = tmp.path().join("state");
    survives(
        &state,
        || tmp.fill(),
        || tmp.free(),
        "No space left on device",
    );
}

#[test]
fn a_read_only_disk_still_delivers_and_keeps_the_last_state() {
    let tmp = Tmpfs::new(1 << 20);
    let state = tmp.path().join("state");
    survives(
        &state,
        || tmp.read_only(true),
        || tmp.read_only(false),
        "Read-only file system",
    );

    // A state directory that cannot even be made.
    tmp.read_only(true);
    let sink = tempfile::tempdir().unwrap();
    let out = sink.path().join("sent.jsonl");
    let never = tmp.path().join("never-made");
    let faulty = notify(&never, &out, &disk_alert("/srv", 97, "critical"));
    assert_eq!(delivered(&out), ["/srv"], "{}", stderr(&faulty));
    assert_eq!(faulty.status.code(), Some(3), "{}", stderr(&faulty));
    let recs = records(&faulty.stdout);
    let failed = of_kind(&recs, "notify.state_failed");
    assert_eq!(failed.len(), 1, "{recs:#?}");
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("Read-only file system"),
        "{}",
        failed[0]
    );
    assert!(!never.exists());
    tmp.read_only(false);
}

#[test]
fn failing_writes_still_deliver_and_keep_the_last_state() {
    let eio = EioFs::new();
    let state = eio.path().join("state");
    survives(
        &state,
        || eio.failing(true),
        || eio.failing(false),
        "Input/output error",
    );
}

/// kill -9 at random points of runs that each add an alert to a ledger of
/// a few thousand: after every kill the state file parses and holds the
/// alerts from before the run, or those and the run's new one; the next
/// run leaves no temporary file; and an alert that was firing before the
/// kills is still resolved by a recovery after them.
#[test]
fn kill_soak_state() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = dir.path().join("sent.jsonl");
    let inputs = dir.path().join("inputs");
    fs::create_dir(&inputs).unwrap();
    // Enough alerts that a save takes a while (each run saves twice: the
    // debt before sending, and the send after it).
    let base: String = (0..3000)
        .map(|i| disk_alert(&format!("/srv/{i}"), 93, "high"))
        .collect();
    let input = |name: &str, extra: &str| {
        let path = inputs.join(name);
        fs::write(&path, format!("{base}{extra}")).unwrap();
        path
    };
    let notify_cmd = |input: &Path| {
        let mut cmd = Command::new(BIN);
        cmd.args(["--exec", &exec_sink(&out), "--state-dir"])
            .arg(&state)
            .args(["--format", "jsonl"])
            .arg(input);
        cmd
    };

    let mut soak = KillSoak::new("secops-notify state", 10);
    let first = input("first", &disk_alert("/var", 95, "critical"));
    let status = notify_cmd(&first).output().unwrap().status;
    assert_eq!(status.code(), Some(1));
    // Measured on a run like those that are killed: one new alert.
    let status = soak.measure(&mut notify_cmd(&input(
        "measure",
        &disk_alert("/new/measure", 95, "critical"),
    )));
    assert_eq!(status.code(), Some(1));
    let sentinel = still_firing(&state)
        .into_iter()
        .find(|k| k.contains("/var"))
        .expect("/var is firing");
    let mut temps = std::collections::BTreeSet::new();
    let (mut new_states, mut old_states) = (0, 0);
    for k in 0..soak.kills {
        let before = keys(&state);
        let mount = format!("/new/{k}");
        let path = input(&format!("run{k}"), &disk_alert(&mount, 95, "critical"));
        let fate = soak.run(&mut notify_cmd(&path));
        let after = keys(&state);
        let added: Vec<&String> = after.iter().filter(|key| !before.contains(key)).collect();
        assert!(
            after.len() >= before.len() && before.iter().all(|key| after.contains(key)),
            "kill {k} ({fate:?}): alerts were lost"
        );
        match added.as_slice() {
            [] => old_states += 1,
            [key] if key.contains(&format!(":{mount}\"")) => new_states += 1,
            _ => panic!("kill {k} ({fate:?}): unexpected alerts {added:?}"),
        }
        let left = hidden_files(&state);
        temps.extend(left.iter().cloned());
        if let Fate::Finished(status) = fate {
            assert_eq!(status.code(), Some(1), "kill {k}: a whole run failed");
            assert_eq!(added.len(), 1, "kill {k}: a whole run's alert is missing");
            assert!(left.is_empty(), "kill {k}: a whole run left {left:?}");
        }
    }

    // A recovery after the kills resolves what fired before them, and
    // this uninterrupted run removes whatever the kills left.
    let sent_before = delivered(&out).len();
    let end = notify(&state, &out, &disk_recovered("/var"));
    assert_eq!(end.status.code(), Some(0), "{}", stderr(&end));
    let sent = delivered(&out);
    assert!(
        sent[sent_before..].contains(&"/var".to_string()),
        "the recovery of /var was not sent: {:?}",
        &sent[sent_before..]
    );
    assert!(!still_firing(&state).contains(&sentinel));
    assert_eq!(hidden_files(&state), Vec::<PathBuf>::new());
    soak.summary(&format!(
        ", {new_states} new states and {old_states} old ones in place after a run, 0 unparsable, {} temporary files left by kills, 0 after the next run, the alert firing before the kills resolved after them",
        temps.len()
    ));
}
