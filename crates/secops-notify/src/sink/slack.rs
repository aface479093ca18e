//! Slack with Block Kit: a header with the subject, a line of counts, and
//! one coloured attachment per severity (Block Kit itself has no colour;
//! an attachment's bar is how Slack shows one), each listing its alerts.
//! Posted to an incoming-webhook URL, a secret like the webhook's. The
//! simple `{"text": ...}` form stays the webhook's `--webhook-format slack`.
//!
//! Slack's limits (api.slack.com/reference/block-kit): a header's text at
//! most 150 characters, a section's 3,000, 50 blocks a message; mrkdwn
//! needs `&`, `<` and `>` escaped.

use secops_common::{Record, Severity};
use serde_json::{Value, json};

use crate::digest::{Digest, one_line};
use crate::secret::Secret;
use crate::sink::Common;
use crate::sink::http::Request;

const HEADER_TEXT: usize = 150;
const SECTION_TEXT: usize = 3000;

#[derive(Debug, Clone)]
pub struct Slack {
    pub url: Secret,
    pub common: Common,
}

impl Slack {
    pub fn request(&self, digest: &Digest<'_>) -> Request {
        Request::json(self.url.expose().to_string(), &body(digest))
    }
}

/// The colour of a severity's bar, and green for recoveries.
pub fn colour(severity: Option<Severity>) -> &'static str {
    match severity {
        Some(Severity::Critical) => "#b60205",
        Some(Severity::High) => "#d93f0b",
        Some(Severity::Medium) => "#fbca04",
        Some(Severity::Low) => "#1d76db",
        Some(Severity::Info) => "#bfbfbf",
        None => "#2eb67d",
    }
}

fn body(digest: &Digest<'_>) -> Value {
    let mut header = one_line(&digest.subject);
    secops_common::text::clip(&mut header, HEADER_TEXT - 1);
    let summary = digest
        .body
        .lines()
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>();
    let mut attachments = Vec::new();
    let firing: Vec<Record> = digest.firing().take(digest.max_items).collect();
    for severity in Severity::ALL.iter().rev() {
        let lines: Vec<String> = firing
            .iter()
            .filter(|r| r.severity == *severity)
            .map(item)
            .collect();
        if !lines.is_empty() {
            attachments.push(attachment(Some(*severity), &lines));
        }
    }
    if digest.firing_count() > digest.max_items {
        attachments.push(attachment(
            digest.worst(),
            &[format!(
                "… and {} more",
                digest.firing_count() - digest.max_items
            )],
        ));
    }
    let resolved: Vec<String> = digest
        .resolved()
        .take(digest.max_items)
        .map(|r| item(&r))
        .collect();
    if !resolved.is_empty() {
        attachments.push(attachment(None, &resolved));
    }
    json!({
        "text": digest.subject,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": header}},
            {"type": "section", "text": {"type": "mrkdwn", "text": escape(&summary.join("\n"))}},
        ],
        "attachments": attachments,
    })
}

fn item(rec: &Record) -> String {
    format!(
        "*{}* `{}` {} {}: {}",
        rec.severity,
        escape(&rec.host),
        escape(&rec.tool),
        escape(&rec.kind),
        escape(&one_line(&rec.message))
    )
}

/// One coloured bar of lines, cut to a section's limit (never inside an
/// escape such as `&amp;`, which Slack would show as text).
fn attachment(severity: Option<Severity>, lines: &[String]) -> Value {
    let mut text = lines.join("\n");
    secops_common::text::clip(&mut text, SECTION_TEXT - 1);
    if let Some(amp) = text.rfind('&')
        && !text[amp..].contains(';')
    {
        text.truncate(amp);
        text.push('…');
    }
    json!({
        "color": colour(severity),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    })
}

/// Slack's mrkdwn escaping.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
