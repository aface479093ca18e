//! `--prom-file` judged by the real promtool, with figures that agree with
//! `list` and the archives on disk, and the property the "backups stopped"
//! alert rests on: a failed create leaves the file as it was, and any later
//! run that did not fail writes the true time of the newest good backup.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secops_testkit::Tmpfs;
use serde_json::Value;
use support::*;

/// `promtool check metrics` on the file: clean, or the test fails with
/// what promtool said.
fn promtool_clean(prom: &Path) {
    let promtool = require("promtool", "prometheus");
    let out = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::from(fs::File::open(prom).unwrap()))
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics {}: {}{}\n{}",
        prom.display(),
        String::from_utf8_lossy(&out.stdout),
        stderr(&out),
        fs::read_to_string(prom).unwrap()
    );
}

/// The samples of the file: `family{labels}` -> value.
fn samples(prom: &Path) -> BTreeMap<String, f64> {
    fs::read_to_string(prom)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_string(), value.parse().unwrap())
        })
        .collect()
}

fn series<'a>(samples: &'a BTreeMap<String, f64>, family: &str) -> Vec<(&'a str, f64)> {
    samples
        .iter()
        .filter(|(s, _)| s.split('{').next() == Some(family))
        .map(|(s, v)| (s.as_str(), *v))
        .collect()
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn epoch(rfc3339: &str) -> f64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_second() as f64
}

/// A source tree of `bytes` bytes of noise (so archives differ in size).
fn source(dir: &Path, name: &str, bytes: usize, seed: u64) -> std::path::PathBuf {
    let src = dir.join(name);
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("data.bin"), noise(bytes, seed)).unwrap();
    fs::write(src.join("notes.txt"), "a line\n".repeat(100)).unwrap();
    src
}

/// `backup-rotate ARGS --prom-file PROM`.
fn with_prom(args: &[&str], prom: &Path) -> std::process::Output {
    let mut all = args.to_vec();
    all.extend(["--prom-file", path(prom)]);
    run(&all)
}

/// Checks the set `name`'s series against the `list` records: the newest
/// complete backup's time and size (and the file's size on disk), and how
/// many there are.
fn agrees_with_list(prom: &Path, listed: &[Value], name: &str, dest: &Path) {
    let ours: Vec<&Value> = listed
        .iter()
        .filter(|r| r["manifest"] == true)
        .filter(|r| {
            let file = Path::new(r["archive"].as_str().unwrap())
                .file_name()
                .unwrap();
            file.to_str().unwrap().starts_with(&format!("{name}-2"))
        })
        .collect();
    let newest = ours.first().expect("a complete backup is listed");
    let s = samples(prom);
    let label = format!("{{name=\"{name}\"}}");
    assert_eq!(
        s[&format!("backup_rotate_last_backup_timestamp_seconds{label}")],
        epoch(newest["created"].as_str().unwrap()),
        "{name}: {s:#?} {newest}"
    );
    let size = s[&format!("backup_rotate_last_backup_size_bytes{label}")];
    assert_eq!(size, newest["archive_bytes"].as_f64().unwrap());
    let archive = Path::new(newest["archive"].as_str().unwrap());
    assert_eq!(archive.parent().unwrap(), dest);
    assert_eq!(size, fs::metadata(archive).unwrap().len() as f64);
    assert_eq!(
        s[&format!("backup_rotate_backups{label}")],
        ours.len() as f64
    );
}

#[test]
fn metrics_pass_promtool_and_agree_with_list_and_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("backups");
    fs::create_dir_all(&dest).unwrap();
    let prom = dir.path().join("backup-rotate.prom");
    let etc = source(dir.path(), "etc", 64 << 10, 1);
    let web = source(dir.path(), "web", 256 << 10, 2);

    let started = now();
    succeeded(&with_prom(
        &create_args(&etc, &dest, Some("etc"), &[]),
        &prom,
    ));
    promtool_clean(&prom);
    // A second etc backup, a second later and of other content.
    std::thread::sleep(Duration::from_millis(1100));
    fs::write(etc.join("data.bin"), noise(128 << 10, 3)).unwrap();
    succeeded(&with_prom(
        &create_args(&etc, &dest, Some("etc"), &[]),
        &prom,
    ));
    promtool_clean(&prom);
    // The web job writes the same file: etc's series are still there.
    succeeded(&with_prom(
        &create_args(&web, &dest, Some("web"), &[]),
        &prom,
    ));
    promtool_clean(&prom);
    let s = samples(&prom);
    for family in [
        "backup_rotate_last_backup_timestamp_seconds",
        "backup_rotate_last_backup_size_bytes",
        "backup_rotate_backups",
    ] {
        let names: Vec<&str> = series(&s, family).iter().map(|(l, _)| *l).collect();
        assert_eq!(
            names,
            [
                format!("{family}{{name=\"etc\"}}"),
                format!("{family}{{name=\"web\"}}")
            ],
            "two names, two series: {s:#?}"
        );
    }
    let success = s["backup_rotate_last_success_timestamp_seconds"];
    assert!(success >= started.floor() && success <= now(), "{s:#?}");
    assert!(
        series(&s, "backup_rotate_findings").is_empty(),
        "good backups are no findings: {s:#?}"
    );

    // Not backups: a newer file named like one but without a manifest, and
    // an operator's own file.
    fs::write(dest.join("etc-20991231T000000Z.tar.gz"), "not a backup").unwrap();
    fs::write(dest.join("notes.txt"), "mine").unwrap();
    let out = with_prom(&["list", "-d", path(&dest)], &prom);
    let listed = succeeded(&out);
    assert_eq!(listed.len(), 4, "{listed:#?}");
    promtool_clean(&prom);
    agrees_with_list(&prom, &listed, "etc", &dest);
    agrees_with_list(&prom, &listed, "web", &dest);
    let s = samples(&prom);
    assert_eq!(s["backup_rotate_backups{name=\"etc\"}"], 2.0);
    assert_eq!(s["backup_rotate_backups{name=\"web\"}"], 1.0);

    // prune --name etc keeps one etc backup, and still describes web.
    let out = with_prom(
        &["prune", "-d", path(&dest), "-n", "etc", "--keep-last", "1"],
        &prom,
    );
    succeeded(&out);
    promtool_clean(&prom);
    let listed = succeeded(&run(&["list", "-d", path(&dest)]));
    agrees_with_list(&prom, &listed, "etc", &dest);
    agrees_with_list(&prom, &listed, "web", &dest);
    assert_eq!(samples(&prom)["backup_rotate_backups{name=\"etc\"}"], 1.0);
}

