//! `fetch` of a directory against a real sshd: every regular file arrives
//! whole with its checksum, links are reported and never created, and a
//! hostile host's listing cannot write outside `DIR/HOST`.

mod support;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{Sshd, aliases, records, remote_run, run, stderr, tree};

fn of_kind<'a>(all: &'a [Value], kind: &str, host: &str) -> Vec<&'a Value> {
    all.iter()
        .filter(|r| r["kind"] == kind && r["host"] == host)
        .collect()
}

fn by_remote<'a>(recs: &[&'a Value], suffix: &str) -> &'a Value {
    recs.iter()
        .find(|r| r["remote"].as_str().unwrap().ends_with(suffix))
        .unwrap_or_else(|| panic!("no record for {suffix}: {recs:#?}"))
}

fn sha256(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

#[test]
fn a_directory_arrives_file_by_file_with_checksums() {
    let sshd = Sshd::start();
    let config = sshd.ssh_config(&aliases(2), "");
    let app = sshd.path("app");
    fs::create_dir_all(app.join("sub/deeper")).unwrap();
    fs::create_dir(app.join("empty")).unwrap();
    fs::write(app.join("a.log"), "alpha\n").unwrap();
    let binary: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 256) as u8).collect();
    fs::write(app.join("sub/deeper/b.bin"), &binary).unwrap();
    fs::write(app.join("sub/with space; $(id)"), "s").unwrap();
    // Longer than a tar header's 100-byte name field.
    let long = "n".repeat(150);
    fs::write(app.join("sub").join(&long), "long").unwrap();
    symlink("a.log", app.join("current")).unwrap();
    symlink("/etc", app.join("etc-link")).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let out = run(remote_run()
        .arg("--ssh-config")
        .arg(&config)
        .args(["--hosts", "h[01-02]", "fetch"])
        .arg(format!("{}/", app.display()))
        .arg(dest.path()));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all = records(&out.stdout);
    let relative = app.strip_prefix("/").unwrap();
    for host in ["h01", "h02"] {
        let root = dest.path().join(host).join(relative);
        assert_eq!(fs::read(root.join("a.log")).unwrap(), b"alpha\n");
        assert_eq!(fs::read(root.join("sub/deeper/b.bin")).unwrap(), binary);
        assert_eq!(fs::read(root.join("sub/with space; $(id)")).unwrap(), b"s");
        assert_eq!(fs::read(root.join("sub").join(&long)).unwrap(), b"long");
        assert!(root.join("empty").is_dir());
        for link in ["current", "etc-link"] {
            assert!(
                fs::symlink_metadata(root.join(link)).is_err(),
                "{link} was created"
            );
        }
        assert_eq!(
            fs::metadata(root.join("a.log"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        let files = of_kind(&all, "remote.fetch.file", host);
        assert_eq!(files.len(), 6, "{files:#?}");
        let bin = by_remote(&files, "/sub/deeper/b.bin");
        assert_eq!(bin["status"], "ok");
        assert_eq!(bin["bytes"], binary.len());
        assert_eq!(bin["sha256"], sha256(&app.join("sub/deeper/b.bin")));
        assert_eq!(
            bin["local"],
            root.join("sub/deeper/b.bin").display().to_string()
        );
        let link = by_remote(&files, "/etc-link");
        assert_eq!(link["status"], "skipped");
        assert_eq!(link["severity"], "low");
        assert!(
            link["reason"].as_str().unwrap().contains("symbolic link"),
            "{link}"
        );
        let summary = of_kind(&all, "remote.fetch", host);
        assert_eq!(summary.len(), 1);
        assert_eq!(summary[0]["status"], "ok", "{}", summary[0]);
        assert_eq!(summary[0]["directory"], true);
        assert_eq!(summary[0]["files"], 4);
        assert_eq!(summary[0]["skipped"], 2);
    }

    // A directory planted as a symlink under DIR/HOST is not followed.
    let outside = tempfile::tempdir().unwrap();
    let sub = dest.path().join("h01").join(relative).join("sub");
    fs::remove_dir_all(&sub).unwrap();
    symlink(outside.path(), &sub).unwrap();
    let out = run(remote_run()
        .arg("--ssh-config")
        .arg(&config)
        .args(["--hosts", "h01", "fetch"])
        .arg(&app)
        .arg(dest.path()));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let all = records(&out.stdout);
    let files = of_kind(&all, "remote.fetch.file", "h01");
    assert_eq!(by_remote(&files, "/sub/deeper/b.bin")["status"], "failed");
    assert_eq!(by_remote(&files, "/a.log")["status"], "ok");
    assert_eq!(of_kind(&all, "remote.fetch", "h01")[0]["status"], "failed");
    assert!(
        tree(outside.path()).is_empty(),
        "{:?}",
        tree(outside.path())
    );
}

/// One tar entry with a name written raw, as a hostile host would.
fn entry(tar: &mut Vec<u8>, name: &str, kind: tar::EntryType, link: &str, data: &[u8]) {
    let mut header = tar::Header::new_gnu();
    {
        let gnu = header.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    header.set_entry_type(kind);
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.extend_from_slice(header.as_bytes());
    tar.extend_from_slice(data);
    tar.resize(tar.len().div_ceil(512) * 512, 0);
}

#[test]
fn a_hostile_listing_cannot_write_outside_the_host_directory() {
    let outside = tempfile::tempdir().unwrap();
    let outside_dir = outside.path().display().to_string();
    let absolute = format!("{outside_dir}/abs.txt");
    let mut tar = Vec::new();
    use tar::EntryType::{Directory, Link, Regular, Symlink};
    entry(&mut tar, "./", Directory, "", b"");
    entry(&mut tar, "./ok.txt", Regular, "", b"fine");
    entry(&mut tar, "../escape.txt", Regular, "", b"x");
    entry(&mut tar, "./a/../../escape2.txt", Regular, "", b"x");
    entry(&mut tar, &absolute, Regular, "", b"x");
    entry(&mut tar, "./link", Symlink, &outside_dir, b"");
    entry(&mut tar, "./link/owned.txt", Regular, "", b"inside");
    entry(&mut tar, "./hard", Link, "/etc/passwd", b"");
    tar.extend_from_slice(&[0u8; 1024]);
    let evil_dir = tempfile::tempdir().unwrap();
    let evil = evil_dir.path().join("evil.tar");
    fs::write(&evil, &tar).unwrap();
    // Whatever fetch asks, this host answers with the archive above.
    let sshd = Sshd::builder()
        .config(&format!(
            "ForceCommand printf D; exec cat {}\n",
            evil.display()
        ))
        .start();
    let config = sshd.ssh_config(&aliases(1), "");
    let dest = tempfile::tempdir().unwrap();
    let out = run(remote_run()
        .arg("--ssh-config")
        .arg(&config)
        .args(["--hosts", "h01", "fetch", "/srv/app"])
        .arg(dest.path()));
    assert_eq!(
        out.status.code(),
        Some(1),
        "high-severity skips reach --fail-on high: {}",
        stderr(&out)
    );
    let expected: Vec<PathBuf> = [
        "h01",
        "h01/srv",
        "h01/srv/app",
        "h01/srv/app/link",
        "h01/srv/app/link/owned.txt",
        "h01/srv/app/ok.txt",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    assert_eq!(tree(dest.path()), expected);
    let root = dest.path().join("h01/srv/app");
    assert_eq!(fs::read(root.join("ok.txt")).unwrap(), b"fine");
    assert!(fs::symlink_metadata(root.join("link")).unwrap().is_dir());
    assert!(
        tree(outside.path()).is_empty(),
        "{:?}",
        tree(outside.path())
    );
    let all = records(&out.stdout);
    let files = of_kind(&all, "remote.fetch.file", "h01");
    for bad in ["/escape.txt", "/escape2.txt", "/abs.txt"] {
        let rec = by_remote(&files, bad);
        assert_eq!(rec["status"], "skipped", "{rec}");
        assert_eq!(rec["severity"], "high", "{rec}");
        assert_eq!(rec["local"], Value::Null);
    }
    assert!(
        by_remote(&files, "/hard")["reason"]
            .as_str()
            .unwrap()
            .contains("hard link")
    );
    let summary = &of_kind(&all, "remote.fetch", "h01")[0];
    assert_eq!(summary["files"], 2, "{summary}");
    assert_eq!(summary["skipped"], 5, "{summary}");
}
