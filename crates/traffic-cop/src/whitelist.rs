//! The approved services (`ports.json`) and the verdict on each socket.
//!
//! ```json
//! {"ports": [
//!   {"port": 22, "proto": "tcp", "process": "sshd", "exe": "/usr/sbin/sshd", "user": "root", "comment": "OpenSSH"},
//!   {"port": "8000-8100", "proto": "tcp", "user": "devops", "scope": "loopback"}
//! ]}
//! ```
//!
//! A bare array of entries is accepted too. A typo must not silently disable
//! a check, so unknown keys, bad ports and bad values are errors that name
//! the file, line, column and field.
//!
//! A process name is whatever the process says it is (`prctl(PR_SET_NAME)`,
//! or a copy of any binary under that name), so on a port any user can bind
//! (at or above `net.ipv4.ip_unprivileged_port_start`, 1024 by default) an
//! entry that names a process but no `exe` or `user` never approves alone:
//! such a listener is `unverified`, firing, and its reason says the name
//! alone matched.

use std::fmt;
use std::path::Path;

use secops_common::config::{self, Syntax};
use secops_common::{Error, Severity};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::sockets::{Proto, Scope};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct WhitelistFile {
    ports: Vec<Entry>,
}

/// One approved service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub port: PortRange,
    /// `tcp` (the default), `udp` or `any`.
    #[serde(default)]
    pub proto: ProtoRule,
    /// The process name (`comm`, as `ps` shows it) or executable base name.
    pub process: Option<String>,
    /// The executable's full path: the strong check, since a process name is
    /// whatever the process says it is.
    pub exe: Option<String>,
    /// The user owning the socket (name, or uid for users without one).
    pub user: Option<String>,
    /// `any` (the default) or `loopback`: bound to loopback only.
    #[serde(default)]
    pub scope: ScopeRule,
    /// Free text for people; ignored by the check.
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtoRule {
    #[default]
    Tcp,
    Udp,
    Any,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeRule {
    #[default]
    Any,
    Loopback,
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PortRangeVisitor)
    }
}

struct PortRangeVisitor;

const PORT_EXPECTED: &str = "a port 1-65535 or a range like \"8000-8100\"";

impl Visitor<'_> for PortRangeVisitor {
    type Value = PortRange;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PORT_EXPECTED)
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<PortRange, E> {
        let port =
            port_number(n).ok_or_else(|| E::custom(format!("{n} is not {PORT_EXPECTED}")))?;
        Ok(PortRange {
            first: port,
            last: port,
        })
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<PortRange, E> {
        Err(E::custom(format!("{n} is not {PORT_EXPECTED}")))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<PortRange, E> {
        Err(E::custom(format!("{n} is not {PORT_EXPECTED}")))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<PortRange, E> {
        let bad = || E::custom(format!("{text:?} is not {PORT_EXPECTED}"));
        let parse = |s: &str| s.trim().parse::<u64>().ok().and_then(port_number);
        let (first, last) = match text.split_once('-') {
            Some((a, b)) => (parse(a).ok_or_else(bad)?, parse(b).ok_or_else(bad)?),
            None => {
                let port = parse(text).ok_or_else(bad)?;
                (port, port)
            }
        };
        if first > last {
            return Err(E::custom(format!(
                "{text:?} is a range that ends before it starts"
            )));
        }
        Ok(PortRange { first, last })
    }
}

fn port_number(n: u64) -> Option<u16> {
    u16::try_from(n).ok().filter(|&p| p != 0)
}

/// The verdict on one socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A whitelist entry allows this port, process, exe, user and scope.
    Approved,
    /// The port is listed, but with a different process, exe, user or scope.
    Unapproved,
    /// The port is listed with process or exe rules, and the owning process
    /// cannot be seen to check them (run as root).
    Unverified,
    /// No entry lists this port.
    Unknown,
    /// No whitelist was given.
    Unchecked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Approved => "approved",
            Status::Unapproved => "unapproved",
            Status::Unverified => "unverified",
            Status::Unknown => "unknown",
            Status::Unchecked => "unchecked",
        }
    }
}

