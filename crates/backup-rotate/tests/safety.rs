//! A crash, a kill or an unreadable source never leaves a file that looks
//! like a good backup, and never touches existing backups.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

fn big_tree(root: &Path, files: usize, size: usize) {
    fs::create_dir_all(root).unwrap();
    // One stream cut into files, as before: each file its own bytes.
    let data = noise(files * size, 0x2545f4914f6cdd1d);
    for (f, chunk) in data.chunks(size).enumerate() {
        fs::write(root.join(format!("blob{f:03}")), chunk).unwrap();
    }
}

#[test]
fn kill_9_mid_create_leaves_no_backup_lookalike_and_old_backups_intact() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let dest = dir.path().join("dest");
    fs::create_dir_all(&dest).unwrap();
    big_tree(&src, 1, 1000);
    succeeded(&create(&src, &dest, Some("k"), &[]));
    let before: Vec<(String, Vec<u8>)> = names(&dest)
        .into_iter()
        .map(|n| (n.clone(), fs::read(dest.join(&n)).unwrap()))
        .collect();
    big_tree(&src, 48, 1 << 20);

    let mut child = Command::new(BIN)
        .args(create_args(
            &src,
            &dest,
            Some("k"),
            &["--level", "9", "--threads", "1"],
        ))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the temporary archive has data in it, then kill -9.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let writing = fs::read_dir(&dest).unwrap().any(|e| {
            let e = e.unwrap();
            e.file_name().to_string_lossy().ends_with(".tmp") && e.metadata().unwrap().len() > 0
        });
        if writing {
            break;
        }
        assert!(Instant::now() < deadline, "never saw the temporary archive");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "create finished before the kill: make the tree bigger"
    );
    child.kill().unwrap();
    child.wait().unwrap();

    for name in archives(&dest, "k") {
        assert!(
            dest.join(format!("{name}.manifest.json")).is_file(),
            "{name} has no manifest after kill -9: {:?}",
            names(&dest)
        );
    }
    for (name, bytes) in &before {
        assert_eq!(&fs::read(dest.join(name)).unwrap(), bytes, "{name} changed");
    }
    assert_eq!(archives(&dest, "k").len(), 1);
    // What is left over is hidden and says it is temporary.
    for name in names(&dest) {
        assert!(
            before.iter().any(|(b, _)| *b == name)
                || (name.starts_with('.') && name.ends_with(".tmp")),
            "{name}"
        );
    }
    // The survivor still verifies.
    succeeded(&run(&["verify", "-d", path(&dest)]));

    // The next run of that NAME removes what the killed one left, and
    // says so.
    let leftovers: Vec<String> = names(&dest)
        .into_iter()
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(!leftovers.is_empty(), "the kill left nothing to clean up");
    let small = dir.path().join("small");
    big_tree(&small, 1, 100);
    let out = create(&small, &dest, Some("k"), &[]);
    succeeded(&out);
    for name in &leftovers {
        assert!(
            stderr(&out).contains(&format!("removed {}", dest.join(name).display())),
            "{name}: {}",
            stderr(&out)
        );
    }
    let after: Vec<String> = names(&dest)
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(after.is_empty(), "left over: {after:?}");
    succeeded(&run(&["verify", "-d", path(&dest)]));
}

