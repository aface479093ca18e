//! The Prometheus files of prometheus/ are code too: the example
//! Prometheus and Alertmanager configurations pass promtool's and amtool's
//! checks, the alerting rules pass their promtool unit tests (which prove
//! that no level walk leaves a gap), every alert carries what an operator
//! needs (severity, summary, description, a runbook link that leads to a
//! heading of docs/), and the Grafana dashboard is a dashboard whose every
//! PromQL expression parses.
//!
//! promtool (Debian `prometheus`) and amtool (`prometheus-alertmanager`)
//! must be installed: a test that cannot find one fails saying so.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use secops_common::config::{Syntax, parse};
use secops_pipeline_tests::{grafana_promql, repo};
use secops_testkit::require;
use serde_json::Value;

/// A program the tests need, from PATH; fails saying what to install
/// (scripts/test installs both).
fn program(name: &str) -> PathBuf {
    require(name, "prometheus prometheus-alertmanager")
}

/// Runs `program args...`; panics with its output unless it succeeds.
fn succeeds(program_name: &str, args: &[&str]) -> Output {
    let out = Command::new(program(program_name))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program_name} {}: {}\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn path(relative: &str) -> String {
    repo(relative).display().to_string()
}

fn yaml(relative: &str) -> Value {
    let text = std::fs::read_to_string(repo(relative)).unwrap();
    parse(&text, Syntax::Yaml).unwrap_or_else(|err| panic!("{relative}: {err}"))
}

fn json(relative: &str) -> Value {
    let text = std::fs::read_to_string(repo(relative)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{relative}: {err}"))
}

fn array<'a>(value: &'a Value, key: &str) -> &'a Vec<Value> {
    value[key]
        .as_array()
        .unwrap_or_else(|| panic!("no list {key:?} in {value}"))
}

fn string<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key:?} in {value}"))
}

/// Every rule of a rules file (alerting and recording), across groups.
fn rules(relative: &str) -> Vec<Value> {
    let file = yaml(relative);
    array(&file, "groups")
        .iter()
        .flat_map(|group| array(group, "rules").iter().cloned())
        .collect()
}

#[test]
fn prometheus_config_and_rules_pass_promtool_and_their_unit_tests() {
    // The config names its rule files relative to itself, as on a host
    // (/etc/prometheus/), so promtool checks those too.
    let out = succeeds(
        "promtool",
        &["check", "config", &path("prometheus/prometheus.yml")],
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("2 rule files found"), "{said}");
    succeeds(
        "promtool",
        &[
            "check",
            "rules",
            &path("prometheus/secops.rules.yml"),
            &path("prometheus/secops.recording.yml"),
        ],
    );
    // The unit tests: for disk space, inodes, memory, CPU, load, staleness,
    // backups, FIM, ports and the rest, which alerts fire at each step of
    // a level walk (no gap), and the recording rules' results.
    succeeds(
        "promtool",
        &["test", "rules", &path("prometheus/secops.rules.test.yml")],
    );
}

#[test]
fn every_alert_is_unit_tested_firing() {
    let alerts: BTreeSet<String> = rules("prometheus/secops.rules.yml")
        .iter()
        .filter_map(|rule| rule["alert"].as_str().map(str::to_string))
        .collect();
    let tests = yaml("prometheus/secops.rules.test.yml");
    let mut fired = BTreeSet::new();
    for test in array(&tests, "tests") {
        for case in test["alert_rule_test"].as_array().into_iter().flatten() {
            if case["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()) {
                fired.insert(string(case, "alertname").to_string());
            }
        }
    }
    let untested: Vec<_> = alerts.difference(&fired).collect();
    assert!(
        untested.is_empty(),
        "no unit test shows these alerts firing: {untested:?}"
    );
    // The files a rules test loads are the shipped ones, beside it.
    let files: Vec<_> = array(&tests, "rule_files").iter().collect();
    assert_eq!(
        files,
        [
            &Value::from("secops.rules.yml"),
            &Value::from("secops.recording.yml")
        ]
    );
}

