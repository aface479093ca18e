//! A CPU hog started by the test (a spinning thread in this very process,
//! so it is bounded by the test and its pid is known) must rise to the top
//! of healthmon's by-CPU list and trip CPU thresholds with monit-style
//! hysteresis: alert after `--for` samples and not before, once while it
//! holds, and recover `--clear` samples after it stops.
//!
//! This file is its own test binary, so no other test of this crate runs
//! beside it and competes with the hog.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

const FOR: usize = 3;
const CLEAR: usize = 2;
const QUIET: usize = 5;
const HOG: usize = 10;
const AFTER: usize = 10;

/// Spins one core until dropped (or the test process ends).
struct Hog(Arc<AtomicBool>, Option<thread::JoinHandle<()>>);

impl Hog {
    fn start() -> Hog {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let started = Instant::now();
        let handle = thread::spawn(move || {
            let mut x = 0u64;
            // Bounded even if the test forgets to stop it.
            while !flag.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(60) {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        });
        Hog(stop, Some(handle))
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        if let Some(handle) = self.1.take() {
            let _ = handle.join();
        }
    }
}

/// Replays the hysteresis rule over a series of figures: the sample
/// indexes where an alert and a recovery are due.
fn expected_changes(values: &[f64], threshold: f64) -> Vec<(usize, &'static str)> {
    let (mut above, mut below, mut alerting) = (0, 0, false);
    let mut changes = Vec::new();
    for (i, v) in values.iter().enumerate() {
        if *v > threshold {
            above += 1;
            below = 0;
        } else {
            below += 1;
            above = 0;
        }
        if !alerting && above >= FOR {
            alerting = true;
            changes.push((i, "health.alert"));
        } else if alerting && below >= CLEAR {
            alerting = false;
            changes.push((i, "health.recovered"));
        }
    }
    changes
}

#[test]
fn a_cpu_hog_tops_the_list_and_trips_thresholds_with_hysteresis() {
    let cpus = cpu_lines();
    // One busy core is 100/cpus percent of the machine; alert at half of
    // that, so the hog crosses it even with some other load around.
    let machine_level = 50.0 / cpus as f64;
    let me = std::process::id() as u64;
    let count = (QUIET + HOG + AFTER).to_string();
    let mut child = healthmon()
        .args([
            "--interval",
            "200ms",
            "--count",
            &count,
            "--format",
            "jsonl",
            "--top",
            "3",
        ])
        .args(["--cpu", &format!("{machine_level:.1}"), "--proc-cpu", "30"])
        .args([
            "--for",
            &FOR.to_string(),
            "--clear",
            &CLEAR.to_string(),
            "--fail-on",
            "critical",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("healthmon starts");
    let stdout = BufReader::new(child.stdout.take().unwrap());

    // Each record with the index of the sample it belongs to; the hog
    // runs from the end of sample QUIET to the end of sample QUIET + HOG.
    let mut recs: Vec<(usize, Value)> = Vec::new();
    let mut sample = 0;
    let mut hog = None;
    for line in stdout.lines() {
        let rec: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if rec["kind"] == "health.sample" {
            sample += 1;
            if sample == QUIET {
                hog = Some(Hog::start());
            } else if sample == QUIET + HOG {
                hog = None;
            }
        }
        recs.push((sample, rec));
    }
    drop(hog);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(sample, QUIET + HOG + AFTER, "{err}");
    // Alerts are high (critical) at most; --fail-on critical keeps it 0.
    assert_eq!(out.status.code(), Some(0), "{err}");

    // The first sample fully inside the hog's run is QUIET + 2. On a
    // 2-core machine where other work (a build, another test binary) may
    // hold a core too, "at the top" means among the first three by CPU.
    let hog_samples = QUIET + 2..=QUIET + HOG;
    let top_by_cpu: Vec<(usize, u64, u64)> = recs
        .iter()
        .filter(|(_, r)| {
            r["kind"] == "health.process" && r["by"] == "cpu" && r["rank"].as_u64() <= Some(3)
        })
        .map(|(i, r)| (*i, r["rank"].as_u64().unwrap(), r["pid"].as_u64().unwrap()))
        .collect();
    let on_top = top_by_cpu
        .iter()
        .filter(|(i, _, pid)| hog_samples.contains(i) && *pid == me)
        .count();
    assert!(
        on_top * 2 >= hog_samples.clone().count(),
        "the hog (pid {me}) should be among the top 3 by CPU while it runs: {top_by_cpu:?}"
    );
    let hog_entry = recs
        .iter()
        .find(|(i, r)| hog_samples.contains(i) && r["kind"] == "health.process" && r["pid"] == me)
        .map(|(_, r)| r)
        .unwrap();
    assert!(
        hog_entry["cpu_percent"].as_f64().unwrap() > 30.0,
        "{hog_entry}"
    );

    // The per-process threshold, on the hog itself.
    let about_me: Vec<(usize, &Value)> = recs
        .iter()
        .filter(|(_, r)| r["metric"] == "proc_cpu" && r["pid"] == me)
        .map(|(i, r)| (*i, r))
        .collect();
    // While it holds the alert is restated at every sample (the level
    // unchanged); the level changes are the raise and the recovery.
    let (mine, restated): (Vec<_>, Vec<_>) = about_me
        .into_iter()
        .partition(|(_, r)| r["previous_level"] != r["level"]);
    assert!(!restated.is_empty(), "restated while the hog runs");
    for (_, r) in &restated {
        assert_eq!(r["kind"], "health.alert");
        assert_eq!(r["alert_id"], mine[0].1["alert_id"]);
        assert_eq!(r["since"], mine[0].1["since"]);
    }
    let kinds: Vec<(usize, &str)> = mine
        .iter()
        .map(|(i, r)| (*i, r["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds.len(), 2, "one alert, one recovery: {kinds:?}");
    let (alert_at, alert) = mine[0];
    let (recovered_at, recovered) = mine[1];
    assert_eq!(alert["kind"], "health.alert");
    assert!(
        (QUIET + FOR..=QUIET + FOR + 3).contains(&alert_at),
        "the alert needs {FOR} samples of the hog, and no more than a few: sample {alert_at}, hog from {}",
        QUIET + 1
    );
    assert_eq!(
        (alert["level"].as_str(), alert["severity"].as_str()),
        (Some("critical"), Some("high"))
    );
    assert_eq!(alert["for_samples"], FOR as u64);
    assert!(alert["value"].as_f64().unwrap() > 30.0, "{alert}");
    assert!(alert["since"].as_str().unwrap() <= alert["ts"].as_str().unwrap());
    assert_eq!(recovered["kind"], "health.recovered");
    assert!(
        (QUIET + HOG + CLEAR..=QUIET + HOG + CLEAR + 3).contains(&recovered_at),
        "the recovery comes {CLEAR} samples after the hog stops at {}: sample {recovered_at}",
        QUIET + HOG
    );
    assert_eq!(recovered["previous_level"], "critical");
    assert_eq!(recovered["gone"], false);

    // The machine-wide threshold: every alert and recovery must be exactly
    // where the rule puts it given the figures healthmon reported, and the
    // hog must have tripped it.
    let cpu: Vec<f64> = recs
        .iter()
        .filter(|(_, r)| r["kind"] == "health.sample")
        .map(|(_, r)| r["cpu_percent"].as_f64().unwrap())
        .collect();
    let expected = expected_changes(&cpu, (machine_level * 10.0).round() / 10.0);
    let got: Vec<(usize, &str)> = recs
        .iter()
        .filter(|(_, r)| r["metric"] == "cpu" && r["previous_level"] != r["level"])
        .map(|(i, r)| (*i - 1, r["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(got, expected, "cpu per sample: {cpu:?}");
    assert!(
        got.iter()
            .any(|(i, kind)| *kind == "health.alert" && *i < QUIET + HOG),
        "the hog should trip --cpu {machine_level:.1}: {cpu:?}"
    );
    let samples_alerting: Vec<u64> = recs
        .iter()
        .filter(|(_, r)| r["kind"] == "health.sample")
        .map(|(_, r)| r["alerts"].as_u64().unwrap())
        .collect();
    assert!(
        samples_alerting.iter().any(|n| *n >= 2),
        "cpu and proc_cpu at once: {samples_alerting:?}"
    );
}
