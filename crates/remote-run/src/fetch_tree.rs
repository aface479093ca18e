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
//!   padded it with zeros) is removed again;
//! - a file that cannot be written here (a full, read-only or failing
//!   disk) leaves the copy before it as it was, and fails the run itself
//!   ([`Received::local_error`]), not just the host: the host did its part;
//! - nothing the host sends is held whole: a GNU long name or link name
//!   longer than [`MAX_NAME`], or a PAX header larger than [`MAX_PAX`], is
//!   never read (its member is skipped at severity high and the stream
//!   goes on), and one host's archive yields at most [`MAX_ENTRIES`]
//!   entries and [`MAX_NAMES_BYTES`] of names.
//!
//! GNU tar exits 1 when a file changed while it was read, as live logs do;
//! the copy is then what tar read (as `cat` gives for a single file) and the
//! file's record says `changed: true`, and the host still counts as ok when
//! that was tar's only complaint.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

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
    /// The first failure to write here (a full, read-only or failing
    /// disk; anything but a refusal to follow or leave the directory):
    /// remote-run's own failure, not the host's.
    pub local_error: Option<String>,
}

/// Whether `err`, from making directories or writing a file here, is the
/// local file system failing rather than [`safe_dirs`] refusing a path.
pub fn failed_here(err: &io::Error) -> bool {
    let refused = matches!(
        err.kind(),
        io::ErrorKind::InvalidInput | io::ErrorKind::AlreadyExists
    ) && err.raw_os_error().is_none();
    !refused
}

/// Keeps the first local failure.
fn note(local_error: &mut Option<String>, err: &str) {
    local_error.get_or_insert_with(|| err.to_string());
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
pub fn receive(mut out: impl Read, top: &Path, root: &Path) -> Received {
    let mut received = Received::default();
    match safe_dirs(top, root) {
        Ok(root) => read_entries(&mut out, &root, &mut received),
        Err(err) => {
            let why = format!("cannot write {}: {err}", top.join(root).display());
            if failed_here(&err) {
                received.local_error = Some(why.clone());
            }
            received.error = Some(why);
        }
    }
    // Whatever is left (tar's end-of-archive padding, or the rest of a
    // stream given up on) is read, so ssh never blocks on a full pipe.
    let _ = io::copy(&mut out, &mut io::sink());
    received
}

/// The longest entry or link name taken (Linux's PATH_MAX). A longer one,
/// in a GNU long-name or PAX header, is refused unread: its entry is
/// skipped with a record, as a name leaving the directory is.
pub const MAX_NAME: usize = 4096;
/// The largest PAX extended header read (a name, a link target, times,
/// sizes, ACLs and labels take a few KiB at most).
pub const MAX_PAX: u64 = 64 * 1024;
/// The most entries (files, directories, links) read from one host's
/// archive; the rest of the stream is not read, and the host's
/// `remote.fetch` says so.
pub const MAX_ENTRIES: usize = 100_000;
/// The most bytes of entry names kept for one host's records.
pub const MAX_NAMES_BYTES: usize = 16 * 1024 * 1024;

/// What extension headers (GNU `L`/`K`, PAX `x`) said about the member
/// that follows them.
#[derive(Default)]
struct Pending {
    /// From a GNU long-name (`L`) or long-link (`K`) header.
    name: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    /// From a PAX header's `path` and `linkpath`; a GNU one wins, as the
    /// tar crate has it.
    pax_name: Option<Vec<u8>>,
    pax_link: Option<Vec<u8>>,
    /// A PAX `size`: the member's real size, when the header's own field
    /// could not hold it.
    size: Option<u64>,
    /// Why the member cannot be taken (an extension too large to read).
    refused: Option<String>,
    /// Any extension header was seen.
    any: bool,
    /// A PAX header was seen.
    pax: bool,
}

/// Reads the archive entry by entry. The tar crate is used in raw mode,
/// so that it hands over GNU long-name and PAX headers instead of reading
/// them whole into memory (a 1.5 GB long name took 800 MB): their size
/// is checked here first, and one too large is never read, only skipped
/// over as the stream goes on.
fn read_entries(out: &mut impl Read, root: &Path, received: &mut Received) {
    let mut archive = tar::Archive::new(out);
    let entries = match archive.entries() {
        Ok(entries) => entries.raw(true),
        Err(err) => {
            received.error = Some(format!("reading the archive: {err}"));
            return;
        }
    };
    let mut pending = Pending::default();
    let (mut seen, mut names_bytes) = (0usize, 0usize);
    for entry in entries {
        let mut entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                received.error = Some(format!("reading the archive: {err}"));
                return;
            }
        };
        match extension(&mut entry, &mut pending) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(err) => {
                received.error = Some(err);
                return;
            }
        }
        let pending = std::mem::take(&mut pending);
        let header_name = entry.path_bytes().into_owned();
        let raw = pending
            .name
            .clone()
            .or(pending.pax_name.clone())
            .unwrap_or(header_name);
        seen += 1;
        names_bytes += raw.len();
        if seen > MAX_ENTRIES || names_bytes > MAX_NAMES_BYTES {
            received.error = Some(format!(
                "the archive has more than {MAX_ENTRIES} entries or {} MiB of names, the most taken from one host: the rest was not read",
                MAX_NAMES_BYTES / (1024 * 1024)
            ));
            return;
        }
        if let Some(size) = pending.size.filter(|s| *s != entry.size()) {
            // Raw mode frames the stream by the header's own size field,
            // which this member contradicts: nothing after it can be
            // trusted to be where the headers say.
            received.error = Some(format!(
                "reading the archive: {} has a PAX size of {size} bytes but a header size of {}: the rest was not read",
                String::from_utf8_lossy(&raw),
                entry.size()
            ));
            return;
        }
        let taken = match pending.refused {
            Some(reason) => Ok(Some(Entry {
                name: String::from_utf8_lossy(&raw).into_owned(),
                local: None,
                mode: entry.header().mode().ok(),
                outcome: skipped(reason, true),
            })),
            None => take(
                &mut entry,
                &raw,
                pending.link.or(pending.pax_link),
                root,
                &mut received.local_error,
            ),
        };
        match taken {
            Ok(Some(entry)) => received.entries.push(entry),
            Ok(None) => {}
            Err(err) => {
                received.error = Some(err);
                return;
            }
        }
    }
    if pending.any {
        if let Some(reason) = pending.refused {
            received.entries.push(Entry {
                name: String::new(),
                local: None,
                mode: None,
                outcome: skipped(reason, true),
            });
        }
        received.error = Some(
            "reading the archive: it ends after an extension header, before the member it describes"
                .into(),
        );
    }
}

