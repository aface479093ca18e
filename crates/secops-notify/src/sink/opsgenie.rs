//! Opsgenie's Alert API: one alert per firing alert, created by a POST to
//! `/v2/alerts` with `Authorization: GenieKey KEY` and an `alias` made from
//! the alert's identity (Opsgenie deduplicates open alerts by alias, so a
//! repeat counts up rather than opening another); a recovery closes it by
//! alias (`POST /v2/alerts/{alias}/close?identifierType=alias`). The EU
//! instance is `https://api.eu.opsgenie.com`.
//!
//! Opsgenie's limits: message 130 characters, alias 512, description
//! 15,000, details 8,000 in all, a close note 25,000, 20 tags; priority P1
//! (critical) to P5.

use secops_common::Severity;
use serde_json::json;

use crate::digest::{Digest, one_line};
use crate::secret::Secret;
use crate::sink::http::{Request, path_segment};
use crate::sink::pagerduty::details;
use crate::sink::{Common, service_key};

pub const API: &str = "https://api.opsgenie.com";
const MESSAGE: usize = 130;
const ALIAS: usize = 512;
const DESCRIPTION: usize = 15_000;
const DETAILS: usize = 8000;
const NOTE: usize = 25_000;

#[derive(Debug, Clone)]
pub struct Opsgenie {
    pub api: String,
    pub api_key: Secret,
    pub common: Common,
}

impl Opsgenie {
    pub fn requests(&self, digest: &Digest<'_>) -> Vec<Request> {
        let api = self.api.trim_end_matches('/');
        let auth = format!("GenieKey {}", self.api_key.expose());
        let create = digest.firing_keyed().map(|(key, rec)| {
            let mut message = format!("{}: {}", rec.host, one_line(&rec.message));
            secops_common::text::clip(&mut message, MESSAGE - 1);
            let mut description = rec.message.clone();
            secops_common::text::clip(&mut description, DESCRIPTION - 1);
            Request::json(
                format!("{api}/v2/alerts"),
                &json!({
                    "message": message,
                    "alias": service_key(key, ALIAS),
                    "description": description,
                    "tags": ["secops", rec.tool, rec.severity.as_str()],
                    "details": flat_details(&rec),
                    "entity": rec.host,
                    "source": "secops-notify",
                    "priority": priority(rec.severity),
                }),
            )
            .header("Authorization", auth.as_str())
        });
        let close = digest.resolved_keyed().map(|(key, rec)| {
            Request::json(
                format!(
                    "{api}/v2/alerts/{}/close?identifierType=alias",
                    path_segment(&service_key(key, ALIAS))
                ),
                &json!({"source": "secops-notify", "note": clipped(one_line(&rec.message), NOTE)}),
            )
            .header("Authorization", auth.as_str())
        });
        create.chain(close).collect()
    }
}

fn priority(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "P1",
        Severity::High => "P2",
        Severity::Medium => "P3",
        Severity::Low => "P4",
        Severity::Info => "P5",
    }
}

fn clipped(mut text: String, max: usize) -> String {
    secops_common::text::clip(&mut text, max - 3);
    text
}

/// Opsgenie's details: a map of strings, 8,000 characters in all. The
/// message is the description already; the fields go in while they fit,
/// a long one cut.
fn flat_details(rec: &secops_common::Record) -> serde_json::Map<String, serde_json::Value> {
    let serde_json::Value::Object(map) = details(rec) else {
        return serde_json::Map::new();
    };
    let mut left = DETAILS;
    let mut flat = serde_json::Map::new();
    for (key, value) in map {
        if key == "message" || key.len() + 8 > left {
            continue;
        }
        let text = match value {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        let text = clipped(text, (left - key.len()).min(1000));
        left -= key.len() + text.chars().count();
        flat.insert(key, text.into());
    }
    flat
}
