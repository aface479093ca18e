//! Splitting a line into header fields and the message, with the `<Field>`
//! syntax of the Loghub benchmarks.
//!
//! `'<Date> <Time> <Level> <Component>: <Content>'` means what it means in
//! logpai/logparser: each `<Field>` matches lazily, the text between fields
//! is a regular expression in which every run of spaces matches a run of
//! white space, and the whole (trimmed) line must match. `<Content>` is the
//! message that templates are mined from; a line that does not match keeps
//! all of its text as the message and is counted.

use regex_automata::meta::Regex;
use regex_automata::util::captures::Captures;
use secops_common::Error;

use crate::mining::timestamp;

/// A compiled `--log-format`.
#[derive(Debug)]
pub struct LogFormat {
    regex: Regex,
    content: usize,
    /// The `<Level>` field, when the format has one.
    level: Option<usize>,
    captures: Captures,
}

impl LogFormat {
    pub fn parse(format: &str) -> Result<LogFormat, Error> {
        let mut pattern = String::from("^");
        let mut rest = format;
        let mut names = Vec::new();
        while let Some(open) = rest.find('<') {
            let Some(close) = rest[open..].find('>').map(|c| open + c) else {
                break;
            };
            let name = &rest[open + 1..close];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Error::bad_input(format!(
                    "--log-format: <{name}> is not a field name (letters, digits and _)"
                )));
            }
            push_separator(&mut pattern, &rest[..open]);
            pattern.push_str(&format!("(?P<{name}>.*?)"));
            names.push(name);
            rest = &rest[close + 1..];
        }
        push_separator(&mut pattern, rest);
        pattern.push('$');
        if !names.contains(&"Content") {
            return Err(Error::bad_input(format!(
                "--log-format {format:?} has no <Content> field, the message to mine"
            )));
        }
        let regex = Regex::new(&pattern)
            .map_err(|err| Error::bad_input(format!("--log-format {format:?}: {err}")))?;
        let group = |name| {
            regex
                .group_info()
                .to_index(regex_automata::PatternID::ZERO, name)
        };
        let content = group("Content").expect("the pattern names Content");
        let level = group("Level");
        let captures = regex.create_captures();
        Ok(LogFormat {
            regex,
            content,
            level,
            captures,
        })
    }

    /// The message part of `line` and its `<Level>`, or `None` when the
    /// line does not match.
    pub fn content<'l>(&mut self, line: &'l str) -> Option<(&'l str, Option<&'l str>)> {
        let line = line.trim();
        self.regex.captures(line, &mut self.captures);
        let field = |group| {
            self.captures
                .get_group(group)
                .map(|span| &line[span.range()])
        };
        let message = field(self.content)?;
        Some((
            message,
            self.level.and_then(field).filter(|l| !l.is_empty()),
        ))
    }
}

/// A line with no `--log-format`, taken apart by [`split_header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'l> {
    pub message: &'l str,
    /// A level word among the header tokens, as written (`INFO`, `notice`).
    pub level: Option<&'l str>,
}

/// Splits a line with no `--log-format`: leading header-like tokens
/// (dates, times, numbers, month and day names, `[bracketed]` fields,
/// even with spaces inside, log levels, `-`) are skipped, at most
/// [`MAX_HEADER_TOKENS`] of them, and a level among them is kept. Without
/// this, a line's first words are its timestamp, and the parse tree, which
/// routes on first words, would file each day apart. A syslog line (RFC
/// 3164: `Mmm dd HH:MM:SS host tag[pid]: message`) also loses its host and
/// tag, which every line of the file shares and which would otherwise fill
/// the tree's first levels. So does rsyslog's RFC 3339 file format
/// (`2026-12-07T03:54:01.123456+00:00 host tag[pid]: message`, Debian's
/// default since 12), when a tag follows the host; and after `kernel:`,
/// the kernel's `[ seconds.micros]` since boot.
pub fn split_header(line: &str) -> Header<'_> {
    let line = line.trim_start();
    let syslog = timestamp::starts_syslog(line);
    let iso_syslog = !syslog && timestamp::starts_rfc3339(line);
    let mut rest = line;
    let mut level = None;
    for _ in 0..MAX_HEADER_TOKENS {
        let end = token_end(rest);
        if end == rest.len() {
            break;
        }
        let token = &rest[..end];
        match header_token(token) {
            Some(HeaderToken::Level(word)) => level = level.or(Some(word)),
            Some(HeaderToken::Other) => {}
            None => break,
        }
        rest = skip_space(&rest[end..]);
    }
    if (syslog || iso_syslog) && rest.len() < line.len() {
        // The host, unless the tag comes first (no host written); after
        // an RFC 3339 time, only when a tag follows it.
        let mut host = false;
        let end = token_end(rest);
        if end < rest.len() && !is_syslog_tag(&rest[..end]) {
            let after = skip_space(&rest[end..]);
            let tag_end = token_end(after);
            if syslog || (tag_end < after.len() && is_syslog_tag(&after[..tag_end])) {
                rest = after;
                host = true;
            }
        }
        let end = token_end(rest);
        if (syslog || host) && end < rest.len() && is_syslog_tag(&rest[..end]) {
            let kernel = &rest[..end] == "kernel:";
            rest = skip_space(&rest[end..]);
            let end = token_end(rest);
            if kernel && end < rest.len() && is_uptime(&rest[..end]) {
                rest = skip_space(&rest[end..]);
            }
        }
    }
    Header {
        message: rest,
        level,
    }
}

