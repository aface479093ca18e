//! Compression on every core, in formats any machine can read back.
//!
//! gzip is pigz's scheme: the tar stream is cut into 1 MiB blocks, each
//! deflated independently on a worker thread and ended with a sync flush
//! (byte-aligned, no final bit), so the blocks concatenate into one valid
//! deflate stream; the writer thread puts them back in order, combines the
//! blocks' CRC-32s and closes the stream with an empty final block and the
//! gzip trailer. Independent blocks cost about 0.1% of ratio (no matches
//! across a block edge) and make the work embarrassingly parallel. Memory is
//! bounded: at most a few blocks per worker are in flight.
//!
//! zstd uses libzstd's own multithreading (zstdmt), which already does the
//! same thing better than we could, with the CLI's settings (level 3, a
//! content checksum, no long-distance matching).

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use clap::ValueEnum;
use flate2::{Compress, FlushCompress, Status};
use serde::{Deserialize, Serialize};

/// How an archive is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Standard .tar.gz, compressed in parallel
    Gzip,
    /// .tar.zst, multithreaded; faster at a similar ratio
    Zstd,
    /// Plain .tar, for data that is already compressed
    None,
}

impl Compression {
    pub const ALL: [Compression; 3] = [Compression::Gzip, Compression::Zstd, Compression::None];

    pub fn extension(self) -> &'static str {
        match self {
            Compression::Gzip => ".tar.gz",
            Compression::Zstd => ".tar.zst",
            Compression::None => ".tar",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::None => "none",
        }
    }

    /// The level to use, checked against what the format accepts.
    pub fn level(self, asked: Option<u32>) -> Result<u32, String> {
        let (default, range) = match self {
            Compression::Gzip => (6, 1..=9),
            Compression::Zstd => (3, 1..=19),
            Compression::None => (0, 0..=0),
        };
        match asked {
            None => Ok(default),
            Some(level) if range.contains(&level) => Ok(level),
            Some(level) => Err(format!(
                "--level {level} is out of range for {} ({}..={})",
                self.as_str(),
                range.start(),
                range.end()
            )),
        }
    }

    /// A writer that compresses into `sink`; [`Compressor::finish`] returns
    /// the sink once everything reached it.
    pub fn writer<W: Write + Send + 'static>(
        self,
        sink: W,
        level: u32,
        threads: u32,
    ) -> io::Result<Compressor<W>> {
        Ok(match self {
            Compression::Gzip => Compressor::Gzip(ParallelGzip::new(sink, level, threads)),
            Compression::Zstd => {
                let mut encoder = zstd::stream::Encoder::new(sink, level as i32)?;
                // What the zstd CLI writes by default: a checksum of the
                // content at the end of the frame, so a flipped bit fails
                // to decode even without the manifest.
                encoder.include_checksum(true)?;
                if threads > 1 {
                    encoder.multithread(threads)?;
                }
                Compressor::Zstd(encoder)
            }
            Compression::None => Compressor::None(sink),
        })
    }

    /// A reader that decompresses `source`. gzip accepts multi-member files
    /// too (what `pigz --independent` or `cat a.gz b.gz` make).
    pub fn reader<'r, R: Read + 'r>(self, source: R) -> io::Result<Box<dyn Read + 'r>> {
        let source = BufReader::with_capacity(1 << 16, source);
        Ok(match self {
            Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(source)),
            Compression::Zstd => Box::new(zstd::stream::Decoder::with_buffer(source)?),
            Compression::None => Box::new(source) as Box<dyn Read>,
        })
    }
}

/// A compressing writer of any of the formats.
pub enum Compressor<W: Write + Send + 'static> {
    Gzip(ParallelGzip<W>),
    Zstd(zstd::stream::Encoder<'static, W>),
    None(W),
}

impl<W: Write + Send + 'static> Compressor<W> {
    /// Ends the stream and hands back the sink.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Compressor::Gzip(gz) => gz.finish(),
            Compressor::Zstd(zstd) => zstd.finish(),
            Compressor::None(mut sink) => sink.flush().map(|()| sink),
        }
    }
}

impl<W: Write + Send + 'static> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::Gzip(gz) => gz.write(buf),
            Compressor::Zstd(zstd) => zstd.write(buf),
            Compressor::None(sink) => sink.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::Gzip(_) => Ok(()),
            Compressor::Zstd(zstd) => zstd.flush(),
            Compressor::None(sink) => sink.flush(),
        }
    }
}

/// Block size: large enough that the lost cross-block matches do not
/// matter (pigz uses 128 KiB), small enough that a few per worker stay
/// cheap in memory.
const BLOCK: usize = 1 << 20;

/// One compressed block on its way to the writer thread.
struct Done {
    seq: u64,
    deflated: Vec<u8>,
    crc: crc32fast::Hasher,
    len: u64,
}

