//! The webhook: one HTTP POST of a JSON body per message, Slack's
//! `{"text": ...}` by default. The URL is a secret (Slack's holds the
//! token in its path), so only its scheme and host are ever shown. HTTPS
//! trusts the roots of [`crate::tls::roots`], as email does: the system
//! store plus `--webhook-ca`.

use std::time::Duration;

use crate::cli::WebhookFormat;
use crate::digest::Digest;
use crate::settings::Webhook;
use crate::tls::{self, Roots};

pub struct WebhookSink {
    agent: ureq::Agent,
    webhook: Webhook,
    target: String,
    /// What HTTPS trusts; `None` for an http:// URL.
    roots: Option<Roots>,
}

impl WebhookSink {
    pub fn open(webhook: &Webhook, timeout: Duration) -> WebhookSink {
        let https = webhook
            .url
            .expose()
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"));
        let roots = https.then(|| tls::roots(webhook.ca.as_ref()));
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            // A redirect would carry the body (and maybe the token) elsewhere.
            .max_redirects(0)
            .user_agent(concat!("secops-notify/", env!("CARGO_PKG_VERSION")));
        if let Some(roots) = &roots {
            config = config.tls_config(tls::ureq_config(roots));
        }
        let config = config.build();
        WebhookSink {
            agent: ureq::Agent::new_with_config(config),
            target: format!("webhook {}", shown_url(webhook.url.expose())),
            webhook: webhook.clone(),
            roots,
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
            .map_err(|err| {
                self.roots
                    .as_ref()
                    .and_then(|roots| {
                        // ureq's error gives no source: its TLS error is
                        // the io::Error it holds.
                        let inner: &(dyn std::error::Error + 'static) = match &err {
                            ureq::Error::Io(io) => io,
                            ureq::Error::Rustls(tls) => tls,
                            other => other,
                        };
                        tls::explain(inner, roots, "--webhook-ca FILE (webhook.ca_file)")
                    })
                    .unwrap_or_else(|| describe(&err))
            })?;
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
