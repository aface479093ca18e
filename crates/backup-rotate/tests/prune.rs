//! `prune` follows the policy and never breaks its safety rules.

mod support;

use std::fs;

use serde_json::Value;
use support::*;

#[test]
fn dry_run_shows_the_plan_with_reasons_and_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    history(dir.path(), &STAMPS);
    let before = names(dir.path());
    let recs = succeeded(&prune(dir.path(), &["--keep-daily", "2", "--dry-run"]));
    assert_eq!(names(dir.path()), before);
    let kept = of_kind(&recs, "backup.kept");
    let pruned = of_kind(&recs, "backup.pruned");
    assert_eq!((kept.len(), pruned.len()), (2, 3), "{recs:#?}");
    assert!(
        kept[0]["archive"]
            .as_str()
            .unwrap()
            .ends_with("20261121T140000Z.tar.gz")
    );
    let reasons = kept[0]["reasons"].as_array().unwrap();
    assert!(reasons.contains(&Value::from("daily 2026-11-21")));
    assert!(reasons.contains(&Value::from("newest verified backup")));
    assert_eq!(kept[1]["reasons"], serde_json::json!(["daily 2026-11-20"]));
    assert!(pruned.iter().all(|r| r["dry_run"] == true));
    assert!(
        pruned[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("would remove")
    );
}

#[test]
fn prune_deletes_what_no_rule_keeps_with_its_manifest() {
    let dir = tempfile::tempdir().unwrap();
    history(dir.path(), &STAMPS);
    let recs = succeeded(&prune(dir.path(), &["--keep-last", "2"]));
    assert_eq!(
        names(dir.path()),
        [
            "db-20261121T020000Z.tar.gz",
            "db-20261121T020000Z.tar.gz.manifest.json",
            "db-20261121T140000Z.tar.gz",
            "db-20261121T140000Z.tar.gz.manifest.json",
        ]
    );
    assert_eq!(of_kind(&recs, "backup.pruned").len(), 3);
}

#[test]
fn the_newest_verified_backup_survives_any_policy() {
    let dir = tempfile::tempdir().unwrap();
    history(dir.path(), &STAMPS[..3]);
    // A newer archive without a manifest is not ours (kept, not counted):
    // keep-last 1 keeps the newest backup, which is also the newest that
    // verified.
    fs::write(dir.path().join("db-20261122T000000Z.tar.gz"), "unfinished").unwrap();
    succeeded(&prune(dir.path(), &["--keep-last", "1"]));
    let left = archives(dir.path(), "db");
    assert_eq!(
        left,
        ["db-20261120T020000Z.tar.gz", "db-20261122T000000Z.tar.gz"]
    );
    // --max-age 1s: every backup is older, but the newest verified stays.
    fs::remove_file(dir.path().join("db-20261122T000000Z.tar.gz")).unwrap();
    succeeded(&prune(dir.path(), &["--max-age", "1s"]));
    assert_eq!(archives(dir.path(), "db"), ["db-20261120T020000Z.tar.gz"]);
}

#[test]
fn files_not_named_like_our_archives_are_never_touched() {
    let dir = tempfile::tempdir().unwrap();
    history(dir.path(), &STAMPS);
    let foreign = [
        "db-old.tar.gz",
        "db-20201121T020000Z.tgz",
        "dbx-20201121T020000Z.tar.gz",
        "other-20201121T020000Z.tar.gz",
        "db-20201121T020000.tar.gz",
        "notes.txt",
    ];
    for name in foreign {
        fs::write(dir.path().join(name), "not ours").unwrap();
    }
    succeeded(&prune(dir.path(), &["--keep-last", "1"]));
    for name in foreign {
        assert!(dir.path().join(name).exists(), "{name} was deleted");
    }
    for stamp in STAMPS {
        let ours = dir.path().join(format!("db-{stamp}.tar.gz"));
        assert_eq!(ours.exists(), stamp == STAMPS[4], "{}", ours.display());
    }
}

#[test]
fn an_empty_policy_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    history(dir.path(), &STAMPS);
    let before = names(dir.path());
    let out = prune(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("empty policy"), "{}", stderr(&out));
    assert_eq!(names(dir.path()), before);
}

#[test]
fn create_prune_in_one_line_and_list() {
    let dir = tempfile::tempdir().unwrap();
    history(dir.path(), &STAMPS);
    let src = dir.path().join("srcdir");
    fs::create_dir_all(&src).unwrap();
    let recs = succeeded(&create(
        &src,
        dir.path(),
        Some("db"),
        &["--prune", "--keep-last", "2"],
    ));
    assert_eq!(of_kind(&recs, "backup.created").len(), 1);
    assert_eq!(of_kind(&recs, "backup.pruned").len(), 4);
    let recs = succeeded(&run(&["list", "-d", path(dir.path()), "-n", "db"]));
    let listed = of_kind(&recs, "backup.archive").len();
    assert_eq!(listed, 2);
}

#[test]
fn a_file_named_like_an_archive_but_without_a_manifest_is_never_pruned() {
    let dir = tempfile::tempdir().unwrap();
    history(dir.path(), &STAMPS);
    // An operator's own file that merely matches the pattern, older than
    // every backup, and one newer than them all.
    let own = [
        "db-20200101T000000Z.tar.gz",
        "db-20301231T235959Z_01.tar.zst",
    ];
    for name in own {
        fs::write(dir.path().join(name), "the operator's, not ours").unwrap();
    }
    for dry_run in [true, false] {
        let mut extra = vec!["--keep-last", "1"];
        if dry_run {
            extra.push("--dry-run");
        }
        let recs = succeeded(&prune(dir.path(), &extra));
        for name in own {
            assert!(dir.path().join(name).exists(), "{name} was deleted");
            let about: Vec<_> = recs
                .iter()
                .filter(|r| r["archive"].as_str().unwrap().ends_with(name))
                .collect();
            assert_eq!(about.len(), 1, "{recs:#?}");
            assert_eq!(about[0]["kind"], "backup.kept");
            assert_eq!(
                about[0]["reasons"],
                serde_json::json!(["not ours: no manifest"])
            );
            assert!(
                about[0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("no manifest"),
                "{:#?}",
                about[0]
            );
        }
        assert_eq!(of_kind(&recs, "backup.pruned").len(), 4, "{recs:#?}");
    }
    // Only the newest real backup is left of ours; the operator's files stay.
    let mut left = archives(dir.path(), "db");
    left.sort();
    assert_eq!(
        left,
        [own[0], "db-20261121T140000Z.tar.gz", own[1]],
        "{:?}",
        names(dir.path())
    );
}
