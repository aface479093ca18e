//! disk-alert against its anchor, GNU df: the same filesystems in the same
//! order for `--all`, and the same Use%, IUse%, sizes and inode counts on
//! every one of them, on the machine's own mounts and on tmpfs mounts the
//! test fills to known levels (including df's round-up: 80.08% is 81%).

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use support::*;

/// A namespace holding every kind of mount df has a rule for, next to the
/// machine's own: filled tmpfs, bind mounts (whole and of a subdirectory),
/// an over-mounted point, a dummy type, a blockless pseudo filesystem, a
/// read-only mount and a name that needs escaping in mountinfo.
fn varied_mounts() -> (Namespace, Vec<PathBuf>) {
    let ns = Namespace::new();
    let a = percent_tmpfs(&ns, "a");
    ns.fill_percent(&a, 37);
    std::fs::create_dir_all(ns.dir().join("a-bind")).unwrap();
    std::fs::create_dir_all(ns.dir().join("a-sub")).unwrap();
    let d = ns.dir().display().to_string();
    ns.sh(&format!(
        "mkdir {d}/a/sub && mount --bind {d}/a {d}/a-bind && mount --bind {d}/a/sub {d}/a-sub"
    ));
    // 820 of 1024 pages: 80.08%, which df rounds up to 81%.
    let rounding = ns.tmpfs("rounding", "size=4m");
    ns.fill_blocks(&rounding, 820);
    let over = percent_tmpfs(&ns, "over");
    ns.fill_percent(&over, 90);
    ns.tmpfs("over", &format!("size={}", 100 * page_size()));
    ns.fill_percent(&over, 20);
    let spaced = ns.tmpfs("with space", &format!("size={}", 100 * page_size()));
    ns.fill_percent(&spaced, 5);
    ns.tmpfs("readonly", "size=1m,ro");
    std::fs::create_dir_all(ns.dir().join("mq")).unwrap();
    std::fs::create_dir_all(ns.dir().join("cg")).unwrap();
    ns.sh(&format!(
        "mount -t mqueue mqueue {d}/mq && mount -t cgroup2 cgroup2 {d}/cg"
    ));
    (ns, vec![a, rounding, over, spaced])
}

/// df's rows for `columns` (the mount point last, as it may hold blanks):
/// mount point -> the other columns.
fn df_rows(ns: &Namespace, args: &[&str], columns: usize) -> Vec<(String, Vec<String>)> {
    let out = ns
        .command("df")
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    assert!(out.status.success(), "df {args:?}: {}", stderr(&out));
    stdout(&out)
        .lines()
        .skip(1)
        .map(|line| {
            let mut rest = line;
            let mut cols = Vec::new();
            for _ in 0..columns {
                let trimmed = rest.trim_start();
                let end = trimmed.find(' ').unwrap_or(trimmed.len());
                cols.push(trimmed[..end].to_string());
                rest = &trimmed[end..];
            }
            (rest.trim().to_string(), cols)
        })
        .collect()
}