/// The kernel's time since boot: `[ 1234.567890]` (padded or not).
fn is_uptime(token: &str) -> bool {
    token
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .map(str::trim_start)
        .is_some_and(|t| {
            t.split_once('.').is_some_and(|(s, us)| {
                !s.is_empty()
                    && !us.is_empty()
                    && s.bytes().chain(us.bytes()).all(|b| b.is_ascii_digit())
            })
        })
}

/// `s` without leading white space, a byte at a time while it is ASCII.
fn skip_space(s: &str) -> &str {
    let n = s
        .bytes()
        .position(|b| !(b.is_ascii_whitespace() || b == 0x0b))
        .unwrap_or(s.len());
    if s.as_bytes().get(n).is_some_and(|&b| b >= 0x80) {
        s[n..].trim_start()
    } else {
        &s[n..]
    }
}

/// Where the first token of `rest` ends: at white space, or for a
/// `[bracketed field with spaces]` at its closing bracket.
fn token_end(rest: &str) -> usize {
    // A byte at a time while the text is ASCII; characters only past a
    // non-ASCII byte, where Unicode white space may follow.
    let end = match rest.bytes().position(|b| ENDS_TOKEN[usize::from(b)]) {
        Some(i) if rest.as_bytes()[i] >= 0x80 => {
            rest.find(char::is_whitespace).unwrap_or(rest.len())
        }
        Some(i) => i,
        None => rest.len(),
    };
    let token = &rest[..end];
    if token.starts_with('[') && !token.ends_with(']') {
        // `[IPC Server handler 13 on 62270]`: up to the bracket that
        // closes it, when that ends a word soon enough.
        let close = rest.bytes().take(MAX_BRACKETED).position(|b| b == b']');
        if let Some(close) = close
            && rest[close + 1..]
                .chars()
                .next()
                .is_none_or(char::is_whitespace)
        {
            return close + 1;
        }
    }
    end
}

/// Bytes that end [`token_end`]'s fast scan: ASCII white space, and any
/// byte that is not ASCII.
static ENDS_TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = i >= 0x80 || matches!(i as u8, b' ' | b'\t'..=b'\r');
        i += 1;
    }
    table
};

/// Longest `[bracketed field]` taken as one header token.
const MAX_BRACKETED: usize = 256;

/// A syslog tag: `sshd[24200]:`, `sshd(pam_unix)[19939]:`, `kernel:`,
/// `CRON[1234]:` — a program name, an optional `[pid]`, and a colon.
fn is_syslog_tag(token: &str) -> bool {
    let Some(name) = token.strip_suffix(':') else {
        return false;
    };
    let name = match name.strip_suffix(']').and_then(|n| n.rsplit_once('[')) {
        Some((name, pid)) if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) => name,
        Some(_) => return false,
        None => name,
    };
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b'(' | b')')
        })
}

const MAX_HEADER_TOKENS: usize = 8;

/// What a header token is.
enum HeaderToken<'t> {
    /// A log level, its punctuation trimmed.
    Level(&'t str),
    /// A date, time, number, `[field]`, month or day name, or `-`.
    Other,
}

/// The kind of header token `token` is, if it is one.
fn header_token(token: &str) -> Option<HeaderToken<'_>> {
    // Every character trimmed is ASCII, so bytes will do.
    let edge = |b: &u8| matches!(b, b'[' | b']' | b'(' | b')' | b',' | b':' | b'-');
    let b = token.as_bytes();
    let start = b.iter().position(|c| !edge(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !edge(c)).map_or(start, |e| e + 1);
    let bare = &token[start..end];
    let bracketed = b.first() == Some(&b'[') && b.last() == Some(&b']');
    match bare.bytes().next() {
        Some(first) if first.is_ascii_alphabetic() => {
            header_word(bare).or(bracketed.then_some(HeaderToken::Other))
        }
        first => (token == "-" || bracketed || first.is_some_and(|b| b.is_ascii_digit()))
            .then_some(HeaderToken::Other),
    }
}

