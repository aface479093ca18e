//! The mount table, and the set of "real" filesystems GNU df lists by
//! default: what `--all` checks and what healthmon samples.
//!
//! The table comes from `/proc/self/mountinfo`, parsed here rather than with
//! the procfs crate because its fields are octal-escaped (`\040` for a
//! space) and mount points need not be UTF-8, and both must come out exact
//! to match df. The selection follows coreutils' `df.c` and gnulib's
//! `mountlist.c` rule by rule, so the set equals `df`'s:
//!
//! 1. drop "dummy" types (gnulib's `ME_DUMMY`: proc, sysfs, devpts, ...)
//!    and relative mount points (seen in other network namespaces);
//! 2. de-duplicate by the device number `stat(2)` gives the mount point,
//!    preferring real device names, mounts nearer the root, and the mount
//!    on top where two share a mount point (df's `filter_mount_list`);
//! 3. drop filesystems with no blocks (cgroup, tracefs, bpf, ...), and
//!    those that vanished or may not be looked at (ENOENT, EACCES).
//!
//! Every `stat` and `statvfs` goes through a [`Prober`], so a hung mount
//! is reported as timed out instead of hanging the caller.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use crate::pattern::Pattern;
use crate::usage::{DEFAULT_TIMEOUT, Probe, Prober, Usage, UsageError};

/// One line of the mount table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted: df's `Mounted on`.
    pub mountpoint: PathBuf,
    /// What is mounted, as the kernel names it: `/dev/vda1`, `tmpfs`,
    /// `server:/export`. df's `Filesystem`.
    pub device: String,
    /// Filesystem type: `ext4`, `xfs`, `nfs4`, `fuse.sshfs`.
    pub fstype: String,
    /// The directory of the filesystem that appears at the mount point:
    /// `/` except for bind mounts of a subdirectory.
    pub root: PathBuf,
    /// The device number (`st_dev`) the kernel reports for this mount.
    pub dev: u64,
    /// Per-mount options: `rw,relatime`.
    pub options: String,
    /// The filesystem's own (superblock) options: `rw,errors=remount-ro`.
    pub super_options: String,
}

impl Mount {
    /// The filesystem is read-only: mounted so, or remounted so after an
    /// error (`errors=remount-ro`). Read from the superblock's options,
    /// not the mount's: a read-only view of a writable filesystem (a
    /// `mount --bind -o ro`, or a sandbox such as systemd's
    /// `ProtectSystem=strict`, where every mount is read-only) does not
    /// stop it filling up.
    pub fn is_readonly(&self) -> bool {
        self.super_options.split(',').any(|o| o == "ro")
    }

    /// A network filesystem, by gnulib's `ME_REMOTE` rule: a `host:path`
    /// source, or a `//server/share` of an SMB type.
    pub fn is_remote(&self) -> bool {
        self.device.contains(':')
            || (self.device.starts_with("//")
                && matches!(self.fstype.as_str(), "smbfs" | "smb3" | "cifs"))
            || self.device == "-hosts"
    }

    /// Whether asking it can hang: a network filesystem (its server
    /// gone), FUSE (its daemon stuck) or an automount. Those are asked on
    /// the [`Prober`]'s guard thread with a timeout; a local filesystem
    /// answers or fails, and is asked directly.
    pub fn may_hang(&self) -> bool {
        self.is_remote()
            || self.fstype.starts_with("fuse")
            || matches!(
                self.fstype.as_str(),
                "nfs"
                    | "nfs4"
                    | "cifs"
                    | "smb3"
                    | "smbfs"
                    | "ceph"
                    | "glusterfs"
                    | "9p"
                    | "afs"
                    | "davfs"
                    | "lustre"
                    | "gpfs"
                    | "beegfs"
                    | "virtiofs"
                    | "vboxsf"
                    | "autofs"
                    | "ncpfs"
                    | "coda"
            )
    }

    /// A type df hides unless asked (`-a`), by gnulib's `ME_DUMMY` list.
    fn is_dummy(&self) -> bool {
        DUMMY_TYPES.contains(&self.fstype.as_str())
    }
}

