//! The token classifier that masks variables before template mining.
//!
//! One pass over each token's bytes decides whether it is a variable
//! (number, hex, IPv4/IPv6 with optional port, UUID, path, URL, e-mail
//! address, duration). A chain of regexes would test every pattern against
//! every token; here the common case, a plain word, is settled by looking at
//! each byte once. Tokens that are not variables as a whole but carry digit
//! runs between punctuation (`blk_-1608`, `attempt_01_m_000`) have just those
//! runs masked, so the word part still tells templates apart.

use crate::mining::drain::push_token;

/// What a masked variable reads as in a template.
pub const WILDCARD: &str = "<*>";

/// What [`mask_into`] made of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Masked {
    /// The token itself: a word.
    Token,
    /// [`WILDCARD`]: the whole token is a value.
    Wildcard,
    /// The token with its values masked, appended to the caller's buffer.
    Written,
}

/// Masks one token for the miner: `<*>` for a whole variable, the token
/// with digit runs masked when only parts vary, else the token itself. A
/// new text is appended to `out`, a buffer the caller reuses line after
/// line, so masking allocates nothing once it has grown.
pub fn mask_into(token: &str, out: &mut String) -> Masked {
    let core = trim_edges(token);
    let kinds = shape(core);
    // Without a digit, `/` or `@` nothing in a token can be a value: most
    // tokens are plain words.
    if kinds & (DIGIT | SLASH | AT) == 0 {
        return Masked::Token;
    }
    if is_value(core, kinds) {
        return Masked::Wildcard;
    }
    if kinds & EQUALS != 0
        && let Some(eq) = core.bytes().position(|b| b == b'=')
        && is_variable(trim_edges(&core[eq + 1..]))
    {
        let key = &core[..eq];
        out.push_str(key);
        out.push('=');
        out.push_str(WILDCARD);
        return Masked::Written;
    }
    mask_digit_runs(token, out)
}

/// Appends the key the tree files a line by to `key`: each token masked
/// by the classifier when it may hold a value (see
/// [`crate::mining::tokens::split_tokens`]).
pub fn mask_line(tokens: &[&str], valued: &[bool], key: &mut String) {
    for (token, &valued) in tokens.iter().zip(valued) {
        let kind = if valued {
            mask_into(token, key)
        } else {
            Masked::Token
        };
        match kind {
            Masked::Token => push_token(key, token),
            Masked::Wildcard => push_token(key, WILDCARD),
            Masked::Written => key.push(' '),
        }
    }
}

/// [`mask_into`] as one value, for tests.
#[cfg(test)]
pub fn mask(token: &str) -> std::borrow::Cow<'_, str> {
    let mut out = String::new();
    match mask_into(token, &mut out) {
        Masked::Token => token.into(),
        Masked::Wildcard => WILDCARD.into(),
        Masked::Written => out.into(),
    }
}

/// `token` without [`is_edge`] punctuation at either end. It is all ASCII,
/// so cutting at byte positions keeps the text valid UTF-8.
fn trim_edges(token: &str) -> &str {
    let b = token.as_bytes();
    let start = b.iter().position(|&c| !is_edge(c)).unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| !is_edge(c))
        .map_or(start, |e| e + 1);
    &token[start..end.max(start)]
}

/// Characters that wrap a value without being part of it: `(1234)`, `'x',`.
fn is_edge(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'<'
            | b'>'
            | b','
            | b';'
            | b'\''
            | b'"'
            | b'.'
            | b':'
    )
}

/// Whether a whole token (its wrapping punctuation stripped) is a value.
pub fn is_variable(core: &str) -> bool {
    is_value(core, shape(core))
}

/// The kinds of byte `s` holds, [`SHAPE`]'s bits, in one pass.
fn shape(s: &str) -> u16 {
    s.bytes().fold(0, |kinds, b| kinds | SHAPE[usize::from(b)])
}

/// [`is_variable`], given the token's [`shape`]: each predicate runs only
/// if the token has what it needs, so a token that is no value
/// (`blk_-1608`, `attempt_01`) is not read ten times over.
fn is_value(core: &str, shape: u16) -> bool {
    // The predicates below look at the first byte; an empty token is none.
    if core.is_empty() {
        return false;
    }
    let within = |allowed: u16| shape & !allowed == 0;
    let has = |kind: u16| shape & kind != 0;
    (within(DIGIT | DOT | SIGN) && is_number(core))
        || (within(DIGIT | HEX_LETTER | LETTER) && is_hex(core))
        || (within(DIGIT | DOT | COLON | SLASH) && is_ipv4(core))
        || (within(DIGIT | HEX_LETTER | COLON | DOT) && is_ipv6(core))
        || (core.len() == 36 && is_uuid(core))
        || (has(COLON) && has(SLASH) && is_url(core))
        || (has(SLASH) && is_path(core))
        || (has(AT) && is_email(core))
        || (has(HEX_LETTER | LETTER | OTHER) && is_duration(core))
        || (has(DOT | COLON | SIGN) && is_version(core))
}

