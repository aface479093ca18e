//! Greenbone (GVM/OpenVAS) XML reports turned into [`Host`]s, each result a
//! script result carrying GVM's own verdict: its severity score becomes the
//! finding's severity, its NVT (OID and name), CVEs, solution and the
//! result's description the rest. Read as a stream of events (quick-xml),
//! with no DTD processing: an entity the document defines is an error, not
//! an expansion, so a hostile report can neither read files nor balloon.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use secops_common::Severity;

use crate::nmap_xml::attr;
use crate::rules::Finding;
use crate::scan::{Host, Port, Script};

/// The most characters of a description or solution kept in a record.
const MAX_TEXT: usize = 4096;

/// What a report holds.
#[derive(Debug, Default)]
pub struct GvmReport {
    pub hosts: Vec<Host>,
    /// The task the report belongs to, which keys its change history.
    pub task: Option<String>,
    /// `Done` for a finished scan.
    pub status: Option<String>,
}

/// One `<result>` as read.
#[derive(Debug, Default)]
struct GvmResult {
    addr: String,
    port: String,
    oid: String,
    nvt_name: String,
    name: String,
    tags: String,
    solution: String,
    severity: Option<f64>,
    description: String,
    cves: Vec<String>,
    urls: Vec<String>,
}

/// Parses a GVM XML report; errors name the byte offset.
pub fn parse(xml: &str) -> Result<GvmReport, String> {
    let mut reader = Reader::from_str(xml);
    let mut report = GvmReport::default();
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut result: Option<GvmResult> = None;
    loop {
        let at = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|err| format!("not well-formed XML at byte {at}: {err}"))?;
        match event {
            Event::Eof => break,
            Event::DocType(_) => {
                return Err("a DOCTYPE is not expected in a GVM report (refused: entities)".into());
            }
            Event::Start(ref e) => {
                let name = e.name().as_ref().to_vec();
                if name == b"result" && path.last().is_some_and(|p| p == b"results") {
                    result = Some(GvmResult::default());
                }
                on_element(e, &path, result.as_mut());
                path.push(name);
            }
            Event::Empty(ref e) => on_element(e, &path, result.as_mut()),
            Event::Text(ref text) => {
                let text = text
                    .xml_content()
                    .map_err(|err| format!("bad text at byte {at}: {err}"))?;
                on_text(&text, &path, &mut report, result.as_mut());
            }
            Event::CData(ref data) => {
                let text = String::from_utf8_lossy(data).into_owned();
                on_text(&text, &path, &mut report, result.as_mut());
            }
            Event::GeneralRef(ref r) => {
                return Err(format!(
                    "an entity reference &{}; at byte {at} (refused: entities)",
                    String::from_utf8_lossy(r)
                ));
            }
            Event::End(_) => {
                let closed = path.pop();
                if closed.as_deref() == Some(b"result")
                    && path.last().is_some_and(|p| p == b"results")
                    && let Some(done) = result.take()
                {
                    add(&mut report.hosts, done);
                }
            }
            _ => {}
        }
    }
    if !path.is_empty() {
        return Err("the report ends before its last element closes".into());
    }
    if report.status.is_none() && report.task.is_none() && report.hosts.is_empty() {
        return Err("not a GVM report: no <report> with task, status or results".into());
    }
    Ok(report)
}

/// The path below the innermost `<result>`, if inside one.
fn in_result(path: &[Vec<u8>]) -> Option<Vec<&[u8]>> {
    let at = path.iter().rposition(|p| p == b"result")?;
    Some(path[at + 1..].iter().map(Vec::as_slice).collect())
}

fn on_element(e: &BytesStart<'_>, path: &[Vec<u8>], result: Option<&mut GvmResult>) {
    let Some(result) = result else { return };
    let Some(inner) = in_result(path) else { return };
    match (inner.as_slice(), e.name().as_ref()) {
        ([], b"nvt") => result.oid = attr(e, "oid").unwrap_or_default(),
        ([b"nvt", b"refs"], b"ref") => {
            let (kind, id) = (attr(e, "type"), attr(e, "id"));
            match (kind.as_deref(), id) {
                (Some("cve"), Some(id)) => result.cves.push(id),
                (Some("url"), Some(id)) => result.urls.push(id),
                _ => {}
            }
        }
        _ => {}
    }
}

