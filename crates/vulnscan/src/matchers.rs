//! The conditions a rule in the rules file can put on a port or a script
//! result, each checked while the file is read: a regex that does not
//! compile or a version comparison that does not parse is an error naming
//! the file, line and field, not a rule that silently never matches.

use std::cmp::Ordering;
use std::fmt;

use regex_automata::meta::Regex;
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use crate::ports::PortList;

/// A compiled regular expression (Rust regex syntax).
#[derive(Debug, Clone)]
pub struct Pattern {
    regex: Regex,
}

impl Pattern {
    pub fn new(source: &str) -> Result<Pattern, String> {
        Regex::new(source)
            .map(|regex| Pattern { regex })
            .map_err(|err| {
                let why = err
                    .syntax_error()
                    .map_or(err.to_string(), |e| e.to_string());
                // The syntax error draws the pattern over several lines.
                let why = why.lines().last().unwrap_or_default().trim().to_string();
                format!("invalid regular expression {source:?}: {why}")
            })
    }

    /// The first capture group of the leftmost match, or the whole match
    /// when the pattern has no groups; `None` when it does not match.
    pub fn find<'h>(&self, haystack: &'h str) -> Option<&'h str> {
        let mut caps = self.regex.create_captures();
        self.regex.captures(haystack, &mut caps);
        let span = caps
            .get_group(1)
            .or_else(|| caps.get_match().map(|m| m.span()))?;
        Some(&haystack[span])
    }

    pub fn is_match(&self, haystack: &str) -> bool {
        self.regex.is_match(haystack)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Pattern, D::Error> {
        let source = String::deserialize(d)?;
        Pattern::new(&source).map_err(de::Error::custom)
    }
}

/// A service, product or script id condition: one name or a list of
/// names (compared without regard to case), or `/regex/`.
#[derive(Debug, Clone)]
pub enum TextMatch {
    Names(Vec<String>),
    Regex(Pattern),
}

impl TextMatch {
    fn parse(text: &str) -> Result<TextMatch, String> {
        match text.strip_prefix('/').and_then(|t| t.strip_suffix('/')) {
            Some(source) => Pattern::new(source).map(TextMatch::Regex),
            None => Ok(TextMatch::Names(vec![text.to_string()])),
        }
    }

    /// A missing value (nmap named no product, say) never matches.
    pub fn matches(&self, value: Option<&str>) -> bool {
        let Some(value) = value else {
            return false;
        };
        match self {
            TextMatch::Names(names) => names.iter().any(|n| n.eq_ignore_ascii_case(value)),
            TextMatch::Regex(pattern) => pattern.is_match(value),
        }
    }
}

impl<'de> Deserialize<'de> for TextMatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TextMatch, D::Error> {
        struct OneOrMany;
        impl<'de> Visitor<'de> for OneOrMany {
            type Value = TextMatch;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a name, a list of names, or /regex/")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TextMatch, E> {
                TextMatch::parse(v).map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TextMatch, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    names.push(name);
                }
                Ok(TextMatch::Names(names))
            }
        }
        d.deserialize_any(OneOrMany)
    }
}

/// A port condition: `23` or `"8000-8100,9200"`.
#[derive(Debug, Clone)]
pub struct PortMatch(Vec<u16>);

impl PortMatch {
    pub fn matches(&self, port: u16) -> bool {
        self.0.binary_search(&port).is_ok()
    }
}

impl<'de> Deserialize<'de> for PortMatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PortMatch, D::Error> {
        struct Ports;
        impl Visitor<'_> for Ports {
            type Value = PortMatch;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a port number or a list like \"22,8000-8100\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PortMatch, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PortMatch, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PortMatch, E> {
                PortList::parse(v)
                    .map(|list| PortMatch(list.ports().to_vec()))
                    .map_err(|err| E::custom(err.message))
            }
        }
        d.deserialize_any(Ports)
    }
}

/// A version condition: comparisons joined by commas (`>= 7.0, < 7.4`),
/// a bare version that matches itself and its patch levels (`2.3.4`
/// matches `2.3.4` and `2.3.4p1`, not `2.3.40`), or `/regex/`.
#[derive(Debug, Clone)]
pub enum VersionMatch {
    All(Vec<(Op, Vec<Segment>)>),
    Regex(Pattern),
}

/// A comparison operator of [`VersionMatch`]; `Prefix` is the bare form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Prefix,
}

