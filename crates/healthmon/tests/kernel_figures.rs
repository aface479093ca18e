//! healthmon's figures against the kernel's own: /proc/meminfo,
//! /proc/loadavg, /proc/stat and df, read by the test around the run.

mod support;

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;
use support::*;

fn one_sample(extra: &[&str]) -> Vec<Value> {
    let out = run(healthmon()
        .args(["--once", "--format", "jsonl"])
        .args(extra));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    records(&out.stdout)
}

#[test]
fn memory_load_and_cpus_match_proc() {
    let (total, avail_before, load_before) =
        (meminfo("MemTotal"), meminfo("MemAvailable"), loadavg());
    let (swap_total, swap_free_before) = (meminfo("SwapTotal"), meminfo("SwapFree"));
    let recs = one_sample(&["--top", "0"]);
    let (avail_after, load_after) = (meminfo("MemAvailable"), loadavg());
    let swap_free_after = meminfo("SwapFree");

    let samples = of_kind(&recs, "health.sample");
    assert_eq!(samples.len(), 1, "{recs:#?}");
    let s = samples[0];
    let u = |f: &str| s[f].as_u64().unwrap_or_else(|| panic!("{f} in {s}"));
    let f = |f: &str| s[f].as_f64().unwrap_or_else(|| panic!("{f} in {s}"));

    assert_eq!(u("mem_total_bytes"), total);
    // Memory moves while the sample is taken: it must lie between what
    // the kernel said just before and just after, give or take 1%.
    let slack = total as f64 / 100.0;
    let avail = u("mem_available_bytes");
    assert!(
        between(avail as f64, avail_before as f64, avail_after as f64, slack),
        "MemAvailable {avail} not within {avail_before}..{avail_after}"
    );
    assert_eq!(
        u("mem_used_bytes"),
        total - avail,
        "used is total - available, as free and psutil"
    );
    let percent = ((total - avail) as f64 * 1000.0 / total as f64).round() / 10.0;
    assert_eq!(f("mem_percent"), percent);

    assert_eq!(u("swap_total_bytes"), swap_total);
    if swap_total == 0 {
        assert_eq!(s["swap_percent"], Value::Null, "no swap, no percentage");
    } else {
        let used = u("swap_used_bytes") as f64;
        let (b, a) = (
            (swap_total - swap_free_before) as f64,
            (swap_total - swap_free_after) as f64,
        );
        assert!(
            between(used, b, a, slack),
            "swap used {used} not within {b}..{a}"
        );
    }

    for (i, field) in ["load1", "load5", "load15"].into_iter().enumerate() {
        assert!(
            between(f(field), load_before[i], load_after[i], 0.005),
            "{field} {} not within {} .. {}",
            f(field),
            load_before[i],
            load_after[i]
        );
    }

    let cpus = cpu_lines();
    assert_eq!(u("cpus") as usize, cpus, "one per cpuN line of /proc/stat");
    let cores = s["cpu_core_percent"].as_array().unwrap();
    assert_eq!(cores.len(), cpus);
    for pct in cores
        .iter()
        .map(|v| v.as_f64().unwrap())
        .chain([f("cpu_percent")])
    {
        assert!((0.0..=100.0).contains(&pct), "{s}");
    }
    assert!(
        (f("cpu_user_percent") + f("cpu_system_percent") + f("cpu_steal_percent")
            - f("cpu_percent"))
        .abs()
            <= 0.2,
        "busy = user + system + steal: {s}"
    );
    assert_eq!(
        f("load_per_core"),
        (f("load1") / cpus as f64 * 100.0).round() / 100.0
    );

    let pids = std::fs::read_dir("/proc")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_str()
                .unwrap()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .count() as f64;
    let processes = f("processes");
    assert!(
        between(processes, pids, pids, 20.0),
        "{processes} processes, /proc has {pids}"
    );
    assert!(f("threads") >= processes);
    assert!(
        f("window_secs") >= 0.9,
        "the first sample is measured over a 1 s baseline: {s}"
    );
}

/// `df` (and `df -i`) as the test machine's coreutils prints them:
/// mount -> (size, Use%, IUse%).
fn df() -> BTreeMap<String, (u64, Option<u64>, Option<u64>)> {
    let run = |args: &[&str]| {
        let out = Command::new("df")
            .args(args)
            .env("LC_ALL", "C")
            .output()
            .expect("df (coreutils) runs");
        String::from_utf8(out.stdout).unwrap()
    };
    let pct = |s: &str| s.trim_end_matches('%').parse::<u64>().ok();
    let space = run(&["-B1", "--output=size,pcent,target"]);
    let inodes = run(&["--output=ipcent,target"]);
    let inode_pct: BTreeMap<String, Option<u64>> = inodes
        .lines()
        .skip(1)
        .map(|l| {
            let l = l.trim_start();
            let (p, target) = l.split_once(' ').unwrap();
            (target.trim_start().to_string(), pct(p))
        })
        .collect();
    space
        .lines()
        .skip(1)
        .map(|l| {
            let mut cols = l.split_whitespace();
            let size = cols.next().unwrap().parse().unwrap();
            let use_pct = pct(cols.next().unwrap());
            let target = cols.collect::<Vec<_>>().join(" ");
            let ipct = inode_pct.get(&target).copied().flatten();
            (target, (size, use_pct, ipct))
        })
        .collect()
}

#[test]
fn disk_usage_matches_df_on_every_mount() {
    let before = df();
    let recs = one_sample(&["--top", "0"]);
    let after = df();
    let disks = of_kind(&recs, "health.disk");
    let ours: BTreeMap<String, &Value> = disks
        .iter()
        .map(|d| (d["mount"].as_str().unwrap().to_string(), *d))
        .collect();
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "the same mounts as df lists by default"
    );
    for (mount, d) in &ours {
        let (size, pcent, ipcent) = before[mount];
        let later = after.get(mount).copied().unwrap_or((size, pcent, ipcent));
        assert_eq!(d["size_bytes"].as_u64(), Some(size), "{mount}: {d}");
        let ours_pct = d["percent"].as_u64();
        assert!(
            ours_pct == pcent || ours_pct == later.1,
            "{mount}: Use% {ours_pct:?}, df said {pcent:?} then {:?}",
            later.1
        );
        let ours_ipct = d["inodes_percent"].as_u64();
        assert!(
            ours_ipct == ipcent || ours_ipct == later.2,
            "{mount}: IUse% {ours_ipct:?}, df -i said {ipcent:?} then {:?}",
            later.2
        );
        assert_eq!(d["severity"], "info");
    }
    let sample = of_kind(&recs, "health.sample")[0];
    let fullest = ours.values().filter_map(|d| d["percent"].as_u64()).max();
    assert_eq!(sample["disk_max_percent"].as_u64(), fullest);
}

#[test]
fn mount_selects_the_filesystem_holding_a_path() {
    let path = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("df")
        .args(["--output=target", path])
        .output()
        .unwrap();
    let holder = String::from_utf8(out.stdout).unwrap();
    let holder = holder
        .lines()
        .nth(1)
        .expect("df names the mount")
        .trim()
        .to_string();
    let recs = one_sample(&["--top", "0", "--mount", path]);
    let disks = of_kind(&recs, "health.disk");
    assert_eq!(disks.len(), 1, "{disks:#?}");
    assert_eq!(disks[0]["mount"].as_str(), Some(holder.as_str()));
}
