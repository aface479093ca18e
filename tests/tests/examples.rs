//! Every shell example of README.md and docs/*.md, run as written
//! (tests/src/examples.rs finds them) on a scratch machine made the way the
//! README says: a mount and network namespace whose /etc, /usr/local,
//! /var, /root and /srv are overlays of this machine's (writes stay in the
//! namespace), where `scripts/install` has installed the tools
//! (`BIN_DIR=target/debug`), with an sshd on port 22 and 2222 of every
//! address the docs' inventories name, those names in /etc/hosts, root's
//! ssh key, a `sudo` that runs its command (the test is root), the logs the
//! examples read, and in each document's working directory the files they
//! name (config/, cron/, prometheus/, hosts.ini, servers.json, app.log, …).
//!
//! The receivers the docs name (Twilio, PagerDuty, Opsgenie, Slack, Teams,
//! Telegram, Matrix, ntfy, the webhook, SMTP) are stand-ins at their own
//! host names, trusted through the system store; each must have been
//! reached, and have refused nothing.
//!
//! An example passes when it ends with status 0, or 1 when it runs one of
//! the tools (it found something), and writes no `error:` line; one that
//! runs until stopped (`--interval`, `watch`) passes when it is still
//! running after a few seconds without an error. Examples run in document order, each
//! document in its own directory and with no state in /var/lib/secops
//! when it starts but the file integrity baseline README's examples made
//! (unless the page makes its own), so an example may use what an earlier
//! one of its page made. Examples that cannot run here are marked in the
//! Markdown with the reason (see tests/src/examples.rs), and listed.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use secops_pipeline_tests::examples::{Example, examples, runs_until_stopped};
use secops_pipeline_tests::{bin_dir, repo, tools};
use secops_testkit::{
    Certs, Namespace, Service, auth_log, certs_for, heartbeat_log, python, quote, require, stderr,
};
use serde_json::{Value, json};

/// Addresses the inventories and scans of the docs and config/ name, put
/// on the namespace's loopback so its sshd answers there.
const ADDRESSES: &[&str] = &[
    "10.0.0.5",
    "10.0.0.11",
    "10.0.0.12",
    "10.0.1.11",
    "10.0.1.21",
    "10.0.1.22",
    "192.0.2.10",
];

/// Host names the docs use for machines, all this one.
fn host_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "bastion.example.net",
        "staging",
        "h01",
        "db1",
        "db2",
        "web1",
        "web2",
    ]
    .map(String::from)
    .to_vec();
    for i in 1..=20 {
        names.push(format!("web{i:02}"));
        names.push(format!("web{i:02}.example.net"));
    }
    for i in 1..=3 {
        names.push(format!("db{i:02}"));
    }
    names
}

/// The web services the docs' receivers reach, each a stand-in
/// (services_server.py) at its host name's own address, port 443, with a
/// certificate of a CA the scratch machine's system store trusts, and what
/// it knows (the credentials the docs' commands name, which the test puts
/// where they say).
fn services() -> Vec<(&'static str, &'static str, &'static str, Value)> {
    vec![
        (
            "twilio",
            "api.twilio.com",
            "127.0.1.1",
            json!({"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": TWILIO_TOKEN}),
        ),
        (
            "pagerduty",
            "events.pagerduty.com",
            "127.0.1.2",
            json!({"routing_key": PAGERDUTY_KEY}),
        ),
        (
            "opsgenie",
            "api.eu.opsgenie.com",
            "127.0.1.3",
            json!({"api_key": OPSGENIE_KEY}),
        ),
        (
            "slack",
            "hooks.slack.com",
            "127.0.1.4",
            json!({"path": "/services/T0000/B0000/example"}),
        ),
        (
            "teams",
            "example.webhook.office.com",
            "127.0.1.5",
            json!({"path": "/webhookb2/example"}),
        ),
        (
            "telegram",
            "api.telegram.org",
            "127.0.1.6",
            json!({"token": TELEGRAM_TOKEN, "chat": -1001234567890_i64}),
        ),
        (
            "matrix",
            "matrix.example.org",
            "127.0.1.7",
            json!({"token": MATRIX_TOKEN, "room": "!AbCdEfGhIjKlMnOp:example.org"}),
        ),
        (
            "ntfy",
            "ntfy.sh",
            "127.0.1.8",
            json!({"topic": "example-ops-alerts"}),
        ),
        // config/notify.yaml's webhook: $SECOPS_WEBHOOK_URL, format slack.
        (
            "slack",
            "hooks.example.com",
            "127.0.1.9",
            json!({"path": "/services/secops"}),
        ),
    ]
}