/// What the check needs to know about a socket and its owner.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub proto: Proto,
    pub port: u16,
    pub scope: Scope,
    pub user: &'a str,
    /// `None` when the owning process is not visible.
    pub process: Option<&'a str>,
    pub exe: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: Status,
    pub severity: Severity,
    /// Why it is not approved, for people.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Whitelist {
    pub entries: Vec<Entry>,
    /// The lowest port a process without privilege may bind
    /// (`net.ipv4.ip_unprivileged_port_start`): on these a process name
    /// proves nothing. 0 (the default value) counts every port as such.
    pub unprivileged_from: u32,
}

/// The kernel's default for `net.ipv4.ip_unprivileged_port_start`.
pub const UNPRIVILEGED_FROM: u32 = 1024;

/// Where the kernel says which ports need privilege to bind (for IPv4 and
/// IPv6 alike, in this network namespace).
const UNPRIVILEGED_SYSCTL: &str = "/proc/sys/net/ipv4/ip_unprivileged_port_start";

/// The first port any user may bind on this host: the sysctl, or the
/// kernel's default when it cannot be read.
pub fn unprivileged_from() -> u32 {
    std::fs::read_to_string(UNPRIVILEGED_SYSCTL)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(UNPRIVILEGED_FROM)
}

impl Whitelist {
    /// Loads and checks a whitelist file.
    pub fn load(path: &Path) -> Result<Whitelist, Error> {
        let (text, _) = config::read_settings(path)?;
        let mut whitelist = Whitelist::parse(&text)
            .map_err(|err| Error::bad_input(format!("{}:{err}", path.display())))?;
        whitelist.unprivileged_from = unprivileged_from();
        for (i, entry) in whitelist.entries.iter().enumerate() {
            if entry.name_only() && u32::from(entry.port.last) >= whitelist.unprivileged_from {
                secops_common::warn!(
                    "{}: ports[{i}] (port {}) names only a process, which any program can call itself; on a port any user can bind, that name alone never approves a listener (it is reported unverified): add \"exe\" or \"user\"",
                    path.display(),
                    entry.port,
                );
            }
        }
        Ok(whitelist)
    }

    /// Parses whitelist text; errors read `LINE:COLUMN: FIELD: problem`.
    pub fn parse(text: &str) -> Result<Whitelist, String> {
        let entries = if text.trim_start().starts_with('[') {
            config::parse::<Vec<Entry>>(text, Syntax::Json)?
        } else {
            config::parse::<WhitelistFile>(text, Syntax::Json)?.ports
        };
        Ok(Whitelist {
            entries,
            unprivileged_from: UNPRIVILEGED_FROM,
        })
    }

