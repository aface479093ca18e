//! `verify` catches flipped bytes and truncation; `restore` refuses
//! archives that would write outside the target.

mod support;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::*;

fn one_backup(dir: &Path) -> PathBuf {
    let src = dir.join("data");
    let dest = dir.join("dest");
    fs::create_dir_all(&dest).unwrap();
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("a.txt"), "alpha\n".repeat(10_000)).unwrap();
    fs::write(src.join("sub/b.txt"), "beta\n").unwrap();
    // An old directory mtime, which only a restore that sets it gets back.
    set_mtime(&src.join("sub"), 1_500_000_000);
    succeeded(&create(&src, &dest, None, &[]));
    only_archive(&dest, "data")
}

#[test]
fn verify_passes_intact_and_flags_flipped_or_truncated_archives() {
    let dir = tempfile::tempdir().unwrap();
    let archive = one_backup(dir.path());
    let a = path(&archive);
    let recs = succeeded(&run(&["verify", a]));
    assert_eq!(of_kind(&recs, "backup.verified").len(), 1);

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
    let recs = records(&out.stdout);
    let failed = of_kind(&recs, "backup.failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["stage"], "verify");

    fs::write(&archive, &good[..good.len() - 100]).unwrap();
    let out = run(&["verify", a]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(of_kind(&records(&out.stdout), "backup.failed").len(), 1);

    fs::write(&archive, &good).unwrap();
    let out = run(&["verify", a]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn restore_reproduces_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let archive = one_backup(dir.path());
    let to = dir.path().join("restored");
    succeeded(&run(&["restore", path(&archive), "--to", path(&to)]));
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
            path(&archive),
            "--to",
            path(&to),
            "--no-manifest",
        ]);
        assert_eq!(out.status.code(), Some(3), "{what}: {}", stderr(&out));
        let recs = records(&out.stdout);
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
    fs::remove_file(manifest_of(&archive)).unwrap();
    let to = dir.path().join("r");
    let restore = ["restore", path(&archive), "--to", path(&to)];
    assert_eq!(run(&restore).status.code(), Some(3));
    succeeded(&run(&[&restore[..], &["--no-manifest"]].concat()));
}

/// The content of the one file in [`format_1_backup`].
const FORMAT_1_CONTENT: &[u8] = b"written by backup-rotate 0.1 with manifest format 1\n";

/// The format 1 entry digest of [`format_1_backup`]'s three entries:
/// SHA-256 over each entry's facts and the SHA-256 of its content, as
/// format 1 defined it (worked out from that definition by hand, and
/// accepted by `verify` of the last format 1 build).
const FORMAT_1_ENTRIES_SHA256: &str =
    "d5e6e03929536db497618d1ca3ed3b4e9b57c3b399c8b7c802265e36045afedf";

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A backup as a format 1 build left it: a plain .tar of fixed entries
/// and a manifest with `entries_sha256`.
fn format_1_backup(dir: &Path) -> PathBuf {
    let archive = dir.join("old-20251101T000000Z.tar");
    let content = FORMAT_1_CONTENT.repeat(100);
    let header = |kind, mode, mtime, size| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(1000);
        header.set_gid(1000);
        header.set_mtime(mtime);
        header.set_size(size);
        header
    };
    let mut tar = tar::Builder::new(fs::File::create(&archive).unwrap());
    let mut dir_header = header(tar::EntryType::Directory, 0o755, 1_600_000_000, 0);
    tar.append_data(&mut dir_header, "old/", io::empty())
        .unwrap();
    let mut file_header = header(
        tar::EntryType::Regular,
        0o640,
        1_600_000_100,
        content.len() as u64,
    );
    tar.append_data(&mut file_header, "old/a.txt", &content[..])
        .unwrap();
    let mut link_header = header(tar::EntryType::Symlink, 0o777, 1_600_000_200, 0);
    tar.append_link(&mut link_header, "old/link", "a.txt")
        .unwrap();
    tar.into_inner().unwrap();
    let bytes = fs::read(&archive).unwrap();
    let manifest = json!({
        "format": 1,
        "tool": "backup-rotate",
        "version": "0.1.0",
        "name": "old",
        "archive": "old-20251101T000000Z.tar",
        "created": "2025-11-01T00:00:00Z",
        "host": "web1",
        "compression": "none",
        "level": 0,
        "sources": ["/old"],
        "excludes": [],
        "one_file_system": false,
        "entries": 3,
        "files": 1,
        "dirs": 1,
        "symlinks": 1,
        "hardlinks": 0,
        "bytes": content.len(),
        "tar_bytes": bytes.len(),
        "archive_bytes": bytes.len(),
        "archive_sha256": sha256_hex(&bytes),
        "entries_sha256": FORMAT_1_ENTRIES_SHA256,
        "unreadable": 0,
        "changed": 0,
        "duration_ms": 12
    });
    fs::write(manifest_of(&archive), manifest.to_string()).unwrap();
    archive
}

