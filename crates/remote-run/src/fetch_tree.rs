//! `fetch` of a directory: the host sends `tar -cf - -C DIR .` over the
//! same ssh channel, and each entry is checked and written here, never
//! unpacked by a tar program. The listing comes from a host that may be
//! hostile, so:
//!
//! - an entry whose name has a `..` component or is absolute is skipped
//!   (and reported at severity high); nothing is written outside
//!   `DIR/HOST`;
//! - symbolic links, hard links and special files are reported, never
//!   created, so no later entry can be written through a link, and a
//!   directory already under `DIR/HOST` that is a symlink is refused
//!   rather than followed;
//! - each regular file is written under a temporary name, hashed as it
//!   streams in and renamed into place once whole (mode 0600, like a
//!   single-file fetch); a file tar says shrank while it read it (so tar
//!   padded it with zeros) is removed again.
//!
//! GNU tar exits 1 when a file changed while it was read, as live logs do;
//! the copy is then what tar read (as `cat` gives for a single file) and the
//! file's record says `changed: true`, and the host still counts as ok when
//! that was tar's only complaint.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::process::ChildStdout;

use tar::EntryType;

use secops_common::atomic::AtomicFile;

use crate::classify::Status;
use crate::transfer;

/// What became of one archive entry (directories are not listed).
#[derive(Debug)]
pub struct Entry {
    /// The name as the archive has it, relative to the fetched directory.
    pub name: String,
    pub local: Option<PathBuf>,
    /// The remote file's mode bits, from the archive.
    pub mode: Option<u32>,
    pub outcome: Outcome,
}

#[derive(Debug)]
pub enum Outcome {
    Copied {
        bytes: u64,
        sha256: String,
        /// tar said the file changed while it read it.
        changed: bool,
    },
    /// Not copied: a link, a special file, or (when `unsafe_path`) a
    /// name that would leave the directory.
    Skipped {
        reason: String,
        unsafe_path: bool,
    },
    Failed(String),
}

/// The whole directory as received.
#[derive(Debug, Default)]
pub struct Received {
    pub entries: Vec<Entry>,
    /// A failure that ended the stream or kept anything from being
    /// written.
    pub error: Option<String>,
}

/// Makes (or checks) each directory of `relative` under `top`, refusing
/// any existing component that is not a real directory, so a symlink
/// planted under `DIR/HOST` is never followed. `top` itself is the
/// operator's and is trusted.
pub fn safe_dirs(top: &Path, relative: &Path) -> io::Result<PathBuf> {
    let mut dir = top.to_path_buf();
    for part in relative.components() {
        let Component::Normal(part) = part else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the path leaves the directory",
            ));
        };
        dir.push(part);
        match fs::symlink_metadata(&dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a directory", dir.display()),
                ));
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => fs::create_dir(&dir)?,
            Err(err) => return Err(err),
        }
    }
    Ok(dir)
}

/// `name` from the archive as a path inside the directory, or why not.
fn inside(raw: &[u8]) -> Result<PathBuf, &'static str> {
    let mut relative = PathBuf::new();
    for part in Path::new(OsStr::from_bytes(raw)).components() {
        match part {
            Component::Normal(part) => relative.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("its name has a '..' component"),
            Component::RootDir | Component::Prefix(_) => return Err("its name is absolute"),
        }
    }
    Ok(relative)
}

/// Reads the archive to its end, writing each regular file under `root`
/// (`DIR/HOST/PATH`, made with [`safe_dirs`] from `top`).
pub fn receive(mut out: ChildStdout, top: &Path, root: &Path) -> Received {
    let mut received = Received::default();
    match safe_dirs(top, root) {
        Ok(root) => read_entries(&mut out, &root, &mut received),
        Err(err) => {
            received.error = Some(format!("cannot write {}: {err}", top.join(root).display()))
        }
    }
    // Whatever is left (tar's end-of-archive padding, or the rest of a
    // stream given up on) is read, so ssh never blocks on a full pipe.
    let _ = io::copy(&mut out, &mut io::sink());
    received
}

