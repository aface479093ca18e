//! The webhook: one HTTP POST of a JSON body per message, Slack's simple
//! `{"text": ...}` by default (Slack, Mattermost and Rocket.Chat take it),
//! or the records themselves. The URL is a secret (Slack's holds the token
//! in its path), so only its scheme and host are ever shown.

use crate::cli::WebhookFormat;
use crate::digest::Digest;
use crate::secret::Secret;
use crate::sink::Common;
use crate::sink::http::Request;

#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: Secret,
    pub format: WebhookFormat,
    pub common: Common,
}

impl Webhook {
    pub fn request(&self, digest: &Digest<'_>) -> Request {
        let body = match self.format {
            WebhookFormat::Slack => digest.slack().to_string(),
            WebhookFormat::Json => digest.json(),
        };
        Request::post(
            self.url.expose().to_string(),
            "application/json",
            body.into_bytes(),
        )
    }
}
