//! `anomalizer parse`: one `log.parsed` record per input line with its
//! final template, so any evaluator can score the grouping.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use secops_common::cli::CommonArgs;
use secops_common::{Error, Exit, Format, Output};

use crate::cli::InputArgs;
use crate::input::mined::mine_input;
use crate::records::{PARSE_COLUMNS, Parsed};

/// Mines `files` and `input`, then writes each line's template. Every
/// line's place and template id is kept until the end, a template's final
/// text being only known then: in memory up to [`IN_MEMORY`] lines, past
/// that in an unnamed temporary file, so memory stays flat however long
/// the input.
pub fn run(files: &[PathBuf], input: &InputArgs, common: &CommonArgs) -> Result<Exit, Error> {
    let spec = common.output_spec(&PARSE_COLUMNS)?;
    let mut rows = Rows::default();
    let mut spill_error = None;
    let mined = mine_input(input, files, |_, seen| {
        if spill_error.is_none()
            && let Err(err) = rows.push(seen.at.file, seen.at.line, seen.id)
        {
            spill_error = Some(err);
        }
    })?;
    if let Some(err) = spill_error {
        return Err(Error::failed(format!(
            "parse: writing the temporary file of line places: {err}"
        )));
    }
    let rows = rows.finish()?;
    // Each template's text once, not once per line.
    let texts: Vec<String> = mined.miner.templates().iter().map(|t| t.text()).collect();
    let mut out = Output::open(&spec)?;
    let mut parsed = Parsed::new();
    if spec.format == Format::Jsonl {
        // The hot path: each line written straight (see Parsed::jsonl).
        let quote = |s: &str| serde_json::Value::from(s).to_string();
        let texts: Vec<String> = texts.iter().map(|t| quote(t)).collect();
        let names: Vec<String> = mined.files.iter().map(|f| quote(f)).collect();
        let mut buf = Vec::with_capacity(1 << 16);
        out.write_text(|w| {
            for row in rows {
                let (file, line, id) = row?;
                parsed.jsonl(&mut buf, &names[file], line, id, &texts[id]);
                if buf.len() >= 1 << 16 {
                    w.write_all(&buf)?;
                    buf.clear();
                }
            }
            w.write_all(&buf)
        })?;
    } else {
        for row in rows {
            let (file, line, id) = row.map_err(|err| {
                Error::failed(format!(
                    "parse: reading the temporary file of line places: {err}"
                ))
            })?;
            out.write(parsed.of(file, &mined.files[file], line, id, &texts[id]))?;
        }
    }
    out.finish()?;
    Ok(Exit::of_run(
        mined.stats.unreadable > 0,
        None,
        common.fail_on,
    ))
}

/// Lines kept in memory before [`Rows`] spills to a temporary file.
const IN_MEMORY: usize = 1 << 16;

/// Each line's file, line number and template id, in input order.
#[derive(Default)]
struct Rows {
    memory: Vec<(usize, u64, usize)>,
    spilled: Option<BufWriter<File>>,
}

/// One row in the temporary file: file, line and id, little-endian.
const ROW_BYTES: usize = 20;

impl Rows {
    fn push(&mut self, file: usize, line: u64, id: usize) -> io::Result<()> {
        self.memory.push((file, line, id));
        if self.memory.len() >= IN_MEMORY {
            let out = match &mut self.spilled {
                Some(out) => out,
                None => self.spilled.insert(BufWriter::new(tempfile::tempfile()?)),
            };
            for (file, line, id) in self.memory.drain(..) {
                out.write_all(&(file as u32).to_le_bytes())?;
                out.write_all(&line.to_le_bytes())?;
                out.write_all(&(id as u64).to_le_bytes())?;
            }
        }
        Ok(())
    }

    /// Every row in order: the spilled ones read back, then the rest.
    fn finish(self) -> Result<impl Iterator<Item = io::Result<(usize, u64, usize)>>, Error> {
        let spilled = match self.spilled {
            Some(out) => {
                let mut file = out
                    .into_inner()
                    .map_err(|e| Error::failed(e.error().to_string()))?;
                file.seek(SeekFrom::Start(0))
                    .map_err(|e| Error::failed(e.to_string()))?;
                Some(BufReader::new(file))
            }
            None => None,
        };
        let read = spilled.into_iter().flat_map(|mut reader| {
            std::iter::from_fn(move || {
                let mut row = [0u8; ROW_BYTES];
                match reader.read_exact(&mut row) {
                    Ok(()) => {
                        let file = u32::from_le_bytes(row[..4].try_into().unwrap()) as usize;
                        let line = u64::from_le_bytes(row[4..12].try_into().unwrap());
                        let id = u64::from_le_bytes(row[12..].try_into().unwrap()) as usize;
                        Some(Ok((file, line, id)))
                    }
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => None,
                    Err(e) => Some(Err(e)),
                }
            })
        });
        Ok(read.chain(self.memory.into_iter().map(Ok)))
    }
}