#[test]
fn alertmanager_config_passes_amtool_and_routes_by_severity() {
    let config = path("prometheus/alertmanager.yml");
    let out = succeeds("amtool", &["check-config", &config]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("SUCCESS"), "{said}");
    // Every notification reaches the webhook; critical ones also mail.
    for (severity, receiver) in [
        ("warning", "secops-webhook"),
        ("critical", "oncall-mail-and-webhook"),
    ] {
        let out = succeeds(
            "amtool",
            &[
                "config",
                "routes",
                "test",
                &format!("--config.file={config}"),
                "alertname=FilesystemSpaceWarning",
                &format!("severity={severity}"),
            ],
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), receiver);
    }
    let am = yaml("prometheus/alertmanager.yml");
    let route = &am["route"];
    let group_by: Vec<&str> = array(route, "group_by")
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(group_by, ["alertname", "instance", "mountpoint"]);
    for receiver in array(&am, "receivers") {
        for kind in ["webhook_configs", "email_configs"] {
            for sink in receiver[kind].as_array().into_iter().flatten() {
                assert_eq!(sink["send_resolved"], true, "{receiver}");
            }
        }
    }
    // The inhibit rules an operator relies on for "one thing pages once".
    let inhibits = array(&am, "inhibit_rules");
    let has = |source: &str, target: &str, equal: &[&str]| {
        inhibits.iter().any(|rule| {
            let matchers = |key: &str| {
                rule[key]
                    .as_array()
                    .map(|m| {
                        m.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default()
            };
            let equal_labels: BTreeSet<&str> = rule["equal"]
                .as_array()
                .map(|e| e.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            matchers("source_matchers").contains(source)
                && matchers("target_matchers").contains(target)
                && equal.iter().all(|l| equal_labels.contains(l))
        })
    };
    assert!(has(
        "severity=\"critical\"",
        "severity=\"warning\"",
        &["instance", "mountpoint", "metric", "measure"]
    ));
    assert!(has(
        "FilesystemFull",
        "FilesystemSpaceCritical",
        &["instance", "mountpoint"]
    ));
    assert!(has(
        "FilesystemSpaceCritical",
        "metric=\"disk\"",
        &["instance", "mountpoint"]
    ));
    assert!(has(
        "FilesystemInodesCritical",
        "metric=\"inodes\"",
        &["instance", "mountpoint"]
    ));
}

/// GitHub's heading anchors of a Markdown file: lowercase, spaces to `-`,
/// punctuation but `-` and `_` dropped, a repeated one suffixed `-1`,
/// `-2`...; headings inside fenced code blocks do not count.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut fenced = false;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let text = line.trim_start_matches('#');
        if !text.starts_with(' ') {
            continue;
        }
        let base: String = text
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let mut anchor = base.clone();
        let mut n = 0;
        while seen.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        seen.insert(anchor);
    }
    seen
}

