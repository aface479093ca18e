//! `servers.json`: remote-run's own inventory format, a list of servers
//! with their connection settings and groups.

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use secops_common::config::{Syntax, parse as parse_config};

use crate::{MAX_HOSTS, Server};

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

/// The servers and the groups they name; errors read `LINE:COL: FIELD: ...`.
pub fn parse(text: &str) -> Result<(Vec<Server>, Vec<String>), String> {
    let file: ServersFile = parse_config(text, Syntax::Json)?;
    let mut seen: HashSet<&str> = HashSet::new();
    let mut groups: Vec<String> = Vec::new();
    for group in file.servers.iter().flat_map(|s| &s.groups) {
        if seen.insert(group) {
            groups.push(group.clone());
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
        assert_eq!(groups, ["web", "prod", "db", "staging"]);
    }
}
