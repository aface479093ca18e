//! The HTML report, made from the real tools' output and opened in a real
//! headless Chromium: its counts, its sorting and filtering, its escaping
//! of hostile names, its self-containment, and how it looks (screenshots
//! are saved under target/ for a person to look at).

mod browser;
mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use secops_testkit::{records, run_with_stdin, stderr, tool, tool_path};
use serde_json::Value;

use browser::{Browser, Scripts};
use common::{jsonl, record, report, report_in, with, write};

/// A name made to break out of HTML text, attributes and script blocks
/// (U+2028 ends a line for older JavaScript parsers).
const HOSTILE_HOST: &str = "</script><svg onload=alert(3)>\u{2028}";
/// A directory and file name for a listening process, so traffic-cop's
/// `exe`, `process` and `cmdline` carry markup.
const HOSTILE_DIR: &str = "\"><img src=x onerror=alert(1)>";
const HOSTILE_FILE: &str = "<script>alert(2)";
/// A log line anomalizer will find rare, so its template carries markup
/// into the table and the SVG timeline.
const HOSTILE_LOG: &str = "kernel: \"><img src=y onerror=alert(5)> <b>bold</b> & done";

fn run_to_file(mut cmd: Command, path: &Path) -> i32 {
    let out = cmd.output().unwrap();
    std::fs::write(path, &out.stdout).unwrap();
    assert!(
        !out.stdout.is_empty(),
        "{cmd:?} wrote nothing: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.code().unwrap()
}

/// A copy of python3 at a hostile path, listening on loopback; killed on drop.
struct Listener {
    child: std::process::Child,
    port: u16,
}

impl Listener {
    fn start(dir: &Path) -> Listener {
        let home = dir.join(HOSTILE_DIR);
        std::fs::create_dir_all(&home).unwrap();
        let exe = home.join(HOSTILE_FILE);
        let python = std::fs::canonicalize("/usr/bin/python3")
            .expect("python3 is needed for a listening process: apt-get install python3");
        std::fs::copy(python, &exe).unwrap();
        let mut python = Command::new(&exe);
        python
            .args(["-c", "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen()\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()"])
            // The copy is not where python3 looks for its library.
            .env("PYTHONHOME", "/usr")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        // Another test thread forking while the copy was open for writing
        // holds it open for a moment (ETXTBSY) until that child execs.
        let mut tries = 0;
        let mut child = loop {
            match python.spawn() {
                Err(err) if err.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                spawned => break spawned.unwrap(),
            }
        };
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the listener prints its port");
        Listener { child, port }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Records from traffic-cop, healthmon (a series, on a host with a hostile
/// name in its own UTS namespace), disk-alert and anomalizer, each run for
/// real, and the report secops-report made of them.
struct Made {
    report: PathBuf,
    inputs: Vec<PathBuf>,
    hostile_port: u16,
}

fn make_report(dir: &Path) -> Made {
    let listener = Listener::start(dir);
    let ports = write(
        dir,
        "ports.json",
        r#"{"ports": [{"port": 1, "scope": "loopback"}]}"#,
    );
    let traffic = dir.join("traffic.jsonl");
    let mut cop = tool("traffic-cop");
    cop.args(["--format", "jsonl", "--no-state", "--whitelist"])
        .arg(&ports);
    assert_eq!(run_to_file(cop, &traffic), 1, "unapproved ports are found");
    let hostile_port = listener.port;
    drop(listener);

    let health = dir.join("health.jsonl");
    let mut healthmon = Command::new("unshare");
    healthmon
        // hostname(1) refuses such a name; the kernel takes any bytes.
        .args(["--uts", "python3", "-c", "import os, socket, sys\nsocket.sethostname(sys.argv[1])\nos.execv(sys.argv[2], sys.argv[2:])", HOSTILE_HOST])
        .arg(tool_path("healthmon"))
        .args(["--interval", "1s", "--count", "3", "--top", "3", "--no-state", "--format", "jsonl"]);
    run_to_file(healthmon, &health);

    let disk = dir.join("disk.jsonl");
    let mut disk_alert = tool("disk-alert");
    disk_alert.args(["--all", "--no-state", "--format", "jsonl"]);
    run_to_file(disk_alert, &disk);

    let mut log = String::new();
    for i in 0..300 {
        log.push_str(&format!(
            "2026-11-21T19:{:02}:{:02}Z sshd[{}]: Accepted publickey for deploy from 10.0.0.{} port {}\n",
            i / 60,
            i % 60,
            1000 + i,
            i % 250,
            40000 + i
        ));
        if i % 3 == 0 {
            log.push_str(&format!("2026-11-21T19:{:02}:{:02}Z sshd[{}]: Failed password for user{} from 10.1.0.{} port 22\n", i / 60, i % 60, 2000 + i, i % 7, i % 200));
        }
    }
    log.push_str(&format!("2026-11-21T19:05:30Z {HOSTILE_LOG}\n"));
    let log = write(dir, "app.log", log);
    let anomalies = dir.join("anomalies.jsonl");
    let mut anomalizer = tool("anomalizer");
    anomalizer
        .args(["--no-state", "--format", "jsonl", "--log"])
        .arg(&log);
    run_to_file(anomalizer, &anomalies);

    let inputs = vec![traffic, health, disk, anomalies];
    let report = dir.join("report.html");
    let mut args = vec!["-o".to_string(), report.display().to_string()];
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = report_in(dir, &args, b"");
    assert_eq!(run.status, 1, "high findings make exit 1: {}", run.stderr);
    Made {
        report,
        inputs,
        hostile_port,
    }
}

/// Severity counts of the input, read independently of secops-report.
fn expected_counts(inputs: &[PathBuf]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for path in inputs {
        for line in std::fs::read_to_string(path).unwrap().lines() {
            let rec: Value = serde_json::from_str(line).unwrap();
            *counts
                .entry(rec["severity"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    counts
}

fn target_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join(name)
}

#[test]
fn report_of_real_tool_output_works_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let made = make_report(dir.path());
    let expected = expected_counts(&made.inputs);
    let total: u64 = expected.values().sum();

    let browser = Browser::start(Scripts::On);
    browser.open(&made.report);

    // The counts shown are the input's.
    let shown = browser.eval(
        "const c = {}; for (const li of document.querySelectorAll('ul.counts li')) \
         c[li.dataset.severity] = Number(li.querySelector('.n').textContent); \
         return {counts: c, records: document.querySelector('.headline').dataset.records, \
         summary: JSON.parse(document.getElementById('secops-summary').textContent)};",
    );
    for severity in ["info", "low", "medium", "high", "critical"] {
        let want = expected.get(severity).copied().unwrap_or(0);
        assert_eq!(shown["counts"][severity], want, "{severity} count shown");
        assert_eq!(shown["summary"]["severity"][severity], want);
    }
    assert_eq!(shown["records"], total.to_string());
    assert!(
        expected["high"] >= 1 && expected["medium"] >= 1,
        "{expected:?}"
    );

    // Hostile names are text: visible, and nothing they spell ran or exists.
    let safety = browser.eval(
        "return {injected: document.querySelectorAll('[onload],[onerror],img,b').length, \
         scripts: document.scripts.length, text: document.body.innerText, \
         hosts: document.querySelector('.hosts').textContent, \
         legend: Array.from(document.querySelectorAll('ul.legend li')).map(e => e.textContent), \
         svgText: Array.from(document.querySelectorAll('svg text')).map(e => e.textContent).join('\\n'), \
         summaryHosts: JSON.parse(document.getElementById('secops-summary').textContent).hosts};",
    );
    assert_eq!(safety["injected"], 0);
    assert_eq!(
        safety["scripts"], 2,
        "only the page's own two script elements"
    );
    let text = safety["text"].as_str().unwrap();
    for hostile in [HOSTILE_FILE, HOSTILE_DIR, "<b>bold</b> &amp; done"] {
        let hostile = hostile.replace("&amp;", "&");
        assert!(text.contains(&hostile), "{hostile} is shown as text");
    }
    assert!(safety["hosts"].as_str().unwrap().contains(HOSTILE_HOST));
    assert!(
        safety["summaryHosts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h == HOSTILE_HOST)
    );
    assert!(
        safety["legend"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == HOSTILE_HOST),
        "{}",
        safety["legend"]
    );
    assert!(
        safety["svgText"]
            .as_str()
            .unwrap()
            .contains("<img src=y onerror=alert("),
        "template label in the SVG"
    );

    // Sorting: the traffic-cop table by port, then the other way.
    let ports_js = "const t = Array.from(document.querySelectorAll('.kind')).find(k => k.querySelector('h3').firstChild.textContent.trim() === 'port').querySelector('table'); \
                    const col = Array.from(t.tHead.rows[0].cells).findIndex(c => c.textContent.startsWith('port')); \
                    return Array.from(t.tBodies[0].rows).filter(r => !r.hidden).map(r => Number(r.cells[col].textContent));";
    let before: Vec<u64> = serde_json::from_value(browser.eval(ports_js)).unwrap();
    assert!(before.contains(&u64::from(made.hostile_port)));
    let port_header = browser.eval(
        "const t = Array.from(document.querySelectorAll('.kind')).find(k => k.querySelector('h3').firstChild.textContent.trim() === 'port'); \
         const th = Array.from(t.querySelectorAll('th')).find(c => c.textContent === 'port'); th.id = 'port-header'; return th.querySelector('button') !== null;",
    );
    assert_eq!(port_header, true, "the script made the header a button");
    let button = browser.find("#port-header button");
    browser.click(&button);
    let ascending: Vec<u64> = serde_json::from_value(browser.eval(ports_js)).unwrap();
    let mut sorted = before.clone();
    sorted.sort();
    assert_eq!(ascending, sorted);
    browser.click(&button);
    let descending: Vec<u64> = serde_json::from_value(browser.eval(ports_js)).unwrap();
    sorted.reverse();
    assert_eq!(descending, sorted);

    // Filtering: typing the hostile port leaves its row only.
    browser.eval(
        "const k = Array.from(document.querySelectorAll('.kind')).find(k => k.querySelector('h3').firstChild.textContent.trim() === 'port'); \
         k.querySelector('input').id = 'port-filter'; k.querySelector('.shown').id = 'port-shown';",
    );
    let filter = browser.find("#port-filter");
    browser.type_into(&filter, &made.hostile_port.to_string());
    let left: Vec<u64> = serde_json::from_value(browser.eval(ports_js)).unwrap();
    assert_eq!(left, [u64::from(made.hostile_port)]);
    let counter = browser.eval("return document.getElementById('port-shown').textContent;");
    assert_eq!(counter, format!("1 of {} rows", before.len()));

    // The severity filter of the healthmon tables: only records at or above.
    let severity = browser.eval(
        "const boxes = Array.from(document.querySelectorAll('[data-table]')); \
         const box = boxes.find(b => b.querySelector('h3').firstChild.textContent.trim() === 'health.sample'); \
         const select = box.querySelector('select'); select.value = '3'; select.dispatchEvent(new Event('change')); \
         return Array.from(box.querySelectorAll('tbody tr')).filter(r => !r.hidden).length;",
    );
    assert_eq!(severity, 0, "health.sample records are all info");

    // No console output at all: no errors, no CSP violations, no alerts.
    let console = browser.console();
    assert!(console.is_empty(), "browser console: {console:#?}");

    // For a person to look at: the whole page, then a phone's view.
    browser.eval(
        "const f = document.getElementById('port-filter'); f.value = ''; f.dispatchEvent(new Event('input')); \
         for (const s of document.querySelectorAll('.controls select')) { s.value = '0'; s.dispatchEvent(new Event('change')); }",
    );
    let height = browser
        .eval("window.scrollTo(0, 0); return document.documentElement.scrollHeight;")
        .as_u64()
        .unwrap();
    browser.resize(1280, height.clamp(900, 6000) as u32);
    browser.screenshot(&target_file("report-screenshot.png"));
    browser.resize(390, 844);
    browser.eval("window.scrollTo(0, 0);");
    let overflow = browser.eval("return document.documentElement.scrollWidth - window.innerWidth;");
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "the page is wider than a phone: {overflow}"
    );
    browser.screenshot(&target_file("report-phone.png"));

    // Print: controls are hidden and the tables unclipped.
    browser.devtools(
        "Emulation.setEmulatedMedia",
        serde_json::json!({"media": "print"}),
    );
    let print = browser.eval(
        "return {controls: getComputedStyle(document.querySelector('.controls')).display, \
         scroll: getComputedStyle(document.querySelector('.scroll')).overflowX};",
    );
    assert_eq!(print["controls"], "none");
    assert_eq!(print["scroll"], "visible");
    let pdf = browser.print_pdf();
    assert!(pdf.starts_with(b"%PDF"), "printing makes a PDF");
    assert!(browser.console().is_empty());
}

#[test]
fn the_report_reads_without_javascript() {
    let dir = tempfile::tempdir().unwrap();
    let records = [
        with(
            record(
                "web1",
                "traffic-cop",
                "port",
                "high",
                "tcp 0.0.0.0:8080 is held by python3",
            ),
            &[("port", 8080.into())],
        ),
        with(
            record(
                "web2",
                "traffic-cop",
                "port",
                "info",
                "tcp 0.0.0.0:22 is held by sshd",
            ),
            &[("port", 22.into())],
        ),
    ];
    let input = write(dir.path(), "in.jsonl", jsonl(&records));
    let page = dir.path().join("r.html");
    let run = report(
        &["-o", page.to_str().unwrap(), input.to_str().unwrap()],
        b"",
    );
    assert_eq!(run.status, 1, "{}", run.stderr);

    let browser = Browser::start(Scripts::Off);
    browser.open(&page);
    browser.screenshot(&target_file("report-no-javascript.png"));
    // With scripts off no controls are added, yet every row is there.
    let rows = browser.eval(
        "return {rows: document.querySelectorAll('tbody tr').length, controls: document.querySelectorAll('.controls').length, \
         headline: document.querySelector('.headline').textContent};",
    );
    assert_eq!(rows["rows"], 2);
    assert_eq!(rows["controls"], 0, "the page script did not run");
    assert_eq!(rows["headline"], "2 records from 2 hosts");
}

#[test]
fn the_page_is_self_contained() {
    let records = [
        with(
            record("web1", "healthmon", "health.sample", "info", "cpu 10%"),
            &[("cpu_percent", 10.0.into()), ("mem_percent", 40.0.into())],
        ),
        with(
            record(
                "web1",
                "anomalizer",
                "log.rare_template",
                "medium",
                "see https://evil.example/x.js",
            ),
            &[
                ("template", "GET //evil.example/a.js".into()),
                ("first_time", "2026-11-21T18:00:00Z".into()),
                ("last_time", "2026-11-21T18:10:00Z".into()),
            ],
        ),
    ];
    let run = report(&["--format", "html"], jsonl(&records).as_bytes());
    assert_eq!(run.status, 0, "{}", run.stderr);
    let html = run.stdout;
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Record text may mention URLs as text; the page itself loads nothing.
    let page_only = html
        .replace("https://evil.example/x.js", "")
        .replace("//evil.example/a.js", "");
    for reference in [
        "http:",
        "https:",
        "src=",
        "href=\"//",
        "<link",
        "@import",
        "url(",
        "<iframe",
        "<object",
    ] {
        assert!(
            !page_only.contains(reference),
            "the page refers to {reference}"
        );
    }
    assert!(html.contains("<svg"), "charts are inline SVG");
    assert!(
        html.contains("default-src 'none'"),
        "a CSP forbids loading anything"
    );
}

#[test]
fn html_follows_the_extension_and_refuses_table_only_flags() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "in.jsonl",
        jsonl(&[record("web1", "t", "k", "info", "m")]),
    );
    let run = report_in(dir.path(), &["-o", "out.HTML", "in.jsonl"], b"");
    assert_eq!(run.status, 0, "{}", run.stderr);
    let page = std::fs::read_to_string(dir.path().join("out.HTML")).unwrap();
    assert!(page.contains("1 record from web1"));
    for flag in [&["--group-by", "host"][..], &["--columns", "severity"]] {
        let mut args = vec!["--format", "html", input.to_str().unwrap()];
        args.extend_from_slice(flag);
        let run = report(&args, b"");
        assert_eq!(run.status, 2, "{flag:?}");
        assert!(run.stderr.contains("HTML"), "{}", run.stderr);
    }
}

/// The console check above must be able to fail: a page that logs an error
/// and opens an alert is caught by the same harness.
#[test]
fn the_browser_harness_sees_console_errors_and_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let page = write(
        dir.path(),
        "bad.html",
        "<!DOCTYPE html><title>bad</title><script>console.error('boom'); undefinedFunction();</script>",
    );
    let browser = Browser::start(Scripts::On);
    browser.open(&page);
    let console = browser.console();
    let text = serde_json::to_string(&console).unwrap();
    assert!(
        text.contains("boom") && text.contains("undefinedFunction"),
        "{text}"
    );
    browser.eval("setTimeout(() => alert(1), 0);");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        browser.try_eval("return 1;").is_err(),
        "an open alert is reported"
    );
}

/// anomalizer's JSON Lines for `log`, read from stdin as in
/// `anomalizer --format jsonl | secops-report`.
fn anomalizer_records(log: String) -> Vec<Value> {
    let out = run_with_stdin(
        tool("anomalizer").args(["--no-state", "--format", "jsonl"]),
        log.as_bytes(),
    );
    assert!(out.status.code().unwrap() <= 1, "{}", stderr(&out));
    records(&out.stdout)
}

#[test]
fn anomalizer_lines_per_hour_are_charted_per_host_with_templates_as_text() {
    const HOSTILE_TEMPLATE: &str =
        "waf <script>alert(x)</script> blocked \"><img src=z onerror=alert(x)>";
    // Hours 10 to 14: a worker line (h - 9) * 10 times an hour but none
    // at 12:00, and a hostile line 3 times every hour.
    let mut log = String::new();
    let mut worker = BTreeMap::new();
    for h in 10..15 {
        let count = if h == 12 { 0 } else { (h - 9) * 10 };
        worker.insert(h, count);
        for i in 0..count {
            log.push_str(&format!(
                "2026-11-21T{h}:{:02}:00Z worker {i} finished batch ok\n",
                i % 60
            ));
        }
        for i in 0..3 {
            log.push_str(&format!("2026-11-21T{h}:30:{i:02}Z {HOSTILE_TEMPLATE}\n"));
        }
    }
    let mut records = anomalizer_records(log);
    // The same run as a second host's, as remote-run would relay it.
    let fleet: Vec<Value> = records
        .iter()
        .map(|r| with(r.clone(), &[("host", "web2".into())]))
        .collect();
    records.extend(fleet);
    let dir = tempfile::tempdir().unwrap();
    let run = report_in(dir.path(), &["-o", "page.html"], jsonl(&records).as_bytes());
    assert!(run.status <= 1, "{}", run.stderr);

    let browser = Browser::start(Scripts::On);
    browser.open(&dir.path().join("page.html"));
    let charts = browser.eval(
        "const h = Array.from(document.querySelectorAll('h3')).find(e => e.textContent === 'anomalizer: lines per hour by template'); \
         const figures = Array.from(h.parentElement.querySelectorAll('figure')).filter(f => f.querySelector('figcaption').textContent.startsWith('anomalizer: lines per hour')); \
         return {captions: figures.map(f => f.querySelector('figcaption').textContent), \
         legend: figures.map(f => Array.from(f.querySelectorAll('ul.legend li')).map(l => ({text: l.textContent, title: l.getAttribute('title')}))), \
         lines: figures.map(f => Array.from(f.querySelectorAll('polyline')).map(p => p.getAttribute('points').split(' ').length)), \
         dots: Array.from(figures[0].querySelectorAll('circle title')).map(t => t.textContent), \
         injected: document.querySelectorAll('[onerror],img').length, scripts: document.scripts.length};",
    );
    let hostname = records[0]["host"].as_str().unwrap();
    assert_eq!(
        charts["captions"],
        serde_json::json!([
            format!("anomalizer: lines per hour by template on {hostname}"),
            "anomalizer: lines per hour by template on web2"
        ])
    );
    let legend = &charts["legend"][0];
    assert_eq!(legend[0]["text"], "worker <*> finished batch ok");
    let hostile = legend[1]["title"].as_str().unwrap();
    assert!(hostile.contains("<script>alert(x)</script>"), "{legend}");
    assert_eq!(
        legend[1]["text"], hostile,
        "short templates are not clipped"
    );
    assert_eq!(
        charts["lines"],
        serde_json::json!([[5, 5], [5, 5]]),
        "an hour a point"
    );
    for (h, count) in worker {
        let dot = format!("worker <*> finished batch ok: {count} lines at 2026-11-21 {h}:00 UTC");
        assert!(
            charts["dots"].as_array().unwrap().iter().any(|d| d == &dot),
            "{dot}: {}",
            charts["dots"]
        );
    }
    assert_eq!(charts["injected"], 0);
    assert_eq!(
        charts["scripts"], 2,
        "only the page's own two script elements"
    );
    assert!(browser.console().is_empty(), "{:?}", browser.console());

    // No line with a time: a summary without a timeline, and no chart.
    let records =
        anomalizer_records("worker 1 finished batch ok\nworker 2 finished batch ok\n".into());
    let summary = records.iter().find(|r| r["kind"] == "log.summary").unwrap();
    assert_eq!(summary["timeline"], Value::Null);
    let run = report(&["--format", "html"], jsonl(&records).as_bytes());
    assert!(run.status <= 1, "{}", run.stderr);
    assert!(run.stdout.contains("log.summary"));
    assert!(!run.stdout.contains("lines per hour"));
}

/// A sweep's mix: many info rows from healthmon (one sample, as
/// `--once` writes, then its top processes) and disk-alert first, the
/// alerts last, among them ones that resolved or are below high.
fn sweep_records() -> String {
    let mut lines = Vec::new();
    let firing =
        |rec: Value, id: &str| with(rec, &[("alert", "firing".into()), ("alert_id", id.into())]);
    lines.push(with(
        record(
            "web1",
            "healthmon",
            "health.sample",
            "info",
            "cpu 12%, memory 41%",
        ),
        &[
            ("alert", "none".into()),
            ("cpu_percent", 12.5.into()),
            ("mem_percent", 41.5.into()),
        ],
    ));
    for i in 0..18 {
        lines.push(with(
            record(
                "web1",
                "healthmon",
                "health.process",
                "info",
                &format!("process {i}"),
            ),
            &[("alert", "none".into()), ("pid", (1000 + i).into())],
        ));
    }
    for i in 0..300 {
        lines.push(with(
            record(
                "web1",
                "disk-alert",
                "disk.usage",
                "info",
                &format!("/srv/{i} is 12% full"),
            ),
            &[
                ("alert", "none".into()),
                ("mount", format!("/srv/{i}").into()),
            ],
        ));
    }
    lines.push(firing(
        record(
            "web1",
            "traffic-cop",
            "port.opened",
            "high",
            "tcp 0.0.0.0:4444 is listening: not on the whitelist",
        ),
        "traffic-cop:4444",
    ));
    lines.push(firing(
        record(
            "web1",
            "anomalizer",
            "log.anomaly",
            "high",
            "a rare line that later went away",
        ),
        "anomalizer:gone",
    ));
    lines.push(with(
        record("web1", "anomalizer", "log.anomaly", "info", "it went away"),
        &[
            ("alert", "resolved".into()),
            ("alert_id", "anomalizer:gone".into()),
        ],
    ));
    lines.push(firing(
        record(
            "web1",
            "anomalizer",
            "log.anomaly",
            "medium",
            "a medium one",
        ),
        "anomalizer:medium",
    ));
    lines.push(with(
        record(
            "web1",
            "vulnscan",
            "vuln.summary",
            "critical",
            "an observation",
        ),
        &[("alert", "none".into())],
    ));
    lines.push(record(
        "web1",
        "legacy-check",
        "legacy.alert",
        "high",
        "a program without the alert contract",
    ));
    let mut critical = firing(
        record(
            "web1",
            "fim-check",
            "fim.changed",
            "critical",
            "/etc/passwd changed: sha256",
        ),
        "fim-check:passwd",
    );
    critical["ts"] = "2026-11-21T19:09:00Z".into();
    lines.push(critical);
    lines.iter().map(|v| format!("{v}\n")).collect()
}

#[test]
fn the_first_screen_shows_what_needs_attention() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "sweep.jsonl", sweep_records());
    let page = dir.path().join("report.html");
    let run = report_in(
        dir.path(),
        &["-o", page.to_str().unwrap(), input.to_str().unwrap()],
        b"",
    );
    assert_eq!(run.status, 1, "{}", run.stderr);

    let browser = Browser::start(Scripts::On);
    browser.resize(1280, 800);
    browser.open(&page);
    let seen = browser.eval(
        "const items = [...document.querySelectorAll('#attention li')]; \
         return {items: items.map(li => li.textContent), \
                 bottom: Math.max(...items.map(li => li.getBoundingClientRect().bottom)), \
                 height: window.innerHeight, \
                 first_tool: document.querySelector('section.tool-section h2').textContent, \
                 figures: document.querySelectorAll('figure.figures').length, \
                 health_lines: document.querySelectorAll('svg.lines').length};",
    );
    let items: Vec<String> = serde_json::from_value(seen["items"].clone()).unwrap();
    assert_eq!(items.len(), 3, "{items:#?}");
    assert!(
        items[0].starts_with("critical /etc/passwd changed"),
        "{items:#?}"
    );
    assert!(
        items[1..].iter().any(|i| i.contains("4444"))
            && items[1..]
                .iter()
                .any(|i| i.contains("without the alert contract")),
        "{items:#?}"
    );
    assert!(
        seen["bottom"].as_f64().unwrap() <= seen["height"].as_f64().unwrap(),
        "every critical and high alert is on the first screen: {seen}"
    );
    assert!(
        seen["first_tool"]
            .as_str()
            .unwrap()
            .starts_with("fim-check"),
        "{seen}"
    );
    assert_eq!(
        seen["figures"], 2,
        "one sample per host: figures, not dots: {seen}"
    );
    assert_eq!(seen["health_lines"], 0, "{seen}");
    browser.screenshot(&target_file("report-attention.png"));

    // Each item leads to its row, which comes first in its table.
    browser.eval("document.querySelector('#attention li a').click();");
    let target = browser.eval(
        "const row = document.getElementById(location.hash.slice(1)); \
         return {severity: row.cells[0].textContent, first: row.parentElement.rows[0] === row, \
                 visible: row.getBoundingClientRect().top >= 0 && row.getBoundingClientRect().top < window.innerHeight};",
    );
    assert_eq!(target["severity"], "critical", "{target}");
    assert_eq!(target["first"], true);
    assert_eq!(target["visible"], true);

    // Tables open worst first.
    let anomalies = browser.eval(
        "const h = [...document.querySelectorAll('h3')].find(h => h.textContent.startsWith('log.anomaly')); \
         return [...h.parentElement.querySelectorAll('tbody tr')].map(r => r.cells[0].textContent);",
    );
    assert_eq!(anomalies, serde_json::json!(["high", "medium", "info"]));

    browser.resize(390, 844);
    browser.eval("window.scrollTo(0, 0);");
    let phone = browser.eval(
        "return {overflow: document.documentElement.scrollWidth - window.innerWidth, \
                 top: document.getElementById('attention').getBoundingClientRect().top};",
    );
    assert!(phone["overflow"].as_i64().unwrap() <= 0, "{phone}");
    assert!(
        phone["top"].as_f64().unwrap() < 844.0,
        "needs attention starts on a phone's first screen: {phone}"
    );
    browser.screenshot(&target_file("report-attention-phone.png"));
    assert!(browser.console().is_empty(), "{:#?}", browser.console());
}