/// Takes in an extension header (true), or leaves a member to the caller
/// (false). `Err` when the stream cannot be read on safely.
fn extension(entry: &mut tar::Entry<impl Read>, pending: &mut Pending) -> Result<bool, String> {
    let kind = entry.header().entry_type();
    let recognized = entry.header().as_gnu().is_some() || entry.header().as_ustar().is_some();
    if !recognized {
        return Ok(false);
    }
    let size = entry.size();
    let what = if kind.is_gnu_longname() {
        "GNU long name"
    } else if kind.is_gnu_longlink() {
        "GNU long link name"
    } else if kind.is_pax_local_extensions() {
        "PAX header"
    } else if kind.is_pax_global_extensions() {
        // Applies to every later member; nothing in it matters here, so
        // it is skipped unread whatever its size.
        return Ok(true);
    } else if kind.is_gnu_sparse() && entry.header().as_gnu().is_some_and(|g| g.is_extended()) {
        // Raw mode does not skip the sparse map's extra blocks, so the
        // stream cannot be framed past it. tar -cf never makes sparse
        // members (that takes --sparse).
        return Err(
            "reading the archive: a GNU sparse member with an extended sparse map: the rest was not read"
                .into(),
        );
    } else {
        return Ok(false);
    };
    pending.any = true;
    let limit = if kind.is_pax_local_extensions() {
        MAX_PAX
    } else {
        MAX_NAME as u64 + 1 // and its terminating NUL
    };
    if size > limit {
        pending.refused = Some(format!(
            "its {what} is {size} bytes, more than the {limit} taken: not read"
        ));
        return Ok(true);
    }
    let mut data = Vec::with_capacity(size as usize);
    entry
        .read_to_end(&mut data)
        .map_err(|err| format!("reading the archive: {what}: {err}"))?;
    let twice = || Err(format!("reading the archive: two {what}s for one member"));
    if kind.is_pax_local_extensions() {
        if pending.pax {
            return twice();
        }
        pending.pax = true;
        for field in tar::PaxExtensions::new(&data) {
            let field =
                field.map_err(|_| "reading the archive: a malformed PAX header".to_string())?;
            let value = field.value_bytes();
            match field.key_bytes() {
                b"path" => pending.pax_name = Some(value.to_vec()),
                b"linkpath" => pending.pax_link = Some(value.to_vec()),
                b"size" => {
                    let size = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
                    pending.size = Some(size.ok_or_else(|| {
                        "reading the archive: a PAX header with a malformed size".to_string()
                    })?);
                }
                _ => {}
            }
        }
    } else {
        while data.last() == Some(&0) {
            data.pop();
        }
        let slot = if kind.is_gnu_longname() {
            &mut pending.name
        } else {
            &mut pending.link
        };
        if slot.replace(data).is_some() {
            return twice();
        }
    }
    for (name, which) in [
        (&pending.name, "name"),
        (&pending.pax_name, "name"),
        (&pending.link, "link name"),
        (&pending.pax_link, "link name"),
    ] {
        if let Some(name) = name.as_ref().filter(|n| n.len() > MAX_NAME) {
            pending.refused = Some(format!(
                "its {which} is {} bytes, more than the {MAX_NAME} taken",
                name.len()
            ));
        }
    }
    Ok(true)
}

