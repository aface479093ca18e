//! `verify` catches flipped bytes and truncation; `restore` refuses
//! archives that would write outside the target.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use support::*;

fn one_backup(dir: &Path) -> PathBuf {
    let src = dir.join("data");
    let dest = dir.join("dest");
    fs::create_dir_all(&dest).unwrap();
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("a.txt"), "alpha\n".repeat(10_000)).unwrap();
    fs::write(src.join("sub/b.txt"), "beta\n").unwrap();
    let out = run(&[
        "create",
        "-s",
        src.to_str().unwrap(),
        "-d",
        dest.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    only_archive(&dest, "data")
}

#[test]
fn verify_passes_intact_and_flags_flipped_or_truncated_archives() {
    let dir = tempfile::tempdir().unwrap();
    let archive = one_backup(dir.path());
    let a = archive.to_str().unwrap();
    let out = run(&["verify", a]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(of_kind(&records(&out), "backup.verified").len(), 1);

    let good = fs::read(&archive).unwrap();
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    fs::write(&archive, &flipped).unwrap();
    let out = run(&["verify", a]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a corrupt archive is a high finding"
    );
    let recs = records(&out);
    let failed = of_kind(&recs, "backup.failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["stage"], "verify");

    fs::write(&archive, &good[..good.len() - 100]).unwrap();
    let out = run(&["verify", a]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(of_kind(&records(&out), "backup.failed").len(), 1);

    fs::write(&archive, &good).unwrap();
    let out = run(&["verify", a]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn restore_reproduces_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let archive = one_backup(dir.path());
    let to = dir.path().join("restored");
    let out = run(&[
        "restore",
        archive.to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let src = dir.path().join("data");
    let inside = to.join(src.strip_prefix("/").unwrap());
    assert_eq!(walk(&src), walk(&inside));
}

/// A tar header with any name bytes, bypassing the tar crate's checks.
fn raw_entry(out: &mut Vec<u8>, name: &[u8], kind: tar::EntryType, link: &[u8], data: &[u8]) {
    let mut header = tar::Header::new_old();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    header.set_entry_type(kind);
    header.set_mode(0o644);
    header.set_size(data.len() as u64);
    header.set_cksum();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

#[test]
fn restore_refuses_escaping_names_and_symlink_tricks() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("dotdot", {
            let mut t = Vec::new();
            raw_entry(&mut t, b"ok.txt", tar::EntryType::Regular, b"", b"fine");
            raw_entry(
                &mut t,
                b"../outside/evil",
                tar::EntryType::Regular,
                b"",
                b"pwned",
            );
            t
        }),
        ("absolute", {
            let mut t = Vec::new();
            let name = format!("{}/evil", outside.display());
            raw_entry(
                &mut t,
                name.as_bytes(),
                tar::EntryType::Regular,
                b"",
                b"pwned",
            );
            t
        }),
        ("symlink", {
            let mut t = Vec::new();
            raw_entry(
                &mut t,
                b"link",
                tar::EntryType::Symlink,
                outside.to_str().unwrap().as_bytes(),
                b"",
            );
            raw_entry(&mut t, b"link/evil", tar::EntryType::Regular, b"", b"pwned");
            t
        }),
        ("hardlink", {
            let mut t = Vec::new();
            raw_entry(
                &mut t,
                b"passwd",
                tar::EntryType::Link,
                b"../../../../etc/passwd",
                b"",
            );
            t
        }),
    ];
    for (what, mut bytes) in cases {
        bytes.extend_from_slice(&[0; 1024]);
        let archive = dir.path().join(format!("{what}.tar"));
        fs::write(&archive, &bytes).unwrap();
        let to = dir.path().join(format!("to-{what}"));
        let out = run(&[
            "restore",
            archive.to_str().unwrap(),
            "--to",
            to.to_str().unwrap(),
            "--no-manifest",
        ]);
        assert_eq!(out.status.code(), Some(3), "{what}: {}", stderr(&out));
        let recs = records(&out);
        let failed = of_kind(&recs, "backup.failed");
        assert_eq!(failed.len(), 1, "{what}");
        assert_eq!(failed[0]["stage"], "restore");
        assert!(
            names(&outside).is_empty(),
            "{what} wrote outside: {:?}",
            names(&outside)
        );
        assert!(
            !to.join("ok.txt").exists(),
            "{what}: extracted before refusing"
        );
    }
}

#[test]
fn restore_wants_a_manifest_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let archive = one_backup(dir.path());
    fs::remove_file(format!("{}.manifest.json", archive.display())).unwrap();
    let to = dir.path().join("r");
    let out = run(&[
        "restore",
        archive.to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    let out = run(&[
        "restore",
        archive.to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
        "--no-manifest",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
