//! Sparse files and files over 8 GiB: stored as their data (not as
//! gigabytes of zeros), extracted by stock GNU tar and by `restore` to the
//! same bytes, with their holes again.

mod support;

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::process::Command;

use support::*;

const GIB: u64 = 1 << 30;

/// A file of `size` bytes that is a hole but for `pieces`.
fn sparse_file(path: &Path, size: u64, pieces: &[(u64, &[u8])]) {
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)
        .unwrap();
    file.set_len(size).unwrap();
    for (offset, data) in pieces {
        file.write_all_at(data, *offset).unwrap();
    }
}

/// Where a file has data, by `SEEK_DATA`/`SEEK_HOLE`.
fn data_ranges(file: &File, size: u64) -> Vec<(u64, u64)> {
    use nix::unistd::{Whence, lseek};
    let mut ranges = Vec::new();
    let mut pos = 0;
    while pos < size {
        let Ok(start) = lseek(file, pos as i64, Whence::SeekData) else {
            break;
        };
        let end = lseek(file, start, Whence::SeekHole).unwrap();
        ranges.push((start as u64, end as u64));
        pos = end as u64;
    }
    ranges
}

/// Same bytes and holes kept: no more allocated blocks than the original
/// plus a little slack for the 512-byte rounding of the stored pieces.
/// Bytes are compared wherever either file has data; everywhere else both
/// are holes, which read as zeros (reading 9 GiB of them would take a
/// minute).
fn assert_same_and_sparse(original: &Path, copy: &Path) {
    let (a, b) = (File::open(original).unwrap(), File::open(copy).unwrap());
    let (want, got) = (a.metadata().unwrap(), b.metadata().unwrap());
    assert_eq!(got.len(), want.len(), "{}", copy.display());
    let mut ranges = data_ranges(&a, want.len());
    ranges.extend(data_ranges(&b, got.len()));
    for (start, end) in ranges {
        let len = (end - start) as usize;
        let (mut x, mut y) = (vec![0u8; len], vec![0u8; len]);
        a.read_exact_at(&mut x, start).unwrap();
        b.read_exact_at(&mut y, start).unwrap();
        assert!(x == y, "{} differs in {start}..{end}", copy.display());
    }
    assert!(
        got.blocks() <= want.blocks() + 64,
        "{} is not sparse: {} blocks of 512 bytes, the original has {}",
        copy.display(),
        got.blocks(),
        want.blocks()
    );
}

#[test]
fn sparse_and_huge_files_round_trip_with_their_holes() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let dest = dir.path().join("dest");
    fs::create_dir_all(&src).unwrap();
    fs::create_dir_all(&dest).unwrap();
    sparse_file(
        &src.join("disk.img"),
        GIB,
        &[(4096, b"boot sector"), (500_000_123, b"in the middle")],
    );
    // Over the 8 GiB that ustar's size field holds, data at the very end:
    // real size and the last piece's offset need GNU base-256 numbers.
    sparse_file(
        &src.join("huge.bin"),
        9 * GIB,
        &[(9 * GIB - 100, b"the end of a 9 GiB file")],
    );
    // More pieces than the header's four: the map continues in extension
    // blocks. Pieces not on 512-byte edges, a trailing hole.
    let fill: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8 + 1).collect();
    let pieces: Vec<(u64, &[u8])> = (0..60u64).map(|i| (i * 65_536 + 7, &fill[..])).collect();
    sparse_file(&src.join("many"), 60 * 65_536 + 5000, &pieces);
    sparse_file(&src.join("hollow"), 100 << 20, &[]);
    fs::write(src.join("plain.txt"), "not sparse\n").unwrap();
    let original = fs::metadata(src.join("huge.bin")).unwrap();
    assert!(
        original.blocks() < 1024,
        "the filesystem of {} does not keep holes ({} blocks): this test needs one that does (ext4, xfs, btrfs, tmpfs)",
        src.display(),
        original.blocks()
    );

    let out = run(&[
        "create",
        "-s",
        src.to_str().unwrap(),
        "-d",
        dest.to_str().unwrap(),
        "-n",
        "sparse",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recs = records(&out);
    let created = of_kind(&recs, "backup.created");
    assert_eq!(created[0]["files"], 5);
    let logical = 10 * GIB + 60 * 65_536 + 5000 + (100 << 20) + 11;
    assert_eq!(created[0]["bytes"], logical);
    // The holes are not in the tar stream: well under a MiB of it.
    assert!(
        created[0]["tar_bytes"].as_u64().unwrap() < 1 << 20,
        "{:#?}",
        created[0]
    );
    let archive = only_archive(&dest, "sparse");

    // GNU tar lists the real sizes, over 8 GiB included.
    let listing = Command::new("tar")
        .arg("-tvzf")
        .arg(&archive)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    assert!(
        listing
            .lines()
            .any(|l| l.contains(" 9663676416 ") && l.ends_with("/huge.bin")),
        "{listing}"
    );

    let restored = dir.path().join("tar-x");
    tar_extract(&archive, &restored, &["-z"]);
    let inside = restored.join(src.strip_prefix("/").unwrap());
    for name in ["disk.img", "huge.bin", "many", "hollow", "plain.txt"] {
        assert_same_and_sparse(&src.join(name), &inside.join(name));
    }

    let out = run(&["verify", archive.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let to = dir.path().join("restore");
    let out = run(&[
        "restore",
        archive.to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let inside = to.join(src.strip_prefix("/").unwrap());
    for name in ["disk.img", "huge.bin", "many", "hollow"] {
        assert_same_and_sparse(&src.join(name), &inside.join(name));
    }
}

/// Only files with holes become sparse entries: the same bytes written out
/// in full stay a regular entry, and both read back as those bytes.
#[test]
fn a_sparse_file_and_its_dense_copy_store_the_same_content() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(&src).unwrap();
    sparse_file(&src.join("a"), 3 << 20, &[(1 << 20, b"x")]);
    // The same bytes, written out in full: no holes.
    let mut dense = vec![0u8; 3 << 20];
    dense[1 << 20] = b'x';
    fs::write(src.join("b"), &dense).unwrap();
    File::open(src.join("b")).unwrap().sync_all().unwrap();
    let dest = dir.path().join("dest");
    fs::create_dir_all(&dest).unwrap();
    let out = run(&[
        "create",
        "-s",
        src.to_str().unwrap(),
        "-d",
        dest.to_str().unwrap(),
        "--compression",
        "none",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let archive = only_archive(&dest, "src");
    // One sparse entry (type S), one regular (type 0), same content.
    let mut tar = tar::Archive::new(File::open(&archive).unwrap());
    let mut kinds = Vec::new();
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().file_name().unwrap().to_owned();
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
        if name == "a" || name == "b" {
            assert!(content == dense, "{name:?}");
            kinds.push((name, entry.header().entry_type()));
        }
    }
    assert_eq!(
        kinds,
        [
            ("a".into(), tar::EntryType::GNUSparse),
            ("b".into(), tar::EntryType::Regular)
        ]
    );
}