/// Kinds of byte, for [`is_variable`]'s shape of a token.
const DIGIT: u16 = 1;
/// `a`-`f`, either case.
const HEX_LETTER: u16 = 1 << 1;
/// Any other ASCII letter.
const LETTER: u16 = 1 << 2;
const ALPHANUMERIC: u16 = DIGIT | HEX_LETTER | LETTER;
const DOT: u16 = 1 << 3;
const COLON: u16 = 1 << 4;
/// `-` or `+`.
const SIGN: u16 = 1 << 5;
const SLASH: u16 = 1 << 6;
const AT: u16 = 1 << 7;
const EQUALS: u16 = 1 << 8;
/// Anything else, non-ASCII bytes included.
const OTHER: u16 = 1 << 9;

static SHAPE: [u16; 256] = {
    let mut table = [OTHER; 256];
    let mut i = 0;
    while i < 128 {
        let b = i as u8;
        table[i] = match b {
            b'0'..=b'9' => DIGIT,
            b'a'..=b'f' | b'A'..=b'F' => HEX_LETTER,
            b'g'..=b'z' | b'G'..=b'Z' => LETTER,
            b'.' => DOT,
            b':' => COLON,
            b'-' | b'+' => SIGN,
            b'/' => SLASH,
            b'@' => AT,
            b'=' => EQUALS,
            _ => OTHER,
        };
        i += 1;
    }
    table
};

/// A version, date or clock time: starts with a digit, has a `.`, `:` or
/// `-` between digit groups, and only letters, digits and `.:-+~_` after
/// (`2.38.1-5+deb12u1`, `1.7+dfsg-3+b3`, `2025-06-24`, `14:39:44`).
/// Letters may be at most twice the digits, so `3rd-party` stays a word.
fn is_version(s: &str) -> bool {
    let b = s.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    let (mut digits, mut letters, mut joins) = (0, 0, 0);
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'0'..=b'9' => digits += 1,
            b'a'..=b'z' | b'A'..=b'Z' => letters += 1,
            b'.' | b':' | b'-' => {
                joins += usize::from(b.get(i + 1).is_some_and(u8::is_ascii_digit));
            }
            b'+' | b'~' | b'_' => {}
            _ => return false,
        }
    }
    joins > 0 && letters <= 2 * digits
}

/// A date or clock time inside a message (`2025-06-24`, `14:39:44:`,
/// `2026-11-21T19:02:00Z`): it starts `YYYY-MM-DD` or `H:MM:SS`. Its
/// repeats say when something happened, not that one value dominates.
pub fn is_time_like(token: &str) -> bool {
    let start = token
        .bytes()
        .position(|c| !is_edge(c))
        .unwrap_or(token.len());
    let b = &token.as_bytes()[start..];
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let date = digits(0..4) && b.get(4) == Some(&b'-') && digits(5..7) && b.get(7) == Some(&b'-');
    let hour = if b.get(1) == Some(&b':') { 1 } else { 2 };
    let clock = digits(0..hour)
        && b.get(hour) == Some(&b':')
        && digits(hour + 1..hour + 3)
        && b.get(hour + 3) == Some(&b':')
        && digits(hour + 4..hour + 6);
    date || clock
}

fn is_number(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let mut digits = 0;
    let mut dots = 0;
    for b in s.bytes() {
        match b {
            b'0'..=b'9' => digits += 1,
            b'.' => dots += 1,
            _ => return false,
        }
    }
    digits > 0 && dots <= 1
}

/// `0x1f`, or a bare run of hex digits long enough to be an id rather than
/// a word (`deadbeef` is, `cafe` and `add` are not).
fn is_hex(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_hexdigit());
    }
    s.len() >= 8
        && s.bytes().all(|b| b.is_ascii_hexdigit())
        && s.bytes().any(|b| b.is_ascii_digit())
}

/// Whether `token` is an IPv4 or IPv6 address (with a port, a prefix or
/// wrapping punctuation or not).
pub fn is_address(token: &str) -> bool {
    let core = trim_edges(token);
    !core.is_empty() && (is_ipv4(core) || is_ipv6(core))
}

