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

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use crate::compress::Compression;
use crate::inventory::manifest_path;
use crate::manifest::Manifest;
use crate::readback::{read_back, sniff};

/// Why an archive was not restored.
pub type Refusal = String;

/// What was restored.
pub struct Restored {
    pub entries: u64,
    pub verified: bool,
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
    let file = fs::File::open(archive).map_err(|err| err.to_string())?;
    let mut tar = tar::Archive::new(compression.reader(file).map_err(|err| err.to_string())?);
    tar.set_preserve_permissions(true);
    tar.set_preserve_mtime(true);
    tar.set_preserve_ownerships(nix::unistd::geteuid().is_root());
    tar.set_unpack_xattrs(false);
    tar.set_overwrite(true);
    tar.unpack(to)
        .map_err(|err| format!("extracting into {} failed: {err}", to.display()))?;
    for (name, mtime) in dirs {
        let path = to.join(Path::new(OsStr::from_bytes(&name)));
        let time = nix::sys::time::TimeSpec::new(mtime, 0);
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            &path,
            &time,
            &time,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|err| format!("cannot set the mtime of {}: {err}", path.display()))?;
    }
    Ok(Restored {
        entries,
        verified: manifest.is_some(),
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
    let mut tar = tar::Archive::new(compression.reader(file).map_err(|err| err.to_string())?);
    let mut symlinks: HashSet<Vec<u8>> = HashSet::new();
    let mut checked = Checked {
        entries: 0,
        dirs: Vec::new(),
    };
    for entry in tar.entries().map_err(|err| err.to_string())? {
        let entry = entry.map_err(|err| format!("unreadable entry: {err}"))?;
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

fn show(name: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(name))
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
