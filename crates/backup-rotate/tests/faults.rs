//! Faults the writers must survive (issue 22): `create` into a destination
//! that is full (ENOSPC), read-only (EROFS) or failing with EIO, and
//! `prune` killed with -9 at random points or run on a read-only
//! destination. Afterwards the earlier good backups are there byte for
//! byte and verify, nothing half-made looks like a backup, the exit status
//! and a record say what happened, and once the fault is gone the next run
//! succeeds and leaves no temporary file or orphan manifest.
//!
//! The prune soak does 10 kills here; `scripts/soak-backup` runs it with
//! more (`SOAK_KILLS=100`). `SOAK_SEED` repeats a run's kill points.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::path::Path;
use std::process::Command;

use nix::fcntl::{Flock, FlockArg};
use secops_testkit::{EioFs, Fate, KillSoak, Tmpfs, hidden_files};
use serde_json::Value;
use support::*;

/// Every visible file in `dir` (but the tmpfs filler) and its bytes.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    names(dir)
        .into_iter()
        .filter(|n| !n.starts_with('.') && n != "filler")
        .map(|n| {
            let bytes = fs::read(dir.join(&n)).unwrap();
            (n, bytes)
        })
        .collect()
}

/// `verify` of NAME's archives in `dest`: all `count` of them verify.
fn all_verify(dest: &Path, name: &str, count: usize, when: &str) {
    let out = run(&["verify", "-d", path(dest), "-n", name]);
    let recs = records(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{when}: verify: {recs:#?} {}",
        stderr(&out)
    );
    assert_eq!(
        of_kind(&recs, "backup.verified").len(),
        count,
        "{when}: {recs:#?}"
    );
}

/// Manifests in `dir` whose archive is not there.
fn orphan_manifests(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .filter(|n| {
            n.strip_suffix(".manifest.json")
                .is_some_and(|archive| !dir.join(archive).exists())
        })
        .collect()
}

/// Two good backups of a small tree into `dest`, then a `create` with
/// `fault(true)` on: it fails (exit 3) with one `backup.failed` naming
/// `cause`, leaves the two as they were (and verifying) and nothing new
/// in sight; with `fault(false)` the next `create` succeeds and leaves no
/// temporary file.
fn create_fails_and_loses_nothing(dest: &Path, cause: &str, fault: impl Fn(bool)) {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("noise.bin"), noise(96 * 1024, 0x9e3779b97f4a7c15)).unwrap();
    fs::write(src.join("sub/notes.txt"), "kept line\n".repeat(2000)).unwrap();
    for _ in 0..2 {
        succeeded(&create(&src, dest, Some("s"), &[]));
    }
    assert_eq!(archives(dest, "s").len(), 2, "{:?}", names(dest));
    let before = contents(dest);
    fs::write(src.join("new.txt"), "made after the good backups\n").unwrap();

    fault(true);
    let out = create(&src, dest, Some("s"), &[]);
    let recs = records(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{cause}: {recs:#?} {}",
        stderr(&out)
    );
    assert_eq!(recs.len(), 1, "{cause}: {recs:#?}");
    let failed = &recs[0];
    assert_eq!(failed["kind"], "backup.failed", "{failed:#?}");
    assert_eq!(failed["stage"], "create", "{failed:#?}");
    assert_eq!(failed["alert"], "firing", "{failed:#?}");
    for field in ["message", "error"] {
        assert!(
            failed[field].as_str().unwrap().contains(cause),
            "{field} does not say {cause:?}: {failed:#?}"
        );
    }
    // The good backups are as they were, and nothing of the failed run is
    // in sight (no archive, no manifest).
    assert_eq!(contents(dest), before, "{cause}: {:?}", names(dest));
    all_verify(dest, "s", 2, cause);

    fault(false);
    let recs = succeeded(&create(&src, dest, Some("s"), &[]));
    assert_eq!(of_kind(&recs, "backup.created").len(), 1, "{recs:#?}");
    assert_eq!(
        hidden_files(dest),
        Vec::<std::path::PathBuf>::new(),
        "{cause}: temporary files after the next run"
    );
    let now = contents(dest);
    for (name, bytes) in &before {
        assert_eq!(now.get(name), Some(bytes), "{cause}: {name} changed");
    }
    assert_eq!(archives(dest, "s").len(), 3, "{:?}", names(dest));
    assert!(orphan_manifests(dest).is_empty(), "{:?}", names(dest));
    all_verify(dest, "s", 3, cause);
}

#[test]
fn create_on_a_full_destination_fails_loudly_and_keeps_the_earlier_backups() {
    let tmp = Tmpfs::new(4 << 20);
    create_fails_and_loses_nothing(tmp.path(), "No space left on device", |on| {
        if on { tmp.fill() } else { tmp.free() }
    });
}

#[test]
fn create_on_a_read_only_destination_fails_loudly_and_keeps_the_earlier_backups() {
    let tmp = Tmpfs::new(4 << 20);
    create_fails_and_loses_nothing(tmp.path(), "Read-only file system", |on| tmp.read_only(on));
}

#[test]
fn create_on_a_destination_failing_with_eio_fails_loudly_and_keeps_the_earlier_backups() {
    let eio = EioFs::new();
    create_fails_and_loses_nothing(&eio.path(), "Input/output error", |on| eio.failing(on));
}

/// The `backup.pruned` records about orphan manifests.
fn orphan_records(recs: &[Value]) -> Vec<&Value> {
    of_kind(recs, "backup.pruned")
        .into_iter()
        .filter(|r| !r["orphan_manifest"].is_null())
        .collect()
}

#[test]
fn the_next_prune_removes_an_orphan_manifest_unless_a_create_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path();
    history(dest, &STAMPS);
    // A prune killed between deleting the oldest archive and its manifest.
    let archive = dest.join(format!("db-{}.tar.gz", STAMPS[0]));
    let orphan = dest.join(format!("db-{}.tar.gz.manifest.json", STAMPS[0]));
    fs::remove_file(&archive).unwrap();
    // Not ours: a manifest-named file that is no manifest, another NAME's
    // orphan, and a manifest that names another archive.
    let strangers = [
        "db-20200101T000000Z.tar.gz.manifest.json",
        "web-20261118T020000Z.tar.gz.manifest.json",
        "db-20200102T000000Z.tar.gz.manifest.json",
    ];
    fs::write(dest.join(strangers[0]), "not a manifest").unwrap();
    fs::copy(&orphan, dest.join(strangers[1])).unwrap();
    fs::copy(&orphan, dest.join(strangers[2])).unwrap();

    // --dry-run says so and removes nothing.
    let before = contents(dest);
    let recs = succeeded(&prune(dest, &["--keep-last", "3", "--dry-run"]));
    let said = orphan_records(&recs);
    assert_eq!(said.len(), 1, "{recs:#?}");
    assert!(
        said[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("would remove")
    );
    assert_eq!(said[0]["dry_run"], true);
    assert_eq!(contents(dest), before);

    // A create that linked this manifest and is about to link its archive
    // holds its lock: the manifest is left alone.
    let held = Flock::lock(File::open(&orphan).unwrap(), FlockArg::LockExclusive).unwrap();
    let recs = succeeded(&prune(dest, &["--keep-last", "4"]));
    assert!(orphan_records(&recs).is_empty(), "{recs:#?}");
    assert!(orphan.exists());
    drop(held);

    // The next prune removes it and says so: an observation, no alert.
    let recs = succeeded(&prune(dest, &["--keep-last", "4"]));
    let said = orphan_records(&recs);
    assert_eq!(said.len(), 1, "{recs:#?}");
    let rec = said[0];
    assert_eq!(rec["orphan_manifest"], path(&orphan), "{rec:#?}");
    assert_eq!(rec["archive"], path(&archive), "{rec:#?}");
    assert_eq!(rec["alert"], "none", "{rec:#?}");
    assert_eq!(rec["severity"], "info", "{rec:#?}");
    assert_eq!(rec["dry_run"], false, "{rec:#?}");
    assert!(
        rec["message"]
            .as_str()
            .unwrap()
            .contains("its archive is gone"),
        "{rec:#?}"
    );
    assert!(!orphan.exists());
    for stranger in strangers {
        assert!(dest.join(stranger).exists(), "{stranger} was deleted");
    }
    assert_eq!(archives(dest, "db").len(), 4);
    all_verify(dest, "db", 4, "after the orphan went");
    let recs = succeeded(&prune(dest, &["--keep-last", "4"]));
    assert!(orphan_records(&recs).is_empty(), "{recs:#?}");
}

#[test]
fn prune_on_a_read_only_destination_fails_per_backup_and_loses_nothing() {
    let tmp = Tmpfs::new(4 << 20);
    let dest = tmp.path();
    history(dest, &STAMPS);
    // And an orphan manifest, as a killed prune leaves.
    let gone = dest.join(format!("db-{}.tar.gz", STAMPS[0]));
    fs::remove_file(&gone).unwrap();
    let plan = succeeded(&prune(dest, &["--keep-last", "2", "--dry-run"]));
    let doomed: BTreeSet<String> = of_kind(&plan, "backup.pruned")
        .iter()
        .map(|r| r["archive"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(doomed.len(), 3, "{plan:#?}");
    let before = contents(dest);

    tmp.read_only(true);
    let out = prune(dest, &["--keep-last", "2"]);
    let recs = records(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{recs:#?} {}", stderr(&out));
    let failed = of_kind(&recs, "backup.failed");
    let named: BTreeSet<String> = failed
        .iter()
        .map(|r| r["archive"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(named, doomed, "{recs:#?}");
    assert_eq!(failed.len(), doomed.len(), "{recs:#?}");
    for rec in &failed {
        assert_eq!(rec["stage"], "prune", "{rec:#?}");
        assert_eq!(rec["alert"], "firing", "{rec:#?}");
        assert!(
            rec["error"]
                .as_str()
                .unwrap()
                .contains("Read-only file system"),
            "{rec:#?}"
        );
    }
    assert!(of_kind(&recs, "backup.pruned").is_empty(), "{recs:#?}");
    assert_eq!(of_kind(&recs, "backup.kept").len(), 2, "{recs:#?}");
    assert_eq!(contents(dest), before);

    tmp.read_only(false);
    let recs = succeeded(&prune(dest, &["--keep-last", "2"]));
    assert_eq!(of_kind(&recs, "backup.pruned").len(), 3, "{recs:#?}");
    assert_eq!(
        archives(dest, "db"),
        ["db-20261121T020000Z.tar.gz", "db-20261121T140000Z.tar.gz"]
    );
    assert!(orphan_manifests(dest).is_empty(), "{:?}", names(dest));
    all_verify(dest, "db", 2, "after the read-only prune");
}

/// How many backups the prune soak starts from, an hour apart.
const SOAK_BACKUPS: usize = 150;
const SOAK_POLICY: [&str; 4] = ["--keep-last", "5", "--keep-daily", "3"];

#[test]
fn prune_killed_at_random_points_loses_no_kept_backup_and_leaves_no_orphan_manifest() {
    let work = tempfile::tempdir().unwrap();
    let (template, dest) = (work.path().join("template"), work.path().join("dest"));
    fs::create_dir_all(&template).unwrap();
    fs::create_dir_all(&dest).unwrap();
    let start = jiff::Timestamp::from_second(1_793_491_200).unwrap(); // 2026-11-01
    let stamps: Vec<String> = (0..SOAK_BACKUPS)
        .map(|i| {
            (start + jiff::SignedDuration::from_hours(i as i64))
                .strftime("%Y%m%dT%H%M%SZ")
                .to_string()
        })
        .collect();
    history(
        &template,
        &stamps.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let full = contents(&template);
    let populate = || {
        for name in names(&dest) {
            fs::remove_file(dest.join(name)).unwrap();
        }
        for (name, bytes) in &full {
            fs::write(dest.join(name), bytes).unwrap();
        }
    };

    // What the policy keeps.
    populate();
    let mut dry = SOAK_POLICY.to_vec();
    dry.push("--dry-run");
    let plan = succeeded(&prune(&dest, &dry));
    let kept: BTreeSet<String> = of_kind(&plan, "backup.kept")
        .iter()
        .map(|r| {
            let archive = Path::new(r["archive"].as_str().unwrap());
            archive.file_name().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    assert!(
        kept.len() < SOAK_BACKUPS / 10,
        "the policy must delete most: it keeps {kept:?}"
    );
    let remains: BTreeMap<String, Vec<u8>> = full
        .iter()
        .filter(|(name, _)| kept.contains(name.trim_end_matches(".manifest.json")))
        .map(|(name, bytes)| (name.clone(), bytes.clone()))
        .collect();

    let mut soak = KillSoak::new("prune", 10);
    let mut cmd = Command::new(BIN);
    cmd.args(["--format", "jsonl", "prune", "-d", path(&dest), "-n", "db"])
        .args(SOAK_POLICY);
    assert!(soak.measure(&mut cmd).success());
    assert_eq!(contents(&dest), remains);

    let (mut orphaned, mut partway, mut untouched) = (0, 0, 0);
    for kill in 1..=soak.kills {
        populate();
        let fate = soak.run(&mut cmd);
        let after = format!("kill {kill} ({fate:?})");
        let now = contents(&dest);
        // Nothing the policy keeps went or changed.
        for (name, bytes) in &remains {
            assert_eq!(
                now.get(name),
                Some(bytes),
                "{after}: {name} changed or went"
            );
        }
        // Every visible archive has its manifest, and they all verify.
        let visible = archives(&dest, "db");
        for archive in &visible {
            assert!(
                now.contains_key(&format!("{archive}.manifest.json")),
                "{after}: {archive} has lost its manifest"
            );
        }
        all_verify(&dest, "db", visible.len(), &after);
        let orphans = orphan_manifests(&dest);
        match fate {
            Fate::Finished(status) => {
                assert!(status.success(), "{after}");
                assert_eq!(now, remains, "{after}");
            }
            Fate::Killed if !orphans.is_empty() => orphaned += 1,
            Fate::Killed if now.len() < full.len() => partway += 1,
            Fate::Killed => untouched += 1,
        }

        // The next, whole prune finishes the job: the orphan manifests go,
        // each said, and nothing is left but what the policy keeps.
        let recs = succeeded(&prune(&dest, &SOAK_POLICY));
        let said: BTreeSet<String> = orphan_records(&recs)
            .iter()
            .map(|r| {
                let manifest = Path::new(r["orphan_manifest"].as_str().unwrap());
                manifest.file_name().unwrap().to_string_lossy().into_owned()
            })
            .collect();
        assert_eq!(
            said,
            orphans.iter().cloned().collect::<BTreeSet<_>>(),
            "{after}: {recs:#?}"
        );
        assert_eq!(contents(&dest), remains, "{after}: the next prune");
        assert!(
            hidden_files(&dest).is_empty(),
            "{after}: {:?}",
            hidden_files(&dest)
        );
    }
    soak.summary(&format!(
        "; of {SOAK_BACKUPS} backups the policy keeps {}; killed runs: {orphaned} left an orphan manifest, {partway} had deleted some backups, {untouched} had deleted nothing; after every kill the kept backups were intact, every visible archive had its manifest and verified, and the next prune removed each orphan manifest (with a record) and left nothing else",
        kept.len()
    ));
}
