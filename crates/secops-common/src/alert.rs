//! The alert contract (docs/records.md, "Alerts"): a record that can alert
//! says so itself, the way a Prometheus alert carries its own labels and
//! Alertmanager needs no knowledge of the exporter.
//!
//! Every record a tool of this workspace writes has an `alert` field right
//! after `message`: `none` for an observation (a usage figure, a listing
//! line, a summary: it never pages anyone, whatever its severity),
//! `firing` while a condition holds, `resolved` once when it ends. A firing
//! or resolved record also has `alert_id`, a stable key the writing tool
//! computes from what identifies the thing observed on its host (mount and
//! measure, protocol, address and port, a path). An alert is the pair
//! (`host`, `alert_id`): the host stays out of the id so that remote-run,
//! which sets `host` to the inventory name, never has to recompute it.
//!
//! Readers (secops-notify, secops-report, secops) read this and nothing
//! about individual tools. A record without an `alert` field comes from a
//! program that predates the contract: readers fall back to its severity.

use sha2::{Digest, Sha256};

/// The field that says where a record stands.
pub const ALERT: &str = "alert";
/// The field that names the alert, on firing and resolved records.
pub const ALERT_ID: &str = "alert_id";

/// The life stage of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    Firing,
    Resolved,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Firing => "firing",
            Stage::Resolved => "resolved",
        }
    }
}

/// What a record says about alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alerting<'a> {
    /// No `alert` field: written by a program that does not speak the
    /// contract (an older version, a script). Readers fall back to its
    /// severity, keyed by host, kind and message.
    Unknown,
    /// `"alert":"none"`: an observation, which never pages.
    Observation,
    /// `"alert":"firing"` or `"resolved"`, with its `alert_id`.
    Alert(Stage, &'a str),
}

/// The `alert_id` of the condition `parts` name, for `tool`.
///
/// The parts are what identifies the thing observed on the host, most
/// general first (`["space", "/var"]`, `["listener", "tcp", "0.0.0.0",
/// "8080"]`); the same parts give the same id in every run and version, so
/// an alert raised by one cron run is resolved by a later one. The id is
/// the tool's name and 128 bits of a SHA-256 over the length-prefixed parts:
/// parts are free text (paths, templates), and a readable join could make
/// two different things one alert, which would let one hide the other.
pub fn alert_id(tool: &str, parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in std::iter::once(&tool).chain(parts) {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    let mut id = String::with_capacity(tool.len() + 33);
    id.push_str(tool);
    id.push(':');
    for byte in &digest[..16] {
        id.push(char::from(HEX[usize::from(byte >> 4)]));
        id.push(char::from(HEX[usize::from(byte & 15)]));
    }
    id
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_unambiguous() {
        let id = alert_id("disk-alert", &["space", "/var"]);
        assert_eq!(id, alert_id("disk-alert", &["space", "/var"]));
        assert!(id.starts_with("disk-alert:") && id.len() == "disk-alert:".len() + 32);
        // A fixed value: a change here would break every alert that is
        // firing in a user's state files when they upgrade.
        assert_eq!(id, "disk-alert:aa43c03f730afb5bb0e9cab2be2bd2b0");
        assert_ne!(id, alert_id("disk-alert", &["inodes", "/var"]));
        assert_ne!(id, alert_id("healthmon", &["space", "/var"]));
        // Joining the parts would make these the same.
        assert_ne!(
            alert_id("anomalizer", &["a:b", "c"]),
            alert_id("anomalizer", &["a", "b:c"])
        );
        assert_ne!(alert_id("t", &["ab"]), alert_id("t", &["a", "b"]));
    }
}
