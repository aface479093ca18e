//! One line to one template: splitting, tokenising, masking, Drain.

use std::borrow::Cow;

use crate::classify::mask;
use crate::drain::{Drain, DrainConfig, Template};
use crate::extract::{Entry, Splitter};

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
}

impl LineMiner {
    pub fn new(splitter: Splitter, config: DrainConfig) -> LineMiner {
        LineMiner {
            splitter,
            drain: Drain::new(config),
            now: crate::timestamp::now(),
            unmatched: 0,
        }
    }

    /// Takes a line apart; a line the format does not match is counted
    /// and becomes its own whole message, with the time it starts with.
    pub fn split<'l>(&mut self, line: &'l str) -> Entry<'l> {
        self.splitter.split(line, self.now).unwrap_or_else(|| {
            self.unmatched += 1;
            Entry {
                time: crate::timestamp::leading(line, self.now),
                level: None,
                source: None,
                message: Cow::Borrowed(line.trim()),
            }
        })
    }

    /// Mines one message; returns its template id and leaves the message's
    /// original tokens in `tokens` (for parameter statistics).
    pub fn mine<'m>(&mut self, message: &'m str, tokens: &mut Vec<&'m str>) -> usize {
        tokens.clear();
        tokens.extend(message.split_whitespace());
        let masked: Vec<Cow<'_, str>> = tokens.iter().map(|t| mask(t)).collect();
        self.drain.add(&masked)
    }

    pub fn templates(&self) -> &[Template] {
        self.drain.templates()
    }
}
