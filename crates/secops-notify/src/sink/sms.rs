//! SMS through Twilio's Messages API, or any provider that copies it: one
//! form-encoded POST to `/2010-04-01/Accounts/{AccountSid}/Messages.json`
//! per recipient, with the account SID and auth token as basic auth, and
//! `To`, `From`, `Body`.
//!
//! SMS costs money and wakes people, so it is the tersest receiver: only
//! alerts at or above its own minimum severity (critical by default), at
//! most `max_per_hour` messages an hour (what waits meanwhile goes out in
//! the next one, which says how many alerts were held back), and a body
//! that fits in `segments` SMS segments, the most severe alert first.
//!
//! A segment is 160 GSM-7 characters, or 153 when a message spans several
//! (the rest carries the joining header); a message with any character
//! outside GSM-7 goes as UCS-2, 70 or 67 UTF-16 units a segment. GSM-7's
//! extension characters (`^{}\[~]|€`) take two.

use std::fmt::Write;

use crate::digest::{Digest, hosts, one_line, upper};
use crate::secret::Secret;
use crate::sink::Common;
use crate::sink::http::{Request, path_segment};

#[derive(Debug, Clone)]
pub struct Sms {
    /// `https://api.twilio.com`, or a compatible provider's base URL.
    pub api: String,
    pub account_sid: String,
    pub auth_token: Secret,
    pub from: String,
    pub to: Vec<String>,
    pub max_per_hour: u32,
    pub segments: u32,
    pub common: Common,
}

/// Twilio refuses a body over 1,600 characters: ten segments.
pub const MAX_SEGMENTS: u32 = 10;

impl Sms {
    pub fn requests(&self, digest: &Digest<'_>) -> Vec<Request> {
        let text = fit(&text(digest), self.segments);
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.api.trim_end_matches('/'),
            path_segment(&self.account_sid)
        );
        let auth = basic_auth(&self.account_sid, self.auth_token.expose());
        self.to
            .iter()
            .map(|to| {
                let form = form_urlencoded::Serializer::new(String::new())
                    .append_pair("To", to)
                    .append_pair("From", &self.from)
                    .append_pair("Body", &text)
                    .finish();
                Request::post(
                    url.clone(),
                    "application/x-www-form-urlencoded",
                    form.into_bytes(),
                )
                .header("Authorization", auth.as_str())
            })
            .collect()
    }
}

/// `Basic base64(user:password)`.
pub fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// The message: the worst alert first, then the counts.
fn text(digest: &Digest<'_>) -> String {
    let mut out = String::new();
    let mut firing = digest.firing();
    if let Some(first) = firing.next() {
        let _ = write!(
            out,
            "{} {}: {}",
            upper(first.severity),
            first.host,
            one_line(&first.message)
        );
        let rest = digest.firing_count() - 1;
        if rest > 0 {
            let _ = write!(out, " (+{rest} more on {})", hosts(digest.firing()));
        }
    }
    if digest.resolved_count() > 0 {
        if !out.is_empty() {
            out.push_str(". ");
        }
        let mut resolved = digest.resolved();
        let first = resolved.next().expect("counted");
        let _ = write!(out, "RESOLVED {}: {}", first.host, one_line(&first.message));
        if digest.resolved_count() > 1 {
            let _ = write!(out, " (+{} more)", digest.resolved_count() - 1);
        }
    }
    if digest.held > 0 {
        let _ = write!(out, ". {} held back by the hourly cap", digest.held);
    }
    out
}

/// GSM 03.38's basic character set.
const GSM7: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Its extension table: two septets each.
const GSM7_EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// What `c` costs in the encoding `text` goes in: septets for GSM-7, or
/// UTF-16 units for UCS-2.
fn cost(c: char, gsm: bool) -> usize {
    if gsm {
        if GSM7_EXTENDED.contains(c) { 2 } else { 1 }
    } else {
        c.len_utf16()
    }
}

/// `text` cut to `segments` segments, ending in "..." when cut.
pub fn fit(text: &str, segments: u32) -> String {
    let gsm = text
        .chars()
        .all(|c| GSM7.contains(c) || GSM7_EXTENDED.contains(c));
    let (single, multi) = if gsm { (160, 153) } else { (70, 67) };
    let limit = if segments <= 1 {
        single
    } else {
        multi * segments as usize
    };
    let total: usize = text.chars().map(|c| cost(c, gsm)).sum();
    if total <= limit {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 3; // "..."
    for c in text.chars() {
        used += cost(c, gsm);
        if used > limit {
            break;
        }
        out.push(c);
    }
    out.push_str("...");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many segments `text` takes.
    pub fn segments(text: &str) -> usize {
        let gsm = text
            .chars()
            .all(|c| GSM7.contains(c) || GSM7_EXTENDED.contains(c));
        let (single, multi) = if gsm { (160, 153) } else { (70, 67) };
        let total: usize = text.chars().map(|c| cost(c, gsm)).sum();
        if total <= single {
            1
        } else {
            total.div_ceil(multi)
        }
    }

    #[test]
    fn texts_fit_their_segments_in_either_encoding() {
        let short = "CRITICAL web1: /var is 100% full";
        assert_eq!(fit(short, 1), short);
        let long = "x".repeat(400);
        assert_eq!(fit(&long, 1).len(), 160);
        assert_eq!(segments(&fit(&long, 1)), 1);
        assert_eq!(fit(&long, 2).len(), 306);
        assert_eq!(segments(&fit(&long, 2)), 2);
        // One character outside GSM-7 makes the whole message UCS-2.
        let unicode = format!("{}✓", "y".repeat(100));
        assert_eq!(fit(&unicode, 1).chars().count(), 70);
        // Extension characters take two septets.
        assert_eq!(fit(&"{".repeat(100), 1).chars().count(), 3 + 78);
        assert_eq!(segments(&"{".repeat(80)), 1);
        assert_eq!(segments(&"{".repeat(81)), 2);
    }
}
