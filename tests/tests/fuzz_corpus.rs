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

/// The seeds that stand for good input parse, so the targets start past
/// the first checks (a seed that no longer parses would leave a target
/// fuzzing only the rejection).
#[test]
fn the_good_seeds_parse() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let read = |path: &str| std::fs::read(corpus.join(path)).unwrap();
    let text = |path: &str| String::from_utf8(read(path)).unwrap();
    let scratch = tempfile::tempdir().unwrap();

    let sealed = read("fim_baseline/sealed");
    assert_eq!(
        fim_check::read_baseline_bytes(&sealed[1..], true, scratch.path()),
        Ok(5)
    );
    for archive in [
        "created.tar",
        "created.tar.gz",
        "created.tar.zst",
        "gnu.tar",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(archive);
        std::fs::write(&path, read(&format!("backup_restore/{archive}"))).unwrap();
        let restored = backup_rotate::restore_and_read_back(&path, &dir.path().join("to"));
        assert!(
            matches!(restored, Ok(n) if n >= 5),
            "{archive}: {restored:?}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let (copied, _, error) =
        remote_run::receive_tree(&read("fetch_tar/gnu.tar")[..], dir.path(), Path::new("h"));
    assert!(copied >= 2 && error.is_none(), "{copied} {error:?}");
    let records = vulnscan::records_of_nmap_xml(&text("nmap_xml/sample.xml"), None).unwrap();
    assert!(records >= 4, "{records}");
    let records = vulnscan::records_of_nmap_xml(
        &text("nmap_xml/sample.xml"),
        Some(&text("vuln_rules/vuln-rules.yaml")),
    )
    .unwrap();
    assert!(records >= 4, "{records}");
    use secops_inventory::Format;
    for (format, path) in [
        (Format::ServersJson, "servers_json/servers.json"),
        (Format::AnsibleIni, "ansible_ini/hosts"),
        (Format::AnsibleYaml, "ansible_yaml/hosts.yaml"),
    ] {
        let parsed = secops_inventory::parse(format, &text(path));
        assert!(
            matches!(&parsed, Ok((servers, _)) if !servers.is_empty()),
            "{path}: {parsed:?}"
        );
    }
    backup_rotate::check_manifest(&text("backup_manifest/g.manifest.json")).unwrap();
    let policy = text("fim_policy/fim.yaml");
    fim_check::policy::Policy::parse(&policy, secops_common::config::Syntax::Yaml).unwrap();
    traffic_cop::whitelist::Whitelist::parse(&text("whitelist/ports.json")).unwrap();
    assert!(anomalizer::mine_text(&text("log_lines/loghub")).unwrap() >= 1);
}