fn read_entries(out: &mut ChildStdout, root: &Path, received: &mut Received) {
    let mut archive = tar::Archive::new(out);
    let entries = match archive.entries() {
        Ok(entries) => entries,
        Err(err) => {
            received.error = Some(format!("reading the archive: {err}"));
            return;
        }
    };
    for entry in entries {
        let taken = entry
            .map_err(|err| format!("reading the archive: {err}"))
            .and_then(|mut entry| take(&mut entry, root));
        match taken {
            Ok(Some(entry)) => received.entries.push(entry),
            Ok(None) => {}
            Err(err) => {
                received.error = Some(err);
                return;
            }
        }
    }
}

/// Handles one archive entry: `None` for a directory made, `Err` when the
/// stream itself broke (nothing after it can be trusted to be framed).
fn take(entry: &mut tar::Entry<impl Read>, root: &Path) -> Result<Option<Entry>, String> {
    let raw = entry.path_bytes().into_owned();
    let name = String::from_utf8_lossy(&raw).into_owned();
    let mode = entry.header().mode().ok();
    let link = entry
        .link_name_bytes()
        .map(|t| String::from_utf8_lossy(&t).into_owned())
        .unwrap_or_default();
    let mut local = None;
    let outcome = match (inside(&raw), entry.header().entry_type()) {
        (Err(why), _) => skipped(why.to_string(), true),
        (Ok(relative), EntryType::Directory) => match safe_dirs(root, &relative) {
            Ok(_) => return Ok(None),
            Err(err) => Outcome::Failed(format!("cannot create the directory: {err}")),
        },
        (Ok(relative), EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse) => {
            let Some(file) = relative.file_name() else {
                let why = "it names the directory itself";
                return Ok(Some(Entry {
                    name,
                    local,
                    mode,
                    outcome: skipped(why.into(), true),
                }));
            };
            let parent = relative.parent().unwrap_or(Path::new(""));
            match safe_dirs(root, parent) {
                Err(err) => Outcome::Failed(format!("cannot create its directory: {err}")),
                Ok(dir) => {
                    let path = dir.join(file);
                    match copy(entry, &path) {
                        Ok((bytes, sha256)) => {
                            local = Some(path);
                            Outcome::Copied {
                                bytes,
                                sha256,
                                changed: false,
                            }
                        }
                        Err(Copy::Local(err)) => Outcome::Failed(err),
                        Err(Copy::Stream(err)) => {
                            return Err(format!("reading {name} from the archive: {err}"));
                        }
                    }
                }
            }
        }
        (Ok(_), EntryType::Symlink) => skipped(format!("a symbolic link to {link:?}"), false),
        (Ok(_), EntryType::Link) => skipped(format!("a hard link to {link:?}"), false),
        (Ok(_), other) => skipped(format!("a special file ({other:?})"), false),
    };
    Ok(Some(Entry {
        name,
        local,
        mode,
        outcome,
    }))
}

fn skipped(reason: String, unsafe_path: bool) -> Outcome {
    Outcome::Skipped {
        reason,
        unsafe_path,
    }
}

/// Why a file was not copied: the local side, or the stream itself.
enum Copy {
    Local(String),
    Stream(io::Error),
}

/// Streams one entry into `local` atomically; its bytes and SHA-256.
fn copy(entry: &mut impl Read, local: &Path) -> Result<(u64, String), Copy> {
    let cannot = |err: io::Error| Copy::Local(format!("cannot write {}: {err}", local.display()));
    let mut file = AtomicFile::create(local, 0o600).map_err(cannot)?;
    let mut written = Ok(());
    let (bytes, sha256) = transfer::stream(entry, |chunk| {
        if written.is_ok() {
            written = file.write_all(chunk);
        }
    })
    .map_err(Copy::Stream)?;
    written.and_then(|()| file.commit()).map_err(cannot)?;
    Ok((bytes, sha256))
}