#[test]
fn only_leftovers_of_that_name_no_live_run_holds_are_removed() {
    use nix::fcntl::{Flock, FlockArg};
    let dir = tempfile::tempdir().unwrap();
    let (src, dest) = (dir.path().join("src"), dir.path().join("dest"));
    big_tree(&src, 1, 100);
    fs::create_dir_all(&dest).unwrap();
    let hours_ago = |path: &Path, hours: i64| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        set_mtime(path, now - hours * 3600);
    };
    let put = |name: &str, hours: i64| {
        let path = dest.join(name);
        fs::write(&path, vec![0u8; 1000]).unwrap();
        hours_ago(&path, hours);
        path
    };
    // Gone: a dead pid's, an earlier version's untouched for two hours
    // (archive and manifest forms).
    let dead = put(".k-2147483646-aB3xYz.tmp", 0);
    let legacy = put(".k-Qw7rTy.tmp", 2);
    let legacy_manifest = put(".k-20261121T190200Z.tar.gz.manifest.jsonZx9Kp1.tmp", 2);
    // Kept: a live run's (this test's pid, and the file locked, as a run
    // holds it), an earlier version's touched a minute ago, another
    // NAME's, and a file that only looks temporary.
    let held = put(&format!(".k-{}-Hj4kLm.tmp", std::process::id()), 2);
    let _lock = Flock::lock(fs::File::open(&held).unwrap(), FlockArg::LockExclusive).unwrap();
    let young = put(".k-Yo8nGz.tmp", 0);
    let other = put(".kk-2147483646-aB3xYz.tmp", 2);
    let lookalike = put(".k-notes.tmp", 2);

    let out = create(&src, &dest, Some("k"), &[]);
    succeeded(&out);
    for gone in [&dead, &legacy, &legacy_manifest] {
        assert!(!gone.exists(), "{} is still there", gone.display());
        assert!(
            stderr(&out).contains(&format!("removed {} (1000 bytes)", gone.display())),
            "{}",
            stderr(&out)
        );
    }
    for kept in [&held, &young, &other, &lookalike] {
        assert!(kept.exists(), "{} was removed", kept.display());
    }
}

#[test]
fn unreadable_files_are_reported_exit_3_the_rest_is_backed_up_and_nothing_is_pruned() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let src = dir.path().join("src");
    let dest = dir.path().join("dest");
    fs::create_dir_all(src.join("locked")).unwrap();
    fs::create_dir_all(&dest).unwrap();
    fs::write(src.join("ok.txt"), "fine\n").unwrap();
    fs::write(src.join("secret"), "no\n").unwrap();
    fs::write(src.join("locked/inner"), "no\n").unwrap();
    if nix::unistd::geteuid().is_root() {
        for p in [&src, &dest, &src.join("ok.txt")] {
            std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
        }
    }
    fs::set_permissions(src.join("secret"), fs::Permissions::from_mode(0o000)).unwrap();
    fs::set_permissions(src.join("locked"), fs::Permissions::from_mode(0o700)).unwrap();
    // An older backup that --prune must not delete.
    let old = dest.join("src-20200101T000000Z.tar.gz");
    fs::write(&old, "old").unwrap();

    let out = run_unprivileged(&create_args(
        &src,
        &dest,
        None,
        &["--prune", "--keep-last", "1"],
    ));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let recs = records(&out.stdout);
    let unreadable: Vec<String> = of_kind(&recs, "backup.unreadable")
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    assert!(
        unreadable.iter().any(|p| p.ends_with("/secret")),
        "{recs:#?}"
    );
    assert!(
        unreadable.iter().any(|p| p.ends_with("/locked")),
        "{recs:#?}"
    );
    assert_eq!(of_kind(&recs, "backup.created")[0]["unreadable"], 2);
    assert!(of_kind(&recs, "backup.pruned").is_empty());
    assert!(old.exists(), "pruned although the backup was incomplete");
    assert!(stderr(&out).contains("not pruning"));
    let archive = archives(&dest, "src")
        .into_iter()
        .find(|n| !n.starts_with("src-2020"))
        .unwrap();
    let restored = dir.path().join("r");
    tar_extract(&dest.join(archive), &restored, &["-z"]);
    let inside = restored.join(src.strip_prefix("/").unwrap());
    assert_eq!(fs::read_to_string(inside.join("ok.txt")).unwrap(), "fine\n");
    assert!(!inside.join("secret").exists());
}

#[test]
fn a_failed_create_prunes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("dest");
    fs::create_dir_all(&dest).unwrap();
    let old = dest.join("gone-20200101T000000Z.tar.gz");
    fs::write(&old, "old").unwrap();
    let missing = dir.path().join("gone");
    let out = create(
        &missing,
        &dest,
        Some("gone"),
        &["--prune", "--keep-last", "1"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(old.exists());
    assert_eq!(names(&dest), ["gone-20200101T000000Z.tar.gz"]);
}