/// gnulib's `ME_DUMMY` types. Other pseudo filesystems (cgroup, tracefs,
/// securityfs, bpf, ...) need no list: they report no blocks, which is the
/// rule df drops them by.
const DUMMY_TYPES: &[&str] = &[
    "autofs",
    "proc",
    "subfs",
    "debugfs",
    "devpts",
    "fusectl",
    "fuse.portal",
    "mqueue",
    "rpc_pipefs",
    "sysfs",
    "devfs",
    "kernfs",
    "ignore",
    "none",
];

/// Every mount this process can see, in mount order.
pub fn mount_table() -> io::Result<Vec<Mount>> {
    let text = std::fs::read("/proc/self/mountinfo")?;
    parse_mountinfo(&text)
        .map_err(|line| io::Error::other(format!("/proc/self/mountinfo:{line}: unreadable line")))
}

/// Parses mountinfo (see proc(5)); `Err` gives the first bad line number.
fn parse_mountinfo(text: &[u8]) -> Result<Vec<Mount>, usize> {
    let mut mounts = Vec::new();
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        let dash = fields.iter().position(|f| *f == b"-").ok_or(n + 1)?;
        if dash < 6 || fields.len() < dash + 3 {
            return Err(n + 1);
        }
        let text = |f: &[u8]| String::from_utf8_lossy(&unescape(f)).into_owned();
        let path = |f: &[u8]| PathBuf::from(OsString::from_vec(unescape(f)));
        let dev = std::str::from_utf8(fields[2])
            .ok()
            .and_then(|d| d.split_once(':'))
            .and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)))
            .map(|(major, minor)| nix::sys::stat::makedev(major, minor))
            .ok_or(n + 1)?;
        mounts.push(Mount {
            mountpoint: path(fields[4]),
            device: text(fields[dash + 2]),
            fstype: text(fields[dash + 1]),
            root: path(fields[3]),
            dev,
            options: text(fields[5]),
            super_options: fields.get(dash + 3).map(|f| text(f)).unwrap_or_default(),
        });
    }
    Ok(mounts)
}

/// Undoes the kernel's octal escapes (`\040` space, `\011` tab, `\012`
/// newline, `\134` backslash).
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let octal = field
            .get(i + 1..i + 4)
            .filter(|d| field[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(field[i]);
                i += 1;
            }
        }
    }
    out
}

/// Which mounts to leave out, beyond what df leaves out.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Filesystem types to skip (df's `-x`).
    pub exclude_types: Vec<String>,
    /// Mount points to skip: exact paths or `*`/`?` wildcards.
    pub exclude_mounts: Vec<Pattern>,
    /// Skip network filesystems (df's `-l`).
    pub local_only: bool,
}

impl Filter {
    /// Whether a mount is left out before it is ever looked at, so that an
    /// excluded mount that hangs costs nothing.
    pub fn excludes(&self, mount: &Mount) -> bool {
        self.exclude_types.contains(&mount.fstype)
            || self
                .exclude_mounts
                .iter()
                .any(|p| p.matches(&mount.mountpoint))
            || (self.local_only && mount.is_remote())
    }
}

/// A mount and what reading its usage gave.
#[derive(Debug)]
pub struct MountUsage {
    pub mount: Mount,
    pub usage: Result<Usage, UsageError>,
}

/// The filesystems `df` lists by default, in its order: every real
/// filesystem once. Each is looked at with [`DEFAULT_TIMEOUT`]; one that
/// does not answer stays in the list (its usage is what tells).
pub fn real_mounts() -> io::Result<Vec<Mount>> {
    Ok(
        survey(&Filter::default(), &mut Prober::new(DEFAULT_TIMEOUT))?
            .into_iter()
            .map(|m| m.mount)
            .collect(),
    )
}

/// [`real_mounts`] with their usage, read once: what a sampler calls on
/// every pass. Mounts that time out or fail other than by vanishing are
/// kept with their error.
pub fn survey(filter: &Filter, prober: &mut Prober) -> io::Result<Vec<MountUsage>> {
    Ok(select(mount_table()?, filter, prober))
}