impl VersionMatch {
    fn parse(text: &str) -> Result<VersionMatch, String> {
        if let Some(source) = text.strip_prefix('/').and_then(|t| t.strip_suffix('/')) {
            return Pattern::new(source).map(VersionMatch::Regex);
        }
        let mut all = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            let (op, rest) = [
                ("<=", Op::Le),
                (">=", Op::Ge),
                ("<", Op::Lt),
                (">", Op::Gt),
                ("=", Op::Eq),
            ]
            .into_iter()
            .find_map(|(sym, op)| part.strip_prefix(sym).map(|rest| (op, rest.trim())))
            .unwrap_or((Op::Prefix, part));
            let segments = segments(rest);
            if segments.is_empty() || rest.contains(char::is_whitespace) {
                return Err(format!(
                    "invalid version condition {text:?}: expected e.g. \"< 7.4\", \">= 2.0, < 2.4\", \"2.3.4\" or /regex/"
                ));
            }
            all.push((op, segments));
        }
        Ok(VersionMatch::All(all))
    }

    /// Compares the version's first word (`9.2p1` of `9.2p1 Debian 2`).
    pub fn matches(&self, version: Option<&str>) -> bool {
        let Some(version) = version else {
            return false;
        };
        match self {
            VersionMatch::Regex(pattern) => pattern.is_match(version),
            VersionMatch::All(all) => {
                let have = segments(version.split_whitespace().next().unwrap_or(""));
                !have.is_empty()
                    && all.iter().all(|(op, want)| {
                        let order = have.cmp(want);
                        match op {
                            Op::Lt => order == Ordering::Less,
                            Op::Le => order != Ordering::Greater,
                            Op::Gt => order == Ordering::Greater,
                            Op::Ge => order != Ordering::Less,
                            Op::Eq => order == Ordering::Equal,
                            Op::Prefix => have.starts_with(want),
                        }
                    })
            }
        }
    }
}

impl<'de> Deserialize<'de> for VersionMatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<VersionMatch, D::Error> {
        struct Version;
        impl Visitor<'_> for Version {
            type Value = VersionMatch;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a version condition such as \"< 7.4\" or /regex/")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<VersionMatch, E> {
                VersionMatch::parse(v).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<VersionMatch, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<VersionMatch, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(Version)
    }
}

/// One piece of a version: a run of digits compared as a number, or a run
/// of letters; dots, dashes and the like only separate. Letters sort
/// before numbers, so `1.0rc1` < `1.0.1`, and a version sorts before its
/// own patch levels (`9.2` < `9.2p1`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Segment {
    Text(String),
    Number(u64),
}

fn segments(version: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut chars = version.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            let mut n: u64 = 0;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = n.saturating_mul(10).saturating_add(u64::from(d));
                chars.next();
            }
            out.push(Segment::Number(n));
        } else if c.is_alphabetic() {
            let mut text = String::new();
            while let Some(&c) = chars.peek().filter(|c| c.is_alphabetic()) {
                text.push(c.to_ascii_lowercase());
                chars.next();
            }
            out.push(Segment::Text(text));
        } else {
            chars.next();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(spec: &str, v: &str) -> bool {
        VersionMatch::parse(spec).unwrap().matches(Some(v))
    }

    #[test]
    fn versions_compare_by_number_not_by_text() {
        assert!(version("< 7.4", "7.2p2 Ubuntu 4"));
        assert!(!version("< 7.4", "7.10"));
        assert!(version(">= 2.0, < 2.4", "2.3.49"));
        assert!(!version(">= 2.0, < 2.4", "2.4.0"));
        assert!(version("< 9.2p1", "9.2"));
        assert!(version("< 1.0.1", "1.0rc1"));
        assert!(version("2.3.4", "2.3.4"));
        assert!(version("2.3.4", "2.3.4p1"));
        assert!(!version("2.3.4", "2.3.40"));
        assert!(!version("= 2.3.4", "2.3.4p1"));
        assert!(version("/^2\\.3\\.[0-4]$/", "2.3.4"));
        assert!(!VersionMatch::parse("< 1").unwrap().matches(None));
        assert!(VersionMatch::parse("<").is_err());
        assert!(VersionMatch::parse("< 7 .4").is_err());
    }

    #[test]
    fn names_ignore_case_and_regexes_search() {
        let names = TextMatch::Names(vec!["redis".into(), "mysql".into()]);
        assert!(names.matches(Some("MySQL")));
        assert!(!names.matches(Some("mysqlx")));
        assert!(!names.matches(None));
        let regex = TextMatch::parse("/(?i)elastic/").unwrap();
        assert!(regex.matches(Some("Elasticsearch REST API")));
        assert!(TextMatch::parse("/(/").is_err());
    }

    #[test]
    fn a_pattern_finds_its_first_group_or_the_whole_match() {
        let grade = Pattern::new("least strength: ([C-F])").unwrap();
        assert_eq!(grade.find("  least strength: D\n"), Some("D"));
        assert_eq!(grade.find("least strength: A"), None);
        let whole = Pattern::new("TRACE").unwrap();
        assert_eq!(whole.find("risky: TRACE"), Some("TRACE"));
    }
}
