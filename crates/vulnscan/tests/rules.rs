//! The rules file, inventories as targets, and judging an nmap report made
//! by hand, run as an operator runs them.

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::net::TcpListener;
use std::process::Command;

use support::*;

#[test]
fn a_rules_file_changes_what_is_severe() {
    let mut block = PortBlock::take(2);
    let listening = block.keep(&[1]);
    let port = block.last();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yaml");
    fs::write(
        &rules,
        format!(
            "rules:\n  - id: forbidden-port\n    severity: high\n    \
             title: port {{port}} must stay closed\n    remediation: stop the service\n    \
             when: {{port: {port}, exposure: loopback}}\n"
        ),
    )
    .unwrap();
    let scan = |extra: &[&std::ffi::OsStr]| {
        run(vulnscan()
            .args(["--engine", "builtin", "--no-state", "--no-banners"])
            .args(["--ports", &block.range()])
            .args(extra)
            .arg("127.0.0.1"))
    };

    let plain = scan(&[]);
    assert_eq!(plain.status.code(), Some(0), "{}", stderr(&plain));
    assert_eq!(open_ports(&records(&plain)), listening);
    assert!(of_kind(&records(&plain), "vuln.finding").is_empty());

    let judged = scan(&["--rules".as_ref(), rules.as_os_str()]);
    assert_eq!(judged.status.code(), Some(1), "{}", stderr(&judged));
    let recs = records(&judged);
    let found = of_kind(&recs, "vuln.finding");
    assert_eq!(found.len(), 1, "{recs:#?}");
    assert_eq!(found[0]["severity"], "high");
    assert_eq!(found[0]["rule"], "forbidden-port");
    assert_eq!(found[0]["port"], port);
    assert_eq!(
        found[0]["message"],
        format!("port {port} must stay closed on tcp 127.0.0.1:{port}: stop the service")
    );
    assert_eq!(found[0]["alert"], "firing", "a finding above info alerts");
    assert!(
        of_kind(&recs, "vuln.port")
            .iter()
            .all(|r| r["alert"] == "none" && r.get("alert_id").is_none()),
        "an open port is an observation: {recs:#?}"
    );
}

#[test]
fn a_finding_the_next_scan_lacks_is_resolved_once() {
    let mut block = PortBlock::take(1);
    let port = block.first;
    block.keep(&[0]);
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yaml");
    fs::write(
        &rules,
        format!(
            "rules:\n  - id: forbidden-port\n    severity: high\n    \
             title: port {{port}} must stay closed\n    \
             when: {{port: {port}}}\n"
        ),
    )
    .unwrap();
    let state = dir.path().join("state");
    let scan = |extra: &[&std::ffi::OsStr]| {
        let out = run(vulnscan()
            .args(["--engine", "builtin", "--no-banners", "--format", "jsonl"])
            .args(["--ports", &port.to_string(), "--state-dir"])
            .arg(&state)
            .args(extra)
            .arg("127.0.0.1"));
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
        records(&out)
    };
    let judged = ["--rules".as_ref(), rules.as_os_str()];
    let first = scan(&judged);
    let finding = &of_kind(&first, "vuln.finding")[0];
    assert_eq!(finding["alert"], "firing");
    let again = scan(&judged);
    assert_eq!(
        of_kind(&again, "vuln.finding")[0]["alert_id"],
        finding["alert_id"],
        "written again while it holds, as the same alert"
    );
    assert!(of_kind(&again, "vuln.resolved").is_empty());

    // The built-in rules do not mind the port: the finding is gone, the
    // port still open.
    let fixed = scan(&[]);
    let resolved = of_kind(&fixed, "vuln.resolved");
    assert_eq!(resolved.len(), 1, "{fixed:#?}");
    let r = &resolved[0];
    assert_eq!(
        (&r["alert"], &r["alert_id"], &r["severity"], &r["was"]),
        (
            &"resolved".into(),
            &finding["alert_id"],
            &"info".into(),
            &"high".into()
        )
    );
    assert_eq!(
        (&r["id"], &r["port"]),
        (&"forbidden-port".into(), &port.into())
    );
    assert_eq!(
        r["message"],
        format!("no longer found on tcp 127.0.0.1:{port}: port {port} must stay closed")
    );
    assert!(of_kind(&fixed, "vuln.port_closed").is_empty());
    assert!(of_kind(&scan(&[]), "vuln.resolved").is_empty(), "once");
}

#[test]
fn a_bad_rules_file_is_refused_with_its_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "rules:\n  - id: x\n    severity: high\n    title: t\n    when:\n      servce: ssh\n",
            "6:",
            "rules[0].when.servce: unknown field `servce`",
        ),
        (
            "rules:\n  - id: x\n    severity: loud\n    title: t\n",
            "3:",
            "rules[0].severity",
        ),
        (
            "rules:\n  - id: x\n    severity: low\n    title: t\n    when: {output: '(x'}\n",
            "5:",
            "rules[0].when.output: invalid regular expression",
        ),
    ];
    for (text, line, field) in cases {
        let rules = dir.path().join("rules.yaml");
        fs::write(&rules, text).unwrap();
        let out = run(vulnscan()
            .args(["--engine", "builtin", "--no-state", "--ports", "1"])
            .arg("--rules")
            .arg(&rules)
            .arg("127.0.0.1"));
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        let place = format!("{}:{line}", rules.display());
        assert!(err.contains(&place) && err.contains(field), "{err}");
        // Nothing is scanned with bad rules: the only record is the failure.
        let failed = secops_testkit::only_failure(&out.stdout);
        assert!(
            failed["error"].as_str().unwrap().contains(field),
            "{failed}"
        );
    }
}

