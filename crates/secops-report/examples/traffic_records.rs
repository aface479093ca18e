//! Writes N realistic traffic-cop records to stdout, for measuring
//! secops-report on a known input (the Performance section of docs/secops-report.md):
//!
//!     cargo run --release -p secops-report --example traffic_records -- 1000000 > 1m.jsonl
//!
//! Values vary the way a fleet's do (hosts, ports, processes, users,
//! severities), from a fixed seed so every run writes the same bytes.

use std::io::{self, BufWriter, Write};

const HOSTS: [&str; 8] = [
    "web1",
    "web2",
    "web3",
    "db1",
    "db2",
    "cache1",
    "bastion",
    "ci-runner",
];
const PROCESSES: [(&str, &str, &str); 6] = [
    ("sshd", "/usr/sbin/sshd", "root"),
    ("nginx", "/usr/sbin/nginx", "www-data"),
    (
        "postgres",
        "/usr/lib/postgresql/16/bin/postgres",
        "postgres",
    ),
    ("python3", "/usr/bin/python3.11", "devops"),
    ("node", "/usr/local/bin/node", "app"),
    ("redis-server", "/usr/bin/redis-server", "redis"),
];
const PORTS: [u16; 8] = [22, 80, 443, 5432, 6379, 8080, 3000, 9100];

/// A small linear congruential generator: plenty for varied test data, and
/// no dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % below as u64) as usize
    }
}

fn main() -> io::Result<()> {
    let count: u64 = match std::env::args().nth(1).map(|n| n.parse()) {
        Some(Ok(n)) => n,
        _ => {
            eprintln!("usage: traffic_records COUNT");
            std::process::exit(2);
        }
    };
    let mut rng = Lcg(0x5ec0_5ec0);
    let mut out = BufWriter::new(io::stdout().lock());
    for n in 0..count {
        let host = HOSTS[rng.next(HOSTS.len())];
        let (process, exe, user) = PROCESSES[rng.next(PROCESSES.len())];
        let port = PORTS[rng.next(PORTS.len())];
        let pid = 300 + rng.next(60_000);
        let proto = if rng.next(5) == 0 { "udp" } else { "tcp" };
        let addr = ["0.0.0.0", "127.0.0.1", "::"][rng.next(3)];
        let endpoint = if addr.contains(':') {
            format!("[{addr}]:{port}")
        } else {
            format!("{addr}:{port}")
        };
        let approved = rng.next(4) != 0;
        let (status, severity, verdict) = if approved {
            ("approved", "info", "is on the whitelist")
        } else if port < 1024 {
            ("unapproved", "critical", "is not on the whitelist")
        } else {
            ("unapproved", "high", "is not on the whitelist")
        };
        let second = n % 60;
        writeln!(
            out,
            r#"{{"ts":"2026-11-21T19:02:{second:02}Z","host":"{host}","tool":"traffic-cop","kind":"port","severity":"{severity}","message":"{proto} {endpoint} is held by {process} (pid {pid}, user {user}) and {verdict}","status":"{status}","proto":"{proto}","addr":"{addr}","port":{port},"pid":{pid},"user":"{user}","process":"{process}","exe":"{exe}"}}"#
        )?;
    }
    out.flush()
}
