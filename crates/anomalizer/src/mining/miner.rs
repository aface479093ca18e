//! One line to one template: splitting, tokenising, masking, Drain.

use std::borrow::Cow;

use crate::mining::drain::{Drain, DrainConfig, Template};
use crate::mining::extract::{Entry, Splitter};
use crate::mining::mask::mask_line;
use crate::mining::tokens::split_tokens;

/// The miner every mode shares, so `parse`, `eval` and detection group
/// lines identically.
#[derive(Debug)]
pub struct LineMiner {
    splitter: Splitter,
    drain: Drain,
    /// Epoch seconds at start, which settles the year of syslog times.
    now: i64,
    /// Lines the `--log-format` or `--format-regex` did not match (mined
    /// whole).
    pub unmatched: u64,
    /// Buffers reused line after line, so mining a line allocates nothing
    /// once they have grown: the line's key for the tree, and which
    /// tokens may hold values.
    key: String,
    valued: Vec<bool>,
}

impl LineMiner {
    pub fn new(splitter: Splitter, config: DrainConfig) -> LineMiner {
        LineMiner {
            splitter,
            drain: Drain::new(config),
            now: crate::mining::timestamp::now(),
            unmatched: 0,
            key: String::new(),
            valued: Vec::new(),
        }
    }

    /// Takes a line apart; a line the format does not match is counted
    /// and becomes its own whole message, with the time it starts with.
    pub fn split<'l>(&mut self, line: &'l str) -> Entry<'l> {
        if let Some(entry) = self.splitter.split(line, self.now) {
            return entry;
        }
        self.unmatched += 1;
        self.splitter.masked(Entry {
            time: crate::mining::timestamp::leading(line, self.now),
            level: None,
            source: None,
            message: Cow::Borrowed(line.trim()),
        })
    }

    /// Mines one message; returns its template id and leaves the message's
    /// original tokens in `tokens` (for parameter statistics).
    pub fn mine<'m>(&mut self, message: &'m str, tokens: &mut Vec<&'m str>) -> usize {
        tokens.clear();
        self.valued.clear();
        split_tokens(message, tokens, &mut self.valued);
        self.key.clear();
        mask_line(tokens, &self.valued, &mut self.key);
        self.drain.add(&self.key)
    }

    /// Files a line already masked (by [`crate::input::pipeline`]'s reading
    /// threads) into the tree: `key` as [`mask_line`] writes it.
    pub fn add_key(&mut self, key: &str) -> usize {
        self.drain.add(key)
    }

    /// The tree's configuration, for miners made alike.
    pub fn config(&self) -> DrainConfig {
        self.drain.config()
    }

    pub fn templates(&self) -> &[Template] {
        self.drain.templates()
    }

    /// See [`Drain::version`].
    pub fn template_version(&self, id: usize) -> u64 {
        self.drain.version(id)
    }
}
