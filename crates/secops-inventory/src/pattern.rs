//! `--limit`: Ansible's host patterns, read exactly as ansible-core 2.19
//! reads `--limit` (its `InventoryManager.subset`), or refused.
//!
//! A pattern is split into terms at `,` (or, with no comma, at `:` outside
//! brackets unless the whole pattern is one address such as `db1:2222`);
//! `@FILE` adds one term per line of FILE. Plain terms are a union, `&term`
//! intersects with it and `!term` removes from it, whatever their order;
//! with no plain term the union is `all`. A term is a host name, or a
//! shell glob (`web*`, `db[!3]`, Python's fnmatch) or a `~regex` (Python's
//! `re.match`: anchored at the start only) matched against group names
//! (taking each matching group's hosts and its children's) and, for globs
//! and regexes or when no group matched, against host names. A term may end
//! in a subscript on that list: `web[0]`, `web[-1]`, `web[1:3]`, `web[2:]`.
//!
//! Where Ansible would only warn, this refuses: a term that matches no group
//! and no host is an error (so a misspelt exclusion can never exclude
//! nothing); `localhost` is the one exception, as in Ansible, and selects
//! nothing unless the inventory has it. Also refused is anything
//! whose meaning could differ from Ansible's: regex features the two regex
//! engines read differently, and a subscript on a list whose order Ansible
//! leaves to chance (see [`Universe::hosts_of`]).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use regex_automata::meta::Regex;

use secops_common::Error;

use crate::{Group, Inventory, Server, address};

/// Narrows `hosts` (already selected) to those `pattern` selects from the
/// inventory; without one, from `hosts` themselves, all ungrouped.
pub fn apply(
    pattern: &str,
    inventory: Option<&Inventory>,
    hosts: Vec<Server>,
) -> Result<Vec<Server>, Error> {
    let universe = Universe::new(inventory, &hosts);
    let selected = universe
        .select(pattern)
        .map_err(|why| Error::bad_input(format!("--limit {pattern:?}: {why}")))?;
    let keep: Vec<bool> = hosts
        .iter()
        .map(|h| {
            universe
                .by_name
                .get(h.name.as_str())
                .is_some_and(|&i| selected[i])
        })
        .collect();
    Ok(hosts
        .into_iter()
        .zip(keep)
        .filter_map(|(h, k)| k.then_some(h))
        .collect())
}

/// The hosts and groups a pattern is matched against, in Ansible's order.
struct Universe<'a> {
    names: Vec<&'a str>,
    groups: Cow<'a, [Group]>,
    by_name: HashMap<&'a str, usize>,
    /// The inventory's path, for errors.
    place: String,
    /// Whether a regex may use `\w`, `\d`, `\s`, `\b`: every name is
    /// printable ASCII, where Python's and Rust's classes agree.
    ascii: bool,
}

/// Python's `C.LOCALHOST`: names Ansible answers with an implicit host.
const LOCALHOST: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

