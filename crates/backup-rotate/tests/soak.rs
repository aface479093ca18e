//! kill -9 at random points of `create`, over and over: after every kill
//! the earlier good archives are there unchanged and still verify, no
//! half-written archive looks like a backup (every visible archive has
//! its manifest and verifies), and the next run leaves no temporary file.
//!
//! 10 kills here (a few seconds); `scripts/soak-backup` runs the same test
//! with more (`SOAK_KILLS=100`) and docs/reliability.md has its result.
//! `SOAK_SEED` repeats a run's kill points.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use support::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn small_tree(root: &Path, rng: &mut Rng) {
    fs::create_dir_all(root.join("sub/deeper")).unwrap();
    for i in 0..8 {
        let data: Vec<u8> = (0..32 * 1024).map(|_| rng.next() as u8).collect();
        let dir = if i % 3 == 0 { "sub" } else { "" };
        fs::write(root.join(dir).join(format!("blob{i:02}")), data).unwrap();
    }
    fs::write(root.join("sub/deeper/note.txt"), "hello\n".repeat(1000)).unwrap();
    std::os::unix::fs::symlink("../blob01", root.join("sub/link")).unwrap();
}

/// The visible archives of `s` and their SHA-256.
fn good_archives(dest: &Path) -> BTreeMap<String, Vec<u8>> {
    archives(dest, "s")
        .into_iter()
        .map(|name| {
            let digest = Sha256::digest(fs::read(dest.join(&name)).unwrap()).to_vec();
            (name, digest)
        })
        .collect()
}

/// Everything in `dest` must be good: each visible archive has its
/// manifest and verifies.
fn all_verify(dest: &Path, after: &str) {
    let out = run(&["verify", "-d", path(dest), "-n", "s"]);
    let recs = records(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{after}: {recs:#?} {}",
        stderr(&out)
    );
    assert_eq!(
        of_kind(&recs, "backup.verified").len(),
        archives(dest, "s").len(),
        "{after}: {recs:#?}"
    );
}

fn temp_files(dest: &Path) -> Vec<String> {
    names(dest)
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn create_killed_at_random_points_never_leaves_a_bad_backup_or_a_lasting_temp_file() {
    let kills: u32 = std::env::var("SOAK_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let seed: u64 = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let (src, dest) = (dir.path().join("src"), dir.path().join("dest"));
    fs::create_dir_all(&dest).unwrap();
    small_tree(&src, &mut rng);
    // Completed runs prune, so the destination (and verify) stays small.
    let finish = |dest: &Path| create(&src, dest, Some("s"), &["--prune", "--keep-last", "3"]);
    let timed = |dest: &Path| {
        let started = Instant::now();
        let out = finish(dest);
        (out, started.elapsed())
    };
    let (out, mut one_run) = timed(&dest);
    succeeded(&out);

    let mut outcomes: BTreeMap<&str, u32> = BTreeMap::new();
    let mut leftovers_removed = 0;
    let began = Instant::now();
    for kill in 1..=kills {
        let before = good_archives(&dest);
        let mut child = Command::new(BIN)
            .args(create_args(&src, &dest, Some("s"), &["--format", "jsonl"]))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Anywhere from before it starts to a little after a whole run
        // (as long as the last one took), every other kill in its last
        // fifth, where the manifest and the archive are put in place.
        let run = one_run.as_micros() as u64;
        let at = if kill % 2 == 0 {
            run * 8 / 10 + rng.next() % (run * 3 / 10).max(1)
        } else {
            rng.next() % (run * 12 / 10).max(1)
        };
        std::thread::sleep(Duration::from_micros(at));
        let _ = child.kill();
        let status = child.wait().unwrap();
        let after = format!("kill {kill} (seed {seed})");

        // The earlier good archives are all there, unchanged.
        let now = good_archives(&dest);
        for (name, digest) in &before {
            assert_eq!(
                now.get(name),
                Some(digest),
                "{after}: {name} changed or went"
            );
        }
        let new: Vec<&String> = now.keys().filter(|n| !before.contains_key(*n)).collect();
        let temps = temp_files(&dest);
        let orphan_manifests = names(&dest)
            .into_iter()
            .filter(|n| n.ends_with(".manifest.json"))
            .filter(|n| !dest.join(n.trim_end_matches(".manifest.json")).exists())
            .count();
        let outcome = if status.success() {
            "finished before the kill"
        } else if !new.is_empty() {
            "killed after the archive was in place"
        } else if orphan_manifests > 0 {
            "killed between manifest and archive"
        } else if !temps.is_empty() {
            "killed while writing (temp file left)"
        } else {
            "killed before writing"
        };
        *outcomes.entry(outcome).or_default() += 1;
        // Nothing visible is a half-written backup: everything verifies.
        all_verify(&dest, &after);

        // The next run removes what the killed one left, and leaves nothing.
        let (out, took) = timed(&dest);
        one_run = took;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{after}: the next run: {}",
            stderr(&out)
        );
        leftovers_removed += stderr(&out).matches("removed ").count();
        let left = temp_files(&dest);
        assert!(left.is_empty(), "{after}: the next run left {left:?}");
    }
    all_verify(&dest, "the last run");
    eprintln!(
        "soak: {kills} kills of create (seed {seed}, last full run {:.0} ms, {:.1} s in all): {outcomes:?}; {leftovers_removed} leftover temp files removed by the next run; after every kill the earlier archives were unchanged, every visible archive verified, and the next run left no temp file",
        one_run.as_secs_f64() * 1000.0,
        began.elapsed().as_secs_f64()
    );
}
