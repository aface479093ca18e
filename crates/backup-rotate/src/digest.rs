//! What "verified" means: one digest over every entry's name, type,
//! metadata and content digest, computed once from what was written and
//! once from what the archive reads back as. Equal digests and counts mean
//! tar will extract exactly what the tool read; the archive file's own
//! SHA-256 then lets a later `verify` notice any flipped byte.
//!
//! The entry and content digests are BLAKE3 since manifest format 2: a
//! `create` hashes every byte of content twice (reading the sources, then
//! reading the archive back), and SHA-256 doing that was a fifth of its
//! CPU time. BLAKE3 is as strong a check and several times faster (SIMD
//! over 1 KiB chunks of one buffer). Manifests of format 1 hold SHA-256 digests and still verify:
//! the algorithm is chosen by the manifest, never guessed.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::rc::Rc;

use sha2::{Digest, Sha256};

/// The hash of entry and content digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Manifest format 1.
    Sha256,
    /// Manifest format 2 on: what `create` writes.
    Blake3,
}

/// A running hash of either algorithm.
#[derive(Clone)]
pub enum Hasher {
    Sha256(Sha256),
    // Boxed: its state (a stack of chunk values) is 1.9 KiB.
    Blake3(Box<blake3::Hasher>),
}

impl Hasher {
    fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Blake3 => Hasher::Blake3(Box::default()),
        }
    }

    fn update(&mut self, data: impl AsRef<[u8]>) {
        let data = data.as_ref();
        match self {
            Hasher::Sha256(sha) => sha.update(data),
            Hasher::Blake3(b3) => {
                b3.update(data);
            }
        }
    }

    fn finish(self) -> [u8; 32] {
        match self {
            Hasher::Sha256(sha) => sha.finalize().into(),
            Hasher::Blake3(b3) => b3.finalize().into(),
        }
    }
}

/// The running digest of a sequence of tar entries.
#[derive(Clone)]
pub struct EntryDigest {
    hash: Hasher,
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
    pub fn new(algorithm: Algorithm) -> EntryDigest {
        EntryDigest {
            hash: Hasher::new(algorithm),
            count: 0,
        }
    }

    pub fn add(&mut self, e: &EntryFacts<'_>) {
        self.count += 1;
        let hash = &mut self.hash;
        hash.update((e.path.len() as u64).to_le_bytes());
        hash.update(e.path);
        hash.update([e.kind]);
        hash.update(e.mode.to_le_bytes());
        hash.update(e.uid.to_le_bytes());
        hash.update(e.gid.to_le_bytes());
        hash.update(e.mtime.to_le_bytes());
        hash.update(e.size.to_le_bytes());
        hash.update((e.link.len() as u64).to_le_bytes());
        hash.update(e.link);
        hash.update(e.content);
    }

    pub fn hex(&self) -> String {
        hex(&self.hash.clone().finish())
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
    Plain(Hasher),
    Sparse { hash: Hasher, partial: Vec<u8> },
}

/// The block size of the sparse content digest: the page and filesystem
/// block size, so holes (which filesystems report in whole blocks) are
/// whole blocks of it.
pub const SPARSE_BLOCK: usize = 4096;

/// Tag bytes for runs of zero blocks, fed to the hash in one call.
static ZERO_TAGS: [u8; SPARSE_BLOCK] = [0; SPARSE_BLOCK];

impl ContentHash {
    pub fn new(algorithm: Algorithm, sparse: bool) -> ContentHash {
        if sparse {
            ContentHash::Sparse {
                hash: Hasher::new(algorithm),
                partial: Vec::with_capacity(SPARSE_BLOCK),
            }
        } else {
            ContentHash::Plain(Hasher::new(algorithm))
        }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        let (hash, partial) = match self {
            ContentHash::Plain(hash) => return hash.update(data),
            ContentHash::Sparse { hash, partial } => (hash, partial),
        };
        if !partial.is_empty() {
            let take = (SPARSE_BLOCK - partial.len()).min(data.len());
            partial.extend_from_slice(&data[..take]);
            data = &data[take..];
            if partial.len() < SPARSE_BLOCK {
                return;
            }
            add_block(hash, partial);
            partial.clear();
        }
        let mut blocks = data.chunks_exact(SPARSE_BLOCK);
        for block in &mut blocks {
            add_block(hash, block);
        }
        partial.extend_from_slice(blocks.remainder());
    }

