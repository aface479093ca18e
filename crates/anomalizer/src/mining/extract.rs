//! Splitting a line into time, level, source and message, whatever its
//! shape: a Loghub `--log-format`, a `--format-regex` with named groups,
//! journald's `journalctl -o json` export, JSON-per-line application logs,
//! or plain text whose leading header tokens are skipped.
//!
//! The source matters because the detectors judge each source against its
//! own volume and rhythm: a journald unit, or a `source` group, is a source
//! of its own even when many of them arrive through one file or stdin.

use std::borrow::Cow;

use regex_automata::meta::Regex;
use regex_automata::util::captures::Captures;
use secops_common::Error;
use serde_json::{Map, Value};

use crate::mining::header::{LogFormat, split_header};
use crate::mining::timestamp;
use crate::mining::user_mask::UserMasks;

/// One line taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'l> {
    /// Epoch seconds, when the line says.
    pub time: Option<i64>,
    pub level: Option<Cow<'l, str>>,
    /// Where the line says it comes from (journald unit, `source` group);
    /// `None` means the file it was read from.
    pub source: Option<Cow<'l, str>>,
    /// What templates are mined from.
    pub message: Cow<'l, str>,
}

impl<'l> Entry<'l> {
    fn text(line: &'l str, message: &'l str, now: i64) -> Entry<'l> {
        Entry {
            time: timestamp::leading(line, now),
            level: None,
            source: None,
            message: Cow::Borrowed(message),
        }
    }
}

/// How lines are split, and the user's masks applied to each message.
#[derive(Debug)]
pub struct Splitter {
    shape: Shape,
    masks: UserMasks,
}

/// What lines look like.
#[derive(Debug)]
enum Shape {
    /// JSON objects by their fields, other lines by their leading header.
    Auto,
    Loghub(LogFormat),
    Regex(FormatRegex),
}

impl Splitter {
    /// The splitter the options ask for (at most one of them).
    pub fn new(log_format: Option<&str>, format_regex: Option<&str>) -> Result<Splitter, Error> {
        let shape = match (log_format, format_regex) {
            (Some(_), Some(_)) => {
                return Err(Error::bad_input(
                    "--log-format and --format-regex cannot be used together",
                ));
            }
            (Some(f), None) => Shape::Loghub(LogFormat::parse(f)?),
            (None, Some(r)) => Shape::Regex(FormatRegex::parse(r)?),
            (None, None) => Shape::Auto,
        };
        Ok(Splitter {
            shape,
            masks: UserMasks::default(),
        })
    }

    /// The same, masking each message with `masks` (`--mask`).
    pub fn with_masks(self, masks: UserMasks) -> Splitter {
        Splitter { masks, ..self }
    }

    /// Takes `line` apart; `None` when a format was given and the line
    /// does not match it (the caller mines it whole and counts it).
    /// `now` settles the year of syslog times.
    pub fn split<'l>(&mut self, line: &'l str, now: i64) -> Option<Entry<'l>> {
        let entry = match &mut self.shape {
            Shape::Auto => Some(json_entry(line, now).unwrap_or_else(|| {
                let header = split_header(line);
                Entry {
                    level: header.level.map(Cow::Borrowed),
                    ..Entry::text(line, header.message, now)
                }
            })),
            Shape::Loghub(format) => format.content(line).map(|(message, level)| Entry {
                level: level.map(Cow::Borrowed),
                ..Entry::text(line, message, now)
            }),
            Shape::Regex(regex) => regex.split(line, now),
        };
        entry.map(|e| self.masked(e))
    }

    /// `entry` with the user's masks applied to its message.
    pub fn masked<'l>(&self, entry: Entry<'l>) -> Entry<'l> {
        if self.masks.is_empty() {
            return entry;
        }
        Entry {
            message: self.masks.apply(entry.message),
            ..entry
        }
    }
}

/// A `--format-regex`: named groups `msg` (required), `ts`, `level`,
/// `source`.
#[derive(Debug)]
pub struct FormatRegex {
    regex: Regex,
    captures: Captures,
    groups: [Option<usize>; 4],
}

const GROUPS: [&str; 4] = ["msg", "ts", "level", "source"];

impl FormatRegex {
    pub fn parse(pattern: &str) -> Result<FormatRegex, Error> {
        let regex = Regex::new(pattern).map_err(|err| {
            Error::bad_input(format!("--format-regex {pattern:?}: {}", regex_error(&err)))
        })?;
        let info = regex.group_info();
        let groups = GROUPS.map(|name| info.to_index(regex_automata::PatternID::ZERO, name));
        if groups[0].is_none() {
            return Err(Error::bad_input(format!(
                "--format-regex {pattern:?} has no (?P<msg>...) group, the message to mine"
            )));
        }
        let captures = regex.create_captures();
        Ok(FormatRegex {
            regex,
            captures,
            groups,
        })
    }