const TWILIO_TOKEN: &str = "0123456789abcdef0123456789abcdef";
const PAGERDUTY_KEY: &str = "R0123456789ABCDEF0123456789ABCDE";
const OPSGENIE_KEY: &str = "eb243592-faa2-4ba2-a551-1afdf565c889";
const TELEGRAM_TOKEN: &str = "123456789:AAHexampleexampleexampleexample0000";
const MATRIX_TOKEN: &str = "syt_example_token";
/// config/notify.yaml's SMTP server, and its login.
const SMTP_ADDR: &str = "127.0.1.10";
const SMTP_PASSWORD: &str = "the-password";

/// The record files and others the examples name, made by the tools on
/// the scratch machine (in the fixtures directory, before any example).
const FIXTURES: &str = r#"
cp config/ports.json config/notify.yaml config/servers.json .
ln -s "$REPO/scripts" scripts
cp config/vuln-rules.yaml my-rules.yaml
mkdir -p reports target/release fim-demo
cp /usr/local/bin/fim-check fim-check
cp /usr/local/bin/fim-check tool
cp /usr/local/bin/fim-check target/release/fim-check
traffic-cop --whitelist config/ports.json --format jsonl > ports.jsonl || true
healthmon --format jsonl > health.jsonl
anomalizer --log-dir /var/log/app --format jsonl > anomalies.jsonl || true
disk-alert --all --format jsonl --state-dir .disk-state --no-log > disk.jsonl || true
echo good > fim-demo/app.conf
fim-check --state-dir .fim-state init fim-demo > /dev/null
echo changed > fim-demo/app.conf
fim-check --state-dir .fim-state verify --format jsonl > fim.jsonl || true
remote-run -i inventory/hosts -- traffic-cop --whitelist /etc/secops/ports.json > fleet.jsonl || true
cat ports.jsonl health.jsonl anomalies.jsonl disk.jsonl fim.jsonl fleet.jsonl > records.jsonl
vulnscan --engine builtin --ports 22,2222 192.0.2.10 --state-dir .vuln-state --format jsonl > last-week.jsonl || true
nmap -n -sT -p 22,2222 -oX scan.xml 127.0.0.1 > /dev/null
mkdir -p /var/log/secops/hosts/web1
cp records.jsonl /var/log/secops/hosts/web1/records.jsonl
"#;

/// How long a command may run before it fails, and how long one that
/// runs until stopped is left running.
const PATIENCE: Duration = Duration::from_secs(180);
const LOOP_FOR: Duration = Duration::from_secs(4);

struct Outcome {
    status: Option<i32>,
    stopped: bool,
    stderr: String,
    /// The last lines of stdout, shown with a failure.
    stdout_tail: String,
}

/// The scratch machine.
struct Machine {
    daemons: Vec<Child>,
    services: Vec<(String, Service)>,
    /// Where the SMTP server saves what it receives.
    mail: PathBuf,
    certs: Option<Certs>,
    /// The files the examples name, made once (see [`FIXTURES`]).
    fixtures: PathBuf,
    ns: Namespace,
}