fn on_text(text: &str, path: &[Vec<u8>], report: &mut GvmReport, result: Option<&mut GvmResult>) {
    let names: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
    match names.as_slice() {
        [.., b"report", b"task", b"name"] if report.task.is_none() => {
            report.task = Some(text.trim().to_string()).filter(|t| !t.is_empty());
        }
        [.., b"report", b"scan_run_status"] => report.status = Some(text.trim().to_string()),
        _ => {}
    }
    let (Some(result), Some(inner)) = (result, in_result(path)) else {
        return;
    };
    let field = match inner.as_slice() {
        [b"host"] => &mut result.addr,
        [b"port"] => &mut result.port,
        [b"name"] => &mut result.name,
        [b"nvt", b"name"] => &mut result.nvt_name,
        [b"nvt", b"tags"] => &mut result.tags,
        [b"nvt", b"solution"] => &mut result.solution,
        [b"description"] => &mut result.description,
        [b"severity"] => {
            result.severity = text.trim().parse().ok();
            return;
        }
        _ => return,
    };
    if field.len() < MAX_TEXT * 4 {
        field.push_str(text);
    }
}

/// A result as a script result on its port (or the host, for
/// `general/tcp`), with GVM's verdict.
fn add(hosts: &mut Vec<Host>, r: GvmResult) {
    let addr = r.addr.trim().to_string();
    if addr.is_empty() {
        return;
    }
    let title = clip(
        if r.nvt_name.trim().is_empty() {
            &r.name
        } else {
            &r.nvt_name
        },
        300,
    );
    let solution = if r.solution.trim().is_empty() {
        tag(&r.tags, "solution").unwrap_or_default()
    } else {
        r.solution.clone()
    };
    let score = r.severity.unwrap_or(0.0);
    let verdict = Finding {
        id: format!("gvm-{}", r.oid.trim()),
        rule: None,
        title: title.clone(),
        severity: severity(score),
        cves: r.cves,
        evidence: clip(r.description.trim(), MAX_TEXT),
        remediation: clip(&squeeze(&solution), MAX_TEXT),
        source: "gvm",
        url: None,
        references: r.urls,
    };
    let script = Script {
        id: "gvm".to_string(),
        output: format!("{title} (severity {score:.1})"),
        key: Some(verdict.id.clone()),
        verdict: Some(verdict),
        ..Script::default()
    };
    let host = match hosts.iter().position(|h| h.addr == addr) {
        Some(i) => &mut hosts[i],
        None => {
            hosts.push(Host {
                addr,
                ..Host::default()
            });
            hosts.last_mut().expect("just pushed")
        }
    };
    // `443/tcp`; `general/tcp` and the like are about the host.
    let port = r
        .port
        .trim()
        .split_once('/')
        .and_then(|(number, proto)| Some((number.parse::<u16>().ok()?, proto.to_string())));
    match port {
        Some((number, proto)) => {
            let at = match host
                .ports
                .iter()
                .position(|p| p.port == number && p.proto == proto)
            {
                Some(i) => i,
                None => {
                    host.ports.push(Port {
                        proto,
                        port: number,
                        state: "open".to_string(),
                        ..Port::default()
                    });
                    host.ports.len() - 1
                }
            };
            host.ports[at].scripts.push(script);
        }
        None => host.scripts.push(script),
    }
}

/// GVM's severity score (CVSS, 0-10) as a severity, by CVSS v3's ranges:
/// 0 is a log entry (info), then low, medium, high from 7, critical from 9.
pub fn severity(score: f64) -> Severity {
    match score {
        s if s >= 9.0 => Severity::Critical,
        s if s >= 7.0 => Severity::High,
        s if s >= 4.0 => Severity::Medium,
        s if s > 0.0 => Severity::Low,
        _ => Severity::Info,
    }
}

/// `name=value` from an NVT's `|`-separated tags.
fn tag(tags: &str, name: &str) -> Option<String> {
    tags.split('|')
        .find_map(|t| t.strip_prefix(name)?.strip_prefix('='))
        .map(str::to_string)
}

/// Whitespace runs (GVM wraps its texts) as single spaces.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters, with an ellipsis when cut.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_map_to_severities_by_cvss_ranges() {
        assert_eq!(severity(0.0), Severity::Info);
        assert_eq!(severity(3.9), Severity::Low);
        assert_eq!(severity(4.0), Severity::Medium);
        assert_eq!(severity(7.5), Severity::High);
        assert_eq!(severity(9.8), Severity::Critical);
        assert_eq!(
            tag(
                "summary=x|solution=Upgrade it|solution_type=VendorFix",
                "solution"
            )
            .as_deref(),
            Some("Upgrade it")
        );
        assert_eq!(clip("abcdef", 3), "abc…");
    }
}
