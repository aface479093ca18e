//! The one record format: six common fields, then the kind's own fields at
//! top level, in the order the tool added them.

use std::fmt;
use std::sync::OnceLock;
use std::time::SystemTime;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::alert::{ALERT, ALERT_ID, Alerting, Stage, alert_id};
use crate::severity::Severity;

/// The fields every record has, in the order they are written.
pub const COMMON_FIELDS: [&str; 6] = ["ts", "host", "tool", "kind", "severity", "message"];

/// One observation. `fields` keeps insertion order (serde_json's
/// `preserve_order`), so a record reads the same way every time it is written
/// and CSV columns come out in first-seen order.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// RFC 3339 UTC time of the observation, e.g. `2026-11-21T19:02:00Z`.
    pub ts: String,
    /// Host where it was observed.
    pub host: String,
    /// Tool that made it, e.g. `traffic-cop`.
    pub tool: String,
    /// What it is, dotted, e.g. `port.opened`.
    pub kind: String,
    pub severity: Severity,
    /// One sentence that stands alone in an alert.
    pub message: String,
    /// The kind's own fields.
    pub fields: Map<String, Value>,
}

impl Record {
    /// An observation made now on this host: `"alert":"none"` until
    /// [`Record::firing`] or [`Record::resolved`] says otherwise.
    pub fn new(tool: &str, kind: &str, severity: Severity, message: impl Into<String>) -> Record {
        let mut rec = Record {
            ts: now_rfc3339(),
            host: hostname().to_string(),
            tool: tool.to_string(),
            kind: kind.to_string(),
            severity,
            message: message.into(),
            // Most kinds carry a dozen or two fields: sizing the map once
            // saves four rehashes per record on large scans.
            fields: Map::with_capacity(24),
        };
        rec.fields.insert(ALERT.to_string(), Value::from("none"));
        rec
    }

    /// Makes this record the firing alert that `parts` identify on its
    /// host (see [`alert_id`]).
    pub fn firing(self, parts: &[&str]) -> Record {
        let id = alert_id(&self.tool, parts);
        self.with_alert(Stage::Firing, id)
    }

    /// Makes this record the end of the alert that `parts` identify.
    pub fn resolved(self, parts: &[&str]) -> Record {
        let id = alert_id(&self.tool, parts);
        self.with_alert(Stage::Resolved, id)
    }

    /// Sets the alert stage and id, right after the common fields; for a
    /// record that ends an alert whose id was read back from state.
    pub fn with_alert(mut self, stage: Stage, id: impl Into<String>) -> Record {
        self.fields
            .shift_insert(0, ALERT.to_string(), Value::from(stage.as_str()));
        self.fields
            .shift_insert(1, ALERT_ID.to_string(), Value::from(id.into()));
        self
    }

    /// What this record says about alerts (checked when it was read).
    pub fn alerting(&self) -> Alerting<'_> {
        let id = || {
            self.fields
                .get(ALERT_ID)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        match self.fields.get(ALERT).and_then(Value::as_str) {
            None => Alerting::Unknown,
            Some("firing") => Alerting::Alert(Stage::Firing, id()),
            Some("resolved") => Alerting::Alert(Stage::Resolved, id()),
            Some(_) => Alerting::Observation,
        }
    }

    /// The alert id of a firing or resolved record.
    pub fn alert_id(&self) -> Option<&str> {
        match self.alerting() {
            Alerting::Alert(_, id) => Some(id),
            _ => None,
        }
    }