    fn split<'l>(&mut self, line: &'l str, now: i64) -> Option<Entry<'l>> {
        self.regex.captures(line, &mut self.captures);
        let [msg, ts, level, source] = self.groups.map(|g| {
            g.and_then(|g| self.captures.get_group(g))
                .map(|span| &line[span.range()])
        });
        Some(Entry {
            time: ts.and_then(|t| time_of_text(t, now)),
            level: level.filter(|l| !l.is_empty()).map(Cow::Borrowed),
            source: source.filter(|s| !s.is_empty()).map(Cow::Borrowed),
            message: Cow::Borrowed(msg?),
        })
    }
}

/// Why a user's regex (`--format-regex`, `--mask`) does not compile, on
/// one line. The build error says only "error parsing pattern 0"; the
/// syntax error under it says where and why, over several lines.
pub fn regex_error(err: &regex_automata::meta::BuildError) -> String {
    let why = std::error::Error::source(err).map_or(err.to_string(), |s| s.to_string());
    one_line(&why)
}

/// A regex syntax error on one line: its reason, and the column its
/// caret line points at (`unclosed group at column 2`).
fn one_line(why: &str) -> String {
    let reason = why
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or(why.trim());
    let column = why
        .lines()
        .find(|l| !l.trim().is_empty() && l.trim().bytes().all(|b| b == b'^'))
        .and_then(|l| l.find('^'))
        .map(|c| c.saturating_sub(4) + 1);
    match column {
        Some(c) => format!("{reason} at column {c}"),
        None => reason.to_string(),
    }
}

/// A time written as text: one of the styles `timestamp` reads, or epoch
/// seconds, milliseconds, microseconds or nanoseconds.
fn time_of_text(text: &str, now: i64) -> Option<i64> {
    timestamp::leading(text, now).or_else(|| {
        let (int, _) = text.split_once('.').unwrap_or((text, ""));
        int.parse::<i64>().ok().map(epoch_of_number)
    })
}

/// Epoch seconds from a number whose unit is guessed by its size (a
/// seconds value past the year 5138 is taken as a finer unit).
fn epoch_of_number(n: i64) -> i64 {
    match n.unsigned_abs() {
        0..100_000_000_000 => n,
        100_000_000_000..100_000_000_000_000 => n / 1_000,
        100_000_000_000_000..100_000_000_000_000_000 => n / 1_000_000,
        _ => n / 1_000_000_000,
    }
}

/// Field names, most specific first: journald's, then the usual
/// application ones.
const MESSAGE_KEYS: [&str; 5] = ["MESSAGE", "message", "msg", "log", "text"];
const TIME_KEYS: [&str; 6] = [
    "__REALTIME_TIMESTAMP",
    "time",
    "ts",
    "timestamp",
    "@timestamp",
    "t",
];
const LEVEL_KEYS: [&str; 5] = ["PRIORITY", "level", "severity", "lvl", "loglevel"];
const SOURCE_KEYS: [&str; 8] = [
    "_SYSTEMD_UNIT",
    "SYSLOG_IDENTIFIER",
    "unit",
    "source",
    "logger",
    "service",
    "component",
    "app",
];
const HOST_KEYS: [&str; 3] = ["_HOSTNAME", "host", "hostname"];

/// syslog priorities, as journald's PRIORITY numbers them.
const PRIORITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// A JSON-per-line entry: journald export or an application's own. `None`
/// when the line is not a JSON object with a message field.
fn json_entry(line: &str, now: i64) -> Option<Entry<'static>> {
    if !line.trim_start().starts_with('{') {
        return None;
    }
    let object: Map<String, Value> = serde_json::from_str(line).ok()?;
    let field = |keys: &[&str]| keys.iter().find_map(|k| object.get(*k));
    let message = field(&MESSAGE_KEYS).and_then(json_text)?;
    let time = field(&TIME_KEYS).and_then(|v| match v {
        // journald's __REALTIME_TIMESTAMP is a string of microseconds.
        Value::String(s) => time_of_text(s, now),
        Value::Number(n) => n.as_f64().map(|f| epoch_of_number(f as i64)),
        _ => None,
    });
    let level = field(&LEVEL_KEYS).and_then(json_text).map(|l| {
        match l.parse::<usize>().ok().and_then(|p| PRIORITIES.get(p)) {
            Some(name) => name.to_string(),
            None => l,
        }
    });
    let source = field(&SOURCE_KEYS).and_then(json_text);
    let host = field(&HOST_KEYS).and_then(json_text);
    let source = match (host, source) {
        (Some(h), Some(s)) => Some(format!("{h}/{s}")),
        (h, s) => s.or(h),
    };
    Some(Entry {
        time,
        level: level.map(Cow::Owned),
        source: source.map(Cow::Owned),
        message: Cow::Owned(message),
    })
}

