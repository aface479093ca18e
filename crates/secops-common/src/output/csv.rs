//! CSV whose columns are not known up front: the common fields first, then
//! the union of every record's own fields in first-seen order.
//!
//! The header can only be written once every record has been seen, so rows
//! are encoded as they arrive and spooled (in memory, spilling to an unnamed
//! temporary file past [`SPILL_AT`]) with a length prefix. Columns are only
//! ever appended, so a row encoded when there were `k` columns is completed
//! at the end by padding it with empty cells; one "epoch" per new column
//! remembers where the column count changed. Each record is parsed and
//! encoded once, and memory stays bounded by the number of columns, not rows.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};

use serde_json::Value;

use crate::record::{COMMON_FIELDS, Record};

/// Spooled bytes kept in memory before spilling to a temporary file.
const SPILL_AT: usize = 32 << 20;

pub(crate) struct CsvSpool {
    columns: Vec<String>,
    index: HashMap<String, usize>,
    /// `(first row, column count)` each time the column count grew.
    epochs: Vec<(u64, usize)>,
    rows: u64,
    spool: Spool,
    row: Vec<u8>,
    neutralize: bool,
    /// Column of each field of the record being pushed, and of the last one.
    slots: Vec<usize>,
    last_slots: Vec<usize>,
}

enum Spool {
    Memory(Vec<u8>),
    File(BufWriter<File>),
}

