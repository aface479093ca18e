//! What changed since the last scan, as ndiff does it for nmap XML but in
//! records, and which alerts that starts or ends. The memory is
//! [`LastRun`] (one file per selection in the state directory, or the
//! process between `--interval` passes); this module holds only what is
//! vulnscan's own: comparing open ports and building the change records.
//!
//! Two alerts (docs/records.md, "Alerts"):
//!
//! - a finding above `info`, parts `finding`, address, protocol, port and
//!   finding id: `vuln.finding` fires on every scan that finds it; a
//!   finding the last scan of the selection had and this one has not is a
//!   `vuln.resolved` record;
//! - a port that is news, parts `port`, address, protocol and port:
//!   `vuln.port_opened` and `vuln.service_changed` fire it (once: the
//!   change is news once, and the port stays open); the port's
//!   `vuln.port_closed` resolves it.
//!
//! What is remembered: every open port's `vuln.port` record (`firing` while
//! its change alert is open), every firing finding under its `alert_id`,
//! and the scan itself under `scan`, so an empty scan still counts as one.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use secops_common::record::{hostname, now_rfc3339};
use secops_common::{Error, LastRun, Record, Severity, Stage};

use crate::records::{TOOL, endpoint, port_alert_id, service_text};

/// What identifies a port across scans: (addr, proto, port).
type Key = (String, String, u64);

/// What a change of service compares: (service, product, version).
type Service = (Option<String>, Option<String>, Option<String>);

/// The key the scan itself is remembered under.
const SCAN: &str = "scan";

/// The open ports of one scan, read back from its `vuln.port` records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot(BTreeMap<Key, Service>);

impl Snapshot {
    /// The snapshot of a scan's `vuln.port` records (other kinds ignored).
    pub fn of<'a>(records: impl IntoIterator<Item = &'a Record>) -> Snapshot {
        Snapshot(
            records
                .into_iter()
                .filter(|rec| rec.kind == "vuln.port")
                .filter_map(|rec| {
                    Some((
                        key_of(rec)?,
                        (
                            text(rec, "service"),
                            text(rec, "product"),
                            text(rec, "version"),
                        ),
                    ))
                })
                .collect(),
        )
    }

    /// Reads a JSON Lines file of records (`--baseline`); a missing or
    /// unreadable file, or one with lines that are not records, is bad
    /// input.
    pub fn load(path: &Path) -> Result<Snapshot, Error> {
        let mut records = Vec::new();
        let stats = secops_common::input::read_records(&[path.to_path_buf()], |rec| {
            records.push(rec);
            Ok(())
        })?;
        if stats.unreadable > 0 || stats.rejected > 0 {
            return Err(Error::bad_input(format!(
                "baseline {} could not be read as records",
                path.display()
            )));
        }
        Ok(Snapshot::of(&records))
    }
}

/// The scans of one selection: the last one, remembered.
pub struct Scans {
    memory: LastRun,
}

impl Scans {
    pub fn new(memory: LastRun) -> Scans {
        Scans { memory }
    }

    /// The change records of a complete scan (`records`: its `vuln.port`
    /// and `vuln.finding` records) against `baseline`, else the last scan,
    /// and the `vuln.resolved` records of findings gone since the last
    /// scan; the scan is remembered for the next one. Nothing to compare
    /// with (a first scan) gives no changes.
    pub fn pass(&mut self, records: &[Record], baseline: Option<&Snapshot>) -> Vec<Record> {
        let before = match baseline {
            Some(baseline) => Some(baseline.clone()),
            None if self.memory.previous(SCAN).is_some() => {
                Some(Snapshot::of(self.memory.remembered().map(|(_, rec)| rec)))
            }
            None => None,
        };
        let mut out = match &before {
            Some(before) => changes(before, &Snapshot::of(records)),
            None => {
                secops_common::info!(
                    "no previous scan of these targets; the next run reports changes"
                );
                Vec::new()
            }
        };
        // The port alerts: fired by this scan's changes, or still open
        // from an earlier one; a closed port ends its own.
        let mut fired = HashSet::new();
        for rec in &mut out {
            let Some(key) = key_of(rec) else { continue };
            let id = port_alert_id(&key.0, &key.1, key.2);
            if rec.kind == "vuln.port_closed" {
                if self.firing(&key) {
                    *rec = rec.clone().with_alert(Stage::Resolved, id);
                }
            } else {
                *rec = rec.clone().with_alert(Stage::Firing, id);
                fired.insert(key);
            }
        }
        let closed: HashSet<Key> = out
            .iter()
            .filter(|rec| rec.kind == "vuln.port_closed")
            .filter_map(key_of)
            .collect();
        for rec in records {
            match rec.kind.as_str() {
                "vuln.port" => {
                    let Some(key) = key_of(rec) else { continue };
                    let mut kept = rec.clone();
                    if fired.contains(&key) || self.firing(&key) {
                        kept = kept.with_alert(Stage::Firing, port_alert_id(&key.0, &key.1, key.2));
                    }
                    self.memory.remember(memory_key(&key), kept);
                }
                "vuln.finding" => {
                    self.memory.fire(rec);
                }
                _ => {}
            }
        }
        self.memory.remember(
            SCAN,
            Record::new(TOOL, "vuln.scan", Severity::Info, "the last complete scan"),
        );
        let mut ended = Vec::new();
        for rec in self.memory.end_pass(|_| true) {
            match rec.kind.as_str() {
                "vuln.finding" => ended.push(resolved_finding(rec)),
                // A port alert that no closure above ended (a --baseline
                // that never had the port): its end is still owed.
                "vuln.port" if rec.alert_id().is_some() => {
                    let Some(key) = key_of(&rec) else { continue };
                    if !closed.contains(&key) {
                        let id = port_alert_id(&key.0, &key.1, key.2);
                        ended.push(
                            closed_record(&key, &service_of(&rec)).with_alert(Stage::Resolved, id),
                        );
                    }
                }
                _ => {}
            }
        }
        out.extend(ended);
        out
    }

