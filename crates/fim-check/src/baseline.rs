//! The baseline file: length-prefixed binary entries and a JSON header
//! (policy, host, time, count), sealed with an HMAC-SHA256 of everything
//! before it.
//!
//! ```text
//! "FIMCHK\0\x02"  entry*  header:JSON  header_len:u32  hmac:[u8; 32]
//! entry = path_len:u32 path kind:u8 flags:u8 mode:u32 uid:u32 gid:u32
//!         size:u64 mtime:i64,u32 ctime:i64,u32 inode:u64 nlink:u64
//!         [target_len:u32 target] [sha256:32] xattr_count:u16
//!         (name_len:u16 name value_len:u32 value)*
//! ```
//! Little-endian throughout. Entries are written as the walk completes them,
//! so init holds none in memory; the header, which counts them, comes last.
//! The HMAC is checked before a byte is parsed, so a truncated or edited
//! baseline is refused whole, never half-read into a report of "no
//! changes".
//!
//! A loaded baseline is not held decoded (about 225 bytes an entry, 227 MB
//! at a million files): the reader keeps every path in one byte arena and,
//! per entry, where it lies in the file and the first 128 bits of the
//! SHA-256 of its encoding, sorted by path (about 67 bytes an entry). An
//! entry the scan finds exactly as recorded is matched by that digest alone;
//! one that is needed whole is read again from the file and must match its
//! digest, so a file changed after its HMAC was checked cannot slip an
//! entry in ([`Baseline::intact`] then fails).

use std::cell::RefCell;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use secops_common::atomic::AtomicFile;
use secops_common::{Context, Error};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::entry::{Entry, Kind, Stamp};
use crate::key::Key;
use crate::policy::Policy;

const MAGIC: &[u8; 8] = b"FIMCHK\0\x02";
const MAC_LEN: usize = 32;
const HAS_TARGET: u8 = 1;
const HAS_SHA256: u8 = 2;

type HmacSha256 = Hmac<Sha256>;

/// What the baseline says about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// RFC 3339 UTC time the scan was made.
    pub created: String,
    pub host: String,
    /// The policy file it was made from, or `command line`.
    pub policy_source: String,
    pub policy: Policy,
    pub entries: u64,
    /// The fim-check version that wrote it.
    pub version: String,
}

/// An authenticated baseline: its header, and its entries indexed by path
/// and read again from the file when needed.
#[derive(Debug)]
pub struct Baseline {
    pub header: Header,
    file: File,
    path: PathBuf,
    /// Every entry's path, one after another, in file order.
    paths: Vec<u8>,
    /// One per path, sorted by path.
    slots: Vec<Slot>,
    /// The file bytes last read again.
    window: RefCell<Window>,
    /// Why an entry read again was refused: the file changed after its
    /// HMAC was checked.
    broken: RefCell<Option<String>>,
}

/// Where one entry is: its path in the arena, its bytes in the file, and
/// the digest of those bytes (its encoding, as `encode` writes it).
#[derive(Debug, Clone, Copy)]
struct Slot {
    offset: u64,
    path_at: usize,
    path_len: u32,
    len: u32,
    digest: Fingerprint,
}

/// The first 128 bits of the SHA-256 of an entry's encoding: forging an
/// entry that matches one is a second preimage of SHA-256.
type Fingerprint = [u8; 16];

fn fingerprint(encoded: &[u8]) -> Fingerprint {
    Sha256::digest(encoded)[..16]
        .try_into()
        .expect("16 of 32 bytes")
}

/// Bytes of the file read again, and where the last entry read ended.
#[derive(Debug, Default)]
struct Window {
    /// File offset of `bytes[0]`.
    base: u64,
    bytes: Vec<u8>,
    next: u64,
}

/// How much is read at once when entries are read again in file order.
const READ_AHEAD: usize = 256 << 10;

impl Baseline {
    /// How many entries (distinct paths) it holds.
    pub fn count(&self) -> usize {
        self.slots.len()
    }

    fn path_of(&self, slot: &Slot) -> &[u8] {
        &self.paths[slot.path_at..slot.path_at + slot.path_len as usize]
    }

    /// The path of entry `i` (in path order).
    pub fn path(&self, i: usize) -> &[u8] {
        self.path_of(&self.slots[i])
    }

