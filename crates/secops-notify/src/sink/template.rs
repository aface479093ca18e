//! The templated webhook, for every HTTP API without a receiver of its
//! own: a method, a URL, headers and a body, each a template with
//! `{{ field }}` and `{{ field | json }}` / `{{ field | url }}` in it, sent
//! once per message or once per alert (`per: alert`, for APIs that take
//! one alert a call). Templates are parsed when the settings load, so a
//! misspelt field is exit 2 naming the file, line and field, not a webhook
//! that fails at three in the morning; a JSON body is rendered then with
//! quotes and line breaks in every value, so a field left without
//! `| json` is refused before it can break the JSON of a real alert.

use std::fmt;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::digest::{Digest, hosts};
use crate::secret::Secret;
use crate::sink::Common;
use crate::sink::http::Request;

/// One template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(&'static str, Filter),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    /// As it is: text as text, numbers as digits, records as JSON.
    Plain,
    /// As a JSON value: text quoted and escaped.
    Json,
    /// Percent-encoded, for a URL.
    Url,
}

/// Whether a template is filled once per message or once per alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Per {
    #[default]
    Message,
    Alert,
}

/// The fields of a message.
pub const MESSAGE_FIELDS: [&str; 11] = [
    "subject",
    "body",
    "severity",
    "status",
    "firing_count",
    "resolved_count",
    "hosts",
    "firing",
    "resolved",
    "sender",
    "secret",
];

/// The fields of one alert.
pub const ALERT_FIELDS: [&str; 12] = [
    "subject", "host", "tool", "kind", "severity", "status", "message", "alert_id", "key", "ts",
    "record", "sender",
];

/// The fields whose values are JSON (numbers, records), inserted as JSON
/// with or without `| json`.
const JSON_FIELDS: [&str; 5] = [
    "firing_count",
    "resolved_count",
    "firing",
    "resolved",
    "record",
];

/// A field's value.
enum Filled {
    Text(String),
    Json(Value),
}

impl Template {
    /// Parses `text`; the error names the unknown field or filter, or the
    /// unclosed `{{`.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            // Where in a template of many lines (a body read from a file).
            let at = |why: String| {
                let offset = text.len() - rest.len() + open;
                match text.contains('\n') {
                    true => format!(
                        "line {} of the template: {why}",
                        text[..offset].matches('\n').count() + 1
                    ),
                    false => why,
                }
            };
            let close = after
                .find("}}")
                .ok_or_else(|| at("{{ is never closed with }}".to_string()))?;
            let inside = &after[..close];
            let (name, filter) = match inside.split_once('|') {
                Some((name, filter)) => (name.trim(), Some(filter.trim())),
                None => (inside.trim(), None),
            };
            let field = MESSAGE_FIELDS
                .iter()
                .chain(ALERT_FIELDS.iter())
                .chain(["secret"].iter())
                .find(|f| **f == name)
                .ok_or_else(|| {
                    at(format!(
                        "unknown field {{{{ {name} }}}}: a message has {}; an alert (per: alert) has {}, secret",
                        MESSAGE_FIELDS.join(", "),
                        ALERT_FIELDS.join(", ")
                    ))
                })?;
            let filter = match filter {
                None => Filter::Plain,
                Some("json") => Filter::Json,
                Some("url") => Filter::Url,
                Some(other) => {
                    return Err(at(format!(
                        "unknown filter | {other} after {name}: use | json or | url"
                    )));
                }
            };
            parts.push(Part::Field(field, filter));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// The fields it uses.
    pub fn fields(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Field(name, _) => Some(*name),
            Part::Text(_) => None,
        })
    }

    /// The fields it inserts as they are (no filter).
    fn plain_fields(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Field(name, Filter::Plain) => Some(*name),
            _ => None,
        })
    }

    fn render(&self, value: &dyn Fn(&str) -> Filled) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Field(name, filter) => {
                    let filled = value(name);
                    match (filter, filled) {
                        (Filter::Plain, Filled::Text(text)) => out.push_str(&text),
                        (Filter::Plain | Filter::Json, Filled::Json(v)) => {
                            out.push_str(&v.to_string());
                        }
                        (Filter::Json, Filled::Text(text)) => {
                            out.push_str(&Value::from(text).to_string());
                        }
                        (Filter::Url, Filled::Text(text)) => {
                            out.push_str(&crate::sink::http::path_segment(&text))
                        }
                        (Filter::Url, Filled::Json(v)) => {
                            out.push_str(&crate::sink::http::path_segment(&v.to_string()));
                        }
                    }
                }
            }
        }
        out
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(text) => f.write_str(text)?,
                Part::Field(name, Filter::Plain) => write!(f, "{{{{ {name} }}}}")?,
                Part::Field(name, Filter::Json) => write!(f, "{{{{ {name} | json }}}}")?,
                Part::Field(name, Filter::Url) => write!(f, "{{{{ {name} | url }}}}")?,
            }
        }
        Ok(())
    }
}

