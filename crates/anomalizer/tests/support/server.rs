//! A server's `/var/log` for a week, with incidents injected: the base is
//! this machine's own package-manager logs and kernel boot messages,
//! copied as they are, and a week of what a Debian web server's daemons
//! write (cron, systemd timers, an operator's ssh and sudo sessions, the
//! internet's constant ssh and web scanning, a web application), with the
//! variable fields real ones have. The incidents are the lines an
//! operator would want to be shown, each kept so a finding can be traced
//! to the incident it shows.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use jiff::Timestamp;
use secops_testkit::Rng;

const HOST: &str = "web1";
const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// A process id.
fn pid(rng: &mut Rng) -> usize {
    1_000 + rng.below(60_000)
}

/// A client's port.
fn port(rng: &mut Rng) -> usize {
    1_024 + rng.below(64_000)
}

/// A public-looking IPv4 address.
fn ip(rng: &mut Rng) -> String {
    let first = *rng.pick(&[5, 31, 45, 61, 80, 92, 103, 109, 141, 167, 185, 193, 212]);
    format!(
        "{first}.{}.{}.{}",
        rng.below(256),
        rng.below(256),
        1 + rng.below(254)
    )
}

/// An incident: its name and the exact lines injected for it (a silence
/// has none: its source just stops).
#[derive(Debug, Clone)]
pub struct Incident {
    pub name: &'static str,
    /// The file it is in, relative to the log directory.
    pub file: &'static str,
    pub lines: Vec<String>,
}

/// The logs being written: per file, lines with their times.
pub struct Server {
    pub start: i64,
    pub end: i64,
    pub boot: i64,
    files: BTreeMap<&'static str, Vec<(i64, String)>>,
    pub incidents: Vec<Incident>,
    rng: Rng,
}

/// Debian 12's rsyslog timestamp (RFC 3339, microseconds).
fn rfc3339(t: i64, micros: usize) -> String {
    let ts = Timestamp::from_second(t).expect("in range");
    format!("{}.{micros:06}+00:00", ts.strftime("%Y-%m-%dT%H:%M:%S"))
}

impl Server {
    /// A week ending `end` (Unix seconds).
    pub fn new(end: i64) -> Server {
        let start = end - 7 * DAY;
        Server {
            start,
            end,
            boot: start - 600,
            files: BTreeMap::new(),
            incidents: Vec::new(),
            rng: Rng::new(0x5ec0_95e1),
        }
    }

    /// A syslog line of `tag` at `t` in `file`.
    fn syslog(&mut self, file: &'static str, t: i64, tag: &str, message: &str) -> String {
        let line = format!(
            "{} {HOST} {tag}: {message}",
            rfc3339(t, self.rng.below(1_000_000))
        );
        self.files.entry(file).or_default().push((t, line.clone()));
        line
    }

    /// A kernel line at `t` in kern.log (and syslog, as rsyslog does).
    fn kernel(&mut self, t: i64, message: &str) -> String {
        let since = (t - self.boot).max(0);
        let text = format!("[{since:>5}.{:06}] {message}", self.rng.below(1_000_000));
        let line = self.syslog("kern.log", t, "kernel", &text);
        let copy = line.clone();
        self.files.entry("syslog").or_default().push((t, copy));
        line
    }

    fn push(&mut self, file: &'static str, t: i64, line: String) -> String {
        self.files.entry(file).or_default().push((t, line.clone()));
        line
    }

    /// The base week: nothing an operator would act on.
    pub fn base(&mut self) {
        self.boot_messages();
        let (start, end) = (self.start, self.end);
        let mut t = start;
        while t < end {
            self.minute(t);
            t += 60;
        }
        self.operator_sessions();
    }

    /// This machine's kernel ring buffer, its first minute (the boot; what
    /// came later depends on what ran since, the test suite's network
    /// namespaces too), as the boot at the week's start.
    fn boot_messages(&mut self) {
        let out = Command::new("dmesg")
            .output()
            .expect("dmesg runs (util-linux)");
        assert!(
            out.status.success(),
            "dmesg failed (the test reads the kernel's boot messages as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let boot = self.boot;
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Some((stamp, message)) = line.strip_prefix('[').and_then(|l| l.split_once("] "))
            else {
                continue;
            };
            let secs: f64 = stamp.trim().parse().unwrap_or(0.0);
            if secs >= 60.0 {
                break;
            }
            let t = boot + secs as i64;
            let text = format!("[{stamp}] {message}");
            self.syslog("kern.log", t, "kernel", &text);
        }
        for unit in [
            "ssh.service - OpenBSD Secure Shell server",
            "nginx.service - A high performance web server and a reverse proxy server",
            "webapp.service - Orders web application",
            "queue-worker.service - Queue worker",
            "cron.service - Regular background program processing daemon",
        ] {
            self.syslog(
                "syslog",
                boot + 20,
                "systemd[1]",
                &format!("Started {unit}."),
            );
        }
    }

