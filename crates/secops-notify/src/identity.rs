//! What an alert is about, read from the record itself (docs/records.md,
//! "Alerts"): the writing tool says whether a record is an observation, a
//! firing alert or the end of one, and names the alert with `alert_id`.
//! Nothing here knows any tool: a new tool, or one outside this workspace,
//! is deduplicated and resolved the same way.
//!
//! A record without an `alert` field comes from a program that predates the
//! contract: it is an alert when its severity says so, keyed by host, kind
//! and message, and nothing ever resolves it (it ages out of the ledger).

use secops_common::{Alerting, Record, Stage};
use serde_json::Value;

/// An alert's key in the ledger and whether this record ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub key: String,
    pub ends: bool,
}

/// The alert `rec` is about; `None` for an observation, which never pages.
pub fn identify(rec: &Record) -> Option<Identity> {
    // A JSON array: unambiguous whatever the parts hold.
    let key = |parts: &[&str]| Value::from(parts.to_vec()).to_string();
    match rec.alerting() {
        Alerting::Observation => None,
        Alerting::Alert(stage, id) => Some(Identity {
            key: key(&[&rec.host, id]),
            ends: stage == Stage::Resolved,
        }),
        Alerting::Unknown => Some(Identity {
            key: key(&[&rec.host, &rec.kind, &rec.message]),
            ends: false,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secops_common::Severity;

    fn on(host: &str, rec: Record) -> Record {
        Record {
            host: host.into(),
            ..rec
        }
    }

    #[test]
    fn an_alert_and_its_end_share_a_key_per_host() {
        let firing =
            Record::new("any-tool", "thing.bad", Severity::High, "bad").firing(&["space", "/var"]);
        let over = Record::new("any-tool", "thing.good", Severity::Info, "good")
            .resolved(&["space", "/var"]);
        let a = identify(&on("web1", firing.clone())).unwrap();
        let b = identify(&on("web1", over)).unwrap();
        assert_eq!(a.key, b.key);
        assert!(!a.ends && b.ends);
        // The same alert on another host is another alert.
        assert_ne!(identify(&on("web2", firing)).unwrap().key, a.key);
    }

    #[test]
    fn observations_never_page_and_old_records_fall_back() {
        assert_eq!(
            identify(&Record::new("t", "disk.usage", Severity::Critical, "m")),
            None
        );
        let old = |message: &str| {
            Record::from_json(&format!(
                r#"{{"ts":"t","host":"h","tool":"x","kind":"k","severity":"high","message":"{message}","status":"resolved"}}"#
            ))
            .unwrap()
        };
        let one = identify(&old("one")).unwrap();
        assert!(!one.ends, "only the contract ends an alert");
        assert_eq!(one.key, identify(&old("one")).unwrap().key);
        assert_ne!(one.key, identify(&old("two")).unwrap().key);
    }
}