/// Read from settings as a string, parsed at once, so the YAML reader
/// still knows the line and column when the template is refused.
impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Template, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = Template;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a template such as {\"text\": {{ subject | json }}}")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Template, E> {
                Template::parse(text).map_err(E::custom)
            }
        }
        de.deserialize_str(Text)
    }
}

/// The templated webhook.
#[derive(Debug, Clone)]
pub struct Custom {
    pub method: String,
    pub url: Template,
    /// The URL with no field filled in, to show (scheme and host).
    pub shown: Secret,
    pub headers: Vec<(String, Template)>,
    pub content_type: String,
    pub body: Template,
    pub per: Per,
    pub secret: Option<Secret>,
    pub common: Common,
}

impl Custom {
    /// Checks the templates against each other and the content type: each
    /// field exists in `per`'s scope, `secret` has a source, and a JSON
    /// body stays JSON whatever the values hold. The error names the
    /// template.
    pub fn check(&self) -> Result<(), String> {
        let scope: &[&str] = match self.per {
            Per::Message => &MESSAGE_FIELDS,
            Per::Alert => &ALERT_FIELDS,
        };
        let templates = [("url", &self.url), ("body", &self.body)]
            .into_iter()
            .chain(self.headers.iter().map(|(name, t)| (name.as_str(), t)));
        for (what, template) in templates {
            for field in template.fields() {
                if field == "secret" && self.secret.is_none() {
                    return Err(format!(
                        "{what}: {{{{ secret }}}} is used but no secret_env or secret_file is given"
                    ));
                }
                if field != "secret" && !scope.contains(&field) {
                    return Err(format!(
                        "{what}: {{{{ {field} }}}} is not a field of {}: it has {}",
                        match self.per {
                            Per::Message => "a message (per: message)",
                            Per::Alert => "an alert (per: alert)",
                        },
                        scope.join(", ")
                    ));
                }
            }
        }
        if self.content_type.contains("json") {
            // Every text value holds what breaks JSON; a field without
            // `| json` that is text shows up as a body that does not parse.
            let hostile = |name: &str| {
                if JSON_FIELDS.contains(&name) {
                    Filled::Json(Value::Null)
                } else {
                    Filled::Text("a \"quote\"\nand a line".to_string())
                }
            };
            let body = self.body.render(&hostile);
            if let Err(err) = serde_json::from_str::<Value>(&body) {
                let culprit = self.body.plain_fields().find(|f| !JSON_FIELDS.contains(f));
                return Err(match culprit {
                    Some(field) => format!(
                        "body: {{{{ {field} }}}} is inserted as it is into a JSON body, where a quote in it would break the JSON: write {{{{ {field} | json }}}}"
                    ),
                    None => format!("body: not JSON once filled in: {err}"),
                });
            }
        }
        Ok(())
    }

    pub fn requests(&self, digest: &Digest<'_>) -> Vec<Request> {
        match self.per {
            Per::Message => vec![self.request(&|name| self.message_field(digest, name))],
            Per::Alert => digest
                .firing_keyed()
                .map(|(key, rec)| (key, rec, "firing"))
                .chain(
                    digest
                        .resolved_keyed()
                        .map(|(key, rec)| (key, rec, "resolved")),
                )
                .map(|(key, rec, status)| {
                    self.request(&|name| self.alert_field(digest, key, &rec, status, name))
                })
                .collect(),
        }
    }

    fn request(&self, value: &dyn Fn(&str) -> Filled) -> Request {
        Request {
            method: self.method.clone(),
            url: self.url.render(value),
            headers: self
                .headers
                .iter()
                .map(|(name, t)| (name.clone(), t.render(value)))
                .collect(),
            content_type: self.content_type.clone(),
            body: self.body.render(value).into_bytes(),
        }
    }

