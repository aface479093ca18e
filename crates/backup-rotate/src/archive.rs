//! Writing the sources as a tar stream that GNU tar and bsdtar extract to
//! the same bytes, modes, owners, mtimes, links and empty directories.
//!
//! Headers are GNU format (the tar crate's `new_gnu`): names and link
//! targets over 100 bytes and names that are not UTF-8 go into GNU
//! long-name entries as raw bytes, and sizes of 8 GiB and more use GNU's
//! base-256 numbers, which GNU tar, bsdtar and Python's tarfile all read.
//! Files with holes are old-GNU sparse entries (see [`sparse_header`]):
//! only their data is read and stored, and tar extracts them with holes.
//!
//! The walk never follows a symlink (it stores the link), sorts each
//! directory so two runs over the same tree write the same archive, skips
//! the destination directory when it sits inside a source, and turns what
//! it cannot read into [`Problem`]s instead of failing the backup.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File, Metadata};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use globset::GlobSet;
use tar::{EntryType, GnuExtSparseHeader, Header};

use crate::digest::{ContentHash, EntryDigest, EntryFacts, empty_content};
use crate::manifest::DIGEST;
use crate::progress::Progress;

/// What to leave out of the walk.
pub struct WalkOptions {
    pub excludes: GlobSet,
    pub one_file_system: bool,
    /// (device, inode) of the destination directory, never archived.
    pub skip_dir: Option<(u64, u64)>,
}

/// Something the backup could not store faithfully; the run goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Could not be read at all (left out, or stored empty-padded).
    Unreadable { path: PathBuf, error: String },
    /// Changed while it was being read: the stored copy may be torn.
    Changed { path: PathBuf, what: String },
}

/// Counts of what went into the archive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinks: u64,
    pub other: u64,
    /// Bytes of file content.
    pub bytes: u64,
}

/// A tar stream being written, with the digest of what went in.
pub struct TarWriter<W: Write> {
    tar: tar::Builder<W>,
    options: WalkOptions,
    /// First archive name of each multiply-linked inode.
    links: HashMap<(u64, u64), Vec<u8>>,
    names: HashMap<(bool, u32), Option<String>>,
    pub digest: EntryDigest,
    pub counts: Counts,
    pub problems: Vec<Problem>,
    progress: Progress,
}

impl<W: Write> TarWriter<W> {
    pub fn new(sink: W, options: WalkOptions, progress: Progress) -> TarWriter<W> {
        TarWriter {
            tar: tar::Builder::new(sink),
            options,
            links: HashMap::new(),
            names: HashMap::new(),
            digest: EntryDigest::new(DIGEST),
            counts: Counts::default(),
            problems: Vec::new(),
            progress,
        }
    }

    /// Adds a source as tar would: stored under its absolute path without
    /// the leading `/`. Only I/O errors on the archive itself are errors.
    pub fn add_source(&mut self, source: &Path) -> io::Result<()> {
        let name = archive_name(source);
        let root_dev = match fs::symlink_metadata(source) {
            Ok(meta) => meta.dev(),
            Err(err) => {
                self.unreadable(source, &err);
                return Ok(());
            }
        };
        self.add(source, &name, Path::new(""), root_dev)
    }

    /// Writes the end-of-archive blocks and returns the sink.
    pub fn finish(self) -> io::Result<W> {
        self.tar.into_inner()
    }

    fn add(&mut self, disk: &Path, name: &[u8], rel: &Path, root_dev: u64) -> io::Result<()> {
        if !rel.as_os_str().is_empty() && self.excluded(rel) {
            return Ok(());
        }
        let meta = match fs::symlink_metadata(disk) {
            Ok(meta) => meta,
            Err(err) => {
                self.unreadable(disk, &err);
                return Ok(());
            }
        };
        let kind = meta.file_type();
        if kind.is_dir() {
            if self.options.skip_dir == Some((meta.dev(), meta.ino())) {
                return Ok(());
            }
            self.add_dir(disk, name, rel, root_dev, &meta)
        } else if kind.is_symlink() {
            match fs::read_link(disk) {
                Ok(target) => self.add_symlink(name, &meta, &target),
                Err(err) => {
                    self.unreadable(disk, &err);
                    Ok(())
                }
            }
        } else if kind.is_file() {
            self.add_file(disk, name, &meta)
        } else if kind.is_fifo() || kind.is_char_device() || kind.is_block_device() {
            self.add_special(name, &meta)
        } else {
            // Sockets: GNU tar skips them too ("socket ignored").
            Ok(())
        }
    }