impl<'a> Universe<'a> {
    /// The inventory's hosts, then any of `hosts` it lacks (ssh-config
    /// aliases from `--hosts`) as ungrouped hosts.
    fn new(inventory: Option<&'a Inventory>, hosts: &'a [Server]) -> Universe<'a> {
        let mut names: Vec<&str> = inventory
            .map(|inv| inv.servers.iter().map(|s| s.name.as_str()).collect())
            .unwrap_or_default();
        let mut by_name: HashMap<&str, usize> =
            names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let first_alias = names.len();
        for h in hosts {
            if !by_name.contains_key(h.name.as_str()) {
                by_name.insert(&h.name, names.len());
                names.push(&h.name);
            }
        }
        let groups = match inventory {
            Some(inv) if names.len() == first_alias => Cow::Borrowed(&inv.groups[..]),
            _ => {
                let mut groups = inventory.map_or_else(Group::builtin, |inv| inv.groups.clone());
                groups[crate::UNGROUPED]
                    .hosts
                    .extend(first_alias..names.len());
                Cow::Owned(groups)
            }
        };
        let ascii = names
            .iter()
            .copied()
            .chain(groups.iter().map(|g| g.name.as_str()))
            .all(|n| n.bytes().all(|b| b.is_ascii_graphic()));
        let place = inventory.map_or_else(
            || "the selected hosts".to_string(),
            |inv| inv.path.display().to_string(),
        );
        Universe {
            place,
            names,
            groups,
            by_name,
            ascii,
        }
    }

    /// Which hosts the pattern selects, by index in `names`.
    fn select(&self, pattern: &str) -> Result<Vec<bool>, String> {
        let terms = terms(pattern)?;
        let (mut plain, mut and, mut not) = (Vec::new(), Vec::new(), Vec::new());
        for term in &terms {
            match term.as_bytes()[0] {
                b'!' => not.push(&term[1..]),
                b'&' => and.push(&term[1..]),
                _ => plain.push(term.as_str()),
            }
        }
        if plain.is_empty() {
            plain.push("all");
        }
        let mut selected = vec![false; self.names.len()];
        for term in plain {
            // Ansible takes a term that is exactly a host's name as that
            // host, before any group or glob.
            if let Some(&h) = self.by_name.get(term) {
                selected[h] = true;
                continue;
            }
            for h in self.matches(term)? {
                selected[h] = true;
            }
        }
        for term in and {
            let mut in_term = vec![false; self.names.len()];
            for h in self.matches(term)? {
                in_term[h] = true;
            }
            selected.iter_mut().zip(in_term).for_each(|(s, t)| *s &= t);
        }
        for term in not {
            for h in self.matches(term)? {
                selected[h] = false;
            }
        }
        Ok(selected)
    }

    /// One term's hosts, in Ansible's order, duplicates kept (a subscript
    /// counts them as Ansible does).
    fn matches(&self, term: &str) -> Result<Vec<usize>, String> {
        if term.is_empty() {
            return Err("an empty term after '&' or '!'".to_string());
        }
        let (expr, subscript, matcher) = match term.strip_prefix('~') {
            Some(re) => (term, None, regex(re, self.ascii)?),
            None => {
                let (expr, subscript) = split_subscript(term);
                (expr, subscript, glob(expr)?)
            }
        };
        let mut hosts = Vec::new();
        let mut ordered = true;
        let mut any_group = false;
        for (g, group) in self.groups.iter().enumerate() {
            if matcher.is_match(group.name.as_str()) {
                any_group = true;
                let (list, fixed) = self.hosts_of(g);
                ordered &= fixed;
                hosts.extend(list);
            }
        }
        if !any_group || expr.starts_with('~') || expr.contains(['.', '?', '*', '[']) {
            hosts.extend((0..self.names.len()).filter(|&h| matcher.is_match(self.names[h])));
        }
        // Ansible answers these names with an implicit local host, which
        // `--limit` never selects (it is in no group, not even `all`).
        if hosts.is_empty() && !any_group && expr != "all" && !LOCALHOST.contains(&expr) {
            let verb = if expr.starts_with('~') || expr.contains(['?', '*', '[']) {
                "matches no group or host of"
            } else {
                "is not a group or host of"
            };
            return Err(if expr == term {
                format!("{term:?} {verb} {}", self.place)
            } else {
                format!("{term:?}: {expr:?} {verb} {}", self.place)
            });
        }
        match subscript {
            Some(subscript) if !hosts.is_empty() => {
                if !ordered {
                    return Err(format!(
                        "{term:?}: Ansible leaves the order of these hosts to chance (their groups nest under more than one group at the same depth), so a subscript could pick other hosts than Ansible would; name the hosts instead"
                    ));
                }
                subscript
                    .apply(hosts)
                    .ok_or_else(|| format!("no hosts matched the subscripted pattern {term:?}"))
            }
            _ => Ok(hosts),
        }
    }

    /// Ansible's `Group.get_hosts()`: the group's own hosts, then those of
    /// its descendants, first seen first. Descendants are walked a level at
    /// a time; within a level Ansible iterates a Python `set` of groups,
    /// whose order changes from run to run, so the order is fixed (the
    /// second value) only while at most one group of each level brings new
    /// children.
    fn hosts_of(&self, group: usize) -> (Vec<usize>, bool) {
        let children = |g: usize| &self.groups[g].children;
        let mut ordered = vec![group];
        ordered.extend(children(group));
        let mut seen: HashSet<usize> = HashSet::new();
        let mut level: Vec<usize> = Vec::new();
        for &g in &ordered {
            if !level.contains(&g) {
                level.push(g);
            }
        }
        let mut fixed = true;
        while !level.is_empty() {
            seen.extend(&level);
            let mut next: Vec<usize> = Vec::new();
            let mut in_next: HashSet<usize> = HashSet::new();
            let mut bringing = 0;
            for &g in &level {
                let mut brought = false;
                for &c in children(g) {
                    if in_next.insert(c) {
                        next.push(c);
                    }
                    if !seen.contains(&c) {
                        ordered.push(c);
                        brought = true;
                    }
                }
                bringing += usize::from(brought);
            }
            fixed &= bringing <= 1;
            next.retain(|c| !seen.contains(c));
            level = next;
        }
        let mut hosts = Vec::new();
        let mut taken: HashSet<usize> = HashSet::new();
        for g in ordered {
            for &h in &self.groups[g].hosts {
                if taken.insert(h) {
                    hosts.push(h);
                }
            }
        }
        (hosts, fixed)
    }
}

