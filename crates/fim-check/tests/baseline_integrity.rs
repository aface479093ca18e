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

/// A `paths:` policy file watching `path`.
fn policy_file(sb: &Sandbox, name: &str, path: &std::path::Path) -> std::path::PathBuf {
    let file = sb.dir.path().join(name);
    fs::write(
        &file,
        format!("# {name}\npaths:\n  - path: {}\n", path.display()),
    )
    .unwrap();
    file
}

/// Runs fim-check in a UTS namespace named `host` (as root, or through a
/// user namespace): how another host's baseline is made here.
fn on_host(host: &str, args: &[&std::ffi::OsStr]) -> std::process::Output {
    let mut cmd = std::process::Command::new("unshare");
    if !nix::unistd::geteuid().is_root() {
        cmd.args(["--user", "--map-root-user"]);
    }
    let out = cmd
        .args(["--uts", "sh", "-c", "hostname \"$0\" && exec \"$@\""])
        .arg(host)
        .arg(env!("CARGO_BIN_EXE_fim-check"))
        .args(args)
        .output()
        .expect("unshare (util-linux) runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "making a baseline as host {host} needs unshare --uts (root, or user namespaces enabled): {}",
        stderr(&out)
    );
    out
}

/// Another baseline sealed with the same key, put in place of the real one
/// (one made for a decoy tree from a decoy policy file, one made for it
/// from the command line, one made on another host), would report the
/// decoy as unchanged while the real tree is tampered with. It is refused
/// by a plain `verify` (the shipped cron line), by `verify --policy`, by
/// `update` and by `watch`, with the critical record naming what differs;
/// the real baseline back, the tampering is reported.
#[test]
fn a_baseline_made_for_something_else_is_refused() {
    let sb = Sandbox::new();
    fs::write(sb.path("f"), "x").unwrap();
    let decoy = sb.dir.path().join("decoy");
    fs::create_dir(&decoy).unwrap();
    fs::write(decoy.join("f"), "x").unwrap();
    let policy = policy_file(&sb, "fim.yaml", &sb.tree());
    let decoy_policy = policy_file(&sb, "decoy.yaml", &decoy);
    let out = run(sb.cmd("init").arg("--policy").arg(&policy));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let base = sb.state().join("fim.baseline");
    let good = fs::read(&base).unwrap();

    let made = |name: &str, args: &[&std::ffi::OsStr]| {
        let file = sb.dir.path().join(name);
        let out = run(sb.cmd("init").arg("--baseline").arg(&file).args(args));
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        file
    };
    let from_policy = made(
        "decoy-policy.baseline",
        &["--policy".as_ref(), decoy_policy.as_os_str()],
    );
    let from_paths = made("decoy-paths.baseline", &[decoy.as_os_str()]);
    let other_host = sb.dir.path().join("other-host.baseline");
    on_host(
        "decoy-host",
        &[
            "init".as_ref(),
            "--state-dir".as_ref(),
            sb.state().as_os_str(),
            "--baseline".as_ref(),
            other_host.as_os_str(),
            "--policy".as_ref(),
            policy.as_os_str(),
        ],
    );

    // What the decoy would hide.
    fs::write(sb.path("f"), "tampered").unwrap();
    let tree = sb.tree();
    let decoy_dir = decoy.to_str().unwrap();
    for (what, decoy_base, says) in [
        ("decoy policy file", &from_policy, decoy_dir),
        ("decoy paths", &from_paths, decoy_dir),
        ("another host", &other_host, "made on host decoy-host"),
    ] {
        fs::copy(decoy_base, &base).unwrap();
        let with_policy = ["--policy".as_ref(), policy.as_os_str()];
        let invocations: [(&str, &[&std::ffi::OsStr]); 5] = [
            ("verify", &[]),
            ("verify", &with_policy),
            ("verify", &[tree.as_os_str()]),
            ("update", &[]),
            ("watch", &with_policy),
        ];
        for (sub, args) in invocations {
            let out = run(sb.cmd(sub).args(args.iter()));
            let why = format!("{what}: {sub} {args:?}");
            assert_eq!(out.status.code(), Some(2), "{why}: {}", stderr(&out));
            let rec = refusal(&out.stdout, &base, &why);
            let error = rec["error"].as_str().unwrap();
            assert!(
                error.contains(says) && error.contains("refusing"),
                "{why}: {error}"
            );
            assert!(stderr(&out).contains(says), "{why}: {}", stderr(&out));
        }
        assert_eq!(
            fs::read(&base).unwrap(),
            fs::read(decoy_base).unwrap(),
            "{what}: update replaced nothing"
        );
    }

    // The real baseline back: the tampering is reported, and the alert
    // about the baseline ends.
    fs::write(&base, &good).unwrap();
    let out = run(&mut sb.cmd("verify"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let recs = records(&out.stdout);
    support::record_for(&recs, "fim.changed", &sb.path("f"));
    assert!(
        recs.iter()
            .any(|r| r["kind"] == "fim.resolved" && r["reason"] == "valid"),
        "{recs:#?}"
    );
}

/// verify checks the baseline against the policy it is meant to check:
/// `--policy FILE`, the PATHs given, or by default the policy file the
/// baseline was made from, as it is now. An edit that changes what is
/// watched is refused (say so, make the baseline again); one that does
/// not (comments, order) is not; a baseline made before bindings existed
/// is bound by its first check.
#[test]
fn the_policy_binds_its_baseline() {
    let sb = Sandbox::new();
    fs::create_dir(sb.path("etc")).unwrap();
    fs::write(sb.path("etc/f"), "x").unwrap();
    fs::write(sb.path("g"), "x").unwrap();
    let policy = sb.dir.path().join("fim.yaml");
    let text = |first: &str, second: &str| {
        format!(
            "paths:\n  - path: {}\n  - path: {}\n    severity: critical\n",
            sb.tree().join(first).display(),
            sb.tree().join(second).display()
        )
    };
    fs::write(&policy, text("g", "etc")).unwrap();
    // Relative: verify finds it from any directory.
    let out = run(sb
        .cmd("init")
        .current_dir(sb.dir.path())
        .args(["--policy", "fim.yaml"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (code, recs) = sb.verify();
    assert_eq!((code, recs.len()), (Some(0), 0), "{recs:#?}");

    // Rules reordered and commented: the same policy.
    fs::write(&policy, format!("# reviewed\n{}", text("g", "etc"))).unwrap();
    assert_eq!(sb.verify().0, Some(0));

    // Severity of /etc lowered: what the baseline checks is not what the
    // policy says any more.
    fs::write(&policy, text("g", "etc").replace("critical", "low")).unwrap();
    let base = sb.state().join("fim.baseline");
    for args in [
        vec![],
        vec!["--policy".to_string(), policy.display().to_string()],
    ] {
        let out = run(sb.cmd("verify").args(&args));
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let rec = refusal(&out.stdout, &base, "policy edited");
        let error = rec["error"].as_str().unwrap();
        assert!(
            error.contains(&format!("its rules for {}", sb.path("etc").display()))
                && error.contains("init --force --policy"),
            "{error}"
        );
    }
    // Deleted: nothing says what the baseline is for.
    fs::remove_file(&policy).unwrap();
    let out = run(&mut sb.cmd("verify"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    refusal(&out.stdout, &base, "policy deleted");

    // A baseline of paths, checked against paths.
    let sb = Sandbox::new();
    fs::write(sb.path("f"), "x").unwrap();
    sb.init();
    let out = run(sb.cmd("verify").arg(sb.tree()));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(sb.cmd("verify").arg(sb.path("f")));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let rec = refusal(&out.stdout, &sb.state().join("fim.baseline"), "paths");
    assert!(
        rec["error"].as_str().unwrap().contains("it does not watch"),
        "{rec}"
    );

    // Made before bindings existed: bound by the first check.
    let bindings = sb.state().join("fim-check.bindings.json");
    fs::remove_file(&bindings).unwrap();
    assert_eq!(sb.verify().0, Some(0));
    let stored: Value = serde_json::from_slice(&fs::read(&bindings).unwrap()).unwrap();
    assert_eq!(
        stored["baselines"].as_object().unwrap().len(),
        1,
        "{stored}"
    );
    assert_eq!(
        fs::metadata(&bindings).unwrap().permissions().mode() & 0o777,
        0o600
    );
}
