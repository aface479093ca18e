//! Ansible's YAML inventory: top-level groups (usually just `all`), each
//! with `hosts` (name → vars), `children` (name → group) and `vars`.
//! Parsed with the shared config loader, so a misspelt key (`hots:`) or a
//! bad port names its line, column and path.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

use secops_common::config::{INVENTORY, Syntax, parse_within as parse_config};

use crate::ansible::{self, Conn, Tree, Var};
use crate::{MAX_HOST_MENTIONS, MAX_HOSTS, hostrange};

/// Errors read `LINE:COL: PATH: problem`.
pub fn parse(text: &str) -> Result<Tree, String> {
    BUDGET.with_borrow_mut(|b| *b = Budget::default());
    let top: Result<Option<Ordered<Option<Group>>>, String> =
        parse_config(text, Syntax::Yaml, &INVENTORY);
    BUDGET.with_borrow_mut(|b| *b = Budget::default());
    let top = top?;
    let mut tree = Tree::new();
    for (name, group) in top.map(|t| t.0).unwrap_or_default() {
        add_group(&mut tree, None, &name.0, group.unwrap_or_default())?;
    }
    Ok(tree)
}

fn add_group(
    tree: &mut Tree,
    parent: Option<usize>,
    name: &str,
    group: Group,
) -> Result<(), String> {
    let g = tree.group(name, 0)?;
    tree.define(g);
    if let Some(parent) = parent {
        tree.child(parent, g);
    }
    tree.group_vars(g)
        .overlay(&group.vars.unwrap_or_default().0);
    for (pattern, vars) in group.hosts.map(|h| h.0).unwrap_or_default() {
        let vars = vars.unwrap_or_default().0;
        for host in pattern.0 {
            tree.host(g, &host)
                .map_err(|e| format!("{name}.hosts: {e}"))?
                .overlay(&vars);
        }
    }
    for (child, group) in group.children.map(|c| c.0).unwrap_or_default() {
        add_group(tree, Some(g), &child.0, group.unwrap_or_default())?;
    }
    Ok(())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    hosts: Option<Ordered<Option<Vars>, HostPattern>>,
    children: Option<Ordered<Option<Group>>>,
    vars: Option<Vars>,
}

/// A mapping kept in file order (hosts run in the order written).
#[derive(Debug)]
struct Ordered<T, K = Name>(Vec<(K, T)>);

/// A group or host name, which must be a YAML string: `1234:` is an
/// integer to YAML, and Ansible refuses it ("must be a string") rather
/// than guess how it was spelt (`01234`, `1_234`, `0x4d2`).
#[derive(Debug)]
struct Name(String);

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = Name;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a name as a string, as Ansible requires (quote a number: \"1234\":)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Name, E> {
                Ok(Name(v.to_string()))
            }
        }
        de.deserialize_any(Text)
    }
}

impl<T, K> Default for Ordered<T, K> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>, K: Deserialize<'de>> Deserialize<'de> for Ordered<T, K> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct Entries<T, K>(PhantomData<(T, K)>);
        impl<'de, T: Deserialize<'de>, K: Deserialize<'de>> Visitor<'de> for Entries<T, K> {
            type Value = Ordered<T, K>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<K, T>()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }
        de.deserialize_map(Entries(PhantomData))
    }
}

/// What the hosts of one file have cost so far: checked while the parser
/// is at each host key, so an error carries that key's line and column.
/// Thread-local because serde's derived `Group` cannot hand state down to
/// its keys; [`parse`] resets it before and after each file.
#[derive(Default)]
struct Budget {
    mentions: usize,
    names: HashSet<String>,
}

thread_local! {
    static BUDGET: RefCell<Budget> = RefCell::new(Budget::default());
}

/// A `hosts:` key (`web[01:20].example.com`), expanded as it is read:
/// a pattern naming more than `hostrange::MAX_HOSTS`, or one taking the
/// file past the inventory's limits, is an error at its own line.
#[derive(Debug)]
struct HostPattern(Vec<String>);

impl<'de> Deserialize<'de> for HostPattern {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let pattern = Name::deserialize(de)?.0;
        let n = hostrange::count(&pattern).map_err(de::Error::custom)?;
        BUDGET
            .with_borrow_mut(|budget| {
                budget.mentions = budget
                    .mentions
                    .checked_add(n)
                    .filter(|m| *m <= MAX_HOST_MENTIONS)
                    .ok_or_else(|| {
                        format!(
                            "host {pattern:?}: more than {MAX_HOST_MENTIONS} host names in all, the most an inventory may list"
                        )
                    })?;
                let names = hostrange::expand(&pattern)?;
                for name in &names {
                    if budget.names.len() >= MAX_HOSTS && !budget.names.contains(name) {
                        return Err(ansible::too_many_hosts(name));
                    }
                    budget.names.insert(name.clone());
                }
                Ok(HostPattern(names))
            })
            .map_err(de::Error::custom)
    }
}

