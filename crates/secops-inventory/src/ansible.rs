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

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU16;
use std::path::PathBuf;

use crate::{
    ALL, Group as Node, MAX_GROUPS, MAX_HOST_MENTIONS, MAX_HOSTS, MAX_MEMBERSHIPS, Server,
    UNGROUPED,
};

/// The connection settings a host's vars give.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conn {
    pub address: Option<String>,
    pub port: Option<NonZeroU16>,
    pub user: Option<String>,
    pub identity_file: Option<PathBuf>,
    /// `ansible_connection`, as the last var to set it gave it.
    pub connection: Option<String>,
}

impl Conn {
    /// `other`'s settings win where it has them.
    pub fn overlay(&mut self, other: &Conn) {
        let Conn {
            address,
            port,
            user,
            identity_file,
            connection,
        } = other.clone();
        self.address = address.or(self.address.take());
        self.port = port.or(self.port);
        self.user = user.or(self.user.take());
        self.identity_file = identity_file.or(self.identity_file.take());
        self.connection = connection.or(self.connection.take());
    }
}

/// What one var means to remote-run.
pub enum Var {
    Address,
    Port,
    User,
    IdentityFile,
    /// `ansible_connection`: only ssh is supported, which remote-run
    /// checks for the hosts it runs on (a `local` host elsewhere in the
    /// inventory is no reason to refuse it).
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
        Var::Connection => conn.connection = Some(value.to_string()),
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
    /// When its first section (of any kind) or YAML key came: Ansible
    /// keeps groups in that order, and `--limit` walks them in it.
    declared: Option<usize>,
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
///
/// Every lookup is by hash, never a scan, and every count is bounded
/// (the `MAX_*` limits of the crate root), so an inventory of a hundred
/// thousand hosts reads in well under a second and a hostile one is
/// refused before it costs more.
#[derive(Debug)]
pub struct Tree {
    groups: Vec<Group>,
    hosts: Vec<Host>,
    group_index: HashMap<String, usize>,
    host_index: HashMap<String, usize>,
    /// (group, host) pairs already recorded.
    membership: HashSet<(usize, usize)>,
    /// (parent, child) pairs already recorded.
    edges: HashSet<(usize, usize)>,
    /// Host names met so far, one per mention (a host in two groups
    /// counts twice).
    mentions: usize,
    /// Groups declared so far.
    declarations: usize,
}

impl Tree {
    pub fn new() -> Tree {
        let mut tree = Tree {
            groups: Vec::new(),
            hosts: Vec::new(),
            group_index: HashMap::new(),
            host_index: HashMap::new(),
            membership: HashSet::new(),
            edges: HashSet::new(),
            mentions: 0,
            declarations: 0,
        };
        for name in ["all", "ungrouped"] {
            let g = tree
                .group(name, 0)
                .expect("two groups are within the limit");
            tree.define(g);
        }
        tree.child(ALL, UNGROUPED);
        tree
    }

    /// The group called `name`, created on first mention at `line`; an
    /// error past [`MAX_GROUPS`].
    pub fn group(&mut self, name: &str, line: usize) -> Result<usize, String> {
        if let Some(&i) = self.group_index.get(name) {
            return Ok(i);
        }
        if self.groups.len() >= MAX_GROUPS {
            return Err(format!(
                "group {name:?}: more than {MAX_GROUPS} groups, the most an inventory may have"
            ));
        }
        self.groups.push(Group {
            name: name.to_string(),
            line,
            defined: false,
            declared: None,
            children: Vec::new(),
            hosts: Vec::new(),
            vars: Conn::default(),
            file_vars: Conn::default(),
        });
        self.group_index
            .insert(name.to_string(), self.groups.len() - 1);
        Ok(self.groups.len() - 1)
    }

    pub fn define(&mut self, group: usize) {
        self.groups[group].defined = true;
        self.declare(group);
    }

    pub fn is_declared(&self, group: usize) -> bool {
        self.groups[group].declared.is_some()
    }

    /// Marks where `group` stands in Ansible's order of groups, at its
    /// first section of any kind (`[web:vars]` included).
    pub fn declare(&mut self, group: usize) {
        if self.groups[group].declared.is_none() {
            self.groups[group].declared = Some(self.declarations);
            self.declarations += 1;
        }
    }

    pub fn child(&mut self, parent: usize, child: usize) {
        if self.edges.insert((parent, child)) {
            self.groups[parent].children.push(child);
        }
    }

