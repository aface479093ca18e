//! The one HTTP client every web receiver sends through (the webhook,
//! Slack, Teams, SMS, the pagers, chat, the templated webhook): HTTPS that
//! trusts [`crate::tls::roots`] (the system store plus the receiver's
//! private CA), no redirects (one would carry the body, and maybe a token,
//! elsewhere), a timeout per try, and one reading of the answer: a 2xx is
//! delivered, anything else is an error that quotes the start of what the
//! service said, and a rate limit (429, or 503 with `Retry-After`) says how
//! long the service asked to be left alone, which [`crate::delivery`]
//! honours.

use std::time::{Duration, SystemTime};

use crate::sink::SendError;
use crate::tls::{self, PrivateCa, Roots};

/// One request a receiver makes.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub url: String,
    /// Besides Content-Type, which `content_type` gives.
    pub headers: Vec<(String, String)>,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Request {
    /// A POST of `body`, whose type is `content_type`.
    pub fn post(url: String, content_type: &str, body: Vec<u8>) -> Request {
        Request {
            method: "POST".into(),
            url,
            headers: Vec::new(),
            content_type: content_type.into(),
            body,
        }
    }

    /// A POST of `body` as JSON.
    pub fn json(url: String, body: &serde_json::Value) -> Request {
        Request::post(url, "application/json", body.to_string().into_bytes())
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// How much of an error answer is kept to quote.
const ANSWER_QUOTED: usize = 200;

/// How long to leave a service alone after a 429 that says nothing of
/// when to come back (PagerDuty, Opsgenie): PagerDuty's guidance is about
/// 30 seconds.
pub const UNHINTED_RATE_LIMIT: Duration = Duration::from_secs(30);

pub struct Client {
    agent: ureq::Agent,
    /// What HTTPS trusts; `None` when the receiver's URL is http://.
    roots: Option<Roots>,
    /// The receiver's CA setting, named when a certificate is refused.
    ca_option: &'static str,
}

impl Client {
    /// A client for `url`'s scheme; `ca` is the receiver's private CA and
    /// `ca_option` how to name its setting in a refusal.
    pub fn new(
        url: &str,
        ca: Option<&PrivateCa>,
        ca_option: &'static str,
        timeout: Duration,
    ) -> Client {
        let https = url
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"));
        let roots = https.then(|| tls::roots(ca));
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("secops-notify/", env!("CARGO_PKG_VERSION")));
        if let Some(roots) = &roots {
            config = config.tls_config(tls::ureq_config(roots));
        }
        Client {
            agent: ureq::Agent::new_with_config(config.build()),
            roots,
            ca_option,
        }
    }

    /// Sends `request`; the answer's body on a 2xx.
    pub fn send(&self, request: &Request) -> Result<String, SendError> {
        let mut builder = ureq::http::Request::builder()
            .method(request.method.as_str())
            .uri(&request.url)
            .header("Content-Type", request.content_type.as_str());
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let built = builder
            .body(request.body.clone())
            .map_err(|err| SendError::from(format!("not a valid request: {err}")))?;
        let response = self.agent.run(built).map_err(|err| self.describe(&err))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after);
        let text = response
            .into_body()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        if (200..300).contains(&status) {
            return Ok(text);
        }
        let mut quoted = text.trim().replace(['\r', '\n'], " ");
        secops_common::text::clip(&mut quoted, ANSWER_QUOTED);
        let mut err = SendError::from(format!(
            "the server answered HTTP {status}{}",
            if quoted.is_empty() {
                String::new()
            } else {
                format!(": {quoted}")
            }
        ));
        // Telegram and Matrix say when to come back in the body instead of
        // a header.
        match status {
            429 => {
                err.retry_after = Some(
                    retry_after
                        .or_else(|| retry_after_in_body(&text))
                        .unwrap_or(UNHINTED_RATE_LIMIT),
                );
            }
            503 => err.retry_after = retry_after,
            // The request itself is refused: sending it again changes
            // nothing.
            400 | 401 | 403 | 404 | 405 | 410 | 413 | 422 => err.permanent = true,
            _ => {}
        }
        Err(err)
    }

    fn describe(&self, err: &ureq::Error) -> SendError {
        let explained = self.roots.as_ref().and_then(|roots| {
            // ureq's error gives no source: its TLS error is the io::Error
            // it holds.
            let inner: &(dyn std::error::Error + 'static) = match err {
                ureq::Error::Io(io) => io,
                ureq::Error::Rustls(tls) => tls,
                other => other,
            };
            tls::explain(inner, roots, self.ca_option)
        });
        SendError::from(explained.unwrap_or_else(|| match err {
            ureq::Error::Timeout(_) => "timed out".to_string(),
            ureq::Error::HostNotFound => "host not found".to_string(),
            ureq::Error::ConnectionFailed => "connection failed".to_string(),
            ureq::Error::Io(io) => io.to_string(),
            other => other.to_string(),
        }))
    }
}

/// `Retry-After`: seconds, or an HTTP date (RFC 9110).
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// Telegram's `{"parameters": {"retry_after": 35}}` and Matrix's
/// `{"retry_after_ms": 2000}`.
fn retry_after_in_body(text: &str) -> Option<Duration> {
    let body: serde_json::Value = serde_json::from_str(text).ok()?;
    if let Some(ms) = body["retry_after_ms"].as_u64() {
        return Some(Duration::from_millis(ms));
    }
    body["parameters"]["retry_after"]
        .as_u64()
        .map(Duration::from_secs)
}

/// Whether `url` is one a receiver can send to: `https://` or `http://`,
/// in any case.
pub fn is_web_url(url: &str) -> bool {
    ["https://", "http://"].iter().any(|scheme| {
        url.get(..scheme.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(scheme))
    })
}

/// `https://hooks.slack.com/…`: the scheme and host of a URL, never its
/// path, query or user info, which may hold a token.
pub fn shown_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or(authority);
    format!("{scheme}://{host}/…")
}

/// `text` as one URL path segment.
pub fn path_segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
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

    #[test]
    fn web_urls_are_http_or_https_in_any_case() {
        assert!(is_web_url("https://hooks.slack.com/x") && is_web_url("HTTP://127.0.0.1"));
        assert!(!is_web_url("ftp://x") && !is_web_url("http:/x") && !is_web_url("hooks.slack.com"));
        assert!(!is_web_url("é"), "no panic on a short or non-ASCII start");
    }

    #[test]
    fn rate_limits_are_read_in_every_form() {
        assert_eq!(retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon"), None);
        assert_eq!(
            retry_after_in_body(r#"{"ok":false,"error_code":429,"parameters":{"retry_after":35}}"#),
            Some(Duration::from_secs(35))
        );
        assert_eq!(
            retry_after_in_body(r#"{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":2000}"#),
            Some(Duration::from_secs(2))
        );
    }
}
