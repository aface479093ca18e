//! `--open`: what is still firing at the end of the input. A central log
//! holds every run's records, so an alert that fired on 200 cron runs and
//! then resolved is 201 lines; the open view keeps the latest record of each
//! alert (host and `alert_id`, as docs/records.md defines it) whose latest
//! word is `firing`, in the order the alerts first fired. Observations and
//! records of programs without the contract carry no alert state, so they
//! are not in it.

use std::collections::HashMap;

use secops_common::{Alerting, Record, Stage};

/// The alerts seen so far and the latest record of each.
#[derive(Debug, Default)]
pub struct OpenAlerts {
    /// (host, alert_id) -> position in `latest`.
    index: HashMap<(String, String), usize>,
    /// The latest record of each alert; `None` once it resolved.
    latest: Vec<Option<Record>>,
}

impl OpenAlerts {
    pub fn add(&mut self, rec: Record) {
        let Alerting::Alert(stage, id) = rec.alerting() else {
            return;
        };
        let key = (rec.host.clone(), id.to_string());
        let slot = match self.index.get(&key) {
            Some(&slot) => slot,
            None if stage == Stage::Resolved => return,
            None => {
                self.index.insert(key, self.latest.len());
                self.latest.push(None);
                self.latest.len() - 1
            }
        };
        self.latest[slot] = (stage == Stage::Firing).then_some(rec);
    }

    /// The latest record of every alert still firing.
    pub fn into_records(self) -> impl Iterator<Item = Record> {
        self.latest.into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secops_common::Severity;

    fn rec(host: &str, what: &str, severity: Severity) -> Record {
        let mut rec = Record::new("t", "k", severity, format!("{host} {what} {severity}"));
        rec.host = host.into();
        rec
    }

    #[test]
    fn keeps_the_latest_word_of_each_alert_still_firing() {
        let mut open = OpenAlerts::default();
        open.add(rec("web1", "a", Severity::Medium).firing(&["a"]));
        open.add(rec("web1", "b", Severity::High).firing(&["b"]));
        open.add(rec("web2", "a", Severity::High).firing(&["a"]));
        open.add(rec("web1", "usage", Severity::Critical));
        open.add(rec("web1", "a", Severity::Critical).firing(&["a"]));
        open.add(rec("web1", "b", Severity::Info).resolved(&["b"]));
        // A resolution of an alert the input never saw fire.
        open.add(rec("web3", "c", Severity::Info).resolved(&["c"]));
        let left: Vec<String> = open.into_records().map(|r| r.message).collect();
        assert_eq!(left, ["web1 a critical", "web2 a high"]);
    }

    #[test]
    fn an_alert_that_fires_again_after_resolving_is_open() {
        let mut open = OpenAlerts::default();
        open.add(rec("h", "a", Severity::High).firing(&["a"]));
        open.add(rec("h", "a", Severity::Info).resolved(&["a"]));
        open.add(rec("h", "a", Severity::Low).firing(&["a"]));
        assert_eq!(open.into_records().count(), 1);
    }
}
