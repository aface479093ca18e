//! ntfy (ntfy.sh or a self-hosted server): a JSON publish to the server's
//! root with the topic, title, message, priority (5 for critical down to 1)
//! and tags, and an access token as a bearer when the topic is protected.
//! ntfy turns a message over 4,096 bytes into an attachment, so the
//! message is cut to that.

use secops_common::Severity;
use serde_json::json;

use crate::digest::Digest;
use crate::secret::Secret;
use crate::sink::Common;
use crate::sink::http::Request;

const MESSAGE: usize = 4096;

#[derive(Debug, Clone)]
pub struct Ntfy {
    /// `https://ntfy.sh`.
    pub server: String,
    pub topic: String,
    pub token: Option<Secret>,
    pub common: Common,
}

impl Ntfy {
    pub fn request(&self, digest: &Digest<'_>) -> Request {
        let mut message = digest.body.clone();
        secops_common::text::clip(&mut message, MESSAGE - 3);
        let (priority, tag) = match digest.worst() {
            Some(Severity::Critical) => (5, "rotating_light"),
            Some(Severity::High) => (4, "warning"),
            Some(Severity::Medium) => (3, "warning"),
            Some(Severity::Low) => (2, "information_source"),
            Some(Severity::Info) => (1, "information_source"),
            None => (2, "white_check_mark"),
        };
        let request = Request::json(
            format!("{}/", self.server.trim_end_matches('/')),
            &json!({
                "topic": self.topic,
                "title": digest.subject,
                "message": message,
                "priority": priority,
                "tags": [tag, "secops"],
            }),
        );
        match &self.token {
            Some(token) => request.header("Authorization", format!("Bearer {}", token.expose())),
            None => request,
        }
    }
}

/// `https://ntfy.sh/alerts` as the server and the topic; a topic is 1 to
/// 64 of `A-Za-z0-9_-`, as ntfy allows.
pub fn split_topic_url(url: &str) -> Result<(String, String), String> {
    if !crate::sink::http::is_web_url(url) {
        return Err(format!("{url:?} must start with https:// or http://"));
    }
    let trimmed = url.trim_end_matches('/');
    let (server, topic) = trimmed
        .rsplit_once('/')
        .filter(|(server, _)| server.contains("://") && !server.ends_with('/'))
        .ok_or_else(|| format!("{url:?} names no topic: give https://SERVER/TOPIC"))?;
    if topic.is_empty()
        || topic.len() > 64
        || !topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "{topic:?} is not an ntfy topic (1 to 64 of A-Z a-z 0-9 _ -)"
        ));
    }
    Ok((server.to_string(), topic.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_urls_split_and_bad_ones_are_named() {
        assert_eq!(
            split_topic_url("https://ntfy.sh/alerts_web-1/"),
            Ok(("https://ntfy.sh".into(), "alerts_web-1".into()))
        );
        assert_eq!(
            split_topic_url("http://127.0.0.1:8080/sub/t"),
            Ok(("http://127.0.0.1:8080/sub".into(), "t".into()))
        );
        assert!(split_topic_url("https://ntfy.sh").is_err());
        assert!(split_topic_url("https://ntfy.sh/a b").is_err());
        assert!(split_topic_url("ntfy.sh/alerts").is_err());
    }
}