impl Drop for Machine {
    fn drop(&mut self) {
        // The namespace lives while a process is in it.
        for child in &mut self.daemons {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Machine {
    fn new() -> Machine {
        require("sshd", "openssh-server");
        require("ssh", "openssh-client");
        require("age-keygen", "age");
        require("prometheus-alertmanager", "prometheus-alertmanager");
        let ns = Namespace::with_network();
        for dir in ["/etc", "/usr/local", "/var", "/root", "/srv"] {
            ns.overlay(dir);
        }
        let mut hosts = String::from("127.0.0.1 localhost\n::1 localhost\n");
        for name in host_names() {
            writeln!(hosts, "127.0.0.1 {name}").unwrap();
        }
        writeln!(hosts, "127.0.0.1 intranet.example.org").unwrap();
        writeln!(hosts, "{SMTP_ADDR} mail.example.com").unwrap();
        let mut addresses: Vec<&str> = ADDRESSES.to_vec();
        addresses.push(SMTP_ADDR);
        for (_, host, addr, _) in services() {
            writeln!(hosts, "{addr} {host}").unwrap();
            addresses.push(addr);
        }
        for addr in addresses {
            ns.sh(&format!("ip addr add {addr}/32 dev lo"));
        }
        let hosts_file = ns.dir().join("hosts");
        fs::write(&hosts_file, hosts).unwrap();
        let nikto = repo("../shared/tools/nikto/nikto.pl");
        assert!(
            nikto.is_file(),
            "{} is missing (../shared)",
            nikto.display()
        );
        // scripts/install as the README says, with the binaries cargo built;
        // sudo as root runs the command; nikto as a user installs it.
        ns.sh(&format!(
            "cp {hosts} /etc/hosts\n\
             BIN_DIR={bin} {scripts}/install > /dev/null\n\
             printf '#!/bin/sh\\nexec \"$@\"\\n' > /usr/local/bin/sudo\n\
             printf '#!/bin/sh\\nexec perl {nikto} \"$@\"\\n' > /usr/local/bin/nikto\n\
             chmod 755 /usr/local/bin/sudo /usr/local/bin/nikto\n\
             id ops >/dev/null 2>&1 || useradd -M -d /tmp -p '*' ops\n\
             mkdir -p /var/log/app /root/.ssh /etc/ssh /var/www/html /var/www/reports\n\
             echo '<h1>web1</h1>' > /var/www/html/index.html",
            hosts = quote(&hosts_file),
            bin = quote(&bin_dir()),
            scripts = quote(&repo("scripts")),
            nikto = nikto.display(),
        ));
        let mail = ns.dir().join("mail");
        fs::create_dir_all(&mail).unwrap();
        let fixtures = ns.dir().join("fixtures");
        let mut machine = Machine {
            daemons: Vec::new(),
            services: Vec::new(),
            mail,
            certs: None,
            fixtures,
            ns,
        };
        machine.start_sshd();
        machine.start_services();
        machine.write_secrets();
        machine.write_logs();
        machine.make_fixtures();
        machine
    }

    /// Starts `cmd` inside and waits until `addr:port` takes connections.
    fn daemon(&mut self, mut cmd: Command, addr: &str, port: u16, log: &str) {
        let log = self.ns.dir().join(log);
        let child = cmd
            .stdout(fs::File::create(&log).unwrap())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        self.daemons.push(child);
        let up = self
            .ns
            .command("bash")
            .args([
                "-c",
                &format!(
                    "for i in $(seq 300); do \
                     (exec 3<>/dev/tcp/{addr}/{port}) 2>/dev/null && exit 0; sleep 0.05; done; exit 1"
                ),
            ])
            .status()
            .unwrap();
        assert!(
            up.success(),
            "{:?} does not listen on {addr}:{port}: {}",
            cmd.get_args().collect::<Vec<_>>(),
            fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// An sshd on ports 22 and 2222 of every address, taking root's key
    /// for every user; root's ssh trusts its host key under every name.
    fn start_sshd(&mut self) {
        let keys = self.ns.dir().join("ssh");
        fs::create_dir_all(&keys).unwrap();
        for key in ["host_key", "client_key"] {
            let out = Command::new("ssh-keygen")
                .args([
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    "secops-examples",
                    "-f",
                ])
                .arg(keys.join(key))
                .output()
                .unwrap();
            assert!(out.status.success(), "ssh-keygen: {}", stderr(&out));
        }
        fs::copy(keys.join("client_key.pub"), keys.join("authorized_keys")).unwrap();
        let k = keys.display();
        fs::write(
            keys.join("sshd_config"),
            format!(
                "Port 22\nPort 2222\nHostKey {k}/host_key\nPidFile none\n\
                 AuthorizedKeysFile {k}/authorized_keys\nStrictModes no\nUsePAM no\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\nMaxStartups 200:30:400\nMaxSessions 100\n"
            ),
        )
        .unwrap();
        self.ns.sh(&format!(
            "mkdir -p /run/sshd\n\
             for key in id_ed25519 id_ed25519_db; do cp {k}/client_key /root/.ssh/$key; done\n\
             chmod 600 /root/.ssh/id_ed25519*\n\
             printf '* ' | cat - {k}/host_key.pub > /etc/ssh/ssh_known_hosts",
        ));
        let mut sshd = self.ns.command("/usr/sbin/sshd");
        sshd.args(["-D", "-e", "-f"]).arg(keys.join("sshd_config"));
        self.daemon(sshd, "127.0.0.1", 2222, "sshd.log");
    }

    /// The receivers' stand-ins and the SMTP server at their host names,
    /// trusted through the system store as a public service's certificate
    /// is; Alertmanager for amtool; a web server on 8080 for nikto.
    fn start_services(&mut self) {
        let mut names: Vec<&str> = services().iter().map(|s| s.1).collect();
        names.push("mail.example.com");
        let certs = certs_for("secops examples CA", &names);
        self.ns.sh(&format!(
            "cat {} >> /etc/ssl/certs/ca-certificates.crt",
            quote(&certs.ca)
        ));
        for (service, host, addr, expect) in services() {
            let python = self.ns.command(python("ssl"));
            let stand_in =
                Service::listening(python, &format!("{addr}:443"), service, &certs, expect);
            self.services.push((host.to_string(), stand_in));
        }
        let mut smtp = self.ns.command(python("aiosmtpd"));
        smtp.arg(repo("crates/secops-notify/tests/support/smtp_server.py"))
            .arg(&self.mail)
            .arg("starttls")
            .arg(&certs.cert)
            .arg(&certs.key)
            .args(["alerts", SMTP_PASSWORD])
            .env("SMTP_LISTEN", format!("{SMTP_ADDR}:587"))
            .env("SMTP_AUTH_OPTIONAL", "1");
        self.daemon(smtp, SMTP_ADDR, 587, "smtp.log");
        let am_dir = self.ns.dir().join("alertmanager");
        fs::create_dir_all(&am_dir).unwrap();
        fs::write(
            am_dir.join("alertmanager.yml"),
            "route:\n  receiver: none\nreceivers:\n  - name: none\n",
        )
        .unwrap();
        let mut am = self.ns.command("prometheus-alertmanager");
        am.arg(format!(
            "--config.file={}/alertmanager.yml",
            am_dir.display()
        ))
        .arg(format!("--storage.path={}/data", am_dir.display()))
        .args(["--web.listen-address=:9093", "--cluster.listen-address="]);
        self.daemon(am, "127.0.0.1", 9093, "alertmanager.log");
        let mut web = self.ns.command("python3");
        web.args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            "--directory",
            "/var/www/html",
            "8080",
        ]);
        self.daemon(web, "127.0.0.1", 8080, "web.log");
        self.certs = Some(certs);
    }

    /// The secrets the docs' commands name, where they say, as
    /// docs/secops-notify.md tells an operator to make them.
    fn write_secrets(&self) {
        self.ns.sh(&format!(
            "cd /etc/secops\n\
             umask 077\n\
             printf %s {TWILIO_TOKEN} > twilio-token\n\
             printf %s {PAGERDUTY_KEY} > pagerduty-routing-key\n\
             printf %s {TELEGRAM_TOKEN} > telegram-bot-token\n\
             printf %s https://example.webhook.office.com/webhookb2/example > teams-url\n\
             printf %s https://hooks.example.com/services/secops > webhook.url\n\
             age-keygen -o notify.key 2>/dev/null\n\
             printf %s {SMTP_PASSWORD} | age -r \"$(age-keygen -y notify.key)\" -o smtp-password.age",
        ));
    }

    /// The logs the examples read: an application's, and the system's
    /// auth.log and syslog where this machine has none (journald only).
    fn write_logs(&self) {
        let app = self.ns.dir().join("app.log");
        fs::write(&app, heartbeat_log(0, 90, 60)).unwrap();
        let auth = self.ns.dir().join("auth.log");
        fs::write(&auth, auth_log()).unwrap();
        self.ns.sh(&format!(
            "cp {app} /var/log/app/app.log\n\
             cp {auth} /var/log/app/auth.log\n\
             [ -e /var/log/auth.log ] || cp {auth} /var/log/auth.log\n\
             [ -e /var/log/syslog ] || cp {app} /var/log/syslog",
            app = quote(&app),
            auth = quote(&auth),
        ));
    }

    /// The files the examples name as the reader's own, made with the
    /// tools where they are records.
    fn make_fixtures(&self) {
        let dir = &self.fixtures;
        fs::create_dir_all(dir).unwrap();
        for what in ["config", "cron", "prometheus"] {
            copy_tree(&repo(what), &dir.join(what));
        }
        fs::write(dir.join("app.log"), heartbeat_log(0, 90, 60)).unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        write(
            "hosts.ini",
            "bastion.example.net\n\n[web]\nweb[01:04]\nweb05:2222\n\n\
             [db]\ndb01 ansible_host=10.0.1.21\ndb02 ansible_host=10.0.1.22 ansible_port=2222\n\n\
             [prod:children]\nweb\ndb\n",
        );
        write(
            "hosts.yml",
            "all:\n  children:\n    web:\n      hosts:\n        web[01:04]:\n    db:\n      hosts:\n        db1:\n",
        );
        write("inventory/hosts", "[web]\nweb1\nweb2\n\n[db]\ndb1\n");
        write("inventory/group_vars/all.yml", "ansible_user: root\n");
        write("hosts.txt", "127.0.0.1\n192.0.2.10\n");
        write(
            "alerts.jsonl",
            r#"{"ts":"2026-12-07T03:00:00Z","host":"db1","tool":"backup-age","kind":"backup.stale","severity":"high","message":"the last backup of /srv is 3 days old","alert":"firing","alert_id":"backup-age:/srv"}
"#,
        );
        fs::copy(
            repo("crates/vulnscan/tests/data/gvm/one_vuln.xml"),
            dir.join("report.xml"),
        )
        .unwrap();
        self.ns.sh(&format!(
            "cd {}\nREPO={}\n{FIXTURES}",
            quote(dir),
            quote(&repo(""))
        ));
    }

    /// A working directory for one document's examples, with the fixtures.
    fn workdir(&self, doc: &str) -> PathBuf {
        let dir = self.ns.dir().join("work").join(doc.replace('/', "_"));
        fs::create_dir_all(dir.parent().unwrap()).unwrap();
        copy_tree(&self.fixtures, &dir);
        dir
    }

    /// Runs one example in `dir`.
    fn run(&self, dir: &Path, command: &str, until_stopped: bool) -> Outcome {
        let out_file = dir.join(".example-stdout");
        let err_file = dir.join(".example-stderr");
        let script = format!("cd {} || exit 97\nset -o pipefail\n{command}", quote(dir));
        let mut child = self
            .ns
            .command("bash")
            .args(["-c", &script])
            .env("BIN_DIR", bin_dir())
            .env(
                "SECOPS_WEBHOOK_URL",
                "https://hooks.example.com/services/secops",
            )
            .env(
                "SLACK_WEBHOOK_URL",
                "https://hooks.slack.com/services/T0000/B0000/example",
            )
            .env("OPSGENIE_API_KEY", OPSGENIE_KEY)
            .env("MATRIX_TOKEN", MATRIX_TOKEN)
            .env(
                "PATH",
                "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
            )
            .stdout(fs::File::create(&out_file).unwrap())
            .stderr(fs::File::create(&err_file).unwrap())
            .process_group(0)
            .spawn()
            .unwrap();
        let limit = if until_stopped { LOOP_FOR } else { PATIENCE };
        let deadline = Instant::now() + limit;
        let mut stopped = false;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline && !stopped {
                stopped = true;
                signal_group(child.id(), "TERM");
                let grace = Instant::now() + Duration::from_secs(10);
                while child.try_wait().unwrap().is_none() && Instant::now() < grace {
                    std::thread::sleep(Duration::from_millis(50));
                }
                signal_group(child.id(), "KILL");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Outcome {
            status: status.code(),
            stopped,
            stderr: fs::read_to_string(&err_file).unwrap_or_default(),
            stdout_tail: {
                let out = fs::read_to_string(&out_file).unwrap_or_default();
                let lines: Vec<&str> = out.lines().collect();
                lines[lines.len().saturating_sub(3)..].join("\n          ")
            },
        }
    }
}

fn signal_group(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", &format!("-{pid}")])
        .status();
}

fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-rT")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success(), "cp -r {}", from.display());
}

/// What is wrong with an outcome, if anything.
fn failure(example: &Example, outcome: &Outcome, tools: &[String]) -> Option<String> {
    let errors: Vec<&str> = outcome
        .stderr
        .lines()
        .filter(|l| l.contains("error:") || l.contains("panicked"))
        .collect();
    let until_stopped = runs_until_stopped(&example.command);
    let what = match (outcome.stopped, outcome.status) {
        (true, _) if until_stopped => None,
        (true, _) => Some(format!("still running after {PATIENCE:?}")),
        (false, Some(0)) => None,
        // 1: a tool found something; from any other command, a failure.
        (false, Some(1)) if runs_a_tool(&example.command, tools) => None,
        (false, status) => Some(format!("exit status {status:?}")),
    };
    if what.is_none() && errors.is_empty() {
        return None;
    }
    let tail: Vec<&str> = outcome.stderr.lines().rev().take(6).collect();
    Some(format!(
        "{}:{}: {}\n  {}\n  stdout: {}\n  stderr: {}",
        example.doc,
        example.line,
        example.command,
        what.unwrap_or_else(|| "an error on stderr".into()),
        outcome.stdout_tail,
        tail.into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n          ")
    ))
}

fn runs_a_tool(command: &str, tools: &[String]) -> bool {
    command
        .split_whitespace()
        .any(|word| tools.iter().any(|t| t == word))
}

/// Every document's examples, README.md first.
fn documents() -> Vec<(String, Vec<Example>)> {
    let tools = tools();
    let mut docs = vec!["README.md".to_string()];
    let mut pages: Vec<String> = fs::read_dir(repo("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    pages.sort();
    docs.extend(pages);
    docs.into_iter()
        .map(|doc| {
            let text = fs::read_to_string(repo(&doc)).unwrap();
            let found = examples(&doc, &text, &tools).unwrap_or_else(|e| panic!("{e}"));
            (doc, found)
        })
        .collect()
}

#[test]
fn every_example_in_the_readme_and_docs_runs_as_written() {
    let created_backup = !Path::new("/backup").exists();
    if created_backup {
        // The one mount point the docs need outside the overlays.
        fs::create_dir("/backup").unwrap();
    }
    let machine = Machine::new();
    // /backup for the backups; a full /mnt, so that disk-alert has
    // something critical for the SMS and ntfy examples to carry.
    machine.ns.sh("mount -t tmpfs secops-test /backup\n\
         mount -t tmpfs -o size=1m secops-test /mnt\n\
         dd if=/dev/zero of=/mnt/fill bs=4k 2>/dev/null || true");
    let tools = tools();
    let mut failures = Vec::new();
    let mut not_run = Vec::new();
    let mut ran = 0;
    let mut slow = Vec::new();
    for (doc, found) in documents() {
        // Each page starts with no state but the file integrity baseline
        // README's examples made, unless it makes its own.
        let own_baseline = found
            .iter()
            .any(|e| e.command.starts_with("fim-check init"));
        let baseline = machine.ns.dir().join("baseline");
        machine.ns.sh(&format!(
            "rm -rf /var/lib/secops && mkdir -p -m 700 /var/lib/secops\n\
             if {} && [ -d {b} ]; then cp -a {b}/. /var/lib/secops/; fi",
            !own_baseline,
            b = quote(&baseline)
        ));
        let dir = machine.workdir(&doc);
        for example in found {
            if let Some(reason) = &example.not_run {
                not_run.push(format!("{}:{}: {reason}", example.doc, example.line));
                continue;
            }
            let started = Instant::now();
            let outcome = machine.run(&dir, &example.command, runs_until_stopped(&example.command));
            slow.push((
                started.elapsed(),
                format!("{}:{}", example.doc, example.line),
            ));
            ran += 1;
            failures.extend(failure(&example, &outcome, &tools));
        }
        if doc == "README.md" {
            machine.ns.sh(&format!(
                "mkdir {b} && cp -a /var/lib/secops/fim.* {b}/",
                b = quote(&baseline)
            ));
        }
    }
    // The receivers the examples name got what their services accept.
    for (host, service) in &machine.services {
        let seen = service.received();
        if seen.is_empty() {
            failures.push(format!("no example reached {host}"));
        }
        for request in seen.iter().filter(|r| !r.problems.is_empty()) {
            failures.push(format!(
                "{host} would refuse {} {}: {:?}",
                request.method, request.path, request.problems
            ));
        }
    }
    if fs::read_dir(&machine.mail).unwrap().count() == 0 {
        failures.push("no example mailed mail.example.com".into());
    }
    drop(machine);
    if created_backup {
        let _ = fs::remove_dir("/backup");
    }
    slow.sort();
    let slowest: Vec<String> = slow
        .iter()
        .rev()
        .take(10)
        .map(|(took, at)| format!("{at} {took:.1?}"))
        .collect();
    eprintln!("the slowest examples: {}", slowest.join(", "));
    eprintln!(
        "{ran} examples ran; {} not run:\n  {}",
        not_run.len(),
        not_run.join("\n  ")
    );
    assert!(ran >= 100, "only {ran} examples were found");
    assert!(
        failures.is_empty(),
        "{} of {ran} examples failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
