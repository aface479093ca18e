//! The fleet: `servers.json` entries, selected by `--group` and `--hosts`,
//! plus plain ssh-config aliases when a name is not in the inventory.
//!
//! There is deliberately no password field: authentication is by key and
//! agent only, as OpenSSH in BatchMode does it.

use std::num::NonZeroU16;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use secops_common::Error;

/// `servers.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    pub servers: Vec<Server>,
}

/// One host of the inventory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// The name records carry in `host`, and what `--hosts` matches.
    pub name: String,
    /// Where to connect; the name itself (an ssh-config alias) when absent.
    pub address: Option<String>,
    /// Zero is refused by the type, so a typo cannot mean "default".
    pub port: Option<NonZeroU16>,
    pub user: Option<String>,
    pub identity_file: Option<PathBuf>,
    /// A jump host (`ssh -J`), e.g. `bastion` or `ops@bastion:2222`.
    pub jump: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

impl Inventory {
    pub fn load(path: &Path) -> Result<Inventory, Error> {
        let inventory: Inventory = secops_common::config::load(path)?;
        let mut seen = std::collections::HashSet::new();
        for server in &inventory.servers {
            if server.name.is_empty() || server.name.starts_with('-') {
                return Err(Error::bad_input(format!(
                    "{}: server name {:?} is empty or starts with '-'",
                    path.display(),
                    server.name
                )));
            }
            if !seen.insert(&server.name) {
                return Err(Error::bad_input(format!(
                    "{}: server {:?} is listed twice",
                    path.display(),
                    server.name
                )));
            }
        }
        Ok(inventory)
    }
}

/// What to select: `None` fields do not filter.
#[derive(Debug, Default)]
pub struct Selection<'a> {
    pub group: Option<&'a str>,
    /// Names expanded from `--hosts`.
    pub names: Option<&'a [String]>,
}

/// Picks the hosts to run on, in inventory (or pattern) order. A name given
/// by `--hosts` that the inventory lacks is taken as an ssh-config alias,
/// so `--ssh-config cfg --hosts 'h[01-20]'` needs no inventory at all.
pub fn select(inventory: Option<&Inventory>, selection: &Selection) -> Result<Vec<Server>, Error> {
    let servers = inventory.map_or(&[][..], |inv| &inv.servers[..]);
    let in_group = |s: &Server| {
        selection
            .group
            .is_none_or(|g| s.groups.iter().any(|x| x == g))
    };
    let chosen: Vec<Server> = match selection.names {
        Some(names) => names
            .iter()
            .map(|name| match servers.iter().find(|s| &s.name == name) {
                Some(server) => server.clone(),
                None => alias(name),
            })
            .filter(in_group)
            .collect(),
        None if inventory.is_none() => {
            return Err(Error::bad_input(
                "no hosts: give --servers FILE and/or --hosts PATTERN",
            ));
        }
        None => servers.iter().filter(|s| in_group(s)).cloned().collect(),
    };
    if chosen.is_empty() {
        return Err(Error::bad_input("the selection matches no host"));
    }
    if let Some(bad) = chosen.iter().find(|s| s.name.starts_with('-')) {
        return Err(Error::bad_input(format!(
            "host name {:?} starts with '-'",
            bad.name
        )));
    }
    Ok(chosen)
}

fn alias(name: &str) -> Server {
    Server {
        name: name.to_string(),
        address: None,
        port: None,
        user: None,
        identity_file: None,
        jump: None,
        groups: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secops_common::config::{Syntax, parse};

    const FLEET: &str = r#"{"servers": [
        {"name": "web01", "address": "10.0.0.1", "groups": ["web"]},
        {"name": "db01", "port": 2222, "user": "ops", "groups": ["db"]}
    ]}"#;

    #[test]
    fn groups_and_names_select_in_order() {
        let inv: Inventory = parse(FLEET, Syntax::Json).unwrap();
        let web = select(
            Some(&inv),
            &Selection {
                group: Some("web"),
                names: None,
            },
        )
        .unwrap();
        assert_eq!(web.len(), 1);
        assert_eq!(web[0].address.as_deref(), Some("10.0.0.1"));
        let names = ["db01".to_string(), "extra".to_string()];
        let picked = select(
            Some(&inv),
            &Selection {
                group: None,
                names: Some(&names),
            },
        )
        .unwrap();
        assert_eq!(picked[0].user.as_deref(), Some("ops"));
        assert_eq!(picked[1].name, "extra");
        assert!(picked[1].address.is_none());
        assert!(
            select(
                Some(&inv),
                &Selection {
                    group: Some("none"),
                    names: None
                }
            )
            .is_err()
        );
        assert!(select(None, &Selection::default()).is_err());
    }

    #[test]
    fn bad_ports_and_unknown_keys_name_line_and_field() {
        let err = parse::<Inventory>(
            "{\"servers\": [\n {\"name\": \"a\", \"port\": 70000}]}",
            Syntax::Json,
        )
        .unwrap_err();
        assert!(
            err.starts_with("2:") && err.contains("servers[0].port"),
            "{err}"
        );
        let err = parse::<Inventory>(
            "{\"servers\": [{\"name\": \"a\", \"port\": 0}]}",
            Syntax::Json,
        )
        .unwrap_err();
        assert!(err.contains("servers[0].port"), "{err}");
        let err = parse::<Inventory>(
            "{\"servers\": [\n\n {\"name\": \"a\", \"password\": \"x\"}]}",
            Syntax::Json,
        )
        .unwrap_err();
        assert!(
            err.starts_with("3:") && err.contains("unknown field `password`"),
            "{err}"
        );
    }

    #[test]
    fn the_example_inventory_parses() {
        let inv: Inventory =
            parse(include_str!("../../../config/servers.json"), Syntax::Json).unwrap();
        assert_eq!(inv.servers.len(), 4);
        assert!(inv.servers.iter().any(|s| s.jump.is_some()));
    }
}
