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

/// A compiled `--log-format`.
#[derive(Debug)]
pub struct LogFormat {
    regex: Regex,
    content: usize,
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
        let content = regex
            .group_info()
            .to_index(regex_automata::PatternID::ZERO, "Content")
            .expect("the pattern names Content");
        let captures = regex.create_captures();
        Ok(LogFormat {
            regex,
            content,
            captures,
        })
    }

    /// The message part of `line`, or `None` when the line does not match.
    pub fn content<'l>(&mut self, line: &'l str) -> Option<&'l str> {
        let line = line.trim();
        self.regex.captures(line, &mut self.captures);
        self.captures
            .get_group(self.content)
            .map(|span| &line[span.range()])
    }
}

/// The message of a line with no `--log-format`: leading header-like
/// tokens (dates, times, numbers, month and day names, `[bracketed]`
/// fields, log levels, `-`) are skipped, at most [`MAX_HEADER_TOKENS`] of
/// them. Without this, a line's first words are its timestamp, and the
/// parse tree, which routes on first words, would file each day apart.
pub fn strip_header(line: &str) -> &str {
    let mut rest = line.trim_start();
    for _ in 0..MAX_HEADER_TOKENS {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        if end == rest.len() || !is_header_token(&rest[..end]) {
            break;
        }
        rest = rest[end..].trim_start();
    }
    rest
}

const MAX_HEADER_TOKENS: usize = 8;

const HEADER_WORDS: [&str; 32] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", "mon",
    "tue", "wed", "thu", "fri", "sat", "sun", "trace", "debug", "info", "notice", "warn",
    "warning", "error", "err", "crit", "critical", "fatal", "alert", "emerg",
];

fn is_header_token(token: &str) -> bool {
    let bare = token.trim_matches(|c: char| "[](),:-".contains(c));
    token == "-"
        || (token.starts_with('[') && token.ends_with(']'))
        || bare.bytes().next().is_some_and(|b| b.is_ascii_digit())
        || HEADER_WORDS.iter().any(|w| bare.eq_ignore_ascii_case(w))
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
            Some("PacketResponder 1 terminating")
        );
        let mut linux =
            LogFormat::parse(r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>")
                .unwrap();
        assert_eq!(
            linux.content("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown"),
            Some("check pass; user unknown")
        );
        assert_eq!(
            linux.content("Jun 15 04:06:18 combo su(pam_unix)[21416]: session opened"),
            Some("session opened")
        );
        assert_eq!(hdfs.content("no header here"), None);
    }

    #[test]
    fn content_alone_is_the_whole_line() {
        let mut whole = LogFormat::parse("<Content>").unwrap();
        assert_eq!(whole.content("  a b c "), Some("a b c"));
    }

    #[test]
    fn common_headers_are_skipped_without_a_format() {
        assert_eq!(
            strip_header("[Sun Dec 04 04:47:44 2005] [notice] jk2_init() Found child 6725"),
            "jk2_init() Found child 6725"
        );
        assert_eq!(
            strip_header("2026-11-21T19:02:00Z INFO Started worker 3"),
            "Started worker 3"
        );
        assert_eq!(
            strip_header("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass"),
            "combo sshd(pam_unix)[19939]: check pass"
        );
        assert_eq!(strip_header("12345"), "12345", "a line is never emptied");
    }

    #[test]
    fn a_format_without_content_is_refused() {
        let err = LogFormat::parse("<Date> <Time>").unwrap_err();
        assert!(err.message.contains("<Content>"), "{}", err.message);
    }
}
