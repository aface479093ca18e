//! `--limit`, as Ansible reads host patterns: terms separated by `:` or
//! `,`; each a group name, a host name, or a glob (`web*`, `db?.dc1`)
//! matched against both; `all` or `*` for everything. Plain terms are a
//! union, `&term` intersects with it, `!term` removes from it:
//! `web:db:&prod:!web03`.
//!
//! A plain name that is neither a group nor a host is an error, not an
//! empty match: a misspelt group must not quietly run on nothing (or, in a
//! `!` term, exclude nothing).

use globset::{Glob, GlobMatcher};

use secops_common::Error;

use crate::{Inventory, Server};

enum Op {
    Union,
    Intersect,
    Exclude,
}

/// Narrows `hosts` (already selected) to those the pattern matches.
pub fn apply(
    pattern: &str,
    inventory: Option<&Inventory>,
    hosts: Vec<Server>,
) -> Result<Vec<Server>, Error> {
    let bad = |why: String| Error::bad_input(format!("--limit {pattern:?}: {why}"));
    let groups = inventory.map_or(&[][..], |inv| &inv.groups[..]);
    let mut union: Option<Vec<bool>> = None;
    let mut keep = vec![true; hosts.len()];
    for term in pattern
        .split([':', ','])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let (op, name) = match term.as_bytes()[0] {
            b'!' => (Op::Exclude, &term[1..]),
            b'&' => (Op::Intersect, &term[1..]),
            _ => (Op::Union, term),
        };
        let Some(matched) = matches(name, groups, &hosts).map_err(&bad)? else {
            let place = inventory.map_or_else(
                || "the selected hosts".to_string(),
                |inv| inv.path.display().to_string(),
            );
            return Err(bad(format!("{name:?} is not a group or host of {place}")));
        };
        match op {
            Op::Union => {
                let union = union.get_or_insert_with(|| vec![false; hosts.len()]);
                for (u, m) in union.iter_mut().zip(&matched) {
                    *u |= m;
                }
            }
            Op::Intersect => keep.iter_mut().zip(&matched).for_each(|(k, m)| *k &= m),
            Op::Exclude => keep.iter_mut().zip(&matched).for_each(|(k, m)| *k &= !m),
        }
    }
    let union = union.unwrap_or_else(|| vec![true; hosts.len()]);
    Ok(hosts
        .into_iter()
        .zip(union.iter().zip(&keep))
        .filter(|(_, (u, k))| **u && **k)
        .map(|(host, _)| host)
        .collect())
}

/// Which hosts `name` selects; `None` when a plain name names nothing.
fn matches(name: &str, groups: &[String], hosts: &[Server]) -> Result<Option<Vec<bool>>, String> {
    if name == "all" || name == "*" {
        return Ok(Some(vec![true; hosts.len()]));
    }
    if name.contains(['*', '?', '[']) {
        let glob: GlobMatcher = Glob::new(name)
            .map_err(|err| format!("bad glob {name:?}: {err}"))?
            .compile_matcher();
        return Ok(Some(
            hosts
                .iter()
                .map(|h| glob.is_match(&h.name) || h.groups.iter().any(|g| glob.is_match(g)))
                .collect(),
        ));
    }
    let is_group = groups.iter().any(|g| g == name);
    let is_host = hosts.iter().any(|h| h.name == name);
    if !is_group && !is_host {
        return Ok(None);
    }
    Ok(Some(
        hosts
            .iter()
            .map(|h| h.name == name || h.groups.iter().any(|g| g == name))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inventory() -> Inventory {
        let host = |name: &str, groups: &[&str]| Server {
            name: name.to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Server::default()
        };
        Inventory {
            path: "hosts.ini".into(),
            servers: vec![
                host("web01", &["all", "web", "prod"]),
                host("web02", &["all", "web", "prod"]),
                host("web03", &["all", "web", "staging"]),
                host("db1", &["all", "db", "prod"]),
            ],
            groups: ["all", "ungrouped", "web", "db", "prod", "staging", "empty"]
                .map(String::from)
                .to_vec(),
        }
    }

    fn names(pattern: &str) -> Result<Vec<String>, String> {
        let inv = inventory();
        apply(pattern, Some(&inv), inv.servers.clone())
            .map(|hosts| hosts.into_iter().map(|h| h.name).collect())
            .map_err(|err| err.message)
    }

    #[test]
    fn unions_intersections_and_exclusions() {
        assert_eq!(names("web").unwrap(), ["web01", "web02", "web03"]);
        assert_eq!(names("db1,web01").unwrap(), ["web01", "db1"]);
        assert_eq!(names("web:&prod").unwrap(), ["web01", "web02"]);
        assert_eq!(names("all:!web02").unwrap(), ["web01", "web03", "db1"]);
        assert_eq!(names("!staging").unwrap(), ["web01", "web02", "db1"]);
        assert_eq!(names("web0[12]").unwrap(), ["web01", "web02"]);
        assert_eq!(names("stag*").unwrap(), ["web03"]);
        assert!(names("empty").unwrap().is_empty());
    }

    #[test]
    fn unknown_names_are_errors_naming_the_inventory() {
        assert_eq!(
            names("web:!wbe").unwrap_err(),
            "--limit \"web:!wbe\": \"wbe\" is not a group or host of hosts.ini"
        );
        assert!(names("web[").unwrap_err().contains("bad glob"));
    }
}
