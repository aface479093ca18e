//! Groups records that arrive together: the first alert of a group starts
//! a `--group-wait` timer, and everything that arrives before it runs out
//! goes out as one message (Alertmanager's group_wait). The end of input
//! ends the group at once, so a cron pipeline never waits.
//!
//! Records are read on their own thread (secops_common::input, which names
//! bad lines on stderr) and handed over a channel, so the timer runs while
//! a streaming producer such as `healthmon --interval` is quiet. What has
//! arrived is handed to [`Group::absorb`] as soon as the input pauses, so
//! that it is on disk as owed long before the group is sent: a process
//! killed while it waits loses nothing.
//!
//! Memory stays small however much arrives: the channel is bounded, so the
//! reader waits while a chunk is being saved rather than parsing the rest
//! of a large input into records nobody has taken yet, and a chunk holds
//! what [`Group::admit`] keeps of each record, not the parsed record.
//!
//! SIGINT or SIGTERM (systemd stopping a `healthmon | secops-notify`
//! service) ends the wait: what has arrived is sent at once and the run
//! ends, as every tool's `--interval` loop ends; a second signal ends the
//! process without sending.

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use secops_common::input::{ReadStats, read_records};
use secops_common::signals::Stop;
use secops_common::{Error, Record};

/// Records taken in one chunk at most. Each chunk is one read-modify-write
/// of the state file, so chunks are as large as the input allows: a chunk
/// ends when the input pauses for [`QUIET`] (a burst from a streaming tool
/// is over) or at this size.
const CHUNK: usize = 100_000;

/// Records read ahead of the chunk being taken in.
const READ_AHEAD: usize = 1024;

/// A pause in the input this long ends a chunk.
const QUIET: Duration = Duration::from_millis(50);

/// A chunk is taken in at least this often, so an input that never pauses
/// (a steady trickle) is still saved and its groups still sent on time.
const CHUNK_TIME: Duration = Duration::from_secs(1);

/// How often the wait looks for a stop signal.
const TICK: Duration = Duration::from_millis(200);

/// What a group goes to.
pub trait Group {
    /// What a chunk keeps of a record.
    type Item;
    /// What `rec` is in a group, or `None` when it does not belong in one
    /// (it is neither an alert nor an ending).
    fn admit(&mut self, rec: Record) -> Option<Self::Item>;
    /// Takes in records that arrived.
    fn absorb(&mut self, items: Vec<Self::Item>) -> Result<(), Error>;
    /// Sends what the group (and anything older) owes.
    fn flush(&mut self) -> Result<(), Error>;
}

/// Reads `inputs` into `group`, flushing each `wait` after a group's first
/// record and once more at the end of input.
pub fn run_groups(
    inputs: &[PathBuf],
    wait: Duration,
    group: &mut impl Group,
) -> Result<ReadStats, Error> {
    // The first SIGINT or SIGTERM sends what has arrived; a second exits at once.
    let stop = Stop::install()?;
    let (tx, rx) = mpsc::sync_channel(READ_AHEAD);
    let inputs = inputs.to_vec();
    let reader = std::thread::spawn(move || {
        read_records(&inputs, |rec| {
            // The receiver only goes away when the run is failing anyway.
            let _ = tx.send(rec);
            Ok(())
        })
    });
    let mut deadline: Option<Instant> = None;
    let mut received = 0;
    loop {
        if stop.requested() {
            secops_common::warn!("stopping on a signal: sending what has arrived");
            group.flush()?;
            // The reader may be blocked on a pipe that stays open: leave it.
            return Ok(ReadStats {
                records: received,
                ..ReadStats::default()
            });
        }
        let now = Instant::now();
        // Checked on every turn, not only when the input is quiet: a
        // steady trickle must not hold a group back.
        if deadline.is_some_and(|at| now >= at) {
            deadline = None;
            group.flush()?;
        }
        let wake = deadline.map_or(TICK, |at| at.saturating_duration_since(now).min(TICK));
        match rx.recv_timeout(wake) {
            Ok(first) => {
                let mut chunk = Vec::new();
                let until = deadline.map_or(now + CHUNK_TIME, |at| at.min(now + CHUNK_TIME));
                let mut next = Some(first);
                while let Some(rec) = next {
                    received += 1;
                    if let Some(item) = group.admit(rec) {
                        chunk.push(item);
                    }
                    next = if chunk.len() < CHUNK && Instant::now() < until {
                        rx.recv_timeout(QUIET).ok()
                    } else {
                        None
                    };
                }
                if !chunk.is_empty() {
                    deadline.get_or_insert_with(|| Instant::now() + wait);
                    group.absorb(chunk)?;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    // The end of input: the last group, and debts of earlier runs.
    group.flush()?;
    reader
        .join()
        .map_err(|_| Error::failed("the input reader panicked"))?
}
