//! Scan results as records: `vuln.port` for each open port, `vuln.finding`
//! for each rule match or script result, with the fields of
//! docs/records.md and one sentence an operator can act on.

use secops_common::alert::alert_id;
use secops_common::text::plural;
use secops_common::{Record, Severity, Stage};
use serde_json::Value;

use crate::rules::Finding;
use crate::scan::{Engine, Port};

pub const TOOL: &str = "vulnscan";

/// The fields a table shows.
pub const TABLE_COLUMNS: [&str; 9] = [
    "severity", "kind", "addr", "port", "service", "product", "version", "id", "message",
];

/// `tcp 127.0.0.1:22`, the way every message names a port.
pub fn endpoint(addr: &str, proto: &str, port: u16) -> String {
    if addr.contains(':') {
        format!("{proto} [{addr}]:{port}")
    } else {
        format!("{proto} {addr}:{port}")
    }
}

/// `ssh (OpenSSH 9.2p1)`, or `unknown service`.
pub fn service_text(service: Option<&str>, product: Option<&str>, version: Option<&str>) -> String {
    let detail = [product, version]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    match (service, detail.is_empty()) {
        (Some(s), true) => s.to_string(),
        (Some(s), false) => format!("{s} ({detail})"),
        (None, false) => detail,
        (None, true) => "unknown service".to_string(),
    }
}

/// The `alert_id` of a port's change alert: parts `port`, address,
/// protocol and port.
pub fn port_alert_id(addr: &str, proto: &str, port: u64) -> String {
    alert_id(TOOL, &["port", addr, proto, &port.to_string()])
}

/// A `vuln.finding` above `info` is a firing alert, parts `finding`,
/// address, protocol, port (both empty for a host script) and finding id;
/// at `info` it is an observation.
pub fn alert_stage(finding: Record) -> Record {
    if finding.severity <= Severity::Info {
        return finding;
    }
    let text = |name: &str| {
        finding
            .fields
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let port = finding
        .fields
        .get("port")
        .and_then(|v| v.as_u64())
        .map(|p| p.to_string())
        .unwrap_or_default();
    let id = alert_id(
        TOOL,
        &["finding", &text("addr"), &text("proto"), &port, &text("id")],
    );
    finding.with_alert(Stage::Firing, id)
}

/// The `vuln.port` record of one open port: an observation (its judgement
/// is a `vuln.finding`).
pub fn port_record(addr: &str, port: &Port, engine: Engine) -> Record {
    let message = format!(
        "{} is open: {}",
        endpoint(addr, &port.proto, port.port),
        service_text(
            port.service.as_deref(),
            port.product.as_deref(),
            port.version.as_deref()
        )
    );
    Record::new(TOOL, "vuln.port", Severity::Info, message)
        .with("addr", addr)
        .with("proto", port.proto.as_str())
        .with("port", port.port)
        .with("state", port.state.as_str())
        .with("service", port.service.clone())
        .with("product", port.product.clone())
        .with("version", port.version.clone())
        .with("cpe", port.cpe.clone())
        .with("banner", port.banner.clone())
        .with("engine", engine.as_str())
}

/// The `vuln.finding` record of a judgement; `port` is `None` for host
/// scripts.
pub fn finding_record(
    addr: &str,
    port: Option<&Port>,
    finding: &Finding,
    engine: Engine,
) -> Record {
    let place = match port {
        Some(p) => endpoint(addr, &p.proto, p.port),
        None => addr.to_string(),
    };
    let message = if finding.remediation.is_empty() {
        format!("{} on {place}", finding.title)
    } else {
        format!("{} on {place}: {}", finding.title, finding.remediation)
    };
    let rec = Record::new(TOOL, "vuln.finding", finding.severity, message)
        .with("addr", addr)
        .with("proto", port.map(|p| p.proto.clone()))
        .with("port", port.map(|p| p.port))
        .with("id", finding.id.as_str())
        .with("rule", finding.rule.clone())
        .with("title", finding.title.as_str())
        .with("cves", finding.cves.clone())
        .with("evidence", finding.evidence.as_str())
        .with("source", finding.source)
        .with(
            "remediation",
            Some(finding.remediation.as_str())
                .filter(|r| !r.is_empty())
                .map(Value::from),
        )
        .with("url", finding.url.clone())
        .with(
            "references",
            Some(&finding.references)
                .filter(|r| !r.is_empty())
                .map(|r| Value::from(r.clone())),
        )
        .with("engine", engine.as_str());
    alert_stage(rec)
}

/// `vuln.summary`: what one scan covered and found, written after its
/// records, so that a scan that found nothing says so ("0 open ports").
pub fn summary_record(
    hosts: &[crate::scan::Host],
    engine: Engine,
    records: &[Record],
    took: std::time::Duration,
) -> Record {
    let count = |kind: &str| records.iter().filter(|r| r.kind == kind).count() as u64;
    let (open, weaknesses) = (count("vuln.port"), count("vuln.finding"));
    let message = format!(
        "scanned {} host{} with {}: {open} open port{}, {weaknesses} finding{}",
        hosts.len(),
        plural(hosts.len()),
        engine.as_str(),
        plural(open),
        plural(weaknesses),
    );
    let found = records.iter().filter(|r| r.kind == "vuln.finding");
    Record::summary(TOOL, "vuln.summary", message, found, took)
        .with("engine", engine.as_str())
        .with("hosts", hosts.len() as u64)
        .with("open_ports", open)
        .with("weaknesses", weaknesses)
}