    /// The number of the entry of `path`.
    pub fn find(&self, path: &[u8]) -> Option<usize> {
        self.slots
            .binary_search_by(|s| self.path_of(s).cmp(path))
            .ok()
    }

    /// How many entries sort before `key`.
    pub fn position(&self, key: &[u8]) -> usize {
        self.slots.partition_point(|s| self.path_of(s) < key)
    }

    /// Whether entry `i` is exactly `entry`, by digest, without reading
    /// the file; `scratch` takes the encoding.
    pub fn holds(&self, i: usize, entry: &Entry, scratch: &mut Vec<u8>) -> bool {
        scratch.clear();
        encode(entry, scratch);
        fingerprint(scratch) == self.slots[i].digest
    }

    /// Entry `i`, read again from the file; `None` when it no longer
    /// matches its digest or cannot be read, which [`Baseline::intact`]
    /// then reports.
    pub fn entry(&self, i: usize) -> Option<Entry> {
        match self.reread(&self.slots[i]) {
            Ok(entry) => Some(entry),
            Err(why) => {
                self.broken.borrow_mut().get_or_insert(why);
                None
            }
        }
    }

    /// Every entry in path order, read again from the file.
    pub fn entries(&self) -> impl Iterator<Item = Entry> + '_ {
        (0..self.slots.len()).filter_map(|i| self.entry(i))
    }

    /// Fails when an entry read again was not what was authenticated:
    /// whatever was compared against it cannot be trusted.
    pub fn intact(&self) -> Result<(), Error> {
        match self.broken.borrow().as_deref() {
            None => Ok(()),
            Some(why) => Err(Error::bad_input(format!(
                "baseline {} {why}; refusing to compare against it",
                self.path.display()
            ))),
        }
    }

    fn reread(&self, slot: &Slot) -> Result<Entry, String> {
        let mut window = self.window.borrow_mut();
        let len = slot.len as usize;
        let end = slot.offset + u64::from(slot.len);
        if slot.offset < window.base || end > window.base + window.bytes.len() as u64 {
            // Verify looks entries up in the walk order init wrote them in:
            // then the next ones are read ahead; elsewhere only the entry.
            let want = match slot.offset == window.next {
                true => len.max(READ_AHEAD),
                false => len,
            };
            window.bytes.resize(want, 0);
            let got = read_up_to(&self.file, slot.offset, &mut window.bytes)
                .map_err(|err| format!("cannot be read again ({err})"))?;
            window.bytes.truncate(got);
            window.base = slot.offset;
            if got < len {
                return Err("was truncated after its HMAC was checked".into());
            }
        }
        window.next = end;
        let at = (slot.offset - window.base) as usize;
        let bytes = &window.bytes[at..at + len];
        let changed = || "changed after its HMAC was checked".to_string();
        if fingerprint(bytes) != slot.digest {
            return Err(changed());
        }
        let mut cur = Slice { bytes, pos: 0 };
        match decode_entry(&mut cur) {
            Ok(entry) if cur.pos == len => Ok(entry),
            _ => Err(changed()),
        }
    }
}

/// A baseline being written, atomically and mode 0600: entries as they
/// come, then the header.
pub struct Writer {
    out: Sealed,
    buf: Vec<u8>,
    entries: u64,
    /// The first write error, reported by `finish` (a scan's sink cannot
    /// fail).
    error: Option<std::io::Error>,
    path: PathBuf,
}

impl Writer {
    pub fn create(path: &Path, key: &Key) -> Result<Writer, Error> {
        let file = AtomicFile::create(path, 0o600)
            .context(|| format!("cannot write {}", path.display()))?;
        let mut buf = Vec::with_capacity(1 << 17);
        buf.extend_from_slice(MAGIC);
        Ok(Writer {
            out: Sealed {
                inner: file,
                mac: HmacSha256::new_from_slice(&key.bytes).expect("HMAC takes any key length"),
            },
            buf,
            entries: 0,
            error: None,
            path: path.to_path_buf(),
        })
    }

    pub fn push(&mut self, entry: &Entry) {
        encode(entry, &mut self.buf);
        self.entries += 1;
        if self.buf.len() > 1 << 16 {
            self.drain();
        }
    }

    fn drain(&mut self) {
        if self.error.is_none() {
            self.error = self.out.write_all(&self.buf).err();
        }
        self.buf.clear();
    }

