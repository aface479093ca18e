//! Reading on other cores: the work on a line that needs nothing but the
//! line (reading and decompressing, UTF-8 checks, splitting the header,
//! parsing the time, tokenising, masking) runs on reading threads, while
//! the calling thread files the masked lines into the one parse tree and
//! hands them to the detectors, in input order.
//!
//! The tree and the per-source statistics stay single and sequential, so
//! the templates, ids and findings are exactly those of a one-threaded
//! run, whatever the number of cores: the threads only take work off the
//! critical path. Lines travel in batches (one allocation reused batch
//! after batch, a few batches in flight), so memory stays bounded.
//!
//! With several files, each reading thread takes every n-th file and the
//! calling thread takes the files back in order; with one file, one
//! reading thread and the tree still run side by side. With one core
//! there is no reading thread: the calling thread reads each batch and
//! files it, the same code in the same order.

use std::borrow::Cow;
use std::sync::mpsc::{Receiver, channel, sync_channel};

use secops_common::Error;

use crate::input::ingest::{self, IngestStats, Source};
use crate::mining::extract::{Entry, Splitter};
use crate::mining::mask::mask_line;
use crate::mining::miner::LineMiner;
use crate::mining::tokens::{recycle, split_tokens};

/// Lines per batch: large enough that handing a batch over costs nothing
/// per line, small enough to stay in cache.
const BATCH_LINES: usize = 512;

/// Bytes of text per batch, so that long lines (up to 64 KiB each) keep
/// the batches in flight to a few MiB.
const BATCH_BYTES: usize = 1 << 20;

/// Batches in flight per reading thread.
const IN_FLIGHT: usize = 4;

/// One mined line, in input order.
#[derive(Debug)]
pub struct Line<'a> {
    /// Index of its file in the sources.
    pub file: usize,
    /// 1-based line number in its file.
    pub number: u64,
    pub entry: Entry<'a>,
    /// The whole line as read (CR/LF stripped).
    pub text: &'a str,
    /// The message's original tokens.
    pub tokens: &'a [&'a str],
    /// Its template id.
    pub id: usize,
}

/// Where a text sits in a batch's buffer.
type Span = (usize, usize);

#[derive(Debug, Clone, Copy)]
struct Prepared {
    file: usize,
    number: u64,
    time: Option<i64>,
    text: Span,
    level: Option<Span>,
    source: Option<Span>,
    message: Span,
    /// Range into [`Batch::tokens`].
    tokens: (usize, usize),
    /// The masked line, as the tree files it.
    key: Span,
}

/// Lines read and masked, owned, ready to cross threads.
#[derive(Debug, Default)]
struct Batch {
    /// Every text of the batch: lines, then whatever is not a part of its
    /// line (a JSON message, the masked line).
    text: String,
    lines: Vec<Prepared>,
    /// Each line's original tokens.
    tokens: Vec<Span>,
    /// The batch ends its file.
    last: bool,
}

impl Batch {
    fn clear(&mut self) {
        self.text.clear();
        self.lines.clear();
        self.tokens.clear();
        self.last = false;
    }

    fn push(
        &mut self,
        file: usize,
        number: u64,
        line: &str,
        entry: &Entry<'_>,
        tokens: &[&str],
        valued: &[bool],
    ) {
        let base = self.text.len();
        self.text.push_str(line);
        let place = |part: &str, text: &mut String| -> Span {
            match offset_in(line, part) {
                Some(at) => (base + at, base + at + part.len()),
                None => {
                    let start = text.len();
                    text.push_str(part);
                    (start, text.len())
                }
            }
        };
        let message = place(&entry.message, &mut self.text);
        let level = entry.level.as_deref().map(|l| place(l, &mut self.text));
        let source = entry.source.as_deref().map(|s| place(s, &mut self.text));
        let first = self.tokens.len();
        for token in tokens {
            let at = offset_in(&entry.message, token).expect("tokens are slices of the message");
            self.tokens
                .push((message.0 + at, message.0 + at + token.len()));
        }
        let key = self.text.len();
        mask_line(tokens, valued, &mut self.text);
        self.lines.push(Prepared {
            file,
            number,
            time: entry.time,
            text: (base, base + line.len()),
            level,
            source,
            message,
            tokens: (first, self.tokens.len()),
            key: (key, self.text.len()),
        });
    }

    fn get(&self, span: Span) -> &str {
        &self.text[span.0..span.1]
    }
}