/// Ansible's `split_host_pattern`, then `@FILE` limits read a term a line.
fn terms(pattern: &str) -> Result<Vec<String>, String> {
    let split: Vec<&str> = if pattern.contains(',') {
        pattern.split(',').collect()
    } else if address::parse(pattern).is_some() {
        vec![pattern]
    } else {
        TERM.find_iter(pattern)
            .map(|m| &pattern[m.range()])
            .collect()
    };
    let mut terms = Vec::new();
    for term in split.into_iter().map(str::trim).filter(|t| !t.is_empty()) {
        match term.strip_prefix('@') {
            Some(file) => {
                let text = crate::read_text(std::path::Path::new(file))
                    .map_err(|err| format!("limit file: {err}"))?;
                terms.extend(
                    text.split('\n')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(String::from),
                );
            }
            None => terms.push(term.to_string()),
        }
    }
    if terms.is_empty() {
        return Err("no terms".to_string());
    }
    Ok(terms)
}

/// What `split_host_pattern` takes for terms when there is no comma:
/// runs of anything but whitespace, `:` and brackets, or whole `[...]`.
static TERM: LazyLock<Regex> = LazyLock::new(|| address::compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+"));

/// `[3]`, `[-1]`, `[1:3]` (both ends included), `[2:]`, and the old
/// `[1-3]`, as Ansible reads them.
#[derive(Debug, Clone, Copy)]
enum Subscript {
    Index(i64),
    /// `end` of `None` runs to the last host.
    Slice {
        start: u64,
        end: Option<u64>,
    },
}

/// Ansible's `_split_subscript`: the term without its subscript, and the
/// subscript. Only digits, `-` and `:` can be inside it, so it starts at
/// the last `[`.
fn split_subscript(term: &str) -> (&str, Option<Subscript>) {
    let Some(open) = term.strip_suffix(']').and_then(|t| t.rfind('[')) else {
        return (term, None);
    };
    let (expr, inner) = (&term[..open], &term[open + 1..term.len() - 1]);
    if expr.is_empty() {
        return (term, None);
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let number = |s: &str| s.parse::<u64>().unwrap_or(u64::MAX);
    let single = inner.strip_prefix('-').unwrap_or(inner);
    if digits(single) {
        let n = i64::try_from(number(single)).unwrap_or(i64::MAX);
        let n = if single.len() < inner.len() { -n } else { n };
        return (expr, Some(Subscript::Index(n)));
    }
    let Some(sep) = inner.find([':', '-']) else {
        return (term, None);
    };
    let (start, end) = (&inner[..sep], &inner[sep + 1..]);
    if !digits(start) || !(end.is_empty() || digits(end)) {
        return (term, None);
    }
    let end = (!end.is_empty()).then(|| number(end));
    (
        expr,
        Some(Subscript::Slice {
            start: number(start),
            end,
        }),
    )
}

impl Subscript {
    /// `None` where Python raises `IndexError`: an index past either end.
    /// Python's quirks kept: `[2:0]` is `[2]` (an end of 0 is "no end").
    fn apply(self, hosts: Vec<usize>) -> Option<Vec<usize>> {
        let len = hosts.len() as u64;
        let at = |i: i64| {
            let i = if i < 0 {
                len.checked_sub(i.unsigned_abs())?
            } else {
                i as u64
            };
            (i < len).then(|| vec![hosts[i as usize]])
        };
        match self {
            Subscript::Index(i) => at(i),
            Subscript::Slice {
                start,
                end: Some(0),
            } => at(i64::try_from(start).ok()?),
            Subscript::Slice { start, end } => {
                let end = end.map_or(len, |e| e.saturating_add(1).min(len));
                let start = start.min(end);
                Some(hosts[start as usize..end as usize].to_vec())
            }
        }
    }
}

/// A shell glob as Python's `fnmatch.translate` reads it: `*`, `?`,
/// `[abc]`, `[a-z]`, `[!abc]`, everything else literal (a backslash too),
/// matched against the whole name.
fn glob(pattern: &str) -> Result<Regex, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut re = String::from(r"(?s)\A(?:");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => {
                if !re.ends_with(".*") {
                    re.push_str(".*");
                }
            }
            '?' => re.push('.'),
            '[' => {
                let mut j = i;
                if chars.get(j) == Some(&'!') {
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    re.push_str(r"\[");
                    continue;
                }
                let class = bracket(&chars, i, j)
                    .ok_or_else(|| format!("invalid glob {pattern:?} (Ansible refuses it too)"))?;
                re.push_str(&class);
                i = j + 1;
            }
            c => push_literal(&mut re, c),
        }
    }
    re.push_str(r")\z");
    Regex::new(&re).map_err(|err| format!("invalid glob {pattern:?}: {err}"))
}

