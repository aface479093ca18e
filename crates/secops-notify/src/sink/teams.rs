//! Microsoft Teams: an Adaptive Card posted to a channel's webhook URL
//! (a Workflows "post to a channel when a webhook request is received"
//! URL, or an older Office 365 connector's), a secret like the webhook's.
//! The card has the subject in the severity's colour, a line of counts,
//! and a fact set of alerts. Teams refuses a message over 28 KB, so the
//! list is cut to fit.

use serde_json::{Value, json};

use crate::digest::{Digest, one_line};
use crate::secret::Secret;
use crate::sink::Common;
use crate::sink::http::Request;
use secops_common::Severity;

/// Teams' limit on a message, with room for the envelope.
const CARD_BYTES: usize = 27 * 1024;

#[derive(Debug, Clone)]
pub struct Teams {
    pub url: Secret,
    pub common: Common,
}

impl Teams {
    pub fn request(&self, digest: &Digest<'_>) -> Request {
        Request::json(self.url.expose().to_string(), &message(digest))
    }
}

/// The Adaptive Card colour of the subject line.
fn colour(severity: Option<Severity>) -> &'static str {
    match severity {
        Some(Severity::Critical | Severity::High) => "Attention",
        Some(Severity::Medium) => "Warning",
        Some(_) => "Default",
        None => "Good",
    }
}

fn message(digest: &Digest<'_>) -> Value {
    let summary: Vec<&str> = digest.body.lines().take_while(|l| !l.is_empty()).collect();
    let mut facts = Vec::new();
    let mut size = 0;
    let mut left = 0;
    let items = digest
        .firing()
        .take(digest.max_items)
        .map(|r| (r.severity.as_str().to_uppercase(), r))
        .chain(
            digest
                .resolved()
                .take(digest.max_items)
                .map(|r| ("RESOLVED".to_string(), r)),
        );
    for (title, rec) in items {
        let value = format!(
            "{} {} {}: {}",
            rec.host,
            rec.tool,
            rec.kind,
            one_line(&rec.message)
        );
        size += title.len() + value.len() + 32;
        if size > CARD_BYTES / 2 {
            left += 1;
            continue;
        }
        facts.push(json!({"title": title, "value": value}));
    }
    let more = digest.firing_count().saturating_sub(digest.max_items)
        + digest.resolved_count().saturating_sub(digest.max_items)
        + left;
    let mut body = vec![
        json!({"type": "TextBlock", "text": digest.subject, "weight": "Bolder", "size": "Medium",
               "wrap": true, "color": colour(digest.worst())}),
        json!({"type": "TextBlock", "text": summary.join(" "), "wrap": true}),
        json!({"type": "FactSet", "facts": facts}),
    ];
    if more > 0 {
        body.push(json!({"type": "TextBlock", "text": format!("… and {more} more"), "wrap": true, "isSubtle": true}));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "msteams": {"width": "Full"},
                "body": body,
            },
        }],
    })
}