/// A log level, or a month or day name, in any case: the words a header
/// holds besides numbers.
fn header_word(word: &str) -> Option<HeaderToken<'_>> {
    if !(3..=8).contains(&word.len()) {
        return None;
    }
    let mut lower = [0u8; 8];
    lower[..word.len()].copy_from_slice(word.as_bytes());
    lower.make_ascii_lowercase();
    match &lower[..word.len()] {
        b"trace" | b"debug" | b"info" | b"notice" | b"warn" | b"warning" | b"error" | b"err"
        | b"crit" | b"critical" | b"fatal" | b"alert" | b"emerg" => Some(HeaderToken::Level(word)),
        b"jan" | b"feb" | b"mar" | b"apr" | b"may" | b"jun" | b"jul" | b"aug" | b"sep" | b"oct"
        | b"nov" | b"dec" | b"mon" | b"tue" | b"wed" | b"thu" | b"fri" | b"sat" | b"sun" => {
            Some(HeaderToken::Other)
        }
        _ => None,
    }
}

/// Literal text between fields: a regex whose space runs match white space.
fn push_separator(pattern: &mut String, text: &str) {
    let mut in_spaces = false;
    for c in text.chars() {
        if c == ' ' {
            if !in_spaces {
                pattern.push_str(r"(?-u:\s)+");
            }
            in_spaces = true;
        } else {
            pattern.push(c);
            in_spaces = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loghub_formats_split_out_the_message() {
        let mut hdfs =
            LogFormat::parse("<Date> <Time> <Pid> <Level> <Component>: <Content>").unwrap();
        assert_eq!(
            hdfs.content("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating\r"),
            Some(("PacketResponder 1 terminating", Some("INFO")))
        );
        let mut linux =
            LogFormat::parse(r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>")
                .unwrap();
        assert_eq!(
            linux.content("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown"),
            Some(("check pass; user unknown", Some("combo")))
        );
        assert_eq!(
            linux.content("Jun 15 04:06:18 combo su(pam_unix)[21416]: session opened"),
            Some(("session opened", Some("combo")))
        );
        assert_eq!(hdfs.content("no header here"), None);
    }

    #[test]
    fn content_alone_is_the_whole_line() {
        let mut whole = LogFormat::parse("<Content>").unwrap();
        assert_eq!(whole.content("  a b c "), Some(("a b c", None)));
    }

    #[test]
    fn common_headers_are_split_without_a_format() {
        let split = |line| {
            let h = split_header(line);
            (h.message, h.level)
        };
        assert_eq!(
            split("[Sun Dec 04 04:47:44 2005] [notice] jk2_init() Found child 6725"),
            ("jk2_init() Found child 6725", Some("notice"))
        );
        assert_eq!(
            split("2026-11-21T19:02:00Z INFO Started worker 3"),
            ("Started worker 3", Some("INFO"))
        );
        assert_eq!(
            split("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass"),
            ("check pass", None)
        );
        assert_eq!(
            split("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster"),
            ("Invalid user webmaster", None)
        );
        assert_eq!(
            split("Jun  9 06:06:20 combo kernel: Linux version 2.6.5"),
            ("Linux version 2.6.5", None)
        );
        assert_eq!(
            split("Jun  9 06:06:20 CRON[42]: job done"),
            ("job done", None),
            "a syslog line without a host"
        );
        assert_eq!(
            split("Jun  9 06:06:20 combo not a tag here"),
            ("not a tag here", None)
        );
        assert_eq!(
            split("2015-10-18 18:01:50,353 INFO [IPC Server handler 13 on 62270] org.a.B: Got it"),
            ("org.a.B: Got it", Some("INFO"))
        );
        assert_eq!(
            split("2015-10-18 18:01:50 WARN [unclosed bracket and more"),
            ("[unclosed bracket and more", Some("WARN"))
        );
        assert_eq!(
            split("2026-11-21 19:02:00 [ERROR] disk full"),
            ("disk full", Some("ERROR"))
        );
        assert_eq!(split("12345"), ("12345", None), "a line is never emptied");
        assert_eq!(
            split("2026-12-07T03:54:01.123456+00:00 web1 sshd[812]: Accepted publickey for ops"),
            ("Accepted publickey for ops", None),
            "rsyslog's RFC 3339 file format"
        );
        assert_eq!(
            split("2026-12-07T03:54:01.123456+00:00 web1 kernel: [ 8812.000123] eth0: link up"),
            ("eth0: link up", None),
            "the kernel's time since boot"
        );
        assert_eq!(
            split("2026-11-21T19:02:00Z INFO worker: started"),
            ("worker: started", Some("INFO")),
            "an application's component is not a syslog tag without a host"
        );
    }

    #[test]
    fn a_format_without_content_is_refused() {
        let err = LogFormat::parse("<Date> <Time>").unwrap_err();
        assert!(err.message.contains("<Content>"), "{}", err.message);
    }
}