/// The class `fnmatch.translate` makes of `pat[start..end]` (between the
/// brackets), as a Rust class; `None` where Python raises. Hyphens split
/// the text into chunks; each hyphen between two chunks is a range from
/// the last character of one to the first of the next, every other
/// character is literal, and a range running backwards is dropped with
/// its two ends (Python's rules, kept to the letter).
fn bracket(pat: &[char], start: usize, end: usize) -> Option<String> {
    let negated = pat[start] == '!';
    let stuff = &pat[start..end];
    let mut chunks: Vec<Vec<char>> = Vec::new();
    if !stuff.contains(&'-') {
        chunks.push(stuff.to_vec());
    } else {
        let mut i = start;
        let mut k = if negated { i + 2 } else { i + 1 };
        while let Some(found) = (k..end).find(|&x| pat[x] == '-') {
            chunks.push(pat[i..found].to_vec());
            i = found + 1;
            k = found + 3;
        }
        let last = pat[i..end].to_vec();
        if last.is_empty() {
            chunks.last_mut()?.push('-');
        } else {
            chunks.push(last);
        }
        for k in (1..chunks.len()).rev() {
            if chunks[k - 1].last()? > chunks[k].first()? {
                let tail = chunks.remove(k);
                let merged = &mut chunks[k - 1];
                merged.pop();
                merged.extend(&tail[1..]);
            }
        }
    }
    // Ranges join the chunks; the rest of each chunk is literal.
    let mut literals: Vec<char> = chunks.concat();
    let mut ranges = Vec::new();
    for pair in chunks.windows(2) {
        let (lo, hi) = (*pair[0].last()?, *pair[1].first()?);
        ranges.push((lo, hi));
    }
    if negated {
        literals.remove(0);
    }
    if literals.is_empty() && ranges.is_empty() {
        // Python: `(?!)` (never) for an empty set, `.` for `[!]`.
        return Some(if negated {
            ".".into()
        } else {
            r"[^\x00-\x{10FFFF}]".into()
        });
    }
    let mut class = String::from(if negated { "[^" } else { "[" });
    for c in literals {
        class.push_str(&format!(r"\x{{{:X}}}", c as u32));
    }
    for (lo, hi) in ranges {
        class.push_str(&format!(r"\x{{{:X}}}-\x{{{:X}}}", lo as u32, hi as u32));
    }
    class.push(']');
    Some(class)
}

/// Adds `c` to a Rust regex as a literal.
fn push_literal(re: &mut String, c: char) {
    if c.is_ascii_punctuation() || c == ' ' {
        re.push('\\');
    }
    re.push(c);
}