/// The parallel gzip writer (see the module comment).
pub struct ParallelGzip<W: Write + Send + 'static> {
    block: Vec<u8>,
    seq: u64,
    jobs: Option<SyncSender<(u64, Vec<u8>)>>,
    workers: Vec<JoinHandle<()>>,
    writer: Option<JoinHandle<io::Result<W>>>,
}

impl<W: Write + Send + 'static> ParallelGzip<W> {
    pub fn new(sink: W, level: u32, threads: u32) -> ParallelGzip<W> {
        let threads = threads.max(1) as usize;
        let (jobs, job_rx) = sync_channel::<(u64, Vec<u8>)>(threads * 2);
        let job_rx = std::sync::Arc::new(std::sync::Mutex::new(job_rx));
        let (done_tx, done_rx) = sync_channel::<io::Result<Done>>(threads * 2);
        let workers = (0..threads)
            .map(|_| {
                let job_rx = job_rx.clone();
                let done_tx = done_tx.clone();
                std::thread::spawn(move || deflate_worker(level, &job_rx, &done_tx))
            })
            .collect();
        let writer = std::thread::spawn(move || write_in_order(sink, &done_rx));
        ParallelGzip {
            block: Vec::with_capacity(BLOCK),
            seq: 0,
            jobs: Some(jobs),
            workers,
            writer: Some(writer),
        }
    }

    fn send_block(&mut self) -> io::Result<()> {
        let block = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK));
        let sent = self
            .jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send((self.seq, block)).is_ok());
        self.seq += 1;
        if sent {
            Ok(())
        } else {
            // The writer stopped (a write error): finish() reports why.
            Err(self.stop().err().unwrap_or_else(|| {
                io::Error::other("the compression threads stopped unexpectedly")
            }))
        }
    }

    /// Sends the last block, waits for the threads and writes the trailer.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.block.is_empty() {
            self.send_block()?;
        }
        self.stop()
    }

    fn stop(&mut self) -> io::Result<W> {
        drop(self.jobs.take());
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
        match self.writer.take() {
            Some(writer) => writer
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the gzip writer thread panicked"))),
            None => Err(io::Error::other("the gzip stream was already closed")),
        }
    }
}

impl<W: Write + Send + 'static> Write for ParallelGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = BLOCK - self.block.len();
        let n = room.min(buf.len());
        self.block.extend_from_slice(&buf[..n]);
        if self.block.len() == BLOCK {
            self.send_block()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write + Send + 'static> Drop for ParallelGzip<W> {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = self.stop();
        }
    }
}

fn deflate_worker(
    level: u32,
    jobs: &std::sync::Mutex<Receiver<(u64, Vec<u8>)>>,
    done: &SyncSender<io::Result<Done>>,
) {
    let mut deflate = Compress::new(flate2::Compression::new(level), false);
    let mut store = Compress::new(flate2::Compression::none(), false);
    loop {
        let job = jobs.lock().map(|rx| rx.recv());
        let Ok(Ok((seq, block))) = job else { return };
        let coder = if incompressible(&block) {
            &mut store
        } else {
            &mut deflate
        };
        coder.reset();
        let result = deflate_block(coder, &block).map(|deflated| {
            let mut crc = crc32fast::Hasher::new();
            crc.update(&block);
            Done {
                seq,
                deflated,
                crc,
                len: block.len() as u64,
            }
        });
        if done.send(result).is_err() {
            return;
        }
    }
}

/// Whether deflate would gain nothing on a block: its bytes are spread so
/// evenly (order-0 entropy above 7.95 bits per byte, as in random data or
/// already-compressed files) that Huffman coding cannot help, and a sample
/// shows no repeated 4-byte strings for matching to find. Such blocks are
/// stored instead, as zstd does with incompressible blocks: deflating random
/// data at level 6 takes most of gzip's time on a mixed tree and saves
/// under 0.1% of its size.
fn incompressible(block: &[u8]) -> bool {
    if block.len() < 4096 || has_repeats(&block[..block.len().min(1 << 16)]) {
        return false;
    }
    let mut counts = [0u32; 256];
    for &b in block {
        counts[b as usize] += 1;
    }
    let n = block.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    entropy > 7.95
}

/// Whether more than 1% of a sample's 4-byte strings occurred before in
/// it (a 4096-slot table of the last one per hash; random data scores
/// about 0.1% from slot collisions that happen to match).
fn has_repeats(sample: &[u8]) -> bool {
    let mut seen = [0u32; 4096];
    let mut repeats = 0;
    for gram in sample.windows(4) {
        let gram = u32::from_le_bytes([gram[0], gram[1], gram[2], gram[3]]);
        let slot = (gram.wrapping_mul(2_654_435_761) >> 20) as usize;
        repeats += usize::from(seen[slot] == gram);
        seen[slot] = gram;
    }
    repeats * 100 > sample.len()
}