#[test]
fn servers_json_gives_the_targets_and_groups_narrow_them() {
    let mut block = PortBlock::take(1);
    let port = block.first;
    block.keep(&[0]);
    let _second = TcpListener::bind(("127.0.0.2", port)).expect("127.0.0.2 is loopback too");
    let dir = tempfile::tempdir().unwrap();
    let servers = dir.path().join("servers.json");
    fs::write(
        &servers,
        r#"{"servers": [
  {"name": "web01", "address": "127.0.0.1", "user": "ops", "groups": ["web"]},
  {"name": "db01", "address": "127.0.0.2", "port": 2222, "groups": ["db"]},
  {"name": "db02", "address": "127.0.0.2", "groups": ["db"]}
]}"#,
    )
    .unwrap();
    let scan = |extra: &[&str]| {
        let out = run(vulnscan()
            .args(["--engine", "builtin", "--no-state", "--no-banners"])
            .args(["--ports", &port.to_string()])
            .arg("--servers")
            .arg(&servers)
            .args(extra));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let recs = records(&out);
        // `host` is the machine that scanned (docs/records.md), never a
        // server's inventory name; `ts` a real RFC 3339 second.
        let here = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        for r in &recs {
            assert_eq!(r["host"].as_str(), Some(here.trim()), "{r}");
            let ts = r["ts"].as_str().unwrap();
            assert!(
                ts.len() == 20 && ts.starts_with("20") && ts.ends_with('Z'),
                "{ts}"
            );
        }
        recs.iter()
            .map(|r| r["addr"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(scan(&[]), ["127.0.0.1", "127.0.0.2"], "each address once");
    assert_eq!(scan(&["--group", "db"]), ["127.0.0.2"]);

    let out = run(vulnscan()
        .args(["--no-state", "--group", "nope"])
        .arg("--servers")
        .arg(&servers));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("has no such group"),
        "{}",
        stderr(&out)
    );
    fs::write(
        &servers,
        "{\"servers\": [\n  {\"name\": \"a\", \"adress\": \"10.0.0.1\"}\n]}",
    )
    .unwrap();
    let out = run(vulnscan()
        .args(["--no-state"])
        .arg("--servers")
        .arg(&servers));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:2:", servers.display())) && err.contains("adress"),
        "{err}"
    );
}

#[test]
fn an_nmap_report_made_by_hand_is_judged_like_a_scan() {
    let nmap = nmap();
    let mut block = PortBlock::take(1);
    let port = block.first;
    serve_http(block.listeners.remove(0).1);
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("scan.xml");
    let made = Command::new(nmap)
        .args([
            "-n",
            "-sT",
            "-sV",
            "--script",
            "http-methods",
            "-p",
            &port.to_string(),
            "-oX",
        ])
        .arg(&xml)
        .arg("127.0.0.1")
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", stderr(&made));

    let judge = |file: &std::path::Path, extra: &[&str]| {
        run(vulnscan().arg("--from-xml").arg(file).args(extra))
    };
    let out = judge(&xml, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recs = records(&out);
    assert_eq!(open_ports(&recs), BTreeSet::from([port]));
    let trace = recs
        .iter()
        .find(|r| r["rule"] == "http-trace")
        .unwrap_or_else(|| panic!("{recs:#?}"));
    assert_eq!(
        (&trace["severity"], &trace["engine"]),
        (&"medium".into(), &"nmap".into())
    );

    // The same report under stricter rules, and with --fail-on.
    let rules = dir.path().join("strict.yaml");
    fs::write(&rules, "rules:\n  - id: trace\n    severity: critical\n    title: TRACE on {port}\n    when: {script: http-methods, output: TRACE}\n").unwrap();
    let out = judge(&xml, &["--rules", rules.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let recs = records(&out);
    let trace = recs.iter().find(|r| r["rule"] == "trace").unwrap();
    assert_eq!(
        (&trace["severity"], &trace["title"]),
        (&"critical".into(), &format!("TRACE on {port}").into())
    );

    // Cut short, as when nmap is killed: what was finished, then exit 3.
    let text = fs::read_to_string(&xml).unwrap();
    let cut = dir.path().join("cut.xml");
    fs::write(&cut, &text[..text.find("<runstats>").unwrap()]).unwrap();
    let out = judge(&cut, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ends before </nmaprun>"),
        "{}",
        stderr(&out)
    );
    assert_eq!(open_ports(&records(&out)), BTreeSet::from([port]));

    let not_xml = dir.path().join("scan.jsonl");
    fs::write(&not_xml, "{}\n").unwrap();
    let out = judge(&not_xml, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not nmap XML"), "{}", stderr(&out));
    let out = run(vulnscan().arg("--from-xml").arg(&xml).arg("127.0.0.1"));
    assert_eq!(
        out.status.code(),
        Some(2),
        "targets and --from-xml conflict"
    );
}
