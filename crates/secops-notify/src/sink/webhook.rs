//! The webhook: one HTTP POST of a JSON body per message, Slack's
//! `{"text": ...}` by default. The URL is a secret (Slack's holds the
//! token in its path), so only its scheme and host are ever shown.

use std::time::Duration;

use crate::cli::WebhookFormat;
use crate::digest::Digest;
use crate::settings::Webhook;

pub struct WebhookSink {
    agent: ureq::Agent,
    webhook: Webhook,
    target: String,
}

impl WebhookSink {
    pub fn open(webhook: &Webhook, timeout: Duration) -> WebhookSink {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            // A redirect would carry the body (and maybe the token) elsewhere.
            .max_redirects(0)
            .user_agent(concat!("secops-notify/", env!("CARGO_PKG_VERSION")))
            .build();
        WebhookSink {
            agent: ureq::Agent::new_with_config(config),
            target: format!("webhook {}", shown_url(webhook.url.expose())),
            webhook: webhook.clone(),
        }
    }

    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn send(&self, digest: &Digest<'_>) -> Result<(), String> {
        let body = match self.webhook.format {
            WebhookFormat::Slack => digest.slack().to_string(),
            WebhookFormat::Json => digest.json(),
        };
        let response = self
            .agent
            .post(self.webhook.url.expose())
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(|err| describe(&err))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let mut text = response
            .into_body()
            .with_config()
            .limit(512)
            .read_to_string()
            .unwrap_or_default();
        secops_common::text::clip(&mut text, 200);
        Err(format!(
            "the server answered HTTP {}{}",
            status.as_u16(),
            if text.trim().is_empty() {
                String::new()
            } else {
                format!(": {}", text.trim().replace('\n', " "))
            }
        ))
    }
}

fn describe(err: &ureq::Error) -> String {
    match err {
        ureq::Error::Timeout(_) => "timed out".to_string(),
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        ureq::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

/// `https://hooks.slack.com/…`: the scheme and host, never the path, query
/// or user info.
fn shown_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or(authority);
    format!("{scheme}://{host}/…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_shows_only_scheme_and_host() {
        assert_eq!(
            shown_url("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            shown_url("http://user:pw@127.0.0.1:8080?token=x"),
            "http://127.0.0.1:8080/…"
        );
    }
}