#[test]
fn anchors_are_made_as_github_makes_them() {
    let got = anchors(
        "# disk-alert\n## Prometheus: `--prom-file`\n```\n## not a heading\n```\n### FilesystemFull\n## Alerts\n## Alerts\n#hashtag\n",
    );
    let want: BTreeSet<String> = [
        "disk-alert",
        "prometheus---prom-file",
        "filesystemfull",
        "alerts",
        "alerts-1",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(got, want);
}

/// The repository URL of the workspace (Cargo.toml), which runbook links
/// start with.
fn repository() -> String {
    let cargo = std::fs::read_to_string(repo("Cargo.toml")).unwrap();
    cargo
        .lines()
        .find_map(|l| l.strip_prefix("repository = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("Cargo.toml has no repository")
        .to_string()
}

#[test]
fn every_alert_has_severity_summary_description_and_a_runbook_that_exists() {
    let base = format!("{}/docs/", repository());
    let mut checked = 0;
    for rule in rules("prometheus/secops.rules.yml") {
        let Some(alert) = rule["alert"].as_str() else {
            continue;
        };
        let severity = rule["labels"]["severity"].as_str();
        assert!(
            matches!(severity, Some("warning" | "critical")),
            "{alert}: labels.severity is {severity:?}, not warning or critical"
        );
        for key in ["summary", "description", "runbook_url"] {
            let text = rule["annotations"][key].as_str().unwrap_or_default();
            assert!(!text.trim().is_empty(), "{alert}: no annotations.{key}");
        }
        let url = string(&rule["annotations"], "runbook_url");
        let page = url
            .strip_prefix(&base)
            .unwrap_or_else(|| panic!("{alert}: runbook_url {url} is not under {base}"));
        let (file, anchor) = page
            .split_once('#')
            .unwrap_or_else(|| panic!("{alert}: runbook_url {url} names no anchor"));
        let doc = repo("docs").join(file);
        let markdown = std::fs::read_to_string(&doc)
            .unwrap_or_else(|err| panic!("{alert}: runbook_url {url}: {}: {err}", doc.display()));
        let found = anchors(&markdown);
        assert!(
            found.contains(anchor),
            "{alert}: runbook_url {url}: docs/{file} has no heading with anchor #{anchor}"
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} alerts");
}

/// Checks PromQL expressions by writing them as recording rules and
/// running `promtool check rules` on the file.
fn promql_parses(exprs: &[(String, String)]) {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("groups:\n  - name: parse\n    rules:\n");
    for (i, (name, expr)) in exprs.iter().enumerate() {
        text.push_str(&format!(
            "      # {name}\n      - record: parse:expression_{i}:check\n        expr: {}\n",
            serde_json::to_string(&grafana_promql(expr)).unwrap()
        ));
    }
    let file = dir.path().join("exprs.yml");
    std::fs::write(&file, &text).unwrap();
    let out = Command::new(program("promtool"))
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool check rules of these expressions:\n{text}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_dashboard_is_a_grafana_dashboard_for_one_host_or_a_fleet() {
    let dash = json("prometheus/grafana/secops.json");
    assert!(
        dash["schemaVersion"].as_u64().unwrap_or(0) >= 36,
        "schemaVersion {}",
        dash["schemaVersion"]
    );
    assert!(!string(&dash, "title").is_empty());
    assert!(!string(&dash, "uid").is_empty());
    let variables = array(&dash["templating"], "list");
    let variable = |name: &str| {
        variables
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no ${name} variable"))
    };
    let datasource = variable("datasource");
    assert_eq!(datasource["type"], "datasource");
    assert_eq!(datasource["query"], "prometheus");
    let instance = variable("instance");
    assert_eq!(instance["type"], "query");
    assert_eq!(instance["multi"], true, "one host or many");
    assert_eq!(instance["includeAll"], true, "the whole fleet");
    assert_eq!(instance["datasource"]["uid"], "${datasource}");

    let mut exprs = Vec::new();
    // label_values(SELECTOR, label): the selector is PromQL.
    let query = string(instance, "query");
    let selector = query
        .strip_prefix("label_values(")
        .and_then(|q| q.rsplit_once(','))
        .map(|(selector, _)| selector.trim())
        .unwrap_or_else(|| {
            panic!("$instance query {query} is not label_values(SELECTOR, instance)")
        });
    exprs.push(("variable instance".to_string(), selector.to_string()));

    let panels = array(&dash, "panels");
    assert!(panels.len() >= 8, "{} panels", panels.len());
    let mut ids = BTreeSet::new();
    for panel in panels {
        let title = string(panel, "title");
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "{title}: id repeated"
        );
        for key in ["x", "y", "w", "h"] {
            assert!(panel["gridPos"][key].is_u64(), "{title}: gridPos.{key}");
        }
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "{title}: its datasource must be the ${{datasource}} variable"
        );
        let targets = array(panel, "targets");
        assert!(!targets.is_empty(), "{title}: no targets");
        for target in targets {
            assert_eq!(target["datasource"]["uid"], "${datasource}", "{title}");
            assert!(!string(target, "refId").is_empty(), "{title}");
            let expr = string(target, "expr");
            assert!(
                expr.contains("instance=~\"$instance\""),
                "{title}: {expr} ignores the $instance variable"
            );
            exprs.push((format!("panel {title}"), expr.to_string()));
        }
    }
    // What the issue asks the dashboard to show.
    let all: String = exprs.iter().map(|(_, e)| e.as_str()).collect();
    for shown in [
        "disk_alert_used_ratio",
        "healthmon_filesystem_used_ratio",
        "inodes_used_ratio",
        "healthmon_cpu_busy_ratio",
        "healthmon_memory_used_ratio",
        "healthmon_load1_per_core",
        "instance:secops_findings:sum",
        "instance:secops_last_success_timestamp_seconds:max",
        "backup_rotate_last_backup_timestamp_seconds",
    ] {
        assert!(all.contains(shown), "no panel shows {shown}");
    }
    // The recording rules the panels read exist.
    let recorded: BTreeSet<String> = rules("prometheus/secops.recording.yml")
        .iter()
        .filter_map(|r| r["record"].as_str().map(String::from))
        .collect();
    for (name, expr) in &exprs {
        for word in expr.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
            if word.matches(':').count() == 2 {
                assert!(recorded.contains(word), "{name}: {word} is not recorded");
            }
        }
    }
    // Every expression, and every recording rule's, parses as PromQL.
    for rule in rules("prometheus/secops.recording.yml") {
        exprs.push((
            format!("recording rule {}", string(&rule, "record")),
            string(&rule, "expr").to_string(),
        ));
    }
    promql_parses(&exprs);
}

#[test]
fn a_broken_expression_is_caught() {
    let result = std::panic::catch_unwind(|| {
        promql_parses(&[("broken".into(), "sum by (instance (up)".into())]);
    });
    assert!(result.is_err(), "promtool accepted broken PromQL");
}

#[test]
fn grafana_provisioning_files_point_at_the_dashboard_and_prometheus() {
    let dashboards = yaml("prometheus/grafana/provisioning/dashboards.yml");
    assert_eq!(dashboards["apiVersion"], 1);
    let provider = &array(&dashboards, "providers")[0];
    assert_eq!(provider["type"], "file");
    let dir = string(&provider["options"], "path");
    assert!(Path::new(dir).is_absolute(), "{dir}");
    assert!(dir.starts_with("/var/lib/grafana/dashboards"), "{dir}");

    let datasources = yaml("prometheus/grafana/provisioning/datasources.yml");
    assert_eq!(datasources["apiVersion"], 1);
    let source = &array(&datasources, "datasources")[0];
    assert_eq!(source["type"], "prometheus");
    assert!(string(source, "url").ends_with(":9090"));
}

#[test]
fn the_old_rule_paths_are_not_referred_to() {
    let old = ["cron/secops-", "alerts"].concat();
    let mut files = vec![repo("README.md")];
    for dir in ["docs", "scripts", "cron", "tests/tests", "prometheus"] {
        for entry in std::fs::read_dir(repo(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        assert!(
            !text.contains(&old),
            "{} still names {old}*: the rules moved to prometheus/",
            file.display()
        );
    }
}

#[test]
fn scripts_test_installs_promtool_and_amtool() {
    let script = std::fs::read_to_string(repo("scripts/test")).unwrap();
    assert!(script.contains("=prometheus "), "promtool's package");
    assert!(
        script.contains("prometheus-alertmanager"),
        "scripts/test does not install amtool's package"
    );
}
