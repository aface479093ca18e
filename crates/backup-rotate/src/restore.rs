//! Extracting an archive without letting it write outside the target.
//!
//! The archive is read twice. The first pass checks every entry before
//! anything is written: names must be relative with no `..`, hard-link
//! targets likewise, and no entry may lie below a symlink the archive
//! itself creates (`link -> /etc` then `link/passwd`). With a manifest the
//! first pass also checks the archive against it. Only a clean archive is
//! extracted, by the tar crate, which additionally refuses to write
//! through a symlink already present in the target. The tar crate leaves
//! directories with the time they were extracted at, so their mtimes,
//! noted in the first pass, are set afterwards, as `tar -x` sets them.
//!
//! Every pass reads through [`bounded`]: names, long-name and PAX headers
//! and sparse maps have limits (see `limits.rs`), checked before anything
//! is allocated for them.
//!
//! FIFOs and device nodes are made here, not by the tar crate (which
//! would write them as empty regular files): `mkfifo`, and `mknod` for
//! devices, which only root may do. One that cannot be made is left out,
//! as GNU tar leaves it out, and said so: the restore then fails (exit 3)
//! with everything else in place.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use nix::sys::stat::{Mode, SFlag};

use crate::compress::Compression;
use crate::inventory::manifest_path;
use crate::limits::{bounded, show};
use crate::manifest::Manifest;
use crate::readback::{read_back, sniff};

/// Why an archive was not restored.
pub type Refusal = String;

/// What was restored.
pub struct Restored {
    pub entries: u64,
    pub verified: bool,
    /// Entries that could not be made (device nodes without root), with
    /// why; everything else was restored.
    pub unmade: Vec<(Vec<u8>, String)>,
}

pub fn restore(archive: &Path, to: &Path, require_manifest: bool) -> Result<Restored, Refusal> {
    let manifest = match Manifest::load(&manifest_path(archive)) {
        Ok(m) => Some(m),
        Err(_) if !require_manifest => None,
        Err(err) => {
            return Err(format!(
                "{err} (pass --no-manifest to restore an archive without its manifest)"
            ));
        }
    };
    let compression = sniff(archive).map_err(|err| err.to_string())?;
    let Checked { entries, dirs } = check_entries(archive, compression)?;
    if let Some(m) = &manifest {
        let (algorithm, entries_digest) = m.entries_digest()?;
        let back = read_back(archive, algorithm)
            .map_err(|err| format!("the archive does not read back: {err}"))?;
        if back.archive_sha256 != m.archive_sha256 || back.entries_digest != entries_digest {
            return Err("the archive does not match its manifest; run verify".to_string());
        }
    }
    fs::create_dir_all(to).map_err(|err| format!("cannot create {}: {err}", to.display()))?;
    let to = &to
        .canonicalize()
        .map_err(|err| format!("cannot resolve {}: {err}", to.display()))?;
    let unmade = extract(archive, compression, to)
        .map_err(|err| format!("extracting into {} failed: {err}", to.display()))?;
    for (name, mtime) in dirs {
        let path = to.join(Path::new(OsStr::from_bytes(&name)));
        set_mtime(&path, mtime)
            .map_err(|err| format!("cannot set the mtime of {}: {err}", path.display()))?;
    }
    Ok(Restored {
        entries,
        verified: manifest.is_some(),
        unmade,
    })
}

/// The second pass, as the tar crate's `unpack` does it (directories
/// last, deepest first, so a read-only directory is filled before it gets
/// its mode), but with FIFOs and device nodes made as what they are.
fn extract(
    archive: &Path,
    compression: Compression,
    to: &Path,
) -> std::io::Result<Vec<(Vec<u8>, String)>> {
    let root = nix::unistd::geteuid().is_root();
    let (reader, bounds) = bounded(compression.reader(fs::File::open(archive)?)?);
    let mut tar = tar::Archive::new(reader);
    tar.set_preserve_permissions(true);
    tar.set_preserve_mtime(true);
    tar.set_preserve_ownerships(root);
    tar.set_unpack_xattrs(false);
    tar.set_overwrite(true);
    let mut unmade = Vec::new();
    let mut dirs = Vec::new();
    for entry in tar.entries()? {
        let mut entry = entry?;
        bounds.entered(&mut entry)?;
        let kind = entry.header().entry_type();
        if kind == tar::EntryType::Directory {
            dirs.push(entry);
        } else if kind.is_fifo() || kind.is_character_special() || kind.is_block_special() {
            let name = entry.path_bytes().into_owned();
            if let Err(why) = make_special(entry.header(), &name, to, root) {
                secops_common::diag::error(format_args!("{}: {why}", show(&name)));
                unmade.push((name, why));
            }
        } else {
            entry.unpack_in(to)?;
        }
    }
    dirs.sort_by(|a, b| b.path_bytes().cmp(&a.path_bytes()));
    for mut dir in dirs {
        dir.unpack_in(to)?;
    }
    Ok(unmade)
}

