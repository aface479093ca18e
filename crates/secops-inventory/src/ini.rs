//! Ansible's INI inventory: `[group]` sections of host lines
//! (`web[01:10].example.com ansible_user=ops`, `db1:2222`), `[group:vars]`
//! and `[group:children]`; hosts before any section are ungrouped.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex_automata::meta::Regex;

use crate::ansible::{self, Tree};
use crate::{address, hostrange};

enum Section {
    Hosts(usize),
    Vars(usize),
    Children(usize),
}

/// Errors read `LINE: problem`.
pub fn parse(text: &str) -> Result<Tree, String> {
    let mut tree = Tree::new();
    let mut section = Section::Hosts(crate::UNGROUPED);
    // Children named before their own section: Ansible adds each to its
    // parents when that section comes, so the children keep that order.
    let mut pending: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let at = |err: String| format!("{n}: {err}");
        if let Some((name, kind)) = header(line) {
            group_name(name).map_err(at)?;
            let g = tree.group(name, n).map_err(at)?;
            tree.declare(g);
            section = match kind {
                "" => Section::Hosts(g),
                "children" => Section::Children(g),
                "vars" => Section::Vars(g),
                other => {
                    return Err(at(format!(
                        "unknown section kind [{name}:{other}] (use :vars or :children)"
                    )));
                }
            };
            if !matches!(section, Section::Vars(_)) {
                tree.define(g);
                for parent in pending.remove(&g).unwrap_or_default() {
                    tree.child(parent, g);
                }
            }
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            return Err(at(format!(
                "malformed section header {line:?} (no spaces, one ':' before vars or children)"
            )));
        }
        match section {
            Section::Hosts(g) => host_line(&mut tree, g, line).map_err(at)?,
            Section::Vars(g) => {
                let (key, value) = line
                    .split_once('=')
                    .ok_or_else(|| at(format!("expected key=value, found {line:?}")))?;
                let key = key.trim();
                let value = python_literal(key, value.trim()).map_err(at)?;
                ansible::set_var(tree.group_vars(g), key, &value).map_err(at)?;
            }
            Section::Children(g) => {
                let name = line.split('#').next().unwrap_or_default().trim_end();
                if name.contains(char::is_whitespace) {
                    return Err(at(format!("expected one group name, found {line:?}")));
                }
                group_name(name).map_err(at)?;
                let child = tree.group(name, n).map_err(at)?;
                if tree.is_declared(child) {
                    tree.child(g, child);
                } else {
                    pending.entry(child).or_default().push(g);
                }
            }
        }
    }
    Ok(tree)
}

/// A `[name]` or `[name:kind]` header (a comment may follow) as Ansible's
/// section pattern reads it; `None` for any other line.
fn header(line: &str) -> Option<(&str, &str)> {
    let (inner, after) = line.strip_prefix('[')?.split_once(']')?;
    let after = after.trim_start();
    if !(after.is_empty() || after.starts_with('#')) {
        return None;
    }
    let (name, kind) = inner.split_once(':').unwrap_or((inner, ""));
    let word = |s: &str| s.chars().all(|c| c.is_alphanumeric() || c == '_');
    let valid = !name.is_empty()
        && !name.contains(char::is_whitespace)
        && word(kind)
        && kind.is_empty() != inner.contains(':');
    valid.then_some((name, kind))
}

/// `pattern[:port] key=value ...`
fn host_line(tree: &mut Tree, group: usize, line: &str) -> Result<(), String> {
    let words = words(line)?;
    let (pattern, vars) = words.split_first().expect("the line is not blank");
    let mut conn = ansible::Conn::default();
    // Where the name ends and a port begins is Ansible's parse_address's
    // call: `db1:2222`, `[::1]:2200`, but `fe80::1` is all name.
    let pattern = match address::parse(pattern) {
        Some((name, port)) => {
            if let Some(port) = port {
                conn.port = Some(ansible::port(port)?);
            }
            name
        }
        None if pattern.ends_with(':') => {
            return Err(format!(
                "host {pattern:?} ends in ':', which Ansible keeps for a port"
            ));
        }
        None => pattern.as_str(),
    };
    for var in vars {
        let (key, value) = var
            .split_once('=')
            .ok_or_else(|| format!("expected key=value after the host, found {var:?}"))?;
        ansible::set_var(&mut conn, key, &python_literal(key, value)?)?;
    }
    // Counted before any name is built, so a range too large for one
    // pattern, or for the whole file, costs nothing.
    let n = hostrange::count(pattern).map_err(|e| format!("host {e}"))?;
    tree.mention(n)
        .map_err(|e| format!("host {pattern:?}: {e}"))?;
    for name in hostrange::expand(pattern).map_err(|e| format!("host {e}"))? {
        tree.host(group, &name)?.overlay(&conn);
    }
    Ok(())
}

/// Ansible warns about anything but letters, digits, `_` and `-`.
fn group_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "bad group name {name:?} (letters, digits, '_' and '-')"
        ));
    }
    Ok(())
}

/// A line split as Python's `shlex.split(line, comments=True)` splits it,
/// as Ansible splits host lines: at whitespace, `'…'` literal, `"…"` with
/// `\"` and `\\` escapes, `\` escaping any character outside quotes, and a
/// `#` outside quotes ending the line (even inside a word).
fn words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let w = word.get_or_insert_default();
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(format!("unterminated quote in {line:?}")),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_default();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') if matches!(chars.peek(), Some('"' | '\\')) => {
                            w.extend(chars.next());
                        }
                        Some(c) => w.push(c),
                        None => return Err(format!("unterminated quote in {line:?}")),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => word.get_or_insert_default().push(c),
                None => return Err(format!("a trailing backslash in {line:?}")),
            },
            '#' => break,
            c if c.is_whitespace() => words.extend(word.take()),
            c => word.get_or_insert_default().push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// What `literal_eval` reads as a number: Python's int, float and
