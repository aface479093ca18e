//! `fetch` of a directory from a real sshd into a local directory that
//! fails (issue 22): a full disk, a read-only one and one whose writes
//! fail with EIO, each real (secops-testkit's Tmpfs and EioFs), and kill -9
//! at random points of a fetch (KillSoak). The previous good copy stays
//! byte for byte, no partial file shows under its real name, the exit
//! status and records say what failed, and the next fetch after the fault
//! brings everything and leaves no temporary file.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use secops_testkit::{EioFs, Fate, KillSoak, Tmpfs, of_kind};
use serde_json::Value;
use support::{Sshd, aliases, records, remote_run, run, stderr, tree};

/// The remote tree: `files` files in a few directories, of a few KiB to
/// `max` bytes each, all of generation `generation`.
fn write_source(app: &Path, files: usize, max: usize, generation: u64) {
    for i in 0..files {
        write_file(app, i, max, generation);
    }
}

/// File `i` of the remote tree, holding the bytes of `generation`.
fn write_file(app: &Path, i: usize, max: usize, generation: u64) {
    let path = app.join(source_name(i));
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let len = 1000 + (i * 7919) % max;
    let mut state = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ generation;
    let bytes: Vec<u8> = (0..len.div_ceil(8))
        .flat_map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state.to_le_bytes()
        })
        .take(len)
        .collect();
    fs::write(path, bytes).unwrap();
}

fn source_name(i: usize) -> PathBuf {
    if i % 5 == 0 {
        PathBuf::from(format!("f{i:03}.log"))
    } else {
        PathBuf::from(format!("d{}/sub{}/f{i:03}.log", i % 3, i % 2))
    }
}

fn hidden(path: &Path) -> bool {
    path.components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
}

/// The regular files under `root` that are not hidden, with their bytes.
fn visible(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    if !root.exists() {
        return BTreeMap::new();
    }
    tree(root)
        .into_iter()
        .filter(|p| !hidden(p) && root.join(p).is_file())
        .map(|p| {
            let bytes = fs::read(root.join(&p)).unwrap();
            (p, bytes)
        })
        .collect()
}

/// The hidden files under `root` (writers' temporary files).
fn temps(root: &Path) -> Vec<PathBuf> {
    if !root.exists() {
        return Vec::new();
    }
    tree(root).into_iter().filter(|p| hidden(p)).collect()
}

fn fetch(config: &Path, hosts: &str, app: &Path, dest: &Path) -> Command {
    let mut cmd = remote_run();
    cmd.arg("--ssh-config")
        .arg(config)
        .args(["--hosts", hosts, "fetch"])
        .arg(app)
        .arg(dest);
    cmd
}

/// A host's records of a fetch: its `remote.fetch.file`s and its
/// `remote.fetch`.
fn host_records(out: &Output, host: &str) -> (Vec<Value>, Value) {
    let all = records(&out.stdout);
    let mine = |kind: &str| -> Vec<Value> {
        of_kind(&all, kind)
            .into_iter()
            .filter(|r| r["host"] == host)
            .cloned()
            .collect()
    };
    let summary = mine("remote.fetch");
    assert_eq!(summary.len(), 1, "{all:#?}");
    (mine("remote.fetch.file"), summary[0].clone())
}

const FILES: usize = 24;
const MAX: usize = 60_000;

/// A good fetch into `dest`, then new contents on the host and `fault` on:
/// the fetch fails with exit 3 and records naming `errno`, and leaves the
/// good copy as it was; then `lift`, and the next fetch brings the new
/// contents and leaves no temporary file.
fn survives(dest: &Path, fault: impl Fn(), lift: impl Fn(), errno: &str) {
    let sshd = Sshd::start();
    let config = sshd.ssh_config(&aliases(1), "");
    let app = sshd.path("app");
    write_source(&app, FILES, MAX, 0);
    let root = dest.join("h01").join(app.strip_prefix("/").unwrap());
    let good = run(&mut fetch(&config, "h01", &app, dest));
    assert_eq!(good.status.code(), Some(0), "{}", stderr(&good));
    let before = visible(&root);
    assert_eq!(before, visible(&app));
    assert_eq!(before.len(), FILES);

    write_source(&app, FILES, MAX, 1);
    fault();
    let out = run(&mut fetch(&config, "h01", &app, dest));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let (files, summary) = host_records(&out, "h01");
    assert_eq!(files.len(), FILES, "{files:#?}");
    for file in &files {
        assert_eq!(file["status"], "failed", "{file}");
        assert_eq!(file["local"], Value::Null, "{file}");
        let reason = file["reason"].as_str().unwrap();
        assert!(reason.contains(errno), "{file}");
        assert!(reason.starts_with("cannot write "), "{file}");
    }
    assert_eq!(summary["status"], "failed", "{summary}");
    assert_eq!(summary["severity"], "high", "{summary}");
    assert_eq!(summary["alert"], "firing", "{summary}");
    assert_eq!(summary["files"], 0, "{summary}");
    assert_eq!(summary["failed"], FILES, "{summary}");
    let error = summary["error"].as_str().unwrap();
    assert!(error.contains(errno), "{summary}");
    assert!(
        summary["message"].as_str().unwrap().contains(errno),
        "{summary}"
    );
    assert_eq!(visible(&root), before, "the previous good copy changed");
    assert_eq!(temps(dest), Vec::<PathBuf>::new());
    // A single file fetched alone fails the same way.
    let one = app.join(source_name(1));
    let out = run(&mut fetch(&config, "h01", &one, dest));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let (_, summary) = host_records(&out, "h01");
    assert_eq!(summary["status"], "failed", "{summary}");
    assert_eq!(summary["severity"], "high", "{summary}");
    assert_eq!(summary["bytes"], Value::Null, "{summary}");
    assert!(
        summary["error"].as_str().unwrap().contains(errno),
        "{summary}"
    );
    assert_eq!(visible(&root), before, "the previous good copy changed");
    assert_eq!(temps(dest), Vec::<PathBuf>::new());

    lift();
    let out = run(&mut fetch(&config, "h01", &app, dest));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(visible(&root), visible(&app));
    assert_eq!(temps(dest), Vec::<PathBuf>::new());
    let (_, summary) = host_records(&out, "h01");
    assert_eq!(summary["alert"], "resolved", "{summary}");
}