    /// What every minute brings: cron, timers, scanners, web traffic.
    fn minute(&mut self, t: i64) {
        let of_day = t.rem_euclid(DAY);
        let (hour, minute) = (of_day / HOUR, (of_day % HOUR) / 60);
        if minute % 5 == 0 {
            self.cron(t + 1, "/usr/local/sbin/backup-check >/dev/null 2>&1");
        }
        if minute == 17 {
            self.cron(t + 1, "   cd / && run-parts --report /etc/cron.hourly");
        }
        if hour == 6 && minute == 25 {
            self.cron(
                t + 1,
                "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }",
            );
        }
        if minute % 10 == 0 {
            self.timer(
                t + 2,
                "sysstat-collect.service",
                "system activity accounting tool",
            );
        }
        if hour == 0 && minute == 0 {
            self.timer(t, "logrotate.service", "Rotate log files");
            let pid = 600 + self.rng.below(30);
            self.syslog("syslog", t + 1, "rsyslogd", &format!("[origin software=\"rsyslogd\" swVersion=\"8.2302.0\" x-pid=\"{pid}\" x-info=\"https://www.rsyslog.com\"] rsyslogd was HUPed"));
            self.timer(t + 5, "man-db.service", "Daily man-db regeneration");
            self.timer(
                t + 40,
                "systemd-tmpfiles-clean.service",
                "Cleanup of Temporary Directories",
            );
        }
        if (hour == 6 && minute == 3) || (hour == 17 && minute == 41) {
            self.timer(t + 12, "apt-daily.service", "Daily apt download activities");
        }
        if hour == 6 && minute == 11 {
            self.timer(
                t + 7,
                "apt-daily-upgrade.service",
                "Daily apt upgrade and clean activities",
            );
        }
        if self.rng.chance(0.25) {
            let at = t + self.rng.below(60) as i64;
            self.ssh_scanner(at);
        }
        if self.rng.chance(0.6) {
            let at = t + self.rng.below(60) as i64;
            self.firewall(at);
        }
        self.web(t, hour);
    }

    fn cron(&mut self, t: i64, command: &str) {
        let pid = pid(&mut self.rng);
        let tag = format!("CRON[{pid}]");
        self.syslog(
            "auth.log",
            t,
            &tag,
            "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
        );
        self.syslog("syslog", t, &tag, &format!("(root) CMD ({command})"));
        self.syslog(
            "auth.log",
            t + 1,
            &tag,
            "pam_unix(cron:session): session closed for user root",
        );
    }

    fn timer(&mut self, t: i64, unit: &str, what: &str) {
        self.syslog(
            "syslog",
            t,
            "systemd[1]",
            &format!("Starting {unit} - {what}..."),
        );
        self.syslog(
            "syslog",
            t + 1,
            "systemd[1]",
            &format!("{unit}: Deactivated successfully."),
        );
        self.syslog(
            "syslog",
            t + 1,
            "systemd[1]",
            &format!("Finished {unit} - {what}."),
        );
        if self.rng.chance(0.5) {
            let cpu = format!("{}.{:03}s", self.rng.below(3), self.rng.below(1000));
            self.syslog(
                "syslog",
                t + 1,
                "systemd[1]",
                &format!("{unit}: Consumed {cpu} CPU time."),
            );
        }
    }

