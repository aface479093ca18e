//! Turning scanned ports into records: the fields of `docs/records.md` and
//! one sentence an operator can act on.

use std::fmt;

use secops_common::alert::alert_id;
use secops_common::{Record, Severity, Stage};

use crate::scan::Port;
use crate::whitelist::Status;

pub const TOOL: &str = "traffic-cop";

/// The fields a table shows.
pub const TABLE_COLUMNS: [&str; 12] = [
    "severity",
    "kind",
    "status",
    "proto",
    "addr",
    "port",
    "pid",
    "user",
    "process",
    "unit",
    "container",
    "reason",
];

/// `port` for listeners, `connection` for connected sockets.
pub fn base_kind(port: &Port) -> &'static str {
    if port.socket.is_server() {
        "port"
    } else {
        "connection"
    }
}

/// Whether a socket is the alert of docs/records.md: a listener that is
/// not approved (`unapproved`, `unverified`, `unknown`). Approved and
/// unchecked listeners, and connections, are observations.
pub fn alerts(port: &Port) -> bool {
    port.socket.is_server()
        && matches!(
            port.verdict.status,
            Status::Unapproved | Status::Unverified | Status::Unknown
        )
}

/// The `alert_id` of a listener: parts `listener`, protocol, address (as
/// the `addr` field writes it) and port.
pub fn listener_id(proto: &str, addr: &str, port: u64) -> String {
    alert_id(TOOL, &["listener", proto, addr, &port.to_string()])
}

/// The `alert_id` of the listener a `port*` record is about.
pub fn record_listener_id(rec: &Record) -> Option<String> {
    let text = |name: &str| rec.fields.get(name).and_then(|v| v.as_str());
    Some(listener_id(
        text("proto")?,
        text("addr")?,
        rec.fields.get("port")?.as_u64()?,
    ))
}

/// Makes `rec` the end of the alert `id`: `resolved`, severity info.
pub fn resolve(mut rec: Record, id: impl Into<String>) -> Record {
    rec.severity = Severity::Info;
    rec.with_alert(Stage::Resolved, id)
}

/// The full record of a port, of kind `kind` (`port`, `port.opened`, ...):
/// `firing` when it [`alerts`], else an observation.
pub fn port_record(port: &Port, kind: &str, message: String) -> Record {
    let rec = observation(port, kind, message);
    if alerts(port) {
        let id = listener_id(
            port.socket.proto.as_str(),
            &port.socket.local.ip().to_string(),
            port.socket.local.port().into(),
        );
        rec.with_alert(Stage::Firing, id)
    } else {
        rec
    }
}

/// The fields of a port, as an observation.
fn observation(port: &Port, kind: &str, message: String) -> Record {
    let s = &port.socket;
    let owner = port.owner.as_ref();
    let mut rec = Record::new(TOOL, kind, port.verdict.severity, message)
        .with("status", port.verdict.status.as_str())
        .with("proto", s.proto.as_str())
        .with("addr", s.local.ip().to_string())
        .with("port", s.local.port());
    if let Some(remote) = s.remote {
        rec.set("remote_addr", remote.ip().to_string());
        rec.set("remote_port", remote.port());
    }
    rec.set("scope", s.scope().as_str());
    rec.set("state", s.state);
    rec.set("pid", owner.map(|o| o.pid));
    if port.pids.len() > 1 {
        rec.set("pids", port.pids.clone());
    }
    rec.set("user", port.user.as_str());
    rec.set("uid", s.uid);
    rec.set("process", owner.map(|o| o.name.as_str()));
    rec.set("exe", owner.and_then(|o| o.exe.as_deref()));
    rec.set("cmdline", owner.map(|o| o.cmdline.as_str()));
    if let Some(unit) = owner.and_then(|o| o.placement.unit.as_deref()) {
        rec.set("unit", unit);
    }
    if let Some(container) = owner.and_then(|o| o.placement.container.as_deref()) {
        rec.set("container", container);
    }
    rec.set("inode", s.inode);
    if let Some(reason) = &port.verdict.reason {
        rec.set("reason", reason.as_str());
    }
    if let Some(note) = port.note {
        rec.set("note", note);
    }
    if let Some(profile) = owner.and_then(|o| o.profile.as_ref()) {
        rec.set("cpu_percent", profile.cpu_percent);
        rec.set("rss_bytes", profile.rss_bytes);
        rec.set("fds", owner.map(|o| o.fds));
        rec.set("threads", profile.threads);
        rec.set("started", profile.started.as_str());
    }
    rec
}

/// `tcp 0.0.0.0:8080`, or `tcp 10.0.0.5:43210 -> 192.0.2.1:443 (estab)`.
/// The sentence parts are `Display` wrappers, so a message is formatted
/// into one string: a scan writes thousands of them.
struct Endpoint<'a>(&'a Port);

impl fmt::Display for Endpoint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.0.socket;
        match s.remote {
            Some(remote) => write!(f, "{} {} -> {} ({})", s.proto, s.local, remote, s.state),
            None => write!(f, "{} {}", s.proto, s.local),
        }
    }
}

/// `held by python3 (pid 1234, user devops)`.
struct Holder<'a>(&'a Port);

impl fmt::Display for Holder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let port = self.0;
        match &port.owner {
            Some(owner) => write!(
                f,
                "held by {} (pid {}, user {})",
                owner.name, owner.pid, port.user
            ),
            None => write!(f, "owned by user {} (no visible process)", port.user),
        }
    }
}

/// The sentence of a `port` or `connection` record.
pub fn describe(port: &Port) -> String {
    let (verdict, reason) = match port.verdict.status {
        Status::Approved => (" and is on the whitelist", ""),
        Status::Unknown => (" and is not on the whitelist", ""),
        Status::Unverified => (
            " and its port is on the whitelist, but it is not verified: ",
            port.verdict
                .reason
                .as_deref()
                .unwrap_or("its process could not be checked"),
        ),
        Status::Unapproved => (
            " but is not approved: ",
            port.verdict
                .reason
                .as_deref()
                .unwrap_or("it differs from the whitelist"),
        ),
        Status::Unchecked => ("", ""),
    };
    format!("{} is {}{verdict}{reason}", Endpoint(port), Holder(port))
}

/// `unknown, pid 1234`: what a socket was, for `.changed` messages.
pub fn was(status: &str, pid: Option<u64>) -> String {
    match pid {
        Some(pid) => format!("{status}, pid {pid}"),
        None => status.to_string(),
    }
}

/// A closed socket is news, not a finding: an observation, unless it ends
/// an alert (see [`resolve`]).
pub fn closed_record(port: &Port) -> Record {
    let mut rec = observation(
        port,
        &format!("{}.closed", base_kind(port)),
        format!("{} closed (it was {})", Endpoint(port), Holder(port)),
    );
    rec.severity = Severity::Info;
    rec
}
