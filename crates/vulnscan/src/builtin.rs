//! The built-in scanner, used when nmap is missing or `--engine builtin`:
//! a TCP connect scan on a pool of plain threads that pull ports from a
//! shared counter, so at most `concurrency` connects are in flight. Threads
//! rather than an async runtime: on loopback every connect is answered at
//! once and the work is kernel time, which a few threads saturate; off-host
//! the per-connection timeout bounds each thread's wait. See
//! docs/benchmarks.md for the measurement against `nmap -sT`.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use crate::ports::PortList;
use crate::scan::{Host, Port};

/// How the built-in scanner scans.
#[derive(Debug, Clone)]
pub struct BuiltinOptions {
    pub ports: PortList,
    /// Connects in flight at once (threads).
    pub concurrency: usize,
    /// How long one connect may take before the port counts as filtered.
    pub timeout: Duration,
    /// How long to wait for a banner; zero skips banner grabbing.
    pub banner_timeout: Duration,
}

/// Ports each thread takes from the counter at a time.
const BATCH: usize = 32;

/// Retry rounds for connects that timed out, each with this many times
/// the timeout of the round before: a connect starved of CPU by other work
/// on the machine, or whose SYN was dropped and is resent after a second,
/// is asked again with more time instead of reported closed, as nmap
/// retransmits unanswered probes.
const RETRY_FACTORS: [u32; 2] = [4, 4];

/// Retries happen only while the ports that timed out on a host are few
/// (at most this or 1 in 20 of its ports): on a firewall that drops
/// everything they are filtered, and asking again would only take time.
const RETRY_AT_MOST: usize = 64;

/// What one connect found.
enum Probe {
    Open(Port),
    /// Refused, reset, or unreachable: closed.
    Closed,
    /// No answer within the timeout: filtered, or the scanner was late.
    TimedOut,
}

/// A port of an address, by the address's index.
type Target = (usize, u16);

/// What a round found: open ports, and the targets to ask again.
type Found = (Vec<(usize, Port)>, Vec<Target>);

/// Connect-scans `opts.ports` on every address, then asks again, with
/// more time, the few ports that did not answer.
pub fn scan(addrs: &[IpAddr], opts: &BuiltinOptions) -> Vec<Host> {
    let ports = opts.ports.ports();
    let limit = RETRY_AT_MOST.max(ports.len() / 20);
    let mut hosts: Vec<Host> = addrs
        .iter()
        .map(|ip| Host {
            addr: ip.to_string(),
            ..Host::default()
        })
        .collect();
    // The first round walks every address and port without listing them
    // (a /24 times 65,535 ports is 16 million); retries list the few.
    let mut retry: Vec<Target> = Vec::new();
    let mut timeout = opts.timeout;
    for round in 0..=RETRY_FACTORS.len() {
        let (count, target): (usize, Box<dyn Fn(usize) -> Target + Sync>) = if round == 0 {
            (
                addrs.len() * ports.len(),
                Box::new(|i| (i / ports.len(), ports[i % ports.len()])),
            )
        } else {
            let list = std::mem::take(&mut retry);
            (list.len(), Box::new(move |i| list[i]))
        };
        let (open, timed_out) = run_round(count, &*target, addrs, opts, timeout, limit);
        for (host, port) in open {
            hosts[host].ports.push(port);
        }
        match RETRY_FACTORS.get(round) {
            Some(factor) if !timed_out.is_empty() => {
                timeout *= *factor;
                retry = timed_out;
            }
            _ => break,
        }
    }
    for host in &mut hosts {
        host.ports.sort_by_key(|p| p.port);
    }
    hosts
}

/// One round over `count` targets, by at most `opts.concurrency` threads:
/// the open ports, and the targets that timed out on hosts where no more
/// than `limit` did (the only ones worth asking again; past that a host's
/// are not even kept, so a firewall's silence costs no memory).
fn run_round(
    count: usize,
    target: &(dyn Fn(usize) -> Target + Sync),
    addrs: &[IpAddr],
    opts: &BuiltinOptions,
    timeout: Duration,
    limit: usize,
) -> Found {
    let next = AtomicUsize::new(0);
    let timeouts: Vec<AtomicUsize> = addrs.iter().map(|_| AtomicUsize::new(0)).collect();
    let found: Mutex<Found> = Mutex::default();
    let workers = opts.concurrency.clamp(1, count.max(1));
    thread::scope(|scope| {
        for _ in 0..workers {
            thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn_scoped(scope, || {
                    loop {
                        let start = next.fetch_add(BATCH, Ordering::Relaxed);
                        if start >= count {
                            break;
                        }
                        let (mut open, mut timed_out) = (Vec::new(), Vec::new());
                        for (host, port) in (start..(start + BATCH).min(count)).map(target) {
                            match probe(SocketAddr::new(addrs[host], port), opts, timeout) {
                                Probe::Open(found) => open.push((host, found)),
                                Probe::TimedOut => {
                                    if timeouts[host].fetch_add(1, Ordering::Relaxed) < limit {
                                        timed_out.push((host, port));
                                    }
                                }
                                Probe::Closed => {}
                            }
                        }
                        let mut found = found.lock().unwrap_or_else(|e| e.into_inner());
                        found.0.append(&mut open);
                        found.1.append(&mut timed_out);
                    }
                })
                .expect("a scanner thread starts");
        }
    });
    let (open, mut timed_out) = found.into_inner().unwrap_or_else(|e| e.into_inner());
    timed_out.retain(|(host, _)| timeouts[*host].load(Ordering::Relaxed) <= limit);
    (open, timed_out)
}