/// Host or group vars: the connection ones are checked where they are
/// read (so an error points at the value), the rest skipped.
#[derive(Debug, Default)]
pub(super) struct Vars(pub(super) Conn);

impl<'de> Deserialize<'de> for Vars {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct VarsVisitor;
        impl<'de> Visitor<'de> for VarsVisitor {
            type Value = Vars;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of vars")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vars, A::Error> {
                let mut conn = Conn::default();
                while let Some(key) = map.next_key::<String>()? {
                    match Var::of(&key) {
                        Var::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                        _ => map.next_value_seed(Setting {
                            key: &key,
                            conn: &mut conn,
                        })?,
                    }
                }
                Ok(Vars(conn))
            }
        }
        de.deserialize_map(VarsVisitor)
    }
}

/// One connection var's value (a string, number or boolean), applied to
/// `conn` while the parser is still at it, so an error (a bad port, a
/// password) carries the value's own line and column.
struct Setting<'a> {
    key: &'a str,
    conn: &'a mut Conn,
}

impl<'de> de::DeserializeSeed<'de> for Setting<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl Setting<'_> {
    fn set<E: de::Error>(self, value: &str) -> Result<(), E> {
        ansible::set_var(self.conn, self.key, value).map_err(E::custom)
    }

    fn not_scalar<E: de::Error>(self) -> Result<(), E> {
        match Var::of(self.key) {
            Var::Password => self.set(""),
            _ => Err(E::custom(format!(
                "{}: expected a string or number",
                self.key
            ))),
        }
    }
}

impl<'de> Visitor<'de> for Setting<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a string or number for {}", self.key)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.set(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.set(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.set(&v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.set(&v.to_string())
    }
    /// `!vault |` encrypted values arrive as tagged values: still refused
    /// as passwords, or named as the wrong type.
    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        self.not_scalar()
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        self.not_scalar()
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        self.not_scalar()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTS: &str = "\
all:
  hosts:
    lone.example.com:
  vars:
    ansible_user: root
  children:
    web:
      hosts:
        web[01:02]:
          ansible_port: 2222
        web03:
          ansible_host: 10.0.0.3
          http_port: 80
          tags: [a, b]
      vars:
        ansible_user: ops
    prod:
      children:
        web:
        db:
          hosts:
            db1:
              ansible_port: \"2201\"
";

    #[test]
    fn groups_children_vars_and_ranges() {
        let (servers, groups) = parse(HOSTS).unwrap().resolve().unwrap();
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["all", "ungrouped", "web", "prod", "db"]);
        let names: Vec<_> = servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["lone.example.com", "web01", "web02", "web03", "db1"]
        );
        let s = |name: &str| servers.iter().find(|s| s.name == name).unwrap();
        assert_eq!(s("web01").port.unwrap().get(), 2222);
        assert_eq!(s("web01").user.as_deref(), Some("ops"));
        assert_eq!(s("web03").address.as_deref(), Some("10.0.0.3"));
        assert_eq!(s("db1").port.unwrap().get(), 2201);
        assert_eq!(s("db1").user.as_deref(), Some("root"));
        assert_eq!(s("db1").groups, ["all", "prod", "db"]);
        assert_eq!(s("web02").groups, ["all", "web", "prod"]);
        assert_eq!(s("lone.example.com").groups, ["all", "ungrouped"]);
    }

    #[test]
    fn errors_name_line_and_path() {
        let err = parse("all:\n  children:\n    web:\n      hots:\n        w1:\n").unwrap_err();
        assert!(
            err.starts_with("4:") && err.contains("unknown field `hots`"),
            "{err}"
        );
        let err = parse("all:\n  hosts:\n    w1:\n      ansible_port: 70000\n").unwrap_err();
        assert!(
            err.starts_with("4:")
                && err.contains("all.hosts.w1.ansible_port")
                && err.contains("invalid port"),
            "{err}"
        );
        let err =
            parse("all:\n  hosts:\n    w1:\n      ansible_user: ops\n      ansible_port: 0\n")
                .unwrap_err();
        assert!(err.starts_with("5:"), "the value's own line: {err}");
        let vault =
            "all:\n  vars:\n    ansible_password: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n";
        assert!(parse(vault).unwrap_err().contains("key or agent"));
        let err = parse("all:\n  hosts:\n    w1:\n      ansible_password: x\n").unwrap_err();
        assert!(
            err.starts_with("4:") && err.contains("key or agent"),
            "{err}"
        );
    }

    #[test]
    fn an_inventory_larger_than_a_settings_file_is_read() {
        // 40,000 hosts, about 1.5 MiB: over the settings limit of 1 MiB,
        // within the inventory's.
        let mut text = String::from("all:\n  hosts:\n");
        for i in 0..40_000 {
            text.push_str(&format!("    web-{i:05}.example.com:\n"));
        }
        assert!(text.len() > 1 << 20);
        let (servers, _) = parse(&text).unwrap().resolve().unwrap();
        assert_eq!(servers.len(), 40_000);
    }
}
