//! A baseline that was edited, truncated or sealed with another key is
//! refused with exit 2, never read as "no changes", and said as a critical
//! firing `fim.baseline_invalid` record (a pipe into secops-notify reads
//! records, not stderr) until a run trusts it again; keys others can read
//! are refused as ssh refuses them.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use serde_json::Value;
use support::{Sandbox, records, run, stderr};

/// The one record of a refused baseline: critical, firing, naming the file
/// and what is wrong with it.
fn refusal(stdout: &[u8], base: &std::path::Path, what: &str) -> Value {
    let recs = records(stdout);
    assert_eq!(recs.len(), 1, "{what}: {recs:#?}");
    let rec = recs[0].clone();
    assert_eq!(rec["kind"], "fim.baseline_invalid", "{what}");
    assert_eq!(rec["severity"], "critical", "{what}");
    assert_eq!(rec["alert"], "firing", "{what}");
    assert_eq!(
        rec["alert_id"],
        secops_common::alert::alert_id("fim-check", &["baseline", base.to_str().unwrap()]),
        "{what}"
    );
    assert_eq!(rec["baseline"], base.to_str().unwrap(), "{what}");
    let message = rec["message"].as_str().unwrap();
    assert!(
        message.contains(base.to_str().unwrap()),
        "{what}: {message}"
    );
    rec
}

#[test]
fn tampered_truncated_or_rekeyed_baselines_exit_2() {
    let sb = Sandbox::new();
    fs::write(sb.path("f"), "x").unwrap();
    sb.init();
    let base = sb.state().join("fim.baseline");
    assert_eq!(
        fs::metadata(&base).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        fs::metadata(sb.state().join("fim.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let good = fs::read(&base).unwrap();
    let mut edited = good.clone();
    let at = edited.len() - 40;
    edited[at] ^= 0x40;
    for (what, bytes) in [
        ("edited", edited),
        ("truncated", good[..good.len() - 7].to_vec()),
        ("empty", Vec::new()),
    ] {
        fs::write(&base, &bytes).unwrap();
        let out = run(&mut sb.cmd("verify"));
        assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(&out));
        let rec = refusal(&out.stdout, &base, what);
        assert!(
            stderr(&out).contains("refusing"),
            "{what}: {}",
            stderr(&out)
        );
        assert!(rec["error"].as_str().unwrap().contains("refusing"), "{rec}");
        let out = run(sb.cmd("verify").arg("--aide-exit-codes"));
        assert_eq!(
            out.status.code(),
            Some(17),
            "{what}: never an AIDE change bit"
        );
    }
    // One flipped byte: the whole tree goes unchecked, which must page.
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 1;
    fs::write(&base, &flipped).unwrap();
    let out = run(&mut sb.cmd("verify"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let rec = refusal(&out.stdout, &base, "flipped");
    assert!(rec["message"].as_str().unwrap().contains("HMAC"), "{rec}");

    // Good again: the alert ends, once.
    fs::write(&base, &good).unwrap();
    let out = run(&mut sb.cmd("verify"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recs = records(&out.stdout);
    assert_eq!(recs.len(), 1, "{recs:#?}");
    assert_eq!(
        (recs[0]["kind"].as_str(), recs[0]["alert"].as_str()),
        (Some("fim.resolved"), Some("resolved"))
    );
    assert_eq!(recs[0]["reason"], "valid");
    assert_eq!(recs[0]["alert_id"], rec["alert_id"]);
    let out = run(&mut sb.cmd("verify"));
    assert!(records(&out.stdout).is_empty());

    let key = sb.state().join("fim.key");
    fs::write(&key, [9u8; 32]).unwrap();
    let out = run(&mut sb.cmd("verify"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("HMAC"), "{}", stderr(&out));
    let rec = refusal(&out.stdout, &base, "rekeyed");
    assert_eq!(rec["key"], key.to_str().unwrap());

    fs::set_permissions(
        sb.state().join("fim.key"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = run(&mut sb.cmd("verify"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
    refusal(&out.stdout, &base, "loose key");

    // Deleted: as silencing as edited.
    fs::remove_file(&base).unwrap();
    let out = run(&mut sb.cmd("verify"));
    assert_eq!(out.status.code(), Some(2));
    refusal(&out.stdout, &base, "deleted");
}

#[test]
fn init_refuses_to_overwrite_and_baseline_can_live_elsewhere() {
    let sb = Sandbox::new();
    fs::write(sb.path("f"), "x").unwrap();
    sb.init();
    let out = run(sb.cmd("init").arg(sb.tree()));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("update"), "{}", stderr(&out));
    let elsewhere = sb.dir.path().join("media.baseline");
    let out = run(sb
        .cmd("init")
        .arg(sb.tree())
        .arg("--baseline")
        .arg(&elsewhere));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    fs::write(sb.path("f"), "y").unwrap();
    let out = run(sb.cmd("verify").arg("--baseline").arg(&elsewhere));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn init_and_update_say_what_they_recorded() {
    let sb = Sandbox::new();
    fs::create_dir(sb.path("d")).unwrap();
    fs::write(sb.path("d/f"), "12345").unwrap();
    fs::write(sb.path("g"), "abc").unwrap();
    std::os::unix::fs::symlink("g", sb.path("link")).unwrap();
    let out = run(sb.cmd("init").arg(sb.tree()));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recs = records(&out.stdout);
    assert_eq!(recs.len(), 1, "{recs:#?}");
    let summary = &recs[0];
    assert_eq!(summary["kind"], "fim.baseline");
    assert_eq!(summary["severity"], "info");
    let base = sb.state().join("fim.baseline");
    assert_eq!(summary["baseline"], base.to_str().unwrap());
    // The tree, d, d/f, g and the link.
    assert_eq!(summary["entries"], 5);
    assert_eq!(summary["files"], 2);
    assert_eq!(summary["dirs"], 2);
    assert_eq!(summary["bytes"], 8);
    assert_eq!(summary["errors"], 0);

    fs::remove_file(sb.path("g")).unwrap();
    let out = run(&mut sb.cmd("update"));
    let recs = records(&out.stdout);
    let summary = recs.last().unwrap();
    assert_eq!(summary["kind"], "fim.baseline", "{recs:#?}");
    assert_eq!(
        (summary["entries"].clone(), summary["bytes"].clone()),
        (4.into(), 5.into())
    );
}