    /// Adds `n` zero bytes, a hole, without materialising them.
    pub fn zeros(&mut self, mut n: u64) {
        let (hash, partial) = match self {
            ContentHash::Plain(hash) => {
                while n > 0 {
                    let take = n.min(SPARSE_BLOCK as u64) as usize;
                    hash.update(&ZERO_TAGS[..take]);
                    n -= take as u64;
                }
                return;
            }
            ContentHash::Sparse { hash, partial } => (hash, partial),
        };
        if !partial.is_empty() {
            let take = (SPARSE_BLOCK - partial.len()).min(n.min(SPARSE_BLOCK as u64) as usize);
            partial.resize(partial.len() + take, 0);
            n -= take as u64;
            if partial.len() < SPARSE_BLOCK {
                return;
            }
            add_block(hash, partial);
            partial.clear();
        }
        let mut blocks = n / SPARSE_BLOCK as u64;
        while blocks > 0 {
            let take = blocks.min(SPARSE_BLOCK as u64) as usize;
            hash.update(&ZERO_TAGS[..take]);
            blocks -= take as u64;
        }
        partial.resize((n % SPARSE_BLOCK as u64) as usize, 0);
    }

    pub fn finish(self) -> [u8; 32] {
        match self {
            ContentHash::Plain(hash) => hash.finish(),
            ContentHash::Sparse { mut hash, partial } => {
                if !partial.is_empty() {
                    add_block(&mut hash, &partial);
                }
                hash.finish()
            }
        }
    }
}

fn add_block(hash: &mut Hasher, block: &[u8]) {
    // Slice equality on bytes is memcmp: fast even in a debug build.
    if block == &ZERO_TAGS[..block.len()] {
        hash.update([0u8]);
    } else {
        hash.update([1u8]);
        hash.update(block);
    }
}

/// The hash of nothing: the content digest of entries without data.
pub fn empty_content(algorithm: Algorithm) -> [u8; 32] {
    Hasher::new(algorithm).finish()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A sink that hashes what passes through it, so `create` can tell that
/// the archive file reads back as the bytes it wrote. BLAKE3: the
/// SHA-256 the manifest records is taken from the read-back, which hashes
/// the file with both (see [`ReadTally`]).
pub struct HashingWriter<W> {
    inner: W,
    b3: blake3::Hasher,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> HashingWriter<W> {
        HashingWriter {
            inner,
            b3: blake3::Hasher::new(),
        }
    }

    /// The inner writer and the hex BLAKE3 of everything written.
    pub fn into_parts(self) -> (W, String) {
        (self.inner, hex(self.b3.finalize().as_bytes()))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.b3.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The shared end of a [`HashingReader`], readable after the reader itself
/// disappeared inside a decoder: the file's size, its SHA-256 (what the
/// manifest records and `sha256sum` checks) and its BLAKE3 (what `create`
/// holds against [`HashingWriter`]'s).
#[derive(Clone, Default)]
pub struct ReadTally(Rc<RefCell<Tally>>);

#[derive(Default)]
struct Tally {
    sha: Sha256,
    b3: blake3::Hasher,
    bytes: u64,
}

impl ReadTally {
    pub fn update(&self, buf: &[u8]) {
        let mut state = self.0.borrow_mut();
        state.sha.update(buf);
        state.b3.update(buf);
        state.bytes += buf.len() as u64;
    }

    /// Size, hex SHA-256 and hex BLAKE3 of what was read.
    pub fn finish(&self) -> (u64, String, String) {
        let state = self.0.borrow();
        (
            state.bytes,
            hex(&state.sha.clone().finalize()),
            hex(state.b3.finalize().as_bytes()),
        )
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
        let mut hash = ContentHash::new(Algorithm::Blake3, true);
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
            let mut hash = ContentHash::new(Algorithm::Blake3, true);
            hash.update(&data[..from]);
            hash.zeros((to - from) as u64);
            hash.update(&data[to..]);
            assert_eq!(hash.finish(), whole, "hole {from}..{to}");
        }
        // Plain hashing of zeros is plain SHA-256 or BLAKE3.
        let mut want = b"ab".to_vec();
        want.resize(10_002, 0);
        for (algorithm, digest) in [
            (Algorithm::Sha256, <[u8; 32]>::from(Sha256::digest(&want))),
            (Algorithm::Blake3, blake3::hash(&want).into()),
        ] {
            let mut plain = ContentHash::new(algorithm, false);
            plain.update(b"ab");
            plain.zeros(10_000);
            assert_eq!(plain.finish(), digest, "{algorithm:?}");
        }
        // A moved byte changes it.
        data[SPARSE_BLOCK + 3] = 0;
        data[SPARSE_BLOCK + 4] = 9;
        assert_ne!(sparse_of(&[&data]), whole);
    }
}
