//! `fim-check watch` on a real tree with real inotify: each kind of change
//! is reported as it happens, with the records verify would write, and
//! SIGTERM ends it cleanly.

mod support;

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use support::Sandbox;

/// Long enough for a loaded machine; the tests wait for what they expect
/// and never for a fixed time.
const PATIENCE: Duration = Duration::from_secs(60);

/// A running `fim-check watch`, its stdout records and stderr lines
/// collected as they arrive.
struct Watch {
    child: Child,
    records: Arc<Mutex<Vec<Value>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Watch {
    fn start(mut cmd: Command) -> Watch {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("fim-check watch starts");
        let records = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let out = BufReader::new(child.stdout.take().unwrap());
        let sink = Arc::clone(&records);
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let rec = serde_json::from_str(&line).expect("one record per line");
                sink.lock().unwrap().push(rec);
            }
        });
        let err = BufReader::new(child.stderr.take().unwrap());
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in err.lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let watch = Watch {
            child,
            records,
            stderr,
        };
        watch.wait_stderr("watching with");
        watch
    }

    fn wait_stderr(&self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.stderr.lock().unwrap().iter().any(|l| l.contains(text)) {
            assert!(
                Instant::now() < deadline,
                "no {text:?} on stderr: {:?}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for a record of `kind` about `path` among those after the
    /// first `from`, and returns it.
    fn wait_for(&self, from: usize, kind: &str, path: &std::path::Path) -> Value {
        let want = path.to_str().unwrap();
        let deadline = Instant::now() + PATIENCE;
        loop {
            let found = self.records.lock().unwrap()[from..]
                .iter()
                .find(|r| r["kind"] == kind && r["path"] == want)
                .cloned();
            if let Some(rec) = found {
                return rec;
            }
            assert!(
                Instant::now() < deadline,
                "no {kind} for {want} in {:#?}\nstderr: {:?}",
                self.records.lock().unwrap(),
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn seen(&self) -> usize {
        self.records.lock().unwrap().len()
    }

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    /// Sends SIGTERM and returns the exit code once it exits.
    fn stop(mut self) -> (Option<i32>, Vec<Value>, Vec<String>) {
        self.signal(Signal::SIGTERM);
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "watch ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        // The readers finish at end of file.
        std::thread::sleep(Duration::from_millis(200));
        let records = self.records.lock().unwrap().clone();
        let stderr = self.stderr.lock().unwrap().clone();
        (status.code(), records, stderr)
    }
}

fn watch_cmd(sb: &Sandbox) -> Command {
    let mut cmd = sb.cmd("watch");
    cmd.args(["-v", "--settle", "1s"]);
    cmd
}

fn attributes(rec: &Value) -> Vec<&str> {
    rec["attributes"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap()).collect())
        .unwrap_or_default()
}

#[test]
fn reports_each_change_as_it_happens_and_stops_on_sigterm() {
    let sb = Sandbox::new();
    fs::create_dir(sb.path("sub")).unwrap();
    for name in ["written", "sub/perm", "doomed", "old-name"] {
        fs::write(sb.path(name), name).unwrap();
    }
    sb.init();
    let watch = Watch::start(watch_cmd(&sb));
    assert_eq!(watch.seen(), 0, "the first check found changes");

    // Content written in many chunks: one record, with the new hash.
    let mark = watch.seen();
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(sb.path("written"))
        .unwrap();
    for _ in 0..200 {
        file.write_all(&[b'x'; 512]).unwrap();
        file.flush().unwrap();
    }
    drop(file);
    let rec = watch.wait_for(mark, "fim.changed", &sb.path("written"));
    assert!(attributes(&rec).contains(&"sha256"), "{rec}");
    assert_eq!(rec["new_size"], 7 + 200 * 512);

    let mark = watch.seen();
    fs::set_permissions(sb.path("sub/perm"), fs::Permissions::from_mode(0o600)).unwrap();
    let rec = watch.wait_for(mark, "fim.changed", &sb.path("sub/perm"));
    assert_eq!(rec["new_mode"], "0600");
    assert!(!attributes(&rec).contains(&"sha256"), "{rec}");

    let mark = watch.seen();
    fs::rename(sb.path("old-name"), sb.path("new-name")).unwrap();
    watch.wait_for(mark, "fim.removed", &sb.path("old-name"));
    watch.wait_for(mark, "fim.added", &sb.path("new-name"));

    // A new directory is watched: a file created in it later is seen too.
    let mark = watch.seen();
    fs::create_dir(sb.path("newdir")).unwrap();
    fs::write(sb.path("newdir/first"), "1").unwrap();
    watch.wait_for(mark, "fim.added", &sb.path("newdir"));
    watch.wait_for(mark, "fim.added", &sb.path("newdir/first"));
    let mark = watch.seen();
    fs::write(sb.path("newdir/later"), "2").unwrap();
    let rec = watch.wait_for(mark, "fim.added", &sb.path("newdir/later"));
    assert_eq!(rec["sha256"].as_str().unwrap().len(), 64);

    let mark = watch.seen();
    fs::remove_file(sb.path("doomed")).unwrap();
    watch.wait_for(mark, "fim.removed", &sb.path("doomed"));

    let (code, recs, stderr) = watch.stop();
    assert_eq!(code, Some(1), "high findings were reported: {stderr:?}");
    assert!(stderr.iter().any(|l| l.contains("stopped by a signal")));
    let written = recs
        .iter()
        .filter(|r| r["path"] == sb.path("written").to_str().unwrap())
        .count();
    assert_eq!(written, 1, "one write burst, one record: {recs:#?}");

    // The last word on each path is what verify says now: the same
    // comparison, run on what changed.
    let mut last: HashMap<String, &Value> = HashMap::new();
    for rec in &recs {
        last.insert(rec["path"].as_str().unwrap().to_string(), rec);
    }
    let (_, verified) = sb.verify();
    assert_eq!(last.len(), verified.len(), "{last:#?}\n{verified:#?}");
    for rec in &verified {
        let path = rec["path"].as_str().unwrap();
        let seen = last
            .get(path)
            .unwrap_or_else(|| panic!("watch missed {path}"));
        assert_eq!(seen["kind"], rec["kind"], "{path}");
        assert_eq!(attributes(seen), attributes(rec), "{path}");
    }
}

#[test]
fn a_file_written_without_pause_is_still_reported() {
    let sb = Sandbox::new();
    fs::write(sb.path("busy.log"), "start\n").unwrap();
    sb.init();
    let watch = Watch::start(watch_cmd(&sb));
    // Writes far more often than the settle time: the records must not
    // wait for a pause that never comes.
    let mut log = fs::OpenOptions::new()
        .append(true)
        .open(sb.path("busy.log"))
        .unwrap();
    let want = sb.path("busy.log");
    let deadline = Instant::now() + PATIENCE;
    let reported = loop {
        log.write_all(b"line\n").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let seen = watch
            .records
            .lock()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "fim.changed" && r["path"] == want.to_str().unwrap());
        if seen || Instant::now() > deadline {
            break seen;
        }
    };
    assert!(reported, "no record while the file kept changing");
    watch.stop();
}

#[test]
fn a_lost_event_queue_means_a_rescan_said_out_loud() {
    let max: usize = fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let sb = Sandbox::new();
    fs::create_dir(sb.path("many")).unwrap();
    sb.init();
    let watch = Watch::start(watch_cmd(&sb));
    // Stopped, the watch reads nothing while each new empty file queues a
    // create and a close event: more than the queue holds.
    watch.signal(Signal::SIGSTOP);
    let files = max / 2 + 1000;
    for i in 0..files {
        fs::File::create(sb.path(&format!("many/{i}"))).unwrap();
    }
    watch.signal(Signal::SIGCONT);
    watch.wait_stderr("overflowed");
    watch.wait_for(0, "fim.added", &sb.path(&format!("many/{}", files - 1)));
    let (_, recs, _) = watch.stop();
    let added = recs
        .iter()
        .filter(|r| r["kind"] == "fim.added" && r["path"].as_str().unwrap().contains("/many/"))
        .count();
    assert_eq!(added, files, "each new file is reported once");
}

#[test]
fn the_watch_limit_is_named_when_reached() {
    let sb = Sandbox::new();
    for dir in ["a", "b", "c", "d"] {
        fs::create_dir(sb.path(dir)).unwrap();
    }
    sb.init();
    // A user namespace of its own has its own limit, lowered here without
    // touching the host's.
    let script = "echo 3 > /proc/sys/user/max_inotify_watches && exec \"$@\"";
    let mut cmd = Command::new("unshare");
    cmd.args(["--user", "--map-root-user", "sh", "-c", script, "sh"])
        .arg(env!("CARGO_BIN_EXE_fim-check"))
        .args(["watch", "--format", "jsonl", "--state-dir"])
        .arg(sb.state());
    let out = cmd.output().expect("unshare (util-linux) runs");
    let err = support::stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("fs.inotify.max_user_watches"), "{err}");
    let failed = secops_testkit::only_failure(&out.stdout);
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("fs.inotify.max_user_watches")
    );
}

#[test]
fn an_alert_ends_as_soon_as_the_path_is_put_back() {
    let sb = Sandbox::new();
    fs::write(sb.path("f"), "f").unwrap();
    fs::set_permissions(sb.path("f"), fs::Permissions::from_mode(0o644)).unwrap();
    // Permissions only, so a mode put back is as the baseline records it.
    let policy = sb.dir.path().join("policy.yaml");
    fs::write(
        &policy,
        format!(
            "paths:\n  - path: {}\n    attributes: perms\n",
            sb.tree().display()
        ),
    )
    .unwrap();
    let out = support::run(sb.cmd("init").arg("--policy").arg(&policy));
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    let watch = Watch::start(watch_cmd(&sb));

    let mark = watch.seen();
    fs::set_permissions(sb.path("f"), fs::Permissions::from_mode(0o666)).unwrap();
    let fired = watch.wait_for(mark, "fim.changed", &sb.path("f"));
    assert_eq!(fired["alert"], "firing");
    let mark = watch.seen();
    fs::set_permissions(sb.path("f"), fs::Permissions::from_mode(0o644)).unwrap();
    let resolved = watch.wait_for(mark, "fim.resolved", &sb.path("f"));
    assert_eq!(resolved["alert"], "resolved");
    assert_eq!(resolved["alert_id"], fired["alert_id"]);
    assert_eq!(resolved["reason"], "restored");

    let (code, recs, stderr) = watch.stop();
    assert_eq!(code, Some(1), "a high alert was written: {stderr:?}");
    let about_f: Vec<&str> = recs
        .iter()
        .filter(|r| r["path"] == sb.path("f").to_str().unwrap())
        .map(|r| r["alert"].as_str().unwrap())
        .collect();
    assert_eq!(about_f, ["firing", "resolved"], "{recs:#?}");
    // The next verify knows it ended: nothing to say.
    let (code, recs) = sb.verify();
    assert_eq!((code, recs.len()), (Some(0), 0), "{recs:#?}");
}