/// Where `part` starts inside `whole`, when it is a slice of it.
fn offset_in(whole: &str, part: &str) -> Option<usize> {
    let at = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    (at <= whole.len() && part.len() <= whole.len() - at).then_some(at)
}

/// How many reading threads: one core is kept for the tree, and there is
/// never more than one thread per file. With one core, none: handing
/// batches between two threads on one core only costs.
fn readers(files: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.saturating_sub(1).min(files.max(1))
}

/// Reads `sources`, each line split by a splitter from `splitter` (one per
/// reading thread) and mined by `miner`'s tree, and calls `each` per line
/// in input order. Counts go to `stats` and `miner.unmatched`.
pub fn mine(
    sources: &[Source],
    splitter: impl Fn() -> Result<Splitter, Error> + Sync,
    miner: &mut LineMiner,
    stats: &mut IngestStats,
    each: impl FnMut(&LineMiner, Line<'_>),
) -> Result<(), Error> {
    mine_with(
        sources,
        splitter,
        miner,
        stats,
        readers(sources.len()),
        each,
    )
}

/// [`mine`] with `n` reading threads (0: the calling thread reads).
fn mine_with(
    sources: &[Source],
    splitter: impl Fn() -> Result<Splitter, Error> + Sync,
    miner: &mut LineMiner,
    stats: &mut IngestStats,
    n: usize,
    mut each: impl FnMut(&LineMiner, Line<'_>),
) -> Result<(), Error> {
    let config = miner.config();
    let mut tokens = Vec::new();
    if n == 0 {
        let files: Vec<(usize, &Source)> = sources.iter().enumerate().collect();
        let reader = LineMiner::new(splitter()?, config);
        let (read, unmatched) = read_files(&files, reader, |batch| {
            file_batch(&batch, miner, &mut each, &mut tokens);
            Some(batch)
        });
        stats.add(&read);
        miner.unmatched += unmatched;
        return Ok(());
    }
    let n = n.min(sources.len().max(1));
    let mut splitters = Vec::with_capacity(n);
    for _ in 0..n {
        splitters.push(splitter()?);
    }
    std::thread::scope(|scope| {
        let mut batches: Vec<Receiver<Batch>> = Vec::with_capacity(n);
        let mut spent: Vec<std::sync::mpsc::Sender<Batch>> = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        for (k, splitter) in splitters.into_iter().enumerate() {
            let (full_tx, full_rx) = sync_channel(IN_FLIGHT);
            let (spent_tx, spent_rx) = channel();
            batches.push(full_rx);
            spent.push(spent_tx);
            let files: Vec<(usize, &Source)> =
                sources.iter().enumerate().skip(k).step_by(n).collect();
            handles.push(scope.spawn(move || {
                read_files(&files, LineMiner::new(splitter, config), |batch| {
                    full_tx.send(batch).ok()?;
                    Some(spent_rx.try_recv().unwrap_or_default())
                })
            }));
        }
        for file in 0..sources.len() {
            let k = file % n;
            // A reading thread that died sends nothing more: its panic is
            // raised at the join below.
            while let Ok(batch) = batches[k].recv() {
                file_batch(&batch, miner, &mut each, &mut tokens);
                let last = batch.last;
                // The reader may have finished: then the batch is dropped.
                let _ = spent[k].send(batch);
                if last {
                    break;
                }
            }
        }
        drop(batches);
        for handle in handles {
            let (read, unmatched) = handle.join().expect("a reading thread panicked");
            stats.add(&read);
            miner.unmatched += unmatched;
        }
    });
    Ok(())
}

/// Files a batch's lines into the tree and hands them to `each`, in
/// order. `tokens` is a buffer reused batch after batch.
fn file_batch(
    batch: &Batch,
    miner: &mut LineMiner,
    each: &mut impl FnMut(&LineMiner, Line<'_>),
    tokens: &mut Vec<&str>,
) {
    for p in &batch.lines {
        let mut t = recycle(std::mem::take(tokens));
        t.extend(
            batch.tokens[p.tokens.0..p.tokens.1]
                .iter()
                .map(|&span| batch.get(span)),
        );
        let id = miner.add_key(batch.get(p.key));
        let get = |s: Span| Cow::Borrowed(batch.get(s));
        let entry = Entry {
            time: p.time,
            level: p.level.map(get),
            source: p.source.map(get),
            message: get(p.message),
        };
        each(
            miner,
            Line {
                file: p.file,
                number: p.number,
                entry,
                text: batch.get(p.text),
                tokens: &t,
                id,
            },
        );
        *tokens = recycle(t);
    }
}

/// Reads files in order into batches, each file ending with a batch marked
/// `last`, and hands each full batch to `deliver`, which gives back an
/// empty one to fill (`None`: nobody wants more). Returns its counts and
/// the lines its format did not match.
fn read_files(
    files: &[(usize, &Source)],
    mut splitter: LineMiner,
    mut deliver: impl FnMut(Batch) -> Option<Batch>,
) -> (IngestStats, u64) {
    let mut stats = IngestStats::default();
    let mut tokens: Vec<&str> = Vec::new();
    let mut valued = Vec::new();
    let mut batch = Batch::default();
    for &(file, source) in files {
        secops_common::info!("reading {}", source.name());
        let mut gone = false;
        ingest::read(source, &mut stats, |number, text| {
            if gone {
                return;
            }
            let entry = splitter.split(text);
            let mut t = recycle(std::mem::take(&mut tokens));
            valued.clear();
            split_tokens(&entry.message, &mut t, &mut valued);
            batch.push(file, number, text, &entry, &t, &valued);
            tokens = recycle(t);
            if batch.lines.len() >= BATCH_LINES || batch.text.len() >= BATCH_BYTES {
                match deliver(std::mem::take(&mut batch)) {
                    Some(empty) => batch = empty,
                    None => gone = true,
                }
                batch.clear();
            }
        });
        if gone {
            break;
        }
        batch.last = true;
        match deliver(std::mem::take(&mut batch)) {
            Some(empty) => batch = empty,
            None => break,
        }
        batch.clear();
    }
    (stats, splitter.unmatched)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (file, line, template id, tokens, message) of every line.
    type Row = (usize, u64, usize, Vec<String>, String);

    fn rows(sources: &[Source], format: Option<&str>, readers: usize) -> (Vec<Row>, IngestStats) {
        let splitter = || Splitter::new(format, None);
        let mut miner = LineMiner::new(splitter().unwrap(), Default::default());
        let mut stats = IngestStats::default();
        let mut out = Vec::new();
        mine_with(
            sources,
            splitter,
            &mut miner,
            &mut stats,
            readers,
            |_, line| {
                out.push((
                    line.file,
                    line.number,
                    line.id,
                    line.tokens.iter().map(|t| t.to_string()).collect(),
                    line.entry.message.into_owned(),
                ));
            },
        )
        .unwrap();
        (out, stats)
    }

    #[test]
    fn reading_threads_change_nothing_but_the_speed() {
        let dir = tempfile::tempdir().unwrap();
        let mut sources = Vec::new();
        for f in 0..5 {
            let path = dir.path().join(format!("{f}.log"));
            let mut text = String::new();
            // Enough lines for several batches, and lines that share
            // templates across files.
            for i in 0..(300 * f + 7) {
                text += &format!(
                    "2026-11-21T19:{:02}:00Z INFO worker {i} of pool{f} took {}ms\n",
                    i % 60,
                    i * 3
                );
                if i % 97 == 0 {
                    text += "{\"msg\":\"disk full on /var\",\"level\":\"error\",\"unit\":\"db\"}\n";
                }
            }
            std::fs::write(&path, text).unwrap();
            sources.push(Source::File(path));
        }
        let (one, stats_one) = rows(&sources, None, 1);
        let (three, stats_three) = rows(&sources, None, 3);
        let (none, stats_none) = rows(&sources, None, 0);
        assert_eq!(one, three);
        assert_eq!(one, none);
        assert_eq!(stats_one, stats_three);
        assert_eq!(stats_one, stats_none);
        assert_eq!(stats_one.files, 5);
        // In input order, and as the one-line-at-a-time miner mines them.
        let mut miner = LineMiner::new(Splitter::new(None, None).unwrap(), Default::default());
        let mut expected = Vec::new();
        for (file, source) in sources.iter().enumerate() {
            ingest::read(source, &mut IngestStats::default(), |number, text| {
                let entry = miner.split(text);
                let mut tokens = Vec::new();
                let id = miner.mine(&entry.message, &mut tokens);
                expected.push((
                    file,
                    number,
                    id,
                    tokens.iter().map(|t| t.to_string()).collect(),
                    entry.message.into_owned(),
                ));
            });
        }
        assert_eq!(one, expected);
    }
}