    /// One of the internet's ssh scanners: a few guesses, then gone.
    fn ssh_scanner(&mut self, t: i64) {
        const USERS: &[&str] = &[
            "admin",
            "test",
            "user",
            "oracle",
            "ubuntu",
            "postgres",
            "git",
            "ftpuser",
            "guest",
            "pi",
            "deploy",
            "support",
            "hadoop",
            "mysql",
            "steam",
            "minecraft",
            "jenkins",
            "dev",
        ];
        let ip = ip(&mut self.rng);
        let pid = pid(&mut self.rng);
        let tag = format!("sshd[{pid}]");
        let port = port(&mut self.rng);
        match self.rng.below(10) {
            0 => {
                self.syslog(
                    "auth.log",
                    t,
                    &tag,
                    &format!("Connection closed by {ip} port {port} [preauth]"),
                );
            }
            1 => {
                self.syslog(
                    "auth.log",
                    t,
                    &tag,
                    "error: kex_exchange_identification: read: Connection reset by peer",
                );
                self.syslog(
                    "auth.log",
                    t,
                    &tag,
                    &format!("Connection reset by {ip} port {port}"),
                );
            }
            2 => {
                self.syslog(
                    "auth.log",
                    t,
                    &tag,
                    &format!("Unable to negotiate with {ip} port {port}: no matching host key type found. Their offer: ssh-rsa,ssh-dss [preauth]"),
                );
            }
            3..=5 => {
                let rhost = format!("rhost={ip}  user=root");
                self.syslog("auth.log", t, &tag, &format!("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= {rhost}"));
                self.syslog(
                    "auth.log",
                    t + 2,
                    &tag,
                    &format!("Failed password for root from {ip} port {port} ssh2"),
                );
                self.syslog(
                    "auth.log",
                    t + 3,
                    &tag,
                    &format!("Received disconnect from {ip} port {port}:11: Bye Bye [preauth]"),
                );
                self.syslog(
                    "auth.log",
                    t + 3,
                    &tag,
                    &format!(
                        "Disconnected from authenticating user root {ip} port {port} [preauth]"
                    ),
                );
            }
            _ => {
                let user = *self.rng.pick(USERS);
                self.syslog(
                    "auth.log",
                    t,
                    &tag,
                    &format!("Invalid user {user} from {ip} port {port}"),
                );
                self.syslog(
                    "auth.log",
                    t + 1,
                    &tag,
                    "pam_unix(sshd:auth): check pass; user unknown",
                );
                self.syslog("auth.log", t + 1, &tag, &format!("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}"));
                self.syslog(
                    "auth.log",
                    t + 3,
                    &tag,
                    &format!("Failed password for invalid user {user} from {ip} port {port} ssh2"),
                );
                self.syslog(
                    "auth.log",
                    t + 4,
                    &tag,
                    &format!("Received disconnect from {ip} port {port}:11: Bye Bye [preauth]"),
                );
                self.syslog(
                    "auth.log",
                    t + 4,
                    &tag,
                    &format!("Disconnected from invalid user {user} {ip} port {port} [preauth]"),
                );
            }
        }
    }

    /// A packet the firewall dropped (ufw's default logging).
    fn firewall(&mut self, t: i64) {
        let src = ip(&mut self.rng);
        let dpt = *self
            .rng
            .pick(&[23u64, 22, 3389, 445, 8080, 5900, 1433, 6379, 2375, 8443]);
        let (len, ttl, id, spt) = (
            40 + 4 * self.rng.below(6),
            40 + self.rng.below(210),
            self.rng.below(65_536),
            port(&mut self.rng),
        );
        self.kernel(t, &format!("[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:8a:3c:11:52:54:00:12:35:02:08:00 SRC={src} DST=203.0.113.10 LEN={len} TOS=0x00 PREC=0x00 TTL={ttl} ID={id} PROTO=TCP SPT={spt} DPT={dpt} WINDOW=1024 RES=0x00 SYN URGP=0"));
    }

    /// nginx's access log and the application behind it, busier by day;
    /// bots probe for the usual files all the time.
    fn web(&mut self, t: i64, hour: i64) {
        const PATHS: &[&str] = &[
            "/api/orders/{}",
            "/api/orders?page={}",
            "/api/customers/{}",
            "/static/app.{}.js",
            "/",
            "/login",
            "/api/cart/{}/items",
        ];
        const PROBES: &[&str] = &[
            "/wp-login.php",
            "/.env",
            "/.git/config",
            "/phpmyadmin/index.php",
            "/admin/config.php",
            "/cgi-bin/luci/;stok=/locale",
            "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
            "/actuator/health",
        ];
        const AGENTS: &[&str] = &[
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        ];
        let busy = if (8..20).contains(&hour) { 12 } else { 3 };
        let requests = self.rng.below(busy) + 1;
        let ts = Timestamp::from_second(t).expect("in range");
        let clf = ts.strftime("%d/%b/%Y:%H:%M:%S +0000").to_string();
        for _ in 0..requests {
            let path = self
                .rng
                .pick(PATHS)
                .replace("{}", &(1 + self.rng.below(90_000)).to_string());
            let ip = ip(&mut self.rng);
            let agent = *self.rng.pick(AGENTS);
            let (status, bytes) = if self.rng.chance(0.03) {
                (404, 162)
            } else {
                (200, 200 + self.rng.below(40_000))
            };
            let slow = self.rng.chance(0.02);
            let ms = 2 + self.rng.below(if slow { 900 } else { 60 });
            self.push(
                "nginx/access.log",
                t,
                format!(
                    "{ip} - - [{clf}] \"GET {path} HTTP/1.1\" {status} {bytes} \"-\" \"{agent}\""
                ),
            );
            if path.starts_with("/api/") {
                let worker = self.rng.below(4);
                let millis = self.rng.below(1000);
                let line = format!(
                    "{},{millis:03} INFO [worker-{worker}] http: GET {path} {status} in {ms} ms",
                    ts.strftime("%Y-%m-%d %H:%M:%S")
                );
                self.push("webapp/app.log", t, line);
            }
        }
        if self.rng.chance(0.05) {
            let probe = *self.rng.pick(PROBES);
            let ip = ip(&mut self.rng);
            self.push(
                "nginx/access.log",
                t,
                format!("{ip} - - [{clf}] \"GET {probe} HTTP/1.1\" 404 162 \"-\" \"Mozilla/5.0 zgrab/0.x\""),
            );
        }
        let of_hour = t.rem_euclid(HOUR);
        if of_hour % 600 == 0 {
            let (secs, removed) = (self.rng.below(9), self.rng.below(40));
            let line = format!(
                "{},{:03} INFO [scheduler] jobs: session-cleanup finished in 0.{secs} s, removed {removed} sessions",
                ts.strftime("%Y-%m-%d %H:%M:%S"),
                self.rng.below(1000)
            );
            self.push("webapp/app.log", t, line);
        }
        if self.rng.chance(0.004) {
            let ms = 1_000 + self.rng.below(4_000);
            let line = format!(
                "{},{:03} WARNING [worker-{}] db: slow query took {ms} ms: SELECT * FROM orders WHERE customer_id = $1",
                ts.strftime("%Y-%m-%d %H:%M:%S"),
                self.rng.below(1000),
                self.rng.below(4)
            );
            self.push("webapp/app.log", t, line);
        }
    }

