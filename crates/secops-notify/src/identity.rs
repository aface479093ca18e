//! What an alert is about, so that the same condition reported again (every
//! disk-alert pass, every fim-check run) is one alert, and its recovery
//! record finds it.
//!
//! The key is the host, the tool, the kind's *family* and the record's
//! identity fields. The family drops a last kind segment that only says
//! where in its life the condition is (`disk.alert` and `disk.recovered` are
//! both `disk`; traffic-cop's `port`, `port.opened` and `port.closed` are
//! all `port`), so an alert and its end share a key. The identity fields are
//! the ones docs/records.md says name the subject, per tool; a record of an
//! unknown tool uses whichever of the common subject fields it has, and a
//! record with none of them its message.

use secops_common::Record;
use serde_json::Value;

/// Kind endings that are a stage of one condition, not a new condition.
const STAGES: [&str; 6] = [
    "alert",
    "recovered",
    "resolved",
    "opened",
    "closed",
    "changed",
];

/// Stages that end a condition.
const ENDINGS: [&str; 3] = ["recovered", "resolved", "closed"];

/// `status` values that end a condition, for tools that say so that way.
const ENDING_STATUSES: [&str; 2] = ["resolved", "recovered"];

/// Fields that name the subject, for records of tools not listed below.
const SUBJECT_FIELDS: [&str; 11] = [
    "metric", "mount", "measure", "path", "proto", "addr", "port", "id", "detector", "template",
    "command",
];

/// The identity fields of each tool's records (docs/records.md).
fn identity_fields(tool: &str) -> &'static [&'static str] {
    match tool {
        // `pid` and `process` change when a server restarts: same socket.
        "traffic-cop" => &["proto", "addr", "port", "remote_addr", "remote_port"],
        "disk-alert" => &["mount", "measure"],
        "healthmon" => &["metric", "mount", "pid"],
        "fim-check" => &["path"],
        "vulnscan" => &["addr", "proto", "port", "id"],
        "anomalizer" => &["detector", "template", "token"],
        "backup-rotate" => &["name", "stage", "archive", "path"],
        "remote-run" => &["command"],
        _ => &SUBJECT_FIELDS,
    }
}

/// An alert's identity and whether this record ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub key: String,
    pub ends: bool,
}

/// The identity of `rec`.
pub fn identify(rec: &Record) -> Identity {
    let (family, stage) = split_stage(&rec.kind);
    let status_ends = rec
        .fields
        .get("status")
        .and_then(Value::as_str)
        .is_some_and(|s| ENDING_STATUSES.contains(&s));
    let ends = stage.is_some_and(|s| ENDINGS.contains(&s)) || status_ends;

    let mut parts = vec![
        Value::from(rec.host.as_str()),
        Value::from(rec.tool.as_str()),
        Value::from(family),
    ];
    for name in identity_fields(&rec.tool) {
        match rec.fields.get(*name) {
            None | Some(Value::Null) => {}
            Some(value) => {
                parts.push(Value::from(*name));
                parts.push(value.clone());
            }
        }
    }
    if parts.len() == 3 {
        parts.push(Value::from("message"));
        parts.push(Value::from(rec.message.as_str()));
    }
    // A JSON array: unambiguous whatever the fields hold.
    Identity {
        key: Value::Array(parts).to_string(),
        ends,
    }
}

/// `disk.alert` -> (`disk`, Some(`alert`)); `vuln.port_closed` ->
/// (`vuln.port`, Some(`closed`)); `port` -> (`port`, None).
fn split_stage(kind: &str) -> (&str, Option<&str>) {
    for sep in ['.', '_'] {
        if let Some((family, last)) = kind.rsplit_once(sep)
            && STAGES.contains(&last)
            && !family.is_empty()
        {
            return (family, Some(last));
        }
    }
    (kind, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secops_common::Severity;

    fn rec(tool: &str, kind: &str, fields: &[(&str, Value)]) -> Record {
        let mut rec = Record::new(tool, kind, Severity::High, "m");
        rec.host = "web1".into();
        for (name, value) in fields {
            rec.set(name, value.clone());
        }
        rec
    }

    #[test]
    fn an_alert_and_its_recovery_share_a_key() {
        let alert = identify(&rec(
            "disk-alert",
            "disk.alert",
            &[
                ("mount", "/var".into()),
                ("measure", "space".into()),
                ("percent", 93.into()),
            ],
        ));
        let over = identify(&rec(
            "disk-alert",
            "disk.recovered",
            &[
                ("mount", "/var".into()),
                ("measure", "space".into()),
                ("percent", 71.into()),
            ],
        ));
        assert_eq!(alert.key, over.key);
        assert!(!alert.ends && over.ends);
        let inodes = identify(&rec(
            "disk-alert",
            "disk.alert",
            &[("mount", "/var".into()), ("measure", "inodes".into())],
        ));
        assert_ne!(alert.key, inodes.key);
    }

    #[test]
    fn healthmon_and_traffic_cop_subjects() {
        let cpu = rec("healthmon", "health.alert", &[("metric", "cpu".into())]);
        let back = rec("healthmon", "health.recovered", &[("metric", "cpu".into())]);
        assert_eq!(identify(&cpu).key, identify(&back).key);
        assert!(identify(&back).ends);

        let port = |kind: &str, pid: u32| {
            rec(
                "traffic-cop",
                kind,
                &[
                    ("proto", "tcp".into()),
                    ("addr", "0.0.0.0".into()),
                    ("port", 8080.into()),
                    ("pid", pid.into()),
                ],
            )
        };
        assert_eq!(
            identify(&port("port", 1)).key,
            identify(&port("port.opened", 2)).key
        );
        assert!(identify(&port("port.closed", 2)).ends);
        assert!(!identify(&port("port.changed", 2)).ends);
    }

    #[test]
    fn unknown_records_fall_back_to_the_message_and_status() {
        let mut a = rec("other", "thing", &[]);
        let mut b = a.clone();
        a.message = "one".into();
        b.message = "two".into();
        assert_ne!(identify(&a).key, identify(&b).key);
        let done = rec("other", "thing", &[("status", "resolved".into())]);
        assert!(identify(&done).ends);
        assert_eq!(
            split_stage("vuln.port_closed"),
            ("vuln.port", Some("closed"))
        );
        assert_eq!(split_stage("alert"), ("alert", None));
    }
}