/// Handles one archive member named `raw`: `None` for a directory made,
/// `Err` when the stream itself broke (nothing after it can be trusted to
/// be framed). A failure to write it here is noted in `local_error`.
fn take(
    entry: &mut tar::Entry<impl Read>,
    raw: &[u8],
    link: Option<Vec<u8>>,
    root: &Path,
    local_error: &mut Option<String>,
) -> Result<Option<Entry>, String> {
    let name = String::from_utf8_lossy(raw).into_owned();
    let mode = entry.header().mode().ok();
    let link = link
        .or_else(|| entry.link_name_bytes().map(|l| l.into_owned()))
        .map(|l| String::from_utf8_lossy(&l).into_owned())
        .unwrap_or_default();
    let mut local = None;
    let outcome = match (inside(raw), entry.header().entry_type()) {
        (Err(why), _) => skipped(why.to_string(), true),
        (Ok(relative), EntryType::Directory) => match safe_dirs(root, &relative) {
            Ok(_) => return Ok(None),
            Err(err) => {
                let why = format!("cannot create the directory: {err}");
                if failed_here(&err) {
                    note(local_error, &why);
                }
                Outcome::Failed(why)
            }
        },
        (Ok(relative), EntryType::Regular | EntryType::Continuous) => {
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
                Err(err) => {
                    let why = format!("cannot create its directory: {err}");
                    if failed_here(&err) {
                        note(local_error, &why);
                    }
                    Outcome::Failed(why)
                }
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
                        Err(Copy::Local(err)) => {
                            note(local_error, &err);
                            Outcome::Failed(err)
                        }
                        Err(Copy::Stream(err)) => {
                            return Err(format!("reading {name} from the archive: {err}"));
                        }
                    }
                }
            }
        }
        (Ok(_), EntryType::Symlink) => skipped(format!("a symbolic link to {link:?}"), false),
        (Ok(_), EntryType::Link) => skipped(format!("a hard link to {link:?}"), false),
        (Ok(_), EntryType::GNUSparse) => skipped(
            "a GNU sparse file (tar --sparse), not fetched".into(),
            false,
        ),
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

