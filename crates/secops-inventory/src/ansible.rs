//! The model both Ansible inventory syntaxes (INI and YAML) build: groups
//! holding hosts, child groups and vars, resolved the way Ansible resolves
//! them. A host is in its groups and in all of their ancestors; top-level
//! groups are children of `all`; hosts in no group are in `ungrouped`; and
//! vars apply from the shallowest group to the deepest (ties by name), then
//! the host's own, so `[web:vars]` overrides `[all:vars]` and a host var
//! overrides both.
//!
//! Only connection vars matter to remote-run; playbook vars (`http_port`)
//! are ignored, and password vars are refused.

use std::num::NonZeroU16;
use std::path::PathBuf;

use crate::Server;

/// The connection settings a host's vars give.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conn {
    pub address: Option<String>,
    pub port: Option<NonZeroU16>,
    pub user: Option<String>,
    pub identity_file: Option<PathBuf>,
}

impl Conn {
    /// `other`'s settings win where it has them.
    pub fn overlay(&mut self, other: &Conn) {
        let Conn {
            address,
            port,
            user,
            identity_file,
        } = other.clone();
        self.address = address.or(self.address.take());
        self.port = port.or(self.port);
        self.user = user.or(self.user.take());
        self.identity_file = identity_file.or(self.identity_file.take());
    }
}

/// What one var means to remote-run.
pub enum Var {
    Address,
    Port,
    User,
    IdentityFile,
    /// `ansible_connection`: only ssh is supported.
    Connection,
    /// A secret remote-run never takes from an inventory.
    Password,
    /// A playbook var, or a connection var with no ssh meaning here.
    Other,
}

impl Var {
    /// Includes the pre-2.0 `ansible_ssh_*` spellings Ansible still reads.
    pub fn of(key: &str) -> Var {
        match key {
            "ansible_host" | "ansible_ssh_host" => Var::Address,
            "ansible_port" | "ansible_ssh_port" => Var::Port,
            "ansible_user" | "ansible_ssh_user" => Var::User,
            "ansible_ssh_private_key_file" | "ansible_private_key_file" => Var::IdentityFile,
            "ansible_connection" => Var::Connection,
            "ansible_password" | "ansible_ssh_pass" | "ansible_ssh_password" => Var::Password,
            _ => Var::Other,
        }
    }
}

pub const NO_PASSWORDS: &str =
    "passwords are not supported: remote-run authenticates by key or agent only";

pub fn port(value: &str) -> Result<NonZeroU16, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("invalid port {value:?}, expected 1-65535"))
}

/// Applies one `key = value` to `conn`; errors read `KEY: problem`.
pub fn set_var(conn: &mut Conn, key: &str, value: &str) -> Result<(), String> {
    let connection = !matches!(Var::of(key), Var::Other | Var::Password);
    if connection && value.contains("{{") {
        return Err(format!(
            "{key}: {value:?} is a Jinja template; templates are not supported, give the value itself"
        ));
    }
    match Var::of(key) {
        Var::Address => conn.address = Some(value.to_string()),
        Var::Port => conn.port = Some(port(value).map_err(|e| format!("{key}: {e}"))?),
        Var::User => conn.user = Some(value.to_string()),
        Var::IdentityFile => conn.identity_file = Some(PathBuf::from(value)),
        Var::Connection if matches!(value, "ssh" | "smart") => {}
        Var::Connection => {
            return Err(format!(
                "{key}: {value:?} is not supported, remote-run connects over ssh only"
            ));
        }
        Var::Password => return Err(format!("{key}: {NO_PASSWORDS}")),
        Var::Other => {}
    }
    Ok(())
}

#[derive(Debug)]
struct Group {
    name: String,
    /// Where it was first mentioned, for errors.
    line: usize,
    /// A `[name]` or `[name:children]` section (INI), or any YAML group;
    /// a group only ever named in `:vars` or `:children` is a typo.
    defined: bool,
    children: Vec<usize>,
    hosts: Vec<usize>,
    vars: Conn,
    /// From `group_vars/`, which outranks every group's inline vars.
    file_vars: Conn,
}

#[derive(Debug)]
struct Host {
    name: String,
    vars: Conn,
    /// From `host_vars/`, which outranks everything else.
    file_vars: Conn,
}