    fn add_dir(
        &mut self,
        disk: &Path,
        name: &[u8],
        rel: &Path,
        root_dev: u64,
        meta: &Metadata,
    ) -> io::Result<()> {
        if !name.is_empty() {
            let mut header = self.header(meta, EntryType::Directory);
            self.tar.append_data(&mut header, os(name), io::empty())?;
            self.record(name, &header, b"", empty_content(DIGEST));
            self.counts.dirs += 1;
        }
        if self.options.one_file_system && meta.dev() != root_dev {
            return Ok(());
        }
        let mut children: Vec<_> = match fs::read_dir(disk) {
            Ok(dir) => dir
                .filter_map(|entry| match entry {
                    Ok(entry) => Some(entry.file_name()),
                    Err(err) => {
                        self.unreadable(disk, &err);
                        None
                    }
                })
                .collect(),
            Err(err) => {
                self.unreadable(disk, &err);
                return Ok(());
            }
        };
        children.sort();
        for child in children {
            let mut child_name = name.to_vec();
            if !child_name.is_empty() {
                child_name.push(b'/');
            }
            child_name.extend_from_slice(child.as_bytes());
            self.add(&disk.join(&child), &child_name, &rel.join(&child), root_dev)?;
        }
        Ok(())
    }

    fn add_symlink(&mut self, name: &[u8], meta: &Metadata, target: &Path) -> io::Result<()> {
        let mut header = self.header(meta, EntryType::Symlink);
        self.tar.append_link(&mut header, os(name), target)?;
        self.record(
            name,
            &header,
            &stored_link_name(target),
            empty_content(DIGEST),
        );
        self.counts.symlinks += 1;
        Ok(())
    }

    fn add_special(&mut self, name: &[u8], meta: &Metadata) -> io::Result<()> {
        let kind = meta.file_type();
        let entry_type = if kind.is_fifo() {
            EntryType::Fifo
        } else if kind.is_char_device() {
            EntryType::Char
        } else {
            EntryType::Block
        };
        let mut header = self.header(meta, entry_type);
        if !kind.is_fifo() {
            let rdev = meta.rdev();
            header.set_device_major(nix::sys::stat::major(rdev) as u32)?;
            header.set_device_minor(nix::sys::stat::minor(rdev) as u32)?;
        }
        self.tar.append_data(&mut header, os(name), io::empty())?;
        self.record(name, &header, b"", empty_content(DIGEST));
        self.counts.other += 1;
        Ok(())
    }

