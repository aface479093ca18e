//! File names are bytes. Records carry them as text that keeps one record
//! on one line: valid UTF-8 as is (JSON escapes control characters), other
//! bytes as `\xNN`, with the exact bytes in `path_b64` when needed.

use std::fmt::Write;

/// The name as text: exact when it is UTF-8, else with `\xNN` escapes.
pub fn text_of(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// The name for a human sentence: control characters escaped too, so a
/// message never carries a newline or a terminal escape.
pub fn shown(bytes: &[u8]) -> String {
    text_of(bytes)
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Base64 (RFC 4648, padded) of names that are not UTF-8, so a reader can
/// recover the exact bytes.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The bytes of [`base64`] text; `None` when it is not base64.
pub fn from_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut held) = (0u32, 0u32);
    for c in text.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = bits << 6 | u32::from(value);
        held += 6;
        if held >= 8 {
            held -= 8;
            out.push((bits >> held) as u8);
            bits &= (1 << held) - 1;
        }
    }
    Some(out)
}

pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_escape_only_what_they_must() {
        assert_eq!(text_of(b"/etc/caf\xc3\xa9"), "/etc/café");
        assert_eq!(text_of(b"/tmp/a\xffb"), "/tmp/a\\xffb");
        assert_eq!(shown(b"/tmp/a\nb\x1b"), "/tmp/a\\nb\\u{1b}");
        assert_eq!(base64(b"\xffab"), "/2Fi");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
        for bytes in [&b"\xffab"[..], b"ab", b"a", b"", b"/tmp/a\xffb\n"] {
            assert_eq!(from_base64(&base64(bytes)).as_deref(), Some(bytes));
        }
        assert_eq!(from_base64("a b"), None);
        assert_eq!(hex(&[0, 171]), "00ab");
    }
}
