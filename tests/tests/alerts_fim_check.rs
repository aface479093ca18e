//! fim-check's alerts through the real secops-notify, as the shipped cron
//! line pipes them (`fim-check verify | secops-notify`): a changed file
//! pages once, a verify while it holds does not page again, and accepting
//! it (update) or putting it back ends it with one recovery, leaving
//! nothing firing. A baseline that cannot be trusted pages too. The same
//! through PagerDuty's Events API (a stand-in over HTTPS): the recovery
//! resolves the incident the change opened.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

use secops_pipeline_tests::{Seen, Service, certs, notify, still_firing, tool};

struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    fn new(files: &[(&str, &str)]) -> Host {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("tree")).unwrap();
        fs::create_dir(dir.path().join("notify")).unwrap();
        let host = Host { dir };
        for (name, content) in files {
            fs::write(host.path(name), content).unwrap();
        }
        host
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join("tree").join(name)
    }

    fn notify_state(&self) -> PathBuf {
        self.dir.path().join("notify")
    }

    fn fim(&self, sub: &str) -> Command {
        let mut cmd = tool("fim-check");
        cmd.arg(sub)
            .arg("--state-dir")
            .arg(self.dir.path().join("state"))
            .args(["--format", "jsonl"]);
        cmd
    }

    /// Runs fim-check SUB (exit status `code`) and pipes its records into
    /// secops-notify.
    fn run_into_notify(&self, cmd: &mut Command, code: i32) -> secops_pipeline_tests::Sent {
        self.run_into_notify_with(cmd, code, &[])
    }

    /// The same, with more secops-notify flags (another receiver).
    fn run_into_notify_with(
        &self,
        cmd: &mut Command,
        code: i32,
        flags: &[&str],
    ) -> secops_pipeline_tests::Sent {
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
        notify(&out.stdout, &self.notify_state(), flags)
    }

    /// A baseline of the tree's content only: a file written back as it
    /// was is as recorded (under every attribute its ctime would still
    /// differ).
    fn init_content_only(&self) {
        let policy = self.dir.path().join("fim.yaml");
        fs::write(
            &policy,
            format!(
                "paths:\n  - path: {}\n    attributes: content\n",
                self.dir.path().join("tree").display()
            ),
        )
        .unwrap();
        init(self, &["--policy".as_ref(), policy.as_os_str()]);
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn init(host: &Host, extra: &[&std::ffi::OsStr]) {
    let out = host.fim("init").args(extra).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "init: {}", stderr(&out));
}

