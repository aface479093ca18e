//! One line to one template: splitting, tokenising, masking, Drain.

use std::borrow::Cow;

use crate::mining::drain::{Drain, DrainConfig, Template, push_token};
use crate::mining::extract::{Entry, Splitter};
use crate::mining::mask::{Masked, WILDCARD, mask_into};

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
        self.splitter.split(line, self.now).unwrap_or_else(|| {
            self.unmatched += 1;
            Entry {
                time: crate::mining::timestamp::leading(line, self.now),
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

/// The message's tokens, split at white space as `split_whitespace` does,
/// and for each whether it may hold a value (it has a digit, `/` or `@`;
/// only those go through the classifier). One pass over the bytes with a
/// table when the text is ASCII (nearly every log line); characters only
/// otherwise.
pub fn split_tokens<'m>(message: &'m str, out: &mut Vec<&'m str>, valued: &mut Vec<bool>) {
    let bytes = message.as_bytes();
    let mut seen = 0u8;
    let mut i = 0;
    loop {
        while i < bytes.len() && BYTE_CLASS[usize::from(bytes[i])] & SPACE != 0 {
            i += 1;
        }
        if i == bytes.len() {
            break;
        }
        let start = i;
        let mut flags = 0u8;
        while i < bytes.len() {
            let class = BYTE_CLASS[usize::from(bytes[i])];
            if class & SPACE != 0 {
                break;
            }
            flags |= class;
            i += 1;
        }
        out.push(&message[start..i]);
        valued.push(flags & VALUE != 0);
        seen |= flags;
    }
    if seen & NON_ASCII != 0 {
        // Unicode white space may split tokens too: do it the slow way.
        out.clear();
        valued.clear();
        out.extend(message.split_whitespace());
        valued.resize(out.len(), true);
    }
}

/// Bits of [`BYTE_CLASS`].
const SPACE: u8 = 1;
const VALUE: u8 = 2;
const NON_ASCII: u8 = 4;

/// Each byte's class: white space as `char::is_whitespace` has it in ASCII
/// (space, \t, \n, \x0b, \x0c, \r), a byte that may start a value (digit,
/// `/`, `@`), or not ASCII.
static BYTE_CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = match b {
            b' ' | b'\t'..=b'\r' => SPACE,
            b'0'..=b'9' | b'/' | b'@' => VALUE,
            0x80.. => NON_ASCII,
            _ => 0,
        };
        i += 1;
    }
    table
};

/// Appends the key the tree files a line by to `key`: each token masked
/// by the classifier when it may hold a value (see [`split_tokens`]).
pub fn mask_line(tokens: &[&str], valued: &[bool], key: &mut String) {
    for (token, &valued) in tokens.iter().zip(valued) {
        let kind = if valued {
            mask_into(token, key)
        } else {
            Masked::Token
        };
        match kind {
            Masked::Token => push_token(key, token),
            Masked::Wildcard => push_token(key, WILDCARD),
            Masked::Written => key.push(' '),
        }
    }
}

/// An empty vector of borrowed texts that keeps `v`'s allocation, whatever
/// the lifetime of what it held: collecting an emptied `into_iter` back
/// into a vector of a type of the same size reuses the buffer in place,
/// so a per-line token list is allocated once, not once per line.
pub fn recycle<'b>(mut v: Vec<&str>) -> Vec<&'b str> {
    v.clear();
    v.into_iter()
        .map(|_| -> &'b str { unreachable!() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_like_split_whitespace() {
        for text in [
            "a b\tc\x0bd\x0ce\rf  g ",
            "  leading and trailing  ",
            "",
            "   ",
            "caf\u{e9} \u{a0}nbsp\u{a0}split x",
            "one",
        ] {
            let (mut out, mut valued) = (Vec::new(), Vec::new());
            split_tokens(text, &mut out, &mut valued);
            let want: Vec<&str> = text.split_whitespace().collect();
            assert_eq!(out, want, "{text:?}");
            assert_eq!(valued.len(), out.len());
        }
    }

    #[test]
    fn only_tokens_with_a_digit_slash_or_at_may_hold_values() {
        let (mut out, mut valued) = (Vec::new(), Vec::new());
        split_tokens("user alice from 10.0.0.1 via /x a@b", &mut out, &mut valued);
        assert_eq!(valued, [false, false, false, true, false, true, true]);
    }

    #[test]
    fn recycled_vectors_keep_their_buffer() {
        let text = String::from("a b c");
        let mut v: Vec<&str> = Vec::with_capacity(64);
        v.extend(text.split(' '));
        let again: Vec<&'static str> = recycle(v);
        assert!(again.is_empty());
        assert!(again.capacity() >= 64);
    }
}
