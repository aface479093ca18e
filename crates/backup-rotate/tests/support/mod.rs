//! Running the real binary as an operator would, and comparing what stock
//! GNU tar extracts with the tree that was backed up.

#![allow(dead_code)] // each test file uses its own subset

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use secops_testkit::{of_kind, records, require, stderr};

pub const BIN: &str = env!("CARGO_BIN_EXE_backup-rotate");

pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["--format", "jsonl"])
        .args(args)
        .output()
        .expect("run backup-rotate")
}

/// The arguments of `create -s SRC -d DEST [-n NAME] EXTRA...`.
pub fn create_args<'a>(
    src: &'a Path,
    dest: &'a Path,
    name: Option<&'a str>,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["create", "-s", path(src), "-d", path(dest)];
    if let Some(name) = name {
        args.extend(["-n", name]);
    }
    args.extend_from_slice(extra);
    args
}

/// Runs `create -s SRC -d DEST [-n NAME] EXTRA...`.
pub fn create(src: &Path, dest: &Path, name: Option<&str>, extra: &[&str]) -> Output {
    run(&create_args(src, dest, name, extra))
}

/// A path as an argument (the tests' temporary paths are UTF-8).
pub fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// The records of a run that must have succeeded.
pub fn succeeded(out: &Output) -> Vec<serde_json::Value> {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    records(&out.stdout)
}

/// File names in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The archives of NAME in `dir` (visible names only).
pub fn archives(dir: &Path, name: &str) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.starts_with(&format!("{name}-")) && !n.ends_with(".json"))
        .collect()
}

pub fn set_mtime(path: &Path, secs: i64) {
    let time = nix::sys::time::TimeSpec::new(secs, 0);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &time,
        &time,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
}

/// A tree with everything tar must get right: modes, owners, mtimes,
/// symlinks (relative, absolute, dangling, long target), hard links, empty
/// directories, a FIFO, a name that is not UTF-8 and paths over 100 bytes.
pub fn rich_tree(root: &Path) {
    let root_user = nix::unistd::geteuid().is_root();
    fs::create_dir_all(root.join("etc/conf.d")).unwrap();
    fs::create_dir_all(root.join("empty/deeper")).unwrap();
    fs::write(root.join("etc/app.conf"), "listen 8080\n".repeat(500)).unwrap();
    fs::write(root.join("etc/conf.d/secret"), b"\x00\x01binary\xff").unwrap();
    fs::write(root.join("etc/empty-file"), b"").unwrap();
    fs::write(root.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    set_mode(&root.join("run.sh"), 0o4755);
    set_mode(&root.join("etc/conf.d/secret"), 0o600);
    set_mode(&root.join("etc/conf.d"), 0o750);
    set_mode(&root.join("empty/deeper"), 0o1777);
    let mut big = noise(3 << 20, 88172645463325252);
    for (i, byte) in big.iter_mut().enumerate().step_by(3) {
        *byte = b'a' + (i % 26) as u8;
    }
    fs::write(root.join("big.bin"), &big).unwrap();
    fs::hard_link(root.join("big.bin"), root.join("etc/big-link.bin")).unwrap();
    symlink("app.conf", root.join("etc/rel-link")).unwrap();
    symlink("/etc/hostname", root.join("abs-link")).unwrap();
    symlink("../nowhere/at/all", root.join("etc/dangling")).unwrap();
    let long_dir = root.join("l".repeat(60)).join("m".repeat(60));
    fs::create_dir_all(&long_dir).unwrap();
    fs::write(long_dir.join("n".repeat(90)), "deep\n").unwrap();
    symlink(
        format!("{}/{}", "t".repeat(80), "u".repeat(80)),
        root.join("long-target"),
    )
    .unwrap();
    let odd = PathBuf::from(std::ffi::OsStr::from_bytes(b"caf\xe9-latin1.txt"));
    fs::write(root.join(odd), "not utf-8 name\n").unwrap();
    nix::unistd::mkfifo(
        &root.join("pipe"),
        nix::sys::stat::Mode::from_bits(0o640).unwrap(),
    )
    .unwrap();
    if root_user {
        let chown = |p: &str, u: u32, g: u32| {
            std::os::unix::fs::lchown(root.join(p), Some(u), Some(g)).unwrap()
        };
        chown("etc/conf.d/secret", 1234, 5678);
        chown("etc/conf.d", 1234, 0);
        chown("etc/rel-link", 4321, 4321);
    }
    let mut paths = Vec::new();
    all_paths(root, &mut paths);
    // Children first, so setting a file's mtime does not move its
    // directory's afterwards.
    for (i, path) in paths.iter().rev().enumerate() {
        set_mtime(path, 1_600_000_000 + i as i64 * 3601);
    }
}

fn all_paths(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        out.push(path.clone());
        if fs::symlink_metadata(&path).unwrap().is_dir() {
            all_paths(&path, out);
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// What a restore must reproduce for one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: Option<i64>,
    pub content: Option<Vec<u8>>,
    pub link: Option<Vec<u8>>,
    /// Index of the first path sharing this inode, for hard links.
    pub inode_group: Option<String>,
    /// Major and minor of a device node.
    pub rdev: Option<(u64, u64)>,
}

/// Every path below `root` (relative, as bytes-lossy strings) and its node.
pub fn walk(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<(u64, u64), String> = BTreeMap::new();
    walk_into(root, root, &mut out, &mut inodes);
    out
}

fn walk_into(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, Node>,
    inodes: &mut BTreeMap<(u64, u64), String>,
) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let meta = fs::symlink_metadata(&path).unwrap();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .as_os_str()
            .as_bytes()
            .escape_ascii()
            .to_string();
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_file() {
            "file"
        } else if ft.is_fifo() {
            "fifo"
        } else if ft.is_char_device() {
            "char"
        } else if ft.is_block_device() {
            "block"
        } else {
            "other"
        };
        let inode_group = (ft.is_file() && meta.nlink() > 1).then(|| {
            inodes
                .entry((meta.dev(), meta.ino()))
                .or_insert_with(|| rel.clone())
                .clone()
        });
        out.insert(
            rel,
            Node {
                kind,
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
                mtime: Some(meta.mtime()),
                content: ft.is_file().then(|| fs::read(&path).unwrap()),
                link: ft.is_symlink().then(|| {
                    fs::read_link(&path)
                        .unwrap()
                        .as_os_str()
                        .as_bytes()
                        .to_vec()
                }),
                inode_group,
                rdev: (ft.is_char_device() || ft.is_block_device()).then(|| {
                    (
                        nix::sys::stat::major(meta.rdev()),
                        nix::sys::stat::minor(meta.rdev()),
                    )
                }),
            },
        );
        if ft.is_dir() {
            walk_into(root, &path, out, inodes);
        }
    }
}