    /// Writes `header` (its `entries` set to the count written) and the
    /// HMAC, and renames the file into place.
    pub fn finish(mut self, header: &mut Header) -> Result<(), Error> {
        header.entries = self.entries;
        let head = serde_json::to_vec(header).expect("a header always serializes");
        self.buf.extend_from_slice(&head);
        self.buf
            .extend_from_slice(&(head.len() as u32).to_le_bytes());
        self.drain();
        let path = self.path;
        let fail =
            |err: std::io::Error| Error::failed(format!("cannot write {}: {err}", path.display()));
        if let Some(err) = self.error {
            return Err(fail(err));
        }
        let Sealed { mut inner, mac } = self.out;
        inner
            .write_all(&mac.finalize().into_bytes())
            .map_err(fail)?;
        inner.commit().map_err(fail)?;
        // AtomicFile keeps an existing file's mode; a baseline is always 0600.
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(fail)
    }
}

/// Reads and authenticates a baseline. The file is read twice through one
/// descriptor, never held whole: once for the HMAC, which must pass before
/// a byte is parsed, then to index the entries, with the HMAC computed
/// again and compared at the end, so a file written in between is refused
/// too. The descriptor stays open to read entries again.
pub fn read(path: &Path, key: &Key) -> Result<Baseline, Error> {
    let cannot = |err: std::io::Error| {
        if err.kind() == std::io::ErrorKind::NotFound {
            Error::bad_input(format!(
                "no baseline at {}: run fim-check init first",
                path.display()
            ))
        } else {
            Error::failed(format!("cannot read baseline {}: {err}", path.display()))
        }
    };
    let refuse = |why: &str| {
        Error::bad_input(format!(
            "baseline {} {why}; refusing to compare against it",
            path.display()
        ))
    };
    let file = File::open(path).map_err(cannot)?;
    let len = file.metadata().map_err(cannot)?.len();
    let mut magic = [0u8; MAGIC.len()];
    let got = read_up_to(&file, 0, &mut magic).map_err(cannot)?;
    let short = len < (MAGIC.len() + 4 + MAC_LEN) as u64;
    if short && MAGIC.starts_with(&magic[..got]) {
        return Err(refuse("is truncated"));
    }
    if magic[..7] == MAGIC[..7] && magic != *MAGIC {
        return Err(refuse(&format!(
            "is of format version {}, where this fim-check reads version {} (make it again with init --force)",
            magic[7], MAGIC[7]
        )));
    }
    if short || magic != *MAGIC {
        return Err(refuse("is not a fim-check baseline"));
    }
    let body_len = len - MAC_LEN as u64;
    let mut tag = [0u8; MAC_LEN];
    file.read_exact_at(&mut tag, body_len).map_err(cannot)?;
    let mut check = Source::new(&file, key, body_len);
    while check.refill(1 << 20).map_err(cannot)? {
        check.pos = check.end;
    }
    if check.mac.verify_slice(&tag).is_err() {
        return Err(refuse(&format!(
            "fails its HMAC check with key {}: it was modified, truncated or sealed with another key",
            key.path.display()
        )));
    }
    let (header, paths, slots) =
        index(Source::new(&file, key, body_len), &tag).map_err(|why| refuse(&why))?;
    Ok(Baseline {
        header,
        file,
        path: path.to_path_buf(),
        paths,
        slots,
        window: RefCell::default(),
        broken: RefCell::default(),
    })
}

/// Reads `bytes` as a baseline file, as `verify` reads one, and renders
/// every entry's attributes and the header's policy as a check would: the
/// entry point of the fuzz targets and tests. With `seal`, `bytes` is the
/// body after the magic, sealed here with a fixed key, so that what lies
/// behind the HMAC check is reached too. The file is written in `dir`.
/// Returns the number of entries.
pub fn read_bytes(bytes: &[u8], seal: bool, dir: &Path) -> Result<usize, String> {
    let key = Key {
        path: dir.join("key"),
        bytes: vec![0x5a; 32],
    };
    let mut file = Vec::with_capacity(bytes.len() + MAGIC.len() + MAC_LEN);
    if seal {
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(bytes);
        let mut mac = HmacSha256::new_from_slice(&key.bytes).expect("HMAC takes any key length");
        mac.update(&file);
        file.extend_from_slice(&mac.finalize().into_bytes());
    } else {
        file.extend_from_slice(bytes);
    }
    let path = dir.join("baseline");
    std::fs::write(&path, &file).map_err(|err| err.to_string())?;
    let baseline = read(&path, &key).map_err(|err| err.to_string())?;
    crate::policy::Scope::new(baseline.header.policy.clone()).map_err(|err| err.to_string())?;
    let mut count = 0;
    for entry in baseline.entries() {
        for attr in crate::attrs::Attr::ALL {
            let _ = entry.value(attr);
        }
        count += 1;
    }
    baseline.intact().map_err(|err| err.to_string())?;
    Ok(count)
}

