//! The tools' textfiles through the real stack an SRE runs: Debian's
//! node_exporter reads them, Prometheus scrapes it and evaluates the
//! repo's rules, Alertmanager routes with the repo's alertmanager.yml to a
//! webhook this test serves. The repo's configurations are used as written,
//! with only these changes, so the test runs in minutes, not hours:
//! addresses point at loopback ports, scrape and evaluation every second,
//! every rule's `for:` divided by 60 (5m waits 5s), Alertmanager's group
//! waits one second, and every receiver becomes the test's webhook.
//!
//! disk-alert and healthmon run as they would on a host (`--interval`,
//! healthmon with config/healthmon.yaml) against a tmpfs in a private mount
//! namespace, filled to warn, crit and full and back: the webhook must get
//! each level's page once, no page from healthmon for the same mount
//! (inhibited), every alert resolved on clear, and Prometheus's own ALERTS
//! series must show some alert firing for the mount at every evaluation
//! from the first page to the clear. node_exporter's log must not say it
//! dropped a series ("collected before"). A tool that stopped reporting
//! (its last success two hours old, written by the real tool under
//! libfaketime) and a backup three days old must page too.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use secops_pipeline_tests::{dashboard_targets, repo};
use secops_testkit::{
    Daemon, Namespace, Webhook, free_port, percent_tmpfs, require, tool, tool_path, wait_until,
};
use serde_json::Value;
use serde_yaml_ng::Value as Yaml;

/// How long a step may take to reach Alertmanager's webhook: scrape (1 s),
/// the scaled `for:` (at most a minute for an hour), group wait (1 s).
const STEP: Duration = Duration::from_secs(90);

#[test]
fn disk_levels_page_once_each_without_gaps_and_resolve_on_clear() {
    let stack = Stack::start();
    let ns = Namespace::new();
    let mount = percent_tmpfs(&ns, "data");
    let m = mount.to_str().unwrap().to_string();
    let _tools = stack.run_disk_tools(&ns, &mount);

    ns.fill_percent(&mount, 50);
    stack.wait_scraped(&format!(
        "disk_alert_level{{mountpoint=\"{m}\",measure=\"space\"}} == 0"
    ));
    stack.wait_scraped(&format!(
        "healthmon_alert_level{{mountpoint=\"{m}\",metric=\"disk\"}} == 0"
    ));

    let start = unix_now();
    ns.fill_percent(&mount, 85);
    stack.wait_page("FilesystemSpaceWarning", &m, "firing");
    ns.fill_percent(&mount, 95);
    stack.wait_page("FilesystemSpaceCritical", &m, "firing");
    ns.fill_percent(&mount, 100);
    stack.wait_page("FilesystemFull", &m, "firing");
    ns.fill_percent(&mount, 95);
    stack.wait_page("FilesystemFull", &m, "resolved");
    ns.fill_percent(&mount, 85);
    stack.wait_page("FilesystemSpaceCritical", &m, "resolved");
    ns.fill_percent(&mount, 0);
    stack.wait_page("FilesystemSpaceWarning", &m, "resolved");
    let end = unix_now();

    let pages = stack.pages_for(&m);
    // One mount pages once per level: healthmon's own disk alert for it is
    // inhibited by disk-alert's, and a lower level is not paged again while
    // a higher one fires.
    let firing: Vec<&str> = pages
        .iter()
        .filter(|(_, status)| status == "firing")
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        firing,
        [
            "FilesystemSpaceWarning",
            "FilesystemSpaceCritical",
            "FilesystemFull"
        ],
        "pages for {m}: {pages:?}"
    );
    let resolved: Vec<&str> = pages
        .iter()
        .filter(|(_, status)| status == "resolved")
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        resolved,
        [
            "FilesystemFull",
            "FilesystemSpaceCritical",
            "FilesystemSpaceWarning"
        ],
        "pages for {m}: {pages:?}"
    );

    // No gap: from the first page to the clear, Prometheus had some alert
    // firing for the mount at every evaluation.
    let first = stack
        .first_firing(&m)
        .expect("Prometheus recorded the warning firing");
    let series = stack.query_range(
        &format!("count(ALERTS{{alertstate=\"firing\",mountpoint=\"{m}\"}})"),
        first,
        end,
    );
    assert!(first >= start);
    let seen: Vec<f64> = series.iter().map(|(t, _)| *t).collect();
    let mut t = first;
    // The clear itself takes a scrape to show: stop a few seconds short.
    while t < end - 5.0 {
        assert!(
            seen.iter().any(|s| (s - t).abs() < 1.01),
            "no alert firing for {m} at {t} (from {first} to {end}): {seen:?}"
        );
        t += 1.0;
    }

    stack.assert_no_dropped_series();
}