    /// Keeps the last pass for the next run (nothing without a state
    /// directory).
    pub fn save(&self) -> Result<(), Error> {
        self.memory.save()
    }

    /// Whether the last scan left the port's change alert open.
    fn firing(&self, key: &Key) -> bool {
        self.memory
            .previous(&memory_key(key))
            .is_some_and(|rec| rec.alert_id().is_some())
    }
}

/// The change records that turn `before` into `after`, without alert
/// stages.
fn changes(before: &Snapshot, after: &Snapshot) -> Vec<Record> {
    let mut out = Vec::new();
    for (key, now) in &after.0 {
        match before.0.get(key) {
            None => out.push(change(
                key,
                now,
                "vuln.port_opened",
                Severity::Medium,
                "opened since the last scan",
            )),
            Some(was) if was != now => {
                let message = format!(
                    "changed from {} since the last scan",
                    service_text(was.0.as_deref(), was.1.as_deref(), was.2.as_deref())
                );
                out.push(
                    change(key, now, "vuln.service_changed", Severity::Medium, &message)
                        .with("previous_service", was.0.clone())
                        .with("previous_product", was.1.clone())
                        .with("previous_version", was.2.clone()),
                )
            }
            Some(_) => {}
        }
    }
    for (key, was) in &before.0 {
        if !after.0.contains_key(key) {
            out.push(closed_record(key, was));
        }
    }
    out
}

/// A port gone since the last scan: news, not a finding (`info`).
fn closed_record(key: &Key, service: &Service) -> Record {
    change(
        key,
        service,
        "vuln.port_closed",
        Severity::Info,
        "closed since the last scan",
    )
}

fn change(key: &Key, service: &Service, kind: &str, severity: Severity, what: &str) -> Record {
    let (addr, proto, port) = key;
    let port = u16::try_from(*port).unwrap_or(0);
    let message = format!(
        "{} ({}) {what}",
        endpoint(addr, proto, port),
        service_text(
            service.0.as_deref(),
            service.1.as_deref(),
            service.2.as_deref()
        )
    );
    Record::new(TOOL, kind, severity, message)
        .with("addr", addr.as_str())
        .with("proto", proto.as_str())
        .with("port", port)
        .with("service", service.0.clone())
        .with("product", service.1.clone())
        .with("version", service.2.clone())
}

/// The `vuln.resolved` record of a finding the last scan had and this one
/// has not: its fields as last found, `was` its severity then.
fn resolved_finding(found: Record) -> Record {
    let id = found.alert_id().unwrap_or_default().to_string();
    let place = match (
        text(&found, "proto"),
        found.get("port").and_then(|v| v.as_u64()),
    ) {
        (Some(proto), Some(port)) => endpoint(
            &text(&found, "addr").unwrap_or_default(),
            &proto,
            u16::try_from(port).unwrap_or(0),
        ),
        _ => text(&found, "addr").unwrap_or_default(),
    };
    let title = text(&found, "title").unwrap_or_else(|| "a finding".to_string());
    let mut rec = Record::new(
        TOOL,
        "vuln.resolved",
        Severity::Info,
        format!("no longer found on {place}: {title}"),
    );
    for (name, value) in found.fields {
        if name != secops_common::alert::ALERT && name != secops_common::alert::ALERT_ID {
            rec.set(&name, value);
        }
    }
    rec.set("was", found.severity.as_str());
    rec.ts = now_rfc3339();
    rec.host = hostname().to_string();
    rec.with_alert(Stage::Resolved, id)
}

fn text(rec: &Record, name: &str) -> Option<String> {
    rec.fields
        .get(name)
        .and_then(|v| v.as_str())
        .map(String::from)
}

fn key_of(rec: &Record) -> Option<Key> {
    Some((
        text(rec, "addr")?,
        text(rec, "proto")?,
        rec.fields.get("port")?.as_u64()?,
    ))
}

