//! Telegram's Bot API: `sendMessage` to a chat, with the bot token in the
//! URL path (`/bot<token>/sendMessage`), a secret. The text is HTML (the
//! subject in bold), escaped as the API asks, and cut to its 4,096
//! characters.

use serde_json::json;

use crate::digest::Digest;
use crate::secret::Secret;
use crate::sink::Common;
use crate::sink::http::Request;

pub const API: &str = "https://api.telegram.org";
const TEXT: usize = 4096;

#[derive(Debug, Clone)]
pub struct Telegram {
    pub api: String,
    pub token: Secret,
    /// A numeric chat id, or `@channelusername`.
    pub chat: String,
    pub common: Common,
}

impl Telegram {
    pub fn request(&self, digest: &Digest<'_>) -> Request {
        // Telegram counts the text after parsing its HTML: what is cut is
        // the text as shown, before escaping.
        let mut body = digest.body.clone();
        secops_common::text::clip_chars(
            &mut body,
            TEXT.saturating_sub(digest.subject.chars().count() + 1),
        );
        let text = format!("<b>{}</b>\n{}", escape(&digest.subject), escape(&body));
        let chat: serde_json::Value = match self.chat.parse::<i64>() {
            Ok(id) => id.into(),
            Err(_) => self.chat.clone().into(),
        };
        Request::json(
            format!(
                "{}/bot{}/sendMessage",
                self.api.trim_end_matches('/'),
                self.token.expose()
            ),
            &json!({
                "chat_id": chat,
                "text": text,
                "parse_mode": "HTML",
                "link_preview_options": {"is_disabled": true},
            }),
        )
    }
}

/// The three characters Telegram's HTML needs escaped.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