    /// Judges one socket.
    pub fn check(&self, subject: &Subject<'_>) -> Verdict {
        let candidates: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.covers(subject.proto, subject.port))
            .collect();
        if candidates.is_empty() {
            let severity = if subject.scope == Scope::Loopback {
                Severity::Low
            } else {
                Severity::High
            };
            return Verdict {
                status: Status::Unknown,
                severity,
                reason: None,
            };
        }
        let judged: Vec<(&Entry, Vec<Mismatch>, bool)> = candidates
            .iter()
            .map(|e| {
                let (mismatches, verified) = e.judge(subject);
                (*e, mismatches, verified)
            })
            .collect();
        let bindable = u32::from(subject.port) >= self.unprivileged_from;
        let matched = |(_, m, verified): &&(&Entry, Vec<Mismatch>, bool)| m.is_empty() && *verified;
        if judged
            .iter()
            .filter(matched)
            .any(|(e, _, _)| !(bindable && e.name_only()))
        {
            return Verdict {
                status: Status::Approved,
                severity: Severity::Info,
                reason: None,
            };
        }
        if let Some((entry, _, _)) = judged.iter().find(matched) {
            // Only a name-only entry matched, on a port anyone can bind: a
            // process renamed with prctl(PR_SET_NAME), or any binary copied
            // under that name, would look the same.
            let name = entry.process.as_deref().unwrap_or_default();
            return Verdict {
                status: Status::Unverified,
                severity: if subject.scope == Scope::Loopback {
                    Severity::Medium
                } else {
                    Severity::High
                },
                reason: Some(format!(
                    "the name alone matched: the whitelist approves {name} on this port by process name only, which any program can give itself, and any user can bind port {}; this one runs {} as {} (pin the entry with exe or user)",
                    subject.port,
                    subject.exe.unwrap_or("an unreadable executable"),
                    subject.user,
                )),
            };
        }
        if judged.iter().any(|(_, m, _)| m.is_empty()) {
            return Verdict {
                status: Status::Unverified,
                severity: Severity::Low,
                reason: Some("the owning process is not visible, so its name and executable cannot be checked".into()),
            };
        }
        // Report against the entry that came closest.
        let (_, mismatches, _) = judged
            .iter()
            .min_by_key(|(_, m, _)| m.len())
            .expect("candidates is not empty");
        let severity = if mismatches.iter().any(|m| m.field == "exe") {
            // A listed port served by another binary is how a hijack looks.
            Severity::Critical
        } else if subject.scope == Scope::Loopback {
            Severity::Medium
        } else {
            Severity::High
        };
        let reason = mismatches
            .iter()
            .map(Mismatch::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        Verdict {
            status: Status::Unapproved,
            severity,
            reason: Some(reason),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Mismatch {
    field: &'static str,
    found: String,
    allowed: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is {} but the whitelist allows {}",
            self.field, self.found, self.allowed
        )
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

impl Entry {
    /// Names a process and nothing that proves it: no `exe`, no `user`.
    fn name_only(&self) -> bool {
        self.process.is_some() && self.exe.is_none() && self.user.is_none()
    }

    fn covers(&self, proto: Proto, port: u16) -> bool {
        let proto_ok = match self.proto {
            ProtoRule::Any => true,
            ProtoRule::Tcp => proto == Proto::Tcp,
            ProtoRule::Udp => proto == Proto::Udp,
        };
        proto_ok && (self.port.first..=self.port.last).contains(&port)
    }

    /// The rules this socket breaks, and whether every rule could be checked.
    fn judge(&self, s: &Subject<'_>) -> (Vec<Mismatch>, bool) {
        let mut mismatches = Vec::new();
        let mut verified = true;
        let mut miss = |field, found: &str, allowed: &str| {
            mismatches.push(Mismatch {
                field,
                found: found.to_string(),
                allowed: allowed.to_string(),
            })
        };
        if let Some(user) = &self.user {
            if user != s.user {
                miss("user", s.user, user);
            }
        }
        if self.scope == ScopeRule::Loopback && s.scope != Scope::Loopback {
            miss("scope", s.scope.as_str(), "loopback");
        }
        if let Some(want) = &self.process {
            match s.process {
                None => verified = false,
                Some(name) => {
                    let exe_base = s.exe.and_then(|exe| exe.rsplit('/').next());
                    if name != want && exe_base != Some(want.as_str()) {
                        miss("process", name, want);
                    }
                }
            }
        }
        if let Some(want) = &self.exe {
            match (s.process, s.exe) {
                (None, _) => verified = false,
                (Some(_), exe) if exe == Some(want.as_str()) => {}
                (Some(_), exe) => miss("exe", exe.unwrap_or("unreadable"), want),
            }
        }
        (mismatches, verified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject<'a>(
        port: u16,
        scope: Scope,
        process: Option<&'a str>,
        exe: Option<&'a str>,
    ) -> Subject<'a> {
        Subject {
            proto: Proto::Tcp,
            port,
            scope,
            user: "root",
            process,
            exe,
        }
    }

    fn list() -> Whitelist {
        Whitelist::parse(
            r#"{"ports": [
                {"port": 22, "process": "sshd", "exe": "/usr/sbin/sshd", "user": "root"},
                {"port": "8000-8100", "user": "root", "scope": "loopback"},
                {"port": 53, "proto": "any", "comment": "DNS"}
            ]}"#,
        )
        .unwrap()
    }

    #[test]
    fn statuses_and_severities() {
        let wl = list();
        let v = |s: Subject<'_>| {
            let v = wl.check(&s);
            (v.status, v.severity)
        };
        let sshd = (Some("sshd"), Some("/usr/sbin/sshd"));
        assert_eq!(
            v(subject(22, Scope::Any, sshd.0, sshd.1)),
            (Status::Approved, Severity::Info)
        );
        assert_eq!(
            v(subject(22, Scope::Any, Some("sshd"), Some("/tmp/.x/sshd"))),
            (Status::Unapproved, Severity::Critical)
        );
        assert_eq!(
            v(subject(22, Scope::Any, Some("nc"), Some("/usr/bin/nc"))),
            (Status::Unapproved, Severity::Critical)
        );
        assert_eq!(
            v(subject(22, Scope::Any, None, None)),
            (Status::Unverified, Severity::Low)
        );
        assert_eq!(
            v(subject(8080, Scope::Loopback, None, None)),
            (Status::Approved, Severity::Info)
        );
        assert_eq!(
            v(subject(8080, Scope::Any, Some("py"), None)),
            (Status::Unapproved, Severity::High)
        );
        assert_eq!(
            v(subject(9999, Scope::Any, None, None)),
            (Status::Unknown, Severity::High)
        );
        assert_eq!(
            v(subject(9999, Scope::Loopback, None, None)),
            (Status::Unknown, Severity::Low)
        );
        let udp53 = Subject {
            proto: Proto::Udp,
            ..subject(53, Scope::Any, None, None)
        };
        assert_eq!(wl.check(&udp53).status, Status::Approved);
        let udp22 = Subject {
            proto: Proto::Udp,
            ..subject(22, Scope::Any, sshd.0, sshd.1)
        };
        assert_eq!(
            wl.check(&udp22).status,
            Status::Unknown,
            "tcp is the default protocol"
        );
    }