    fn add_file(&mut self, disk: &Path, name: &[u8], meta: &Metadata) -> io::Result<()> {
        let inode = (meta.dev(), meta.ino());
        if meta.nlink() > 1 {
            if let Some(first) = self.links.get(&inode).cloned() {
                let mut header = self.header(meta, EntryType::Link);
                header.set_size(0);
                self.tar.append_link(&mut header, os(name), os(&first))?;
                self.record(name, &header, &first, empty_content(DIGEST));
                self.counts.hardlinks += 1;
                return Ok(());
            }
        }
        let file = match File::open(disk) {
            Ok(file) => file,
            Err(err) => {
                self.unreadable(disk, &err);
                return Ok(());
            }
        };
        // The size tar promises is the size at open; what is read must fill
        // exactly that, whatever the file does meanwhile.
        let before = file.metadata().unwrap_or_else(|_| meta.clone());
        let size = before.len();
        let extents = data_extents(&file, &before);
        let mut header;
        let mut sparse_map = Vec::new();
        let reader = match extents {
            None => {
                header = self.header(&before, EntryType::Regular);
                ExactReader::new(
                    &file,
                    vec![(0, size)],
                    ContentHash::new(DIGEST, false),
                    &self.progress,
                )
            }
            Some(extents) => {
                header = self.header(&before, EntryType::GNUSparse);
                sparse_map = sparse_header(&mut header, &extents, size);
                ExactReader::new(
                    &file,
                    extents,
                    ContentHash::new(DIGEST, true),
                    &self.progress,
                )
            }
        };
        // Extension blocks of a long sparse map sit between the header and
        // the data, outside the entry's size: they go first in the stream.
        let mut reader = BufReader::with_capacity(1 << 18, (&sparse_map[..]).chain(reader));
        self.tar.append_data(&mut header, os(name), &mut reader)?;
        let exact = reader.into_inner().into_inner().1;
        let short = exact.short;
        let (content, error) = exact.finish(size);
        self.record(name, &header, b"", content);
        self.counts.files += 1;
        self.counts.bytes += size;
        self.progress.stored(self.counts.files);
        if meta.nlink() > 1 {
            self.links.insert(inode, name.to_vec());
        }
        if let Some(error) = error {
            self.problems.push(Problem::Unreadable {
                path: disk.to_path_buf(),
                error: format!("read failed partway, the rest is stored as zeros: {error}"),
            });
        } else if let Some(what) = changed(&file, &before, short) {
            self.problems.push(Problem::Changed {
                path: disk.to_path_buf(),
                what,
            });
        }
        Ok(())
    }

    fn header(&mut self, meta: &Metadata, kind: EntryType) -> Header {
        let mut header = Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(meta.mode() & 0o7777);
        header.set_uid(u64::from(meta.uid()));
        header.set_gid(u64::from(meta.gid()));
        header.set_mtime(meta.mtime().max(0) as u64);
        header.set_size(if kind == EntryType::Regular {
            meta.len()
        } else {
            0
        });
        // Names let tar map owners on a machine with other uids; a name
        // that does not fit the 32-byte field is left out, as GNU tar does.
        if let Some(user) = self.owner_name(false, meta.uid()) {
            let _ = header.set_username(&user);
        }
        if let Some(group) = self.owner_name(true, meta.gid()) {
            let _ = header.set_groupname(&group);
        }
        header
    }

    fn owner_name(&mut self, group: bool, id: u32) -> Option<String> {
        self.names
            .entry((group, id))
            .or_insert_with(|| {
                if group {
                    nix::unistd::Group::from_gid(id.into())
                        .ok()
                        .flatten()
                        .map(|g| g.name)
                } else {
                    nix::unistd::User::from_uid(id.into())
                        .ok()
                        .flatten()
                        .map(|u| u.name)
                }
            })
            .clone()
    }

    fn record(&mut self, name: &[u8], header: &Header, link: &[u8], content: [u8; 32]) {
        self.digest.add(&EntryFacts {
            path: name,
            kind: header.entry_type().as_byte(),
            mode: header.mode().unwrap_or(0),
            uid: header.uid().unwrap_or(0),
            gid: header.gid().unwrap_or(0),
            mtime: header.mtime().unwrap_or(0),
            size: logical_size(header),
            link,
            content,
        });
    }

    fn excluded(&self, rel: &Path) -> bool {
        self.options.excludes.is_match(rel)
            || rel
                .file_name()
                .is_some_and(|name| self.options.excludes.is_match(name))
    }

    fn unreadable(&mut self, path: &Path, err: &io::Error) {
        self.problems.push(Problem::Unreadable {
            path: path.to_path_buf(),
            error: err.to_string(),
        });
    }
}

/// The name a source is stored under: its absolute path without the
/// leading `/`, as `tar czf x.tgz /etc` stores `etc/...`.
pub fn archive_name(source: &Path) -> Vec<u8> {
    let mut name = Vec::new();
    for part in source.components() {
        if let Component::Normal(part) = part {
            if !name.is_empty() {
                name.push(b'/');
            }
            name.extend_from_slice(part.as_bytes());
        }
    }
    name
}