    /// Adds a kind field; `None` becomes JSON `null`, so a field that is
    /// unknown (a pid we cannot see) stays visible rather than vanishing.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Record {
        self.set(name, value);
        self
    }

    /// A run's closing `*.summary` record: what was checked, with
    /// `findings`, the count of `found` by severity (`{"critical":0,...}`),
    /// and how long the run took, so that a clean run says so and a log
    /// tells it from a run that never happened.
    pub fn summary<'r>(
        tool: &str,
        kind: &str,
        message: impl Into<String>,
        found: impl IntoIterator<Item = &'r Record>,
        took: std::time::Duration,
    ) -> Record {
        let mut counts = [0u64; Severity::ALL.len()];
        for rec in found {
            counts[rec.severity as usize] += 1;
        }
        let findings: Map<String, Value> = Severity::ALL
            .iter()
            .rev()
            .map(|s| (s.as_str().to_string(), counts[*s as usize].into()))
            .collect();
        Record::new(tool, kind, Severity::Info, message)
            .with("findings", findings)
            .with("duration_ms", took.as_millis() as u64)
    }

    /// Sets a kind field in place.
    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        debug_assert!(!COMMON_FIELDS.contains(&name), "{name} is a common field");
        debug_assert!(
            name != ALERT && name != ALERT_ID,
            "{name} is set by Record::firing or Record::resolved"
        );
        self.fields.insert(name.to_string(), value.into());
    }

    /// A field by name, common ones included (as JSON values).
    pub fn get(&self, name: &str) -> Option<Value> {
        let common = match name {
            "ts" => &self.ts,
            "host" => &self.host,
            "tool" => &self.tool,
            "kind" => &self.kind,
            "severity" => self.severity.as_str(),
            "message" => &self.message,
            _ => return self.fields.get(name).cloned(),
        };
        Some(Value::String(common.to_string()))
    }

    /// Parses one JSON Lines record, checking the common fields.
    ///
    /// This is every reader's hot path, so the common fields go straight
    /// into the record and only kind fields into its map, rather than
    /// building a whole object map and then moving entries out of it.
    pub fn from_json(line: &str) -> Result<Record, RecordError> {
        let mut problem = None;
        let mut de = serde_json::Deserializer::from_str(line);
        let parsed = serde::de::DeserializeSeed::deserialize(
            RecordSeed {
                problem: &mut problem,
            },
            &mut de,
        )
        .and_then(|rec| de.end().map(|()| rec));
        match (parsed, problem) {
            (_, Some(problem)) => Err(problem),
            (Ok(rec), None) => Ok(rec),
            (Err(err), None) => Err(RecordError::Json(err.to_string())),
        }
    }

    /// The record as one JSON line, without the trailing newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a record always serializes")
    }
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(COMMON_FIELDS.len() + self.fields.len()))?;
        map.serialize_entry("ts", &self.ts)?;
        map.serialize_entry("host", &self.host)?;
        map.serialize_entry("tool", &self.tool)?;
        map.serialize_entry("kind", &self.kind)?;
        map.serialize_entry("severity", &self.severity)?;
        map.serialize_entry("message", &self.message)?;
        for (name, value) in &self.fields {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// Deserializes a record in one pass. A line that is JSON but not a
/// record leaves the reason in `problem` (and fails the parse), so callers
/// learn which field is wrong rather than a generic serde message.
struct RecordSeed<'p> {
    problem: &'p mut Option<RecordError>,
}