#[test]
fn a_full_disk_fails_the_fetch_and_keeps_the_previous_copy() {
    let tmp = Tmpfs::new(4 << 20);
    survives(
        tmp.path(),
        || tmp.fill(),
        || tmp.free(),
        "No space left on device",
    );
}

#[test]
fn a_read_only_disk_fails_the_fetch_and_keeps_the_previous_copy() {
    let tmp = Tmpfs::new(4 << 20);
    survives(
        tmp.path(),
        || tmp.read_only(true),
        || tmp.read_only(false),
        "Read-only file system",
    );

    // A host never fetched before: nothing can even be made for it.
    let sshd = Sshd::start();
    let config = sshd.ssh_config(&aliases(2), "");
    let app = sshd.path("app");
    write_source(&app, 3, 1000, 0);
    tmp.read_only(true);
    let out = run(&mut fetch(&config, "h02", &app, tmp.path()));
    tmp.read_only(false);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let (files, summary) = host_records(&out, "h02");
    assert!(files.is_empty(), "{files:#?}");
    assert_eq!(summary["status"], "failed", "{summary}");
    let error = summary["error"].as_str().unwrap();
    assert!(error.contains("Read-only file system"), "{summary}");
    assert!(!tmp.path().join("h02").exists());
}

#[test]
fn failing_writes_fail_the_fetch_and_keep_the_previous_copy() {
    let eio = EioFs::new();
    survives(
        &eio.path(),
        || eio.failing(true),
        || eio.failing(false),
        "Input/output error",
    );
}

/// kill -9 at random points of fetches of a tree that changes between
/// them: after every kill each visible file is whole, the host's current
/// version or the copy from before; a fetch that finished has everything
/// and no temporary file; and after a last whole fetch nothing lingers.
#[test]
fn kill_soak_fetch() {
    let sshd = Sshd::start();
    let config = sshd.ssh_config(&aliases(1), "");
    let app = sshd.path("app");
    let files = 60;
    write_source(&app, files, 100_000, 0);
    let dest = tempfile::tempdir().unwrap();
    let root = dest.path().join("h01").join(app.strip_prefix("/").unwrap());

    let mut soak = KillSoak::new("remote-run fetch", 10);
    let status = soak.measure(&mut fetch(&config, "h01", &app, dest.path()));
    assert_eq!(status.code(), Some(0));
    assert_eq!(visible(&root), visible(&app));
    let mut left = BTreeSet::new();
    let mut mixed = 0;
    for k in 0..soak.kills {
        let before = visible(&root);
        // A quarter of the files change on the host before each fetch.
        for i in (k % 4..files).step_by(4) {
            write_file(&app, i, 100_000, k as u64 + 1);
        }
        let source = visible(&app);
        let fate = soak.run(&mut fetch(&config, "h01", &app, dest.path()));
        let after = visible(&root);
        for (path, bytes) in &after {
            assert!(
                source.get(path) == Some(bytes) || before.get(path) == Some(bytes),
                "kill {k} ({fate:?}): {} ({} bytes) is neither the host's file nor the copy before",
                path.display(),
                bytes.len()
            );
        }
        for path in before.keys() {
            assert!(
                after.contains_key(path),
                "kill {k}: {} vanished",
                path.display()
            );
        }
        let news = after
            .iter()
            .filter(|(p, b)| before.get(*p) != Some(*b))
            .count();
        let changed = source
            .iter()
            .filter(|(p, b)| before.get(*p) != Some(*b))
            .count();
        if news > 0 && news < changed {
            mixed += 1;
        }
        let now = temps(dest.path());
        match fate {
            Fate::Finished(status) => {
                assert_eq!(status.code(), Some(0), "kill {k}: a whole fetch failed");
                assert_eq!(after, source, "kill {k}: a whole fetch missed files");
                assert_eq!(
                    now,
                    Vec::<PathBuf>::new(),
                    "kill {k}: a whole fetch left temps"
                );
            }
            Fate::Killed => left.extend(now),
        }
    }

    let out = run(&mut fetch(&config, "h01", &app, dest.path()));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(visible(&root), visible(&app));
    assert_eq!(temps(dest.path()), Vec::<PathBuf>::new());
    soak.summary(&format!(
        ", {files} files of up to 100 KB; {mixed} kills left a mix of old and new files, each whole; 0 partial or wrong files; {} temporary files left by kills, 0 after the next fetch",
        left.len()
    ));
}