    /// The operator logs in over ssh once or twice a working day and runs
    /// a few commands with sudo.
    fn operator_sessions(&mut self) {
        const COMMANDS: &[&str] = &[
            "/usr/bin/systemctl status nginx",
            "/usr/bin/apt update",
            "/usr/bin/journalctl -u webapp --since today",
            "/usr/bin/tail -n 100 /var/log/nginx/error.log",
            "/usr/bin/systemctl reload nginx",
            "/usr/bin/df -h",
        ];
        let mut session = 40;
        let first_day = self.start.div_euclid(DAY) + 1;
        for day in first_day..self.end.div_euclid(DAY) {
            for _ in 0..1 + self.rng.below(2) {
                session += 1;
                let t = day * DAY + 9 * HOUR + self.rng.below(8 * HOUR as usize) as i64;
                let (pid, port) = (pid(&mut self.rng), port(&mut self.rng));
                let sshd = format!("sshd[{pid}]");
                let key = "ED25519 SHA256:Xb3kq0F8mJ2mWn7cY1r6hT9p5sLkQ2vJ8dZ4fN0aBcE";
                self.syslog(
                    "auth.log",
                    t,
                    &sshd,
                    &format!("Accepted publickey for ops from 10.0.0.5 port {port} ssh2: {key}"),
                );
                self.syslog(
                    "auth.log",
                    t,
                    &sshd,
                    "pam_unix(sshd:session): session opened for user ops(uid=1000) by (uid=0)",
                );
                self.syslog(
                    "auth.log",
                    t,
                    "systemd-logind[612]",
                    &format!("New session {session} of user ops."),
                );
                self.syslog(
                    "syslog",
                    t,
                    "systemd[1]",
                    &format!("Started session-{session}.scope - Session {session} of User ops."),
                );
                let mut at = t;
                for _ in 0..1 + self.rng.below(4) {
                    at += 20 + self.rng.below(300) as i64;
                    let command = *self.rng.pick(COMMANDS);
                    let tag = "sudo";
                    self.syslog(
                        "auth.log",
                        at,
                        tag,
                        &format!(
                            "     ops : TTY=pts/0 ; PWD=/home/ops ; USER=root ; COMMAND={command}"
                        ),
                    );
                    self.syslog("auth.log", at, tag, "pam_unix(sudo:session): session opened for user root(uid=0) by ops(uid=1000)");
                    self.syslog(
                        "auth.log",
                        at + 1,
                        tag,
                        "pam_unix(sudo:session): session closed for user root",
                    );
                }
                at += 60;
                self.syslog(
                    "auth.log",
                    at,
                    &sshd,
                    &format!(
                        "Received disconnect from 10.0.0.5 port {port}:11: disconnected by user"
                    ),
                );
                self.syslog(
                    "auth.log",
                    at,
                    &sshd,
                    &format!("Disconnected from user ops 10.0.0.5 port {port}"),
                );
                self.syslog(
                    "auth.log",
                    at,
                    &sshd,
                    "pam_unix(sshd:session): session closed for user ops",
                );
                self.syslog(
                    "auth.log",
                    at,
                    "systemd-logind[612]",
                    &format!("Session {session} logged out. Waiting for processes to exit."),
                );
                self.syslog(
                    "auth.log",
                    at,
                    "systemd-logind[612]",
                    &format!("Removed session {session}."),
                );
                self.syslog(
                    "syslog",
                    at,
                    "systemd[1]",
                    &format!("session-{session}.scope: Deactivated successfully."),
                );
            }
        }
    }

