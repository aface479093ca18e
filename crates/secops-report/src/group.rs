//! `--group-by`: records that share a host, tool, kind or severity, put
//! together. Severity groups come worst first, the order an operator works
//! through them; the others come in name order, so one host is easy to find
//! in a long fleet report. Within a group records keep their input order.

use std::collections::BTreeMap;

use clap::ValueEnum;
use secops_common::{Record, Severity};

/// The field records are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupBy {
    Host,
    Tool,
    Kind,
    Severity,
}

impl GroupBy {
    /// The record field this groups by.
    pub fn field(self) -> &'static str {
        match self {
            GroupBy::Host => "host",
            GroupBy::Tool => "tool",
            GroupBy::Kind => "kind",
            GroupBy::Severity => "severity",
        }
    }
}

/// Records sharing one value of the grouping field.
#[derive(Debug)]
pub struct Group {
    /// That value, e.g. `web1` or `high`.
    pub key: String,
    pub records: Vec<Record>,
}

/// Splits `records` into groups, in report order.
pub fn group(records: Vec<Record>, by: GroupBy) -> Vec<Group> {
    if by == GroupBy::Severity {
        let mut buckets: [Vec<Record>; Severity::ALL.len()] = Default::default();
        for rec in records {
            buckets[rec.severity as usize].push(rec);
        }
        return Severity::ALL
            .into_iter()
            .zip(buckets)
            .rev()
            .filter(|(_, records)| !records.is_empty())
            .map(|(severity, records)| Group {
                key: severity.to_string(),
                records,
            })
            .collect();
    }
    let mut groups: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    for rec in records {
        let key = match by {
            GroupBy::Host => &rec.host,
            GroupBy::Tool => &rec.tool,
            GroupBy::Kind => &rec.kind,
            GroupBy::Severity => unreachable!("grouped above"),
        };
        match groups.get_mut(key) {
            Some(records) => records.push(rec),
            None => {
                groups.insert(key.clone(), vec![rec]);
            }
        }
    }
    groups
        .into_iter()
        .map(|(key, records)| Group { key, records })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(host: &str, severity: Severity, message: &str) -> Record {
        let mut rec = Record::new("t", "k", severity, message);
        rec.host = host.to_string();
        rec
    }

    fn layout(groups: &[Group]) -> Vec<(String, Vec<String>)> {
        groups
            .iter()
            .map(|g| {
                let messages = g.records.iter().map(|r| r.message.clone()).collect();
                (g.key.clone(), messages)
            })
            .collect()
    }

    fn sample() -> Vec<Record> {
        vec![
            rec("web2", Severity::Low, "a"),
            rec("db1", Severity::Critical, "b"),
            rec("web2", Severity::Critical, "c"),
            rec("db1", Severity::Low, "d"),
        ]
    }

    #[test]
    fn names_sort_and_records_keep_input_order() {
        assert_eq!(
            layout(&group(sample(), GroupBy::Host)),
            [
                ("db1".into(), vec!["b".to_string(), "d".into()]),
                ("web2".into(), vec!["a".into(), "c".into()]),
            ]
        );
    }

    #[test]
    fn severities_come_worst_first_and_absent_ones_are_skipped() {
        assert_eq!(
            layout(&group(sample(), GroupBy::Severity)),
            [
                ("critical".into(), vec!["b".to_string(), "c".into()]),
                ("low".into(), vec!["a".into(), "d".into()]),
            ]
        );
    }
}
