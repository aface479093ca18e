//! One file as the baseline records it, and how two records of the same
//! path differ under an attribute set.

use nix::sys::stat::{FileStat, SFlag};
use serde_json::Value;

use crate::acl;
use crate::attrs::{Attr, AttrSet};
use crate::names::{hex, text_of};

/// File types, as `type` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File = 0,
    Dir = 1,
    Symlink = 2,
    Fifo = 3,
    Socket = 4,
    CharDevice = 5,
    BlockDevice = 6,
}

impl Kind {
    pub fn of(st: &FileStat) -> Kind {
        match SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT {
            SFlag::S_IFDIR => Kind::Dir,
            SFlag::S_IFLNK => Kind::Symlink,
            SFlag::S_IFIFO => Kind::Fifo,
            SFlag::S_IFSOCK => Kind::Socket,
            SFlag::S_IFCHR => Kind::CharDevice,
            SFlag::S_IFBLK => Kind::BlockDevice,
            _ => Kind::File,
        }
    }

    pub fn from_u8(n: u8) -> Option<Kind> {
        [
            Kind::File,
            Kind::Dir,
            Kind::Symlink,
            Kind::Fifo,
            Kind::Socket,
            Kind::CharDevice,
            Kind::BlockDevice,
        ]
        .get(usize::from(n))
        .copied()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "dir",
            Kind::Symlink => "symlink",
            Kind::Fifo => "fifo",
            Kind::Socket => "socket",
            Kind::CharDevice => "char",
            Kind::BlockDevice => "block",
        }
    }
}

/// A time as seconds and nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Stamp {
    fn text(self) -> String {
        let time = if self.secs >= 0 {
            std::time::UNIX_EPOCH + std::time::Duration::new(self.secs as u64, self.nanos)
        } else {
            std::time::UNIX_EPOCH - std::time::Duration::from_secs(self.secs.unsigned_abs())
        };
        humantime::format_rfc3339_nanos(time).to_string()
    }
}

/// Everything recorded about one path. Attributes a rule does not ask for
/// stay empty (`sha256: None`, no xattrs) so they cost nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The absolute path, as bytes: names need not be UTF-8.
    pub path: Vec<u8>,
    pub kind: Kind,
    /// Permission bits including setuid, setgid and sticky.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: Stamp,
    pub ctime: Stamp,
    pub inode: u64,
    pub nlink: u64,
    pub target: Option<Vec<u8>>,
    pub sha256: Option<[u8; 32]>,
    /// Extended attributes sorted by name, POSIX ACLs included.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// ACLs are extended attributes under these names; they are compared as
/// `acl`, the rest as `xattrs`.
const ACL_NAMES: [&[u8]; 2] = [b"system.posix_acl_access", b"system.posix_acl_default"];

impl Entry {
    pub fn from_stat(path: Vec<u8>, st: &FileStat) -> Entry {
        let mut entry = Entry {
            path,
            kind: Kind::of(st),
            mode: 0,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: Stamp::default(),
            ctime: Stamp::default(),
            inode: 0,
            nlink: 0,
            target: None,
            sha256: None,
            xattrs: Vec::new(),
        };
        entry.set_stat(st);
        entry
    }

    /// Takes the metadata of a fresh stat (the one made after hashing, so
    /// hash and metadata describe the same file).
    pub fn set_stat(&mut self, st: &FileStat) {
        self.kind = Kind::of(st);
        self.mode = st.st_mode & 0o7777;
        self.uid = st.st_uid;
        self.gid = st.st_gid;
        self.size = st.st_size as u64;
        self.mtime = Stamp {
            secs: st.st_mtime,
            nanos: st.st_mtime_nsec as u32,
        };
        self.ctime = Stamp {
            secs: st.st_ctime,
            nanos: st.st_ctime_nsec as u32,
        };
        self.inode = st.st_ino;
        self.nlink = st.st_nlink;
    }