/// A tool that stopped (its last success two hours old) and a backup three
/// days old page through the same stack.
#[test]
fn a_stopped_tool_and_an_old_backup_page() {
    require("faketime", "faketime");
    let stack = Stack::start();
    let prom = stack.textfiles();

    // healthmon as it last ran two hours ago, then never again.
    let out = Command::new("faketime")
        .arg("2 hours ago")
        .arg(tool_path("healthmon"))
        .args([
            "--once",
            "--no-state",
            "--top",
            "0",
            "--format",
            "jsonl",
            "--prom-file",
        ])
        .arg(prom.join("healthmon.prom"))
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c < 2), "{out:?}");

    // A backup made three days ago, listed now.
    let work = tempfile::tempdir().unwrap();
    let (source, dest) = (work.path().join("src"), work.path().join("backup"));
    std::fs::create_dir_all(&source).unwrap();
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(source.join("a.txt"), "data\n").unwrap();
    let out = Command::new("faketime")
        .arg("3 days ago")
        .arg(tool_path("backup-rotate"))
        .args(["--format", "jsonl", "create"])
        .arg("--source")
        .arg(&source)
        .arg("--dest")
        .arg(&dest)
        .args(["--name", "etc"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = tool("backup-rotate")
        .args(["--format", "jsonl", "list", "--dest"])
        .arg(&dest)
        .arg("--prom-file")
        .arg(prom.join("backup-rotate.prom"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    stack.wait_page_named("SecopsToolNotReporting", "tool", "healthmon");
    stack.wait_page_named("BackupTooOld", "name", "etc");
    stack.assert_no_dropped_series();
}

/// Every expression of the Grafana dashboard, and its `$instance`
/// variable's selector, returns data from a real Prometheus scraping the
/// real tools' textfiles (recording rules included). Swap is the one
/// exception, and only on a host with none, where healthmon writes no
/// swap series.
#[test]
fn every_dashboard_expression_returns_data() {
    let stack = Stack::start();
    let prom = stack.textfiles();
    let once = |name: &str, args: &[&str]| {
        let out = tool(name)
            .args(args)
            .arg("--prom-file")
            .arg(prom.join(format!("{name}.prom")))
            .output()
            .unwrap();
        assert!(out.status.code().is_some_and(|c| c < 2), "{name}: {out:?}");
    };
    // A warn level of 1% makes a finding on /, for the findings panel.
    let disk = ["--mount", "/", "--warn", "1", "--crit", "99"];
    once(
        "disk-alert",
        &[&disk[..], &["--no-log", "--no-state"]].concat(),
    );
    once("healthmon", &["--once", "--no-state", "--mount", "/"]);
    once("traffic-cop", &["--no-state"]);
    let work = tempfile::tempdir().unwrap();
    let (source, dest) = (work.path().join("src"), work.path().join("backup"));
    std::fs::create_dir_all(&source).unwrap();
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(source.join("a.txt"), "data\n").unwrap();
    let (source, dest) = (source.to_str().unwrap(), dest.to_str().unwrap());
    once(
        "backup-rotate",
        &[
            "create", "--source", source, "--dest", dest, "--name", "etc",
        ],
    );

    let no_swap = std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["SwapTotal:", "0", "kB"]);
    let mut targets = dashboard_targets();
    assert!(targets.len() >= 9, "{targets:?}");
    targets.push(("$instance".into(), "node_textfile_scrape_error".into()));
    for (title, expr) in &targets {
        if no_swap && expr.contains("swap") {
            continue;
        }
        let answered = wait_until(STEP, || !stack.query(expr).is_empty());
        assert!(
            answered,
            "{title}: {expr} returns nothing; Prometheus has: {:?}",
            stack.query("{__name__=~\"disk_alert.*|healthmon.*|backup.*|traffic.*|instance:.*\"}")
        );
    }
    stack.assert_no_dropped_series();
}

/// Why no tool writes `node_*` families by default: beside node_exporter's
/// own filesystem collector, `--prom-node`'s series are dropped, the scrape
/// still succeeds, and only node_exporter's log says so. This is also what
/// makes [`Stack::assert_no_dropped_series`] able to fail.
#[test]
fn node_families_beside_node_exporters_collectors_are_dropped_silently() {
    let stack = Stack::start();
    let out = tool("disk-alert")
        .args([
            "--mount",
            "/",
            "--no-log",
            "--no-state",
            "--format",
            "jsonl",
        ])
        .args(["--prom-node", "--prom-file"])
        .arg(stack.textfiles().join("disk-alert.prom"))
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c < 2), "{out:?}");
    let scraped = wait_until(STEP, || {
        !stack
            .query("disk_alert_last_success_timestamp_seconds")
            .is_empty()
    });
    assert!(scraped, "Prometheus never scraped disk-alert.prom");
    assert!(
        stack.query("node_textfile_scrape_error == 1").is_empty(),
        "the scrape itself reports no error"
    );
    assert!(
        wait_until(STEP, || stack.node.log().contains("collected before")),
        "node_exporter logged no dropped series: {}",
        stack.node.log()
    );
}