    #[test]
    fn reasons_say_what_differs() {
        let wl = list();
        let mut s = subject(8080, Scope::Any, None, None);
        s.user = "bob";
        let reason = wl.check(&s).reason.unwrap();
        assert_eq!(
            reason,
            "user is bob but the whitelist allows root; scope is any but the whitelist allows loopback"
        );
    }

    #[test]
    fn process_matches_comm_or_exe_basename() {
        let wl = Whitelist::parse(r#"[{"port": 53, "process": "systemd-resolved"}]"#).unwrap();
        // comm is cut to 15 bytes: "systemd-resolve".
        let s = subject(
            53,
            Scope::Loopback,
            Some("systemd-resolve"),
            Some("/usr/lib/systemd/systemd-resolved"),
        );
        assert_eq!(wl.check(&s).status, Status::Approved);
    }

    #[test]
    fn a_process_name_alone_never_approves_a_port_anyone_can_bind() {
        let wl = Whitelist::parse(
            r#"[
                {"port": 9100, "process": "node_exporter"},
                {"port": 631, "process": "cupsd"},
                {"port": 9200, "process": "java", "user": "elastic"},
                {"port": 9300, "process": "app", "exe": "/opt/app/bin/app"}
            ]"#,
        )
        .unwrap();
        // A nobody process renamed with prctl(PR_SET_NAME) to node_exporter.
        let renamed = |port, scope| Subject {
            user: "nobody",
            ..subject(
                port,
                scope,
                Some("node_exporter"),
                Some("/usr/bin/python3.11"),
            )
        };
        let v = wl.check(&renamed(9100, Scope::Any));
        assert_eq!((v.status, v.severity), (Status::Unverified, Severity::High));
        let reason = v.reason.unwrap();
        assert!(
            reason.starts_with("the name alone matched")
                && reason.contains("node_exporter")
                && reason.contains("/usr/bin/python3.11 as nobody"),
            "{reason}"
        );
        let v = wl.check(&renamed(9100, Scope::Loopback));
        assert_eq!(
            (v.status, v.severity),
            (Status::Unverified, Severity::Medium)
        );
        // A copy of a binary under the name matches by exe base name: no
        // better.
        let copy = subject(
            9100,
            Scope::Any,
            Some("node_exporter"),
            Some("/tmp/x/node_exporter"),
        );
        assert_eq!(wl.check(&copy).status, Status::Unverified);
        // Below the unprivileged ports only root (or a capability) binds:
        // the name is then enough, as before.
        let cupsd = subject(631, Scope::Any, Some("cupsd"), Some("/usr/sbin/cupsd"));
        assert_eq!(wl.check(&cupsd).status, Status::Approved);
        // The user, or the exe, is the proof the entry asks for.
        let mut java = subject(9200, Scope::Any, Some("java"), Some("/usr/bin/java"));
        java.user = "elastic";
        assert_eq!(wl.check(&java).status, Status::Approved);
        java.user = "nobody";
        assert_eq!(wl.check(&java).status, Status::Unapproved);
        let app = subject(9300, Scope::Any, Some("app"), Some("/opt/app/bin/app"));
        assert_eq!(wl.check(&app).status, Status::Approved);
        // A host that lets anyone bind any port (the sysctl at 0).
        let open = Whitelist {
            unprivileged_from: 0,
            ..wl.clone()
        };
        assert_eq!(open.check(&cupsd).status, Status::Unverified);
        // An invisible process is still only unverified at low.
        let v = wl.check(&subject(9100, Scope::Any, None, None));
        assert_eq!((v.status, v.severity), (Status::Unverified, Severity::Low));
    }