/// `10.0.0.1`, optionally with `:port` or `/prefix`.
fn is_ipv4(s: &str) -> bool {
    if !s.as_bytes()[0].is_ascii_digit() {
        return false;
    }
    let addr = s
        .rsplit_once([':', '/'])
        .filter(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(s, |(addr, _)| addr);
    let mut parts = 0;
    for part in addr.split('.') {
        parts += 1;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    parts == 4
}

/// `fe80::1`, `2001:db8:0:0:0:0:0:1`, `::ffff:10.0.0.1`: at least two
/// colons and only hex digits, colons and dots, with a digit somewhere so
/// that `a:b:c` words stay words.
fn is_ipv6(s: &str) -> bool {
    s.bytes().filter(|&b| b == b':').count() >= 2
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        && s.bytes().any(|b| b.is_ascii_digit())
}

/// `8-4-4-4-12` hex digits.
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn is_url(s: &str) -> bool {
    let colon = s.bytes().position(|b| b == b':');
    colon.is_some_and(|c| s[c..].starts_with("://"))
        && s.split_once("://").is_some_and(|(scheme, rest)| {
            !scheme.is_empty()
                && scheme.bytes().all(|b| b.is_ascii_alphabetic())
                && !rest.is_empty()
        })
}

/// An absolute path with at least two components (`/var/log/x`), or a
/// relative one with a directory (`./a/b`); a lone `/` or `/bin` word in
/// prose is not masked.
fn is_path(s: &str) -> bool {
    let rest = s
        .strip_prefix('/')
        .or_else(|| s.strip_prefix("./"))
        .or_else(|| s.strip_prefix("~/"));
    rest.is_some_and(|rest| rest.contains('/') && !rest.starts_with('/'))
}

fn is_email(s: &str) -> bool {
    let at = s.bytes().position(|b| b == b'@');
    at.is_some_and(|at| {
        let (user, domain) = (&s[..at], &s[at + 1..]);
        !user.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    })
}

/// `250ms`, `1.5s`, `3m`, `2h`, `10sec`, `1h30m`.
fn is_duration(s: &str) -> bool {
    if !s.as_bytes()[0].is_ascii_digit() && s.as_bytes()[0] != b'.' {
        return false;
    }
    let mut rest = s;
    let mut pieces = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return false;
        }
        let after = &rest[digits..];
        let unit = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        if !matches!(
            &after[..unit],
            "ns" | "us" | "µs" | "ms" | "s" | "sec" | "secs" | "m" | "min" | "mins" | "h" | "d"
        ) {
            return false;
        }
        pieces += 1;
        rest = &after[unit..];
    }
    pieces > 0
}

/// Masks each run of digits (with any hex letters glued to it) that sits
/// between punctuation: `blk_-1608999687919862906` becomes `blk_-<*>`,
/// appended to `out`; a token with nothing to mask leaves `out` as it was.
fn mask_digit_runs(token: &str, out: &mut String) -> Masked {
    let bytes = token.as_bytes();
    // Text up to `copied` is in `out`; what lies between masked words is
    // copied in one piece.
    let (mut copied, mut i) = (0, 0);
    while i < bytes.len() {
        // A word is a run of ASCII letters and digits; anything else,
        // each byte of a non-ASCII character too, is kept as it is.
        let (start, mut digits) = (i, 0);
        while i < bytes.len() && SHAPE[usize::from(bytes[i])] & ALPHANUMERIC != 0 {
            digits += usize::from(SHAPE[usize::from(bytes[i])] == DIGIT);
            i += 1;
        }
        let word = &token[start..i];
        if digits > 0 && (digits == word.len() || is_hex(word)) {
            out.push_str(&token[copied..start]);
            out.push_str(WILDCARD);
            copied = i;
        }
        while i < bytes.len() && SHAPE[usize::from(bytes[i])] & ALPHANUMERIC == 0 {
            i += 1;
        }
    }
    if copied == 0 {
        return Masked::Token;
    }
    out.push_str(&token[copied..]);
    Masked::Written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_values_become_wildcards() {
        for value in [
            "1234",
            "-42",
            "3.14",
            "0x7f3a",
            "deadbeef01",
            "10.251.73.220:50010",
            "192.168.0.1,",
            "fe80::1ff:fe23:4567:890a",
            "123e4567-e89b-12d3-a456-426614174000",
            "https://example.com/a?b=1",
            "/var/log/app.log",
            "root@example.com",
            "250ms",
            "1h30m",
            "(1234)",
            "2.38.1-5+deb12u1",
            "(1:2.3-4)",
            "2025-06-24",
            "14:39:44:",
            "528.0.0-0",
            "1.7+dfsg-3+b3",
        ] {
            assert_eq!(mask(value), WILDCARD, "{value}");
        }
    }

    #[test]
    fn words_stay_words() {
        for word in [
            "Failed",
            "password",
            "user_xyz",
            "NameSystem.addStoredBlock:",
            "a:b:c",
            "cafe",
            "/",
            "ms",
            "block",
            "3rd-party",
            "2fa",
        ] {
            assert_eq!(mask(word), word, "{word}");
        }
    }

    #[test]
    fn dates_and_times_are_told_from_other_values() {
        for t in [
            "2025-06-24",
            "14:39:44:",
            "2026-11-21T19:02:00Z",
            "[9:05:00]",
        ] {
            assert!(is_time_like(t), "{t}");
        }
        for t in ["1711", "10.0.0.1", "user_xyz", "1.15-1", "12:30", "fe80::1"] {
            assert!(!is_time_like(t), "{t}");
        }
    }

    #[test]
    fn digit_runs_inside_words_are_masked() {
        assert_eq!(mask("blk_-1608999687919862906"), "blk_-<*>");
        assert_eq!(
            mask("attempt_200811092030_0001_m_000"),
            "attempt_<*>_<*>_m_<*>"
        );
        assert_eq!(mask("size=67108864"), "size=<*>");
        assert_eq!(mask("rhost=10.0.0.1"), "rhost=<*>");
    }
}