/// An inventory as written, before membership and vars are worked out.
#[derive(Debug)]
pub struct Tree {
    groups: Vec<Group>,
    hosts: Vec<Host>,
}

pub const ALL: usize = 0;
pub const UNGROUPED: usize = 1;

impl Tree {
    pub fn new() -> Tree {
        let mut tree = Tree {
            groups: Vec::new(),
            hosts: Vec::new(),
        };
        for name in ["all", "ungrouped"] {
            let g = tree.group(name, 0);
            tree.define(g);
        }
        tree.child(ALL, UNGROUPED);
        tree
    }

    /// The group called `name`, created on first mention at `line`.
    pub fn group(&mut self, name: &str, line: usize) -> usize {
        if let Some(i) = self.groups.iter().position(|g| g.name == name) {
            return i;
        }
        self.groups.push(Group {
            name: name.to_string(),
            line,
            defined: false,
            children: Vec::new(),
            hosts: Vec::new(),
            vars: Conn::default(),
            file_vars: Conn::default(),
        });
        self.groups.len() - 1
    }

    pub fn define(&mut self, group: usize) {
        self.groups[group].defined = true;
    }

    pub fn child(&mut self, parent: usize, child: usize) {
        if !self.groups[parent].children.contains(&child) {
            self.groups[parent].children.push(child);
        }
    }

    /// Puts host `name` in `group` (creating it on first mention) and
    /// returns its vars, which accumulate across mentions.
    pub fn host(&mut self, group: usize, name: &str) -> &mut Conn {
        let h = match self.hosts.iter().position(|h| h.name == name) {
            Some(h) => h,
            None => {
                self.hosts.push(Host {
                    name: name.to_string(),
                    vars: Conn::default(),
                    file_vars: Conn::default(),
                });
                self.hosts.len() - 1
            }
        };
        if !self.groups[group].hosts.contains(&h) {
            self.groups[group].hosts.push(h);
        }
        &mut self.hosts[h].vars
    }

    pub fn group_vars(&mut self, group: usize) -> &mut Conn {
        &mut self.groups[group].vars
    }

    /// Group names, by index.
    pub fn group_names(&self) -> Vec<String> {
        self.groups.iter().map(|g| g.name.clone()).collect()
    }