/// Why a file was not copied: the local side (the file could not be
/// written here), or the stream itself.
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
    // By name, so that each of tar's lines is one lookup per ": " in it,
    // not a scan of every entry.
    let copied: HashMap<&str, usize> = received
        .entries
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e.outcome, Outcome::Copied { .. }))
        .map(|(i, e)| (e.name.as_str(), i))
        .collect();
    // For each copy tar named: `None` if it changed, else why it goes.
    let mut named: Vec<(usize, Option<String>)> = Vec::new();
    for line in stderr.lines().filter_map(|l| l.strip_prefix("tar: ")) {
        any = true;
        let changed = line.ends_with("file changed as we read it");
        let entry = line
            .match_indices(": ")
            .find_map(|(at, _)| copied.get(&line[..at]).copied());
        match entry {
            Some(i) if changed => named.push((i, None)),
            Some(i) => named.push((i, Some(format!("removed again: tar said {line:?}")))),
            None => unexplained |= !changed,
        }
    }
    drop(copied);
    for (i, why) in named {
        let entry = &mut received.entries[i];
        match why {
            None => {
                if let Outcome::Copied { changed, .. } = &mut entry.outcome {
                    *changed = true;
                }
            }
            Some(why) => remove(entry, why),
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

    /// A raw tar header block of `kind`, `name` and `size`.
    fn header(kind: EntryType, name: &str, size: usize) -> Vec<u8> {
        let mut header = tar::Header::new_ustar();
        header.as_ustar_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_entry_type(kind);
        header.set_size(size as u64);
        header.set_mode(0o640);
        header.set_cksum();
        header.as_bytes().to_vec()
    }

    fn block(data: &[u8]) -> Vec<u8> {
        let mut data = data.to_vec();
        data.resize(data.len().div_ceil(512) * 512, 0);
        data
    }

    fn pax(fields: &[(&str, &str)]) -> Vec<u8> {
        let mut data = Vec::new();
        for (key, value) in fields {
            // The length counts its own digits.
            let body = format!(" {key}={value}\n");
            let mut len = body.len() + 1;
            while len != body.len() + len.to_string().len() {
                len += 1;
            }
            data.extend_from_slice(format!("{len}{body}").as_bytes());
        }
        [
            header(EntryType::XHeader, "PaxHeader", data.len()),
            block(&data),
        ]
        .concat()
    }

    fn read(archive: &[u8]) -> (tempfile::TempDir, Received) {
        let tmp = tempfile::tempdir().unwrap();
        let mut received = Received::default();
        read_entries(&mut &archive[..], tmp.path(), &mut received);
        (tmp, received)
    }

    #[test]
    fn pax_names_and_links_are_used_and_a_contradicting_size_stops_the_stream() {
        let long = format!("dir/{}", "x".repeat(200));
        let archive = [
            pax(&[("path", &long)]),
            header(EntryType::Regular, "short", 2),
            block(b"hi"),
            pax(&[("linkpath", "/etc/shadow")]),
            header(EntryType::Symlink, "link", 0),
            pax(&[("size", "999")]),
            header(EntryType::Regular, "liar", 2),
            block(b"no"),
            header(EntryType::Regular, "after", 2),
            block(b"no"),
            vec![0; 1024],
        ]
        .concat();
        let (tmp, received) = read(&archive);
        assert_eq!(received.entries.len(), 2, "{received:#?}");
        assert_eq!(received.entries[0].name, long);
        assert!(matches!(
            received.entries[0].outcome,
            Outcome::Copied { bytes: 2, .. }
        ));
        assert_eq!(fs::read(tmp.path().join(&long)).unwrap(), b"hi");
        let Outcome::Skipped { reason, .. } = &received.entries[1].outcome else {
            panic!("{received:#?}");
        };
        assert!(reason.contains("/etc/shadow"), "{reason}");
        let error = received.error.unwrap();
        assert!(error.contains("PAX size of 999"), "{error}");
        assert!(!tmp.path().join("after").exists());
    }

    #[test]
    fn an_archive_ending_after_an_extension_header_is_an_error() {
        let name = "n".repeat(MAX_NAME + 10);
        let archive = [
            header(EntryType::GNULongName, "././@LongLink", name.len() + 1),
            block(format!("{name}\0").as_bytes()),
            vec![0; 1024],
        ]
        .concat();
        let (_tmp, received) = read(&archive);
        assert!(
            received
                .error
                .unwrap()
                .contains("ends after an extension header")
        );
        assert!(matches!(
            received.entries[0].outcome,
            Outcome::Skipped {
                unsafe_path: true,
                ..
            }
        ));
    }

    #[test]
    fn tar_complaints_flag_or_remove_the_files_they_name() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        let mut received = Received {
            entries: vec![copied("./a.log", &a), copied("./b.log", &b)],
            ..Received::default()
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
