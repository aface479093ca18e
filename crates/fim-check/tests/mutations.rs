//! Every way a tree can be tampered with is detected, with the attribute
//! that changed named.

mod support;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use support::{Sandbox, changed_attrs, record_for, sh};

#[test]
fn each_mutation_is_detected_with_its_attribute() {
    let sb = Sandbox::new();
    for name in [
        "same-size",
        "mode",
        "owner",
        "old-name",
        "linked",
        "xattr",
        "acl",
        "truncated",
        "becomes-dir",
    ] {
        fs::write(sb.path(name), format!("content of {name}\n")).unwrap();
    }
    std::os::unix::fs::symlink("mode", sb.path("link")).unwrap();
    sb.init();
    let (code, records) = sb.verify();
    assert_eq!(
        (code, records.len()),
        (Some(0), 0),
        "fresh baseline: {records:#?}"
    );

    // Same size, mtime put back with touch -d: only the hash can tell.
    let same = sb.path("same-size");
    let meta = fs::metadata(&same).unwrap();
    fs::write(&same, "CONTENT of same-size\n").unwrap();
    sh(&format!(
        "touch -d @{}.{:09} '{}'",
        meta.mtime(),
        meta.mtime_nsec(),
        same.display()
    ));
    fs::set_permissions(sb.path("mode"), fs::Permissions::from_mode(0o4755)).unwrap();
    nix::unistd::chown(
        &sb.path("owner"),
        Some(nix::unistd::Uid::from_raw(65534)),
        None,
    )
    .unwrap();
    fs::rename(sb.path("old-name"), sb.path("new-name")).unwrap();
    fs::hard_link(sb.path("linked"), sb.path("second-link")).unwrap();
    fs::remove_file(sb.path("link")).unwrap();
    std::os::unix::fs::symlink("owner", sb.path("link")).unwrap();
    xattr::set(sb.path("xattr"), "user.note", b"planted").unwrap();
    xattr::set(sb.path("acl"), "system.posix_acl_access", &access_acl()).unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(sb.path("truncated"))
        .unwrap()
        .set_len(0)
        .unwrap();
    fs::remove_file(sb.path("becomes-dir")).unwrap();
    fs::create_dir(sb.path("becomes-dir")).unwrap();

    let (code, records) = sb.verify();
    assert_eq!(code, Some(1), "{records:#?}");
    let attrs = |name: &str| changed_attrs(&records, &sb.path(name));
    let same_size = attrs("same-size");
    assert!(same_size.contains(&"sha256".into()), "{same_size:?}");
    assert!(!same_size.contains(&"mtime".into()) && !same_size.contains(&"size".into()));
    assert!(attrs("mode").contains(&"mode".into()));
    assert!(attrs("owner").contains(&"uid".into()));
    record_for(&records, "fim.removed", &sb.path("old-name"));
    record_for(&records, "fim.added", &sb.path("new-name"));
    assert!(attrs("linked").contains(&"nlink".into()));
    record_for(&records, "fim.added", &sb.path("second-link"));
    assert!(attrs("link").contains(&"target".into()));
    assert_eq!(
        record_for(&records, "fim.changed", &sb.path("link"))["new_target"],
        "owner"
    );
    assert!(attrs("xattr").contains(&"xattrs".into()));
    assert_eq!(
        record_for(&records, "fim.changed", &sb.path("xattr"))["new_xattrs"][0],
        "user.note=planted"
    );
    assert!(attrs("acl").contains(&"acl".into()));
    let acl = &record_for(&records, "fim.changed", &sb.path("acl"))["new_acl"][0];
    assert!(acl.as_str().unwrap().contains("user:4242:r--"), "{acl}");
    let truncated = attrs("truncated");
    assert!(truncated.contains(&"size".into()) && truncated.contains(&"sha256".into()));
    assert!(attrs("becomes-dir").contains(&"type".into()));

    // --aide-exit-codes: added, removed and changed all present.
    let out = support::run(sb.cmd("check").arg("--aide-exit-codes"));
    assert_eq!(out.status.code(), Some(7), "{}", support::stderr(&out));

    // update accepts it all; the next verify is clean.
    let out = support::run(&mut sb.cmd("update"));
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    let (code, records) = sb.verify();
    assert_eq!((code, records.len()), (Some(0), 0), "{records:#?}");
}

/// An access ACL granting uid 4242 read, in the kernel's xattr layout.
fn access_acl() -> Vec<u8> {
    let mut raw = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (1u16, 6u16, u32::MAX),
        (2, 4, 4242),
        (4, 4, u32::MAX),
        (0x10, 4, u32::MAX),
        (0x20, 4, u32::MAX),
    ] {
        raw.extend(tag.to_le_bytes());
        raw.extend(perm.to_le_bytes());
        raw.extend(id.to_le_bytes());
    }
    raw
}