fn manifest_of(archive: &Path) -> PathBuf {
    PathBuf::from(format!("{}.manifest.json", archive.display()))
}

fn edit_manifest(archive: &Path, edit: impl FnOnce(&mut Value)) {
    let mut manifest: Value =
        serde_json::from_slice(&fs::read(manifest_of(archive)).unwrap()).unwrap();
    edit(&mut manifest);
    fs::write(manifest_of(archive), manifest.to_string()).unwrap();
}

/// The message of the one `backup.failed` of a `verify` that must fail.
fn verify_failure(archive: &Path) -> String {
    let out = run(&["verify", path(archive)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let recs = records(&out.stdout);
    let failed = of_kind(&recs, "backup.failed");
    assert_eq!(failed.len(), 1, "{recs:#?}");
    failed[0]["message"].as_str().unwrap().to_string()
}

#[test]
fn format_1_manifests_still_verify_with_their_sha256_digests() {
    let dir = tempfile::tempdir().unwrap();
    let archive = format_1_backup(dir.path());
    let recs = succeeded(&run(&["verify", path(&archive)]));
    assert_eq!(of_kind(&recs, "backup.verified").len(), 1, "{recs:#?}");
    let to = dir.path().join("restored");
    succeeded(&run(&["restore", path(&archive), "--to", path(&to)]));
    assert_eq!(
        fs::read(to.join("old/a.txt")).unwrap(),
        FORMAT_1_CONTENT.repeat(100)
    );

    // One byte of content changed, and the manifest's archive SHA-256
    // changed to match: only the SHA-256 entry digest can catch it.
    let mut bytes = fs::read(&archive).unwrap();
    let at = bytes
        .windows(FORMAT_1_CONTENT.len())
        .position(|w| w == FORMAT_1_CONTENT)
        .unwrap();
    bytes[at] ^= 0x20;
    fs::write(&archive, &bytes).unwrap();
    edit_manifest(&archive, |m| {
        m["archive_sha256"] = sha256_hex(&bytes).into()
    });
    let why = verify_failure(&archive);
    assert!(why.contains("digest differently"), "{why}");

    // A format this build does not know, or a digest the format does not
    // have, is refused by name, not guessed at.
    edit_manifest(&archive, |m| m["format"] = 3.into());
    let why = verify_failure(&archive);
    assert!(why.contains("format: 3 is newer"), "{why}");
    edit_manifest(&archive, |m| m["format"] = 2.into());
    let why = verify_failure(&archive);
    assert!(
        why.contains("entries_sha256: not a field of format 2"),
        "{why}"
    );
}

#[test]
fn new_manifests_are_format_2_with_a_blake3_entry_digest() {
    let dir = tempfile::tempdir().unwrap();
    let archive = one_backup(dir.path());
    let manifest: Value =
        serde_json::from_slice(&fs::read(manifest_of(&archive)).unwrap()).unwrap();
    assert_eq!(manifest["format"], 2);
    assert_eq!(manifest["entries_blake3"].as_str().unwrap().len(), 64);
    assert!(manifest.get("entries_sha256").is_none(), "{manifest:#}");
    // The archive SHA-256 is what sha256sum says.
    assert_eq!(
        manifest["archive_sha256"],
        sha256_hex(&fs::read(&archive).unwrap())
    );
    // A flipped entry digest is caught.
    edit_manifest(&archive, |m| {
        m["entries_blake3"] = "0".repeat(64).into();
    });
    let why = verify_failure(&archive);
    assert!(why.contains("digest differently"), "{why}");
}

/// Makes a FIFO or device node (devices need root).
fn node(path: &Path, kind: nix::sys::stat::SFlag, mode: u32, dev: (u64, u64)) {
    use nix::sys::stat::{Mode, mknod};
    mknod(
        path,
        kind,
        Mode::from_bits_truncate(mode),
        nix::sys::stat::makedev(dev.0, dev.1),
    )
    .unwrap();
    fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
}

#[test]
fn fifos_and_device_nodes_restore_as_what_they_are_as_stock_tar_does() {
    use nix::sys::stat::SFlag;
    let root = nix::unistd::geteuid().is_root();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("nodes");
    let dest = dir.path().join("dest");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::create_dir_all(&dest).unwrap();
    fs::write(src.join("plain"), "plain\n").unwrap();
    node(&src.join("sub/pipe"), SFlag::S_IFIFO, 0o640, (0, 0));
    node(&src.join("pipe2"), SFlag::S_IFIFO, 0o600, (0, 0));
    if root {
        node(&src.join("sub/null0"), SFlag::S_IFCHR, 0o620, (1, 3));
        node(&src.join("sub/loop9"), SFlag::S_IFBLK, 0o660, (7, 200));
        std::os::unix::fs::lchown(src.join("sub/pipe"), Some(1234), Some(5678)).unwrap();
        std::os::unix::fs::lchown(src.join("sub/null0"), Some(0), Some(5)).unwrap();
    }
    for (i, p) in ["sub/pipe", "pipe2", "plain", "sub", ""].iter().enumerate() {
        set_mtime(&src.join(p), 1_600_000_000 + i as i64 * 7);
    }
    if root {
        set_mtime(&src.join("sub/null0"), 1_500_000_000);
        set_mtime(&src.join("sub/loop9"), 1_500_000_001);
        set_mtime(&src.join("sub"), 1_600_000_100);
    }
    succeeded(&create(&src, &dest, None, &[]));
    let archive = only_archive(&dest, "nodes");
    let ours = dir.path().join("ours");
    succeeded(&run(&["restore", path(&archive), "--to", path(&ours)]));
    let stock = dir.path().join("stock");
    tar_extract(&archive, &stock, &["-z"]);
    let inside = |root: &Path| root.join(src.strip_prefix("/").unwrap());
    let restored = walk(&inside(&ours));
    assert_eq!(restored["sub/pipe"].kind, "fifo", "{restored:#?}");
    if root {
        assert_eq!(restored["sub/null0"].kind, "char");
        assert_eq!(restored["sub/null0"].rdev, Some((1, 3)));
        assert_eq!(restored["sub/loop9"].kind, "block");
    }
    assert_eq!(restored, walk(&inside(&stock)), "as stock tar extracts it");
    assert_eq!(restored, walk(&src), "as it was backed up");
}

/// A hand-made archive: a file, a FIFO and two device nodes.
fn nodes_archive(path: &Path) {
    let mut tar = tar::Builder::new(fs::File::create(path).unwrap());
    let header = |kind, mode, size| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(1_600_000_000);
        h
    };
    tar.append_data(
        &mut header(tar::EntryType::Directory, 0o755, 0),
        "d/",
        io::empty(),
    )
    .unwrap();
    tar.append_data(
        &mut header(tar::EntryType::Regular, 0o644, 3),
        "d/f",
        &b"abc"[..],
    )
    .unwrap();
    tar.append_data(
        &mut header(tar::EntryType::Fifo, 0o640, 0),
        "d/p",
        io::empty(),
    )
    .unwrap();
    for (name, kind, major, minor) in [
        ("d/null", tar::EntryType::Char, 1, 3),
        ("d/loop", tar::EntryType::Block, 7, 200),
    ] {
        let mut h = header(kind, 0o600, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        tar.append_data(&mut h, name, io::empty()).unwrap();
    }
    tar.into_inner().unwrap();
}

#[test]
fn device_nodes_that_cannot_be_made_fail_the_restore_with_a_record() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let archive = dir.path().join("nodes.tar");
    nodes_archive(&archive);
    let (ours, stock) = (dir.path().join("ours"), dir.path().join("stock"));
    for to in [&ours, &stock] {
        fs::create_dir_all(to).unwrap();
        give_to_nobody(to);
    }
    let out = run_unprivileged(&[
        "restore",
        path(&archive),
        "--to",
        path(&ours),
        "--no-manifest",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let recs = records(&out.stdout);
    let failed = of_kind(&recs, "backup.failed");
    assert_eq!(failed.len(), 1, "{recs:#?}");
    assert_eq!(failed[0]["stage"], "restore");
    assert_eq!(failed[0]["alert"], "firing");
    assert_eq!(failed[0]["not_restored"], 2);
    let message = failed[0]["message"].as_str().unwrap();
    for part in [
        "\"d/null\"",
        "\"d/loop\"",
        "only root can make device nodes",
    ] {
        assert!(message.contains(part), "{message}");
    }
    assert!(stderr(&out).contains("d/null"), "{}", stderr(&out));
    // Everything else is in place, and no empty file stands in for a device.
    assert_eq!(fs::read(ours.join("d/f")).unwrap(), b"abc");
    assert!(
        fs::symlink_metadata(ours.join("d/p"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    for missing in ["d/null", "d/loop"] {
        assert!(
            !ours.join(missing).exists(),
            "{missing} stands in for a device"
        );
    }

    // Stock tar, unprivileged, does the same: the rest, and a failure.
    require("tar", "tar");
    let tar = run_as_nobody("tar", &["-xpf", path(&archive), "-C", path(&stock)]);
    assert_eq!(tar.status.code(), Some(2));
    assert!(
        fs::symlink_metadata(stock.join("d/p"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert!(!stock.join("d/null").exists());
}
