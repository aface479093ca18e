//! secops's command line as an operator meets it first: the help, and a
//! settings file with a mistake. (The scheduler itself, with real tools,
//! is tested end to end in tests/tests/secops_run.rs; this file also makes
//! cargo build the `secops` binary those tests and the unit checks run.)

use secops_testkit::{run, stderr, tool};

#[test]
fn help_names_every_subcommand() {
    let out = run(tool("secops").arg("--help"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let help = String::from_utf8_lossy(&out.stdout);
    for sub in ["check", "run", "status", "job"] {
        assert!(help.contains(sub), "{sub} missing from --help:\n{help}");
    }
}

#[test]
fn a_typo_in_the_settings_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("settings.yaml");
    std::fs::write(
        &settings,
        "log:\n  path: /tmp/x.jsonl\njobs:\n  - name: disk\n    run: [disk-alert]\n    evry: 5m\n",
    )
    .unwrap();
    let out = run(tool("secops").arg("check").arg("--settings").arg(&settings));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{}:6:", settings.display())) && err.contains("evry"),
        "names the file, the line and the key: {err}"
    );
}
