//! Archives made to exhaust the reader: a long name, long link name or PAX
//! header announcing half a GiB (from a file of half a MB) is refused from
//! its header, with a short record that names the entry, in flat memory.
//!
//! One test in this file on purpose: the peak memory it checks is that of
//! every child this test binary ran (getrusage RUSAGE_CHILDREN).

mod support;

use std::fs;
use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use support::*;

const MIB: usize = 1 << 20;
/// What each hostile header announces: 512 MiB.
const ANNOUNCED: usize = 512 * MIB;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn header(kind: tar::EntryType, name: &[u8], size: u64) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
    header.set_entry_type(kind);
    header.set_mode(0o644);
    header.set_size(size);
    header.set_cksum();
    header.as_bytes().to_vec()
}

/// A .tar.gz of `kind` announcing [`ANNOUNCED`] bytes of `fill`, then an
/// ordinary file: gzip members one after another (as `cat a.gz b.gz`
/// makes, and gzip, tar and backup-rotate read), the 1 MiB member repeated,
/// so the file is about half a MB.
fn bomb(path: &Path, kind: tar::EntryType, fill: u8) {
    let mut out = gzip(&header(kind, b"././@LongLink", ANNOUNCED as u64));
    let mib = gzip(&vec![fill; MIB]);
    for _ in 0..ANNOUNCED / MIB {
        out.extend_from_slice(&mib);
    }
    let mut tail = header(tar::EntryType::Regular, b"after", 0);
    tail.extend_from_slice(&[0; 1024]);
    out.extend(gzip(&tail));
    fs::write(path, out).unwrap();
}

fn peak_rss_of_children_kib() -> i64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .unwrap()
        .max_rss()
}

#[test]
fn long_name_link_and_pax_bombs_are_refused_in_flat_memory_with_short_records() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "longname",
            tar::EntryType::GNULongName,
            b'a',
            "GNU long name header",
        ),
        (
            "longlink",
            tar::EntryType::GNULongLink,
            b'b',
            "GNU long link name header",
        ),
        ("pax", tar::EntryType::XHeader, b'9', "PAX extension header"),
    ];
    for (what, kind, fill, says) in cases {
        let archive = dir.path().join(format!("{what}-20261121T190200Z.tar.gz"));
        bomb(&archive, kind, fill);
        assert!(fs::metadata(&archive).unwrap().len() < 4 * MIB as u64);
        let to = dir.path().join(format!("to-{what}"));
        let out = run(&[
            "restore",
            path(&archive),
            "--to",
            path(&to),
            "--no-manifest",
        ]);
        assert_eq!(out.status.code(), Some(3), "{what}: {}", stderr(&out));
        assert!(
            out.stdout.len() < 4096,
            "{what}: {} bytes of records",
            out.stdout.len()
        );
        assert!(
            stderr(&out).len() < 4096,
            "{what}: {} bytes of stderr",
            stderr(&out).len()
        );
        let recs = records(&out.stdout);
        let failed = of_kind(&recs, "backup.failed");
        assert_eq!(failed.len(), 1, "{what}: {recs:#?}");
        assert_eq!(failed[0]["stage"], "restore");
        let message = failed[0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{what}: {message}");
        assert!(
            message.contains(&format!("announces {ANNOUNCED} bytes")),
            "{message}"
        );
        if kind == tar::EntryType::GNULongName {
            // The entry is named, by the start of its name.
            assert!(
                message.contains(&format!("\"{}…", "a".repeat(100))),
                "{message}"
            );
        }
        assert!(
            !to.join("after").exists(),
            "{what}: extracted before refusing"
        );
    }

    // verify reads archives through the same bounds (a manifest beside
    // the bomb, as an attacker with write access to /backup could leave).
    let real = dir.path().join("real");
    fs::create_dir_all(real.join("src")).unwrap();
    succeeded(&create(&real.join("src"), &real, Some("longname"), &[]));
    let manifest = fs::read_dir(&real)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".manifest.json"))
        .unwrap();
    let mut m: serde_json::Value = serde_json::from_slice(&fs::read(manifest).unwrap()).unwrap();
    let archive = dir.path().join("longname-20261121T190200Z.tar.gz");
    m["archive"] = archive.file_name().unwrap().to_str().unwrap().into();
    fs::write(
        format!("{}.manifest.json", archive.display()),
        m.to_string(),
    )
    .unwrap();
    let out = run(&["verify", path(&archive)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        out.stdout.len() < 4096,
        "{} bytes of records",
        out.stdout.len()
    );
    let recs = records(&out.stdout);
    let failed = of_kind(&recs, "backup.failed");
    assert_eq!(failed.len(), 1, "{recs:#?}");
    assert!(
        failed[0]["message"]
            .as_str()
            .unwrap()
            .contains("GNU long name header"),
        "{recs:#?}"
    );

    // Every child stayed small: 1.5 GiB of headers cost nothing.
    let peak = peak_rss_of_children_kib();
    assert!(peak < 64 * 1024, "a child peaked at {peak} KiB");
}