/// df's selection over a mount table (see the module documentation).
pub(crate) fn select(table: Vec<Mount>, filter: &Filter, prober: &mut Prober) -> Vec<MountUsage> {
    // The kept entries in order, and where each device number sits.
    let mut kept: Vec<MountUsage> = Vec::new();
    let mut by_dev: HashMap<u64, usize> = HashMap::new();
    for mount in table {
        if mount.is_dummy() || !mount.mountpoint.is_absolute() || filter.excludes(&mount) {
            continue;
        }
        // Only a mount that can hang pays for the guard thread: a local
        // filesystem is asked directly, as df asks it.
        let probed = if mount.may_hang() {
            prober.probe(&mount.mountpoint)
        } else {
            Ok(Probe::now(&mount.mountpoint))
        };
        let (dev, usage) = match probed {
            Ok(probe) => (
                probe.dev.unwrap_or(mount.dev),
                probe.usage.map_err(UsageError::Failed),
            ),
            Err(err) => (mount.dev, Err(err)),
        };
        let candidate = MountUsage { mount, usage };
        match by_dev.get(&dev) {
            None => {
                by_dev.insert(dev, kept.len());
                kept.push(candidate);
            }
            Some(&at) => match duplicate(&kept[at].mount, &candidate.mount) {
                Duplicate::KeepBoth => kept.push(candidate),
                Duplicate::Replace => kept[at] = candidate,
                Duplicate::Drop => {}
            },
        }
    }
    kept.retain(|m| match &m.usage {
        Ok(usage) => usage.has_blocks(),
        Err(err) => !err.is_absent_or_denied(),
    });
    kept
}

enum Duplicate {
    KeepBoth,
    Replace,
    Drop,
}

/// What df's `filter_mount_list` does with `new`, a second mount of the
/// device `seen` is already listed for.
fn duplicate(seen: &Mount, new: &Mount) -> Duplicate {
    let len = |p: &Path| p.as_os_str().len();
    if new.is_remote() && seen.is_remote() && seen.device != new.device {
        // Two exports of one server share a device number over NFS; both
        // were mounted on purpose.
        return Duplicate::KeepBoth;
    }
    let real_device_wins = new.device.contains('/') && !seen.device.contains('/');
    let nearer_root = len(&seen.mountpoint) > len(&new.mountpoint);
    let source_below_root = len(&seen.root) < len(&new.root);
    let mounted_on_top = seen.device != new.device && seen.mountpoint == new.mountpoint;
    if real_device_wins || (nearer_root && !source_below_root) || mounted_on_top {
        Duplicate::Replace
    } else {
        Duplicate::Drop
    }
}

