//! The judging rules: what about a port or a script result deserves a
//! severity, and the one-line remediation that goes with it. Kept as data
//! so docs/vulnscan.md can list them one for one.

use std::net::IpAddr;

use secops_common::Severity;
use secops_common::record::now_rfc3339;

use crate::scan::{Port, Script};

/// One judgement about a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Rule or script id, e.g. `cleartext-admin` or `ssl-cert`.
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub cves: Vec<String>,
    pub evidence: String,
    pub remediation: &'static str,
    /// `rule` (from the port's service) or `script` (from an NSE result).
    pub source: &'static str,
}

/// Services that carry logins in clear text.
const CLEARTEXT_ADMIN: [&str; 6] = ["telnet", "ftp", "exec", "login", "shell", "vnc"];

/// Data stores that must not be reachable from other hosts.
const DATA_STORES: [&str; 7] = [
    "redis",
    "mongodb",
    "elasticsearch",
    "memcached",
    "postgresql",
    "mysql",
    "ms-sql-s",
];

/// Releases known to ship a backdoor: (product, version prefix, CVE).
const BACKDOORED: [(&str, &str, &str); 2] = [
    ("vsftpd", "2.3.4", "CVE-2011-2523"),
    ("UnrealIRCd", "3.2.8.1", "CVE-2010-2075"),
];

/// Key exchanges, host keys, ciphers and MACs of SSH that are broken or
/// deprecated (RFC 9142, RFC 8758).
const WEAK_SSH_ALGORITHMS: [&str; 9] = [
    "diffie-hellman-group1-sha1",
    "diffie-hellman-group-exchange-sha1",
    "ssh-dss",
    "arcfour",
    "3des-cbc",
    "blowfish-cbc",
    "aes128-cbc",
    "hmac-md5",
    "hmac-sha1-96",
];

/// Everything the rules say about one open port on `addr`.
pub fn judge(addr: &str, port: &Port) -> Vec<Finding> {
    let mut findings = Vec::new();
    let service = port.service.as_deref().unwrap_or("");
    let product = port.product.as_deref().unwrap_or("");
    if CLEARTEXT_ADMIN.contains(&service) {
        findings.push(rule(
            "cleartext-admin",
            format!("{service} sends logins in clear text"),
            Severity::High,
            service.to_string(),
            "disable it and use SSH (or VNC over an SSH tunnel)",
        ));
    }
    let loopback = addr.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let store =
        DATA_STORES.contains(&service) || product.to_ascii_lowercase().contains("elasticsearch");
    if store && !loopback {
        findings.push(rule(
            "datastore-exposed",
            format!(
                "{} is reachable beyond loopback",
                if service.is_empty() { product } else { service }
            ),
            Severity::Critical,
            format!("{service} {product}").trim().to_string(),
            "bind it to 127.0.0.1 or a private interface and firewall the port",
        ));
    }
    let version = port.version.as_deref().unwrap_or("");
    if let Some((_, _, cve)) = BACKDOORED
        .iter()
        .find(|(p, v, _)| product.eq_ignore_ascii_case(p) && version.starts_with(v))
    {
        let mut finding = rule(
            "backdoored-release",
            format!("{product} {version} is a release known to be backdoored"),
            Severity::Critical,
            format!("{product} {version}"),
            "replace it with a current release from the distribution",
        );
        finding.cves.push(cve.to_string());
        findings.push(finding);
    }
    findings.extend(port.scripts.iter().map(judge_script));
    findings
}

fn rule(
    id: &str,
    title: String,
    severity: Severity,
    evidence: String,
    remediation: &'static str,
) -> Finding {
    Finding {
        id: id.to_string(),
        title,
        severity,
        cves: Vec::new(),
        evidence,
        remediation,
        source: "rule",
    }
}

/// A script result as a finding: `info` unless a rule recognises trouble.
pub fn judge_script(script: &Script) -> Finding {
    let out = script.output.as_str();
    let (severity, title, remediation): (Severity, String, &'static str) = match script.id.as_str()
    {
        _ if out.contains("LIKELY VULNERABLE") || out.contains("State: VULNERABLE") => (
            Severity::High,
            format!(
                "{} ({})",
                vulnerability_name(out).unwrap_or("a vulnerability"),
                if out.contains("LIKELY VULNERABLE") {
                    "likely vulnerable"
                } else {
                    "vulnerable"
                }
            ),
            "apply the vendor fix named in the evidence",
        ),
        "ftp-anon" if out.contains("Anonymous FTP login allowed") => (
            Severity::High,
            "anonymous FTP login is allowed".to_string(),
            "set anonymous_enable=NO (vsftpd) or remove the anonymous section",
        ),
        "http-methods" if out.contains("TRACE") && out.contains("risky") => (
            Severity::Medium,
            "HTTP TRACE is enabled".to_string(),
            "disable TRACE (TraceEnable off in Apache; nginx never allows it)",
        ),
        "ssh-auth-methods" if out.lines().any(|l| l.trim() == "password") => (
            Severity::Medium,
            "SSH accepts password authentication".to_string(),
            "set PasswordAuthentication no in sshd_config and use keys",
        ),
        "ssh2-enum-algos" if weak_ssh(out).is_some() => (
            Severity::Medium,
            format!(
                "SSH offers the weak algorithm {}",
                weak_ssh(out).unwrap_or_default()
            ),
            "remove it from KexAlgorithms, Ciphers, MACs or HostKeyAlgorithms in sshd_config",
        ),
        "ssl-enum-ciphers" if tls_grade(out).is_some_and(|g| g > 'B') => (
            Severity::Medium,
            format!("TLS grade {} is below B", tls_grade(out).unwrap_or('?')),
            "allow only TLS 1.2+ with AEAD ciphers (Mozilla intermediate profile)",
        ),
        "ssl-cert" if cert_expired(out) => (
            Severity::High,
            "the TLS certificate has expired".to_string(),
            "renew the certificate",
        ),
        "ssl-cert" if cert_self_signed(out) => (
            Severity::Medium,
            "the TLS certificate is self-signed".to_string(),
            "use a certificate from a CA clients trust (ACME, internal CA)",
        ),
        id => (Severity::Info, format!("{id} result"), ""),
    };
    Finding {
        id: script.id.clone(),
        title,
        severity,
        cves: cves(out),
        evidence: out.trim().to_string(),
        remediation,
        source: "script",
    }
}

/// The vuln library's report starts `VULNERABLE:` then the name.
fn vulnerability_name(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.ends_with("VULNERABLE:"))
}

