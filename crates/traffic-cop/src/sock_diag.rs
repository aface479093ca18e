//! The kernel's socket tables over netlink `sock_diag`, as `ss` reads them.
//!
//! Why not `/proc/net/tcp`: the kernel formats that file as text and, for
//! every `read()`, walks its hash tables again to find where it left off;
//! with thousands of sockets that costs more than the whole netlink dump,
//! and the text must then be parsed back. Netlink also filters by state in
//! the kernel, so a listener-only scan never sees established connections.
//!
//! Wire format (linux/inet_diag.h): a request is `nlmsghdr` +
//! `inet_diag_req_v2`; the answer is a stream of `nlmsghdr` +
//! `inet_diag_msg` messages ending in `NLMSG_DONE`.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto, socket,
};

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_HDRLEN: usize = 16;
const INET_DIAG_MSG_LEN: usize = 72;

pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// TCP states as the kernel numbers them (include/net/tcp_states.h).
pub const TCP_ESTABLISHED: u8 = 1;
pub const TCP_CLOSE: u8 = 7;
pub const TCP_LISTEN: u8 = 10;

/// One `inet_diag_msg`, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagSocket {
    pub state: u8,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub uid: u32,
    pub inode: u64,
}

/// Dumps the sockets of one protocol, IPv4 then IPv6, whose state bit is set
/// in `states` (bit N for state N).
pub fn dump(protocol: u8, states: u32) -> io::Result<Vec<DiagSocket>> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkSockDiag,
    )?;
    let kernel = NetlinkAddr::new(0, 0);
    let mut sockets = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    for (seq, family) in [(1u32, AF_INET), (2, AF_INET6)] {
        sendto(
            fd.as_raw_fd(),
            &request(family, protocol, states, seq),
            &kernel,
            MsgFlags::empty(),
        )?;
        'batches: loop {
            let len = recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
            let mut at = 0;
            while at + NLMSG_HDRLEN <= len {
                let msg_len = u32_at(&buf, at) as usize;
                let msg_type = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
                if msg_len < NLMSG_HDRLEN || at + msg_len > len {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "truncated sock_diag message",
                    ));
                }
                let body = &buf[at + NLMSG_HDRLEN..at + msg_len];
                match msg_type {
                    NLMSG_DONE => break 'batches,
                    NLMSG_ERROR => {
                        let errno = body
                            .get(..4)
                            .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                        return Err(io::Error::from_raw_os_error(-errno));
                    }
                    SOCK_DIAG_BY_FAMILY => sockets.extend(decode(body)),
                    _ => {}
                }
                at += (msg_len + 3) & !3;
            }
        }
    }
    Ok(sockets)
}

fn request(family: u8, protocol: u8, states: u32, seq: u32) -> Vec<u8> {
    let mut msg = Vec::with_capacity(NLMSG_HDRLEN + 56);
    msg.extend_from_slice(&((NLMSG_HDRLEN + 56) as u32).to_ne_bytes());
    msg.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    // inet_diag_req_v2: family, protocol, ext, pad, states, then a zeroed
    // inet_diag_sockid (48 bytes): no address filter.
    msg.extend_from_slice(&[family, protocol, 0, 0]);
    msg.extend_from_slice(&states.to_ne_bytes());
    msg.resize(NLMSG_HDRLEN + 56, 0);
    msg
}

fn decode(body: &[u8]) -> Option<DiagSocket> {
    if body.len() < INET_DIAG_MSG_LEN {
        return None;
    }
    let ip = |at: usize| -> IpAddr {
        let bytes: [u8; 16] = body[at..at + 16].try_into().expect("16 bytes");
        if body[0] == AF_INET {
            IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
        } else {
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
    };
    let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
    Some(DiagSocket {
        state: body[1],
        local: SocketAddr::new(ip(8), port(4)),
        remote: SocketAddr::new(ip(24), port(6)),
        uid: u32_at(body, 64),
        inode: u64::from(u32_at(body, 68)),
    })
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn dumps_listeners_with_state_filter() {
        let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
        let v6 = TcpListener::bind("[::1]:0").unwrap();
        let listeners = dump(IPPROTO_TCP, 1 << TCP_LISTEN).unwrap();
        assert!(listeners.iter().all(|s| s.state == TCP_LISTEN));
        for l in [&v4, &v6] {
            let addr = l.local_addr().unwrap();
            let found = listeners
                .iter()
                .find(|s| s.local == addr)
                .unwrap_or_else(|| panic!("{addr} listed"));
            assert_eq!(found.uid, nix::unistd::geteuid().as_raw());
            assert!(found.inode > 0);
        }
        let client = std::net::TcpStream::connect(v4.local_addr().unwrap()).unwrap();
        let established = dump(IPPROTO_TCP, 1 << TCP_ESTABLISHED).unwrap();
        let ours = established
            .iter()
            .find(|s| s.local == client.local_addr().unwrap())
            .expect("client listed");
        assert_eq!(ours.remote, v4.local_addr().unwrap());
    }
}
