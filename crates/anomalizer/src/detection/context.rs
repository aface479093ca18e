//! The lines around a finding, so an operator sees what happened before
//! and after it without opening the log: a few lines of the same source
//! each side, bounded in number and length.

use std::collections::VecDeque;

use secops_common::text::clip;

/// Lines kept on each side of a finding.
pub const CONTEXT_LINES: usize = 3;

/// Bytes kept of each context line.
const MAX_CONTEXT_LINE: usize = 512;

/// A line and its neighbours in its source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub before: Vec<String>,
    pub line: String,
    pub after: Vec<String>,
}

impl Context {
    pub fn is_complete(&self) -> bool {
        self.after.len() >= CONTEXT_LINES
    }
}

/// The last few lines of one source, reusing their buffers.
#[derive(Debug, Default)]
pub struct Recent {
    lines: VecDeque<String>,
}

impl Recent {
    /// A context for `line` with the lines before it; the lines after
    /// are added by [`Recent::push`]'s caller as they come.
    pub fn context(&self, line: &str) -> Context {
        Context {
            before: self.lines.iter().cloned().collect(),
            line: clipped(line),
            after: Vec::new(),
        }
    }

    pub fn push(&mut self, line: &str) {
        let mut slot = if self.lines.len() == CONTEXT_LINES {
            self.lines.pop_front().unwrap_or_default()
        } else {
            String::new()
        };
        set_clipped(&mut slot, line);
        self.lines.push_back(slot);
    }
}

/// At most [`MAX_CONTEXT_LINE`] bytes of a line, marked when cut.
pub fn clipped(line: &str) -> String {
    let mut text = line.to_string();
    clip(&mut text, MAX_CONTEXT_LINE);
    text
}

/// Overwrites `slot` with at most [`MAX_CONTEXT_LINE`] bytes of `line`,
/// reusing its buffer.
pub fn set_clipped(slot: &mut String, line: &str) {
    slot.clear();
    slot.push_str(&line[..floor_char_boundary(line, MAX_CONTEXT_LINE)]);
    if slot.len() < line.len() {
        slot.push('…');
    }
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    let mut cut = max.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_few_lines_are_kept_and_clipped() {
        let mut recent = Recent::default();
        for i in 0..10 {
            recent.push(&format!("line {i}"));
        }
        recent.push(&"é".repeat(400));
        let c = recent.context("now");
        assert_eq!(c.before.len(), CONTEXT_LINES);
        assert_eq!(c.before[0], "line 8");
        assert_eq!(c.before[2].len(), MAX_CONTEXT_LINE + '…'.len_utf8());
        assert_eq!(c.line, "now");
        assert!(!c.is_complete());
    }
}
