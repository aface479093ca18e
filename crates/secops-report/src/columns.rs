//! Which fields a table or Markdown report shows.
//!
//! With `--columns`, exactly those, in that order. Otherwise secops-common's
//! defaults (severity, host, tool, kind, message) less what the text above
//! the table already says: `host` when every record comes from one host and
//! `tool` when every record comes from one tool (the summary names it), and
//! the `--group-by` field (each group's heading names it). A column repeating
//! one value down every row is noise that pushes the message off the screen.

use secops_common::Record;
use secops_common::output::DEFAULT_TABLE_COLUMNS;
use secops_common::record::COMMON_FIELDS;
use serde_json::Map;

use crate::group::GroupBy;
use crate::summary::Summary;

pub fn choose(
    explicit: Option<&[String]>,
    summary: &Summary,
    group_by: Option<GroupBy>,
) -> Vec<String> {
    if let Some(columns) = explicit {
        return columns.to_vec();
    }
    DEFAULT_TABLE_COLUMNS
        .into_iter()
        .filter(|&column| match column {
            "host" if summary.host_count() == 1 => false,
            "tool" if summary.tool_count() == 1 => false,
            _ => group_by.is_none_or(|by| by.field() != column),
        })
        .map(String::from)
        .collect()
}

/// Drops the kind fields a table will not show, and the map's spare room,
/// so a buffered report holds little more than its rows.
pub fn keep_only_shown(rec: &mut Record, explicit: Option<&[String]>) {
    match explicit {
        Some(columns) => {
            rec.fields = std::mem::take(&mut rec.fields)
                .into_iter()
                .filter(|(name, _)| columns.contains(name))
                .collect();
        }
        None => rec.fields = Map::new(),
    }
}

/// The asked-for columns no record has a value for: most likely typos, which
/// would otherwise just vanish from the table.
pub fn missing<'a>(explicit: &'a [String], records: &[Record]) -> Vec<&'a str> {
    explicit
        .iter()
        .map(String::as_str)
        .filter(|&name| {
            !COMMON_FIELDS.contains(&name)
                && !records
                    .iter()
                    .any(|rec| rec.fields.get(name).is_some_and(|v| !v.is_null()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use secops_common::Severity;
    use serde_json::Value;

    use super::*;

    fn rec(host: &str, tool: &str) -> Record {
        let mut rec = Record::new(tool, "port", Severity::High, "m")
            .with("port", 22)
            .with("pid", Value::Null);
        rec.host = host.to_string();
        rec
    }

    #[test]
    fn defaults_drop_what_the_summary_and_headings_name() {
        let many = Summary::of(&[rec("web1", "a"), rec("web2", "b")]);
        assert_eq!(
            choose(None, &many, None),
            ["severity", "host", "tool", "kind", "message"]
        );
        assert_eq!(
            choose(None, &many, Some(GroupBy::Host)),
            ["severity", "tool", "kind", "message"]
        );
        let one_host_one_tool = Summary::of(&[rec("web1", "a"), rec("web1", "a")]);
        assert_eq!(
            choose(None, &one_host_one_tool, Some(GroupBy::Severity)),
            ["kind", "message"]
        );
    }

    #[test]
    fn explicit_columns_are_taken_as_given() {
        let summary = Summary::of(&[rec("web1", "a")]);
        let asked = vec!["host".to_string(), "port".into()];
        assert_eq!(
            choose(Some(&asked), &summary, Some(GroupBy::Host)),
            ["host", "port"]
        );
    }

    #[test]
    fn only_shown_fields_are_kept_and_typos_are_found() {
        let asked = vec![
            "host".to_string(),
            "port".into(),
            "pid".into(),
            "prot".into(),
        ];
        let mut kept = rec("web1", "a").with("user", "root");
        keep_only_shown(&mut kept, Some(&asked));
        assert_eq!(kept.fields.keys().collect::<Vec<_>>(), ["port", "pid"]);
        assert_eq!(missing(&asked, &[kept]), ["pid", "prot"]);

        let mut plain = rec("web1", "a");
        keep_only_shown(&mut plain, None);
        assert!(plain.fields.is_empty());
    }
}
