//! Alerting behaviour through the binary with a state directory:
//! deduplication, --repeat-interval, escalation, recovery notices,
//! --group-wait on a live stream, a kill mid-send, and the exec and syslog
//! sinks and the settings file.

mod support;

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use secops_testkit::{closed_port, of_kind, records, stderr, wait_until};
use serde_json::Value;
use support::*;

fn hook(http: &Http, state: &Path, extra: &[&str], input: &str) -> std::process::Output {
    let mut args = vec![
        "--webhook-url-env",
        "NOTIFY_TEST_HOOK",
        "--webhook-format",
        "json",
        "--state-dir",
        state.to_str().unwrap(),
        "--fail-on",
        "critical",
    ];
    args.extend_from_slice(extra);
    run_env(&args, input, &[("NOTIFY_TEST_HOOK", &http.url("/hook"))])
}

/// secops-notify posting to `url`, reading a stream the test writes to:
/// the live counterpart of `hook`. The caller sets stdout and stderr.
fn live(url: &str, state: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["--webhook-url-env", "NOTIFY_TEST_HOOK", "--state-dir"])
        .arg(state)
        .args(extra)
        .env("NOTIFY_TEST_HOOK", url)
        .stdin(Stdio::piped());
    cmd
}

fn bodies(http: &Http) -> Vec<Value> {
    http.received()
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect()
}

#[test]
fn the_same_alert_is_sent_once_until_the_repeat_interval() {
    let http = Http::start(&[200]);
    let state = tempfile::tempdir().unwrap();
    let input = disk_alert("/var", 93, "high");
    let out = hook(&http, state.path(), &[], &input);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(bodies(&http).len(), 1);

    // disk-alert says it again on its next cron run: nothing new.
    let out = hook(&http, state.path(), &[], &disk_alert("/var", 94, "high"));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(bodies(&http).len(), 1, "deduplicated");
    assert!(of_kind(&records(&out.stdout), "notify.sent").is_empty());

    // Another mount is another alert; only it goes out.
    hook(
        &http,
        state.path(),
        &[],
        &(input.clone() + &disk_alert("/srv", 91, "high")),
    );
    let sent = bodies(&http);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1]["firing_count"], 1);
    assert_eq!(sent[1]["firing"][0]["mount"], "/srv");

    // Worse than when last told: at once.
    hook(
        &http,
        state.path(),
        &[],
        &disk_alert("/var", 99, "critical"),
    );
    let sent = bodies(&http);
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[2]["firing"][0]["severity"], "critical");

    // Once the interval has passed, a still-firing alert is repeated.
    std::thread::sleep(Duration::from_millis(2100));
    hook(
        &http,
        state.path(),
        &["--repeat-interval", "2s"],
        &disk_alert("/var", 99, "critical"),
    );
    assert_eq!(bodies(&http).len(), 4, "repeated after --repeat-interval");
}

#[test]
fn a_recovery_is_sent_once_and_only_for_what_was_alerted() {
    let http = Http::start(&[200]);
    let state = tempfile::tempdir().unwrap();
    // A recovery with no alert behind it says nothing.
    hook(&http, state.path(), &[], &disk_recovered("/var"));
    assert!(bodies(&http).is_empty());

    hook(&http, state.path(), &[], &disk_alert("/var", 93, "high"));
    let cpu = record(
        "healthmon",
        "health.alert",
        "high",
        "cpu is 99.0%, above the critical level 90.0% for 3 samples",
        serde_json::json!({"alert": "firing", "alert_id": "healthmon:cpu", "metric": "cpu", "level": "critical", "previous_level": "ok"}),
    );
    hook(&http, state.path(), &[], &cpu);
    assert_eq!(bodies(&http).len(), 2);

    let cpu_back = record(
        "healthmon",
        "health.recovered",
        "info",
        "cpu is back to 35.2%, below 90.0% for 3 samples",
        serde_json::json!({"alert": "resolved", "alert_id": "healthmon:cpu", "metric": "cpu", "level": "ok", "previous_level": "critical"}),
    );
    let out = hook(
        &http,
        state.path(),
        &[],
        &(disk_recovered("/var") + &cpu_back),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sent = bodies(&http);
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[2]["firing_count"], 0);
    assert_eq!(sent[2]["resolved_count"], 2);
    assert_eq!(sent[2]["resolved"][0]["kind"], "disk.recovered");
    assert_eq!(sent[2]["resolved"][1]["kind"], "health.recovered");
    assert_eq!(
        sent[2]["subject"],
        "[secops] RESOLVED: 2 alerts on web1: /var is back to 71% full, at or below its warning level of 80% (+1 more)"
    );
    let recs = records(&out.stdout);
    assert_eq!(of_kind(&recs, "notify.sent")[0]["resolved"], 2);
    assert_eq!(
        ledger(state.path()),
        serde_json::json!({}),
        "nothing firing"
    );

    // Said again: nothing more. Alerting again: a fresh alert.
    hook(&http, state.path(), &[], &disk_recovered("/var"));
    assert_eq!(bodies(&http).len(), 3);
    hook(&http, state.path(), &[], &disk_alert("/var", 93, "high"));
    assert_eq!(bodies(&http).len(), 4);
}