/// Reads at `offset` until `buf` is full or the file ends.
fn read_up_to(file: &File, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(got)
}

/// Decodes every entry once, keeping its path, where it lies and its
/// digest; the header; the paths sorted.
fn index(mut src: Source<'_>, tag: &[u8]) -> Result<(Header, Vec<u8>, Vec<Slot>), String> {
    let mut head_len = [0u8; 4];
    src.file
        .read_exact_at(&mut head_len, src.len - 4)
        .map_err(|err| format!("cannot be read ({err})"))?;
    let head_len = u64::from(u32::from_le_bytes(head_len));
    let entries_end = (src.len - 4)
        .checked_sub(head_len)
        .filter(|end| *end >= MAGIC.len() as u64)
        .ok_or("has a header longer than itself")?;
    src.take(MAGIC.len())?;
    let mut paths = Vec::new();
    let mut slots = Vec::new();
    while src.offset() < entries_end {
        let offset = src.offset();
        src.hold = Some(offset);
        let entry = decode_entry(&mut src)?;
        slots.push(Slot {
            offset,
            path_at: paths.len(),
            path_len: entry.path.len() as u32,
            len: u32::try_from(src.offset() - offset)
                .map_err(|_| "has an entry larger than 4 GiB")?,
            digest: fingerprint(src.taken_since(offset)),
        });
        paths.extend_from_slice(&entry.path);
    }
    src.hold = None;
    if src.offset() != entries_end {
        return Err("has an entry running into its header".into());
    }
    let header: Header = serde_json::from_slice(src.take(head_len as usize)?)
        .map_err(|err| format!("has an unreadable header ({err})"))?;
    src.take(4)?;
    if src.offset() != src.len || src.mac.verify_slice(tag).is_err() {
        return Err("changed while it was being read".into());
    }
    if slots.len() as u64 != header.entries {
        return Err(format!(
            "holds {} entries where its header says {}",
            slots.len(),
            header.entries
        ));
    }
    // Written in walk order; nested watched paths may meet twice.
    let path_of = |s: &Slot| &paths[s.path_at..s.path_at + s.path_len as usize];
    slots.sort_unstable_by(|a, b| path_of(a).cmp(path_of(b)));
    slots.dedup_by(|a, b| path_of(a) == path_of(b));
    slots.shrink_to_fit();
    paths.shrink_to_fit();
    Ok((header, paths, slots))
}

fn encode(e: &Entry, buf: &mut Vec<u8>) {
    buf.extend_from_slice(&(e.path.len() as u32).to_le_bytes());
    buf.extend_from_slice(&e.path);
    buf.push(e.kind as u8);
    let flags = if e.target.is_some() { HAS_TARGET } else { 0 }
        | if e.sha256.is_some() { HAS_SHA256 } else { 0 };
    buf.push(flags);
    for n in [e.mode, e.uid, e.gid] {
        buf.extend_from_slice(&n.to_le_bytes());
    }
    buf.extend_from_slice(&e.size.to_le_bytes());
    for t in [e.mtime, e.ctime] {
        buf.extend_from_slice(&t.secs.to_le_bytes());
        buf.extend_from_slice(&t.nanos.to_le_bytes());
    }
    buf.extend_from_slice(&e.inode.to_le_bytes());
    buf.extend_from_slice(&e.nlink.to_le_bytes());
    if let Some(target) = &e.target {
        buf.extend_from_slice(&(target.len() as u32).to_le_bytes());
        buf.extend_from_slice(target);
    }
    if let Some(hash) = &e.sha256 {
        buf.extend_from_slice(hash);
    }
    buf.extend_from_slice(&(e.xattrs.len() as u16).to_le_bytes());
    for (name, value) in &e.xattrs {
        buf.extend_from_slice(&(name.len() as u16).to_le_bytes());
        buf.extend_from_slice(name);
        buf.extend_from_slice(&(value.len() as u32).to_le_bytes());
        buf.extend_from_slice(value);
    }
}