    /// Whether the metadata `--trust-metadata` relies on is unchanged.
    pub fn same_identity(&self, other: &Entry) -> bool {
        self.kind == other.kind
            && self.inode == other.inode
            && self.size == other.size
            && self.mtime == other.mtime
            && self.ctime == other.ctime
    }

    /// The attributes of `set` that differ from `old` to `self`.
    pub fn changes(&self, old: &Entry, set: AttrSet) -> Vec<Attr> {
        Attr::ALL
            .into_iter()
            .filter(|a| set.has(*a) && self.differs(old, *a))
            .collect()
    }

    fn differs(&self, old: &Entry, attr: Attr) -> bool {
        match attr {
            Attr::Type => self.kind != old.kind,
            Attr::Mode => self.mode != old.mode,
            Attr::Uid => self.uid != old.uid,
            Attr::Gid => self.gid != old.gid,
            Attr::Size => self.size != old.size,
            Attr::Growing => self.size < old.size,
            Attr::Mtime => self.mtime != old.mtime,
            Attr::Ctime => self.ctime != old.ctime,
            Attr::Inode => self.inode != old.inode,
            Attr::Nlink => self.nlink != old.nlink,
            Attr::Target => self.target != old.target,
            // Directories and special files have no content hash: a type
            // change is reported as `type`, not as a hash appearing.
            Attr::Sha256 => {
                self.sha256 != old.sha256 && (self.kind == Kind::File || old.kind == Kind::File)
            }
            Attr::Xattrs => self.plain_xattrs().ne(old.plain_xattrs()),
            Attr::Acl => self.acl_xattrs().ne(old.acl_xattrs()),
        }
    }

    fn plain_xattrs(&self) -> impl Iterator<Item = &(Vec<u8>, Vec<u8>)> {
        self.xattrs
            .iter()
            .filter(|(n, _)| !ACL_NAMES.contains(&n.as_slice()))
    }

    fn acl_xattrs(&self) -> impl Iterator<Item = &(Vec<u8>, Vec<u8>)> {
        self.xattrs
            .iter()
            .filter(|(n, _)| ACL_NAMES.contains(&n.as_slice()))
    }

    /// An attribute's value as a record shows it.
    pub fn value(&self, attr: Attr) -> Value {
        match attr {
            Attr::Type => self.kind.as_str().into(),
            Attr::Mode => format!("{:04o}", self.mode).into(),
            Attr::Uid => self.uid.into(),
            Attr::Gid => self.gid.into(),
            Attr::Size | Attr::Growing => self.size.into(),
            Attr::Mtime => self.mtime.text().into(),
            Attr::Ctime => self.ctime.text().into(),
            Attr::Inode => self.inode.into(),
            Attr::Nlink => self.nlink.into(),
            Attr::Target => self.target.as_deref().map(text_of).into(),
            Attr::Sha256 => self.sha256.map(|h| hex(&h)).into(),
            Attr::Xattrs => Value::Array(
                self.plain_xattrs()
                    .map(|(n, v)| format!("{}={}", text_of(n), xattr_value(v)).into())
                    .collect(),
            ),
            Attr::Acl => Value::Array(
                self.acl_xattrs()
                    .map(|(n, v)| {
                        let which = if n.ends_with(b"default") {
                            "default"
                        } else {
                            "access"
                        };
                        format!("{which}:{}", acl::text(v).unwrap_or_else(|| hex(v))).into()
                    })
                    .collect(),
            ),
        }
    }
}

/// Printable values as text, others as `0x` and hex, the way getfattr
/// shows them.
fn xattr_value(value: &[u8]) -> String {
    let printable = |b: &u8| b.is_ascii_graphic() || *b == b' ';
    match value.split_last() {
        Some((0, body)) if body.iter().all(printable) => text_of(body),
        _ if value.iter().all(printable) => text_of(value),
        _ => format!("0x{}", hex(value)),
    }
}