    /// Host names, by index.
    pub fn host_names(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.name.clone()).collect()
    }

    pub fn group_file_vars(&mut self, group: usize) -> &mut Conn {
        &mut self.groups[group].file_vars
    }

    pub fn host_file_vars(&mut self, host: usize) -> &mut Conn {
        &mut self.hosts[host].file_vars
    }

    /// Membership and vars as Ansible works them out; errors read
    /// `LINE: problem`.
    pub fn resolve(mut self) -> Result<(Vec<Server>, Vec<String>), String> {
        if let Some(g) = self.groups.iter().find(|g| !g.defined) {
            return Err(format!(
                "{}: group {:?} is used but never defined (no [{}] section)",
                g.line, g.name, g.name
            ));
        }
        let n = self.groups.len();
        let mut parents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (p, group) in self.groups.iter().enumerate() {
            for &c in &group.children {
                parents[c].push(p);
            }
        }
        for (g, up) in parents.iter_mut().enumerate().skip(UNGROUPED + 1) {
            if up.is_empty() {
                up.push(ALL);
                self.groups[ALL].children.push(g);
            }
        }
        let mut depth = vec![None; n];
        let mut visiting = vec![false; n];
        self.depth_of(ALL, &mut depth, &mut visiting)?;
        // A group whose every ancestor chain is a cycle never met `all`.
        if let Some(g) = (0..n).find(|&g| depth[g].is_none()) {
            return Err(self.cycle_error(g));
        }
        let depth: Vec<usize> = depth.into_iter().map(|d| d.unwrap_or(0)).collect();
        let mut servers = Vec::with_capacity(self.hosts.len());
        for (h, host) in self.hosts.iter().enumerate() {
            let mut member: Vec<usize> = Vec::new();
            let mut stack: Vec<usize> = (0..n)
                .filter(|&g| self.groups[g].hosts.contains(&h))
                .collect();
            if stack.iter().all(|&g| g == ALL || g == UNGROUPED) {
                stack.push(UNGROUPED);
            }
            while let Some(g) = stack.pop() {
                if !member.contains(&g) {
                    member.push(g);
                    stack.extend(&parents[g]);
                }
            }
            member.sort_by(|&a, &b| {
                (depth[a], &self.groups[a].name).cmp(&(depth[b], &self.groups[b].name))
            });
            let mut conn = Conn::default();
            for &g in &member {
                conn.overlay(&self.groups[g].vars);
            }
            for &g in &member {
                conn.overlay(&self.groups[g].file_vars);
            }
            conn.overlay(&host.vars);
            conn.overlay(&host.file_vars);
            // Listed in the order the file defines them.
            member.sort_unstable();
            let groups = member
                .iter()
                .map(|&g| self.groups[g].name.clone())
                .collect();
            servers.push(Server {
                name: host.name.clone(),
                address: conn.address,
                port: conn.port,
                user: conn.user,
                identity_file: conn.identity_file,
                jump: None,
                groups,
            });
        }
        Ok((servers, self.groups.into_iter().map(|g| g.name).collect()))
    }

    /// The longest path from `all` to `g`, as Ansible orders vars by it.
    fn depth_of(
        &self,
        g: usize,
        depth: &mut [Option<usize>],
        visiting: &mut [bool],
    ) -> Result<(), String> {
        if g == ALL {
            depth[ALL] = Some(0);
        }
        visiting[g] = true;
        let here = depth[g].unwrap_or(0);
        for &c in &self.groups[g].children {
            if visiting[c] {
                return Err(self.cycle_error(c));
            }
            if depth[c].is_none_or(|d| d < here + 1) {
                depth[c] = Some(here + 1);
                self.depth_of(c, depth, visiting)?;
            }
        }
        visiting[g] = false;
        Ok(())
    }

    fn cycle_error(&self, g: usize) -> String {
        let group = &self.groups[g];
        format!(
            "{}: group {:?} is its own ancestor (a :children cycle)",
            group.line, group.name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deeper_groups_and_hosts_win_and_parents_count() {
        let mut tree = Tree::new();
        let web = tree.group("web", 1);
        tree.define(web);
        let prod = tree.group("prod", 5);
        tree.define(prod);
        tree.child(prod, web);
        set_var(tree.group_vars(ALL), "ansible_user", "root").unwrap();
        set_var(tree.group_vars(prod), "ansible_user", "ops").unwrap();
        set_var(tree.group_vars(prod), "ansible_port", "2200").unwrap();
        set_var(tree.host(web, "web1"), "ansible_port", "2222").unwrap();
        tree.host(web, "web2");
        tree.host(UNGROUPED, "lone");
        let (servers, groups) = tree.resolve().unwrap();
        assert_eq!(groups, ["all", "ungrouped", "web", "prod"]);
        let s = |name: &str| servers.iter().find(|s| s.name == name).unwrap().clone();
        assert_eq!(s("web1").port.unwrap().get(), 2222);
        assert_eq!(s("web2").port.unwrap().get(), 2200);
        assert_eq!(s("web1").user.as_deref(), Some("ops"));
        assert_eq!(s("web1").groups, ["all", "web", "prod"]);
        assert_eq!(s("lone").groups, ["all", "ungrouped"]);
        assert_eq!(s("lone").user.as_deref(), Some("root"));
    }

    #[test]
    fn cycles_undefined_groups_and_passwords_are_errors() {
        let mut tree = Tree::new();
        let a = tree.group("a", 3);
        let b = tree.group("b", 7);
        tree.define(a);
        tree.define(b);
        tree.child(a, b);
        tree.child(b, a);
        let err = tree.resolve().unwrap_err();
        assert!(err.contains("its own ancestor"), "{err}");
        let mut tree = Tree::new();
        tree.group("ghost", 9);
        assert!(
            tree.resolve()
                .unwrap_err()
                .starts_with("9: group \"ghost\"")
        );
        let mut conn = Conn::default();
        assert!(
            set_var(&mut conn, "ansible_ssh_pass", "x")
                .unwrap_err()
                .contains("key or agent")
        );
        assert!(set_var(&mut conn, "ansible_port", "0").is_err());
        assert!(set_var(&mut conn, "ansible_connection", "winrm").is_err());
        set_var(&mut conn, "http_port", "80").unwrap();
        assert_eq!(conn, Conn::default());
    }
}