fn decode_entry(cur: &mut impl Cursor) -> Result<Entry, String> {
    let len = cur.u32()? as usize;
    let path = cur.take(len)?.to_vec();
    let kind = Kind::from_u8(cur.u8()?).ok_or("has an entry of unknown type")?;
    let flags = cur.u8()?;
    let (mode, uid, gid) = (cur.u32()?, cur.u32()?, cur.u32()?);
    let size = cur.u64()?;
    let mtime = cur.stamp()?;
    let ctime = cur.stamp()?;
    let (inode, nlink) = (cur.u64()?, cur.u64()?);
    let target = if flags & HAS_TARGET != 0 {
        let len = cur.u32()? as usize;
        Some(cur.take(len)?.to_vec())
    } else {
        None
    };
    let sha256 = if flags & HAS_SHA256 != 0 {
        Some(cur.take(32)?.try_into().expect("32 bytes"))
    } else {
        None
    };
    let count = cur.u16()?;
    let mut xattrs = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let len = usize::from(cur.u16()?);
        let name = cur.take(len)?.to_vec();
        let len = cur.u32()? as usize;
        xattrs.push((name, cur.take(len)?.to_vec()));
    }
    Ok(Entry {
        path,
        kind,
        mode,
        uid,
        gid,
        size,
        mtime,
        ctime,
        inode,
        nlink,
        target,
        sha256,
        xattrs,
    })
}

/// The baseline's body read in chunks through positional reads, every byte
/// fed to the HMAC as it is read; `take` hands out what it decodes.
struct Source<'f> {
    file: &'f File,
    mac: HmacSha256,
    /// Bytes of the body (all but the HMAC).
    len: u64,
    /// File offset of `buf[0]`.
    base: u64,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Bytes taken from this file offset on are kept across refills, so
    /// the entry being decoded can be seen whole.
    hold: Option<u64>,
}

impl<'f> Source<'f> {
    fn new(file: &'f File, key: &Key, len: u64) -> Source<'f> {
        Source {
            file,
            mac: HmacSha256::new_from_slice(&key.bytes).expect("HMAC takes any key length"),
            len,
            base: 0,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            hold: None,
        }
    }

    /// The bytes taken since file offset `from`, which `hold` kept.
    fn taken_since(&self, from: u64) -> &[u8] {
        &self.buf[(from - self.base) as usize..self.pos]
    }

    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Makes at least `want` more bytes available unless the body ends;
    /// false when nothing is left to read.
    fn refill(&mut self, want: usize) -> std::io::Result<bool> {
        let read_to = self.base + self.end as u64;
        if read_to >= self.len {
            return Ok(false);
        }
        let keep = self.hold.map_or(self.pos, |at| {
            (at.saturating_sub(self.base) as usize).min(self.pos)
        });
        self.buf.copy_within(keep..self.end, 0);
        self.base += keep as u64;
        self.end -= keep;
        self.pos -= keep;
        let size = (self.end + want).max(1 << 20);
        if self.buf.len() < size {
            self.buf.resize(size, 0);
        }
        let room = (self.buf.len() - self.end).min((self.len - read_to) as usize);
        let got = read_up_to(self.file, read_to, &mut self.buf[self.end..self.end + room])?;
        if got == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.mac.update(&self.buf[self.end..self.end + got]);
        self.end += got;
        Ok(true)
    }
}

/// Bytes handed out in order for decoding: the file as it streams by, or
/// one entry read again.
trait Cursor {
    fn take(&mut self, n: usize) -> Result<&[u8], String>;

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        self.array().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Result<u32, String> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, String> {
        self.array().map(u64::from_le_bytes)
    }

    fn stamp(&mut self) -> Result<Stamp, String> {
        let secs = i64::from_le_bytes(self.array()?);
        let nanos = self.u32()?;
        Ok(Stamp { secs, nanos })
    }
}

impl Cursor for Source<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        while self.end - self.pos < n {
            match self.refill(n) {
                Ok(true) => {}
                Ok(false) => return Err("is truncated inside an entry".into()),
                Err(err) => return Err(format!("cannot be read ({err})")),
            }
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }
}