impl<'de> serde::de::DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Record;

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<Record, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for RecordSeed<'_> {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
        let mut common: [Option<String>; 6] = Default::default();
        // Sized for a typical kind (traffic-cop's carry 8 fields): growing
        // from empty rehashes two or three times per record, about a fifth
        // of jsonl -> csv time when measured.
        let mut fields = Map::with_capacity(8);
        while let Some(name) = map.next_key::<FieldName>()? {
            match name {
                FieldName::Common(i) => match map.next_value::<Value>()? {
                    Value::String(s) => common[i] = Some(s),
                    other => {
                        return Err(
                            self.fail(RecordError::NotAString(COMMON_FIELDS[i], json_type(&other)))
                        );
                    }
                },
                FieldName::Kind(name) => {
                    fields.insert(name, map.next_value()?);
                }
            }
        }
        if let Some(i) = common.iter().position(Option::is_none) {
            return Err(self.fail(RecordError::Missing(COMMON_FIELDS[i])));
        }
        let [ts, host, tool, kind, severity, message] = common.map(Option::unwrap_or_default);
        let Ok(severity) = severity.parse() else {
            return Err(self.fail(RecordError::BadSeverity(severity)));
        };
        if let Some(problem) = alert_problem(&fields) {
            return Err(self.fail(problem));
        }
        Ok(Record {
            ts,
            host,
            tool,
            kind,
            severity,
            message,
            fields,
        })
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<Record, A::Error> {
        Err(self.fail(RecordError::NotAnObject("array")))
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Record, E> {
        Err(self.fail(RecordError::NotAnObject("string")))
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Record, E> {
        Err(self.fail(RecordError::NotAnObject("boolean")))
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Record, E> {
        Err(self.fail(RecordError::NotAnObject("number")))
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Record, E> {
        Err(self.fail(RecordError::NotAnObject("number")))
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Record, E> {
        Err(self.fail(RecordError::NotAnObject("number")))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Record, E> {
        Err(self.fail(RecordError::NotAnObject("null")))
    }
}

/// What is wrong with a record's `alert` and `alert_id`, if anything: a
/// firing record must say which alert it is, or it could never be resolved.
fn alert_problem(fields: &Map<String, Value>) -> Option<RecordError> {
    let stage = match fields.get(ALERT)? {
        Value::String(s) if s == "none" => return None,
        Value::String(s) if s == "firing" || s == "resolved" => s,
        other => return Some(RecordError::BadAlert(other.to_string())),
    };
    match fields.get(ALERT_ID) {
        Some(Value::String(id)) if !id.is_empty() => None,
        None | Some(Value::Null | Value::String(_)) => {
            Some(RecordError::MissingAlertId(stage.clone()))
        }
        Some(other) => Some(RecordError::NotAString(ALERT_ID, json_type(other))),
    }
}

impl<'de> serde::Deserialize<'de> for Record {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Record, D::Error> {
        let mut problem = None;
        serde::de::DeserializeSeed::deserialize(
            RecordSeed {
                problem: &mut problem,
            },
            de,
        )
    }
}

impl RecordSeed<'_> {
    fn fail<E: serde::de::Error>(self, problem: RecordError) -> E {
        let err = E::custom(&problem);
        *self.problem = Some(problem);
        err
    }
}

/// An object key: one of the common fields (recognised without allocating)
/// or a kind field's name.
enum FieldName {
    Common(usize),
    Kind(String),
}

impl<'de> serde::Deserialize<'de> for FieldName {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<FieldName, D::Error> {
        struct NameVisitor;
        impl serde::de::Visitor<'_> for NameVisitor {
            type Value = FieldName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<FieldName, E> {
                Ok(match COMMON_FIELDS.iter().position(|c| *c == name) {
                    Some(i) => FieldName::Common(i),
                    None => FieldName::Kind(name.to_string()),
                })
            }
            fn visit_string<E: serde::de::Error>(self, name: String) -> Result<FieldName, E> {
                Ok(match COMMON_FIELDS.iter().position(|c| *c == name) {
                    Some(i) => FieldName::Common(i),
                    None => FieldName::Kind(name),
                })
            }
        }
        de.deserialize_str(NameVisitor)
    }
}

/// Why a line is not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    Json(String),
    NotAnObject(&'static str),
    Missing(&'static str),
    NotAString(&'static str, &'static str),
    BadSeverity(String),
    BadAlert(String),
    MissingAlertId(String),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Json(err) => write!(f, "not JSON: {err}"),
            RecordError::NotAnObject(found) => {
                write!(f, "not a record: a JSON {found}, not an object")
            }
            RecordError::Missing(field) => write!(f, "missing field `{field}`"),
            RecordError::NotAString(field, found) => {
                write!(f, "field `{field}` must be a string, not a {found}")
            }
            RecordError::BadSeverity(word) => write!(
                f,
                "field `severity`: unknown severity {word:?} (expected info, low, medium, high or critical)"
            ),
            RecordError::BadAlert(found) => {
                write!(f, "field `alert`: {found} is not none, firing or resolved")
            }
            RecordError::MissingAlertId(stage) => write!(
                f,
                "missing field `alert_id`: a {stage} record must name its alert"
            ),
        }
    }
}

impl std::error::Error for RecordError {}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The current time as RFC 3339 UTC with whole seconds. Formatted once per
/// second per thread: a scan stamps thousands of records within one.
pub fn now_rfc3339() -> String {
    thread_local! {
        static LAST: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    LAST.with_borrow_mut(|(last, text)| {
        if *last != secs {
            *last = secs;
            *text = rfc3339(now);
        }
        text.clone()
    })
}

/// A time as RFC 3339 UTC with whole seconds, the form every `ts` takes.
pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// This machine's host name, read once.
pub fn hostname() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        nix::unistd::gethostname()
            .ok()
            .and_then(|name| name.into_string().ok())
            .unwrap_or_else(|| "localhost".to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_pass_through_exactly() {
        // A pipeline (tool | secops-report, remote-run's passthrough)
        // must hand on the value it read. serde_json's default float
        // parsing is off by one unit in the last place for 17-digit
        // values above 2^53 (found by the records fuzz target): the
        // workspace turns on its float_roundtrip feature.
        for text in [
            "14.033333333333331",
            "14.033333333333333",
            "0.30000000000000004",
            "5e-324",
            "1.7976931348623157e308",
            "9007199254740993",
            "123456789.12345679",
        ] {
            let line = format!(
                r#"{{"ts":"t","host":"h","tool":"x","kind":"k","severity":"info","message":"m","v":{text}}}"#
            );
            let once = Record::from_json(&line).unwrap().to_json();
            let twice = Record::from_json(&once).unwrap().to_json();
            assert_eq!(once, twice, "{text}");
            let read: f64 = text.parse().unwrap();
            let back = Record::from_json(&once).unwrap().fields["v"]
                .as_f64()
                .unwrap();
            assert_eq!(back.to_bits(), read.to_bits(), "{text} read as {back}");
        }
        // Far more digits than a double holds: the nearest double.
        let long = format!("14.0{}", "3".repeat(70));
        let line = format!(
            r#"{{"ts":"t","host":"h","tool":"x","kind":"k","severity":"info","message":"m","v":{long}}}"#
        );
        let v = Record::from_json(&line).unwrap().fields["v"]
            .as_f64()
            .unwrap();
        assert_eq!(v.to_bits(), long.parse::<f64>().unwrap().to_bits());
    }

    #[test]
    fn writes_common_fields_first_then_kind_fields_in_order() {
        let mut rec = Record::new(
            "traffic-cop",
            "port",
            Severity::High,
            "tcp 0.0.0.0:8080 is open",
        )
        .with("status", "unapproved")
        .with("port", 8080)
        .with("pid", Option::<u32>::None);
        rec.ts = "2026-11-21T19:02:00Z".into();
        rec.host = "web1".into();
        assert_eq!(
            rec.to_json(),
            r#"{"ts":"2026-11-21T19:02:00Z","host":"web1","tool":"traffic-cop","kind":"port","severity":"high","message":"tcp 0.0.0.0:8080 is open","alert":"none","status":"unapproved","port":8080,"pid":null}"#
        );
        assert_eq!(Record::from_json(&rec.to_json()), Ok(rec));
    }

    #[test]
    fn alerts_carry_their_stage_and_id_after_the_message() {
        let mut rec = Record::new("disk-alert", "disk.alert", Severity::High, "full")
            .with("mount", "/var")
            .firing(&["space", "/var"]);
        rec.ts = "t".into();
        rec.host = "h".into();
        let id = alert_id("disk-alert", &["space", "/var"]);
        assert_eq!(
            rec.to_json(),
            format!(
                r#"{{"ts":"t","host":"h","tool":"disk-alert","kind":"disk.alert","severity":"high","message":"full","alert":"firing","alert_id":"{id}","mount":"/var"}}"#
            )
        );
        assert_eq!(rec.alerting(), Alerting::Alert(Stage::Firing, &id));
        let back = Record::from_json(&rec.to_json()).unwrap();
        assert_eq!(back, rec);
        let over = back.with_alert(Stage::Resolved, id.clone());
        assert_eq!(over.alerting(), Alerting::Alert(Stage::Resolved, &id));
        assert_eq!(
            over.fields.keys().take(3).collect::<Vec<_>>(),
            ["alert", "alert_id", "mount"]
        );

        let observation = Record::new("t", "k", Severity::High, "m");
        assert_eq!(observation.alerting(), Alerting::Observation);
        assert_eq!(observation.alert_id(), None);
        let old = Record::from_json(
            r#"{"ts":"t","host":"h","tool":"x","kind":"k","severity":"low","message":"m"}"#,
        )
        .unwrap();
        assert_eq!(old.alerting(), Alerting::Unknown);
    }

    #[test]
    fn a_firing_record_must_name_its_alert() {
        let err = |tail: &str| {
            Record::from_json(&format!(
                r#"{{"ts":"t","host":"h","tool":"x","kind":"k","severity":"low","message":"m"{tail}}}"#
            ))
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            err(r#","alert":"firing""#),
            "missing field `alert_id`: a firing record must name its alert"
        );
        assert_eq!(
            err(r#","alert":"resolved","alert_id":"""#),
            "missing field `alert_id`: a resolved record must name its alert"
        );
        assert_eq!(
            err(r#","alert":"fired","alert_id":"a""#),
            r#"field `alert`: "fired" is not none, firing or resolved"#
        );
        assert_eq!(
            err(r#","alert":"firing","alert_id":7"#),
            "field `alert_id` must be a string, not a number"
        );
    }

    #[test]
    fn reading_names_what_is_wrong() {
        let err = |line: &str| Record::from_json(line).unwrap_err().to_string();
        assert!(err("{not json").starts_with("not JSON"));
        assert_eq!(err("[1,2]"), "not a record: a JSON array, not an object");
        assert_eq!(
            err(r#"{"ts":"t","host":"h","tool":"x","kind":"k","message":"m"}"#),
            "missing field `severity`"
        );
        assert!(
            err(r#"{"ts":"t","host":"h","tool":"x","kind":"k","severity":"urgent","message":"m"}"#)
                .contains("\"urgent\"")
        );
        assert_eq!(
            err(r#"{"ts":"t","host":"h","tool":"x","kind":"k","severity":"low","message":7}"#),
            "field `message` must be a string, not a number"
        );
    }

    #[test]
    fn one_pass_parsing_names_the_same_problems() {
        let err = |line: &str| Record::from_json(line).unwrap_err();
        assert_eq!(err("\"text\""), RecordError::NotAnObject("string"));
        assert_eq!(err("null"), RecordError::NotAnObject("null"));
        assert_eq!(err("-3.5"), RecordError::NotAnObject("number"));
        assert_eq!(
            err(r#"{"ts":1,"host":"h"}"#),
            RecordError::NotAString("ts", "number")
        );
        let good = r#"{"ts":"t","host":"h","tool":"x","kind":"k","severity":"low","message":"m"}"#;
        assert!(matches!(err(&format!("{good} {{}}")), RecordError::Json(_)));
        let escaped = good.replace(r#""ts""#, r#""t\u0073""#);
        assert_eq!(Record::from_json(&escaped).unwrap().ts, "t");
    }

    #[test]
    fn unknown_fields_are_kept_in_order() {
        let rec = Record::from_json(
            r#"{"zeta":1,"ts":"t","host":"h","tool":"x","kind":"k","severity":"low","message":"m","alpha":[1]}"#,
        )
        .unwrap();
        let names: Vec<&str> = rec.fields.keys().map(String::as_str).collect();
        assert_eq!(names, ["zeta", "alpha"]);
        assert_eq!(rec.get("severity"), Some(Value::from("low")));
    }

    #[test]
    fn timestamps_are_utc_seconds() {
        let ts =
            rfc3339(SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_795_287_720_900));
        assert_eq!(ts, "2026-11-21T19:02:00Z");
    }
}