#[test]
fn log_files_may_grow_but_not_shrink() {
    let sb = Sandbox::new();
    fs::write(sb.path("app.log"), "line 1\nline 2\n").unwrap();
    let policy = sb.dir.path().join("fim.yaml");
    fs::write(
        &policy,
        format!(
            "paths:\n  - path: {}\n    attributes: log\n    severity: medium\n",
            sb.tree().display()
        ),
    )
    .unwrap();
    let out = support::run(sb.cmd("init").arg("--policy").arg(&policy));
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    fs::write(sb.path("app.log"), "line 1\nline 2\nline 3\n").unwrap();
    let (code, records) = sb.verify();
    assert_eq!(
        (code, records.len()),
        (Some(0), 0),
        "growth is fine: {records:#?}"
    );
    fs::write(sb.path("app.log"), "x\n").unwrap();
    let (code, records) = sb.verify();
    assert_eq!(code, Some(0), "medium is below --fail-on high");
    let rec = record_for(&records, "fim.changed", &sb.path("app.log"));
    assert_eq!(
        (rec["severity"].as_str(), rec["attributes"][0].as_str()),
        (Some("medium"), Some("size"))
    );
}

#[test]
fn trust_metadata_reports_what_a_full_verify_does() {
    let sb = Sandbox::new();
    for dir in 0..20 {
        fs::create_dir(sb.path(&format!("d{dir}"))).unwrap();
        for file in 0..30 {
            let name = format!("d{dir}/f{file}");
            fs::write(sb.path(&name), format!("content of {name}\n")).unwrap();
        }
    }
    sb.init();
    let trusting = || {
        let out = support::run(sb.cmd("verify").arg("--trust-metadata"));
        (out.status.code(), support::records(&out.stdout))
    };
    let (code, records) = trusting();
    assert_eq!((code, records.len()), (Some(0), 0), "{records:#?}");

    // Content rewritten at the same size with mtime put back: the ctime
    // moved, so the hash is not reused.
    let same = sb.path("d7/f3");
    let meta = fs::metadata(&same).unwrap();
    fs::write(&same, "CONTENT of d7/f3\n").unwrap();
    sh(&format!(
        "touch -d @{}.{:09} '{}'",
        meta.mtime(),
        meta.mtime_nsec(),
        same.display()
    ));
    fs::set_permissions(sb.path("d12/f29"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::remove_file(sb.path("d19/f0")).unwrap();
    let (code, trusted) = trusting();
    assert_eq!(code, Some(1), "{trusted:#?}");
    assert!(changed_attrs(&trusted, &same).contains(&"sha256".into()));
    assert!(changed_attrs(&trusted, &sb.path("d12/f29")).contains(&"mode".into()));
    record_for(&trusted, "fim.removed", &sb.path("d19/f0"));
    let (_, full) = sb.verify();
    let without_time = |records: Vec<serde_json::Value>| {
        let mut records: Vec<String> = records
            .into_iter()
            .map(|mut r| {
                r.as_object_mut().unwrap().remove("ts");
                r.to_string()
            })
            .collect();
        records.sort();
        records
    };
    assert_eq!(without_time(trusted), without_time(full));
}

#[test]
fn every_verify_ends_with_a_summary_that_says_what_it_checked() {
    let sb = Sandbox::new();
    for name in ["a.conf", "b.conf", "c.conf"] {
        fs::write(sb.path(name), format!("{name}\n")).unwrap();
    }
    sb.init();
    let summary = |expect_code: i32| {
        let out = support::run(&mut sb.cmd("verify"));
        assert_eq!(
            out.status.code(),
            Some(expect_code),
            "{}",
            support::stderr(&out)
        );
        let recs = secops_testkit::records(&out.stdout);
        let last = recs.last().expect("a verify writes records").clone();
        assert_eq!(last["kind"], "fim.summary", "{recs:#?}");
        assert_eq!(last["alert"], "none");
        (recs.len(), last)
    };
    // Clean: the summary alone, and it says so (the tree and its 3 files).
    let (count, clean) = summary(0);
    assert_eq!(count, 1);
    assert_eq!(clean["checked"], 4, "{clean}");
    assert_eq!(clean["changed"], 0);
    assert!(
        clean["message"]
            .as_str()
            .unwrap()
            .contains("verified 4 entries against the baseline of"),
        "{clean}"
    );
    // A file changed and one added (and so their directory changed):
    // each counted, by kind and by severity.
    fs::write(sb.path("a.conf"), "tampered\n").unwrap();
    fs::write(sb.path("d.conf"), "new\n").unwrap();
    let (count, dirty) = summary(1);
    let out = support::run(&mut sb.cmd("verify"));
    let found = support::records(&out.stdout); // checks the counts agree
    assert_eq!(count, found.len() + 1);
    assert_eq!(dirty["added"], 1, "{dirty}");
    assert_eq!(dirty["changed"], count as u64 - 2, "{dirty}");
    let findings = &dirty["findings"];
    let total: u64 = ["critical", "high", "medium", "low", "info"]
        .iter()
        .map(|s| findings[s].as_u64().unwrap())
        .sum();
    assert_eq!(total, count as u64 - 1, "{dirty}");
    let message = format!("{} changed, 1 added, 0 removed", count - 2);
    assert!(
        dirty["message"].as_str().unwrap().contains(&message),
        "{dirty}"
    );
}
