//! Aligned text tables for terminals and Markdown tables for tickets and
//! wikis: one layout, two renderings.

use std::borrow::Cow;
use std::io::{self, Write};

use serde_json::Value;

use crate::record::Record;
use crate::text::visible;

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
        let header: Vec<String> = self
            .columns
            .iter()
            .map(|c| visible(&c.to_uppercase()).into_owned())
            .collect();
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

    /// A GitHub-flavoured Markdown table. Every cell is a code span (see
    /// [`markdown_cell`]), so record text stays literal text in any
    /// renderer; the header names the fields with their punctuation escaped.
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
                &mut shown.iter().map(|&c| markdown_cell(&row[c])),
            );
        }
        out.write_all(text.as_bytes())
    }
}

/// A field as one line of text: `-` for missing or null, lists joined with
/// commas, the one newline that ends a command's output left off, and
/// control, bidi, separator and zero-width characters escaped
/// (see [`visible`]), since process names and log text are attacker-chosen
/// and must neither drive the operator's terminal nor display as another
/// name.
pub fn cell_text(value: Option<&Value>) -> String {
    let raw = match value {
        None | Some(Value::Null) => return "-".to_string(),
        Some(Value::String(s)) => s.strip_suffix('\n').unwrap_or(s).to_string(),
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
    match visible(&raw) {
        Cow::Borrowed(_) => raw,
        Cow::Owned(shown) => shown,
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

/// Text from a record as Markdown that every renderer shows literally: a
/// code span, inside which CommonMark, GitHub and GitLab make no links,
/// images, autolinks (bare URLs, `www.`, e-mail addresses, mentions, issue
/// references), HTML, emphasis or entities. The fence is one backtick longer
/// than any run of them in the text, padded with a space where the text
/// starts or ends with one (or with a space), which CommonMark strips again.
/// The text must be one line, as [`cell_text`] makes it. Empty text is
/// nothing. For running text (headings, the summary); in a table cell use
/// [`markdown_cell`].
pub fn markdown_literal(text: &str) -> String {
    code_span(text, false)
}

/// [`markdown_literal`] for a table cell: `|` is written `\|`, which
/// GitHub's and markdown-it's tables turn back into `|` inside a cell (even
/// in a code span, and whatever precedes it).
pub fn markdown_cell(text: &str) -> String {
    code_span(text, true)
}

fn code_span(text: &str, in_table: bool) -> String {
    if text.is_empty() {
        return String::new();
    }
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = text.starts_with('`')
        || text.ends_with('`')
        || (text.starts_with(' ')
            && text.ends_with(' ')
            && !text.trim_start_matches(' ').is_empty());
    let pad = if pad { " " } else { "" };
    let body = if in_table {
        Cow::Owned(text.replace('|', "\\|"))
    } else {
        Cow::Borrowed(text)
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

/// Operator-chosen text (column names) as plain Markdown: every ASCII
/// punctuation character backslash-escaped, which CommonMark defines as
/// that character, literally.
pub fn markdown_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in visible(text).chars() {
        if c.is_ascii_punctuation() {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
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
    fn a_commands_final_newline_is_left_off_and_no_other() {
        let cell = |s: &str| cell_text(Some(&Value::String(s.into())));
        assert_eq!(cell("secops 0.1.0\n"), "secops 0.1.0");
        assert_eq!(cell("two\nlines\n"), "two\\nlines");
        assert_eq!(cell("blank line\n\n"), "blank line\\n");
    }

    #[test]
    fn markdown_cells_are_code_spans() {
        let mut table = Table::new(&["process", "port", "unit_name"]);
        table.push(&rec(22.into(), "a|b<script>").with("unit_name", "x``y"));
        let mut out = Vec::new();
        table.render_markdown(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "| process | port | unit\\_name |\n| --- | --- | --- |\n| `a\\|b<script>` | `22` | ```x``y``` |\n"
        );
    }

    #[test]
    fn markdown_literal_keeps_backticks_and_spaces() {
        assert_eq!(markdown_literal("plain"), "`plain`");
        assert_eq!(markdown_literal("`x"), "`` `x ``");
        assert_eq!(markdown_literal("a ` b"), "``a ` b``");
        assert_eq!(markdown_literal(" x "), "`  x  `");
        assert_eq!(markdown_literal("  "), "`  `");
        assert_eq!(markdown_literal(""), "");
        assert_eq!(markdown_literal("a|b"), "`a|b`");
        assert_eq!(markdown_cell("a|b\\|c"), "`a\\|b\\\\|c`");
        assert_eq!(markdown_escape("a_b[c]"), "a\\_b\\[c\\]");
    }

    #[test]
    fn hostile_cells_are_literal_in_markdown() {
        // Links, tracking images, HTML and autolinks from a record: inside
        // a code span none of them is markup (checked against a real
        // renderer in secops-report's tests).
        let mut table = Table::new(&["process", "message"]);
        let mut r = rec(1.into(), "[x](javascript:alert(1))");
        r.message =
            "![](http://track.example/p.gif) www.evil.example a@b.example <img src=x>".into();
        table.push(&r);
        let mut out = Vec::new();
        table.render_markdown(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let row = text.lines().nth(2).unwrap();
        assert_eq!(
            row,
            "| `[x](javascript:alert(1))` | `![](http://track.example/p.gif) www.evil.example a@b.example <img src=x>` |"
        );
    }

    #[test]
    fn bidi_and_invisible_characters_are_shown_escaped() {
        // "\u{202e}" would show "sshd\u{202e}rotropxe_edon" as
        // "sshdnode_exporter" (reversed) on a terminal.
        let mut table = Table::new(&["process", "message"]);
        let mut r = rec(1.into(), "sshd\u{202e}retropxe_edon");
        r.message = "a\u{2028}b\u{2066}c\u{200b}d\u{85}e".into();
        table.push(&r);
        let mut out = Vec::new();
        table.render_text(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.chars()
                .all(|c| c == '\n' || c.is_ascii_graphic() || c == ' '),
            "{text:?}"
        );
        assert!(text.contains("sshd\\u{202e}retropxe_edon"), "{text:?}");
        assert!(
            text.contains("a\\u{2028}b\\u{2066}c\\u{200b}d\\u{85}e"),
            "{text:?}"
        );
        let mut out = Vec::new();
        table.render_markdown(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("`sshd\\u{202e}retropxe_edon`"), "{text:?}");
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