/// Makes a FIFO or device node at the (checked) `name` below `to`, with
/// the entry's owner (as root), mode and mtime, as `tar -x` does.
fn make_special(header: &tar::Header, name: &[u8], to: &Path, root: bool) -> Result<(), String> {
    let kind = header.entry_type();
    let what = if kind.is_fifo() {
        "FIFO".to_string()
    } else {
        let (major, minor) = match (header.device_major(), header.device_minor()) {
            (Ok(Some(major)), Ok(Some(minor))) => (major, minor),
            _ => return Err("the entry has no valid device numbers".to_string()),
        };
        let kind = if kind.is_character_special() {
            "character"
        } else {
            "block"
        };
        format!("{kind} device {major},{minor}")
    };
    let fail = |doing: &str, err: &dyn std::fmt::Display| format!("cannot {doing} {what}: {err}");
    let rel: PathBuf = Path::new(OsStr::from_bytes(name))
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    let (Some(parent), Some(file_name)) = (rel.parent(), rel.file_name()) else {
        return Err(format!("{} is not a name for a {what}", show(name)));
    };
    let parent = to.join(parent);
    fs::create_dir_all(&parent).map_err(|err| fail("make the directory of the", &err))?;
    // A symlink already in the target must not lead the node elsewhere
    // (the tar crate checks its own entries the same way).
    let parent = parent
        .canonicalize()
        .map_err(|err| fail("resolve the directory of the", &err))?;
    if !parent.starts_with(to) {
        return Err(format!(
            "the {what} would be made outside {} (through a symlink in its path)",
            to.display()
        ));
    }
    let path = parent.join(file_name);
    match fs::symlink_metadata(&path) {
        Ok(meta) if meta.is_dir() => {
            return Err(format!(
                "cannot make the {what}: a directory is in its place"
            ));
        }
        Ok(_) => {
            fs::remove_file(&path).map_err(|err| fail("replace what is in place of the", &err))?
        }
        Err(_) => {}
    }
    let private = Mode::from_bits_truncate(0o600);
    if header.entry_type().is_fifo() {
        nix::unistd::mkfifo(&path, private).map_err(|err| fail("make the", &err))?;
    } else {
        let (major, minor) = (
            header.device_major().ok().flatten().unwrap_or(0),
            header.device_minor().ok().flatten().unwrap_or(0),
        );
        let flag = if kind.is_character_special() {
            SFlag::S_IFCHR
        } else {
            SFlag::S_IFBLK
        };
        let dev = nix::sys::stat::makedev(major.into(), minor.into());
        nix::sys::stat::mknod(&path, flag, private, dev).map_err(|err| {
            if err == nix::errno::Errno::EPERM && !root {
                format!("cannot make the {what}: only root can make device nodes ({err})")
            } else {
                fail("make the", &err)
            }
        })?;
    }
    let settle = || -> Result<(), String> {
        if root {
            let (uid, gid) = (header.uid(), header.gid());
            let id = |id: std::io::Result<u64>| id.ok().and_then(|id| u32::try_from(id).ok());
            std::os::unix::fs::lchown(&path, id(uid), id(gid))
                .map_err(|err| fail("set the owner of the", &err))?;
        }
        let mode = header
            .mode()
            .map_err(|err| fail("read the mode of the", &err))?
            & 0o7777;
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))
            .map_err(|err| fail("set the mode of the", &err))?;
        let mtime = header.mtime().unwrap_or(0).min(i64::MAX as u64) as i64;
        set_mtime(&path, mtime).map_err(|err| fail("set the mtime of the", &err))
    };
    settle().inspect_err(|_| {
        let _ = fs::remove_file(&path);
    })
}