impl CsvSpool {
    pub(crate) fn new(neutralize: bool) -> CsvSpool {
        let columns: Vec<String> = COMMON_FIELDS.iter().map(|c| c.to_string()).collect();
        let index = columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), i))
            .collect();
        CsvSpool {
            epochs: vec![(0, columns.len())],
            columns,
            index,
            rows: 0,
            spool: Spool::Memory(Vec::new()),
            row: Vec::new(),
            neutralize,
            slots: Vec::new(),
            last_slots: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, rec: &Record) -> io::Result<()> {
        // Most inputs repeat one kind's fields in one order, so the previous
        // record's column for each position is checked first, with one
        // string comparison instead of hashing every name.
        self.slots.clear();
        for (pos, name) in rec.fields.keys().enumerate() {
            let guess = self
                .last_slots
                .get(pos)
                .copied()
                .filter(|&c| self.columns[c] == *name);
            let column = match guess.or_else(|| self.index.get(name).copied()) {
                Some(column) => column,
                None => {
                    self.index.insert(name.clone(), self.columns.len());
                    self.columns.push(name.clone());
                    self.epochs.push((self.rows, self.columns.len()));
                    self.columns.len() - 1
                }
            };
            self.slots.push(column);
        }
        std::mem::swap(&mut self.slots, &mut self.last_slots);
        let mut cells: Vec<Option<&Value>> = vec![None; self.columns.len() - COMMON_FIELDS.len()];
        for (&column, value) in self.last_slots.iter().zip(rec.fields.values()) {
            cells[column - COMMON_FIELDS.len()] = Some(value);
        }
        self.row.clear();
        let common = [
            rec.ts.as_str(),
            &rec.host,
            &rec.tool,
            &rec.kind,
            rec.severity.as_str(),
            &rec.message,
        ];
        for (i, text) in common.into_iter().enumerate() {
            if i > 0 {
                self.row.push(b',');
            }
            write_text_cell(&mut self.row, text, self.neutralize);
        }
        for cell in cells {
            self.row.push(b',');
            if let Some(value) = cell {
                write_value_cell(&mut self.row, value, self.neutralize);
            }
        }
        self.rows += 1;
        let len = u32::try_from(self.row.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a CSV row over 4 GiB"))?;
        self.spool_bytes(&len.to_le_bytes())?;
        let row = std::mem::take(&mut self.row);
        let written = self.spool_bytes(&row);
        self.row = row;
        written
    }

    fn spool_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Spool::Memory(buf) = &mut self.spool {
            if buf.len() + bytes.len() <= SPILL_AT {
                buf.extend_from_slice(bytes);
                return Ok(());
            }
            let mut file = BufWriter::with_capacity(1 << 20, tempfile::tempfile()?);
            file.write_all(buf)?;
            self.spool = Spool::File(file);
        }
        match &mut self.spool {
            Spool::File(file) => file.write_all(bytes),
            Spool::Memory(_) => unreachable!("spilled above"),
        }
    }

    /// Writes the header and every row, padded to the final column count.
    pub(crate) fn finish(self, out: &mut dyn Write) -> io::Result<()> {
        let mut header = Vec::new();
        for (i, name) in self.columns.iter().enumerate() {
            if i > 0 {
                header.push(b',');
            }
            write_text_cell(&mut header, name, self.neutralize);
        }
        header.push(b'\n');
        out.write_all(&header)?;

        let total = self.columns.len();
        let mut reader: Box<dyn Read> = match self.spool {
            Spool::Memory(buf) => Box::new(io::Cursor::new(buf)),
            Spool::File(file) => {
                let mut file = file.into_inner().map_err(io::IntoInnerError::into_error)?;
                file.rewind()?;
                Box::new(BufReader::with_capacity(1 << 20, file))
            }
        };
        let padding = vec![b','; total];
        let mut epoch = 0;
        let mut row = Vec::new();
        for n in 0..self.rows {
            while epoch + 1 < self.epochs.len() && self.epochs[epoch + 1].0 <= n {
                epoch += 1;
            }
            let mut len = [0u8; 4];
            reader.read_exact(&mut len)?;
            row.resize(u32::from_le_bytes(len) as usize, 0);
            reader.read_exact(&mut row)?;
            out.write_all(&row)?;
            out.write_all(&padding[..total - self.epochs[epoch].1])?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}

fn write_value_cell(out: &mut Vec<u8>, value: &Value, neutralize: bool) {
    match value {
        Value::Null => {}
        Value::String(s) => write_text_cell(out, s, neutralize),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        // Lists and objects keep their JSON form, so nothing is lost.
        other => write_text_cell(out, &other.to_string(), neutralize),
    }
}

/// One RFC 4180 cell. With `neutralize`, text a spreadsheet would run as a
/// formula (leading `=`, `+`, `-`, `@`, tab or CR, per OWASP's CSV injection
/// advice) gets a leading `'`: process names and log lines are attacker-chosen.
fn write_text_cell(out: &mut Vec<u8>, text: &str, neutralize: bool) {
    let guard = neutralize && text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = text
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
    if quote {
        out.push(b'"');
    }
    if guard {
        out.push(b'\'');
    }
    if quote {
        for part in text.split_inclusive('"') {
            out.extend_from_slice(part.as_bytes());
            if part.ends_with('"') {
                out.push(b'"');
            }
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::severity::Severity;

    fn rec(fields: &[(&str, Value)]) -> Record {
        let mut rec = Record::new("t", "k", Severity::Low, "m");
        rec.ts = "T".into();
        rec.host = "h".into();
        for (name, value) in fields {
            rec.set(name, value.clone());
        }
        rec
    }

    fn render(records: &[Record], neutralize: bool) -> String {
        let mut spool = CsvSpool::new(neutralize);
        for r in records {
            spool.push(r).unwrap();
        }
        let mut out = Vec::new();
        spool.finish(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn columns_are_the_union_in_first_seen_order() {
        let out = render(
            &[
                rec(&[("port", 22.into())]),
                rec(&[("pid", Value::Null), ("user", "root".into())]),
                rec(&[("user", "bob".into()), ("port", 80.into())]),
            ],
            true,
        );
        assert_eq!(
            out,
            "ts,host,tool,kind,severity,message,alert,port,pid,user\n\
             T,h,t,k,low,m,none,22,,\n\
             T,h,t,k,low,m,none,,,root\n\
             T,h,t,k,low,m,none,80,,bob\n"
        );
    }

    #[test]
    fn quotes_and_neutralizes() {
        let out = render(
            &[rec(&[
                ("a", "=cmd|'/c calc'!A0".into()),
                ("b", "say \"hi\", then\nleave".into()),
                ("c", (-5).into()),
                ("d", "-5".into()),
                ("e", serde_json::json!(["x", 1])),
            ])],
            true,
        );
        let row = out.split_once('\n').unwrap().1;
        assert_eq!(
            row,
            "T,h,t,k,low,m,none,'=cmd|'/c calc'!A0,\"say \"\"hi\"\", then\nleave\",-5,'-5,\"[\"\"x\"\",1]\"\n"
        );
        let raw = render(&[rec(&[("a", "=1+1".into())])], false);
        assert!(raw.ends_with(",=1+1\n"), "{raw}");
    }

    #[test]
    fn spills_to_disk_and_reads_back_in_order() {
        let mut spool = CsvSpool::new(true);
        let big = "x".repeat(1 << 20);
        for i in 0..40 {
            let mut r = rec(&[("n", i.into()), ("blob", big.as_str().into())]);
            if i == 39 {
                r.set("late", "yes");
            }
            spool.push(&r).unwrap();
        }
        assert!(
            matches!(spool.spool, Spool::File(_)),
            "40 MiB should have spilled"
        );
        let mut out = Vec::new();
        spool.finish(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 41);
        assert!(lines[0].ends_with(",n,blob,late"));
        for (i, line) in lines[1..].iter().enumerate() {
            assert!(
                line.starts_with(&format!("T,h,t,k,low,m,none,{i},x")),
                "row {i}"
            );
            let expect_end = if i == 39 { ",yes" } else { "x," };
            assert!(line.ends_with(expect_end), "row {i} padding");
        }
    }
}
