//! `create` writes archives that stock GNU tar restores exactly.

mod support;

use std::fs;
use std::path::Path;

use support::*;

fn round_trip(compression: &str, filter: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let dest = dir.path().join("dest");
    fs::create_dir_all(&src).unwrap();
    fs::create_dir_all(&dest).unwrap();
    rich_tree(&src);
    let out = create(&src, &dest, Some("rich"), &["--compression", compression]);
    let recs = succeeded(&out);
    let created = of_kind(&recs, "backup.created");
    assert_eq!(created.len(), 1, "{recs:#?}");
    let archive = only_archive(&dest, "rich");
    assert_eq!(created[0]["archive"], path(&archive));
    assert!(
        dest.join(format!(
            "{}.manifest.json",
            archive.file_name().unwrap().to_str().unwrap()
        ))
        .is_file()
    );
    assert_eq!(created[0]["hardlinks"], 1);
    assert!(created[0]["ratio"].as_f64().unwrap() > 1.0 || compression == "none");

    let restored = dir.path().join("restored");
    tar_extract(&archive, &restored, filter);
    let inside = restored.join(src.strip_prefix("/").unwrap());
    let (want, got) = (walk(&src), walk(&inside));
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>()
    );
    for (path, node) in &want {
        assert_eq!(&got[path], node, "{path} differs after tar -x");
    }
    // Hard links come back as one inode.
    assert!(want.values().any(|n| n.inode_group.is_some()));
}

#[test]
fn gzip_archives_restore_exactly_with_stock_tar() {
    round_trip("gzip", &["-z"]);
}

#[test]
fn zstd_archives_restore_exactly_with_stock_tar() {
    require("zstd", "zstd");
    round_trip("zstd", &["--zstd"]);
}

#[test]
fn plain_tar_archives_restore_exactly_with_stock_tar() {
    round_trip("none", &[]);
}

#[test]
fn two_runs_in_one_second_get_distinct_sorted_names_and_excludes_apply() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("data");
    fs::create_dir_all(src.join("cache")).unwrap();
    fs::write(src.join("keep.txt"), "keep").unwrap();
    fs::write(src.join("drop.tmp"), "drop").unwrap();
    fs::write(src.join("cache/blob"), "drop").unwrap();
    // The destination inside the source is never archived.
    let dest = src.join("backups");
    fs::create_dir_all(&dest).unwrap();
    let created: Vec<String> = (0..3)
        .map(|_| {
            let out = create(
                &src,
                &dest,
                None,
                &["--exclude", "*.tmp", "--exclude", "cache"],
            );
            of_kind(&succeeded(&out), "backup.created")[0]["archive"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let found = archives(&dest, "data");
    assert_eq!(found.len(), 3, "{found:?}");
    let mut sorted = found.clone();
    sorted.sort();
    assert_eq!(found, sorted);
    let mut by_run = created.clone();
    by_run.sort();
    assert_eq!(created, by_run, "later runs sort later");

    let restored = dir.path().join("r");
    tar_extract(&dest.join(&found[0]), &restored, &["-z"]);
    let inside = restored.join(src.strip_prefix("/").unwrap());
    assert_eq!(names(&inside), ["keep.txt"]);
}

#[test]
fn one_file_system_stores_mount_points_empty() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("dest");
    fs::create_dir_all(&dest).unwrap();
    // /dev/pts and /dev/shm are mounts of their own below /dev on any
    // Linux host or container.
    let src = Path::new("/dev");
    let out = create(
        src,
        &dest,
        None,
        &["--one-file-system", "--compression", "none"],
    );
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(3),
        "{}",
        stderr(&out)
    );
    let archive = only_archive(&dest, "dev");
    let listing = tar_list(&["-tf"], &archive);
    assert!(
        listing.lines().any(|l| l == "dev/pts" || l == "dev/shm"),
        "{listing}"
    );
    assert!(
        !listing
            .lines()
            .any(|l| l.starts_with("dev/pts/") || l.starts_with("dev/shm/")),
        "descended into a mount point: {listing}"
    );
}
