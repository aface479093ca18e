//! Ansible's `parse_address(text, allow_ranges=True)`: a host name, IPv4
//! or IPv6 address (each maybe with `[x:y]` ranges) and an optional port.
//! Ansible asks it where a host line's name ends and its port begins
//! (`db1:2222`, `[::1]:2200`), and whether a pattern without commas is
//! one address (`db1:2222`) or terms joined by `:`; so does this crate.

use std::sync::LazyLock;

use regex_automata::meta::Regex;

/// The host part and the port's digits, or `None` where Ansible's
/// `parse_address` raises.
pub fn parse(text: &str) -> Option<(&str, Option<&str>)> {
    let mut host = text;
    let mut port = None;
    // Both forms are tried in turn, as Ansible does: `[a:1]:22` is `a`, 1.
    for hostport in [&*BRACKETED_HOSTPORT, &*HOSTPORT] {
        let mut caps = hostport.create_captures();
        hostport.captures(host, &mut caps);
        if let (Some(h), Some(p)) = (caps.get_group(1), caps.get_group(2)) {
            port = Some(&host[p.range()]);
            host = &host[h.range()];
        }
    }
    [&*IPV4, &*IPV6, &*HOSTNAME]
        .iter()
        .any(|re| re.is_match(host))
        .then_some((host, port))
}

const NUMERIC_RANGE: &str = r"\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]";
const HEX_RANGE: &str = r"\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]";
const ALNUM_RANGE: &str = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]";

static BRACKETED_HOSTPORT: LazyLock<Regex> = LazyLock::new(|| compile(r"^\[(.+)\]:([0-9]+)$"));
static HOSTPORT: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$"));
static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    let part = format!("(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{NUMERIC_RANGE})");
    compile(&format!(r"(?i)^(?:{part}\.){{3}}{part}$"))
});
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    let c = format!("(?:[0-9a-f]{{1,4}}|{HEX_RANGE})");
    let forms = [
        format!("(?:{c}:){{7}}{c}"),
        format!("(?:{c}:){{1,6}}:"),
        format!("(?:{c}:)(?::{c}){{1,6}}"),
        format!("(?:{c}:){{2}}(?::{c}){{1,5}}"),
        format!("(?:{c}:){{3}}(?::{c}){{1,4}}"),
        format!("(?:{c}:){{4}}(?::{c}){{1,3}}"),
        format!("(?:{c}:){{5}}(?::{c}){{1,2}}"),
        format!("(?:{c}:){{6}}(?::{c})"),
        format!(":(?::{c}){{1,6}}"),
        format!("{c}?::"),
        format!(r"(?:0:){{6}}(?:{c}\.){{3}}{c}"),
        format!(r"::(?:ffff:)?(?:{c}\.){{3}}{c}"),
        format!(r"(?:0:){{5}}ffff:(?:{c}\.){{3}}{c}"),
    ];
    compile(&format!("(?i)^(?:{})$", forms.join("|")))
});
/// Python's label ends with `(?<![_-])`; without look-behind, a label is
/// one character that is not `_`, or ends in one (or in a range).
static HOSTNAME: LazyLock<Regex> = LazyLock::new(|| {
    let end = format!(r"(?:[^\W_]|{ALNUM_RANGE})");
    let label = format!(r"(?:{end}|(?:\w|{ALNUM_RANGE})(?:[\w-]|{ALNUM_RANGE})*{end})");
    compile(&format!(r"(?i)^{label}(?:\.{label})*$"))
});

pub(crate) fn compile(re: &str) -> Regex {
    Regex::new(re).expect("the pattern grammar's own regexes are valid")
}
