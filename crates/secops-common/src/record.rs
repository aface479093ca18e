//! The one record format: six common fields, then the kind's own fields at
//! top level, in the order the tool added them.

use std::fmt;
use std::sync::OnceLock;
use std::time::SystemTime;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

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
    /// A record observed now on this host.
    pub fn new(tool: &str, kind: &str, severity: Severity, message: impl Into<String>) -> Record {
        Record {
            ts: now_rfc3339(),
            host: hostname().to_string(),
            tool: tool.to_string(),
            kind: kind.to_string(),
            severity,
            message: message.into(),
            // Most kinds carry a dozen or two fields: sizing the map once
            // saves four rehashes per record on large scans.
            fields: Map::with_capacity(24),
        }
    }

    /// Adds a kind field; `None` becomes JSON `null`, so a field that is
    /// unknown (a pid we cannot see) stays visible rather than vanishing.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Record {
        self.set(name, value);
        self
    }

    /// Sets a kind field in place.
    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        debug_assert!(!COMMON_FIELDS.contains(&name), "{name} is a common field");
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
    pub fn from_json(line: &str) -> Result<Record, RecordError> {
        let object: Map<String, Value> = match serde_json::from_str(line) {
            Ok(Value::Object(object)) => object,
            Ok(other) => return Err(RecordError::NotAnObject(json_type(&other))),
            Err(err) => return Err(RecordError::Json(err.to_string())),
        };
        Record::from_object(object)
    }

    /// Builds a record from a parsed JSON object, checking the common fields.
    pub fn from_object(object: Map<String, Value>) -> Result<Record, RecordError> {
        let mut common: [Option<String>; 6] = Default::default();
        let mut fields = Map::with_capacity(object.len().saturating_sub(COMMON_FIELDS.len()));
        for (name, value) in object {
            match COMMON_FIELDS.iter().position(|c| *c == name) {
                Some(i) => match value {
                    Value::String(s) => common[i] = Some(s),
                    other => {
                        return Err(RecordError::NotAString(COMMON_FIELDS[i], json_type(&other)));
                    }
                },
                None => {
                    fields.insert(name, value);
                }
            }
        }
        let mut take = |i: usize| {
            common[i]
                .take()
                .ok_or(RecordError::Missing(COMMON_FIELDS[i]))
        };
        let ts = take(0)?;
        let host = take(1)?;
        let tool = take(2)?;
        let kind = take(3)?;
        let severity = take(4)?;
        let message = take(5)?;
        let severity = severity
            .parse()
            .map_err(|_| RecordError::BadSeverity(severity))?;
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

/// Why a line is not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    Json(String),
    NotAnObject(&'static str),
    Missing(&'static str),
    NotAString(&'static str, &'static str),
    BadSeverity(String),
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
            r#"{"ts":"2026-11-21T19:02:00Z","host":"web1","tool":"traffic-cop","kind":"port","severity":"high","message":"tcp 0.0.0.0:8080 is open","status":"unapproved","port":8080,"pid":null}"#
        );
        assert_eq!(Record::from_json(&rec.to_json()), Ok(rec));
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
