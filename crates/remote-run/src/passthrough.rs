//! Remote stdout split into secops records (re-emitted with `host` set to
//! the inventory name, so one report sees the fleet) and everything else,
//! which stays in the host's `remote.result` record.
//!
//! The host may be hostile or broken, so nothing it prints is held whole:
//! a line is gathered up to [`MAX_LINE`] bytes and no further, each record
//! is handed on as soon as its line ends (never collected per host), and
//! the rest is kept up to `--max-output` and otherwise only counted. What
//! one host costs is therefore the same whether it prints a kilobyte or a
//! terabyte, with or without newlines.

use std::io::{self, Read};

use secops_common::Record;

use crate::capture::Bounded;

/// The longest line taken for a record, newline included: far above any
/// record a secops tool writes (a few KiB, even with a 4096-byte path
/// three times over), and small enough that every host running at once
/// can hold one. A longer line is kept (within `--max-output`) and
/// counted as text, never parsed.
pub const MAX_LINE: usize = 256 * 1024;

/// What one host printed on stdout, besides the records handed on.
#[derive(Debug)]
pub struct Stdout {
    /// How many records were handed on.
    pub records: u64,
    /// The other lines: the first `--max-output` bytes, and the count.
    pub other: Bounded,
}

/// Reads `input` to its end, handing each record to `emit` as its line
/// ends; only lines that are not records count against `max_output`.
pub fn split(
    mut input: impl Read,
    host: &str,
    max_output: usize,
    mut emit: impl FnMut(Record),
) -> Stdout {
    let mut stdout = Stdout {
        records: 0,
        other: Bounded::new(max_output),
    };
    let mut line: Vec<u8> = Vec::new();
    // The line being read is longer than MAX_LINE: it goes to `other`
    // as it comes, up to its newline.
    let mut overlong = false;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let mut chunk = &buf[..n];
        while !chunk.is_empty() {
            let end = chunk.iter().position(|&b| b == b'\n');
            let piece = &chunk[..end.map_or(chunk.len(), |i| i + 1)];
            chunk = &chunk[piece.len()..];
            if overlong {
                stdout.other.push(piece);
            } else if line.len() + piece.len() > MAX_LINE {
                stdout.other.push(&line);
                stdout.other.push(piece);
                line.clear();
                overlong = true;
            } else {
                line.extend_from_slice(piece);
            }
            if end.is_some() {
                if !overlong {
                    stdout.take(&line, host, &mut emit);
                }
                line.clear();
                overlong = false;
            }
        }
    }
    if !line.is_empty() && !overlong {
        stdout.take(&line, host, &mut emit);
    }
    stdout
}

impl Stdout {
    /// One whole line (at most [`MAX_LINE`]): a record handed on, or text.
    fn take(&mut self, line: &[u8], host: &str, emit: &mut impl FnMut(Record)) {
        let record = std::str::from_utf8(line)
            .ok()
            .map(|text| text.trim_end_matches(['\n', '\r']))
            .filter(|text| text.starts_with('{'))
            .and_then(|text| Record::from_json(text).ok());
        match record {
            Some(mut record) => {
                record.host = host.to_string();
                self.records += 1;
                emit(record);
            }
            None => self.other.push(line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = r#"{"ts":"2026-11-21T19:02:00Z","host":"localhost","tool":"t","kind":"k","severity":"high","message":"m","port":22}"#;

    fn split_all(input: &[u8], max_output: usize) -> (Vec<Record>, Stdout) {
        let mut records = Vec::new();
        let out = split(input, "web01", max_output, |r| records.push(r));
        (records, out)
    }

    #[test]
    fn records_get_the_inventory_name_and_other_lines_stay() {
        let input = format!("{RECORD}\nplain line\n{{\"not\":\"a record\"}}\n{RECORD}");
        let (records, out) = split_all(input.as_bytes(), 1024);
        assert_eq!(records.len(), 2, "the last line needs no newline");
        assert_eq!(out.records, 2);
        assert_eq!(records[0].host, "web01");
        assert_eq!(records[0].fields["port"], 22);
        assert_eq!(out.other.text(), "plain line\n{\"not\":\"a record\"}\n");
    }

    #[test]
    fn a_line_longer_than_the_limit_is_text_kept_within_max_output() {
        let padded = RECORD.replace(r#""m""#, &format!("\"{}\"", "m".repeat(MAX_LINE)));
        let input = format!("{padded}\n{RECORD}\n");
        let (records, out) = split_all(input.as_bytes(), 100);
        assert_eq!(records.len(), 1, "only the short record");
        assert_eq!(out.other.total(), padded.len() as u64 + 1);
        assert!(out.other.truncated());
        assert_eq!(out.other.bytes(), &padded.as_bytes()[..100]);
        // A line that ends exactly at the limit is still a record.
        let exact = RECORD.replace(
            r#""m""#,
            &format!("\"{}\"", "m".repeat(MAX_LINE - RECORD.len())),
        );
        assert_eq!(exact.len() + 1, MAX_LINE);
        let (records, out) = split_all(format!("{exact}\n").as_bytes(), 100);
        assert_eq!((records.len(), out.other.total()), (1, 0));
    }

    #[test]
    fn output_without_newlines_is_counted_not_kept() {
        // Ten times the line limit, in one line with no end.
        let input = vec![b'x'; 10 * MAX_LINE];
        let (records, out) = split_all(&input, 64);
        assert!(records.is_empty());
        assert_eq!(out.other.total(), input.len() as u64);
        assert_eq!(out.other.bytes().len(), 64);
    }
}