#[test]
fn a_failed_create_leaves_the_file_and_a_later_list_tells_the_true_newest_backup() {
    let tmp = Tmpfs::new(4 << 20);
    let dest = tmp.path();
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("backup-rotate.prom");
    let src = source(dir.path(), "etc", 256 << 10, 7);

    succeeded(&with_prom(
        &create_args(&src, dest, Some("etc"), &[]),
        &prom,
    ));
    let before = fs::read(&prom).unwrap();
    std::thread::sleep(Duration::from_millis(1100));

    // Today's backup fails: the disk is full.
    tmp.fill();
    let out = with_prom(&create_args(&src, dest, Some("etc"), &[]), &prom);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(of_kind(&records(&out.stdout), "backup.failed").len(), 1);
    assert_eq!(
        fs::read(&prom).unwrap(),
        before,
        "a failed run leaves the metrics byte for byte"
    );

    // A list afterwards writes the newest good backup's true time: the
    // first one's, which has aged by the failed day.
    let listed = succeeded(&with_prom(&["list", "-d", path(dest)], &prom));
    tmp.free();
    promtool_clean(&prom);
    assert_eq!(listed.len(), 1, "{listed:#?}");
    agrees_with_list(&prom, &listed, "etc", dest);
    let s = samples(&prom);
    assert!(
        s["backup_rotate_last_success_timestamp_seconds"]
            > epoch(listed[0]["created"].as_str().unwrap())
    );
}

#[test]
fn verify_takes_a_corrupt_backup_out_and_counts_its_finding() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("backups");
    fs::create_dir_all(&dest).unwrap();
    let prom = dir.path().join("backup-rotate.prom");
    let src = source(dir.path(), "etc", 64 << 10, 11);
    succeeded(&create(&src, &dest, Some("etc"), &[]));
    std::thread::sleep(Duration::from_millis(1100));
    fs::write(src.join("data.bin"), noise(96 << 10, 12)).unwrap();
    succeeded(&create(&src, &dest, Some("etc"), &[]));
    let listed = succeeded(&run(&["list", "-d", path(&dest)]));
    assert_eq!(listed.len(), 2);

    // Bit rot in the newest archive: same size, one byte flipped.
    let newest = Path::new(listed[0]["archive"].as_str().unwrap());
    let mut bytes = fs::read(newest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    fs::write(newest, bytes).unwrap();

    let out = with_prom(&["verify", "-d", path(&dest)], &prom);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    promtool_clean(&prom);
    // The older backup is the newest good one now.
    agrees_with_list(&prom, &listed[1..], "etc", &dest);
    let s = samples(&prom);
    assert_eq!(s["backup_rotate_backups{name=\"etc\"}"], 1.0);
    assert_eq!(
        s["backup_rotate_findings{kind=\"backup.failed\",severity=\"high\"}"], 1.0,
        "{s:#?}"
    );
}

#[test]
fn prom_file_without_a_destination_is_bad_usage_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("backups");
    fs::create_dir_all(&dest).unwrap();
    let src = source(dir.path(), "etc", 1024, 5);
    succeeded(&create(&src, &dest, Some("etc"), &[]));
    let archive = dest.join(&archives(&dest, "etc")[0]);
    let prom = dir.path().join("backup-rotate.prom");
    let to = dir.path().join("restored");
    for args in [
        vec!["restore", path(&archive), "--to", path(&to)],
        vec!["verify", path(&archive)],
    ] {
        let out = with_prom(&args, &prom);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("--prom-file"), "{}", stderr(&out));
        assert!(!prom.exists());
        assert!(!to.exists(), "refused before anything was done");
    }
}