/// The link target as the tar crate stores it (and reads it back): short
/// targets normalised component by component, long ones raw in a GNU
/// long-link entry.
fn stored_link_name(target: &Path) -> Vec<u8> {
    let raw = target.as_os_str().as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut needs_slash = false;
    for part in target.components() {
        let bytes = part.as_os_str().as_bytes();
        if needs_slash {
            out.push(b'/');
        }
        out.extend_from_slice(bytes);
        needs_slash = bytes != b"/";
    }
    if raw.len() > 1 && raw.ends_with(b"/") {
        out.push(b'/');
    }
    if out.len() > 100 { raw.to_vec() } else { out }
}

fn os(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

/// The size of what an entry extracts to: a sparse entry's real size,
/// not the bytes it stores.
fn logical_size(header: &Header) -> u64 {
    match header.as_gnu() {
        Some(gnu) if header.entry_type().is_gnu_sparse() => gnu.real_size().unwrap_or(0),
        _ => header.size().unwrap_or(0),
    }
}

/// The parts of a file with holes that hold data, as (offset, length),
/// found with `SEEK_DATA`/`SEEK_HOLE` and rounded out to 512-byte edges
/// (readers require every stored piece but the last to fill whole tar
/// blocks; the rounding only stores a few zeros more). `None` when the file
/// has no holes, the filesystem cannot say, or it has more pieces than
/// [`crate::limits::SPARSE_PIECES_MAX`]: then it is stored whole.
fn data_extents(file: &File, meta: &Metadata) -> Option<Vec<(u64, u64)>> {
    use nix::unistd::{Whence, lseek};
    let size = meta.len();
    // Fewer allocated blocks than the size needs is what GNU tar checks too;
    // it spares the lseek calls for the ordinary file.
    if size == 0 || meta.blocks().saturating_mul(512) >= size {
        return None;
    }
    let mut extents: Vec<(u64, u64)> = Vec::new();
    let mut pos = 0u64;
    while pos < size {
        let start = match lseek(file, pos as i64, Whence::SeekData) {
            Ok(start) => start as u64,
            Err(nix::errno::Errno::ENXIO) => break,
            Err(_) => return None,
        };
        if start >= size {
            break;
        }
        let end = lseek(file, start as i64, Whence::SeekHole).ok()? as u64;
        if end <= start {
            return None;
        }
        let (from, to) = (
            start / 512 * 512,
            end.div_ceil(512).saturating_mul(512).min(size),
        );
        match extents.last_mut() {
            Some((offset, len)) if *offset + *len >= from => {
                *len = to.max(*offset + *len) - *offset
            }
            _ => extents.push((from, to - from)),
        }
        // A map longer than readers accept (see limits.rs): store it whole.
        if extents.len() > crate::limits::SPARSE_PIECES_MAX {
            return None;
        }
        pos = end;
    }
    let stored: u64 = extents.iter().map(|&(_, len)| len).sum();
    (stored < size).then_some(extents)
}

/// Makes `header` an old-GNU sparse header (type `S`, what `tar --sparse`
/// writes in GNU format, what GNU tar, bsdtar, Python and the tar crate
/// read, and what GNU tar extracts with holes again): size is the stored
/// bytes, the real size and the first four pieces of the map go in the
/// header, and the map ends with an empty piece at the real size, as GNU
/// tar writes it, so a trailing hole is kept. Returns the extension blocks
/// holding the rest of the map, 21 pieces each. Offsets and sizes of 8 GiB
/// and more are base-256 numbers, as in the rest of the GNU header.
fn sparse_header(header: &mut Header, extents: &[(u64, u64)], size: u64) -> Vec<u8> {
    header.set_size(extents.iter().map(|&(_, len)| len).sum());
    let mut map = extents.to_vec();
    map.push((size, 0));
    let gnu = header.as_gnu_mut().expect("headers are GNU headers");
    gnu.set_real_size(size);
    for (slot, &(offset, len)) in gnu.sparse.iter_mut().zip(&map) {
        slot.set_offset(offset);
        slot.set_length(len);
    }
    let rest = map.get(gnu.sparse.len()..).unwrap_or_default();
    gnu.set_is_extended(!rest.is_empty());
    let mut blocks = Vec::new();
    let mut chunks = rest.chunks(21).peekable();
    while let Some(chunk) = chunks.next() {
        let mut ext = GnuExtSparseHeader::new();
        for (slot, &(offset, len)) in ext.sparse_mut().iter_mut().zip(chunk) {
            slot.set_offset(offset);
            slot.set_length(len);
        }
        ext.set_is_extended(chunks.peek().is_some());
        blocks.extend_from_slice(ext.as_bytes());
    }
    blocks
}

/// Yields exactly the bytes of a file's stored pieces, as (offset, length):
/// their content, then zeros where the file shrank or a read failed, so the
/// tar stream stays well-formed. Hashes the file's logical content on the
/// way, holes included.
struct ExactReader<'f> {
    file: &'f File,
    /// The pieces still to read, last first.
    pieces: Vec<(u64, u64)>,
    /// Where the current piece continues and how much of it is left.
    offset: u64,
    remaining: u64,
    short: bool,
    error: Option<io::Error>,
    content: ContentHash,
    /// How much of the logical content the hash has seen.
    hashed: u64,
    progress: &'f Progress,
}