fn weak_ssh(out: &str) -> Option<&'static str> {
    WEAK_SSH_ALGORITHMS
        .into_iter()
        .find(|algo| out.lines().any(|l| l.trim() == *algo))
}

/// ssl-enum-ciphers' `least strength: C`.
fn tls_grade(out: &str) -> Option<char> {
    out.lines()
        .find_map(|l| l.trim().strip_prefix("least strength:"))
        .and_then(|g| g.trim().chars().next())
}

/// ssl-cert's `Not valid after:  2026-01-01T00:00:00`, compared as text:
/// both sides are ISO 8601 in UTC, so text order is time order.
fn cert_expired(out: &str) -> bool {
    let now = now_rfc3339();
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Not valid after:"))
        .is_some_and(|after| after.trim() < &now[..19.min(now.len())])
}

/// ssl-cert prints `Subject:` and `Issuer:`; equal means self-signed.
fn cert_self_signed(out: &str) -> bool {
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(name).map(str::trim))
    };
    matches!((field("Subject:"), field("Issuer:")), (Some(s), Some(i)) if s == i)
}

/// CVE ids in a script's output, in order, without repeats.
fn cves(out: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut rest = out;
    while let Some(at) = rest.find("CVE-") {
        let tail = &rest[at + 4..];
        let year: String = tail.chars().take_while(char::is_ascii_digit).collect();
        let number: String = tail
            .get(year.len() + 1..)
            .filter(|_| year.len() == 4 && tail[4..].starts_with('-'))
            .map(|t| t.chars().take_while(char::is_ascii_digit).collect())
            .unwrap_or_default();
        if number.len() >= 4 {
            let id = format!("CVE-{year}-{number}");
            if !found.contains(&id) {
                found.push(id);
            }
        }
        rest = tail;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(service: &str) -> Port {
        Port {
            proto: "tcp".into(),
            port: 1,
            state: "open".into(),
            service: Some(service.into()),
            ..Port::default()
        }
    }

    fn script(id: &str, output: &str) -> Script {
        Script {
            id: id.into(),
            output: output.into(),
        }
    }

    #[test]
    fn cleartext_protocols_are_high_and_data_stores_critical_off_loopback() {
        assert_eq!(
            judge("127.0.0.1", &port("telnet"))[0].severity,
            Severity::High
        );
        assert!(judge("127.0.0.1", &port("redis")).is_empty());
        assert_eq!(
            judge("10.0.0.5", &port("redis"))[0].severity,
            Severity::Critical
        );
        assert!(judge("10.0.0.5", &port("http")).is_empty());
    }

    #[test]
    fn script_results_get_their_severity_and_cves() {
        let vuln = judge_script(&script(
            "ssl-heartbleed",
            "\n  VULNERABLE:\n  The Heartbleed Bug\n    State: VULNERABLE\n    IDs:  CVE:CVE-2014-0160\n    https://cve.mitre.org/cgi-bin/cvename.cgi?name=CVE-2014-0160\n",
        ));
        assert_eq!(vuln.severity, Severity::High);
        assert_eq!(vuln.title, "The Heartbleed Bug (vulnerable)");
        assert_eq!(vuln.cves, ["CVE-2014-0160"]);
        let auth = script(
            "ssh-auth-methods",
            "\n  Supported authentication methods: \n    publickey\n    password",
        );
        assert_eq!(judge_script(&auth).severity, Severity::Medium);
        let grade = script("ssl-enum-ciphers", "\n  TLSv1.0: \n  least strength: C");
        assert_eq!(judge_script(&grade).severity, Severity::Medium);
        let good = script("ssl-enum-ciphers", "\n  least strength: A");
        assert_eq!(judge_script(&good).severity, Severity::Info);
        let expired = script(
            "ssl-cert",
            "Subject: commonName=a\nIssuer: commonName=b\nNot valid after:  2001-01-01T00:00:00",
        );
        assert_eq!(judge_script(&expired).severity, Severity::High);
        let own = script(
            "ssl-cert",
            "Subject: commonName=a\nIssuer: commonName=a\nNot valid after:  2999-01-01T00:00:00",
        );
        assert_eq!(
            judge_script(&own).title,
            "the TLS certificate is self-signed"
        );
    }

    #[test]
    fn backdoored_releases_are_critical_with_their_cve() {
        let mut p = port("ftp");
        p.product = Some("vsftpd".into());
        p.version = Some("2.3.4".into());
        let findings = judge("127.0.0.1", &p);
        let backdoor = findings
            .iter()
            .find(|f| f.id == "backdoored-release")
            .unwrap();
        assert_eq!(
            (backdoor.severity, backdoor.cves.as_slice()),
            (Severity::Critical, &["CVE-2011-2523".to_string()][..])
        );
    }
}
