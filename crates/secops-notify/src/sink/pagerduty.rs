//! PagerDuty's Events API v2: one event per alert, posted to
//! `https://events.pagerduty.com/v2/enqueue` with the integration's routing
//! key in the body. A firing alert is a `trigger`, its recovery a
//! `resolve`, both with a `dedup_key` made from the alert's identity (host
//! and `alert_id`), so a recovery resolves the very incident its alert
//! opened, and a repeat adds to it rather than opening another.
//!
//! PagerDuty's limits: summary 1,024 characters, dedup_key 255, the event
//! 512 KB; severity one of critical, error, warning, info.

use secops_common::{Record, Severity};
use serde_json::{Value, json};

use crate::digest::{Digest, one_line};
use crate::secret::Secret;
use crate::sink::http::Request;
use crate::sink::{Common, service_key};

pub const EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";
const SUMMARY: usize = 1024;
const DEDUP_KEY: usize = 255;

#[derive(Debug, Clone)]
pub struct PagerDuty {
    pub url: String,
    pub routing_key: Secret,
    pub common: Common,
}

impl PagerDuty {
    pub fn requests(&self, digest: &Digest<'_>) -> Vec<Request> {
        let trigger = digest.firing_keyed().map(|(key, rec)| {
            let mut summary = format!("{}: {}", rec.host, one_line(&rec.message));
            secops_common::text::clip(&mut summary, SUMMARY - 1);
            self.event(json!({
                "event_action": "trigger",
                "dedup_key": service_key(key, DEDUP_KEY),
                "payload": {
                    "summary": summary,
                    "source": rec.host,
                    "severity": severity(rec.severity),
                    "timestamp": rec.ts,
                    "component": rec.tool,
                    "class": rec.kind,
                    "custom_details": details(&rec),
                },
                "client": "secops-notify",
            }))
        });
        let resolve = digest.resolved_keyed().map(|(key, _)| {
            self.event(json!({
                "event_action": "resolve",
                "dedup_key": service_key(key, DEDUP_KEY),
            }))
        });
        trigger.chain(resolve).collect()
    }

    fn event(&self, mut event: Value) -> Request {
        event["routing_key"] = self.routing_key.expose().into();
        Request::json(self.url.clone(), &event)
    }
}

/// PagerDuty's four severities.
fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "critical",
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "info",
    }
}

/// The record as a JSON value, for the incident's details.
pub fn details(rec: &Record) -> Value {
    serde_json::to_value(rec).unwrap_or(Value::Null)
}
