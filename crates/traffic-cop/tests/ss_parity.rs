//! traffic-cop against the anchor: the set of (protocol, address, port, pid)
//! must be the one `ss -tulpnH` reports. One test in its own binary, so no
//! other test of ours opens or closes sockets while it compares.

mod support;

use std::net::{TcpListener, UdpSocket};

use support::*;

#[test]
fn listeners_match_ss_exactly() {
    // Every family and scope: loopback and wildcard, v4 and v6, TCP and UDP
    // (std leaves v6 wildcards dual-stack, which ss prints as `*`).
    let tcp: Vec<TcpListener> = ["127.0.0.1:0", "0.0.0.0:0", "[::1]:0", "[::]:0"]
        .iter()
        .map(|a| {
            TcpListener::bind(a).unwrap_or_else(|e| panic!("bind {a}: {e} (needs IPv6 on lo)"))
        })
        .collect();
    let udp: Vec<UdpSocket> = ["127.0.0.1:0", "0.0.0.0:0", "[::1]:0", "[::]:0"]
        .iter()
        .map(|a| UdpSocket::bind(a).unwrap_or_else(|e| panic!("bind {a}: {e}")))
        .collect();

    // Sockets elsewhere on the machine may come and go while we run: demand
    // everything ss saw both before and after, and nothing ss saw neither time.
    let before = ss_rows();
    let out = run(traffic_cop().args(["--format", "jsonl"]));
    let after = ss_rows();
    assert!(out.status.success(), "{}", stderr(&out));
    let ours = our_rows(&records(&out.stdout));

    let stable: Vec<_> = before.intersection(&after).collect();
    let missing: Vec<_> = stable.iter().filter(|row| !ours.contains(row)).collect();
    assert!(
        missing.is_empty(),
        "ss lists these and traffic-cop does not: {missing:#?}"
    );
    let extra: Vec<_> = ours
        .iter()
        .filter(|row| !before.contains(row) && !after.contains(row))
        .collect();
    assert!(
        extra.is_empty(),
        "traffic-cop lists these and ss does not: {extra:#?}"
    );

    let me = Some(std::process::id());
    let mine: Vec<_> = ours.iter().filter(|row| row.3 == me).collect();
    let expected = tcp.len() + udp.len();
    assert_eq!(
        mine.len(),
        expected,
        "our own {expected} sockets: {mine:#?}"
    );
    for sock in &tcp {
        let a = sock.local_addr().unwrap();
        assert!(
            ours.contains(&("tcp".into(), a.ip().to_string(), a.port(), me)),
            "{a}"
        );
    }
    for sock in &udp {
        let a = sock.local_addr().unwrap();
        assert!(
            ours.contains(&("udp".into(), a.ip().to_string(), a.port(), me)),
            "{a}"
        );
    }
}
