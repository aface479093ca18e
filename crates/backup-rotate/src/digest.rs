//! What "verified" means: one SHA-256 over every entry's name, type,
//! metadata and content digest, computed once from what was written and
//! once from what the archive reads back as. Equal digests and counts mean
//! tar will extract exactly what the tool read; the archive file's own
//! SHA-256 then lets a later `verify` notice any flipped byte.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::rc::Rc;

use sha2::{Digest, Sha256};

/// The running digest of a sequence of tar entries.
#[derive(Clone, Default)]
pub struct EntryDigest {
    sha: Sha256,
    pub count: u64,
}

/// One entry as both sides see it.
pub struct EntryFacts<'a> {
    pub path: &'a [u8],
    pub kind: u8,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub size: u64,
    pub link: &'a [u8],
    pub content: [u8; 32],
}

impl EntryDigest {
    pub fn add(&mut self, e: &EntryFacts<'_>) {
        self.count += 1;
        let sha = &mut self.sha;
        sha.update((e.path.len() as u64).to_le_bytes());
        sha.update(e.path);
        sha.update([e.kind]);
        sha.update(e.mode.to_le_bytes());
        sha.update(e.uid.to_le_bytes());
        sha.update(e.gid.to_le_bytes());
        sha.update(e.mtime.to_le_bytes());
        sha.update(e.size.to_le_bytes());
        sha.update((e.link.len() as u64).to_le_bytes());
        sha.update(e.link);
        sha.update(e.content);
    }

    pub fn hex(&self) -> String {
        hex(&self.sha.clone().finalize())
    }
}

/// The SHA-256 of nothing: the content digest of entries without data.
pub fn empty_content() -> [u8; 32] {
    Sha256::digest(b"").into()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A sink that hashes and counts what passes through it: the archive
/// file's SHA-256 comes for free while it is written.
pub struct HashingWriter<W> {
    inner: W,
    sha: Sha256,
    pub bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> HashingWriter<W> {
        HashingWriter {
            inner,
            sha: Sha256::new(),
            bytes: 0,
        }
    }

    /// The inner writer and the hex SHA-256 of everything written.
    pub fn into_parts(self) -> (W, String) {
        (self.inner, hex(&self.sha.finalize()))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The shared end of a [`HashingReader`], readable after the reader itself
/// disappeared inside a decoder.
#[derive(Clone, Default)]
pub struct ReadTally(Rc<RefCell<(Sha256, u64)>>);

impl ReadTally {
    pub fn bytes(&self) -> u64 {
        self.0.borrow().1
    }

    pub fn update(&self, buf: &[u8]) {
        let mut state = self.0.borrow_mut();
        state.0.update(buf);
        state.1 += buf.len() as u64;
    }

    pub fn hex(&self) -> String {
        hex(&self.0.borrow().0.clone().finalize())
    }
}

/// A reader that hashes and counts what it reads into a [`ReadTally`].
pub struct HashingReader<R> {
    inner: R,
    tally: ReadTally,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R, tally: ReadTally) -> HashingReader<R> {
        HashingReader { inner, tally }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.tally.update(&buf[..n]);
        Ok(n)
    }
}
