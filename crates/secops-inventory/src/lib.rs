//! The fleet: an inventory file (`servers.json`, or an Ansible INI or YAML
//! inventory with its `group_vars/` and `host_vars/`, since operators
//! already have those), narrowed by `--group`,
//! `--hosts` and `--limit`, plus plain ssh-config aliases when a name is not
//! in the inventory.
//!
//! remote-run runs on these hosts and vulnscan scans their addresses; both
//! read inventories through this one crate, so a fleet means the same hosts
//! to every tool and scanning one needs no SSH code.
//!
//! There is deliberately no password anywhere: authentication is by key and
//! agent only, as OpenSSH in BatchMode does it, and an Ansible inventory
//! carrying `ansible_password` is refused rather than half-used.

mod address;
mod ansible;
pub mod hostrange;
mod ini;
mod pattern;
mod servers_json;
mod var_dirs;
mod yaml;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::num::NonZeroU16;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use secops_common::Error;

pub use servers_json::ServersFile;

/// The most distinct hosts an inventory may have (as many as one host
/// pattern may name: [`hostrange::MAX_HOSTS`]).
pub const MAX_HOSTS: usize = hostrange::MAX_HOSTS;
/// The most host names an Ansible inventory may list in all, counting a
/// host once per line or key that names it: bounds the work of a file
/// that repeats a large range on many lines.
pub const MAX_HOST_MENTIONS: usize = 1_000_000;
/// The most groups an Ansible inventory may have.
pub const MAX_GROUPS: usize = 10_000;
/// The most (host, group) pairs once membership is resolved: each host
/// is in its groups and all their ancestors, so many hosts under a deep
/// chain of `:children` multiply.
pub const MAX_MEMBERSHIPS: usize = 2_000_000;
/// The largest inventory file, and `group_vars`/`host_vars` file, read.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Reads a text file of at most [`MAX_FILE_BYTES`]; errors name it.
pub(crate) fn read_text(path: &Path) -> Result<String, String> {
    let cannot = |err: std::io::Error| format!("cannot read {}: {err}", path.display());
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "{}: larger than {} MiB, the most an inventory file may be",
            path.display(),
            MAX_FILE_BYTES / (1024 * 1024)
        ));
    }
    String::from_utf8(bytes).map_err(|_| format!("cannot read {}: not UTF-8 text", path.display()))
}

/// One host of the inventory.
#[derive(Debug, Clone, Default, Deserialize)]
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
    /// An Ansible `ansible_connection` other than ssh (`local`, `winrm`):
    /// such a host can be listed and scanned, but not run on over ssh.
    #[serde(skip)]
    pub connection: Option<String>,
    /// Every group the host is in; for Ansible inventories this includes
    /// the parents of its groups and `all`, as Ansible counts membership.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// A group as Ansible holds it: its own hosts and its child groups, in the
/// order Ansible keeps them, so `--limit` sees hosts in Ansible's order.
#[derive(Debug, Clone, Default)]
pub struct Group {
    pub name: String,
    /// Indices into [`Inventory::servers`].
    pub hosts: Vec<usize>,
    /// Indices into [`Inventory::groups`].
    pub children: Vec<usize>,
}

/// [`Inventory::groups`] always starts with these two, as Ansible's does.
pub const ALL: usize = 0;
pub const UNGROUPED: usize = 1;

impl Group {
    /// `all` and `ungrouped` alone, `ungrouped` a child of `all`.
    pub fn builtin() -> Vec<Group> {
        let group = |name: &str, children: Vec<usize>| Group {
            name: name.to_string(),
            hosts: Vec::new(),
            children,
        };
        vec![
            group("all", vec![UNGROUPED]),
            group("ungrouped", Vec::new()),
        ]
    }
}

/// A loaded inventory, whatever its file format.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// Named in errors about the selection (`--limit`, `--group`).
    pub path: PathBuf,
    pub servers: Vec<Server>,
    /// Every group defined, including empty ones, so selecting an empty
    /// group is "no host" and a misspelt one is an error: `all`, then
    /// `ungrouped`, then the rest in the order the file declares them.
    pub groups: Vec<Group>,
}

/// The inventory file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    ServersJson,
    AnsibleIni,
    AnsibleYaml,
}

impl Format {
    /// By extension (`.json`, `.yaml`/`.yml`, `.ini`), else by content,
    /// because Ansible inventories are often a bare `hosts` file: JSON
    /// starts with `{`, YAML's first line is a `key:` mapping, and anything
    /// else (a `[group]` header or a list of hosts) is INI.
    pub fn detect(path: &Path, text: &str) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => return Format::ServersJson,
            Some("yaml" | "yml") => return Format::AnsibleYaml,
            Some("ini" | "cfg") => return Format::AnsibleIni,
            _ => {}
        }
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';') && *l != "---");
        match first {
            Some(line) if line.starts_with('{') => Format::ServersJson,
            Some(line) if line.starts_with('[') => Format::AnsibleIni,
            Some(line) if line.ends_with(':') && !line.contains(char::is_whitespace) => {
                Format::AnsibleYaml
            }
            _ => Format::AnsibleIni,
        }
    }
}

/// Parses inventory text of `format` (without an Ansible inventory's
/// `group_vars/` and `host_vars/`, which [`Inventory::load`] adds): the
/// hosts and every group. Errors read `LINE: problem`. The entry point of
/// the fuzz targets and tests; [`Inventory::load`] does the same on a file.
pub fn parse(format: Format, text: &str) -> Result<(Vec<Server>, Vec<Group>), String> {
    match format {
        Format::ServersJson => servers_json::parse(text),
        Format::AnsibleIni => ini::parse(text)?.resolve(),
        Format::AnsibleYaml => yaml::parse(text)?.resolve(),
    }
}

