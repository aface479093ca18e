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

/// The content digest of one entry, as both sides compute it from the
/// entry's logical bytes (holes of a sparse file read as zeros).
///
/// Plain entries hash their bytes. Sparse entries (GNU type `S`) hash the
/// file in [`SPARSE_BLOCK`]-sized blocks by offset, an all-zero block as
/// the tag byte 0 and any other as the tag 1 followed by its bytes. That
/// is still a function of the content alone, so the reader needs no sparse
/// map, but the writer never reads or hashes a hole byte by byte: a 1 TiB
/// `/var/log/lastlog` with 100 KiB of data costs what its data costs.
pub enum ContentHash {
    Plain(Sha256),
    Sparse { sha: Sha256, partial: Vec<u8> },
}

/// The block size of the sparse content digest: the page and filesystem
/// block size, so holes (which filesystems report in whole blocks) are
/// whole blocks of it.
pub const SPARSE_BLOCK: usize = 4096;

/// Tag bytes for runs of zero blocks, fed to SHA-256 in one call.
static ZERO_TAGS: [u8; SPARSE_BLOCK] = [0; SPARSE_BLOCK];

impl ContentHash {
    pub fn new(sparse: bool) -> ContentHash {
        if sparse {
            ContentHash::Sparse {
                sha: Sha256::new(),
                partial: Vec::with_capacity(SPARSE_BLOCK),
            }
        } else {
            ContentHash::Plain(Sha256::new())
        }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        let (sha, partial) = match self {
            ContentHash::Plain(sha) => return sha.update(data),
            ContentHash::Sparse { sha, partial } => (sha, partial),
        };
        if !partial.is_empty() {
            let take = (SPARSE_BLOCK - partial.len()).min(data.len());
            partial.extend_from_slice(&data[..take]);
            data = &data[take..];
            if partial.len() < SPARSE_BLOCK {
                return;
            }
            add_block(sha, partial);
            partial.clear();
        }
        let mut blocks = data.chunks_exact(SPARSE_BLOCK);
        for block in &mut blocks {
            add_block(sha, block);
        }
        partial.extend_from_slice(blocks.remainder());
    }

    /// Adds `n` zero bytes, a hole, without materialising them.
    pub fn zeros(&mut self, mut n: u64) {
        let (sha, partial) = match self {
            ContentHash::Plain(sha) => {
                while n > 0 {
                    let take = n.min(SPARSE_BLOCK as u64) as usize;
                    sha.update(&ZERO_TAGS[..take]);
                    n -= take as u64;
                }
                return;
            }
            ContentHash::Sparse { sha, partial } => (sha, partial),
        };
        if !partial.is_empty() {
            let take = (SPARSE_BLOCK - partial.len()).min(n.min(SPARSE_BLOCK as u64) as usize);
            partial.resize(partial.len() + take, 0);
            n -= take as u64;
            if partial.len() < SPARSE_BLOCK {
                return;
            }
            add_block(sha, partial);
            partial.clear();
        }
        let mut blocks = n / SPARSE_BLOCK as u64;
        while blocks > 0 {
            let take = blocks.min(SPARSE_BLOCK as u64) as usize;
            sha.update(&ZERO_TAGS[..take]);
            blocks -= take as u64;
        }
        partial.resize((n % SPARSE_BLOCK as u64) as usize, 0);
    }

    pub fn finish(self) -> [u8; 32] {
        match self {
            ContentHash::Plain(sha) => sha.finalize().into(),
            ContentHash::Sparse { mut sha, partial } => {
                if !partial.is_empty() {
                    add_block(&mut sha, &partial);
                }
                sha.finalize().into()
            }
        }
    }
}

fn add_block(sha: &mut Sha256, block: &[u8]) {
    // Slice equality on bytes is memcmp: fast even in a debug build.
    if block == &ZERO_TAGS[..block.len()] {
        sha.update([0u8]);
    } else {
        sha.update([1u8]);
        sha.update(block);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sparse_of(pieces: &[&[u8]]) -> [u8; 32] {
        let mut hash = ContentHash::new(true);
        for piece in pieces {
            hash.update(piece);
        }
        hash.finish()
    }

    #[test]
    fn holes_hash_like_the_zeros_they_read_as() {
        let mut data = vec![0u8; 5 * SPARSE_BLOCK + 700];
        data[SPARSE_BLOCK + 3] = 9;
        data[5 * SPARSE_BLOCK + 10] = 1;
        let whole = sparse_of(&[&data]);
        // Fed in odd pieces, or with the zero runs as holes, at offsets
        // that are and are not block edges: the same digest.
        assert_eq!(
            sparse_of(&[&data[..1000], &data[1000..9000], &data[9000..]]),
            whole
        );
        for (from, to) in [
            (0, SPARSE_BLOCK),
            (100, SPARSE_BLOCK + 3),
            (2 * SPARSE_BLOCK + 5, 5 * SPARSE_BLOCK + 10),
        ] {
            let mut hash = ContentHash::new(true);
            hash.update(&data[..from]);
            hash.zeros((to - from) as u64);
            hash.update(&data[to..]);
            assert_eq!(hash.finish(), whole, "hole {from}..{to}");
        }
        // Plain hashing of zeros is plain SHA-256.
        let mut plain = ContentHash::new(false);
        plain.update(b"ab");
        plain.zeros(10_000);
        let mut want = b"ab".to_vec();
        want.resize(10_002, 0);
        assert_eq!(plain.finish(), <[u8; 32]>::from(Sha256::digest(&want)));
        // A moved byte changes it.
        data[SPARSE_BLOCK + 3] = 0;
        data[SPARSE_BLOCK + 4] = 9;
        assert_ne!(sparse_of(&[&data]), whole);
    }
}
