//! `--from-gvm`: Greenbone (GVM/OpenVAS) XML reports read into the same
//! records as nmap's, with GVM's severities: real exported reports
//! (tests/data/gvm, see its README), their change history across imports,
//! and hostile ones (entities, malformed XML, huge fields) refused or
//! bounded.

mod support;

use std::path::PathBuf;

use serde_json::Value;
use support::*;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/gvm")
        .join(name)
}

fn import(path: &std::path::Path, extra: &[&str]) -> std::process::Output {
    run(vulnscan()
        .args(["--format", "jsonl", "--from-gvm"])
        .arg(path)
        .args(extra))
}

#[test]
fn real_reports_become_findings_with_gvms_severities() {
    let out = import(&data("one_vuln.xml"), &["--no-state"]);
    secops_testkit::assert_exit(&out, 1);
    let recs = records(&out);
    let findings = of_kind(&recs, "vuln.finding");
    assert_eq!(findings.len(), 1, "{recs:#?}");
    let f = findings[0];
    assert_eq!(f["severity"], "critical", "GVM's 10.0");
    assert_eq!(f["addr"], "10.0.101.2");
    assert_eq!(f["port"], Value::Null, "general/tcp is about the host");
    assert_eq!(f["id"], "gvm-1.3.6.1.4.1.25623.1.0.832260");
    assert_eq!(
        f["title"],
        "Mozilla Firefox Security Update (mfsa_2023-32_2023-36) - Windows"
    );
    assert_eq!(f["cves"].as_array().unwrap().len(), 12);
    assert!(
        f["remediation"]
            .as_str()
            .unwrap()
            .starts_with("Upgrade to version 117 or later")
    );
    assert!(
        f["evidence"]
            .as_str()
            .unwrap()
            .contains("Installed version: 116.0.3")
    );
    assert_eq!(f["engine"], "gvm");
    assert!(f["alert_id"].as_str().is_some());

    let out = import(&data("report_detail_v2.xml"), &["--no-state"]);
    secops_testkit::assert_exit(&out, 1);
    let recs = records(&out);
    let port = of_kind(&recs, "vuln.port");
    assert_eq!(port.len(), 1);
    assert_eq!(
        (port[0]["addr"].as_str(), port[0]["port"].as_u64()),
        (Some("10.99.99.99"), Some(42))
    );
    let f = of_kind(&recs, "vuln.finding")[0];
    assert_eq!(
        (f["severity"].as_str(), f["port"].as_u64()),
        (Some("critical"), Some(42))
    );
    assert_eq!(f["cves"].as_array().unwrap().len(), 93);
    assert_eq!(
        f["remediation"],
        "The vendor has released updates. Please see the references for more information."
    );
    assert_eq!(
        f["references"][0],
        "https://support.microsoft.com/en-us/help/5062557"
    );
}

#[test]
fn a_later_report_of_the_same_task_resolves_what_it_no_longer_finds() {
    let state = tempfile::tempdir().unwrap();
    let first = import(
        &data("report_detail_v2.xml"),
        &["--state-dir", state.path().to_str().unwrap()],
    );
    secops_testkit::assert_exit(&first, 1);
    // The same task scanned again after the update: no results.
    let fixed = std::fs::read_to_string(data("report_detail_v2.xml")).unwrap();
    let start = fixed.find("<result id=").unwrap();
    let end = fixed.find("</results>").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let later = dir.path().join("later.xml");
    std::fs::write(&later, format!("{}{}", &fixed[..start], &fixed[end..])).unwrap();
    let second = import(&later, &["--state-dir", state.path().to_str().unwrap()]);
    secops_testkit::assert_exit(&second, 0);
    let recs = records(&second);
    let resolved = of_kind(&recs, "vuln.resolved");
    assert_eq!(resolved.len(), 1, "{recs:#?}");
    let firing = of_kind(&records(&first), "vuln.finding")[0]["alert_id"].clone();
    assert_eq!(resolved[0]["alert_id"], firing);
}

#[test]
fn hostile_and_broken_reports_are_refused_or_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let result = |description: &str| {
        format!(
            "<report><report><scan_run_status>Done</scan_run_status><results><result><host>10.0.0.9</host><port>80/tcp</port><nvt oid=\"1.2.3\"><name>x</name></nvt><severity>5.0</severity><description>{description}</description></result></results></report></report>"
        )
    };
    // Entities: a billion laughs, and an external one reading a file.
    let laughs = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>{}",
        result("&c;")
    );
    let external = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
        result("&x;")
    );
    for (name, text) in [
        ("laughs.xml", laughs.as_str()),
        ("external.xml", external.as_str()),
    ] {
        let out = import(&write(name, text), &["--no-state"]);
        secops_testkit::assert_exit(&out, 2);
        assert!(stderr(&out).contains("entities"), "{}", stderr(&out));
        assert!(!String::from_utf8_lossy(&out.stdout).contains("root:"));
    }
    // Malformed and foreign XML name the file.
    let torn = write("torn.xml", &result("cut")[..120]);
    let out = import(&torn, &["--no-state"]);
    secops_testkit::assert_exit(&out, 2);
    assert!(stderr(&out).contains("torn.xml"), "{}", stderr(&out));
    let nmap = write("nmap.xml", "<nmaprun><host></host></nmaprun>");
    let out = import(&nmap, &["--no-state"]);
    secops_testkit::assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("not a GVM report"),
        "{}",
        stderr(&out)
    );
    // A 20 MB description is clipped, not carried whole.
    let huge = write("huge.xml", &result(&"A".repeat(20_000_000)));
    let out = import(&huge, &["--no-state"]);
    secops_testkit::assert_exit(&out, 0);
    let f = &of_kind(&records(&out), "vuln.finding")[0].clone();
    assert_eq!(f["severity"], "medium");
    assert!(f["evidence"].as_str().unwrap().chars().count() <= 4097);
    // A scan still running: its results, then exit 3.
    let running = write(
        "running.xml",
        &result("partial").replace("<scan_run_status>Done", "<scan_run_status>Running"),
    );
    let out = import(&running, &["--no-state"]);
    secops_testkit::assert_exit(&out, 3);
    assert_eq!(of_kind(&records(&out), "vuln.finding").len(), 1);
    assert!(
        stderr(&out).contains("not done (status Running)"),
        "{}",
        stderr(&out)
    );
}