/// Connects once; `Some` only for a real listener.
fn probe(addr: SocketAddr, opts: &BuiltinOptions, timeout: Duration) -> Probe {
    let stream = match TcpStream::connect_timeout(&addr, timeout) {
        Ok(stream) => stream,
        Err(err) if matches!(err.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
            return Probe::TimedOut;
        }
        Err(_) => return Probe::Closed,
    };
    if is_self_connect(&stream) {
        return Probe::Closed;
    }
    let banner = grab_banner(stream, opts.banner_timeout);
    let service = banner
        .as_deref()
        .and_then(service_from_banner)
        .or_else(|| service_from_port(addr.port()))
        .map(String::from);
    Probe::Open(Port {
        proto: "tcp".to_string(),
        port: addr.port(),
        state: "open".to_string(),
        service,
        banner,
        ..Port::default()
    })
}

/// A connect to a closed loopback port whose ephemeral source port happens
/// to equal the destination port completes a TCP simultaneous open with
/// itself: the port looks open although nothing listens. Such a socket's
/// local and peer addresses are the same.
pub fn is_self_connect(stream: &TcpStream) -> bool {
    matches!((stream.local_addr(), stream.peer_addr()), (Ok(local), Ok(peer)) if local == peer)
}

/// What the service says first; services that wait for the client (HTTP)
/// are asked with a HEAD request, as nmap's NULL-then-GET probes do.
fn grab_banner(mut stream: TcpStream, timeout: Duration) -> Option<String> {
    if timeout.is_zero() || stream.set_read_timeout(Some(timeout)).is_err() {
        return None;
    }
    let mut buf = [0u8; 256];
    let mut read = stream.read(&mut buf).unwrap_or(0);
    if read == 0 && stream.write_all(b"HEAD / HTTP/1.0\r\n\r\n").is_ok() {
        read = stream.read(&mut buf).unwrap_or(0);
    }
    let text = String::from_utf8_lossy(&buf[..read]);
    let line = text.lines().next().unwrap_or("").trim();
    (!line.is_empty()).then(|| line.chars().filter(|c| !c.is_control()).collect())
}

fn service_from_banner(banner: &str) -> Option<&'static str> {
    const PREFIXES: [(&str, &str); 6] = [
        ("SSH-", "ssh"),
        ("HTTP/", "http"),
        ("+OK", "pop3"),
        ("* OK", "imap"),
        ("-ERR", "redis"),
        ("RFB ", "vnc"),
    ];
    if banner.starts_with("220") {
        let lower = banner.to_ascii_lowercase();
        return Some(if lower.contains("ftp") { "ftp" } else { "smtp" });
    }
    PREFIXES
        .iter()
        .find(|(prefix, _)| banner.starts_with(prefix))
        .map(|(_, name)| *name)
}

/// The IANA name of a well-known port, when the banner said nothing.
fn service_from_port(port: u16) -> Option<&'static str> {
    Some(match port {
        21 => "ftp",
        22 => "ssh",
        23 => "telnet",
        25 => "smtp",
        80 => "http",
        443 => "https",
        512 => "exec",
        513 => "login",
        514 => "shell",
        3306 => "mysql",
        5432 => "postgresql",
        5900 => "vnc",
        6379 => "redis",
        9200 => "elasticsearch",
        11211 => "memcached",
        27017 => "mongodb",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpListener};
    use std::os::fd::OwnedFd;

    use nix::sys::socket::{
        AddressFamily, SockFlag, SockType, SockaddrIn, bind, connect, getsockname, socket,
    };

    #[test]
    fn a_socket_connected_to_itself_is_recognised() {
        // Bind to a port, then connect to that same port: Linux completes a
        // simultaneous open with itself, exactly what a scan can stumble on.
        let fd: OwnedFd = socket(
            AddressFamily::Inet,
            SockType::Stream,
            SockFlag::empty(),
            None,
        )
        .unwrap();
        bind(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            &SockaddrIn::new(127, 0, 0, 1, 0),
        )
        .unwrap();
        let local: SockaddrIn = getsockname(std::os::fd::AsRawFd::as_raw_fd(&fd)).unwrap();
        connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &local).unwrap();
        let stream = TcpStream::from(fd);
        assert!(is_self_connect(&stream));

        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let normal = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        assert!(!is_self_connect(&normal));
    }

    #[test]
    fn banners_name_services() {
        assert_eq!(service_from_banner("SSH-2.0-OpenSSH_9.2p1"), Some("ssh"));
        assert_eq!(service_from_banner("220 (vsFTPd 3.0.3)"), Some("ftp"));
        assert_eq!(service_from_banner("220 mx ESMTP Postfix"), Some("smtp"));
        assert_eq!(service_from_banner("hello"), None);
    }
}
