//! nmap against the real services the issue names, started on 127.0.0.1:
//! a TLS server with a self-signed certificate and weak ciphers, a silent
//! listener, and sshd with password authentication. Each must come out as
//! the right records and severities, and the built-in scanner must agree
//! with nmap on the open ports.

mod support;

use std::collections::BTreeSet;

use support::services::{Server, serve_silence};
use support::*;

#[test]
fn weak_tls_a_silent_listener_and_password_ssh_are_judged() {
    nmap();
    let mut block = PortBlock::take(3);
    let mut held = std::mem::take(&mut block.listeners).into_iter();
    let mut next = || held.next().unwrap().1;
    let tls = Server::weak_tls(next());
    let silent = block.first + 1;
    serve_silence(next());
    let ssh = Server::sshd_with_passwords(next());
    let all = BTreeSet::from([tls.port, silent, ssh.port]);

    // Intensity 0: -sV at full strength spends minutes on the silent port.
    let recs = scan_loopback(
        "nmap",
        &block.range(),
        &["--version-intensity", "0", "--fail-on", "critical"],
    );
    assert_eq!(open_ports(&recs), all, "{recs:#?}");

    let finding = |port: u16, rule: &str| {
        recs.iter()
            .find(|r| r["kind"] == "vuln.finding" && r["port"] == port && r["rule"] == rule)
            .unwrap_or_else(|| panic!("no {rule} finding on port {port} in {recs:#?}"))
    };
    let cert = finding(tls.port, "tls-certificate-self-signed");
    assert_eq!(
        (&cert["severity"], &cert["id"]),
        (&"medium".into(), &"ssl-cert".into())
    );
    assert!(
        cert["evidence"]
            .as_str()
            .unwrap()
            .contains("commonName=vulnscan-test"),
        "{cert}"
    );
    let grade = finding(tls.port, "tls-weak-grade");
    assert_eq!(grade["severity"], "medium");
    assert_eq!(grade["title"], "TLS grade F is below B", "{grade}");
    let password = finding(ssh.port, "ssh-password-auth");
    assert_eq!(password["severity"], "medium");
    assert!(
        password["message"]
            .as_str()
            .unwrap()
            .ends_with("set PasswordAuthentication no in sshd_config and use keys"),
        "{password}"
    );
    let ssh_port = recs
        .iter()
        .find(|r| r["kind"] == "vuln.port" && r["port"] == ssh.port)
        .unwrap();
    assert_eq!(
        (&ssh_port["service"], &ssh_port["product"]),
        (&"ssh".into(), &"OpenSSH".into())
    );
    // The silent port is open and judged by nothing.
    assert!(
        recs.iter()
            .filter(|r| r["port"] == silent)
            .all(|r| r["severity"] == "info"),
        "{recs:#?}"
    );

    let builtin = scan_loopback("builtin", &block.range(), &[]);
    assert_eq!(open_ports(&builtin), all, "the built-in scanner agrees");
    let ssh_guess = builtin.iter().find(|r| r["port"] == ssh.port).unwrap();
    assert_eq!(ssh_guess["service"], "ssh", "from the banner: {ssh_guess}");
}
