//! Remote stdout split into secops records (re-emitted with `host` set to
//! the inventory name, so one report sees the fleet) and everything else,
//! which stays in the host's `remote.result` record.

use std::io::BufRead;

use secops_common::Record;

use crate::capture::Bounded;

/// What one host printed on stdout.
#[derive(Debug)]
pub struct Stdout {
    pub records: Vec<Record>,
    pub other: Bounded,
}

/// Reads `input` to its end, line by line; only lines that are not
/// records count against `max_output`.
pub fn split(input: impl BufRead, host: &str, max_output: usize) -> Stdout {
    let mut stdout = Stdout {
        records: Vec::new(),
        other: Bounded::new(max_output),
    };
    let mut input = input;
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let record = std::str::from_utf8(&line)
            .ok()
            .map(|text| text.trim_end_matches(['\n', '\r']))
            .filter(|text| text.starts_with('{'))
            .and_then(|text| Record::from_json(text).ok());
        match record {
            Some(mut record) => {
                record.host = host.to_string();
                stdout.records.push(record);
            }
            None => stdout.other.push(&line),
        }
    }
    stdout
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_get_the_inventory_name_and_other_lines_stay() {
        let input = concat!(
            r#"{"ts":"2026-11-21T19:02:00Z","host":"localhost","tool":"t","kind":"k","severity":"high","message":"m","port":22}"#,
            "\nplain line\n",
            r#"{"not":"a record"}"#,
            "\n"
        );
        let out = split(input.as_bytes(), "web01", 1024);
        assert_eq!(out.records.len(), 1);
        assert_eq!(out.records[0].host, "web01");
        assert_eq!(out.records[0].fields["port"], 22);
        assert_eq!(out.other.text(), "plain line\n{\"not\":\"a record\"}\n");
    }
}