    /// Counts `n` more host names about to be added (a pattern's
    /// expansion, worked out first by `hostrange::count`): an error past
    /// [`MAX_HOST_MENTIONS`], before any is built.
    pub fn mention(&mut self, n: usize) -> Result<(), String> {
        self.mentions = self
            .mentions
            .checked_add(n)
            .filter(|m| *m <= MAX_HOST_MENTIONS)
            .ok_or_else(|| {
                format!(
                    "more than {MAX_HOST_MENTIONS} host names in all, the most an inventory may list"
                )
            })?;
        Ok(())
    }

    /// Puts host `name` in `group` (creating it on first mention) and
    /// returns its vars, which accumulate across mentions; an error past
    /// [`MAX_HOSTS`] distinct hosts.
    pub fn host(&mut self, group: usize, name: &str) -> Result<&mut Conn, String> {
        let h = match self.host_index.get(name) {
            Some(&h) => h,
            None => {
                if self.hosts.len() >= MAX_HOSTS {
                    return Err(too_many_hosts(name));
                }
                self.hosts.push(Host {
                    name: name.to_string(),
                    vars: Conn::default(),
                    file_vars: Conn::default(),
                });
                self.host_index
                    .insert(name.to_string(), self.hosts.len() - 1);
                self.hosts.len() - 1
            }
        };
        if self.membership.insert((group, h)) {
            self.groups[group].hosts.push(h);
        }
        Ok(&mut self.hosts[h].vars)
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
    pub fn resolve(mut self) -> Result<(Vec<Server>, Vec<Node>), String> {
        if let Some(g) = self.groups.iter().find(|g| !g.defined) {
            return Err(format!(
                "{}: group {:?} is used but never defined (no [{}] section)",
                g.line, g.name, g.name
            ));
        }
        if let Some(g) = self
            .groups
            .iter()
            .find(|g| self.host_index.contains_key(&g.name))
        {
            return Err(format!(
                "{}: {:?} is both a host and a group: Ansible mixes the two up (a var on the host line can land on the group, the group can join \"ungrouped\"), so this is refused; rename one",
                g.line, g.name
            ));
        }
        let n = self.groups.len();
        let mut parents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (p, group) in self.groups.iter().enumerate() {
            for &c in &group.children {
                parents[c].push(p);
            }
        }
        // Ansible's order of groups: as first declared.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&g| self.groups[g].declared);
        let mut rank = vec![0; n];
        for (r, &g) in order.iter().enumerate() {
            rank[g] = r;
        }
        for &g in &order[UNGROUPED + 1..] {
            if parents[g].is_empty() {
                parents[g].push(ALL);
                self.groups[ALL].children.push(g);
            }
        }
        let depth = self.depths(&parents)?;
        let mut direct: Vec<Vec<usize>> = vec![Vec::new(); self.hosts.len()];
        for (g, group) in self.groups.iter().enumerate() {
            for &h in &group.hosts {
                direct[h].push(g);
            }
        }
        // `ungrouped` holds exactly the hosts in no other group (but
        // `all`): those the file put there, then the rest in host order,
        // as Ansible's reconcile_inventory leaves it.
        let only_all = |d: &[usize]| d.iter().all(|&g| g == ALL || g == UNGROUPED);
        self.groups[UNGROUPED]
            .hosts
            .retain(|&h| only_all(&direct[h]));
        for (h, d) in direct.iter_mut().enumerate() {
            if !only_all(d) {
                d.retain(|&g| g != UNGROUPED);
            } else if !d.contains(&UNGROUPED) {
                d.push(UNGROUPED);
                self.groups[UNGROUPED].hosts.push(h);
            }
        }
        // Which host last marked each group: a visited set cleared in O(1).
        let mut seen = vec![usize::MAX; n];
        let mut memberships = 0usize;
        let mut servers = Vec::with_capacity(self.hosts.len());
        for (h, host) in self.hosts.iter().enumerate() {
            let mut member: Vec<usize> = Vec::new();
            let mut stack = std::mem::take(&mut direct[h]);
            while let Some(g) = stack.pop() {
                if seen[g] != h {
                    seen[g] = h;
                    member.push(g);
                    stack.extend(&parents[g]);
                }
            }
            memberships += member.len();
            if memberships > MAX_MEMBERSHIPS {
                let deepest = member.iter().max_by_key(|&&g| depth[g]).copied();
                let group = &self.groups[deepest.unwrap_or(ALL)];
                return Err(format!(
                    "{}: group {:?}: the hosts' group memberships add up to more than {MAX_MEMBERSHIPS} (hosts times the groups each is in), the most an inventory may have",
                    group.line, group.name
                ));
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
            // Listed in Ansible's order of groups.
            member.sort_unstable_by_key(|&g| rank[g]);
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
                connection: conn
                    .connection
                    .filter(|c| !matches!(c.as_str(), "ssh" | "smart")),
                jump: None,
                groups,
            });
        }
        let mut groups: Vec<Option<Group>> = self.groups.into_iter().map(Some).collect();
        let nodes = order
            .iter()
            .map(|&g| {
                let group = groups[g].take().expect("each group is placed once");
                Node {
                    name: group.name,
                    hosts: group.hosts,
                    children: group.children.iter().map(|&c| rank[c]).collect(),
                }
            })
            .collect();
        Ok((servers, nodes))
    }

