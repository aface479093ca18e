//! Reading records: JSON Lines from stdin or files. A line that is not a
//! record is named on stderr (`file:line: why`), counted and skipped, so one
//! bad line never hides the good ones; the caller exits 2 at the end.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::exit::{Error, Exit};
use crate::record::Record;

/// Lines longer than this are rejected without being held in memory whole.
pub const MAX_LINE: usize = 16 << 20;

/// Per-line complaints shown before the rest are only counted.
const SHOWN_REJECTS: u64 = 20;

/// What reading found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    pub records: u64,
    /// Lines that were not records.
    pub rejected: u64,
    /// Inputs that could not be opened or read to the end.
    pub unreadable: u64,
}

impl ReadStats {
    /// Says on stderr what was wrong with the input, and the exit status it
    /// calls for: 2 if anything was rejected or unreadable. Empty input is
    /// not wrong: a notifier fed a clean run's output has nothing to say
    /// (a report says so itself).
    pub fn conclude(&self) -> Exit {
        if self.rejected > 0 {
            crate::diag::error(format_args!(
                "{} line{} rejected as not records ({} records read)",
                self.rejected,
                if self.rejected == 1 { " was" } else { "s were" },
                self.records
            ));
        }
        if self.rejected > 0 || self.unreadable > 0 {
            Exit::BadInput
        } else {
            Exit::Clean
        }
    }
}

/// Calls `each` for every record in `inputs` in order (`-` or no inputs
/// means stdin). Errors from `each` stop the reading and are returned.
pub fn read_records(
    inputs: &[PathBuf],
    mut each: impl FnMut(Record) -> Result<(), Error>,
) -> Result<ReadStats, Error> {
    let stdin = [PathBuf::from("-")];
    let inputs = if inputs.is_empty() {
        &stdin[..]
    } else {
        inputs
    };
    let mut stats = ReadStats::default();
    for path in inputs {
        let (name, reader): (String, Box<dyn Read>) = if path == Path::new("-") {
            ("<stdin>".to_string(), Box::new(io::stdin().lock()))
        } else {
            match File::open(path) {
                Ok(file) => (path.display().to_string(), Box::new(file)),
                Err(err) => {
                    crate::diag::error(format_args!("cannot read {}: {err}", path.display()));
                    stats.unreadable += 1;
                    continue;
                }
            }
        };
        let mut reader = BufReader::with_capacity(1 << 17, reader);
        if let Err(err) = read_lines(&mut reader, &name, &mut stats, &mut each)? {
            crate::diag::error(format_args!("cannot read {name}: {err}"));
            stats.unreadable += 1;
        }
    }
    Ok(stats)
}

/// [`read_records`] over one already open input named `name` in
/// complaints: the reader the tools use, for tests and fuzzing. An I/O
/// error ends the input and counts it as unreadable, as for a file.
pub fn read_records_from(
    reader: impl Read,
    name: &str,
    mut each: impl FnMut(Record) -> Result<(), Error>,
) -> Result<ReadStats, Error> {
    let mut stats = ReadStats::default();
    let mut reader = BufReader::with_capacity(1 << 17, reader);
    if let Err(err) = read_lines(&mut reader, name, &mut stats, &mut each)? {
        crate::diag::error(format_args!("cannot read {name}: {err}"));
        stats.unreadable += 1;
    }
    Ok(stats)
}

/// The outer result is `each`'s error; the inner one an I/O error that ends
/// this input but not the run.
fn read_lines(
    reader: &mut impl BufRead,
    name: &str,
    stats: &mut ReadStats,
    each: &mut impl FnMut(Record) -> Result<(), Error>,
) -> Result<io::Result<()>, Error> {
    let mut buf = Vec::with_capacity(1024);
    let mut number = 0u64;
    loop {
        buf.clear();
        number += 1;
        let read = reader
            .by_ref()
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf);
        match read {
            Ok(0) => return Ok(Ok(())),
            Ok(_) => {}
            Err(err) => return Ok(Err(err)),
        }
        if buf.last() != Some(&b'\n') && buf.len() > MAX_LINE {
            if let Err(err) = reader.skip_until(b'\n') {
                return Ok(Err(err));
            }
            reject(
                stats,
                name,
                number,
                format_args!("line longer than {} MiB", MAX_LINE >> 20),
            );
            continue;
        }
        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(text) = std::str::from_utf8(line) else {
            reject(stats, name, number, format_args!("not valid UTF-8"));
            continue;
        };
        match Record::from_json(text) {
            Ok(rec) => {
                stats.records += 1;
                each(rec)?;
            }
            Err(err) => reject(stats, name, number, format_args!("{err}")),
        }
    }
}

fn reject(stats: &mut ReadStats, name: &str, line: u64, why: std::fmt::Arguments<'_>) {
    stats.rejected += 1;
    if stats.rejected <= SHOWN_REJECTS {
        crate::diag::warn(format_args!("{name}:{line}: skipped: {why}"));
    } else if stats.rejected == SHOWN_REJECTS + 1 {
        crate::diag::warn(format_args!("further bad lines are counted but not shown"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"ts":"2026-11-21T19:02:00Z","host":"h","tool":"t","kind":"k","severity":"low","message":"m"}"#;

    fn read(bytes: &[u8]) -> (Vec<Record>, ReadStats) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.jsonl");
        std::fs::write(&path, bytes).unwrap();
        let mut records = Vec::new();
        let stats = read_records(&[path], |r| {
            records.push(r);
            Ok(())
        })
        .unwrap();
        (records, stats)
    }

    #[test]
    fn bad_lines_are_counted_and_good_ones_kept() {
        let mut input = Vec::new();
        input.extend_from_slice(GOOD.as_bytes());
        input.extend_from_slice(b"\n\nnot json\n");
        input.extend_from_slice(b"{\"message\":\"\xff\"}\n");
        input.extend_from_slice(GOOD.replace("low", "bogus").as_bytes());
        input.extend_from_slice(b"\r\n");
        input.extend_from_slice(GOOD.as_bytes());
        let (records, stats) = read(&input);
        assert_eq!(records.len(), 2);
        assert_eq!(
            stats,
            ReadStats {
                records: 2,
                rejected: 3,
                unreadable: 0
            }
        );
        assert_eq!(stats.conclude(), Exit::BadInput);
    }

    #[test]
    fn a_huge_line_is_rejected_and_reading_goes_on() {
        let mut input = vec![b'x'; MAX_LINE + 10];
        input.push(b'\n');
        input.extend_from_slice(GOOD.as_bytes());
        let (records, stats) = read(&input);
        assert_eq!((records.len(), stats.rejected), (1, 1));
    }

    #[test]
    fn empty_input_is_clean_but_missing_files_are_not() {
        let (records, stats) = read(b"");
        assert!(records.is_empty());
        assert_eq!(stats.conclude(), Exit::Clean);
        let stats = read_records(&[PathBuf::from("/nonexistent/in.jsonl")], |_| Ok(())).unwrap();
        assert_eq!(stats.unreadable, 1);
        assert_eq!(stats.conclude(), Exit::BadInput);
    }
}