/// A field as text: strings as they are, numbers printed, and journald's
/// byte arrays (a MESSAGE that is not UTF-8) decoded lossily.
fn json_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => {
            let bytes: Option<Vec<u8>> = items
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect();
            bytes.map(|b| String::from_utf8_lossy(&b).into_owned())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_287_720;

    fn split(splitter: &mut Splitter, line: &str) -> Option<(Option<String>, String, String)> {
        splitter.split(line, NOW).map(|e| {
            (
                e.source.map(|s| s.into_owned()),
                e.level.map_or(String::new(), |l| l.into_owned()),
                e.message.into_owned(),
            )
        })
    }

    #[test]
    fn journald_export_lines_give_unit_priority_time_and_message() {
        let line = r#"{"__REALTIME_TIMESTAMP":"1795287720123456","_HOSTNAME":"web1","_SYSTEMD_UNIT":"ssh.service","SYSLOG_IDENTIFIER":"sshd","PRIORITY":"6","MESSAGE":"Accepted publickey for deploy from 10.0.0.1 port 22"}"#;
        let entry = Splitter::new(None, None).unwrap().split(line, NOW).unwrap();
        assert_eq!(entry.time, Some(NOW));
        assert_eq!(entry.source.as_deref(), Some("web1/ssh.service"));
        assert_eq!(entry.level.as_deref(), Some("info"));
        assert_eq!(
            entry.message,
            "Accepted publickey for deploy from 10.0.0.1 port 22"
        );
        let bytes = r#"{"MESSAGE":[104,105,255],"SYSLOG_IDENTIFIER":"kernel"}"#;
        assert_eq!(
            split(&mut Splitter::new(None, None).unwrap(), bytes),
            Some((Some("kernel".into()), String::new(), "hi\u{fffd}".into()))
        );
    }

    #[test]
    fn application_json_lines_give_their_fields() {
        let line = r#"{"time":"2026-11-21T19:02:00Z","level":"warn","logger":"db","msg":"slow query 250ms"}"#;
        let entry = Splitter::new(None, None).unwrap().split(line, NOW).unwrap();
        assert_eq!(entry.time, Some(NOW));
        assert_eq!(entry.source.as_deref(), Some("db"));
        assert_eq!(entry.level.as_deref(), Some("warn"));
        assert_eq!(entry.message, "slow query 250ms");
        let millis = r#"{"ts":1795287720500,"message":"up"}"#;
        assert_eq!(
            Splitter::new(None, None)
                .unwrap()
                .split(millis, NOW)
                .unwrap()
                .time,
            Some(NOW)
        );
        // Braces that are not a JSON message are plain text.
        assert_eq!(
            split(
                &mut Splitter::new(None, None).unwrap(),
                "{not json} 3 things"
            ),
            Some((None, String::new(), "{not json} 3 things".into()))
        );
        assert_eq!(
            split(&mut Splitter::new(None, None).unwrap(), r#"{"other":1}"#)
                .unwrap()
                .2,
            r#"{"other":1}"#
        );
    }

    #[test]
    fn a_format_regex_names_its_parts() {
        let mut s = Splitter::new(
            None,
            Some(r"^(?P<ts>\S+) (?P<source>\w+)\[(?P<level>\w+)\] (?P<msg>.*)$"),
        )
        .unwrap();
        assert_eq!(
            split(&mut s, "2026-11-21T19:02:00Z api[ERROR] upstream timed out"),
            Some((
                Some("api".into()),
                "ERROR".into(),
                "upstream timed out".into()
            ))
        );
        assert_eq!(
            s.split("2026-11-21T19:02:00Z api[ERROR] x", NOW)
                .unwrap()
                .time,
            Some(NOW)
        );
        assert_eq!(split(&mut s, "something else"), None);
    }

    #[test]
    fn bad_regexes_are_named_in_the_error() {
        let err = Splitter::new(None, Some("^(?P<msg>.*")).unwrap_err();
        assert_eq!(
            err.message,
            "--format-regex \"^(?P<msg>.*\": unclosed group at column 2"
        );
        let err = Splitter::new(None, Some(r"(?P<message>.*)")).unwrap_err();
        assert!(err.message.contains("(?P<msg>...)"), "{}", err.message);
        assert!(Splitter::new(Some("<Content>"), Some("(?P<msg>.*)")).is_err());
    }
}