/// node_exporter, Prometheus and Alertmanager on loopback with the repo's
/// configurations, and the webhook they page.
struct Stack {
    node: Daemon,
    prometheus: Daemon,
    _alertmanager: Daemon,
    hook: Webhook,
    textfiles: tempfile::TempDir,
}

impl Stack {
    fn start() -> Stack {
        let node_exporter = require("prometheus-node-exporter", "prometheus-node-exporter");
        let prometheus = require("prometheus", "prometheus");
        let alertmanager = require("prometheus-alertmanager", "prometheus-alertmanager");
        let textfiles = tempfile::tempdir().unwrap();
        // node_exporter reads the textfiles as another user would.
        set_mode(textfiles.path(), 0o755);
        let hook = Webhook::start();

        let port = free_port("127.0.0.1");
        let node = Daemon::start(
            Command::new(node_exporter)
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg(format!(
                    "--collector.textfile.directory={}",
                    textfiles.path().display()
                )),
            tempfile::tempdir().unwrap(),
            "127.0.0.1",
            port,
        );

        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("alertmanager.yml");
        write_yaml(&config, &alertmanager_config(hook.port));
        let port = free_port("127.0.0.1");
        let am = Daemon::start(
            Command::new(alertmanager)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--cluster.listen-address="),
            dir,
            "127.0.0.1",
            port,
        );

        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        let rules = scaled_rules(dir.path());
        write_yaml(&config, &prometheus_config(node.port, am.port, &rules));
        let port = free_port("127.0.0.1");
        let prom = Daemon::start(
            Command::new(prometheus)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}")),
            dir,
            "127.0.0.1",
            port,
        );
        // Listening is not ready: queries get 503 while the TSDB opens.
        let ready = wait_until(STEP, || http_get(prom.port, "/-/ready").contains("Ready"));
        assert!(ready, "Prometheus never became ready: {}", prom.log());
        Stack {
            node,
            prometheus: prom,
            _alertmanager: am,
            hook,
            textfiles,
        }
    }

    fn textfiles(&self) -> &Path {
        self.textfiles.path()
    }

    /// disk-alert and healthmon as a host runs them, against `mount`
    /// inside the namespace; killed on drop.
    fn run_disk_tools(&self, ns: &Namespace, mount: &Path) -> Tools {
        let prom = self.textfiles();
        let mut disk = ns.command(tool_path("disk-alert").to_str().unwrap());
        disk.arg("--mount")
            .arg(mount)
            .args(["--inodes", "--interval", "1s", "--no-log", "--no-state"])
            .args(["--format", "jsonl", "--prom-file"])
            .arg(prom.join("disk-alert.prom"));
        let mut health = ns.command(tool_path("healthmon").to_str().unwrap());
        health
            .arg("--config")
            .arg(repo("config/healthmon.yaml"))
            .arg("--mount")
            .arg(mount)
            .args([
                "--interval",
                "1s",
                "--alerts-only",
                "--no-state",
                "--top",
                "0",
            ])
            .args(["--format", "jsonl", "--prom-file"])
            .arg(prom.join("healthmon.prom"));
        Tools(
            [disk, health]
                .iter_mut()
                .map(|cmd| cmd.stdout(Stdio::null()).spawn().unwrap())
                .collect(),
        )
    }

    /// Waits until an instant query returns a sample.
    fn wait_scraped(&self, query: &str) {
        let found = wait_until(STEP, || !self.query(query).is_empty());
        assert!(found, "Prometheus never had {query}");
    }

    fn query(&self, query: &str) -> Vec<Value> {
        let body = http_get(
            self.prometheus.port,
            &format!("/api/v1/query?query={}", encode(query)),
        );
        let reply: Value = serde_json::from_str(&body).unwrap();
        reply["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// (time, value) of the first series `query` returns over a range.
    fn query_range(&self, query: &str, start: f64, end: f64) -> Vec<(f64, f64)> {
        let body = http_get(
            self.prometheus.port,
            &format!(
                "/api/v1/query_range?query={}&start={start}&end={end}&step=1",
                encode(query)
            ),
        );
        let reply: Value = serde_json::from_str(&body).unwrap();
        let Some(series) = reply["data"]["result"].get(0) else {
            return Vec::new();
        };
        series["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v[0].as_f64().unwrap(),
                    v[1].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect()
    }

    /// When Prometheus first had an alert firing for `mountpoint`.
    fn first_firing(&self, mountpoint: &str) -> Option<f64> {
        let now = unix_now();
        self.query_range(
            &format!("count(ALERTS{{alertstate=\"firing\",mountpoint=\"{mountpoint}\"}})"),
            now - 3600.0,
            now,
        )
        .first()
        .map(|(t, _)| *t)
    }

    /// Waits for the webhook to get `alertname` for `mountpoint` with
    /// `status`.
    fn wait_page(&self, alertname: &str, mountpoint: &str, status: &str) {
        let paged = wait_until(STEP, || {
            self.pages_for(mountpoint)
                .iter()
                .any(|(name, s)| name == alertname && s == status)
        });
        assert!(
            paged,
            "no {status} {alertname} for {mountpoint}; pages: {:?}\nfiring in Prometheus: {:?}",
            self.pages_for(mountpoint),
            self.query("ALERTS")
        );
    }

    /// Waits for the webhook to get `alertname` firing with `label` set
    /// to `value`.
    fn wait_page_named(&self, alertname: &str, label: &str, value: &str) {
        let paged = wait_until(STEP, || {
            self.hook.alerts().iter().any(|a| {
                a["labels"]["alertname"] == alertname
                    && a["labels"][label] == value
                    && a["status"] == "firing"
            })
        });
        assert!(
            paged,
            "no {alertname} with {label}={value}; pages: {:?}\nfiring in Prometheus: {:?}",
            self.hook.alerts(),
            self.query("ALERTS")
        );
    }

    /// (alertname, status) of every alert about `mountpoint` the webhook
    /// got, in order, each notification's alerts once: Alertmanager resends
    /// a group with all its alerts, so only changes count as pages.
    fn pages_for(&self, mountpoint: &str) -> Vec<(String, String)> {
        let mut last: BTreeMap<String, String> = BTreeMap::new();
        let mut pages = Vec::new();
        for alert in self.hook.alerts() {
            if alert["labels"]["mountpoint"] != mountpoint {
                continue;
            }
            let name = alert["labels"]["alertname"].as_str().unwrap().to_string();
            let status = alert["status"].as_str().unwrap().to_string();
            if last.get(&name) != Some(&status) {
                last.insert(name.clone(), status.clone());
                pages.push((name, status));
            }
        }
        pages
    }

    /// node_exporter drops a textfile series another collector has and
    /// says so only in its log; the scrape must also have no error.
    fn assert_no_dropped_series(&self) {
        let log = self.node.log();
        assert!(
            !log.contains("collected before"),
            "node_exporter dropped series: {log}"
        );
        let errors = self.query("node_textfile_scrape_error == 1");
        assert!(errors.is_empty(), "textfile scrape errors: {errors:?}");
    }
}

/// The tools a test started; killed on drop.
struct Tools(Vec<Child>);

impl Drop for Tools {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// prometheus/prometheus.yml pointed at the test's ports, scraping and
/// evaluating every second, with the scaled rules.
fn prometheus_config(node: u16, alertmanager: u16, rules: &[PathBuf]) -> Yaml {
    let mut config = read_yaml(&repo("prometheus/prometheus.yml"));
    config["global"]["scrape_interval"] = "1s".into();
    config["global"]["evaluation_interval"] = "1s".into();
    let target = |port: u16| -> Yaml {
        serde_yaml_ng::from_str(&format!("[{{targets: ['127.0.0.1:{port}']}}]")).unwrap()
    };
    let scrapes = config["scrape_configs"].as_sequence_mut().unwrap();
    scrapes.retain(|s| {
        serde_yaml_ng::to_string(&s["static_configs"])
            .unwrap()
            .contains(":9100")
    });
    assert_eq!(scrapes.len(), 1, "one scrape job of node_exporter's :9100");
    scrapes[0]["static_configs"] = target(node);
    scrapes[0]["scrape_interval"] = "1s".into();
    config["alerting"]["alertmanagers"][0]["static_configs"] = target(alertmanager);
    config["rule_files"] = rules
        .iter()
        .map(|p| Yaml::from(p.to_str().unwrap()))
        .collect::<Vec<_>>()
        .into();
    config
}

/// The rule files prometheus.yml names, with every `for:` divided by 60.
fn scaled_rules(dir: &Path) -> Vec<PathBuf> {
    let config = read_yaml(&repo("prometheus/prometheus.yml"));
    let files = config["rule_files"].as_sequence().expect("rule_files");
    files
        .iter()
        .map(|file| {
            let name = file.as_str().unwrap();
            let mut rules = read_yaml(&repo("prometheus").join(name));
            for group in rules["groups"].as_sequence_mut().unwrap() {
                for rule in group["rules"].as_sequence_mut().unwrap() {
                    if let Some(wait) = rule.get("for").and_then(Yaml::as_str) {
                        let millis = duration_millis(wait) / 60;
                        rule["for"] = format!("{}ms", millis.max(1)).into();
                    }
                }
            }
            let path = dir.join(Path::new(name).file_name().unwrap());
            write_yaml(&path, &rules);
            path
        })
        .collect()
}

/// prometheus/alertmanager.yml with one-second group waits everywhere and
/// every receiver paging the test's webhook.
fn alertmanager_config(hook: u16) -> Yaml {
    let mut config = read_yaml(&repo("prometheus/alertmanager.yml"));
    fn quicken(route: &mut Yaml) {
        if route.get("group_wait").is_some() || route.get("receiver").is_some() {
            route["group_wait"] = "1s".into();
            route["group_interval"] = "1s".into();
        }
        if let Some(routes) = route.get_mut("routes").and_then(Yaml::as_sequence_mut) {
            routes.iter_mut().for_each(quicken);
        }
    }
    quicken(&mut config["route"]);
    let webhook: Yaml = serde_yaml_ng::from_str(&format!(
        "[{{url: 'http://127.0.0.1:{hook}/', send_resolved: true}}]"
    ))
    .unwrap();
    for receiver in config["receivers"].as_sequence_mut().unwrap() {
        let name = receiver["name"].clone();
        let mut only: serde_yaml_ng::Mapping = serde_yaml_ng::Mapping::new();
        only.insert("name".into(), name);
        only.insert("webhook_configs".into(), webhook.clone());
        *receiver = Yaml::Mapping(only);
    }
    config
}

/// Prometheus's duration syntax (`1h30m`, `5m`, `90s`) in milliseconds.
fn duration_millis(text: &str) -> u64 {
    let mut total = 0;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            1
        } else {
            match c {
                's' => 1_000,
                'm' => 60_000,
                'h' => 3_600_000,
                'd' => 86_400_000,
                'w' => 7 * 86_400_000,
                'y' => 365 * 86_400_000,
                _ => panic!("{text}: not a Prometheus duration"),
            }
        };
        total += number.parse::<u64>().unwrap() * unit;
        number.clear();
    }
    total
}

fn read_yaml(path: &Path) -> Yaml {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn write_yaml(path: &Path, value: &Yaml) {
    std::fs::write(path, serde_yaml_ng::to_string(value).unwrap()).unwrap();
    set_mode(path, 0o644);
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A URL query component.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The body of a plain HTTP/1.0 GET on loopback.
fn http_get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
}

#[test]
fn durations_read_as_prometheus_reads_them() {
    assert_eq!(duration_millis("5m"), 300_000);
    assert_eq!(duration_millis("1h30m"), 5_400_000);
    assert_eq!(duration_millis("250ms"), 250);
}
