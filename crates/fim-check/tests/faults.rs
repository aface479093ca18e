//! Faults the baseline writers must survive (issue 22): `init --force` and
//! `update` with the state directory (baseline and all) on a full tmpfs
//! (ENOSPC), a read-only one (EROFS) and a file system whose writes fail
//! with EIO. Each run fails (exit 3) with a record naming the baseline and
//! the cause, the previous baseline is there byte for byte and still what
//! `verify` compares against, and once the fault is gone a run succeeds and
//! leaves no temporary file. (kill -9 of the same writers: tests/kill.rs.)

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use secops_testkit::{EioFs, Tmpfs, hidden_files};
use support::{Sandbox, record_for, records, run, stderr};

#[derive(Clone, Copy, Debug)]
enum Writer {
    InitForce,
    Update,
}

/// A baseline made on `mount` (its state directory there), then `writer`
/// run with `fault(true)` on, then checks with `fault(false)`.
fn writer_fails_and_keeps_the_baseline(
    mount: &Path,
    writer: Writer,
    cause: &str,
    fault: impl Fn(bool),
) {
    let sb = Sandbox::with_state(tempfile::tempdir().unwrap(), mount.join("state"));
    for d in 0..4 {
        let dir = sb.tree().join(format!("d{d}"));
        fs::create_dir(&dir).unwrap();
        for f in 0..50 {
            fs::write(dir.join(format!("f{f}")), format!("{d}/{f}\n").repeat(40)).unwrap();
        }
    }
    sb.init();
    let base = sb.state().join("fim.baseline");
    let good = fs::read(&base).unwrap();
    // What the failed writer would have taken into the baseline.
    let added = sb.path("added");
    fs::write(&added, "made after the baseline\n").unwrap();

    fault(true);
    let mut cmd = match writer {
        Writer::InitForce => {
            let mut cmd = sb.cmd("init");
            cmd.arg("--force").arg(sb.tree());
            cmd
        }
        Writer::Update => sb.cmd("update"),
    };
    let out = run(&mut cmd);
    let recs = records(&out.stdout);
    let when = format!("{writer:?} ({cause})");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{when}: {recs:#?} {}",
        stderr(&out)
    );
    let failed: Vec<_> = recs.iter().filter(|r| r["kind"] == "run.failed").collect();
    assert_eq!(failed.len(), 1, "{when}: {recs:#?}");
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("cannot write {}", base.display())) && error.contains(cause),
        "{when}: the record does not say the baseline could not be written for {cause:?}: {:#?}",
        failed[0]
    );
    assert_eq!(failed[0]["alert"], "firing", "{when}: {:#?}", failed[0]);
    assert_eq!(
        fs::read(&base).unwrap(),
        good,
        "{when}: the baseline changed"
    );

    fault(false);
    // The old baseline is what verify compares against: it sees the file
    // the failed run did not take in.
    let (code, recs) = sb.verify();
    assert_eq!(code, Some(1), "{when}: {recs:#?}");
    record_for(&recs, "fim.added", &added);
    assert_eq!(fs::read(&base).unwrap(), good, "{when}");
    let out = run(&mut sb.cmd("update"));
    assert_eq!(out.status.code(), Some(0), "{when}: {}", stderr(&out));
    assert_eq!(
        hidden_files(&sb.state()),
        Vec::<PathBuf>::new(),
        "{when}: temporary files after a good run"
    );
    let (code, recs) = sb.verify();
    assert_eq!((code, recs.len()), (Some(0), 0), "{when}: {recs:#?}");
}

fn on_a_full_tmpfs(writer: Writer) {
    let tmp = Tmpfs::new(2 << 20);
    writer_fails_and_keeps_the_baseline(tmp.path(), writer, "No space left on device", |on| {
        if on { tmp.fill() } else { tmp.free() }
    });
}

fn on_a_read_only_tmpfs(writer: Writer) {
    let tmp = Tmpfs::new(2 << 20);
    writer_fails_and_keeps_the_baseline(tmp.path(), writer, "Read-only file system", |on| {
        tmp.read_only(on)
    });
}

fn on_a_failing_disk(writer: Writer) {
    let eio = EioFs::new();
    writer_fails_and_keeps_the_baseline(&eio.path(), writer, "Input/output error", |on| {
        eio.failing(on)
    });
}

#[test]
fn init_force_on_a_full_state_dir_fails_with_a_record_and_keeps_the_baseline() {
    on_a_full_tmpfs(Writer::InitForce);
}

#[test]
fn init_force_on_a_read_only_state_dir_fails_with_a_record_and_keeps_the_baseline() {
    on_a_read_only_tmpfs(Writer::InitForce);
}

#[test]
fn init_force_on_a_state_dir_failing_with_eio_fails_with_a_record_and_keeps_the_baseline() {
    on_a_failing_disk(Writer::InitForce);
}

#[test]
fn update_on_a_full_state_dir_fails_with_a_record_and_keeps_the_baseline() {
    on_a_full_tmpfs(Writer::Update);
}

#[test]
fn update_on_a_read_only_state_dir_fails_with_a_record_and_keeps_the_baseline() {
    on_a_read_only_tmpfs(Writer::Update);
}

#[test]
fn update_on_a_state_dir_failing_with_eio_fails_with_a_record_and_keeps_the_baseline() {
    on_a_failing_disk(Writer::Update);
}