/// Extracts with stock GNU tar, as root would on another machine.
pub fn tar_extract(archive: &Path, into: &Path, filter: &[&str]) {
    require("tar", "tar");
    fs::create_dir_all(into).unwrap();
    let out = Command::new("tar")
        .args(filter)
        .args(["--same-owner", "-xpf"])
        .arg(archive)
        .arg("-C")
        .arg(into)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tar -x failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Stock GNU tar's listing of an archive (`flags` end in `-t...f`).
pub fn tar_list(flags: &[&str], archive: &Path) -> String {
    require("tar", "tar");
    let out = Command::new("tar")
        .args(flags)
        .arg(archive)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tar -t failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Timestamps of a short history of `db`, oldest first, for [`history`].
pub const STAMPS: [&str; 5] = [
    "20261118T020000Z",
    "20261119T020000Z",
    "20261120T020000Z",
    "20261121T020000Z",
    "20261121T140000Z",
];

/// `backup-rotate prune` of `db` in `dest`, with `extra` flags.
pub fn prune(dest: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["prune", "-d", path(dest), "-n", "db"];
    args.extend_from_slice(extra);
    run(&args)
}

/// `len` bytes of xorshift noise from `seed`: incompressible data that is
/// the same on every run.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// One real backup of `db`, copied to the given timestamps (newest last),
/// with manifests naming each copy.
pub fn history(dest: &Path, stamps: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("db");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("dump.sql"), "insert 1;\n").unwrap();
    succeeded(&create(&src, dir.path(), None, &[]));
    let archive = only_archive(dir.path(), "db");
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(format!("{}.manifest.json", archive.display())).unwrap())
            .unwrap();
    for stamp in stamps {
        let name = format!("db-{stamp}.tar.gz");
        fs::copy(&archive, dest.join(&name)).unwrap();
        let mut m = manifest.clone();
        m["archive"] = serde_json::Value::from(name.clone());
        fs::write(
            dest.join(format!("{name}.manifest.json")),
            serde_json::to_vec(&m).unwrap(),
        )
        .unwrap();
    }
}

/// The only archive of NAME in `dest`.
pub fn only_archive(dest: &Path, name: &str) -> PathBuf {
    let found = archives(dest, name);
    assert_eq!(found.len(), 1, "one archive in {:?}", names(dest));
    dest.join(&found[0])
}

/// Runs `program args` as `nobody` when we are root (root may do what the
/// test is about), else as ourselves.
pub fn run_as_nobody(program: &str, args: &[&str]) -> Output {
    if nix::unistd::geteuid().is_root() {
        require("setpriv", "util-linux");
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", program])
            .args(args)
            .output()
            .unwrap()
    } else {
        Command::new(program).args(args).output().unwrap()
    }
}

/// Runs the binary unprivileged, as [`run_as_nobody`].
pub fn run_unprivileged(args: &[&str]) -> Output {
    let mut all = vec!["--format", "jsonl"];
    all.extend_from_slice(args);
    run_as_nobody(BIN, &all)
}

/// Hands `path` to `nobody` when we are root, so [`run_as_nobody`] may
/// write there.
pub fn give_to_nobody(path: &Path) {
    if nix::unistd::geteuid().is_root() {
        std::os::unix::fs::chown(path, Some(65534), Some(65534)).unwrap();
    }
}