/// The mount holding `path` (absolute, without symlinks): the longest
/// mount point that contains it, and of several mounts on that point the
/// last, which is the one on top.
pub fn containing<'t>(table: &'t [Mount], path: &Path) -> Option<&'t Mount> {
    table
        .iter()
        .filter(|m| path.starts_with(&m.mountpoint))
        .max_by_key(|m| m.mountpoint.components().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24731708k
30 25 0:27 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24731708k
61 27 254:0 /srv/data /mnt/my\\040data ro,relatime shared:1 master:2 - ext4 /dev/vda rw
62 27 0:50 / /mnt/nfs rw - nfs4 srv:/export rw,vers=4.2
63 27 7:0 / /mnt/cdrom ro,relatime - ext4 /dev/loop0 ro
";

    #[test]
    fn parses_escapes_optional_fields_and_devices() {
        let table = parse_mountinfo(SAMPLE.as_bytes()).unwrap();
        assert_eq!(table.len(), 7);
        let bind = &table[4];
        assert_eq!(bind.mountpoint, Path::new("/mnt/my data"));
        assert_eq!(bind.root, Path::new("/srv/data"));
        assert_eq!(
            (bind.fstype.as_str(), bind.device.as_str()),
            ("ext4", "/dev/vda")
        );
        assert_eq!(bind.dev, nix::sys::stat::makedev(254, 0));
        // A read-only bind of a writable filesystem: the filesystem can
        // still fill. One mounted read-only is read-only.
        assert!(!bind.is_readonly() && !table[1].is_readonly());
        assert!(table[6].is_readonly());
        assert!(table[5].is_remote() && !table[1].is_remote());
        assert!(table[0].is_dummy() && !table[1].is_dummy());
        assert_eq!(parse_mountinfo(b"1 2 3\n").unwrap_err(), 1);
        assert_eq!(unescape(br"a\134b\011c\0"), b"a\\b\tc\\0");
    }

    fn mount(mountpoint: &str, device: &str, root: &str) -> Mount {
        Mount {
            mountpoint: mountpoint.into(),
            device: device.into(),
            fstype: "ext4".into(),
            root: root.into(),
            dev: 1,
            options: "rw".into(),
            super_options: "rw".into(),
        }
    }

    #[test]
    fn duplicates_resolve_as_df_resolves_them() {
        use Duplicate::*;
        let is = |d: Duplicate| match d {
            KeepBoth => "both",
            Replace => "replace",
            Drop => "drop",
        };
        // A bind mount of a subdirectory seen after its filesystem: dropped.
        assert_eq!(
            is(duplicate(
                &mount("/", "/dev/vda", "/"),
                &mount("/mnt/b", "/dev/vda", "/srv")
            )),
            "drop"
        );
        // The filesystem's own root seen after a bind mount of it: replaces.
        assert_eq!(
            is(duplicate(
                &mount("/mnt/b", "/dev/vda", "/srv"),
                &mount("/", "/dev/vda", "/")
            )),
            "replace"
        );
        // A bind mount nearer the root but of a deeper source does not win.
        assert_eq!(
            is(duplicate(
                &mount("/data", "/dev/vdb", "/"),
                &mount("/d", "/dev/vdb", "/x")
            )),
            "drop"
        );
        // A real device name beats a pseudo one.
        assert_eq!(
            is(duplicate(
                &mount("/a", "rootfs", "/"),
                &mount("/abc", "/dev/vda", "/")
            )),
            "replace"
        );
        // Over-mounted with another source on the same point: the top wins.
        assert_eq!(
            is(duplicate(
                &mount("/x", "tmpfs", "/"),
                &mount("/x", "other", "/")
            )),
            "replace"
        );
        // Two NFS exports of one server.
        assert_eq!(
            is(duplicate(
                &mount("/a", "srv:/a", "/"),
                &mount("/b", "srv:/b", "/")
            )),
            "both"
        );
    }

    #[test]
    fn the_containing_mount_is_the_deepest_and_topmost() {
        let table = parse_mountinfo(SAMPLE.as_bytes()).unwrap();
        let of = |p: &str| containing(&table, Path::new(p)).map(|m| m.dev);
        assert_eq!(of("/etc/passwd"), Some(nix::sys::stat::makedev(254, 0)));
        assert_eq!(of("/dev/shm/x"), Some(nix::sys::stat::makedev(0, 27)));
        assert_eq!(of("/mnt/nfs"), Some(nix::sys::stat::makedev(0, 50)));
        assert_eq!(of("/mnt/nfsx"), Some(nix::sys::stat::makedev(254, 0)));
    }

    #[test]
    fn only_network_fuse_and_automounts_need_the_guard_thread() {
        let of = |device: &str, fstype: &str| Mount {
            fstype: fstype.into(),
            ..mount("/m", device, "/")
        };
        assert!(of("server:/export", "nfs4").may_hang());
        assert!(of("//nas/share", "cifs").may_hang());
        assert!(of("sshfs#me@host:", "fuse.sshfs").may_hang());
        assert!(of("/dev/fuse", "fuseblk").may_hang());
        assert!(of("systemd-1", "autofs").may_hang());
        assert!(of("myfs", "virtiofs").may_hang());
        for (device, fstype) in [
            ("/dev/vda1", "ext4"),
            ("/dev/sdb1", "xfs"),
            ("tmpfs", "tmpfs"),
            ("overlay", "overlay"),
        ] {
            assert!(!of(device, fstype).may_hang(), "{fstype}");
        }
    }

    #[test]
    fn filters_skip_types_patterns_and_remote_mounts() {
        let table = parse_mountinfo(SAMPLE.as_bytes()).unwrap();
        let filter = Filter {
            exclude_types: vec!["tmpfs".into()],
            exclude_mounts: vec![Pattern::new("/mnt/my*")],
            local_only: true,
        };
        let left: Vec<&Path> = table
            .iter()
            .filter(|m| !filter.excludes(m))
            .map(|m| m.mountpoint.as_path())
            .collect();
        assert_eq!(
            left,
            [Path::new("/proc"), Path::new("/"), Path::new("/mnt/cdrom")]
        );
    }

    #[test]
    fn the_real_table_reads_and_holds_the_root() {
        let table = mount_table().unwrap();
        assert!(table.iter().any(|m| m.mountpoint == Path::new("/")));
        let real = real_mounts().unwrap();
        assert!(real.iter().all(|m| !m.is_dummy()));
        assert!(real.iter().any(|m| m.mountpoint == Path::new("/")));
    }
}
