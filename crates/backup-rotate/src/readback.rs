//! Reading an archive back the way tar will: decompress, parse every
//! entry, digest names, metadata and content (see `digest.rs`), and hash
//! the file itself. `create` compares this with what it wrote before the
//! archive gets its final name; `verify` and `restore` compare it with the
//! manifest.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Condvar, Mutex};

use crate::compress::Compression;
use crate::digest::{Algorithm, ContentHash, EntryDigest, EntryFacts, HashingReader, ReadTally};
use crate::limits::bounded;

/// What an archive reads back as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBack {
    pub archive_bytes: u64,
    pub archive_sha256: String,
    pub archive_blake3: String,
    pub entries: u64,
    /// The entry digest (hex), with the algorithm the caller asked for.
    pub entries_digest: String,
    pub tar_bytes: u64,
}

/// The compression of a file, by its magic bytes (names can lie).
pub fn sniff(path: &Path) -> io::Result<Compression> {
    let mut magic = [0u8; 4];
    let n = File::open(path)?.read(&mut magic)?;
    Ok(match &magic[..n] {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd] => Compression::Zstd,
        _ => Compression::None,
    })
}

/// Reads the whole archive. A decoding error (truncation, a flipped bit
/// the gzip CRC or zstd checksum catches, trailing garbage) is an error.
///
/// Two threads share the work, as they share it when writing: one reads
/// and hashes the file and decompresses it, the other parses the tar
/// stream and hashes every entry's content. On two cores that halves the
/// time a `create` spends verifying.
pub fn read_back(path: &Path, algorithm: Algorithm) -> io::Result<ReadBack> {
    read_stream(File::open(path)?, sniff(path)?, algorithm)
}

/// [`read_back`] of an archive file as `file` reads it: from its start,
/// or, for [`Following`], while it is still being written.
pub fn read_stream<R: Read + Send>(
    file: R,
    compression: Compression,
    algorithm: Algorithm,
) -> io::Result<ReadBack> {
    let (tx, rx) = sync_channel(4);
    let (spent, reuse) = channel();
    std::thread::scope(|scope| {
        let decoding = scope.spawn(move || decode(file, compression, &tx, &reuse));
        let mut stream = Chunks {
            rx,
            spent,
            chunk: Vec::new(),
            at: 0,
            bytes: 0,
        };
        let parsed = digest_entries(&mut stream, algorithm).and_then(|digest| {
            // Past the end-of-archive blocks: the rest of the stream must
            // still decode (this is where a truncated or corrupt tail shows).
            io::copy(&mut stream, &mut io::sink())?;
            Ok(digest)
        });
        // Whatever happened, the decoder stops once nobody listens.
        drop(stream.rx);
        let decoded = decoding
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the decoding thread panicked")));
        let digest = parsed?;
        let (archive_bytes, archive_sha256, archive_blake3) = decoded?;
        Ok(ReadBack {
            archive_bytes,
            archive_sha256,
            archive_blake3,
            entries: digest.count,
            entries_digest: digest.hex(),
            tar_bytes: stream.bytes,
        })
    })
}

/// Size of the pieces of tar stream handed from the decoder to the parser.
const CHUNK: usize = 1 << 20;

/// The decoding half: the whole decompressed stream goes down `tx` (an
/// error too, in its place), then the file's size, SHA-256 and BLAKE3.
/// Chunks the parser is done with come back through `reuse`, so the
/// stream costs a few buffers, not a fresh zeroed MiB per MiB.
fn decode<R: Read>(
    mut file: R,
    compression: Compression,
    tx: &SyncSender<io::Result<Vec<u8>>>,
    reuse: &Receiver<Vec<u8>>,
) -> io::Result<(u64, String, String)> {
    let tally = ReadTally::default();
    {
        let mut decoder = compression.reader(HashingReader::new(&mut file, tally.clone()))?;
        loop {
            let mut chunk = reuse.try_recv().unwrap_or_default();
            chunk.resize(CHUNK, 0);
            let mut filled = 0;
            let result = loop {
                match decoder.read(&mut chunk[filled..]) {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        filled += n;
                        if filled == CHUNK {
                            break Ok(());
                        }
                    }
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    Err(err) => break Err(err),
                }
            };
            let end = filled < CHUNK;
            chunk.truncate(filled);
            if !chunk.is_empty() && tx.send(Ok(chunk)).is_err() {
                return Err(io::Error::other("the tar parser stopped"));
            }
            if let Err(err) = result {
                let message = err.to_string();
                let _ = tx.send(Err(err));
                return Err(io::Error::other(message));
            }
            if end {
                break;
            }
        }
    }
    // Hash whatever the decoder did not need to read (reads are in order:
    // `file` is where the decoder left it), so the SHA-256 is always of
    // the whole file.
    io::copy(
        &mut HashingReader::new(&mut file, tally.clone()),
        &mut io::sink(),
    )?;
    Ok(tally.finish())
}