fn service_of(rec: &Record) -> Service {
    (
        text(rec, "service"),
        text(rec, "product"),
        text(rec, "version"),
    )
}

/// `tcp 127.0.0.1:22`: an open port, as remembered.
fn memory_key(key: &Key) -> String {
    endpoint(&key.0, &key.1, u16::try_from(key.2).unwrap_or(0))
}

/// The state file's name for a selection: one per engine, target list and
/// port selection, so scans of different things never diff against each
/// other (`vulnscan-HASH`, kept as `vulnscan-HASH.last-run.json`).
pub fn state_name(selection: &str) -> String {
    // FNV-1a: stable across Rust releases, unlike the std hasher.
    let hash = selection.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("vulnscan-{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use secops_common::Alerting;

    fn port(port: u16, service: &str) -> Record {
        Record::new(TOOL, "vuln.port", Severity::Info, "x")
            .with("addr", "127.0.0.1")
            .with("proto", "tcp")
            .with("port", port)
            .with("service", service)
    }

    fn finding(port: u16, id: &str) -> Record {
        crate::records::alert_stage(
            Record::new(TOOL, "vuln.finding", Severity::High, "bad")
                .with("addr", "127.0.0.1")
                .with("proto", "tcp")
                .with("port", port)
                .with("id", id)
                .with("title", "a bad thing"),
        )
    }

    /// (kind, port, alert stage) of each record.
    fn summary(records: &[Record]) -> Vec<(String, u64, &'static str)> {
        records
            .iter()
            .map(|r| {
                let stage = match r.alerting() {
                    Alerting::Alert(stage, _) => stage.as_str(),
                    _ => "none",
                };
                (r.kind.clone(), r.fields["port"].as_u64().unwrap(), stage)
            })
            .collect()
    }

    fn rows(list: &[(&str, u64, &'static str)]) -> Vec<(String, u64, &'static str)> {
        list.iter()
            .map(|(k, p, s)| (k.to_string(), *p, *s))
            .collect()
    }

    #[test]
    fn opened_closed_and_changed_ports_are_reported() {
        let before = Snapshot::of(&[port(22, "ssh"), port(80, "http"), port(25, "smtp")]);
        let after = Snapshot::of(&[port(22, "ssh"), port(80, "https"), port(443, "https")]);
        let kinds: Vec<(String, Option<u64>)> = changes(&before, &after)
            .iter()
            .map(|r| (r.kind.clone(), r.get("port").and_then(|p| p.as_u64())))
            .collect();
        assert_eq!(
            kinds,
            [
                ("vuln.service_changed".to_string(), Some(80)),
                ("vuln.port_opened".to_string(), Some(443)),
                ("vuln.port_closed".to_string(), Some(25)),
            ]
        );
        assert!(changes(&after, &after).is_empty());
    }

    #[test]
    fn findings_and_port_changes_fire_and_resolve_across_scans() {
        let mut scans = Scans::new(LastRun::in_memory());
        let first = [port(22, "ssh"), port(80, "http"), finding(80, "http-trace")];
        assert!(scans.pass(&first, None).is_empty(), "a first scan");

        // 8080 opens: its change alert fires; the finding on 80 stays.
        let second = [
            port(22, "ssh"),
            port(80, "http"),
            finding(80, "http-trace"),
            port(8080, "http"),
        ];
        assert_eq!(
            summary(&scans.pass(&second, None)),
            rows(&[("vuln.port_opened", 8080, "firing")])
        );
        // Nothing new: the change is news once.
        assert!(scans.pass(&second, None).is_empty());

        // The finding is fixed, 8080 and 22 close: one resolution each for
        // what alerted; 22 never alerted.
        let third = [port(80, "http")];
        let ended = scans.pass(&third, None);
        assert_eq!(
            summary(&ended),
            rows(&[
                ("vuln.port_closed", 22, "none"),
                ("vuln.port_closed", 8080, "resolved"),
                ("vuln.resolved", 80, "resolved"),
            ])
        );
        let fixed = &ended[2];
        assert_eq!(fixed.severity, Severity::Info);
        assert_eq!(fixed.fields["was"], "high");
        assert_eq!(fixed.alert_id(), finding(80, "http-trace").alert_id());
        assert_eq!(
            fixed.message,
            "no longer found on tcp 127.0.0.1:80: a bad thing"
        );
        assert!(ended.iter().all(|r| r.severity == Severity::Info));
        assert!(scans.pass(&third, None).is_empty(), "resolved once");

        // An empty scan is still a scan: what opens after it is news.
        assert_eq!(summary(&scans.pass(&[], None)).len(), 1);
        assert_eq!(
            summary(&scans.pass(&[port(80, "http")], None)),
            rows(&[("vuln.port_opened", 80, "firing")])
        );
    }

    #[test]
    fn state_names_differ_per_selection() {
        assert_ne!(state_name("nmap 127.0.0.1"), state_name("nmap 127.0.0.2"));
        assert_eq!(state_name("a"), state_name("a"));
    }
}