    /// Records `lines` (written by `write`) as incident `name` in `file`.
    fn incident(
        &mut self,
        name: &'static str,
        file: &'static str,
        write: impl FnOnce(&mut Server) -> Vec<String>,
    ) {
        let lines = write(self);
        self.incidents.push(Incident { name, file, lines });
    }

    /// The incidents, at times through the week's last three days.
    pub fn incidents(&mut self) {
        let end = self.end;
        self.incident("oom kill", "kern.log", |s| {
            let t = end - 40 * HOUR;
            let mut v = vec![
                s.kernel(t, "java invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0"),
                s.kernel(t, "CPU: 1 PID: 23817 Comm: java Not tainted 6.1.0-13-amd64 #1  Debian 6.1.55-1"),
                s.kernel(t, "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/webapp.service,task=java,pid=23817,uid=998"),
                s.kernel(t, "Out of memory: Killed process 23817 (java) total-vm:8123456kB, anon-rss:3876543kB, file-rss:0kB, shmem-rss:0kB, UID:998 pgtables:8123kB oom_score_adj:0"),
            ];
            v.push(s.syslog("syslog", t + 1, "systemd[1]", "webapp.service: A process of this unit has been killed by the OOM killer."));
            v.push(s.syslog("syslog", t + 1, "systemd[1]", "webapp.service: Main process exited, code=killed, status=9/KILL"));
            v.push(s.syslog("syslog", t + 1, "systemd[1]", "webapp.service: Failed with result 'oom-kill'."));
            v
        });
        self.incident("ssh brute force from one address", "auth.log", |s| {
            let t = end - 30 * HOUR;
            let ip = "45.134.26.77";
            let mut v = Vec::new();
            for n in 0..400 {
                let at = t + n * 3;
                let (pid, port) = (pid(&mut s.rng), port(&mut s.rng));
                let tag = format!("sshd[{pid}]");
                let user = *s.rng.pick(&["root", "admin", "root", "ubuntu", "root"]);
                if user == "root" {
                    v.push(s.syslog("auth.log", at, &tag, &format!("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user=root")));
                    v.push(s.syslog("auth.log", at + 1, &tag, &format!("Failed password for root from {ip} port {port} ssh2")));
                } else {
                    v.push(s.syslog("auth.log", at, &tag, &format!("Invalid user {user} from {ip} port {port}")));
                    v.push(s.syslog("auth.log", at + 1, &tag, &format!("Failed password for invalid user {user} from {ip} port {port} ssh2")));
                }
                v.push(s.syslog("auth.log", at + 2, &tag, &format!("Connection closed by {ip} port {port} [preauth]")));
            }
            v
        });
        self.incident(
            "root login from the brute-forcing address",
            "auth.log",
            |s| {
                let t = end - 30 * HOUR + 1_300;
                let ip = "45.134.26.77";
                vec![
                    s.syslog(
                        "auth.log",
                        t,
                        "sshd[30112]",
                        &format!("Accepted password for root from {ip} port 51514 ssh2"),
                    ),
                    s.syslog(
                        "auth.log",
                        t,
                        "sshd[30112]",
                        "pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)",
                    ),
                    s.syslog(
                        "auth.log",
                        t,
                        "systemd-logind[612]",
                        "New session 311 of user root.",
                    ),
                ]
            },
        );
        self.incident("segfaulting service", "kern.log", |s| {
            let t = end - 20 * HOUR;
            let mut v = Vec::new();
            for n in 0..5 {
                let at = t + n * 120;
                let pid = 31_000 + n * 17;
                v.push(s.kernel(at, &format!("queue-worker[{pid}]: segfault at 0 ip 000055d0c3a1b2c4 sp 00007ffc9b1e4f10 error 4 in queue-worker[55d0c3a00000+2d000] likely on CPU 1 (core 1, socket 0)")));
                v.push(s.syslog("syslog", at + 1, "systemd[1]", "queue-worker.service: Main process exited, code=killed, status=11/SEGV"));
                v.push(s.syslog("syslog", at + 1, "systemd[1]", "queue-worker.service: Failed with result 'signal'."));
                v.push(s.syslog("syslog", at + 6, "systemd[1]", &format!("queue-worker.service: Scheduled restart job, restart counter is at {}.", n + 1)));
            }
            v
        });
        self.incident("disk I/O error storm", "kern.log", |s| {
            let t = end - 12 * HOUR;
            let mut v = Vec::new();
            for n in 0..60 {
                let at = t + n * 4;
                let sector = 73_400_320 + s.rng.below(2_000_000);
                let tag = s.rng.below(32);
                v.push(s.kernel(at, &format!("sd 2:0:0:0: [sdb] tag#{tag} FAILED Result: hostbyte=DID_OK driverbyte=DRIVER_OK cmd_age=3s")));
                v.push(s.kernel(at, &format!("sd 2:0:0:0: [sdb] tag#{tag} Sense Key : Medium Error [current]")));
                v.push(s.kernel(at, &format!("sd 2:0:0:0: [sdb] tag#{tag} Add. Sense: Unrecovered read error - auto reallocate failed")));
                v.push(s.kernel(at, &format!("critical medium error, dev sdb, sector {sector} op 0x0:(READ) flags 0x0 phys_seg 1 prio class 2")));
                v.push(s.kernel(at, &format!("Buffer I/O error on dev sdb1, logical block {}, async page read", sector / 8)));
            }
            v
        });
        self.incident("filesystem remounted read-only", "kern.log", |s| {
            let t = end - 8 * HOUR;
            vec![
                s.kernel(t, "EXT4-fs error (device sda1): ext4_journal_check_start:83: comm kworker/u4:2: Detected aborted journal"),
                s.kernel(t, "EXT4-fs (sda1): Remounting filesystem read-only"),
            ]
        });
        self.incident("new account added to sudo", "auth.log", |s| {
            let t = end - 16 * HOUR;
            vec![
                s.syslog("auth.log", t, "groupadd[24509]", "group added to /etc/group: name=sysadm, GID=1001"),
                s.syslog("auth.log", t, "useradd[24511]", "new user: name=sysadm, UID=1001, GID=1001, home=/home/sysadm, shell=/bin/bash, from=/dev/pts/1"),
                s.syslog("auth.log", t + 9, "usermod[24520]", "add 'sysadm' to group 'sudo'"),
                s.syslog("auth.log", t + 9, "usermod[24520]", "add 'sysadm' to shadow group 'sudo'"),
                s.syslog("auth.log", t + 15, "passwd[24530]", "pam_unix(passwd:chauthtok): password changed for sysadm"),
            ]
        });
        self.incident("hung task", "kern.log", |s| {
            let t = end - 60 * HOUR;
            vec![
                s.kernel(t, "INFO: task jbd2/sda1-8:245 blocked for more than 120 seconds."),
                s.kernel(t, "      Not tainted 6.1.0-13-amd64 #1 Debian 6.1.55-1"),
                s.kernel(t, "\"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message."),
                s.kernel(t, "task:jbd2/sda1-8     state:D stack:0     pid:245   ppid:2      flags:0x00004000"),
            ]
        });
        self.incident("application disk full", "webapp/app.log", |s| {
            let t = end - 50 * HOUR;
            let mut v = Vec::new();
            for n in 0..30 {
                let at = t + n * 30;
                let ts = Timestamp::from_second(at).expect("in range");
                let line = format!(
                    "{},{:03} ERROR [worker-{}] uploads: failed to write /srv/uploads/{}.pdf: [Errno 28] No space left on device",
                    ts.strftime("%Y-%m-%d %H:%M:%S"),
                    s.rng.below(1000),
                    s.rng.below(4),
                    100_000 + s.rng.below(900_000)
                );
                v.push(s.push("webapp/app.log", at, line));
            }
            v
        });
        self.incident("database unreachable", "webapp/app.log", |s| {
            let t = end - 26 * HOUR;
            let mut v = Vec::new();
            for n in 0..200 {
                let at = t + n;
                let ts = Timestamp::from_second(at).expect("in range");
                let line = format!(
                    "{},{:03} ERROR [worker-{}] db: connection to 10.0.2.15:5432 failed: Connection refused",
                    ts.strftime("%Y-%m-%d %H:%M:%S"),
                    s.rng.below(1000),
                    s.rng.below(4)
                );
                v.push(s.push("webapp/app.log", at, line));
            }
            v
        });
        self.incident("sudo refused", "auth.log", |s| {
            let t = end - 45 * HOUR;
            let mut v = Vec::new();
            for n in 0..3 {
                v.push(s.syslog("auth.log", t + n * 20, "sudo", "pam_unix(sudo:auth): authentication failure; logname=deploy uid=1002 euid=0 tty=/dev/pts/2 ruser=deploy rhost=  user=deploy"));
                v.push(s.syslog("auth.log", t + n * 20 + 5, "sudo", "  deploy : user NOT in sudoers ; TTY=pts/2 ; PWD=/home/deploy ; USER=root ; COMMAND=/bin/bash"));
            }
            v
        });
        self.incident("interface in promiscuous mode", "kern.log", |s| {
            vec![s.kernel(end - 70 * HOUR, "device eth0 entered promiscuous mode")]
        });
        self.incident("unsigned kernel module", "kern.log", |s| {
            let t = end - 58 * HOUR;
            vec![
                s.kernel(t, "nfs_helper: loading out-of-tree module taints kernel."),
                s.kernel(t, "nfs_helper: module verification failed: signature and/or required key missing - tainting kernel"),
            ]
        });
        self.held_out();
    }