/// Reconciles what arrived with what tar said on stderr and how the host
/// ended: files tar named as changed are flagged, files it named for
/// anything else (a file that shrank, padded with zeros) are removed, and
/// a complaint that names no copied file removes every copy, since which
/// one is wrong cannot be told. Returns the host's status.
pub fn reconcile(
    received: &mut Received,
    status: Status,
    exit_code: Option<i32>,
    stderr: &str,
) -> Status {
    let mut unexplained = false;
    let mut any = false;
    for line in stderr.lines().filter_map(|l| l.strip_prefix("tar: ")) {
        any = true;
        let named = received.entries.iter_mut().find(|e| {
            matches!(e.outcome, Outcome::Copied { .. })
                && line
                    .strip_prefix(e.name.as_str())
                    .is_some_and(|rest| rest.starts_with(": "))
        });
        match named {
            Some(entry) if line.ends_with("file changed as we read it") => {
                if let Outcome::Copied { changed, .. } = &mut entry.outcome {
                    *changed = true;
                }
            }
            Some(entry) => {
                remove(entry, format!("removed again: tar said {line:?}"));
            }
            None => unexplained |= !line.ends_with("file changed as we read it"),
        }
    }
    if unexplained && stderr.contains("shrank") {
        for entry in &mut received.entries {
            remove(
                entry,
                "removed again: tar said a file shrank while it read it, and which one could not be told".into(),
            );
        }
    }
    let failed = received.error.is_some()
        || received
            .entries
            .iter()
            .any(|e| matches!(e.outcome, Outcome::Failed(_)));
    match status {
        // GNU tar's "some files differ", fully explained above.
        Status::Failed if exit_code == Some(1) && any && !unexplained && !failed => Status::Ok,
        Status::Ok if failed => Status::Failed,
        status => status,
    }
}

/// Takes back a copy already renamed into place.
fn remove(entry: &mut Entry, why: String) {
    if let Outcome::Copied { .. } = entry.outcome {
        if let Some(local) = entry.local.take() {
            let _ = fs::remove_file(local);
        }
        entry.outcome = Outcome::Failed(why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_leave_the_directory_are_refused() {
        assert_eq!(inside(b"./a/b.log").unwrap(), Path::new("a/b.log"));
        assert_eq!(inside(b"./").unwrap(), Path::new(""));
        assert!(inside(b"../etc/passwd").is_err());
        assert!(inside(b"./a/../../x").is_err());
        assert!(inside(b"/etc/passwd").is_err());
    }

    #[test]
    fn existing_symlinks_are_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), tmp.path().join("link")).unwrap();
        assert!(safe_dirs(tmp.path(), Path::new("link/sub")).is_err());
        assert!(!outside.path().join("sub").exists());
        let made = safe_dirs(tmp.path(), Path::new("a/b")).unwrap();
        assert!(made.is_dir() && made.starts_with(tmp.path()));
        assert!(safe_dirs(tmp.path(), Path::new("../x")).is_err());
    }

    fn copied(name: &str, local: &Path) -> Entry {
        fs::write(local, "x").unwrap();
        Entry {
            name: name.into(),
            local: Some(local.to_path_buf()),
            mode: None,
            outcome: Outcome::Copied {
                bytes: 1,
                sha256: String::new(),
                changed: false,
            },
        }
    }

    #[test]
    fn tar_complaints_flag_or_remove_the_files_they_name() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        let mut received = Received {
            entries: vec![copied("./a.log", &a), copied("./b.log", &b)],
            error: None,
        };
        let stderr = "tar: ./a.log: file changed as we read it\n";
        let status = reconcile(&mut received, Status::Failed, Some(1), stderr);
        assert_eq!(status, Status::Ok);
        assert!(matches!(
            received.entries[0].outcome,
            Outcome::Copied { changed: true, .. }
        ));

        let stderr = "tar: ./b.log: File shrank by 10 bytes; padding with zeros\n";
        let status = reconcile(&mut received, Status::Failed, Some(1), stderr);
        assert_eq!(status, Status::Failed);
        assert!(a.exists() && !b.exists());

        let stderr = "tar: ./we\\nird: File shrank by 10 bytes; padding with zeros\n";
        reconcile(&mut received, Status::Failed, Some(1), stderr);
        assert!(!a.exists(), "an unattributed shrink removes every copy");
    }
}