/// imaginary literals (underscores, hex, octal, binary, exponents), signed,
/// or a complex sum such as `1+2j`. Over-matches a little (`07`, `1__0`),
/// which only means a value is refused that Ansible would take as text.
static PYTHON_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    let real = r"(?:[0-9][0-9_]*\.?[0-9_]*(?:[eE][+-]?[0-9_]+)?|\.[0-9][0-9_]*(?:[eE][+-]?[0-9_]+)?|0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+)[jJ]?";
    Regex::new(&format!(r"^[+-]?{real}(?:[+-]{real})?$")).expect("a valid regex")
});

/// A connection var's value as Ansible's INI plugin reads it: Python's
/// `ast.literal_eval`, the text itself where that fails. `'ops'` and
/// `"ops"` are `ops`, `22` is 22, a name or address (`o'p'q`, `10.0.0.1`,
/// `web-1`) is itself. Where `literal_eval` would make something else of
/// it (a number such as `0x16` or `1e3`, `True`, a list, a comment after
/// the value) the value is refused, asking for quotes, rather than read
/// differently from Ansible. Other vars are not read at all.
fn python_literal(key: &str, value: &str) -> Result<String, String> {
    // A template is itself to literal_eval; set_var refuses it by name.
    if matches!(ansible::Var::of(key), ansible::Var::Other) || value.contains("{{") {
        return Ok(value.to_string());
    }
    let refuse = || {
        Err(format!(
            "{key}: Ansible reads {value:?} as a Python literal; write the value plainly or in quotes ('…')"
        ))
    };
    let bytes = value.as_bytes();
    let simple_string = bytes.len() >= 2
        && matches!(bytes[0], b'\'' | b'"')
        && bytes[bytes.len() - 1] == bytes[0]
        && !value[1..value.len() - 1].contains([bytes[0] as char, '\\']);
    if simple_string {
        return Ok(value[1..value.len() - 1].to_string());
    }
    let decimal = !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_digit())
        && (value == "0" || !value.starts_with('0'));
    let dotted = value.split('.').count() >= 3
        && value
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    if decimal || dotted {
        return Ok(value.to_string());
    }
    let first = value.chars().next();
    let string_prefix = value
        .find(['\'', '"'])
        .is_some_and(|q| q <= 3 && value[..q].chars().all(|c| "bBrRuUfF".contains(c)));
    if value.contains('#')
        || matches!(value, "True" | "False" | "None" | "...")
        || matches!(first, Some('(' | '[' | '{'))
        || string_prefix
        || PYTHON_NUMBER.is_match(value)
    {
        return refuse();
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTS: &str = "\
# the fleet
lone.example.com

[web]
web[01:03] ansible_user=ops
web02 ansible_host=10.0.0.2 ansible_port=2222  # the odd one

[db]
db1:2201 ansible_ssh_private_key_file='/keys/db key'

[prod:children]
web
db

[prod:vars]
ansible_user = deploy
ansible_port=22
http_port=80
";

    #[test]
    fn groups_children_vars_and_ranges() {
        let (servers, groups) = parse(HOSTS).unwrap().resolve().unwrap();
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["all", "ungrouped", "web", "db", "prod"]);
        let names: Vec<_> = servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["lone.example.com", "web01", "web02", "web03", "db1"]
        );
        let s = |name: &str| servers.iter().find(|s| s.name == name).unwrap();
        assert_eq!(s("web01").user.as_deref(), Some("ops"));
        assert_eq!(s("web01").port.unwrap().get(), 22);
        assert_eq!(s("web02").address.as_deref(), Some("10.0.0.2"));
        assert_eq!(s("web02").port.unwrap().get(), 2222);
        assert_eq!(s("db1").port.unwrap().get(), 2201);
        assert_eq!(s("db1").user.as_deref(), Some("deploy"));
        assert_eq!(
            s("db1").identity_file.as_deref(),
            Some(std::path::Path::new("/keys/db key"))
        );
        assert_eq!(s("db1").groups, ["all", "db", "prod"]);
        assert_eq!(s("lone.example.com").groups, ["all", "ungrouped"]);
    }

    #[test]
    fn errors_name_the_line() {
        let err = |text: &str| {
            parse(text)
                .and_then(|t| t.resolve().map(|_| ()))
                .unwrap_err()
        };
        assert_eq!(
            err("[web]\nw1\n[prod:children]\nweb\nwbe\n"),
            "5: group \"wbe\" is used but never defined (no [wbe] section)"
        );
        assert!(err("[web]\nw1 ansible_port=99999\n").starts_with("2: ansible_port: invalid port"));
        assert!(err("[web]\nw1 ansible_password=x\n").starts_with("2: ansible_password:"));
        assert!(err("[web:hosts]\n").starts_with("1: unknown section kind"));
        assert!(err("[web:hosts]\n").starts_with("1: unknown section kind"));
        assert!(err("[web:]\n").starts_with("1: malformed section header"));
        assert!(err("[web] extra\n").starts_with("1: "));
        assert!(err("[web\n").starts_with("1: host "));
        assert!(
            err("[web]\nw1\n[p:children]\nweb extra\n").starts_with("4: expected one group name")
        );
        assert!(err("[web:vars]\nansible_user=x\n").starts_with("1: group \"web\" is used"));
        assert!(err("w[3:1]\n").starts_with("1: host bad range"));
        assert!(err("w1 user\n").starts_with("1: expected key=value"));
        assert!(err("w1 a='b\n").starts_with("1: unterminated quote"));
    }
}
