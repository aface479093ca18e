//! Ansible's YAML inventory: top-level groups (usually just `all`), each
//! with `hosts` (name → vars), `children` (name → group) and `vars`.
//! Parsed with the shared config loader, so a misspelt key (`hots:`) or a
//! bad port names its line, column and path.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

use secops_common::config::{Syntax, parse as parse_config};

use crate::hostrange;

use super::ansible::{self, Conn, Tree, Var};

/// Errors read `LINE:COL: PATH: problem`.
pub fn parse(text: &str) -> Result<Tree, String> {
    let top: Option<Ordered<Option<Group>>> = parse_config(text, Syntax::Yaml)?;
    let mut tree = Tree::new();
    for (name, group) in top.map(|t| t.0).unwrap_or_default() {
        add_group(&mut tree, None, &name, group.unwrap_or_default())?;
    }
    Ok(tree)
}

fn add_group(
    tree: &mut Tree,
    parent: Option<usize>,
    name: &str,
    group: Group,
) -> Result<(), String> {
    let g = tree.group(name, 0);
    tree.define(g);
    if let Some(parent) = parent {
        tree.child(parent, g);
    }
    tree.group_vars(g)
        .overlay(&group.vars.unwrap_or_default().0);
    for (pattern, vars) in group.hosts.map(|h| h.0).unwrap_or_default() {
        let vars = vars.unwrap_or_default().0;
        for host in hostrange::expand(&pattern).map_err(|e| format!("{name}.hosts: {e}"))? {
            tree.host(g, &host).overlay(&vars);
        }
    }
    for (child, group) in group.children.map(|c| c.0).unwrap_or_default() {
        add_group(tree, Some(g), &child, group.unwrap_or_default())?;
    }
    Ok(())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    hosts: Option<Ordered<Option<Vars>>>,
    children: Option<Ordered<Option<Group>>>,
    vars: Option<Vars>,
}

/// A mapping kept in file order (hosts run in the order written).
#[derive(Debug, Default)]
struct Ordered<T>(Vec<(String, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct Entries<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Entries<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, T>()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }
        de.deserialize_map(Entries(PhantomData))
    }
}

/// Host or group vars: the connection ones are checked where they are
/// read (so an error points at the value), the rest skipped.
#[derive(Debug, Default)]
struct Vars(Conn);

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
                        Var::Password => {
                            map.next_value::<Refused>()?;
                        }
                        Var::Port => conn.port = Some(map.next_value::<Port>()?.0),
                        _ => {
                            let value = map.next_value::<Scalar>()?.0;
                            ansible::set_var(&mut conn, &key, &value).map_err(de::Error::custom)?;
                        }
                    }
                }
                Ok(Vars(conn))
            }
        }
        de.deserialize_map(VarsVisitor)
    }
}

/// A string, number or boolean, as text.
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        de.deserialize_any(ScalarVisitor)
    }
}

/// `ansible_port: 2222` or `"2222"`.
struct Port(std::num::NonZeroU16);

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let text = Scalar::deserialize(de)?.0;
        ansible::port(&text).map(Port).map_err(de::Error::custom)
    }
}

/// A password var: always an error, raised at its value.
struct Refused;

impl<'de> Deserialize<'de> for Refused {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(de)?;
        Err(de::Error::custom(ansible::NO_PASSWORDS))
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
        assert_eq!(groups, ["all", "ungrouped", "web", "prod", "db"]);
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
        let err = parse("all:\n  hosts:\n    w1:\n      ansible_password: x\n").unwrap_err();
        assert!(
            err.starts_with("4:") && err.contains("key or agent"),
            "{err}"
        );
    }
}