/// A `~regex` term as Python's `re.match` reads it (anchored at the start
/// only), in the part of Python's syntax that Rust's regex engine reads
/// the same way: literals, `.`, `^`, `$`, `\A`, `\Z`, `|`, groups `( )`,
/// `(?: )` and `(?P<name> )`, the quantifiers `* + ? {m} {m,} {m,n} {,n}`
/// and their lazy forms, classes `[...]` of characters and ranges, and
/// `\d \w \s \b` (with their negations) when every name is ASCII.
/// Anything else is refused, naming it: flags, look-around,
/// back-references, possessive quantifiers, escapes such as `\n`, and
/// class syntax Rust reads as nesting or set operations.
fn regex(pattern: &str, ascii: bool) -> Result<Regex, String> {
    let refuse = |what: &str| {
        Err(format!(
            "~{pattern}: {what} is not supported in a ~regex term (Python and Rust read it differently, or not at all)"
        ))
    };
    let chars: Vec<char> = pattern.chars().collect();
    let mut re = String::from(r"\A(?:");
    // Whether the last thing written can take a quantifier.
    let mut atom = false;
    // Whether the last thing written was a quantifier (for lazy `?`).
    let mut quantified = false;
    // Where each open group's contents start in `re`.
    let mut groups: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        let was_quantified = std::mem::replace(&mut quantified, false);
        match c {
            '\\' => {
                let Some(&e) = chars.get(i) else {
                    return refuse("a trailing backslash");
                };
                i += 1;
                match e {
                    'd' | 'D' | 'w' | 'W' | 's' | 'S' => {
                        if !ascii {
                            return refuse("a \\d, \\w or \\s class with non-ASCII names");
                        }
                        re.push('\\');
                        re.push(e);
                        atom = true;
                    }
                    'b' | 'B' if ascii => {
                        re.push('\\');
                        re.push(e);
                        atom = false;
                    }
                    'A' => {
                        re.push_str(r"\A");
                        atom = false;
                    }
                    'Z' => {
                        re.push_str(r"\z");
                        atom = false;
                    }
                    e if !e.is_alphanumeric() && e != '\n' => {
                        push_literal(&mut re, e);
                        atom = true;
                    }
                    e => return refuse(&format!("the escape \\{e}")),
                }
            }
            '(' => {
                if chars.get(i) == Some(&'?') {
                    let rest: String = chars[i..].iter().collect();
                    if rest.starts_with("?:") {
                        i += 2;
                        re.push_str("(?:");
                    } else if let Some(name) = rest
                        .strip_prefix("?P<")
                        .and_then(|r| r.split_once('>'))
                        .map(|(n, _)| n)
                        .filter(|n| {
                            n.chars()
                                .next()
                                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        })
                    {
                        i += 3 + name.len() + 1;
                        re.push_str(&format!("(?P<{name}>"));
                    } else {
                        return refuse("a (? group other than (?: and (?P<name>");
                    }
                } else {
                    re.push('(');
                }
                groups.push(re.len());
                atom = false;
            }
            ')' => {
                let Some(start) = groups.pop() else {
                    return refuse("an unbalanced parenthesis");
                };
                atom = re.len() > start;
                re.push(')');
            }
            '|' | '^' | '$' => {
                re.push(c);
                atom = false;
            }
            '.' => {
                re.push('.');
                atom = true;
            }
            '*' | '+' | '?' | '{' => {
                let quantifier = if c == '{' {
                    counted(&chars[i..]).map_err(|what| {
                        format!("~{pattern}: {what} is not a valid repeat (Ansible refuses it too)")
                    })?
                } else {
                    Some((c.to_string(), 0))
                };
                match quantifier {
                    None => {
                        // Python reads a `{` that starts no count as itself.
                        push_literal(&mut re, '{');
                        atom = true;
                    }
                    Some(_) if c == '?' && was_quantified => {
                        re.push('?');
                    }
                    Some(_) if c == '+' && was_quantified => {
                        return refuse("a possessive quantifier");
                    }
                    Some(_) if !atom => return refuse(&format!("{c} with nothing to repeat")),
                    Some((text, used)) => {
                        i += used;
                        re.push_str(&text);
                        atom = false;
                        quantified = true;
                    }
                }
            }
            '[' => {
                let (class, used) = regex_class(&chars[i..], ascii).map_err(|what| {
                    format!("~{pattern}: {what} is not supported in a ~regex term")
                })?;
                i += used;
                re.push_str(&class);
                atom = true;
            }
            c => {
                push_literal(&mut re, c);
                atom = true;
            }
        }
    }
    if !groups.is_empty() {
        return refuse("an unbalanced parenthesis");
    }
    re.push(')');
    Regex::new(&re).map_err(|err| format!("~{pattern}: invalid regex: {err}"))
}