    /// Incidents written after the rules were settled on the ones above,
    /// and first run against them unchanged (docs/anomalizer.md has what
    /// that run found).
    fn held_out(&mut self) {
        let end = self.end;
        self.incident("cron job failing every hour", "syslog", |s| {
            let mut v = Vec::new();
            for n in 0..10 {
                let t = end - (10 - n) * HOUR + 1_500;
                let pid = pid(&mut s.rng);
                v.push(s.syslog(
                    "syslog",
                    t,
                    "cron[512]",
                    &format!("(CRON) error (grandchild #{pid} failed with exit status 1)"),
                ));
            }
            v
        });
        self.incident("clock jump", "syslog", |s| {
            let t = end - 34 * HOUR;
            vec![
                s.syslog("syslog", t, "systemd-timesyncd[412]", "System clock time unset or jumped backwards, restoring from recorded timestamp: Thu 2026-12-03 04:12:09 UTC"),
                s.syslog("syslog", t + 1, "systemd-timesyncd[412]", "Contacted time server 192.0.2.123:123 (0.debian.pool.ntp.org)."),
            ]
        });
        self.incident(
            "operator key used from a new address at night",
            "auth.log",
            |s| {
                let t = end - 22 * HOUR + 3 * 60;
                let key = "ED25519 SHA256:Xb3kq0F8mJ2mWn7cY1r6hT9p5sLkQ2vJ8dZ4fN0aBcE";
                vec![s.syslog(
                    "auth.log",
                    t,
                    "sshd[40112]",
                    &format!(
                        "Accepted publickey for ops from 185.220.101.4 port 40022 ssh2: {key}"
                    ),
                )]
            },
        );
        self.incident("web server errors", "nginx/access.log", |s| {
            let t = end - 14 * HOUR;
            let mut v = Vec::new();
            for n in 0..300 {
                let at = t + n / 2;
                let ts = Timestamp::from_second(at).expect("in range");
                let clf = ts.strftime("%d/%b/%Y:%H:%M:%S +0000");
                let ip = ip(&mut s.rng);
                let id = 1 + s.rng.below(90_000);
                v.push(s.push("nginx/access.log", at, format!("{ip} - - [{clf}] \"GET /api/orders/{id} HTTP/1.1\" 502 157 \"-\" \"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0\"")));
            }
            v
        });
        self.incident("web server crash loop", "syslog", |s| {
            let t = end - 52 * HOUR;
            let mut v = Vec::new();
            for n in 0..5 {
                let at = t + n * 100;
                v.push(s.syslog("syslog", at, "systemd[1]", "nginx.service: Main process exited, code=exited, status=1/FAILURE"));
                v.push(s.syslog("syslog", at, "systemd[1]", "nginx.service: Failed with result 'exit-code'."));
                v.push(s.syslog("syslog", at, "systemd[1]", "Failed to start nginx.service - A high performance web server and a reverse proxy server."));
            }
            v
        });
        self.incident("memory errors", "kern.log", |s| {
            let t = end - 44 * HOUR;
            (0..4)
                .map(|n| s.kernel(t + n * 600, "EDAC MC0: 1 CE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0 (channel:1 slot:0 page:0x3f2a1 offset:0x0 grain:32 syndrome:0x0 - area:DRAM err_code:0001:0090 socket:0 ha:0 channel_mask:2 rank:0)"))
                .collect()
        });
        self.incident("AppArmor denial", "kern.log", |s| {
            let t = end - 28 * HOUR;
            vec![s.kernel(t, "audit: type=1400 audit(1796012345.123:456): apparmor=\"DENIED\" operation=\"open\" class=\"file\" profile=\"/usr/sbin/nginx\" name=\"/etc/shadow\" pid=2214 comm=\"nginx\" requested_mask=\"r\" denied_mask=\"r\" fsuid=33 ouid=0")]
        });
        self.incident("ssh moved to another port", "auth.log", |s| {
            let t = end - 9 * HOUR;
            vec![
                s.syslog("auth.log", t, "sshd[812]", "Received SIGHUP; restarting."),
                s.syslog(
                    "auth.log",
                    t + 1,
                    "sshd[812]",
                    "Server listening on 0.0.0.0 port 2222.",
                ),
                s.syslog(
                    "auth.log",
                    t + 1,
                    "sshd[812]",
                    "Server listening on :: port 2222.",
                ),
            ]
        });
    }

