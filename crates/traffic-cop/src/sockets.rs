//! The sockets of this network namespace, as `ss` sees them.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use secops_common::Error;

use crate::sock_diag::{self, IPPROTO_TCP, IPPROTO_UDP, TCP_CLOSE, TCP_ESTABLISHED, TCP_LISTEN};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    let failed = |proto: Proto, err: std::io::Error| {
        Error::failed(format!(
            "cannot read the kernel's {proto} socket table (netlink sock_diag): {err}"
        ))
    };
    // UDP has no listening state: a bound, unconnected socket is CLOSE.
    let (tcp_states, udp_states) = if all {
        (u32::MAX, u32::MAX)
    } else {
        (1 << TCP_LISTEN, 1 << TCP_CLOSE)
    };
    let mut sockets = Vec::new();
    for (proto, protocol, states) in [
        (Proto::Tcp, IPPROTO_TCP, tcp_states),
        (Proto::Udp, IPPROTO_UDP, udp_states),
    ] {
        for found in sock_diag::dump(protocol, states).map_err(|err| failed(proto, err))? {
            let state = state_name(proto, found.state);
            let server = matches!(state, "listen" | "unconn");
            sockets.push(Socket {
                proto,
                local: found.local,
                remote: (!server).then_some(found.remote),
                state,
                uid: found.uid,
                inode: found.inode,
            });
        }
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
fn state_name(proto: Proto, state: u8) -> &'static str {
    match (proto, state) {
        (Proto::Udp, TCP_ESTABLISHED) => "estab",
        (Proto::Udp, _) => "unconn",
        (Proto::Tcp, state) => match state {
            TCP_ESTABLISHED => "estab",
            2 => "syn-sent",
            3 => "syn-recv",
            4 => "fin-wait-1",
            5 => "fin-wait-2",
            6 => "time-wait",
            TCP_CLOSE => "unconn",
            8 => "close-wait",
            9 => "last-ack",
            TCP_LISTEN => "listen",
            11 => "closing",
            12 => "new-syn-recv",
            _ => "unknown",
        },
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
