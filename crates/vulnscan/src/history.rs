//! Change detection, as ndiff does it for nmap XML but in records: the open
//! ports of this scan compared with a baseline (`--baseline FILE`, or the
//! last scan of the same targets kept in the state directory), so a cron
//! job alerts on what changed rather than on everything that is open.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secops_common::{Error, Record, Severity};

use crate::records::{TOOL, endpoint, service_text};

/// What identifies a port across scans: (addr, proto, port).
type Key = (String, String, u64);

/// What a change of service compares: (service, product, version).
type Service = (Option<String>, Option<String>, Option<String>);

/// The open ports of one scan, read back from its `vuln.port` records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot(BTreeMap<Key, Service>);

impl Snapshot {
    /// The snapshot of a scan's `vuln.port` records (other kinds ignored).
    pub fn of<'a>(records: impl IntoIterator<Item = &'a Record>) -> Snapshot {
        let text =
            |rec: &Record, name: &str| rec.get(name).and_then(|v| v.as_str().map(String::from));
        Snapshot(
            records
                .into_iter()
                .filter(|rec| rec.kind == "vuln.port")
                .filter_map(|rec| {
                    let key = (
                        text(rec, "addr")?,
                        text(rec, "proto")?,
                        rec.get("port")?.as_u64()?,
                    );
                    Some((
                        key,
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

    /// Reads a JSON Lines file of records; a missing or unreadable file, or
    /// one with lines that are not records, is bad input.
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

/// The change records that turn `before` into `after`.
pub fn changes(before: &Snapshot, after: &Snapshot) -> Vec<Record> {
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
            out.push(change(
                key,
                was,
                "vuln.port_closed",
                Severity::Low,
                "closed since the last scan",
            ));
        }
    }
    out
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

/// Where the last scan of this selection is kept: one file per engine,
/// target list and port selection, so scans of different things never
/// diff against each other.
pub fn state_file(state_dir: &Path, selection: &str) -> PathBuf {
    // FNV-1a: stable across Rust releases, unlike the std hasher.
    let hash = selection.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    state_dir.join(format!("vulnscan-{hash:016x}.jsonl"))
}

/// Keeps this scan's `vuln.port` records as the next run's baseline,
/// written atomically and readable by the owner only.
pub fn save(path: &Path, records: &[Record]) -> Result<(), Error> {
    let mut text = String::new();
    for rec in records.iter().filter(|r| r.kind == "vuln.port") {
        text.push_str(&rec.to_json());
        text.push('\n');
    }
    secops_common::atomic::write_atomic(path, text.as_bytes(), 0o600)
        .map_err(|err| Error::failed(format!("cannot write scan state {}: {err}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(port: u16, service: &str) -> Record {
        Record::new(TOOL, "vuln.port", Severity::Info, "x")
            .with("addr", "127.0.0.1")
            .with("proto", "tcp")
            .with("port", port)
            .with("service", service)
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
    fn state_files_differ_per_selection() {
        let dir = Path::new("/state");
        assert_ne!(
            state_file(dir, "nmap 127.0.0.1"),
            state_file(dir, "nmap 127.0.0.2")
        );
        assert_eq!(state_file(dir, "a"), state_file(dir, "a"));
    }
}
