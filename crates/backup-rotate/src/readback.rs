//! Reading an archive back the way tar will: decompress, parse every
//! entry, digest names, metadata and content (see `digest.rs`), and hash
//! the file itself. `create` compares this with what it wrote before the
//! archive gets its final name; `verify` and `restore` compare it with the
//! manifest.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::compress::Compression;
use crate::digest::{EntryDigest, EntryFacts, HashingReader, ReadTally};

/// What an archive reads back as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBack {
    pub archive_bytes: u64,
    pub archive_sha256: String,
    pub entries: u64,
    pub entries_sha256: String,
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
pub fn read_back(path: &Path) -> io::Result<ReadBack> {
    let compression = sniff(path)?;
    let mut file = File::open(path)?;
    let tally = ReadTally::default();
    let decoder = compression.reader(HashingReader::new(&mut file, tally.clone()))?;
    let counted = ReadTally::default();
    let mut archive = tar::Archive::new(HashingReader::new(decoder, counted.clone()));
    let mut digest = EntryDigest::default();
    let mut buf = vec![0u8; 1 << 16];
    for entry in archive.entries()? {
        let mut entry = entry?;
        let mut sha = Sha256::new();
        loop {
            let n = entry.read(&mut buf)?;
            if n == 0 {
                break;
            }
            sha.update(&buf[..n]);
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
            content: sha.finalize().into(),
        });
    }
    // Past the end-of-archive blocks: the rest of the stream must still
    // decode (this is where a truncated or corrupt tail shows).
    let mut decoder = archive.into_inner();
    io::copy(&mut decoder, &mut io::sink())?;
    drop(decoder);
    // Hash whatever the decoder did not need to read, so the SHA-256 is
    // always of the whole file.
    file.seek(SeekFrom::Start(tally.bytes()))?;
    io::copy(
        &mut HashingReader::new(&mut file, tally.clone()),
        &mut io::sink(),
    )?;
    Ok(ReadBack {
        archive_bytes: tally.bytes(),
        archive_sha256: tally.hex(),
        entries: digest.count,
        entries_sha256: digest.hex(),
        tar_bytes: counted.bytes(),
    })
}