    /// The events of `tests/data/blind-events.json`, written by a session
    /// that never saw this code or the incidents above: incidents, and
    /// benign events an operator would dismiss. Each starts 50 minutes
    /// before an odd hour, two hours apart, from 3 hours before the end.
    /// Returns the benign ones (their lines must show in no finding).
    pub fn blind_events(&mut self) -> Vec<Incident> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/blind-events.json");
        let events: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let mut benign = Vec::new();
        for (i, event) in events.iter().enumerate() {
            let start = self.end - (3 + 2 * i as i64) * HOUR - 50 * 60;
            let text = |v: &serde_json::Value, f: &str| v[f].as_str().map(str::to_string);
            let name: &'static str = text(event, "name").unwrap().leak();
            let file: &'static str = text(event, "file").unwrap().leak();
            let mut lines = Vec::new();
            for line in event["lines"].as_array().unwrap() {
                let t = start + line["offset_secs"].as_i64().unwrap();
                let message = text(line, "message").unwrap();
                match text(line, "tag") {
                    Some(tag) => {
                        lines.push(self.syslog(file, t, &tag, &message));
                        if tag == "kernel" {
                            let copy = lines.last().unwrap().clone();
                            self.push("syslog", t, copy);
                        }
                    }
                    None => {
                        let ts = Timestamp::from_second(t).expect("in range");
                        let millis = self.rng.below(1000);
                        let stamp = ts.strftime("%Y-%m-%d %H:%M:%S");
                        lines.push(self.push(file, t, format!("{stamp},{millis:03} {message}")));
                    }
                }
            }
            let incident = Incident { name, file, lines };
            match event["kind"].as_str() {
                Some("incident") => self.incidents.push(incident),
                _ => benign.push(incident),
            }
        }
        benign
    }

    /// The web application stops logging `hours` before the end (its
    /// process hangs): the silence incident.
    pub fn application_stops(&mut self, hours: i64) {
        let until = self.end - hours * HOUR;
        if let Some(lines) = self.files.get_mut("webapp/app.log") {
            lines.retain(|(t, _)| *t < until);
        }
    }

    /// Writes the logs under `dir`, each file in time order; syslog and
    /// auth.log rotated as logrotate leaves them (`.2.gz`, `.1`, current).
    pub fn write(&mut self, dir: &Path) {
        for (name, lines) in &mut self.files {
            lines.sort_by_key(|(t, _)| *t);
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            if matches!(*name, "syslog" | "auth.log") {
                let cut = |days: i64| self.end - days * DAY;
                let older: Vec<&String> = lines
                    .iter()
                    .filter(|(t, _)| *t < cut(4))
                    .map(|(_, l)| l)
                    .collect();
                let last: Vec<&String> = lines
                    .iter()
                    .filter(|(t, _)| (cut(4)..cut(1)).contains(t))
                    .map(|(_, l)| l)
                    .collect();
                let current: Vec<&String> = lines
                    .iter()
                    .filter(|(t, _)| *t >= cut(1))
                    .map(|(_, l)| l)
                    .collect();
                let gz = std::fs::File::create(dir.join(format!("{name}.2.gz"))).unwrap();
                let mut enc = flate2::write::GzEncoder::new(gz, flate2::Compression::fast());
                enc.write_all(joined(&older).as_bytes()).unwrap();
                enc.finish().unwrap();
                std::fs::write(dir.join(format!("{name}.1")), joined(&last)).unwrap();
                std::fs::write(&path, joined(&current)).unwrap();
            } else {
                let all: Vec<&String> = lines.iter().map(|(_, l)| l).collect();
                std::fs::write(&path, joined(&all)).unwrap();
            }
        }
    }
}

fn joined(lines: &[&String]) -> String {
    let mut out = String::new();
    for line in lines {
        writeln!(out, "{line}").unwrap();
    }
    out
}

/// Copies this machine's own package-manager logs into `dir`, as they are.
/// Returns the files copied.
pub fn copy_package_logs(dir: &Path) -> Vec<String> {
    let mut copied = Vec::new();
    for name in [
        "dpkg.log",
        "alternatives.log",
        "apt/history.log",
        "apt/term.log",
    ] {
        let from = Path::new("/var/log").join(name);
        if from.is_file() {
            let to = dir.join(name);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&from, &to).unwrap();
            copied.push(name.to_string());
        }
    }
    copied
}
