//! Writing records in the format the operator asked for, to stdout or
//! atomically to a file.
//!
//! jsonl and json stream record by record; csv spools (see [`csv`]) because
//! its header is the union of all fields; table and markdown buffer a block
//! and render it when the tool calls [`Output::flush`] (the end of a pass in
//! `--interval` mode) or [`Output::finish`].

mod csv;
mod table;

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::ValueEnum;

pub use self::table::{Table, cell_text, markdown_cell, markdown_escape, markdown_literal};
use crate::atomic::AtomicFile;
use crate::exit::Error;
use crate::prom::Findings;
use crate::record::Record;
use crate::severity::Severity;

/// The output formats every tool offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for a terminal (also `text`: the same lines, in a
    /// pipe or a cron mail too).
    #[value(alias = "text")]
    Table,
    /// One JSON record per line: the format tools read.
    Jsonl,
    /// One JSON array of records.
    Json,
    /// Common fields, then every other field seen, as columns.
    Csv,
    /// A Markdown table, for tickets and wikis.
    Markdown,
    /// A self-contained HTML page. Only secops-report makes it, so the value
    /// is hidden from the shared `--format` list; secops-report's help names it.
    #[value(hide = true)]
    Html,
}

impl Format {
    /// The format a file name implies: `.jsonl`/`.ndjson`, `.json`, `.csv`,
    /// `.md`, `.txt`.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "jsonl" | "ndjson" => Format::Jsonl,
            "json" => Format::Json,
            "csv" => Format::Csv,
            "md" | "markdown" => Format::Markdown,
            "txt" => Format::Table,
            "html" | "htm" => Format::Html,
            _ => return None,
        })
    }

    /// `--format` if given, else the `--output` extension, else table on a
    /// terminal and jsonl in a pipe.
    pub fn resolve(explicit: Option<Format>, output: Option<&Path>) -> Result<Format, Error> {
        if let Some(format) = explicit {
            return Ok(format);
        }
        match output {
            Some(path) => Format::from_path(path).ok_or_else(|| {
                Error::bad_input(format!(
                    "cannot tell the format of {} from its extension (use .jsonl, .json, .csv, .md or .txt, or pass --format)",
                    path.display()
                ))
            }),
            None if io::stdout().is_terminal() => Ok(Format::Table),
            None => Ok(Format::Jsonl),
        }
    }
}

/// Where and how to write.
#[derive(Debug, Clone)]
pub struct OutputSpec {
    pub format: Format,
    /// `None` for stdout.
    pub path: Option<PathBuf>,
    /// Neutralise spreadsheet formulas in CSV cells.
    pub csv_guard: bool,
    /// The fields a table or Markdown rendering shows, in order.
    pub table_columns: Vec<String>,
}

/// Columns for tables when a tool names none.
pub const DEFAULT_TABLE_COLUMNS: [&str; 5] = ["severity", "host", "tool", "kind", "message"];

enum Destination {
    Stdout(BufWriter<io::Stdout>),
    File(AtomicFile),
}

impl Destination {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Destination::Stdout(out) => out,
            Destination::File(file) => file,
        }
    }

    /// Writes `before`, the record as JSON, then `after`, straight into
    /// the destination's buffer: a huge record (secops-notify's list of
    /// 100,000 alerts sent) is never held whole a second time. Each
    /// destination gets its own copy of the serializer, so the many
    /// small writes are buffer copies, not calls through `dyn Write`.
    fn serialize(&mut self, before: &[u8], rec: &Record, after: &[u8]) -> io::Result<()> {
        fn to<W: Write>(out: &mut W, before: &[u8], rec: &Record, after: &[u8]) -> io::Result<()> {
            out.write_all(before)?;
            serde_json::to_writer(&mut *out, rec)?;
            out.write_all(after)
        }
        match self {
            Destination::Stdout(out) => to(out, before, rec, after),
            Destination::File(file) => to(file, before, rec, after),
        }
    }
}

