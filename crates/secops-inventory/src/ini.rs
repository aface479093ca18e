//! Ansible's INI inventory: `[group]` sections of host lines
//! (`web[01:10].example.com ansible_user=ops`, `db1:2222`), `[group:vars]`
//! and `[group:children]`; hosts before any section are ungrouped.

use crate::ansible::{self, Tree};
use crate::hostrange;

enum Section {
    Hosts(usize),
    Vars(usize),
    Children(usize),
}

/// Errors read `LINE: problem`.
pub fn parse(text: &str) -> Result<Tree, String> {
    let mut tree = Tree::new();
    let mut section = Section::Hosts(ansible::UNGROUPED);
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let at = |err: String| format!("{n}: {err}");
        if line.starts_with('[') {
            let inner = line
                .strip_prefix('[')
                .and_then(|l| l.strip_suffix(']'))
                .ok_or_else(|| at(format!("malformed section header {line:?}")))?;
            let (name, kind) = inner.split_once(':').unwrap_or((inner, ""));
            group_name(name).map_err(at)?;
            let g = tree.group(name, n).map_err(at)?;
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
            }
            continue;
        }
        match section {
            Section::Hosts(g) => host_line(&mut tree, g, line).map_err(at)?,
            Section::Vars(g) => {
                let (key, value) = line
                    .split_once('=')
                    .ok_or_else(|| at(format!("expected key=value, found {line:?}")))?;
                let value = words(value).map_err(at)?.join(" ");
                ansible::set_var(tree.group_vars(g), key.trim(), &value).map_err(at)?;
            }
            Section::Children(g) => {
                let name = words(line)
                    .map_err(at)?
                    .into_iter()
                    .next()
                    .unwrap_or_default();
                group_name(&name).map_err(at)?;
                let child = tree.group(&name, n).map_err(at)?;
                tree.child(g, child);
            }
        }
    }
    Ok(tree)
}

/// `pattern[:port] key=value ...`
fn host_line(tree: &mut Tree, group: usize, line: &str) -> Result<(), String> {
    let words = words(line)?;
    let (pattern, vars) = words.split_first().expect("the line is not blank");
    let mut conn = ansible::Conn::default();
    let pattern = match pattern.rsplit_once(':') {
        Some((name, port)) if !port.contains(']') && !name.contains(':') => {
            conn.port = Some(ansible::port(port)?);
            name
        }
        _ => pattern.as_str(),
    };
    for var in vars {
        let (key, value) = var
            .split_once('=')
            .ok_or_else(|| format!("expected key=value after the host, found {var:?}"))?;
        ansible::set_var(&mut conn, key, value)?;
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

/// Splits at whitespace, honouring '…' and "…" quotes; an unquoted `#`
/// starts a comment.
fn words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_default().push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_default();
            }
            (None, '#') if word.is_none() => break,
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_default().push(c),
        }
    }
    if quote.is_some() {
        return Err(format!("unterminated quote in {line:?}"));
    }
    words.extend(word);
    Ok(words)
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
        assert_eq!(groups, ["all", "ungrouped", "web", "db", "prod"]);
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
        assert!(err("[web\n").starts_with("1: malformed section header"));
        assert!(err("[web:vars]\nansible_user=x\n").starts_with("1: group \"web\" is used"));
        assert!(err("w[3:1]\n").starts_with("1: host bad range"));
        assert!(err("w1 user\n").starts_with("1: expected key=value"));
        assert!(err("w1 a='b\n").starts_with("1: unterminated quote"));
    }
}