impl<'f> ExactReader<'f> {
    fn new(
        file: &'f File,
        mut pieces: Vec<(u64, u64)>,
        content: ContentHash,
        progress: &'f Progress,
    ) -> ExactReader<'f> {
        pieces.reverse();
        ExactReader {
            file,
            pieces,
            offset: 0,
            remaining: 0,
            short: false,
            error: None,
            content,
            hashed: 0,
            progress,
        }
    }

    /// The content digest of a file of `size` bytes, and the read error
    /// that cut it short, if one did.
    fn finish(mut self, size: u64) -> ([u8; 32], Option<io::Error>) {
        self.content.zeros(size.saturating_sub(self.hashed));
        (self.content.finish(), self.error)
    }
}

impl Read for ExactReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.remaining == 0 {
            let Some((offset, len)) = self.pieces.pop() else {
                return Ok(0);
            };
            self.content.zeros(offset - self.hashed);
            (self.offset, self.remaining, self.hashed) = (offset, len, offset);
        }
        let want = buf
            .len()
            .min(self.remaining.min(usize::MAX as u64) as usize);
        let n = if self.short || self.error.is_some() {
            0
        } else {
            loop {
                match self.file.read_at(&mut buf[..want], self.offset) {
                    Ok(n) => break n,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(err) => {
                        self.error = Some(err);
                        break 0;
                    }
                }
            }
        };
        let n = if n == 0 {
            self.short = self.error.is_none();
            buf[..want].fill(0);
            want
        } else {
            n
        };
        self.content.update(&buf[..n]);
        self.progress.read(n as u64);
        self.offset += n as u64;
        self.hashed = self.offset;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// How a file changed while it was read, if it did: it shrank, grew, or
/// its mtime or ctime moved.
fn changed(file: &File, before: &Metadata, short: bool) -> Option<String> {
    if short {
        return Some("it shrank while being read; the missing end is stored as zeros".into());
    }
    let mut probe = [0u8; 1];
    if matches!(file.read_at(&mut probe, before.len()), Ok(1)) {
        return Some("it grew while being read; the stored copy is cut at the size it had".into());
    }
    let after = file.metadata().ok()?;
    let moved = after.len() != before.len()
        || (after.mtime(), after.mtime_nsec()) != (before.mtime(), before.mtime_nsec())
        || (after.ctime(), after.ctime_nsec()) != (before.ctime(), before.ctime_nsec());
    moved.then(|| "it was modified while being read; the stored copy may be torn".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_stored_like_tar_stores_them() {
        assert_eq!(archive_name(Path::new("/var/www")), b"var/www");
        assert_eq!(archive_name(Path::new("/")), b"");
    }

    #[test]
    fn link_names_are_digested_as_the_tar_crate_stores_them() {
        assert_eq!(stored_link_name(Path::new("a//b/./c")), b"a/b/c");
        assert_eq!(stored_link_name(Path::new("/etc/x")), b"/etc/x");
        assert_eq!(stored_link_name(Path::new("../up/")), b"../up/");
        let long = format!("{}//x", "d/".repeat(60));
        assert_eq!(stored_link_name(Path::new(&long)), long.as_bytes());
    }
}