enum Encoder {
    Jsonl,
    Json {
        records: u64,
    },
    Csv(csv::CsvSpool),
    Table(Table),
    Markdown(Table),
    /// A page the tool lays out whole through [`Output::write_text`]
    /// (secops-report's HTML); records written to it are only counted.
    Page,
}

/// Totals of what was written, for the exit status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub records: u64,
    pub worst: Option<Severity>,
}

/// A record writer. Nothing reaches a `--output` file until [`finish`]
/// renames it into place.
///
/// [`finish`]: Output::finish
pub struct Output {
    dest: Destination,
    encoder: Encoder,
    written: Written,
    findings: Findings,
}

impl Output {
    pub fn open(spec: &OutputSpec) -> Result<Output, Error> {
        let dest = match &spec.path {
            None => Destination::Stdout(BufWriter::with_capacity(1 << 16, io::stdout())),
            Some(path) => Destination::File(
                AtomicFile::create(path, crate::perms::REPORT)
                    .map_err(|err| Error::cannot_write(path, &err))?,
            ),
        };
        let encoder = match spec.format {
            Format::Jsonl => Encoder::Jsonl,
            Format::Json => Encoder::Json { records: 0 },
            Format::Csv => Encoder::Csv(csv::CsvSpool::new(spec.csv_guard)),
            Format::Table => Encoder::Table(Table::new(&spec.table_columns)),
            Format::Markdown => Encoder::Markdown(Table::new(&spec.table_columns)),
            Format::Html => Encoder::Page,
        };
        Ok(Output {
            dest,
            encoder,
            written: Written::default(),
            findings: Findings::default(),
        })
    }

    /// Writes (or buffers) one record.
    pub fn write(&mut self, rec: &Record) -> Result<(), Error> {
        self.written.records += 1;
        self.written.worst = self.written.worst.max(Some(rec.severity));
        self.findings.observe(rec);
        let result = match &mut self.encoder {
            Encoder::Jsonl => self.dest.serialize(b"", rec, b"\n"),
            Encoder::Json { records } => {
                let separator: &[u8] = if *records == 0 { b"[\n" } else { b",\n" };
                *records += 1;
                self.dest.serialize(separator, rec, b"")
            }
            Encoder::Csv(spool) => spool.push(rec),
            Encoder::Table(table) | Encoder::Markdown(table) => {
                table.push(rec);
                Ok(())
            }
            Encoder::Page => Ok(()),
        };
        result.map_err(|err| self.io_error(err))
    }

    /// Writes free-form text (a report's summary, headings and its own
    /// tables) after anything buffered, to the same destination and with
    /// the same atomic-file and broken-pipe handling as records.
    pub fn write_text(
        &mut self,
        render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), Error> {
        let result = self
            .render_tables()
            .and_then(|()| render(self.dest.writer()));
        result.map_err(|err| self.io_error(err))
    }

    /// Makes what was written so far visible: flushes stdout and renders a
    /// buffered table. Long-running modes call it after each pass, so a
    /// pipeline reader sees a pass as soon as it is complete.
    pub fn flush(&mut self) -> Result<(), Error> {
        let result = self
            .render_tables()
            .and_then(|()| self.dest.writer().flush());
        result.map_err(|err| self.io_error(err))
    }

    /// Renders what is buffered and commits the output file.
    pub fn finish(mut self) -> Result<Written, Error> {
        let result = (|| {
            self.render_tables()?;
            match std::mem::replace(&mut self.encoder, Encoder::Jsonl) {
                Encoder::Json { records: 0 } => self.dest.writer().write_all(b"[]\n")?,
                Encoder::Json { .. } => self.dest.writer().write_all(b"\n]\n")?,
                Encoder::Csv(spool) => spool.finish(self.dest.writer())?,
                _ => {}
            }
            self.dest.writer().flush()
        })();
        result.map_err(|err| self.io_error(err))?;
        if let Destination::File(file) = self.dest {
            let target = file.target().to_path_buf();
            file.commit().map_err(|err| {
                Error::failed(format!("cannot write {}: {err}", target.display()))
            })?;
        }
        Ok(self.written)
    }

