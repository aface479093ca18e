//! Matrix's client-server API: an `m.room.message` (`m.text`, with an
//! HTML body beside the plain one) sent to a room with
//! `PUT /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}` and
//! an access token as a bearer. The transaction id is made once per
//! message, so a retry of one the homeserver already took is recognised
//! as the same event rather than posted twice.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::digest::Digest;
use crate::secret::Secret;
use crate::sink::Common;
use crate::sink::http::{Request, path_segment};
use crate::sink::telegram::escape;

/// The text, which goes in twice (plain, and as HTML where escaping can
/// make `<` four bytes and JSON `"` two more), must keep the event under
/// its 65,536 bytes.
const BODY: usize = 10 * 1024;

#[derive(Debug, Clone)]
pub struct Matrix {
    pub homeserver: String,
    /// `!opaque:server`: a room id, not an alias.
    pub room: String,
    pub token: Secret,
    pub common: Common,
}

impl Matrix {
    pub fn request(&self, digest: &Digest<'_>) -> Request {
        let mut plain = format!("{}\n{}", digest.subject, digest.body);
        secops_common::text::clip(&mut plain, BODY);
        let html = format!(
            "<p><strong>{}</strong></p><pre>{}</pre>",
            escape(&digest.subject),
            escape(&plain[digest.subject.len().min(plain.len())..])
        );
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let txn = format!(
            "secops-{}-{}-{}",
            std::process::id(),
            now.as_secs(),
            now.subsec_nanos()
        );
        let mut request = Request::json(
            format!(
                "{}/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
                self.homeserver.trim_end_matches('/'),
                path_segment(&self.room),
                path_segment(&txn)
            ),
            &json!({
                "msgtype": "m.text",
                "body": plain,
                "format": "org.matrix.custom.html",
                "formatted_body": html,
            }),
        )
        .header("Authorization", format!("Bearer {}", self.token.expose()));
        request.method = "PUT".into();
        request
    }
}