/// One entry's bytes, read again.
struct Slice<'b> {
    bytes: &'b [u8],
    pos: usize,
}

impl Cursor for Slice<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| "is truncated inside an entry".to_string())?;
        let bytes = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }
}

/// A writer that feeds the HMAC everything it writes.
struct Sealed {
    inner: AtomicFile,
    mac: HmacSha256,
}

impl Write for Sealed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.mac.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attrs::AttrSet;

    fn entry(path: &[u8]) -> Entry {
        Entry {
            path: path.to_vec(),
            kind: Kind::Symlink,
            mode: 0o4755,
            uid: 1,
            gid: 2,
            size: 3,
            mtime: Stamp { secs: -5, nanos: 7 },
            ctime: Stamp { secs: 9, nanos: 11 },
            inode: 13,
            nlink: 15,
            target: Some(b"../x\n\xff".to_vec()),
            sha256: Some([7; 32]),
            xattrs: vec![(b"user.a".to_vec(), vec![0, 1, 2])],
        }
    }

    #[test]
    fn round_trips_and_refuses_any_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key {
            path: dir.path().join("k"),
            bytes: vec![1; 32],
        };
        let policy = Policy::for_paths(&["/etc".into()]).unwrap();
        let entries = vec![entry(b"/a"), entry(b"/b\n\xfe")];
        let mut header = Header {
            created: "2026-01-01T00:00:00Z".into(),
            host: "h".into(),
            policy_source: "command line".into(),
            policy,
            entries: 0,
            version: "0".into(),
        };
        let path = dir.path().join("base");
        let mut writer = Writer::create(&path, &key).unwrap();
        for entry in entries.iter().rev() {
            writer.push(entry);
        }
        writer.finish(&mut header).unwrap();
        let back = read(&path, &key).unwrap();
        assert_eq!(
            back.entries().collect::<Vec<_>>(),
            entries,
            "read back sorted"
        );
        back.intact().unwrap();
        assert_eq!(back.header.entries, 2);
        assert_eq!(back.header.policy.paths[0].attributes, AttrSet::full());
        assert_eq!(back.find(b"/b\n\xfe"), Some(1));
        assert_eq!(back.find(b"/c"), None);
        assert_eq!((back.position(b"/"), back.position(b"/az")), (0, 1));
        let mut scratch = Vec::new();
        assert!(back.holds(0, &entries[0], &mut scratch));
        let mut other_mode = entries[0].clone();
        other_mode.mode = 0o755;
        assert!(!back.holds(0, &other_mode, &mut scratch));

        // Edited after its HMAC was checked: an entry read again is refused,
        // and the baseline says so.
        let good = std::fs::read(&path).unwrap();
        let mut edited = good.clone();
        edited[MAGIC.len() + 5] ^= 1; // "/b\n\xfe", written first, becomes "/c..."
        std::fs::write(&path, &edited).unwrap();
        assert_eq!(back.entries().count(), 1);
        let err = back.intact().unwrap_err();
        assert_eq!(err.exit, secops_common::Exit::BadInput);
        assert!(err.message.contains("changed after its HMAC"), "{err}");

        for cut in [good.len() - 1, good.len() / 2, 10, 0] {
            std::fs::write(&path, &good[..cut]).unwrap();
            let err = read(&path, &key).unwrap_err();
            assert_eq!(
                err.exit,
                secops_common::Exit::BadInput,
                "cut at {cut}: {err}"
            );
        }
        let mut old_version = good.clone();
        old_version[7] = 1;
        std::fs::write(&path, &old_version).unwrap();
        let err = read(&path, &key).unwrap_err();
        assert!(err.message.contains("format version 1"), "{err}");
        let mut flipped = good.clone();
        flipped[good.len() / 2] ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        assert!(read(&path, &key).unwrap_err().message.contains("HMAC"));
        std::fs::write(&path, &good).unwrap();
        let other = Key {
            path: key.path.clone(),
            bytes: vec![2; 32],
        };
        assert!(read(&path, &other).unwrap_err().message.contains("HMAC"));
    }
}