    /// Totals so far.
    pub fn written(&self) -> Written {
        self.written
    }

    /// The firing alerts written since the last call, for `--prom-file`
    /// (a long-running tool takes them after each pass).
    pub fn take_findings(&mut self) -> Findings {
        std::mem::take(&mut self.findings)
    }

    fn render_tables(&mut self) -> io::Result<()> {
        match &mut self.encoder {
            Encoder::Table(table) if !table.is_empty() => {
                table.render_text(self.dest.writer())?;
                table.clear();
            }
            Encoder::Markdown(table) if !table.is_empty() => {
                table.render_markdown(self.dest.writer())?;
                table.clear();
            }
            _ => {}
        }
        Ok(())
    }

    fn io_error(&self, err: io::Error) -> Error {
        match &self.dest {
            // The reader went away (`| head`): like ripgrep and coreutils,
            // stop quietly with success rather than report an error nobody
            // asked for.
            Destination::Stdout(_) if err.kind() == io::ErrorKind::BrokenPipe => {
                std::process::exit(0)
            }
            Destination::Stdout(_) => Error::failed(format!("cannot write to stdout: {err}")),
            Destination::File(file) => {
                Error::failed(format!("cannot write {}: {err}", file.target().display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(format: Format, path: &Path) -> OutputSpec {
        OutputSpec {
            format,
            path: Some(path.to_path_buf()),
            csv_guard: true,
            table_columns: vec!["severity".into(), "port".into()],
        }
    }

    fn records() -> Vec<Record> {
        vec![
            Record::new("t", "port", Severity::Info, "a").with("port", 22),
            Record::new("t", "port", Severity::High, "b").with("port", 8080),
        ]
    }

    fn write_all(format: Format, path: &Path) -> Written {
        let mut out = Output::open(&spec(format, path)).unwrap();
        for r in records() {
            out.write(&r).unwrap();
        }
        out.finish().unwrap()
    }

    #[test]
    fn json_is_an_array_and_jsonl_is_lines() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("r.json");
        let written = write_all(Format::Json, &json);
        assert_eq!(
            written,
            Written {
                records: 2,
                worst: Some(Severity::High)
            }
        );
        let parsed: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1]["port"], 8080);

        let jsonl = dir.path().join("r.jsonl");
        write_all(Format::Jsonl, &jsonl);
        let text = std::fs::read_to_string(&jsonl).unwrap();
        let back: Vec<Record> = text
            .lines()
            .map(|l| Record::from_json(l).unwrap())
            .collect();
        assert_eq!(
            back.iter().map(|r| r.message.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
    }

    #[test]
    fn empty_json_output_is_an_empty_array() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        Output::open(&spec(Format::Json, &path))
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[]\n");
    }

    #[test]
    fn an_unfinished_output_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let mut out = Output::open(&spec(Format::Csv, &path)).unwrap();
        out.write(&records()[0]).unwrap();
        drop(out);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn format_follows_the_extension_unless_given() {
        let resolve = |f, p: &str| Format::resolve(f, Some(Path::new(p)));
        assert_eq!(resolve(None, "a/report.json"), Ok(Format::Json));
        assert_eq!(resolve(None, "ports.CSV"), Ok(Format::Csv));
        assert_eq!(resolve(None, "x.ndjson"), Ok(Format::Jsonl));
        assert_eq!(resolve(Some(Format::Csv), "x.json"), Ok(Format::Csv));
        assert_eq!(resolve(None, "report.html"), Ok(Format::Html));
        let err = resolve(None, "report.out").unwrap_err();
        assert!(
            err.message.contains("report.out") && err.message.contains("--format"),
            "{err}"
        );
    }
}