    #[test]
    fn the_shipped_whitelist_pins_every_name_on_unprivileged_ports() {
        let text = include_str!("../../../config/ports.json");
        let wl = Whitelist::parse(text).unwrap();
        for entry in &wl.entries {
            assert!(
                !(entry.name_only() && u32::from(entry.port.last) >= UNPRIVILEGED_FROM),
                "config/ports.json approves port {} by process name alone: {entry:?}",
                entry.port
            );
        }
        // The finding of issue 22: nobody's python3, renamed node_exporter,
        // on :9100.
        for scope in [Scope::Any, Scope::Loopback] {
            let renamed = Subject {
                user: "nobody",
                ..subject(
                    9100,
                    scope,
                    Some("node_exporter"),
                    Some("/usr/bin/python3.11"),
                )
            };
            assert_ne!(wl.check(&renamed).status, Status::Approved);
            assert!(wl.check(&renamed).severity >= Severity::Medium);
        }
        let real = subject(
            9100,
            Scope::Any,
            Some("node_exporter"),
            Some("/usr/local/bin/node_exporter"),
        );
        assert_eq!(wl.check(&real).status, Status::Approved);
        let debian = Subject {
            user: "prometheus",
            ..subject(
                9100,
                Scope::Any,
                Some("prometheus-node"),
                Some("/usr/bin/prometheus-node-exporter"),
            )
        };
        assert_eq!(wl.check(&debian).status, Status::Approved);
    }

    #[test]
    fn errors_name_line_column_and_field() {
        let err = |text: &str| Whitelist::parse(text).unwrap_err();
        let typo = err("{\"ports\": [\n  {\"port\": 22, \"proccess\": \"sshd\"}\n]}");
        assert!(
            typo.starts_with("2:")
                && typo.contains("ports[0]")
                && typo.contains("unknown field `proccess`"),
            "{typo}"
        );
        let big = err("{\"ports\": [{\"port\": 22}, {\"port\": 70000}]}");
        assert!(
            big.starts_with("1:")
                && big.contains("ports[1].port")
                && big.contains("70000 is not a port"),
            "{big}"
        );
        assert!(err(r#"[{"port": -1}]"#).contains("[0].port: -1 is not a port"));
        assert!(err(r#"[{"port": "http"}]"#).contains("\"http\" is not a port"));
        assert!(err(r#"[{"port": "9000-8000"}]"#).contains("ends before it starts"));
        assert!(err(r#"[{"port": 0}]"#).contains("0 is not a port"));
        assert!(
            err(r#"[{"port": 22, "proto": "sctp"}]"#).contains("[0].proto: unknown variant `sctp`")
        );
        assert!(err(r#"[{"process": "sshd"}]"#).contains("missing field `port`"));
        let broken = err("{\"ports\": [\n{\"port\": 22,,}]}");
        assert!(broken.starts_with("2:"), "{broken}");
        assert!(
            err(r#"{"port": 22}"#).contains("unknown field `port`"),
            "an entry is not a file"
        );
        assert!(err("[] []").contains("trailing characters"));
    }
}
