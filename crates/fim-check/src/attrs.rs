//! The attributes a baseline can hold and the named sets a policy picks
//! from, in the spirit of AIDE's groups (`p+u+g+sha256`): `content`,
//! `perms`, `full` and `log`, combinable with `+` (`perms+sha256`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// One comparable attribute, in the order changes are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    Type,
    Mode,
    Uid,
    Gid,
    Size,
    Mtime,
    Ctime,
    Inode,
    Nlink,
    Target,
    Sha256,
    Xattrs,
    Acl,
    /// `log` files: the size may grow; shrinking (or replacement, via
    /// inode) is the alert. Reported as a `size` change.
    Growing,
}

impl Attr {
    pub const ALL: [Attr; 14] = [
        Attr::Type,
        Attr::Mode,
        Attr::Uid,
        Attr::Gid,
        Attr::Size,
        Attr::Mtime,
        Attr::Ctime,
        Attr::Inode,
        Attr::Nlink,
        Attr::Target,
        Attr::Sha256,
        Attr::Xattrs,
        Attr::Acl,
        Attr::Growing,
    ];

    /// The name in policies and in a `fim.changed` record's `attributes`.
    pub fn as_str(self) -> &'static str {
        match self {
            Attr::Type => "type",
            Attr::Mode => "mode",
            Attr::Uid => "uid",
            Attr::Gid => "gid",
            Attr::Size => "size",
            Attr::Mtime => "mtime",
            Attr::Ctime => "ctime",
            Attr::Inode => "inode",
            Attr::Nlink => "nlink",
            Attr::Target => "target",
            Attr::Sha256 => "sha256",
            Attr::Xattrs => "xattrs",
            Attr::Acl => "acl",
            Attr::Growing => "growing",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of attributes; deserialized from `content+perms` style text so a
/// typo is an error naming the word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AttrSet(u16);

impl AttrSet {
    pub const EMPTY: AttrSet = AttrSet(0);

    /// `content`: what the file holds (type, size, SHA-256, symlink target).
    pub fn content() -> AttrSet {
        AttrSet::of(&[Attr::Type, Attr::Size, Attr::Sha256, Attr::Target])
    }

    /// `perms`: who may do what (type, mode, owner, group, ACLs).
    pub fn perms() -> AttrSet {
        AttrSet::of(&[Attr::Type, Attr::Mode, Attr::Uid, Attr::Gid, Attr::Acl])
    }

    /// `full`: every attribute (except `growing`, which relaxes `size`).
    pub fn full() -> AttrSet {
        AttrSet::of(&Attr::ALL[..13])
    }

    /// `log`: files that only grow; permissions, owner and inode are
    /// watched, content is not, and only a shrinking size is a change.
    pub fn log() -> AttrSet {
        AttrSet::perms().with(&[Attr::Inode, Attr::Growing])
    }

    pub fn of(attrs: &[Attr]) -> AttrSet {
        AttrSet::EMPTY.with(attrs)
    }

    fn with(self, attrs: &[Attr]) -> AttrSet {
        AttrSet(attrs.iter().fold(self.0, |bits, a| bits | a.bit()))
    }

    pub fn has(self, attr: Attr) -> bool {
        self.0 & attr.bit() != 0
    }

    pub fn union(self, other: AttrSet) -> AttrSet {
        AttrSet(self.0 | other.0)
    }

    /// Whether extended attributes must be read at all.
    pub fn needs_xattrs(self) -> bool {
        self.has(Attr::Xattrs) || self.has(Attr::Acl)
    }
}

impl Default for AttrSet {
    fn default() -> AttrSet {
        AttrSet::full()
    }
}

impl TryFrom<String> for AttrSet {
    type Error = String;

    fn try_from(text: String) -> Result<AttrSet, String> {
        let mut set = AttrSet::EMPTY;
        for word in text.split('+').map(str::trim) {
            set = set.union(match word {
                "content" => AttrSet::content(),
                "perms" => AttrSet::perms(),
                "full" => AttrSet::full(),
                "log" => AttrSet::log(),
                _ => match Attr::ALL.iter().find(|a| a.as_str() == word) {
                    Some(attr) => AttrSet::of(&[*attr]),
                    None => {
                        return Err(format!(
                            "unknown attribute {word:?} (expected content, perms, full, log or one of {})",
                            Attr::ALL.map(Attr::as_str).join(", ")
                        ));
                    }
                },
            });
        }
        Ok(set)
    }
}

impl From<AttrSet> for String {
    fn from(set: AttrSet) -> String {
        set.to_string()
    }
}

impl fmt::Display for AttrSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Attr::ALL
            .iter()
            .filter(|a| self.has(**a))
            .map(|a| a.as_str())
            .collect();
        f.write_str(&names.join("+"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_combine_and_round_trip() {
        let set = AttrSet::try_from("perms+sha256".to_string()).unwrap();
        assert!(set.has(Attr::Mode) && set.has(Attr::Sha256) && !set.has(Attr::Mtime));
        assert_eq!(AttrSet::try_from(set.to_string()), Ok(set));
        let log = AttrSet::try_from("log".to_string()).unwrap();
        assert!(log.has(Attr::Growing) && !log.has(Attr::Size) && !log.has(Attr::Sha256));
        assert!(!AttrSet::full().has(Attr::Growing));
        let err = AttrSet::try_from("perms+sha265".to_string()).unwrap_err();
        assert!(err.contains("\"sha265\""), "{err}");
    }
}