/// What the first pass found: the entry count, and each directory's name
/// and mtime.
struct Checked {
    entries: u64,
    dirs: Vec<(Vec<u8>, i64)>,
}

/// The first pass: every name safe, or the reason it is not.
fn check_entries(archive: &Path, compression: Compression) -> Result<Checked, Refusal> {
    let file = fs::File::open(archive).map_err(|err| err.to_string())?;
    let (reader, bounds) = bounded(compression.reader(file).map_err(|err| err.to_string())?);
    let mut tar = tar::Archive::new(reader);
    let mut symlinks: HashSet<Vec<u8>> = HashSet::new();
    let mut checked = Checked {
        entries: 0,
        dirs: Vec::new(),
    };
    for entry in tar.entries().map_err(|err| err.to_string())? {
        let mut entry = entry.map_err(|err| format!("unreadable archive: {err}"))?;
        bounds
            .entered(&mut entry)
            .map_err(|err| format!("unreadable archive: {err}"))?;
        let path = entry.path_bytes().into_owned();
        check_name(&path, &symlinks)?;
        let kind = entry.header().entry_type();
        if kind.is_hard_link() {
            let target = entry.link_name_bytes().unwrap_or_default().into_owned();
            check_name(&target, &symlinks)
                .map_err(|why| format!("hard link {}: target {why}", show(&path)))?;
        }
        if kind.is_symlink() {
            symlinks.insert(trim_slashes(&path).to_vec());
        }
        if kind.is_dir() {
            let mtime = entry.header().mtime().unwrap_or(0);
            checked.dirs.push((path, mtime.min(i64::MAX as u64) as i64));
        }
        checked.entries += 1;
    }
    Ok(checked)
}

/// A name is safe when it is relative, has no `..` and no parent that is
/// a symlink made earlier by the same archive.
fn check_name(name: &[u8], symlinks: &HashSet<Vec<u8>>) -> Result<(), Refusal> {
    let path = Path::new(OsStr::from_bytes(name));
    if name.is_empty() || name.starts_with(b"/") {
        return Err(format!("{} is an absolute or empty name", show(name)));
    }
    let mut prefix: Vec<u8> = Vec::new();
    for part in path.components() {
        match part {
            Component::Normal(part) => {
                if symlinks.contains(&prefix) {
                    return Err(format!(
                        "{} lies below the symlink {} the archive created",
                        show(name),
                        show(&prefix)
                    ));
                }
                if !prefix.is_empty() {
                    prefix.push(b'/');
                }
                prefix.extend_from_slice(part.as_bytes());
            }
            Component::CurDir => {}
            _ => return Err(format!("{} escapes the target directory", show(name))),
        }
    }
    Ok(())
}

fn trim_slashes(name: &[u8]) -> &[u8] {
    let mut name = name;
    while let Some(rest) = name.strip_suffix(b"/") {
        name = rest;
    }
    while let Some(rest) = name.strip_prefix(b"./") {
        name = rest;
    }
    name
}

/// Sets `path`'s access and modification times to `secs`, never through a
/// symlink (an archive's link must not retime what it points at).
fn set_mtime(path: &Path, secs: i64) -> nix::Result<()> {
    let time = nix::sys::time::TimeSpec::new(secs, 0);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &time,
        &time,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_escape_are_refused() {
        let none = HashSet::new();
        assert!(check_name(b"etc/passwd", &none).is_ok());
        assert!(check_name(b"./etc/", &none).is_ok());
        for bad in [&b"/etc/passwd"[..], b"../x", b"a/../../x", b"a/..", b""] {
            assert!(check_name(bad, &none).is_err(), "{}", show(bad));
        }
    }

    #[test]
    fn names_below_an_archived_symlink_are_refused() {
        let links = HashSet::from([b"srv/link".to_vec()]);
        assert!(check_name(b"srv/link", &links).is_ok());
        assert!(check_name(b"srv/linkx/file", &links).is_ok());
        let err = check_name(b"srv/link/passwd", &links).unwrap_err();
        assert!(err.contains("below the symlink"), "{err}");
        assert!(check_name(b"./srv//link/x", &links).is_err());
    }
}