impl Inventory {
    /// Reads an inventory in any of the formats; errors name the file, line
    /// and field and exit 2.
    pub fn load(path: &Path) -> Result<Inventory, Error> {
        let text = read_text(path).map_err(Error::bad_input)?;
        let at = |err: String| Error::bad_input(format!("{}:{err}", path.display()));
        let format = Format::detect(path, &text);
        let (servers, groups) = match format {
            Format::ServersJson => servers_json::parse(&text).map_err(at)?,
            Format::AnsibleIni | Format::AnsibleYaml => {
                let mut tree = match format {
                    Format::AnsibleIni => ini::parse(&text),
                    _ => yaml::parse(&text),
                }
                .map_err(at)?;
                var_dirs::load(&mut tree, path).map_err(Error::bad_input)?;
                tree.resolve().map_err(at)?
            }
        };
        if servers.len() > MAX_HOSTS {
            return Err(Error::bad_input(format!(
                "{}: servers: more than {MAX_HOSTS} hosts, the most an inventory may have",
                path.display()
            )));
        }
        let mut seen = HashSet::new();
        for server in &servers {
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
        Ok(Inventory {
            path: path.to_path_buf(),
            servers,
            groups,
        })
    }
}

/// What to select: `None` fields do not filter.
#[derive(Debug, Default)]
pub struct Selection<'a> {
    pub group: Option<&'a str>,
    /// Names expanded from `--hosts`.
    pub names: Option<&'a [String]>,
    /// An Ansible-style `--limit` pattern.
    pub limit: Option<&'a str>,
}

/// Picks the hosts to run on, in inventory (or pattern) order. A name given
/// by `--hosts` that the inventory lacks is taken as an ssh-config alias,
/// so `--ssh-config cfg --hosts 'h[01-20]'` needs no inventory at all.
pub fn select(inventory: Option<&Inventory>, selection: &Selection) -> Result<Vec<Server>, Error> {
    let servers = inventory.map_or(&[][..], |inv| &inv.servers[..]);
    if let (Some(group), Some(inv)) = (selection.group, inventory) {
        if !inv.groups.iter().any(|g| g.name == group) {
            return Err(Error::bad_input(format!(
                "--group {group}: {} has no such group",
                inv.path.display()
            )));
        }
    }
    let in_group = |s: &Server| {
        selection
            .group
            .is_none_or(|g| s.groups.iter().any(|x| x == g))
    };
    let by_name: HashMap<&str, &Server> = servers.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut chosen: Vec<Server> = match selection.names {
        Some(names) => names
            .iter()
            .map(|name| match by_name.get(name.as_str()) {
                Some(server) => (*server).clone(),
                None => alias(name),
            })
            .filter(in_group)
            .collect(),
        None if inventory.is_none() => {
            return Err(Error::bad_input(
                "no hosts: give --inventory FILE and/or --hosts PATTERN",
            ));
        }
        None => servers.iter().filter(|s| in_group(s)).cloned().collect(),
    };
    if let Some(pattern) = selection.limit {
        chosen = pattern::apply(pattern, inventory, chosen)?;
    }
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
        ..Server::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet() -> Inventory {
        let (servers, groups) = servers_json::parse(
            r#"{"servers": [
            {"name": "web01", "address": "10.0.0.1", "groups": ["web"]},
            {"name": "db01", "port": 2222, "user": "ops", "groups": ["db"]}
        ]}"#,
        )
        .unwrap();
        Inventory {
            path: "fleet.json".into(),
            servers,
            groups,
        }
    }

    fn pick(group: Option<&str>, names: Option<&[String]>) -> Result<Vec<Server>, Error> {
        let inv = fleet();
        select(
            Some(&inv),
            &Selection {
                group,
                names,
                limit: None,
            },
        )
    }

    #[test]
    fn groups_and_names_select_in_order() {
        let web = pick(Some("web"), None).unwrap();
        assert_eq!(web.len(), 1);
        assert_eq!(web[0].address.as_deref(), Some("10.0.0.1"));
        let names = ["db01".to_string(), "extra".to_string()];
        let picked = pick(None, Some(&names)).unwrap();
        assert_eq!(picked[0].user.as_deref(), Some("ops"));
        assert_eq!(picked[1].name, "extra");
        assert!(picked[1].address.is_none());
        let err = pick(Some("none"), None).unwrap_err();
        assert!(
            err.message.contains("fleet.json has no such group"),
            "{err}"
        );
        assert!(select(None, &Selection::default()).is_err());
    }

    #[test]
    fn the_format_follows_the_extension_then_the_content() {
        let detect = |name: &str, text: &str| Format::detect(Path::new(name), text);
        assert_eq!(detect("a.json", ""), Format::ServersJson);
        assert_eq!(detect("a.yml", ""), Format::AnsibleYaml);
        assert_eq!(
            detect("hosts", "# fleet\n{\"servers\": []}"),
            Format::ServersJson
        );
        assert_eq!(
            detect("hosts", "---\nall:\n  hosts:\n"),
            Format::AnsibleYaml
        );
        assert_eq!(detect("hosts", "; x\n[web]\nweb1\n"), Format::AnsibleIni);
        assert_eq!(
            detect("hosts", "web1 ansible_port=22\n"),
            Format::AnsibleIni
        );
        assert_eq!(detect("hosts", "10.0.0.1:2222\n"), Format::AnsibleIni);
    }
}
