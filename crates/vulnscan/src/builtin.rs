//! The built-in scanner, used when nmap is missing or `--engine builtin`:
//! a TCP connect scan on a pool of plain threads that pull ports from a
//! shared counter, so at most `concurrency` connects are in flight. Threads
//! rather than an async runtime: on loopback every connect is answered at
//! once and the work is kernel time, which a few threads saturate; off-host
//! the per-connection timeout bounds each thread's wait. See
//! docs/benchmarks.md for the measurement against `nmap -sT`.

use std::io::{Read, Write};
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

/// Ports handed to a thread per fetch: large enough that the shared counter
/// is not contended, small enough that threads finish together.
const BATCH: usize = 32;

/// Scans every port of every address and returns the hosts with their open
/// ports, in address order.
pub fn scan(addrs: &[IpAddr], opts: &BuiltinOptions) -> Vec<Host> {
    let ports = opts.ports.ports();
    let total = addrs.len() * ports.len();
    let next = AtomicUsize::new(0);
    let found: Mutex<Vec<(usize, Port)>> = Mutex::new(Vec::new());
    let workers = opts.concurrency.clamp(1, total.max(1));
    thread::scope(|scope| {
        for _ in 0..workers {
            thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn_scoped(scope, || {
                    loop {
                        let start = next.fetch_add(BATCH, Ordering::Relaxed);
                        if start >= total {
                            break;
                        }
                        for item in start..(start + BATCH).min(total) {
                            let (host, port) = (item / ports.len(), ports[item % ports.len()]);
                            if let Some(open) = probe(SocketAddr::new(addrs[host], port), opts) {
                                found
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .push((host, open));
                            }
                        }
                    }
                })
                .expect("a scanner thread starts");
        }
    });
    let mut found = found.into_inner().unwrap_or_else(|e| e.into_inner());
    found.sort_by_key(|(host, port)| (*host, port.port));
    let mut hosts: Vec<Host> = addrs
        .iter()
        .map(|ip| Host {
            addr: ip.to_string(),
            ..Host::default()
        })
        .collect();
    for (host, port) in found {
        hosts[host].ports.push(port);
    }
    hosts
}

/// Connects once; `Some` only for a real listener.
fn probe(addr: SocketAddr, opts: &BuiltinOptions) -> Option<Port> {
    let stream = TcpStream::connect_timeout(&addr, opts.timeout).ok()?;
    if is_self_connect(&stream) {
        return None;
    }
    let banner = grab_banner(stream, opts.banner_timeout);
    let service = banner
        .as_deref()
        .and_then(service_from_banner)
        .or_else(|| service_from_port(addr.port()))
        .map(String::from);
    Some(Port {
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