fn alert_path(sent: &secops_pipeline_tests::Sent) -> Vec<String> {
    sent.messages
        .iter()
        .flat_map(|m| m.firing.iter().chain(&m.resolved))
        .map(|r| r["path"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_changed_file_pages_once_and_update_ends_it() {
    let host = Host::new(&[("app.conf", "port=80\n"), ("other", "x\n")]);
    init(&host, &[host.dir.path().join("tree").as_os_str()]);

    fs::write(host.path("app.conf"), "port=8080\n").unwrap();
    let sent = host.run_into_notify(&mut host.fim("verify"), 1);
    assert_eq!(
        (sent.messages.len(), sent.firing(), sent.resolved()),
        (1, 1, 0),
        "{sent:#?}"
    );
    assert_eq!(alert_path(&sent), [host.path("app.conf").to_str().unwrap()]);
    assert_eq!(still_firing(&host.notify_state()).len(), 1);

    // Still changed: written again, not sent again.
    let sent = host.run_into_notify(&mut host.fim("verify"), 1);
    assert!(sent.messages.is_empty(), "no repeat: {sent:#?}");

    // Accepted: one recovery, nothing left firing.
    let sent = host.run_into_notify(&mut host.fim("update"), 0);
    assert_eq!((sent.firing(), sent.resolved()), (0, 1), "{sent:#?}");
    assert_eq!(alert_path(&sent), [host.path("app.conf").to_str().unwrap()]);
    let sent = host.run_into_notify(&mut host.fim("verify"), 0);
    assert!(sent.messages.is_empty(), "{sent:#?}");
    assert!(still_firing(&host.notify_state()).is_empty());
}

#[test]
fn a_file_put_back_ends_its_alert_at_the_next_verify() {
    let host = Host::new(&[("app.conf", "port=80\n")]);
    host.init_content_only();

    fs::write(host.path("app.conf"), "port=8080\n").unwrap();
    let sent = host.run_into_notify(&mut host.fim("verify"), 1);
    assert_eq!((sent.firing(), sent.resolved()), (1, 0), "{sent:#?}");
    fs::remove_file(host.path("app.conf")).unwrap();
    // The same alert, now a removal: an update of it, never a second page
    // about the same file.
    let sent = host.run_into_notify(&mut host.fim("verify"), 1);
    assert_eq!(still_firing(&host.notify_state()).len(), 1, "{sent:#?}");
    assert_eq!(sent.resolved(), 0);

    fs::write(host.path("app.conf"), "port=80\n").unwrap();
    let sent = host.run_into_notify(&mut host.fim("verify"), 0);
    assert_eq!((sent.firing(), sent.resolved()), (0, 1), "{sent:#?}");
    assert!(still_firing(&host.notify_state()).is_empty());
}

#[test]
fn a_baseline_that_cannot_be_trusted_pages_until_it_can() {
    let host = Host::new(&[("app.conf", "port=80\n")]);
    init(&host, &[host.dir.path().join("tree").as_os_str()]);
    let baseline = host.dir.path().join("state/fim.baseline");
    let good = fs::read(&baseline).unwrap();
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 1;
    fs::write(&baseline, &flipped).unwrap();

    let sent = host.run_into_notify(&mut host.fim("verify"), 2);
    assert_eq!((sent.firing(), sent.resolved()), (1, 0), "{sent:#?}");
    let alert = &sent.messages[0].firing[0];
    assert_eq!(alert["kind"], "fim.baseline_invalid");
    assert_eq!(alert["severity"], "critical");
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .contains(baseline.to_str().unwrap()),
        "{alert}"
    );

    fs::write(&baseline, &good).unwrap();
    let sent = host.run_into_notify(&mut host.fim("verify"), 0);
    assert_eq!((sent.firing(), sent.resolved()), (0, 1), "{sent:#?}");
    assert!(still_firing(&host.notify_state()).is_empty());
}

#[test]
fn a_changed_file_opens_a_pagerduty_incident_that_putting_it_back_resolves() {
    let host = Host::new(&[("app.conf", "port=80\n")]);
    host.init_content_only();
    let certs = certs();
    let key = "R0123456789abcdef0123456789abcde";
    let pagerduty = Service::start(
        "pagerduty",
        &certs,
        serde_json::json!({"routing_key": key}),
        0,
    );
    let key_file = host.dir.path().join("pagerduty.key");
    fs::write(&key_file, key).unwrap();
    fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let url = pagerduty.url("/v2/enqueue");
    let flags = [
        "--pagerduty-key-file",
        key_file.to_str().unwrap(),
        "--pagerduty-url",
        &url,
        "--https-ca",
        certs.ca.to_str().unwrap(),
    ];
    let page = |code| host.run_into_notify_with(&mut host.fim("verify"), code, &flags);

    fs::write(host.path("app.conf"), "port=8080\n").unwrap();
    page(1);
    page(1);
    fs::write(host.path("app.conf"), "port=80\n").unwrap();
    page(0);
    let events: Vec<serde_json::Value> = pagerduty.accepted().iter().map(Seen::json).collect();
    assert_eq!(
        events.len(),
        2,
        "a trigger, no repeat, a resolve: {events:#?}"
    );
    assert_eq!(events[0]["event_action"], "trigger");
    assert_eq!(events[0]["payload"]["component"], "fim-check");
    assert_eq!(
        events[0]["payload"]["custom_details"]["path"],
        host.path("app.conf").to_str().unwrap()
    );
    assert_eq!(events[1]["event_action"], "resolve");
    assert_eq!(events[1]["dedup_key"], events[0]["dedup_key"]);
    assert!(still_firing(&host.notify_state()).is_empty());
}
