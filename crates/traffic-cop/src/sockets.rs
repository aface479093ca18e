//! The kernel's socket tables (`/proc/net/{tcp,tcp6,udp,udp6}` of this
//! network namespace, as `ss` sees them).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use procfs::net::{TcpState, UdpState};
use secops_common::Error;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who can reach a socket, judged from the address it is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// 127.0.0.0/8, ::1 (and their IPv4-mapped forms): this host only.
    Loopback,
    /// 0.0.0.0 or ::, every interface.
    Any,
    /// One specific non-loopback address.
    Address,
}

impl Scope {
    pub fn of(ip: IpAddr) -> Scope {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        if ip.is_loopback() {
            Scope::Loopback
        } else if ip.is_unspecified() {
            Scope::Any
        } else {
            Scope::Address
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Loopback => "loopback",
            Scope::Any => "any",
            Scope::Address => "address",
        }
    }
}

/// One socket from the kernel's tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    pub proto: Proto,
    pub local: SocketAddr,
    /// The peer, for connected sockets.
    pub remote: Option<SocketAddr>,
    /// `listen` or `unconn` for servers (named as `ss` names them), else the
    /// connection state.
    pub state: &'static str,
    /// The user that created the socket; known even when its process is not
    /// visible to us.
    pub uid: u32,
    pub inode: u64,
}

impl Socket {
    /// A TCP socket in LISTEN or a bound, unconnected UDP socket: what
    /// `ss -tul` lists.
    pub fn is_server(&self) -> bool {
        matches!(self.state, "listen" | "unconn")
    }

    pub fn scope(&self) -> Scope {
        Scope::of(self.local.ip())
    }
}

/// Every TCP and UDP socket, IPv4 and IPv6; only servers unless `all`.
/// Sorted by protocol, port, address, so output is stable between runs.
pub fn read_sockets(all: bool) -> Result<Vec<Socket>, Error> {
    let table_error = |table: &str, err: procfs::ProcError| {
        Error::failed(format!("cannot read /proc/net/{table}: {err}"))
    };
    let mut sockets = Vec::new();
    for (table, entries) in [("tcp", procfs::net::tcp()), ("tcp6", procfs::net::tcp6())] {
        for entry in entries.map_err(|err| table_error(table, err))? {
            sockets.push(Socket {
                proto: Proto::Tcp,
                local: entry.local_address,
                remote: (entry.state != TcpState::Listen).then_some(entry.remote_address),
                state: tcp_state(&entry.state),
                uid: entry.uid,
                inode: entry.inode,
            });
        }
    }
    for (table, entries) in [("udp", procfs::net::udp()), ("udp6", procfs::net::udp6())] {
        for entry in entries.map_err(|err| table_error(table, err))? {
            let connected = entry.state == UdpState::Established;
            sockets.push(Socket {
                proto: Proto::Udp,
                local: entry.local_address,
                remote: connected.then_some(entry.remote_address),
                state: if connected { "estab" } else { "unconn" },
                uid: entry.uid,
                inode: entry.inode,
            });
        }
    }
    if !all {
        sockets.retain(Socket::is_server);
    }
    sockets.sort_by(|a, b| {
        (a.proto, a.local.port(), a.local.ip(), a.inode).cmp(&(
            b.proto,
            b.local.port(),
            b.local.ip(),
            b.inode,
        ))
    });
    Ok(sockets)
}

/// State names as `ss` prints them, so the two read alike.
fn tcp_state(state: &TcpState) -> &'static str {
    match state {
        TcpState::Established => "estab",
        TcpState::SynSent => "syn-sent",
        TcpState::SynRecv => "syn-recv",
        TcpState::FinWait1 => "fin-wait-1",
        TcpState::FinWait2 => "fin-wait-2",
        TcpState::TimeWait => "time-wait",
        TcpState::Close => "unconn",
        TcpState::CloseWait => "close-wait",
        TcpState::LastAck => "last-ack",
        TcpState::Listen => "listen",
        TcpState::Closing => "closing",
        TcpState::NewSynRecv => "new-syn-recv",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, UdpSocket};

    #[test]
    fn scope_of_addresses() {
        let scope = |s: &str| Scope::of(s.parse().unwrap());
        assert_eq!(scope("127.0.0.53"), Scope::Loopback);
        assert_eq!(scope("::1"), Scope::Loopback);
        assert_eq!(scope("::ffff:127.0.0.1"), Scope::Loopback);
        assert_eq!(scope("0.0.0.0"), Scope::Any);
        assert_eq!(scope("::"), Scope::Any);
        assert_eq!(scope("192.0.2.7"), Scope::Address);
        assert_eq!(scope("fe80::1"), Scope::Address);
    }

    #[test]
    fn finds_our_own_listeners_with_our_uid() {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let udp = UdpSocket::bind("[::1]:0").unwrap();
        let sockets = read_sockets(false).unwrap();
        let uid = nix::unistd::geteuid().as_raw();
        let find =
            |proto, addr: SocketAddr| sockets.iter().find(|s| s.proto == proto && s.local == addr);
        let t = find(Proto::Tcp, tcp.local_addr().unwrap()).expect("tcp listener listed");
        assert_eq!((t.state, t.uid, t.remote), ("listen", uid, None));
        let u = find(Proto::Udp, udp.local_addr().unwrap()).expect("udp socket listed");
        assert_eq!((u.state, u.uid), ("unconn", uid));
        assert!(sockets.iter().all(Socket::is_server));
        assert!(
            sockets
                .windows(2)
                .all(|w| (w[0].proto, w[0].local.port()) <= (w[1].proto, w[1].local.port()))
        );
    }
}