#[test]
fn a_recovery_that_failed_to_send_goes_out_on_the_next_run() {
    let http = Http::start(&[200]);
    let state = tempfile::tempdir().unwrap();
    hook(&http, state.path(), &[], &disk_alert("/var", 93, "high"));
    let dead = format!("http://127.0.0.1:{}/hook", closed_port());
    let out = run_env(
        &[
            "--webhook-url-env",
            "NOTIFY_TEST_HOOK",
            "--state-dir",
            state.path().to_str().unwrap(),
            "--attempts",
            "1",
        ],
        &disk_recovered("/var"),
        &[("NOTIFY_TEST_HOOK", dead.as_str())],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(of_kind(&records(&out.stdout), "notify.failed").len(), 1);

    // disk-alert writes disk.recovered once; the ledger remembers it.
    let out = hook(&http, state.path(), &[], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sent = bodies(&http);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1]["resolved"][0]["kind"], "disk.recovered");
}

#[test]
fn records_that_arrive_together_are_one_message_on_a_live_stream() {
    let http = Http::start(&[200]);
    let state = tempfile::tempdir().unwrap();
    let extra = ["--webhook-format", "json", "--group-wait", "2s"];
    let mut child = live(&http.url("/hook"), state.path(), &extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let burst = disk_alert("/a", 91, "high")
        + &disk_alert("/b", 92, "high")
        + &disk_alert("/c", 93, "high");
    stdin.write_all(burst.as_bytes()).unwrap();
    stdin.flush().unwrap();
    // The stream stays open: the group goes out when --group-wait ends.
    assert!(
        wait_until(PATIENCE, || !http.received().is_empty()),
        "no message"
    );
    let first = bodies(&http);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["firing_count"], 3);

    stdin
        .write_all(disk_alert("/d", 94, "high").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    assert!(
        wait_until(PATIENCE, || http.received().len() == 2),
        "no second message"
    );
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let sent = bodies(&http);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1]["firing_count"], 1);
    assert_eq!(sent[1]["firing"][0]["mount"], "/d");
    assert_eq!(of_kind(&records(&out.stdout), "notify.sent").len(), 2);
}

