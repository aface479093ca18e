//! The central log shipped to a collector as config/rsyslog/ says, with
//! Debian's rsyslog: two hosts' rsyslogd (secops-ship.conf: imfile reading
//! each host's central log, forwarding over RELP through a disk queue) and
//! a collector rsyslogd (secops-collect.conf: one file per host), all on
//! loopback, with the repo's files as written but for paths, ports and
//! host names. The real `secops job` writes the central logs, rotating
//! them (gzipped) under a flood.
//!
//! What arrives must be every record byte for byte, in order, once:
//! through rotations, while the collector is killed (-9) in the middle of
//! a flood, and while it is down; then secops-report reads the collected
//! files as one fleet report.
//!
//! rsyslogd (Debian `rsyslog`, with `rsyslog-relp`) must be installed: the
//! test fails saying so.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use secops_pipeline_tests::{bin_dir, central_lines, repo, tool};
use secops_testkit::{Daemon, free_port, require, wait_until};

/// How long the records of a flood may take to reach the collector.
const DELIVERY: Duration = Duration::from_secs(120);

#[test]
fn the_central_log_reaches_the_collector_whole_and_in_order() {
    let mut collector = Collector::start();
    let web1 = Host::start("web1", collector.port);
    let web2 = Host::start("web2", collector.port);

    // One record each first: rsyslog is reading the logs (imfile reads
    // only the current file when it starts, not those rotated before).
    for host in [&web1, &web2] {
        host.flood(0, 1);
        collector.wait_for(host, false);
    }
    // Rotation under a flood: 20,000 records through 64 KiB gzipped files.
    web1.flood(1, 19_999);
    web2.flood(1, 1_999);
    collector.wait_for(&web1, false);
    collector.wait_for(&web2, false);
    assert!(web1.rotated(20), "the flood rotated the log");

    // The collector killed in the middle of a flood, then down for a
    // whole one: the hosts' queues hold the records until it is back.
    let mut flood = web1.flood_command(20_000, 20_000);
    let mut running = flood.spawn().unwrap();
    let started = wait_until(DELIVERY, || collector.received(&web1).len() > 21_000);
    assert!(started, "the second flood never reached the collector");
    collector.kill();
    assert!(running.wait().unwrap().success());
    web1.flood(40_000, 20_000);
    web2.flood(2_000, 2_000);
    collector.restart();
    let repeated = [&web1, &web2].map(|host| collector.wait_for(host, true));

    // Whole and in order; what came again is a few batches at most.
    assert!(
        repeated.iter().all(|&n| n <= 4096),
        "came again: {repeated:?}"
    );

    // The collected files are one fleet report.
    let files: Vec<PathBuf> = ["web1", "web2"]
        .iter()
        .map(|host| collector.file(host))
        .collect();
    let out = tool("secops-report")
        .args([
            "--tool",
            "flood",
            "--group-by",
            "host",
            "--format",
            "markdown",
        ])
        .args(&files)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report = String::from_utf8(out.stdout).unwrap();
    for heading in [
        &format!(
            "### host `web1`: {n} records ({n} info)",
            n = 60_000 + repeated[0]
        ),
        &format!(
            "### host `web2`: {n} records ({n} info)",
            n = 4_000 + repeated[1]
        ),
    ] {
        assert!(
            report.lines().any(|l| l == heading),
            "no {heading:?} in the report: {}",
            report
                .lines()
                .filter(|l| l.starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

fn rsyslogd() -> PathBuf {
    let relp = ["x86_64-linux-gnu", "aarch64-linux-gnu"]
        .iter()
        .any(|arch| Path::new(&format!("/usr/lib/{arch}/rsyslog/omrelp.so")).exists());
    assert!(
        relp,
        "config/rsyslog/ ships over RELP: install rsyslog-relp"
    );
    require("rsyslogd", "rsyslog")
}

/// A file of config/rsyslog/ with `global(...)` settings first and each
/// (from, to) replaced; a `from` that is not there fails the test, so the
/// test follows the file.
fn config(name: &str, global: &str, pairs: &[(&str, String)]) -> String {
    let path = repo("config/rsyslog").join(name);
    let mut text = fs::read_to_string(&path).unwrap();
    for (from, to) in pairs {
        assert!(text.contains(from), "{}: no {from:?}", path.display());
        text = text.replace(from, to);
    }
    format!("global({global})\n{text}")
}

/// The collector: secops-collect.conf's rsyslogd, with its hosts directory
/// and work directory kept across restarts.
struct Collector {
    port: u16,
    dir: tempfile::TempDir,
    daemon: Option<Daemon>,
}

impl Collector {
    fn start() -> Collector {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port("127.0.0.1");
        let work = dir.path().join("work");
        fs::create_dir(&work).unwrap();
        let text = config(
            "secops-collect.conf",
            &format!("workDirectory=\"{}\"", work.display()),
            &[
                (
                    "port=\"10514\"",
                    format!("port=\"{port}\" address=\"127.0.0.1\""),
                ),
                (
                    "/var/log/secops/hosts/",
                    format!("{}/hosts/", dir.path().display()),
                ),
            ],
        );
        fs::write(dir.path().join("rsyslog.conf"), text).unwrap();
        let mut collector = Collector {
            port,
            dir,
            daemon: None,
        };
        collector.restart();
        collector
    }

    /// Starts rsyslogd again on the same port and files.
    fn restart(&mut self) {
        let mut cmd = Command::new(rsyslogd());
        cmd.arg("-n")
            .arg("-f")
            .arg(self.dir.path().join("rsyslog.conf"))
            .arg("-i")
            .arg(self.dir.path().join("rsyslogd.pid"));
        let log = tempfile::tempdir().unwrap();
        self.daemon = Some(Daemon::start(&mut cmd, log, "127.0.0.1", self.port));
    }

    /// kill -9: what it had read but not written is gone with it.
    fn kill(&mut self) {
        self.daemon.take().unwrap().stop();
        let _ = fs::remove_file(self.dir.path().join("rsyslogd.pid"));
    }

    fn file(&self, host: &str) -> PathBuf {
        self.dir
            .path()
            .join("hosts")
            .join(host)
            .join("records.jsonl")
    }

    /// The lines collected from `host` so far.
    fn received(&self, host: &Host) -> Vec<String> {
        let text = fs::read_to_string(self.file(&host.name)).unwrap_or_default();
        text.lines().map(String::from).collect()
    }

    /// Waits until the collector has every record of `host`'s central
    /// log, byte for byte and in order, and returns how many it got again:
    /// around an outage rsyslog sends again what it is not sure arrived
    /// (at least once), so a run of records may repeat where the
    /// connection broke; with `replay` false none may.
    fn wait_for(&self, host: &Host, replay: bool) -> usize {
        // Walks what was collected along what was sent: the next line sent,
        // or (a replay) one sent before; never one sent later (a loss).
        let whole = |got: &[String], sent: &[String]| -> Option<usize> {
            let (mut next, mut repeated) = (0, 0);
            for line in got {
                if sent.get(next) == Some(line) {
                    next += 1;
                } else if replay {
                    let from = sent[..next].iter().rposition(|l| l == line)?;
                    repeated += next - from;
                    next = from + 1;
                } else {
                    return None;
                }
            }
            (next == sent.len()).then_some(repeated)
        };
        let mut repeated = None;
        let done = wait_until(DELIVERY, || {
            repeated = whole(&self.received(host), &central_lines(&host.log));
            repeated.is_some()
        });
        if done {
            return repeated.unwrap();
        }
        let (got, sent) = (self.received(host), central_lines(&host.log));
        let first = sent.iter().zip(&got).take_while(|(a, b)| a == b).count();
        panic!(
            "{}: {} lines sent, {} collected, first difference at line {}:\nsent      {:?}\ncollected {:?}\nits rsyslogd said: {}",
            host.name,
            sent.len(),
            got.len(),
            first + 1,
            sent.get(first),
            got.get(first),
            fs::read_to_string(host.dir.path().join("rsyslogd.log")).unwrap_or_default()
        );
    }
}

/// A host: its secops central log, written by `secops job`, and the
/// rsyslogd of secops-ship.conf that ships it under the host's name.
struct Host {
    name: String,
    dir: tempfile::TempDir,
    log: PathBuf,
    rsyslogd: Child,
}

impl Host {
    fn start(name: &str, port: u16) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log/records.jsonl");
        let work = dir.path().join("work");
        fs::create_dir_all(&work).unwrap();
        fs::create_dir_all(log.parent().unwrap()).unwrap();
        let text = config(
            "secops-ship.conf",
            &format!(
                "workDirectory=\"{}\" localHostname=\"{name}\"",
                work.display()
            ),
            &[
                ("/var/log/secops/records.jsonl", log.display().to_string()),
                ("collector.example.org", "127.0.0.1".to_string()),
                ("port=\"10514\"", format!("port=\"{port}\"")),
            ],
        );
        let conf = dir.path().join("rsyslog.conf");
        fs::write(&conf, text).unwrap();
        let rsyslogd = Command::new(rsyslogd())
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.path().join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.path().join("rsyslogd.log")).unwrap())
            .spawn()
            .unwrap();
        let host = Host {
            name: name.to_string(),
            dir,
            log,
            rsyslogd,
        };
        fs::write(
            host.dir.path().join("settings.yaml"),
            format!(
                "log:\n  path: {}\n  max_size: 64KiB\n  keep: 1000\n  compress: true\njobs:\n  - name: flood\n    run: [{}, {}]\n    every: 1h\n",
                host.log.display(),
                bin_dir().join("secops-report").display(),
                host.dir.path().join("flood.jsonl").display()
            ),
        )
        .unwrap();
        host
    }

    /// `secops job flood`, whose job writes records `first..first+count`
    /// of this host (secops-report passing them through).
    fn flood_command(&self, first: u64, count: u64) -> Command {
        let mut text = String::new();
        for n in first..first + count {
            text.push_str(&format!(
                "{{\"ts\":\"2026-12-07T00:00:00Z\",\"host\":\"{}\",\"tool\":\"flood\",\"kind\":\"k\",\"severity\":\"info\",\"message\":\"record {n} \\u2028 \\u007f \\\" of the flood\",\"alert\":\"none\",\"n\":{n}}}\n",
                self.name
            ));
        }
        fs::write(self.dir.path().join("flood.jsonl"), text).unwrap();
        let mut cmd = tool("secops");
        cmd.arg("--settings")
            .arg(self.dir.path().join("settings.yaml"))
            .args(["job", "flood", "--state-dir"])
            .arg(self.dir.path().join("state"))
            .stdout(Stdio::null());
        cmd
    }

    fn flood(&self, first: u64, count: u64) {
        let out = self.flood_command(first, count).output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }

    /// Whether the log was rotated at least `n` times.
    fn rotated(&self, n: u32) -> bool {
        Path::new(&format!("{}.{n}.gz", self.log.display())).exists()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.rsyslogd.kill();
        let _ = self.rsyslogd.wait();
    }
}