    /// The longest path from `all` to each group, as Ansible orders vars
    /// by it: groups taken in topological order (Kahn's algorithm), so
    /// the work is linear in the groups and `:children` lines and no
    /// nesting depth can overflow the stack. A group never reached sits
    /// on, or under, a `:children` cycle.
    fn depths(&self, parents: &[Vec<usize>]) -> Result<Vec<usize>, String> {
        let n = self.groups.len();
        let mut waiting: Vec<usize> = parents.iter().map(Vec::len).collect();
        let mut depth: Vec<Option<usize>> = vec![None; n];
        let mut ready = Vec::new();
        if waiting[ALL] == 0 {
            depth[ALL] = Some(0);
            ready.push(ALL);
        }
        while let Some(g) = ready.pop() {
            let here = depth[g].unwrap_or(0);
            for &c in &self.groups[g].children {
                depth[c] = Some(depth[c].map_or(here + 1, |d| d.max(here + 1)));
                waiting[c] -= 1;
                if waiting[c] == 0 {
                    ready.push(c);
                }
            }
        }
        if let Some(stuck) = (0..n).find(|&g| waiting[g] > 0 || depth[g].is_none()) {
            return Err(self.cycle_error(self.on_cycle(stuck, &waiting, parents)));
        }
        Ok(depth.into_iter().map(|d| d.unwrap_or(0)).collect())
    }

    /// A group on a cycle, found from `stuck` (one Kahn's algorithm never
    /// finished) by walking up through unfinished parents: each has one,
    /// so the walk must come back to a group it passed.
    fn on_cycle(&self, stuck: usize, waiting: &[usize], parents: &[Vec<usize>]) -> usize {
        let mut passed = vec![false; self.groups.len()];
        let mut g = stuck;
        while !passed[g] {
            passed[g] = true;
            match parents[g].iter().find(|&&p| waiting[p] > 0) {
                Some(&p) => g = p,
                None => break,
            }
        }
        g
    }

    fn cycle_error(&self, g: usize) -> String {
        let group = &self.groups[g];
        format!(
            "{}: group {:?} is its own ancestor (a :children cycle)",
            group.line, group.name
        )
    }
}

/// The error for the host past [`MAX_HOSTS`].
pub fn too_many_hosts(name: &str) -> String {
    format!("host {name:?}: more than {MAX_HOSTS} hosts, the most an inventory may have")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deeper_groups_and_hosts_win_and_parents_count() {
        let mut tree = Tree::new();
        let web = tree.group("web", 1).unwrap();
        tree.define(web);
        let prod = tree.group("prod", 5).unwrap();
        tree.define(prod);
        tree.child(prod, web);
        set_var(tree.group_vars(ALL), "ansible_user", "root").unwrap();
        set_var(tree.group_vars(prod), "ansible_user", "ops").unwrap();
        set_var(tree.group_vars(prod), "ansible_port", "2200").unwrap();
        set_var(tree.host(web, "web1").unwrap(), "ansible_port", "2222").unwrap();
        tree.host(web, "web2").unwrap();
        tree.host(UNGROUPED, "lone").unwrap();
        let (servers, groups) = tree.resolve().unwrap();
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["all", "ungrouped", "web", "prod"]);
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
        let a = tree.group("a", 3).unwrap();
        let b = tree.group("b", 7).unwrap();
        tree.define(a);
        tree.define(b);
        tree.child(a, b);
        tree.child(b, a);
        let err = tree.resolve().unwrap_err();
        assert!(err.contains("its own ancestor"), "{err}");
        let mut tree = Tree::new();
        tree.group("ghost", 9).unwrap();
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
        set_var(&mut conn, "http_port", "80").unwrap();
        assert_eq!(conn, Conn::default());
    }
}