/// After a `{`: `m}`, `m,}`, `m,n}` or `,n}` (Python's `{,}` too) as a
/// Rust quantifier and the characters it used; `None` when Python reads
/// the `{` as itself.
fn counted(rest: &[char]) -> Result<Option<(String, usize)>, String> {
    let Some(close) = rest.iter().position(|&c| c == '}') else {
        return Ok(None);
    };
    let inner: String = rest[..close].iter().collect();
    let (lo, hi) = match inner.split_once(',') {
        Some((lo, hi)) => (lo, Some(hi)),
        None => (inner.as_str(), None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if inner.is_empty() || !digits(lo) || !hi.is_none_or(digits) {
        return Ok(None);
    }
    let number = |s: &str| {
        s.parse::<u32>()
            .map_err(|_| format!("the count {{{inner}}}"))
    };
    let lo_n = if lo.is_empty() { 0 } else { number(lo)? };
    let text = match hi {
        None => format!("{{{lo_n}}}"),
        Some("") => format!("{{{lo_n},}}"),
        Some(hi) => {
            let hi_n = number(hi)?;
            if hi_n < lo_n {
                return Err(format!("the backward count {{{inner}}}"));
            }
            format!("{{{lo_n},{hi_n}}}")
        }
    };
    Ok(Some((text, close + 1)))
}

/// A `[...]` class of a `~regex`, after its `[`, read item by item as
/// Python's `sre_parse` does (a `]` first is literal, `x-y` a range, `-`
/// before the `]` literal): the Rust class and the characters used. Every
/// character is written as `\x{..}`, so none means more in Rust (nesting,
/// `&&`, `--`) than in Python.
fn regex_class(rest: &[char], ascii: bool) -> Result<(String, usize), String> {
    let unterminated = || "an unterminated [ class".to_string();
    let hex = |c: char| format!(r"\x{{{:X}}}", c as u32);
    let mut out = String::from("[");
    let mut i = 0;
    if rest.first() == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let mut items = 0;
    // One item at `rest[*i]`: a character, or a class escape (`None`,
    // written to `out` at once).
    let item = |i: &mut usize, out: &mut String| -> Result<Option<char>, String> {
        let c = *rest.get(*i).ok_or_else(unterminated)?;
        *i += 1;
        if c != '\\' {
            return Ok(Some(c));
        }
        let e = *rest.get(*i).ok_or_else(unterminated)?;
        *i += 1;
        match e {
            'd' | 'D' | 'w' | 'W' | 's' | 'S' if ascii => {
                out.push('\\');
                out.push(e);
                Ok(None)
            }
            e if !e.is_alphanumeric() && e != '\n' => Ok(Some(e)),
            e => Err(format!("the escape \\{e} in a class")),
        }
    };
    loop {
        if rest.get(i) == Some(&']') && items > 0 {
            i += 1;
            break;
        }
        let lo = item(&mut i, &mut out)?;
        items += 1;
        if rest.get(i) != Some(&'-') {
            if let Some(c) = lo {
                out.push_str(&hex(c));
            }
            continue;
        }
        i += 1;
        match rest.get(i) {
            None => return Err(unterminated()),
            Some(']') => {
                if let Some(c) = lo {
                    out.push_str(&hex(c));
                }
                out.push_str(&hex('-'));
                i += 1;
                break;
            }
            Some(_) => {
                let hi = item(&mut i, &mut out)?;
                match (lo, hi) {
                    (Some(lo), Some(hi)) if lo <= hi => {
                        out.push_str(&format!("{}-{}", hex(lo), hex(hi)));
                    }
                    (Some(lo), Some(hi)) => return Err(format!("the backward range {lo}-{hi}")),
                    _ => return Err("a range with a class escape at one end".to_string()),
                }
            }
        }
    }
    out.push(']');
    Ok((out, i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, parse};

    /// The twelve hosts of the issue's inventory (Ansible's verdicts were
    /// taken from ansible-core 2.19; tests/ansible_oracle.rs asks it live).
    fn names(pattern: &str) -> Result<Vec<String>, String> {
        let text =
            "[group01]\ntest0[1:6]\n[group02]\ntest0[7:9]\ntest1[0:2]\n[web:children]\ngroup01\n";
        let (servers, groups) = parse(Format::AnsibleIni, text).unwrap();
        let inv = Inventory {
            path: "hosts.ini".into(),
            servers,
            groups,
        };
        apply(pattern, Some(&inv), inv.servers.clone())
            .map(|hosts| hosts.into_iter().map(|h| h.name).collect())
            .map_err(|err| err.message)
    }

    fn count(pattern: &str) -> usize {
        names(pattern).unwrap().len()
    }

    #[test]
    fn exclusions_exclude_what_ansible_excludes() {
        assert_eq!(count("all:!~test0[1-3]"), 9);
        assert_eq!(count("all:!group01[0]"), 11);
        assert!(!names("all:!group01[0]").unwrap().contains(&"test01".into()));
        assert!(
            !names("all:!group01[-1]")
                .unwrap()
                .contains(&"test06".into())
        );
        assert_eq!(
            count("!group02"),
            6,
            "no plain term: all, less the exclusions"
        );
        assert_eq!(
            count("!group02,group01,&web"),
            6,
            "order of terms does not matter"
        );
    }

    #[test]
    fn subscripts_index_and_slice_as_python_does() {
        assert_eq!(
            names("group01[1:3]").unwrap(),
            ["test02", "test03", "test04"]
        );
        assert_eq!(names("group01[4:]").unwrap(), ["test05", "test06"]);
        assert_eq!(
            names("group01[2:0]").unwrap(),
            ["test03"],
            "an end of 0 means none"
        );
        assert_eq!(names("group01[1-2]").unwrap(), ["test02", "test03"]);
        assert_eq!(names("group01[9:12]").unwrap(), Vec::<String>::new());
        let err = names("group01[6]").unwrap_err();
        assert!(
            err.contains("no hosts matched the subscripted pattern"),
            "{err}"
        );
        // A subscript, not a glob class: there is no group0.
        let err = names("group0[12]").unwrap_err();
        assert!(
            err.contains("\"group0[12]\": \"group0\" is not a group or host of hosts.ini"),
            "{err}"
        );
    }

    #[test]
    fn globs_and_regexes_follow_python() {
        assert_eq!(count("test0[!1-8]"), 1);
        assert_eq!(count("~test1"), 3, "re.match: anchored at the start only");
        assert_eq!(count("~test.*2$"), 2);
        assert_eq!(count("~.*2$"), 7, "group02's six hosts, and test02");
        assert_eq!(count("group0?"), 12);
        // `[1-3]` at the end is a subscript (Ansible's old range form), so
        // this is hosts 1 to 3 of a group "test0", which does not exist.
        assert!(names("test0[1-3],test1*").is_err());
        let err = names("~(?i)TEST").unwrap_err();
        assert!(err.contains("is not supported in a ~regex term"), "{err}");
        let err = names("~(t)\\1").unwrap_err();
        assert!(err.contains("the escape \\1"), "{err}");
        assert!(
            names("tset*")
                .unwrap_err()
                .contains("matches no group or host")
        );
    }

    #[test]
    fn terms_split_as_ansible_splits_them() {
        assert_eq!(terms("a:b").unwrap(), ["a", "b"]);
        assert_eq!(terms("a, b:c").unwrap(), ["a", "b:c"], "commas first");
        assert_eq!(terms("db1:2222").unwrap(), ["db1:2222"], "one address");
        assert_eq!(terms("g[1:3]:h").unwrap(), ["g[1:3]", "h"]);
        assert_eq!(terms("fe80::1").unwrap(), ["fe80::1"]);
        assert!(terms(" , ").is_err());
    }
}