#[test]
fn a_failing_sink_gets_attempts_tries_per_message_not_per_flush() {
    // A webhook that answers 500 to everything, counted by a real listener.
    let http = Http::start(&[500]);
    let state = tempfile::tempdir().unwrap();
    let extra = [
        "--webhook-format",
        "json",
        "--group-wait",
        "300ms",
        "--attempts",
        "2",
        "--retry-delay",
        "10ms",
    ];
    let mut child = live(&http.url("/hook"), state.path(), &extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // A producer slower than --group-wait (fim-check hashing a tree, say):
    // the group goes out while the input is still open, and fails.
    stdin
        .write_all(disk_alert("/var", 93, "high").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    assert!(
        wait_until(PATIENCE, || http.received().len() >= 2),
        "the group was never sent"
    );
    // The next group flush and the end of input find the same debt: it
    // stays owed, for the next run, without more tries in this one.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(http.received().len(), 2, "retried at the next flush");
    // Something new owed to the sink is a new message: its own 2 tries,
    // carrying the old debt with it.
    stdin
        .write_all(disk_alert("/srv", 95, "high").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    assert!(
        wait_until(PATIENCE, || http.received().len() >= 4),
        "the new alert was never sent"
    );
    std::thread::sleep(Duration::from_millis(800));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let sent = bodies(&http);
    assert_eq!(sent.len(), 4, "2 messages x --attempts 2: {sent:#?}");
    assert_eq!(sent[1]["firing_count"], 1);
    assert_eq!(sent[3]["firing_count"], 2);
    let recs = records(&out.stdout);
    let failed = of_kind(&recs, "notify.failed");
    assert_eq!(failed.len(), 2, "{recs:#?}");
    assert!(failed.iter().all(|f| f["attempts"] == 2));
    // Still owed: the next run pays it (with its own --attempts).
    let ok = Http::start(&[200]);
    let out = hook(&ok, state.path(), &[], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(bodies(&ok).len(), 1);
    assert_eq!(bodies(&ok)[0]["firing_count"], 2);
}

#[test]
fn a_failing_sink_is_tried_attempts_times_in_a_cron_run() {
    // The plain cron pipeline: records, then the end of input, when the
    // producer took longer than --group-wait (here 200 ms).
    let http = Http::start(&[500]);
    let state = tempfile::tempdir().unwrap();
    let mut child = live(
        &http.url("/hook"),
        state.path(),
        &[
            "--group-wait",
            "200ms",
            "--attempts",
            "3",
            "--retry-delay",
            "10ms",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(disk_alert("/var", 93, "high").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    assert!(wait_until(PATIENCE, || http.received().len() >= 3));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(http.received().len(), 3, "--attempts 3 means 3 requests");
    assert_eq!(of_kind(&records(&out.stdout), "notify.failed").len(), 1);
}

#[test]
fn a_steady_trickle_does_not_hold_a_group_back() {
    let http = Http::start(&[200]);
    let state = tempfile::tempdir().unwrap();
    let extra = ["--webhook-format", "json", "--group-wait", "1s"];
    let mut child = live(&http.url("/hook"), state.path(), &extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writing = std::sync::Arc::clone(&done);
    // A record every 5 ms, never pausing, until a message has arrived.
    let writer = std::thread::spawn(move || {
        let mut n = 0;
        while !writing.load(std::sync::atomic::Ordering::Relaxed) && n < 100_000 {
            let line = disk_alert(&format!("/t{n}"), 95, "high");
            if stdin.write_all(line.as_bytes()).is_err() {
                break;
            }
            n += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let arrived = wait_until(PATIENCE, || !http.received().is_empty());
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    child.wait().unwrap();
    assert!(arrived, "no message while the input kept coming");
    assert!(bodies(&http)[0]["firing_count"].as_u64().unwrap() >= 1);
}

#[test]
fn killed_mid_send_nothing_is_recorded_and_the_next_run_delivers() {
    let stall = Stall::start();
    let state = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}/hook", stall.port);
    let mut child = live(&url, state.path(), &["--timeout", "10m"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(disk_alert("/var", 93, "high").as_bytes())
        .unwrap();
    assert!(
        wait_until(PATIENCE, || stall.accepted() > 0),
        "never connected"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let entry = ledger(state.path());
    let entry = entry.as_object().unwrap().values().next().unwrap();
    assert_eq!(entry["told"], serde_json::json!({}), "recorded as sent");

    let http = Http::start(&[200]);
    let out = hook(&http, state.path(), &[], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(bodies(&http)[0]["firing"][0]["mount"], "/var");
}

#[test]
fn killed_while_grouping_the_alerts_are_already_owed() {
    let state = tempfile::tempdir().unwrap();
    let url = "http://127.0.0.1:9/never-used";
    let mut child = live(url, state.path(), &["--group-wait", "10m"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(disk_alert("/var", 93, "high").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    assert!(
        wait_until(PATIENCE, || ledger(state.path())
            .as_object()
            .is_some_and(|l| !l.is_empty())),
        "the alert never reached the ledger"
    );
    child.kill().unwrap();
    child.wait().unwrap();

    let http = Http::start(&[200]);
    let out = hook(&http, state.path(), &[], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(bodies(&http)[0]["firing"][0]["mount"], "/var");
}

#[test]
fn sigterm_sends_what_has_arrived_and_ends_the_run() {
    let http = Http::start(&[200]);
    let state = tempfile::tempdir().unwrap();
    let extra = [
        "--webhook-format",
        "json",
        "--group-wait",
        "10m",
        "--fail-on",
        "critical",
    ];
    let mut child = live(&http.url("/hook"), state.path(), &extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(disk_alert("/var", 93, "high").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    assert!(wait_until(PATIENCE, || ledger(state.path())
        .as_object()
        .is_some_and(|l| !l.is_empty())));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // stdin stays open: the signal, not the end of input, ends the run.
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(bodies(&http)[0]["firing"][0]["mount"], "/var");
    assert_eq!(of_kind(&records(&out.stdout), "notify.sent").len(), 1);
}

#[test]
fn exec_gets_the_records_on_stdin_and_its_failure_counts() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let got = dir.path().join("got");
    let cmd = format!(
        "cat > {0}.tmp && echo \"$SECOPS_NOTIFY_FIRING $SECOPS_NOTIFY_SUBJECT\" >> {0}.tmp && mv {0}.tmp {0}",
        got.display()
    );
    let out = run(
        &["--exec", &cmd, "--state-dir", state.to_str().unwrap()],
        &(disk_alert("/var", 93, "high") + &disk_alert("/srv", 92, "high")),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = std::fs::read_to_string(&got).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    let first: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["mount"], "/var");
    assert!(
        lines[2].starts_with("2 [secops] HIGH: 2 alerts on web1"),
        "{}",
        lines[2]
    );

    let out = run(
        &[
            "--exec",
            "echo pager is down >&2; exit 7",
            "--state-dir",
            dir.path().join("state2").to_str().unwrap(),
            "--attempts",
            "1",
        ],
        &disk_alert("/var", 93, "high"),
    );
    assert_eq!(out.status.code(), Some(3));
    let recs = records(&out.stdout);
    assert_eq!(
        of_kind(&recs, "notify.failed")[0]["error"],
        "the command exited with status 7: pager is down"
    );
}

#[test]
fn syslog_gets_one_framed_line_per_alert() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("log.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    let out = run(
        &[
            "--syslog-socket",
            socket_path.to_str().unwrap(),
            "--state-dir",
            dir.path().join("state").to_str().unwrap(),
        ],
        &(disk_alert("/var", 93, "high") + &disk_alert("/srv", 99, "critical")),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let mut buf = [0u8; 4096];
    let mut lines = Vec::new();
    for _ in 0..2 {
        let n = socket.recv(&mut buf).unwrap();
        lines.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    // daemon.crit for critical, daemon.err for high; worst first.
    assert!(lines[0].starts_with("<26>secops-notify["), "{}", lines[0]);
    assert!(lines[0].ends_with("]: [CRITICAL] web1 disk-alert disk.alert: /srv is 99% full, above the critical level of 90%"));
    assert!(lines[1].starts_with("<27>secops-notify["), "{}", lines[1]);
    let recs = records(&out.stdout);
    assert_eq!(of_kind(&recs, "notify.sent")[0]["sink"], "syslog");
}

#[test]
fn the_settings_file_drives_a_run_and_its_errors_name_the_place() {
    let http = Http::start(&[200]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("notify.yaml");
    std::fs::write(
        &config,
        format!(
            "min_severity: medium\nstate_dir: {}\nwebhook:\n  url_env: NOTIFY_TEST_HOOK\n  format: json\n",
            dir.path().join("state").display()
        ),
    )
    .unwrap();
    let out = run_env(
        &["--config", config.to_str().unwrap()],
        &disk_alert("/var", 85, "medium"),
        &[("NOTIFY_TEST_HOOK", &http.url("/hook"))],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(bodies(&http)[0]["firing"][0]["severity"], "medium");

    std::fs::write(
        &config,
        "min_severity: medium\nwebhook:\n  url_env: X\n  fromat: json\n",
    )
    .unwrap();
    let out = run(&["--config", config.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:4:", config.display())) && err.contains("webhook.fromat"),
        "{err}"
    );
}

#[test]
fn bad_lines_are_named_and_the_good_ones_still_delivered() {
    let http = Http::start(&[200]);
    let state = tempfile::tempdir().unwrap();
    let out = hook(
        &http,
        state.path(),
        &[],
        &(String::from("not a record\n") + &disk_alert("/var", 93, "high")),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("<stdin>:1: skipped"),
        "{}",
        stderr(&out)
    );
    assert_eq!(bodies(&http).len(), 1);
}

#[test]
fn no_sink_is_a_usage_error() {
    let state = tempfile::tempdir().unwrap();
    let out = run(&["--state-dir", state.path().to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nowhere to send alerts"));
}

/// Many alerts in one run, then their recoveries: the command gets every
/// record exactly as it was read (byte for byte: the ledger keeps records
/// as JSON lines and messages parse them only as they are sent), firing
/// alerts worst first and then in the order their latest record came, a
/// repeated alert once with its latest record; the state file keeps the
/// same lines, keys in order; the recoveries then go out in the order they
/// came and empty the ledger. Guards the ledger's and the digest's
/// representation, which were changed to keep memory small.
#[test]
fn many_alerts_keep_their_records_and_order_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let got = dir.path().join("got");
    let cmd = format!(
        "cat > {0}.tmp && echo \"$SECOPS_NOTIFY_FIRING $SECOPS_NOTIFY_RESOLVED\" > {0}.count && mv {0}.tmp {0}",
        got.display()
    );
    let severities = ["critical", "high", "high", "medium"];
    let alert = |i: usize, severity: &str, percent: f64| {
        record(
            "disk-alert",
            "disk.alert",
            severity,
            &format!("/srv/\"m{i}\" is {percent}% full\u{e9}"),
            serde_json::json!({"alert": "firing", "alert_id": format!("disk-alert:space:/srv/m{i}"),
                "mount": format!("/srv/m{i}"), "measure": "space",
                "percent": percent, "free_bytes": 12_345_678_901_234u64, "device": null}),
        )
    };
    let mut input = Vec::new();
    for i in 0..300 {
        input.push((i, alert(i, severities[i % 4], 91.5)));
    }
    // Said again, worse: the latest record counts, in its own place.
    for i in (0..40).step_by(3) {
        input.push((i, alert(i, "critical", 99.25)));
    }
    // What must go out: the latest record of each alert at or above high,
    // critical before high, each in the order its latest record came.
    let mut latest: std::collections::BTreeMap<usize, (usize, String)> = Default::default();
    for (n, (i, line)) in input.iter().enumerate() {
        latest.insert(*i, (n, line.clone()));
    }
    let mut expected: Vec<(u8, usize, String)> = latest
        .values()
        .filter_map(|(n, line)| {
            let rank = match serde_json::from_str::<Value>(line).unwrap()["severity"].as_str() {
                Some("critical") => 0,
                Some("high") => 1,
                _ => return None,
            };
            Some((rank, *n, line.clone()))
        })
        .collect();
    expected.sort();
    let text: String = input.iter().map(|(_, line)| line.as_str()).collect();
    let out = run(
        &["--exec", &cmd, "--state-dir", state.to_str().unwrap()],
        &text,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let sent: String = expected.iter().map(|(_, _, line)| line.as_str()).collect();
    assert_eq!(std::fs::read_to_string(&got).unwrap(), sent);
    let count = std::fs::read_to_string(got.with_extension("count")).unwrap();
    assert_eq!(count.trim(), format!("{} 0", expected.len()));
    let recs = records(&out.stdout);
    let items: Vec<String> = expected
        .iter()
        .map(|(_, _, line)| {
            let rec: Value = serde_json::from_str(line).unwrap();
            format!("web1: {}", rec["message"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        of_kind(&recs, "notify.sent")[0]["alerts"],
        serde_json::json!(items)
    );

    // The state file: the same lines, keys in order, all told, none owed.
    let file = std::fs::read_to_string(state.join("notify.json")).unwrap();
    assert!(file.ends_with("}}\n"), "one JSON document and a newline");
    let alerts = ledger(&state);
    let alerts = alerts.as_object().unwrap();
    let keys: Vec<&String> = alerts.keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    let mut kept: Vec<&str> = alerts
        .values()
        .map(|e| {
            assert_eq!(e["owed"], serde_json::json!([]));
            let record: Value = serde_json::from_str(e["record"].as_str().unwrap()).unwrap();
            assert_eq!(e["told"]["exec"]["severity"], record["severity"]);
            assert_eq!(e["told"].as_object().unwrap().len(), 1);
            e["record"].as_str().unwrap()
        })
        .collect();
    let mut lines: Vec<&str> = expected
        .iter()
        .map(|(_, _, line)| line.trim_end())
        .collect();
    kept.sort();
    lines.sort();
    assert_eq!(kept, lines);

    // Their recoveries, last alert first: sent in that order, then gone.
    let ended: Vec<usize> = (0..300).rev().filter(|i| i % 4 != 3).take(100).collect();
    let recoveries: Vec<String> = ended
        .iter()
        .map(|i| {
            record(
                "disk-alert",
                "disk.recovered",
                "info",
                &format!("/srv/m{i} is back\nto 71%"),
                serde_json::json!({"alert": "resolved", "alert_id": format!("disk-alert:space:/srv/m{i}"),
                    "mount": format!("/srv/m{i}"), "measure": "space", "level": "ok"}),
            )
        })
        .collect();
    let out = run(
        &["--exec", &cmd, "--state-dir", state.to_str().unwrap()],
        &recoveries.concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&got).unwrap(), recoveries.concat());
    let count = std::fs::read_to_string(got.with_extension("count")).unwrap();
    assert_eq!(count.trim(), "0 100");
    assert_eq!(
        ledger(&state).as_object().unwrap().len(),
        expected.len() - 100
    );
}

/// Records are fed to the command as it reads them: one that reads only
/// part of its input, or none of it, with far more than a pipe holds
/// waiting, still ends the delivery as it exits.
#[test]
fn exec_that_does_not_read_all_its_input_is_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let input: String = (0..2000)
        .map(|i| disk_alert(&format!("/srv/m{i}"), 93, "high"))
        .collect();
    assert!(input.len() > 4 * 65536);
    for (n, cmd) in ["head -c 100 >/dev/null", "exit 0"].iter().enumerate() {
        let state = dir.path().join(format!("state{n}"));
        let out = run(
            &[
                "--exec",
                cmd,
                "--timeout",
                "10m",
                "--state-dir",
                state.to_str().unwrap(),
            ],
            &input,
        );
        assert_eq!(out.status.code(), Some(1), "{cmd}: {}", stderr(&out));
        let sent = of_kind(&records(&out.stdout), "notify.sent")
            .first()
            .map(|r| r["firing"].clone());
        assert_eq!(sent, Some(Value::from(2000)), "{cmd}");
    }
}

#[test]
fn every_run_ends_with_a_summary_of_what_it_read_and_sent() {
    let state = tempfile::tempdir().unwrap();
    let sent = state.path().join("sent");
    let exec = format!("cat >> '{}'", sent.display());
    let args = ["--exec", &exec, "--format", "jsonl", "--state-dir"];
    let args: Vec<&str> = args
        .into_iter()
        .chain([state.path().to_str().unwrap()])
        .collect();
    let input = disk_alert("/srv", 97, "critical") + &disk_alert("/var", 95, "high");
    let summary = |out: &std::process::Output| {
        let recs = records(&out.stdout);
        let last = recs.last().expect("a summary").clone();
        assert_eq!(last["kind"], "notify.summary", "{recs:#?}");
        assert_eq!(last["alert"], "none");
        (recs.len(), last)
    };
    // The first run sends one message for both alerts.
    let (count, first) = summary(&run(&args, &input));
    assert_eq!(count, 2, "notify.sent, then the summary");
    assert_eq!(
        (first["read"].as_u64(), first["sent"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        first["message"],
        "read 2 records: 1 message sent, 0 failed, 0 held back"
    );
    // The same alerts again: nothing is due, and the summary alone says so.
    let (count, again) = summary(&run(&args, &input));
    assert_eq!(count, 1);
    assert_eq!(again["sent"], 0);
    assert_eq!(
        again["message"],
        "read 2 records: 0 messages sent, 0 failed, 0 held back"
    );
}
