//! The counts a table or Markdown report opens with (and each group heading
//! repeats for its group): how many records, from how many hosts, how bad
//! and from which tools, so the reader knows what the rows add up to before
//! reading them.

use std::collections::{BTreeMap, BTreeSet};

use secops_common::{Record, Severity};

/// Counts over a set of reported records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    records: u64,
    by_severity: [u64; Severity::ALL.len()],
    by_tool: BTreeMap<String, u64>,
    hosts: BTreeSet<String>,
}

impl Summary {
    pub fn of<'a>(records: impl IntoIterator<Item = &'a Record>) -> Summary {
        let mut summary = Summary::default();
        for rec in records {
            summary.add(rec);
        }
        summary
    }

    /// Counts one more record, for reports that count as records stream by.
    pub fn add(&mut self, rec: &Record) {
        self.records += 1;
        self.by_severity[rec.severity as usize] += 1;
        match self.by_tool.get_mut(&rec.tool) {
            Some(count) => *count += 1,
            None => {
                self.by_tool.insert(rec.tool.clone(), 1);
            }
        }
        if !self.hosts.contains(&rec.host) {
            self.hosts.insert(rec.host.clone());
        }
    }

    /// How many records of each severity, absent ones included, worst first.
    pub fn every_severity(&self) -> impl Iterator<Item = (Severity, u64)> {
        Severity::ALL.into_iter().zip(self.by_severity).rev()
    }

    /// The hosts, in name order.
    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        self.hosts.iter().map(String::as_str)
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    /// The severities present with their counts, worst first.
    pub fn severities(&self) -> Vec<(Severity, u64)> {
        self.every_severity()
            .filter(|&(_, count)| count > 0)
            .collect()
    }

    /// The tools with their counts, most records first, ties by name.
    pub fn tools(&self) -> Vec<(&str, u64)> {
        let mut tools: Vec<(&str, u64)> = self
            .by_tool
            .iter()
            .map(|(tool, &count)| (tool.as_str(), count))
            .collect();
        tools.sort_by_key(|&(_, count)| std::cmp::Reverse(count));
        tools
    }

    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }

    pub fn tool_count(&self) -> usize {
        self.by_tool.len()
    }

    /// The host, when every record comes from the same one.
    pub fn only_host(&self) -> Option<&str> {
        match self.hosts.len() {
            1 => self.hosts.first().map(String::as_str),
            _ => None,
        }
    }
}

/// `no records`, `1 record`, `42 records`.
pub fn records_phrase(count: u64) -> String {
    match count {
        0 => "no records".to_string(),
        1 => "1 record".to_string(),
        n => format!("{n} records"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(host: &str, tool: &str, severity: Severity) -> Record {
        let mut rec = Record::new(tool, "k", severity, "m");
        rec.host = host.to_string();
        rec
    }

    #[test]
    fn counts_severities_worst_first_and_tools_most_first() {
        let records = [
            rec("web1", "fim-check", Severity::Info),
            rec("web2", "traffic-cop", Severity::High),
            rec("web1", "traffic-cop", Severity::Info),
            rec("web1", "anomalizer", Severity::Critical),
            rec("web1", "traffic-cop", Severity::Info),
        ];
        let summary = Summary::of(&records);
        assert_eq!(summary.records(), 5);
        assert_eq!(
            summary.severities(),
            [
                (Severity::Critical, 1),
                (Severity::High, 1),
                (Severity::Info, 3)
            ]
        );
        assert_eq!(
            summary.tools(),
            [("traffic-cop", 3), ("anomalizer", 1), ("fim-check", 1)]
        );
        assert_eq!((summary.host_count(), summary.only_host()), (2, None));
    }

    #[test]
    fn one_host_is_named() {
        let summary = Summary::of(&[rec("db1", "t", Severity::Low)]);
        assert_eq!(summary.only_host(), Some("db1"));
        assert_eq!(records_phrase(0), "no records");
        assert_eq!(records_phrase(1), "1 record");
        assert_eq!(records_phrase(42), "42 records");
    }
}
