//! Every fuzz target (fuzz/, cargo-fuzz, nightly only) run on stable over
//! its seed corpus (fuzz/corpus/TARGET/), so that the targets keep
//! building and their entry points keep taking what the parsers read,
//! and no seed panics. The targets themselves share this code:
//! fuzz/harness.rs.

#[path = "../../fuzz/harness.rs"]
mod harness;

use std::path::Path;

#[test]
fn every_fuzz_target_takes_its_seed_corpus_without_panicking() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let scratch = tempfile::tempdir().unwrap();
    for target in harness::TARGETS {
        assert!(
            root.join("fuzz_targets")
                .join(format!("{target}.rs"))
                .is_file(),
            "fuzz target {target} has no fuzz/fuzz_targets/{target}.rs"
        );
        let dir = root.join("corpus").join(target);
        let mut seeds: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        seeds.sort();
        assert!(!seeds.is_empty(), "{} has no seeds", dir.display());
        for seed in seeds {
            let data = std::fs::read(&seed).unwrap();
            eprintln!("{target}: {}", seed.display());
            harness::run(target, &data, scratch.path());
        }
    }
}

#[test]
fn every_fuzz_target_has_a_harness_entry() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/fuzz_targets");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".rs").unwrap().to_string()
        })
        .collect();
    files.sort();
    let mut targets: Vec<String> = harness::TARGETS.iter().map(|t| t.to_string()).collect();
    targets.sort();
    assert_eq!(files, targets);
}
