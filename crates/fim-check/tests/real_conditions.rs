//! Trees as they are on real machines: FIFOs and devices, odd names, deep
//! nesting, unreadable corners and files being written during the scan.

mod support;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Sandbox, changed_attrs, record_for, records, run, stderr};

#[test]
fn fifos_and_devices_are_recorded_never_opened() {
    let sb = Sandbox::new();
    nix::unistd::mkfifo(
        &sb.path("pipe"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    fs::write(sb.path("plain"), "x").unwrap();
    // /dev/zero's numbers: reading it would never end.
    let zero = nix::sys::stat::makedev(1, 5);
    nix::sys::stat::mknod(
        &sb.path("zero"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o644),
        zero,
    )
    .unwrap();
    let started = Instant::now();
    sb.init();
    let out = run(&mut sb.cmd("show"));
    let shown = records(&out.stdout);
    assert_eq!(
        record_for(&shown, "fim.entry", &sb.path("pipe"))["type"],
        "fifo"
    );
    assert_eq!(
        record_for(&shown, "fim.entry", &sb.path("zero"))["type"],
        "char"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "a FIFO hung the scan"
    );
    // A FIFO swapped in for a regular file is not read either.
    fs::remove_file(sb.path("plain")).unwrap();
    nix::unistd::mkfifo(
        &sb.path("plain"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let (code, recs) = sb.verify();
    assert_eq!(code, Some(1));
    assert!(changed_attrs(&recs, &sb.path("plain")).contains(&"type".into()));
}

#[test]
fn odd_names_and_deep_trees_round_trip_one_record_per_line() {
    let sb = Sandbox::new();
    let names: [&[u8]; 4] = [b"new\nline", b"bad\xffutf8", b"-rf", b"tab\tand\x1besc"];
    for name in names {
        fs::write(sb.tree().join(OsStr::from_bytes(name)), "x").unwrap();
    }
    // Deeper than PATH_MAX (4096 bytes).
    let mut deep = sb.tree();
    for _ in 0..90 {
        deep.push("d".repeat(60));
        match fs::create_dir(&deep) {
            Ok(()) => {}
            Err(_) => create_relative(&deep),
        }
    }
    assert!(deep.as_os_str().len() > 5000);
    sb.init();
    for name in names {
        fs::write(sb.tree().join(OsStr::from_bytes(name)), "changed").unwrap();
    }
    let (code, recs) = sb.verify();
    assert_eq!(code, Some(1));
    let changed: Vec<&serde_json::Value> =
        recs.iter().filter(|r| r["kind"] == "fim.changed").collect();
    // Rewriting files leaves the directories' mtimes alone.
    assert_eq!(changed.len(), 4, "{recs:#?}");
    let bad = recs
        .iter()
        .find(|r| r["path_b64"].is_string())
        .expect("a path_b64 for the non-UTF-8 name");
    assert!(bad["path"].as_str().unwrap().ends_with("bad\\xffutf8"));
    assert!(
        changed
            .iter()
            .any(|r| r["path"].as_str().unwrap().ends_with("new\nline"))
    );
    let out = run(&mut sb.cmd("show"));
    let text = String::from_utf8(out.stdout).unwrap();
    let entries = text.lines().filter(|l| l.contains("\"fim.entry\"")).count();
    assert_eq!(entries, 1 + 4 + 90, "every entry, each on one line");
    assert!(
        text.lines().any(|l| l.len() > 5000),
        "the deepest path is recorded whole"
    );
}

/// mkdir below PATH_MAX by working from the parent.
fn create_relative(path: &std::path::Path) {
    let parent = path.parent().unwrap();
    let status = Command::new("mkdir")
        .arg(path.file_name().unwrap())
        .current_dir(short_cwd(parent))
        .status()
        .unwrap();
    assert!(status.success());
}

/// Walks into a long directory one component at a time (chdir has the
/// same PATH_MAX limit), returning a /proc path to it.
fn short_cwd(dir: &std::path::Path) -> PathBuf {
    use nix::fcntl::{OFlag, open, openat};
    use nix::sys::stat::Mode;
    let mut fd = open("/", OFlag::O_DIRECTORY | OFlag::O_RDONLY, Mode::empty()).unwrap();
    for part in dir.components().skip(1) {
        fd = openat(
            &fd,
            part.as_os_str(),
            OFlag::O_DIRECTORY | OFlag::O_RDONLY,
            Mode::empty(),
        )
        .unwrap();
    }
    let path = PathBuf::from(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&fd)
    ));
    std::mem::forget(fd);
    path
}

#[test]
fn unreadable_corners_are_reported_and_the_rest_still_checked() {
    let sb = Sandbox::new();
    fs::set_permissions(sb.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::create_dir(sb.path("locked")).unwrap();
    fs::write(sb.path("locked/inside"), "x").unwrap();
    fs::write(sb.path("secret"), "x").unwrap();
    fs::write(sb.path("public"), "x").unwrap();
    fs::set_permissions(sb.path("locked"), fs::Permissions::from_mode(0o000)).unwrap();
    fs::set_permissions(sb.path("secret"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::create_dir(sb.state()).unwrap();
    nix::unistd::chown(&sb.state(), Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    let as_nobody = |sub: &str| {
        let mut cmd = sb.cmd(sub);
        cmd.uid(65534).gid(65534).env("HOME", "/nonexistent");
        cmd
    };
    let out = run(as_nobody("init").arg(sb.tree()));
    assert_eq!(
        out.status.code(),
        Some(3),
        "read failures exit 3: {}",
        stderr(&out)
    );
    fs::write(sb.path("public"), "changed").unwrap();
    let out = run(&mut as_nobody("verify"));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let recs = records(&out.stdout);
    assert_eq!(
        record_for(&recs, "fim.error", &sb.path("secret"))["reason"],
        "unreadable"
    );
    assert_eq!(
        record_for(&recs, "fim.error", &sb.path("locked"))["reason"],
        "unreadable_dir"
    );
    assert!(changed_attrs(&recs, &sb.path("public")).contains(&"sha256".into()));
    assert!(
        !recs.iter().any(|r| r["kind"] == "fim.removed"),
        "unknown is not removed: {recs:#?}"
    );
}

#[test]
fn a_file_written_during_the_scan_gets_no_torn_hash() {
    let sb = Sandbox::new();
    let busy = sb.path("busy.log");
    fs::write(&busy, vec![b'x'; 64 << 20]).unwrap();
    sb.init();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, busy) = (stop.clone(), busy.clone());
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = fs::OpenOptions::new().append(true).open(busy).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                f.write_all(b"more\n").unwrap();
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let (_, recs) = sb.verify();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    let err = record_for(&recs, "fim.error", &busy);
    assert_eq!(err["reason"], "changed_during_scan");
    let changed = changed_attrs(&recs, &busy);
    assert!(
        !changed.contains(&"sha256".into()),
        "a torn hash was compared: {changed:?}"
    );
}

/// `init` inside a private mount namespace (`unshare --mount`) with a tmpfs
/// mounted in the tree; the `fim.entry` records of `show` come back.
fn entries_with_tmpfs_inside(sb: &Sandbox, extra: &[&str]) -> Vec<serde_json::Value> {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test mounts a tmpfs in a private mount namespace: run it as root (scripts/test does)"
    );
    let script = "mount -t tmpfs fim-check-test \"$1/mnt\" && echo in > \"$1/mnt/inside\" && shift && \"$@\"";
    let mut init = sb.cmd("init");
    init.arg(sb.tree()).args(extra);
    let out = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(sb.tree())
        .arg(init.get_program())
        .args(init.get_args())
        .output()
        .expect("unshare runs: apt-get install util-linux");
    assert_eq!(out.status.code(), Some(0), "init: {}", stderr(&out));
    let out = run(&mut sb.cmd("show"));
    records(&out.stdout)
        .into_iter()
        .filter(|r| r["kind"] == "fim.entry")
        .collect()
}

#[test]
fn other_filesystems_are_not_crossed_unless_asked() {
    let sb = Sandbox::new();
    fs::create_dir(sb.path("mnt")).unwrap();
    fs::write(sb.path("mnt/beneath"), "hidden by the mount").unwrap();
    fs::write(sb.path("plain"), "x").unwrap();
    let paths = |entries: &[serde_json::Value]| -> Vec<String> {
        entries
            .iter()
            .map(|r| r["path"].as_str().unwrap().to_string())
            .collect()
    };
    let tree = sb.tree().display().to_string();
    let default = paths(&entries_with_tmpfs_inside(&sb, &[]));
    // The mount point is recorded (as the directory it is), nothing on
    // the tmpfs is; the file it hides is not visible either.
    assert_eq!(
        default,
        [tree.clone(), format!("{tree}/mnt"), format!("{tree}/plain")]
    );
    let crossed = paths(&entries_with_tmpfs_inside(
        &sb,
        &["--force", "--cross-filesystems"],
    ));
    assert_eq!(
        crossed,
        [
            tree.clone(),
            format!("{tree}/mnt"),
            format!("{tree}/mnt/inside"),
            format!("{tree}/plain")
        ]
    );
}
