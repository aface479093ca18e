//! One line to one template: header split, tokenising, masking, Drain.

use std::borrow::Cow;

use crate::classify::mask;
use crate::drain::{Drain, DrainConfig, Template};
use crate::header::{LogFormat, strip_header};

/// The miner every mode shares, so `parse`, `eval` and detection group
/// lines identically.
#[derive(Debug)]
pub struct LineMiner {
    format: Option<LogFormat>,
    drain: Drain,
    /// Lines the `--log-format` did not match (mined whole).
    pub unmatched: u64,
}

impl LineMiner {
    pub fn new(format: Option<LogFormat>, config: DrainConfig) -> LineMiner {
        LineMiner {
            format,
            drain: Drain::new(config),
            unmatched: 0,
        }
    }

    /// Mines one line; returns its template id and leaves the message's
    /// original tokens in `tokens` (for parameter statistics).
    pub fn mine<'l>(&mut self, line: &'l str, tokens: &mut Vec<&'l str>) -> usize {
        let content = match &mut self.format {
            Some(format) => format.content(line).unwrap_or_else(|| {
                self.unmatched += 1;
                line
            }),
            None => strip_header(line),
        };
        tokens.clear();
        tokens.extend(content.split_whitespace());
        let masked: Vec<Cow<'_, str>> = tokens.iter().map(|t| mask(t)).collect();
        self.drain.add(&masked)
    }

    pub fn templates(&self) -> &[Template] {
        self.drain.templates()
    }
}
