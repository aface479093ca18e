//! CSV read back by an independent reader: Python's `csv` module, as a
//! spreadsheet import or an operator's script would read it.

use std::process::Command;

use crate::run::{run_with_stdin, stderr};

/// The rows of `text`, as Python's `csv.reader` splits them (quoted
/// newlines, doubled quotes and a UTF-8 byte order mark are its business).
pub fn parse_csv(text: impl AsRef<[u8]>) -> Vec<Vec<String>> {
    const SCRIPT: &str = "import csv, io, json, sys\n\
        rows = csv.reader(io.TextIOWrapper(sys.stdin.buffer, encoding='utf-8', newline=''))\n\
        json.dump(list(rows), sys.stdout)";
    crate::require("python3", "python3");
    let out = run_with_stdin(Command::new("python3").args(["-c", SCRIPT]), text.as_ref());
    assert!(
        out.status.success(),
        "python3 could not parse the CSV: {}",
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).expect("python3 wrote the rows as JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_cells_keep_their_commas_quotes_and_newlines() {
        let rows = parse_csv("a,b\r\n\"x,1\",\"say \"\"hi\"\"\nthere\"\r\n");
        assert_eq!(rows, [vec!["a", "b"], vec!["x,1", "say \"hi\"\nthere"]]);
    }
}
