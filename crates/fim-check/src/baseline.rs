//! The baseline file: a JSON header (policy, host, time) and length-prefixed
//! binary entries, sealed with an HMAC-SHA256 of everything before it.
//!
//! ```text
//! "FIMCHK\0\x01"  header_len:u32  header:JSON  entry*  hmac:[u8; 32]
//! entry = path_len:u32 path kind:u8 flags:u8 mode:u32 uid:u32 gid:u32
//!         size:u64 mtime:i64,u32 ctime:i64,u32 inode:u64 nlink:u64
//!         [target_len:u32 target] [sha256:32] xattr_count:u16
//!         (name_len:u16 name value_len:u32 value)*
//! ```
//! Little-endian throughout. The HMAC is checked before a byte is parsed,
//! so a truncated or edited baseline is refused whole, never half-read into
//! a report of "no changes". Loading is one read and a linear decode.

use std::io::Write;
use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use secops_common::Error;
use secops_common::atomic::AtomicFile;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::entry::{Entry, Kind, Stamp};
use crate::key::Key;
use crate::policy::Policy;

const MAGIC: &[u8; 8] = b"FIMCHK\0\x01";
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

#[derive(Debug)]
pub struct Baseline {
    pub header: Header,
    pub entries: Vec<Entry>,
}

/// Writes the baseline atomically, mode 0600.
pub fn write(path: &Path, key: &Key, header: &Header, entries: &[Entry]) -> Result<(), Error> {
    let fail =
        |err: std::io::Error| Error::failed(format!("cannot write {}: {err}", path.display()));
    let file = AtomicFile::create(path, 0o600).map_err(fail)?;
    let mut out = Sealed {
        inner: file,
        mac: HmacSha256::new_from_slice(&key.bytes).expect("HMAC takes any key length"),
    };
    let head = serde_json::to_vec(header).expect("a header always serializes");
    let mut buf = Vec::with_capacity(1 << 16);
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&(head.len() as u32).to_le_bytes());
    buf.extend_from_slice(&head);
    for entry in entries {
        encode(entry, &mut buf);
        if buf.len() > 1 << 16 {
            out.write_all(&buf).map_err(fail)?;
            buf.clear();
        }
    }
    out.write_all(&buf).map_err(fail)?;
    let Sealed { mut inner, mac } = out;
    inner
        .write_all(&mac.finalize().into_bytes())
        .map_err(fail)?;
    inner.commit().map_err(fail)?;
    // AtomicFile keeps an existing file's mode; a baseline is always 0600.
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(fail)
}

/// Reads and authenticates a baseline.
pub fn read(path: &Path, key: &Key) -> Result<Baseline, Error> {
    let data = std::fs::read(path).map_err(|err| {
        if err.kind() == std::io::ErrorKind::NotFound {
            Error::bad_input(format!(
                "no baseline at {}: run fim-check init first",
                path.display()
            ))
        } else {
            Error::failed(format!("cannot read baseline {}: {err}", path.display()))
        }
    })?;
    let refuse = |why: &str| {
        Error::bad_input(format!(
            "baseline {} {why}; refusing to compare against it",
            path.display()
        ))
    };
    if data.len() < MAGIC.len() + 4 + MAC_LEN || !data.starts_with(MAGIC) {
        return Err(refuse(if data.starts_with(&MAGIC[..data.len().min(6)]) {
            "is truncated"
        } else {
            "is not a fim-check baseline (or is of another format version)"
        }));
    }
    let (body, tag) = data.split_at(data.len() - MAC_LEN);
    let mut mac = HmacSha256::new_from_slice(&key.bytes).expect("HMAC takes any key length");
    mac.update(body);
    if mac.verify_slice(tag).is_err() {
        return Err(refuse(&format!(
            "fails its HMAC check with key {}: it was modified, truncated or sealed with another key",
            key.path.display()
        )));
    }
    decode(&body[MAGIC.len()..]).map_err(|why| refuse(&why))
}

fn decode(body: &[u8]) -> Result<Baseline, String> {
    let mut cur = Cursor { buf: body, pos: 0 };
    let head_len = cur.u32()? as usize;
    let header: Header = serde_json::from_slice(cur.take(head_len)?)
        .map_err(|err| format!("has an unreadable header ({err})"))?;
    let mut entries = Vec::with_capacity(header.entries.min(1 << 24) as usize);
    while cur.pos < body.len() {
        entries.push(decode_entry(&mut cur)?);
    }
    if entries.len() as u64 != header.entries {
        return Err(format!(
            "holds {} entries where its header says {}",
            entries.len(),
            header.entries
        ));
    }
    Ok(Baseline { header, entries })
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

fn decode_entry(cur: &mut Cursor<'_>) -> Result<Entry, String> {
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

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|end| *end <= self.buf.len());
        let end = end.ok_or("is truncated inside an entry")?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

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
        let header = Header {
            created: "2026-01-01T00:00:00Z".into(),
            host: "h".into(),
            policy_source: "command line".into(),
            policy,
            entries: 2,
            version: "0".into(),
        };
        let path = dir.path().join("base");
        write(&path, &key, &header, &entries).unwrap();
        let back = read(&path, &key).unwrap();
        assert_eq!(back.entries, entries);
        assert_eq!(back.header.policy.paths[0].attributes, AttrSet::full());

        let good = std::fs::read(&path).unwrap();
        for cut in [good.len() - 1, good.len() / 2, 10, 0] {
            std::fs::write(&path, &good[..cut]).unwrap();
            let err = read(&path, &key).unwrap_err();
            assert_eq!(
                err.exit,
                secops_common::Exit::BadInput,
                "cut at {cut}: {err}"
            );
        }
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