fn all_records(ns: &Namespace, extra: &[&str]) -> Vec<Value> {
    let out = ns
        .disk_alert()
        .args(["--all", "--format", "jsonl", "--no-state"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "exit {:?}: {}",
        out.status,
        stderr(&out)
    );
    of_kind(&records(&out.stdout), "disk.usage")
        .into_iter()
        .cloned()
        .collect()
}

fn by_mount(records: &[Value]) -> BTreeMap<String, Value> {
    records
        .iter()
        .map(|r| (r["mount"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

/// df's value, or null for its "-".
fn df_number(cell: &str) -> Value {
    match cell.trim_end_matches('%') {
        "-" => Value::Null,
        n => Value::from(
            n.parse::<u64>()
                .unwrap_or_else(|_| panic!("df cell {cell}")),
        ),
    }
}

/// Ours must equal df's, or (for a percentage that moved while the test
/// ran) lie between two df readings around it.
fn assert_between(mount: &str, field: &str, ours: &Value, before: &Value, after: &Value) {
    if before == after {
        assert_eq!(ours, before, "{mount} {field}");
        return;
    }
    let (lo, hi) = (before.as_u64().unwrap(), after.as_u64().unwrap());
    let ours = ours.as_u64().unwrap();
    assert!(
        lo.min(hi) <= ours && ours <= lo.max(hi),
        "{mount} {field}: {ours} not between df's {lo} and {hi}"
    );
}

/// Asserts that disk-alert's `fields` equal df's `columns` on every mount,
/// exactly. A filesystem being written meanwhile (the build's own `/`, on
/// a machine that is compiling) is compared in a round where df read the
/// same figures just before and just after disk-alert: up to 20 rounds, a
/// pause apart, so each mount is judged at a moment it held still. Returns the last
/// records.
fn assert_equal_to_df(
    ns: &Namespace,
    df_args: &[&str],
    ours_args: &[&str],
    fields: [&str; 4],
) -> BTreeMap<String, Value> {
    let mut unsettled: Option<Vec<String>> = None;
    for _ in 0..20 {
        let before = df_rows(ns, df_args, 4);
        let ours = by_mount(&all_records(ns, ours_args));
        let after: BTreeMap<String, Vec<String>> = df_rows(ns, df_args, 4).into_iter().collect();
        assert_eq!(ours.len(), before.len());
        let mut still_moving = Vec::new();
        for (mount, cols) in &before {
            if unsettled.as_ref().is_some_and(|m| !m.contains(mount)) {
                continue;
            }
            if after[mount] != *cols {
                still_moving.push(mount.clone());
                continue;
            }
            for (i, field) in fields.into_iter().enumerate() {
                assert_eq!(ours[mount][field], df_number(&cols[i]), "{mount} {field}");
            }
        }
        if still_moving.is_empty() {
            return ours;
        }
        unsettled = Some(still_moving);
        // A pause lets a burst of writes (a linker, a test) pass.
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
    panic!("these filesystems never held still between two df readings: {unsettled:?}");
}

#[test]
fn all_lists_the_filesystems_df_lists_in_its_order() {
    let (ns, filled) = varied_mounts();
    let df: Vec<String> = df_rows(&ns, &["--output=target"], 0)
        .into_iter()
        .map(|(target, _)| target)
        .collect();
    let ours: Vec<String> = all_records(&ns, &[])
        .iter()
        .map(|r| r["mount"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ours, df);
    // The test's own mounts are there once each, the duplicates and
    // pseudo filesystems are not.
    for mount in &filled {
        assert_eq!(
            ours.iter()
                .filter(|m| **m == mount.to_str().unwrap())
                .count(),
            1
        );
    }
    let d = ns.dir().display().to_string();
    for hidden in ["a-bind", "a-sub", "mq", "cg"] {
        assert!(
            !ours.contains(&format!("{d}/{hidden}")),
            "{hidden} listed: {ours:?}"
        );
    }
    assert!(ours.contains(&format!("{d}/readonly")));
}

#[test]
fn space_figures_equal_df_on_every_mount() {
    let (ns, _) = varied_mounts();
    let ours = assert_equal_to_df(
        &ns,
        &["-B1", "--output=size,used,avail,pcent,target"],
        &[],
        ["size_bytes", "used_bytes", "avail_bytes", "percent"],
    );
    let d = ns.dir().display().to_string();
    let percent = |name: &str| ours[&format!("{d}/{name}")]["percent"].clone();
    assert_eq!(percent("a"), 37);
    assert_eq!(percent("rounding"), 81, "80.08% rounds up, as df does");
    assert_eq!(percent("over"), 20, "the mount on top is the one measured");
    assert_eq!(percent("with space"), 5);
}

#[test]
fn inode_figures_equal_df_i_on_every_mount() {
    let (ns, _) = varied_mounts();
    // (df -i with --output is refused: the columns say it.)
    assert_equal_to_df(
        &ns,
        &["--output=itotal,iused,iavail,ipcent,target"],
        &["--inodes"],
        [
            "inodes_total",
            "inodes_used",
            "inodes_free",
            "inodes_percent",
        ],
    );
}

#[test]
fn a_path_reports_the_filesystem_df_reports_for_it() {
    let (ns, filled) = varied_mounts();
    let inside = filled[0].join("sub");
    for path in [
        PathBuf::from("/"),
        PathBuf::from("/etc"),
        inside,
        filled[2].clone(),
    ] {
        let path = path.to_str().unwrap();
        let before = df_rows(&ns, &["--output=pcent,target", path], 1);
        let out = ns
            .disk_alert()
            .args(["--format", "jsonl", "--no-state", "--mount", path])
            .output()
            .unwrap();
        let after = df_rows(&ns, &["--output=pcent,target", path], 1);
        let recs = records(&out.stdout);
        let usage = of_kind(&recs, "disk.usage");
        assert_eq!(usage.len(), 1, "{recs:?}");
        assert_eq!(usage[0]["mount"], before[0].0.as_str(), "{path}");
        assert_eq!(usage[0]["path"], path);
        assert_between(
            path,
            "percent",
            &usage[0]["percent"],
            &df_number(&before[0].1[0]),
            &df_number(&after[0].1[0]),
        );
    }
}
