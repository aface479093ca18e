//! Aligned text tables for terminals and Markdown tables for tickets and
//! wikis: one layout, two renderings.

use std::io::{self, Write};

use serde_json::Value;

use crate::record::Record;

/// Cells longer than this are cut with `…` (except in the last column), so
/// one long command line does not push every other column off the screen.
const MAX_CELL: usize = 60;

/// Rows of record fields under chosen column names.
pub struct Table {
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table showing these fields (common or kind fields) in this order.
    pub fn new<S: AsRef<str>>(columns: &[S]) -> Table {
        Table {
            columns: columns.iter().map(|c| c.as_ref().to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, rec: &Record) {
        self.rows.push(
            self.columns
                .iter()
                .map(|c| cell_text(rec.get(c).as_ref()))
                .collect(),
        );
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn clear(&mut self) {
        self.rows.clear();
    }

    /// Columns that have a value in at least one row; empty ones are
    /// dropped so a tool can ask for fields only some records carry.
    fn shown(&self) -> Vec<usize> {
        (0..self.columns.len())
            .filter(|&c| self.rows.iter().any(|row| row[c] != "-"))
            .collect()
    }

    /// Space-aligned columns under an upper-case header.
    pub fn render_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let shown = self.shown();
        let Some(&last) = shown.last() else {
            return Ok(());
        };
        let header: Vec<String> = self.columns.iter().map(|c| c.to_uppercase()).collect();
        let clip = |c: usize, text: &str| {
            if c == last {
                text.to_string()
            } else {
                clip(text, MAX_CELL)
            }
        };
        let width = |c: usize| {
            self.rows
                .iter()
                .map(|row| clip(c, &row[c]).chars().count())
                .chain([header[c].chars().count()])
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|c| if shown.contains(&c) { width(c) } else { 0 })
            .collect();
        let mut line = String::new();
        for row in std::iter::once(&header).chain(&self.rows) {
            line.clear();
            for &c in &shown {
                let text = clip(c, &row[c]);
                if c == last {
                    line.push_str(&text);
                } else {
                    line.push_str(&format!("{text:<w$}  ", w = widths[c]));
                }
            }
            line.truncate(line.trim_end().len());
            line.push('\n');
            out.write_all(line.as_bytes())?;
        }
        Ok(())
    }

    /// A GitHub-flavoured Markdown table.
    pub fn render_markdown(&self, out: &mut dyn Write) -> io::Result<()> {
        let shown = self.shown();
        if shown.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        let line = |text: &mut String, cells: &mut dyn Iterator<Item = String>| {
            text.push('|');
            for cell in cells {
                text.push(' ');
                text.push_str(&cell);
                text.push_str(" |");
            }
            text.push('\n');
        };
        line(
            &mut text,
            &mut shown.iter().map(|&c| markdown_escape(&self.columns[c])),
        );
        line(&mut text, &mut shown.iter().map(|_| "---".to_string()));
        for row in &self.rows {
            line(
                &mut text,
                &mut shown.iter().map(|&c| markdown_escape(&row[c])),
            );
        }
        out.write_all(text.as_bytes())
    }
}

/// A field as one line of text: `-` for missing or null, lists joined with
/// commas, and control characters escaped, since process names and log
/// text are attacker-chosen and must not drive the operator's terminal.
pub fn cell_text(value: Option<&Value>) -> String {
    let raw = match value {
        None | Some(Value::Null) => return "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    };
    if raw.chars().any(char::is_control) {
        raw.chars().flat_map(char::escape_debug).collect()
    } else {
        raw
    }
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// Escapes what would break the table (`|`) or be rendered as markup by a
/// ticket system (raw HTML): cell text is attacker-chosen.
fn markdown_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::severity::Severity;

    fn rec(port: Value, process: &str) -> Record {
        Record::new("traffic-cop", "port", Severity::High, "m")
            .with("port", port)
            .with("process", process)
            .with("pid", Value::Null)
    }

    #[test]
    fn aligns_columns_and_drops_empty_ones() {
        let mut table = Table::new(&["severity", "port", "pid", "process"]);
        table.push(&rec(22.into(), "sshd"));
        table.push(&rec(8080.into(), "python3"));
        let mut out = Vec::new();
        table.render_text(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "SEVERITY  PORT  PROCESS\nhigh      22    sshd\nhigh      8080  python3\n"
        );
    }

    #[test]
    fn escapes_terminal_control_sequences() {
        let mut table = Table::new(&["process"]);
        table.push(&rec(1.into(), "evil\x1b[2J\x07"));
        let mut out = Vec::new();
        table.render_text(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains('\x1b'), "{text:?}");
        assert!(text.contains("evil\\u{1b}[2J\\u{7}"), "{text:?}");
    }

    #[test]
    fn markdown_escapes_pipes() {
        let mut table = Table::new(&["process", "port"]);
        table.push(&rec(22.into(), "a|b<script>"));
        let mut out = Vec::new();
        table.render_markdown(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "| process | port |\n| --- | --- |\n| a\\|b&lt;script&gt; | 22 |\n"
        );
    }

    #[test]
    fn long_cells_are_clipped_except_the_last() {
        let long = "x".repeat(100);
        let mut table = Table::new(&["process", "message"]);
        let mut r = rec(1.into(), &long);
        r.message = long.clone();
        table.push(&r);
        let mut out = Vec::new();
        table.render_text(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let row = text.lines().nth(1).unwrap();
        assert!(
            row.starts_with(&format!("{}…  ", "x".repeat(MAX_CELL - 1))),
            "{row}"
        );
        assert!(row.ends_with(&long));
    }
}
