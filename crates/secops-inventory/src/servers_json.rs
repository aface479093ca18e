//! `servers.json`: remote-run's own inventory format, a list of servers
//! with their connection settings and groups.

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use secops_common::config::{Syntax, parse as parse_config};

use crate::{ALL, Group, MAX_HOSTS, Server, UNGROUPED};

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServersFile {
    /// At most [`MAX_HOSTS`]: the one past it is an error at its line.
    #[serde(deserialize_with = "at_most_max_hosts")]
    pub servers: Vec<Server>,
}

fn at_most_max_hosts<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<Server>, D::Error> {
    struct Bounded;
    impl<'de> Visitor<'de> for Bounded {
        type Value = Vec<Server>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of servers")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Server>, A::Error> {
            let mut servers = Vec::new();
            while let Some(server) = seq.next_element::<Server>()? {
                if servers.len() == MAX_HOSTS {
                    return Err(de::Error::custom(format!(
                        "more than {MAX_HOSTS} servers, the most an inventory may have"
                    )));
                }
                servers.push(server);
            }
            Ok(servers)
        }
    }
    de.deserialize_seq(Bounded)
}

/// The servers and the groups they name, each group a child of `all` in
/// the order first named, servers in no group `ungrouped`; errors read
/// `LINE:COL: FIELD: ...`.
pub fn parse(text: &str) -> Result<(Vec<Server>, Vec<Group>), String> {
    let file: ServersFile = parse_config(text, Syntax::Json)?;
    let mut groups = Group::builtin();
    let mut index: HashMap<String, usize> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.name.clone(), i))
        .collect();
    for (h, server) in file.servers.iter().enumerate() {
        if server.groups.is_empty() {
            groups[UNGROUPED].hosts.push(h);
        }
        for name in &server.groups {
            let g = *index.entry(name.clone()).or_insert_with(|| {
                groups.push(Group {
                    name: name.clone(),
                    ..Group::default()
                });
                let g = groups.len() - 1;
                groups[ALL].children.push(g);
                g
            });
            if groups[g].hosts.last() != Some(&h) {
                groups[g].hosts.push(h);
            }
        }
    }
    Ok((file.servers, groups))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_ports_and_unknown_keys_name_line_and_field() {
        let err = parse("{\"servers\": [\n {\"name\": \"a\", \"port\": 70000}]}").unwrap_err();
        assert!(
            err.starts_with("2:") && err.contains("servers[0].port"),
            "{err}"
        );
        let err = parse("{\"servers\": [{\"name\": \"a\", \"port\": 0}]}").unwrap_err();
        assert!(err.contains("servers[0].port"), "{err}");
        let err =
            parse("{\"servers\": [\n\n {\"name\": \"a\", \"password\": \"x\"}]}").unwrap_err();
        assert!(
            err.starts_with("3:") && err.contains("unknown field `password`"),
            "{err}"
        );
    }

    #[test]
    fn the_example_inventory_parses() {
        let (servers, groups) = parse(include_str!("../../../config/servers.json")).unwrap();
        assert_eq!(servers.len(), 4);
        assert!(servers.iter().any(|s| s.jump.is_some()));
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["all", "ungrouped", "web", "prod", "db", "staging"]);
    }
}