/// The parsing half's view of the decoded stream, counting its bytes.
struct Chunks {
    rx: Receiver<io::Result<Vec<u8>>>,
    /// Where read chunks go back to the decoder.
    spent: Sender<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
    bytes: u64,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    let done = std::mem::replace(&mut self.chunk, chunk?);
                    // The decoder may be gone already; then the chunk just drops.
                    let _ = self.spent.send(done);
                    self.at = 0;
                }
                // The decoder is done (its own errors were sent first).
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Digests every entry as `archive.rs` did when writing it.
fn digest_entries(stream: &mut Chunks, algorithm: Algorithm) -> io::Result<EntryDigest> {
    let (stream, bounds) = bounded(stream);
    let mut archive = tar::Archive::new(stream);
    let mut digest = EntryDigest::new(algorithm);
    let mut buf = vec![0u8; 1 << 16];
    for entry in archive.entries()? {
        let mut entry = entry?;
        bounds.entered(&mut entry)?;
        let mut content = ContentHash::new(algorithm, entry.header().entry_type().is_gnu_sparse());
        loop {
            let n = entry.read(&mut buf)?;
            if n == 0 {
                break;
            }
            content.update(&buf[..n]);
        }
        let header = entry.header();
        let link = entry
            .link_name_bytes()
            .map(|l| l.into_owned())
            .unwrap_or_default();
        digest.add(&EntryFacts {
            path: &entry.path_bytes(),
            kind: header.entry_type().as_byte(),
            mode: header.mode()?,
            uid: header.uid()?,
            gid: header.gid()?,
            mtime: header.mtime()?,
            size: entry.size(),
            link: &link,
            content: content.finish(),
        });
    }
    Ok(digest)
}

/// How much of an archive its writer has handed to the kernel, and
/// whether it is done: what lets `create` read the archive back while it
/// is still being written, so verifying overlaps compressing instead of
/// following it.
#[derive(Clone, Default)]
pub struct Written(Arc<(Mutex<(u64, bool)>, Condvar)>);

impl Written {
    fn update(&self, change: impl FnOnce(&mut (u64, bool))) {
        let (state, moved) = &*self.0;
        change(&mut state.lock().unwrap_or_else(|e| e.into_inner()));
        moved.notify_all();
    }

    /// Waits until more than `pos` bytes are written or the writer is
    /// done; returns how many are written.
    fn beyond(&self, pos: u64) -> u64 {
        let (state, moved) = &*self.0;
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        while state.0 <= pos && !state.1 {
            state = moved.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.0
    }
}

/// The archive file's writer, announcing every write to [`Following`].
/// Dropping it (done or failed) ends the following reader's stream.
pub struct Announcing {
    pub file: File,
    written: Written,
}

impl Announcing {
    pub fn new(file: File, written: Written) -> Announcing {
        Announcing { file, written }
    }
}

impl Write for Announcing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written.update(|state| state.0 += n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for Announcing {
    fn drop(&mut self) {
        self.written.update(|state| state.1 = true);
    }
}

/// Reads the archive file through its own descriptor as [`Announcing`]
/// writes it, never past what was written; the end of the file is where
/// the writer stopped.
pub struct Following {
    file: File,
    pos: u64,
    written: Written,
}

impl Following {
    pub fn new(file: File, written: Written) -> Following {
        Following {
            file,
            pos: 0,
            written,
        }
    }
}

impl Read for Following {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let end = self.written.beyond(self.pos);
        let want = buf.len().min(end.saturating_sub(self.pos) as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive file is shorter than what was written to it",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}
