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
    /// RFC 3339 UTC with nanoseconds, for any time a file system can hold:
    /// before 1970 (`touch -d @-1`) as well as after 9999, where a year
    /// outside 0000-9999 is written with its sign and all its digits
    /// (ISO 8601's expanded form: `-0001-12-31T...`, `+10000-01-01T...`).
    /// The standard formatters refuse both, and a record that cannot be
    /// written must not end the run before later changes are reported.
    pub fn text(self) -> String {
        let secs = i128::from(self.secs) + i128::from(self.nanos / 1_000_000_000);
        let nanos = self.nanos % 1_000_000_000;
        let days = secs.div_euclid(86_400);
        let of_day = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let year = match year {
            0..=9999 => format!("{year:04}"),
            y if y < 0 => format!("-{:04}", -y),
            y => format!("+{y}"),
        };
        format!(
            "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
            of_day / 3600,
            of_day / 60 % 60,
            of_day % 60
        )
    }
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard
/// Hinnant's `civil_from_days`), for any day an `i64` of seconds reaches.
fn civil_from_days(days: i128) -> (i128, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i128::from(month <= 2);
    (year, month, day)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(secs: i64, nanos: u32) -> String {
        Stamp { secs, nanos }.text()
    }

    #[test]
    fn times_of_any_year_are_written_never_refused() {
        assert_eq!(text(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(text(1_795_287_720, 5), "2026-11-21T19:02:00.000000005Z");
        assert_eq!(text(951_782_400, 0), "2000-02-29T00:00:00.000000000Z");
        // Before 1970: `touch -d @-1`, and a timespec's nanoseconds count
        // forward from its (negative) second.
        assert_eq!(text(-1, 0), "1969-12-31T23:59:59.000000000Z");
        assert_eq!(text(-1, 500_000_000), "1969-12-31T23:59:59.500000000Z");
        assert_eq!(text(-2_208_988_800, 0), "1900-01-01T00:00:00.000000000Z");
        // The ends of RFC 3339's years, and past them.
        assert_eq!(text(253_402_300_799, 0), "9999-12-31T23:59:59.000000000Z");
        assert_eq!(text(253_402_300_800, 0), "+10000-01-01T00:00:00.000000000Z");
        assert_eq!(text(-62_167_219_200, 0), "0000-01-01T00:00:00.000000000Z");
        assert_eq!(text(-62_167_219_201, 0), "-0001-12-31T23:59:59.000000000Z");
        // Whatever a file system (or a baseline) holds.
        for secs in [i64::MIN, i64::MAX] {
            assert!(text(secs, u32::MAX).ends_with('Z'));
        }
        // Agrees with humantime wherever humantime can format.
        for secs in [1, 86_399, 1_000_000_000, 4_102_444_800, 253_402_300_799] {
            let time = std::time::UNIX_EPOCH + std::time::Duration::new(secs as u64, 123);
            assert_eq!(
                text(secs, 123),
                humantime::format_rfc3339_nanos(time).to_string()
            );
        }
    }
}