/// Deflates one block and ends it with a sync flush, so it can be followed
/// by the next block's independent deflate data.
fn deflate_block(deflate: &mut Compress, block: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(block.len() + block.len() / 64 + 64);
    let mut consumed = 0;
    loop {
        if out.len() == out.capacity() {
            out.reserve(block.len() / 8 + 64);
        }
        let before = deflate.total_in();
        let status = deflate
            .compress_vec(&block[consumed..], &mut out, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        consumed += (deflate.total_in() - before) as usize;
        // The flush is complete once deflate stopped short of filling the
        // output space it was given.
        if matches!(status, Status::BufError)
            || (consumed == block.len() && out.len() < out.capacity())
        {
            return Ok(out);
        }
    }
}

/// Header of a gzip member: deflate, no name, no mtime (reproducible), OS
/// Unix.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
/// An empty fixed-Huffman block with the final bit: ends the deflate stream
/// after the last sync-flushed block.
const FINAL_EMPTY_BLOCK: [u8; 2] = [0x03, 0x00];

fn write_in_order<W: Write>(mut sink: W, done: &Receiver<io::Result<Done>>) -> io::Result<W> {
    sink.write_all(&GZIP_HEADER)?;
    let mut pending = BTreeMap::new();
    let mut next = 0;
    let mut crc = crc32fast::Hasher::new();
    let mut len = 0u64;
    for result in done {
        let block = result?;
        pending.insert(block.seq, block);
        while let Some(block) = pending.remove(&next) {
            sink.write_all(&block.deflated)?;
            crc.combine(&block.crc);
            len += block.len;
            next += 1;
        }
    }
    if !pending.is_empty() {
        return Err(io::Error::other("a compression thread lost a block"));
    }
    sink.write_all(&FINAL_EMPTY_BLOCK)?;
    sink.write_all(&crc.finalize().to_le_bytes())?;
    // ISIZE is the length modulo 2^32, as RFC 1952 defines it.
    sink.write_all(&(len as u32).to_le_bytes())?;
    sink.flush()?;
    Ok(sink)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        // Text-like and random-like halves, deterministic.
        let mut x = 0x9e3779b97f4a7c15u64;
        (0..len)
            .map(|i| {
                if (i / 100_000) % 2 == 0 {
                    b"the quick brown fox jumps over the lazy dog\n"[i % 44]
                } else {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                }
            })
            .collect()
    }

    fn round_trip(compression: Compression, data: &[u8], threads: u32) -> Vec<u8> {
        let mut writer = compression
            .writer(Vec::new(), compression.level(None).unwrap(), threads)
            .unwrap();
        for piece in data.chunks(7777) {
            writer.write_all(piece).unwrap();
        }
        let compressed = writer.finish().unwrap();
        let mut back = Vec::new();
        compression
            .reader(&compressed[..])
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        back
    }

    #[test]
    fn every_format_round_trips_across_block_edges() {
        let data = sample(3 * BLOCK + 12345);
        for compression in Compression::ALL {
            for threads in [1, 3] {
                assert!(
                    round_trip(compression, &data, threads) == data,
                    "{compression:?}"
                );
            }
        }
        assert!(round_trip(Compression::Gzip, &[], 2).is_empty());
    }

    #[test]
    fn parallel_gzip_is_one_member_that_stock_gzip_accepts() {
        let data = sample(2 * BLOCK + 1);
        let mut writer = Compression::Gzip.writer(Vec::new(), 6, 2).unwrap();
        writer.write_all(&data).unwrap();
        let compressed = writer.finish().unwrap();
        // A single-member decoder reads it all: one stream, not several.
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&compressed[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back == data);
        let mut gzip = std::process::Command::new("gzip")
            .args(["-t"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("gzip is missing: apt-get install gzip");
        gzip.stdin.take().unwrap().write_all(&compressed).unwrap();
        assert!(
            gzip.wait().unwrap().success(),
            "gzip -t rejected the stream"
        );
    }

    #[test]
    fn only_random_looking_blocks_are_stored() {
        let data = sample(BLOCK * 2);
        let (text, random) = (&data[..100_000], &data[100_000..200_000]);
        assert!(!incompressible(text));
        assert!(incompressible(random));
        // Every byte value equally often, but one repeated 256-byte run:
        // order-0 entropy is 8 bits, and deflate still shrinks it 100-fold.
        let pattern: Vec<u8> = (0..=255u8).cycle().take(BLOCK).collect();
        assert!(!incompressible(&pattern));
    }

    #[test]
    fn levels_are_checked_per_format() {
        assert_eq!(Compression::Gzip.level(None), Ok(6));
        assert_eq!(Compression::Zstd.level(Some(19)), Ok(19));
        assert!(Compression::Gzip.level(Some(10)).is_err());
        assert!(Compression::None.level(Some(3)).is_err());
    }
}
