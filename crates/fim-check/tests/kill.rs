//! kill -9 at random points of `init --force`, `update` and `verify -o`:
//! the previous good baseline (or a complete new one) is always what is in
//! place and verifies, a half-written file is never taken for a baseline,
//! and the temporary files the killed writers left are gone after the next
//! run. scripts/soak-fim does the same at length against a release build.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use support::{Sandbox, records, run, stderr};

/// Kills per test run (the soak script does hundreds).
const KILLS: usize = 24;

/// A small deterministic generator, seeded from the clock and printed, so
/// a failing run can be replayed with `FIM_KILL_SEED`.
struct Lcg(u64);

impl Lcg {
    fn new() -> Lcg {
        let seed = std::env::var("FIM_KILL_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("FIM_KILL_SEED={seed}");
        Lcg(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// The hidden files in `dir`: temporary files (nothing else there is
/// hidden).
fn temps(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect()
}

/// A tree that takes a debug build a few hundred milliseconds to record:
/// 2,000 files of 2 KiB and one of 4 MiB.
fn fill(tree: &Path) {
    let mut byte = 0u8;
    for d in 0..20 {
        let dir = tree.join(format!("d{d}"));
        fs::create_dir(&dir).unwrap();
        for f in 0..100 {
            byte = byte.wrapping_add(1);
            fs::write(dir.join(format!("f{f}")), vec![byte; 2048]).unwrap();
        }
    }
    fs::write(tree.join("big"), vec![7u8; 4 << 20]).unwrap();
}

#[test]
fn kill_9_mid_write_loses_no_baseline_and_leaves_nothing_behind() {
    let sb = Sandbox::new();
    fill(&sb.tree());
    fs::write(sb.path("changed"), "before").unwrap();
    sb.init();
    let base = sb.state().join("fim.baseline");
    // One difference, so verify -o has a record to write.
    fs::write(sb.path("changed"), "after").unwrap();
    let reports = sb.dir.path().join("reports");
    fs::create_dir(&reports).unwrap();
    let report = reports.join("verify.jsonl");

    let started = Instant::now();
    let out = run(sb.cmd("update").arg("-o").arg(&report));
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    fs::write(sb.path("changed"), "again").unwrap();
    let mut good = fs::read(&base).unwrap();
    let mut good_report = fs::read(&report).unwrap();

    let mut rng = Lcg::new();
    let mut mid_write = 0;
    let mut half_written: Option<PathBuf> = None;
    for kill in 0..KILLS {
        let (sub, extra): (&str, Vec<String>) = match kill % 3 {
            0 => (
                "init",
                vec!["--force".into(), sb.tree().display().to_string()],
            ),
            1 => ("update", vec![]),
            _ => ("verify", vec!["-o".into(), report.display().to_string()]),
        };
        let mut child = sb
            .cmd(sub)
            .args(&extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Anywhere from start-up to a little past a whole run.
        let at = rng.below(took.as_millis() as u64 * 11 / 10 + 1);
        std::thread::sleep(Duration::from_millis(at));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let left = [temps(&sb.state()), temps(&reports)].concat();
        if !finished && !left.is_empty() {
            mid_write += 1;
        }
        // A leftover of the baseline itself, to try as a baseline below.
        if let Some(temp) = left.iter().find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".fim.baseline.")
        }) && fs::metadata(temp).unwrap().len() > 0
        {
            half_written = Some(temp.clone());
            let _ = fs::copy(temp, sb.dir.path().join("half-written.baseline"));
        }

        // What is in place is the last good baseline, or a whole new one
        // (the run finished before the kill) that verifies.
        let now = fs::read(&base).unwrap();
        if now != good {
            let out = run(sb.cmd("show").args(["-o", "/dev/null"]));
            assert_eq!(
                out.status.code(),
                Some(0),
                "kill {kill} ({sub} at {at} ms): the baseline in place is not valid: {}",
                stderr(&out)
            );
            good = now;
        }
        let now = fs::read(&report).unwrap();
        if now != good_report {
            // Whole: no record cut short (empty when nothing differed).
            assert!(
                now.is_empty() || now.ends_with(b"\n"),
                "kill {kill}: a partial report: {}",
                String::from_utf8_lossy(&now)
            );
            records(&now);
            good_report = now;
        }
    }
    assert!(
        mid_write >= KILLS / 3,
        "only {mid_write} of {KILLS} kills landed mid-write: make the tree bigger"
    );

    // A half-written baseline is never accepted.
    let half = sb.dir.path().join("half-written.baseline");
    assert!(
        half_written.is_some(),
        "no kill left a baseline half-written"
    );
    let out = run(sb.cmd("verify").arg("--baseline").arg(&half));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let recs = records(&out.stdout);
    assert_eq!(recs.len(), 1, "{recs:#?}");
    assert_eq!(recs[0]["kind"], "fim.baseline_invalid");

    // The baseline in place is intact (it sees a change made now), and the
    // next runs remove what the killed writers left.
    fs::write(sb.path("changed"), "at the end").unwrap();
    let out = run(sb.cmd("verify").arg("-o").arg(&report));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let recs = records(&fs::read(&report).unwrap());
    assert!(
        recs.iter().any(
            |r| r["kind"] == "fim.changed" && r["path"] == sb.path("changed").to_str().unwrap()
        ),
        "{recs:#?}"
    );
    let out = run(&mut sb.cmd("update"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(temps(&sb.state()), Vec::<PathBuf>::new());
    assert_eq!(temps(&reports), Vec::<PathBuf>::new());
    let (code, recs) = sb.verify();
    assert_eq!((code, recs.len()), (Some(0), 0), "{recs:#?}");
}