    fn message_field(&self, digest: &Digest<'_>, name: &str) -> Filled {
        let text = |s: &str| Filled::Text(s.to_string());
        let records = |recs: Vec<secops_common::Record>| {
            Filled::Json(recs.iter().map(crate::sink::pagerduty::details).collect())
        };
        match name {
            "subject" => text(&digest.subject),
            "body" => text(&digest.body),
            "severity" => text(digest.worst().map_or("resolved", |s| s.as_str())),
            "status" => text(if digest.firing_count() > 0 {
                "firing"
            } else {
                "resolved"
            }),
            "firing_count" => Filled::Json(digest.firing_count().into()),
            "resolved_count" => Filled::Json(digest.resolved_count().into()),
            "hosts" => text(&hosts(digest.firing().chain(digest.resolved()))),
            "firing" => records(digest.firing().collect()),
            "resolved" => records(digest.resolved().collect()),
            _ => self.shared_field(name),
        }
    }

    fn alert_field(
        &self,
        digest: &Digest<'_>,
        key: &str,
        rec: &secops_common::Record,
        status: &str,
        name: &str,
    ) -> Filled {
        let text = |s: &str| Filled::Text(s.to_string());
        match name {
            "subject" => text(&digest.subject),
            "host" => text(&rec.host),
            "tool" => text(&rec.tool),
            "kind" => text(&rec.kind),
            "severity" => text(rec.severity.as_str()),
            "status" => text(status),
            "message" => text(&rec.message),
            "alert_id" => text(
                rec.fields
                    .get("alert_id")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            ),
            "key" => text(key),
            "ts" => text(&rec.ts),
            "record" => Filled::Json(crate::sink::pagerduty::details(rec)),
            _ => self.shared_field(name),
        }
    }

    fn shared_field(&self, name: &str) -> Filled {
        match name {
            "sender" => Filled::Text(secops_common::record::hostname().to_string()),
            "secret" => Filled::Text(
                self.secret
                    .as_ref()
                    .map(|s| s.expose().to_string())
                    .unwrap_or_default(),
            ),
            _ => Filled::Text(String::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_and_name_what_is_wrong() {
        let t = Template::parse(r#"{"t": {{ subject | json }}, "n": {{firing_count}}}"#).unwrap();
        assert_eq!(t.fields().collect::<Vec<_>>(), ["subject", "firing_count"]);
        assert_eq!(
            t.to_string(),
            r#"{"t": {{ subject | json }}, "n": {{ firing_count }}}"#
        );
        let err = Template::parse("{{ sevrity }}").unwrap_err();
        assert!(err.starts_with("unknown field {{ sevrity }}"), "{err}");
        assert!(
            Template::parse("{{ subject | upper }}")
                .unwrap_err()
                .contains("| upper")
        );
        assert!(
            Template::parse("x {{ subject")
                .unwrap_err()
                .contains("never closed")
        );
        assert!(
            Template::parse("{\n  \"a\": {{ subject | json }},\n  \"b\": {{ hots }}\n}")
                .unwrap_err()
                .starts_with("line 3 of the template: unknown field {{ hots }}")
        );
    }

    fn custom(body: &str, per: Per) -> Custom {
        Custom {
            method: "POST".into(),
            url: Template::parse("https://x/{{ secret | url }}").unwrap(),
            shown: Secret::new("https://x/".into()),
            headers: vec![],
            content_type: "application/json".into(),
            body: Template::parse(body).unwrap(),
            per,
            secret: Some(Secret::new("k".into())),
            common: Common {
                min_severity: secops_common::Severity::High,
                ca: None,
            },
        }
    }

    #[test]
    fn a_json_body_that_a_quote_would_break_is_refused() {
        assert_eq!(
            custom(r#"{"t": {{ subject | json }}}"#, Per::Message).check(),
            Ok(())
        );
        let err = custom(r#"{"t": "{{ subject }}"}"#, Per::Message)
            .check()
            .unwrap_err();
        assert!(err.contains("{{ subject | json }}"), "{err}");
        let err = custom(r#"{"h": {{ host | json }}}"#, Per::Message)
            .check()
            .unwrap_err();
        assert!(err.contains("not a field of a message"), "{err}");
        assert_eq!(
            custom(r#"{"h": {{ host | json }}, "r": {{ record }}}"#, Per::Alert).check(),
            Ok(())
        );
    }
}
