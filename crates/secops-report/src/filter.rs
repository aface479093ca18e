//! Which records make it into the report. As with `journalctl` matches,
//! different flags narrow together (all must match) while repeated values of
//! one flag are alternatives (any may match). Records a filter removes count
//! for nothing: not in the summary and not for `--fail-on`.

use clap::{Args, ValueEnum};
use secops_common::{Alerting, Record, Severity, Stage};

/// The `--min-severity`, `--tool`, `--kind`, `--host` and `--alert` filters.
#[derive(Debug, Clone, Default, Args)]
pub struct Filter {
    /// Report only records at or above SEVERITY
    #[arg(long, value_name = "SEVERITY", help_heading = "Filters")]
    pub min_severity: Option<Severity>,

    /// Report only records made by TOOL (repeat or comma-separate for several)
    #[arg(
        long = "tool",
        value_name = "TOOL",
        value_delimiter = ',',
        help_heading = "Filters"
    )]
    pub tools: Vec<String>,

    /// Report only records of KIND or a dotted sub-kind of it: `port` matches
    /// `port` and `port.opened`, not `portscan`
    #[arg(
        long = "kind",
        value_name = "KIND",
        value_delimiter = ',',
        help_heading = "Filters"
    )]
    pub kinds: Vec<String>,

    /// Report only records from HOST (case-insensitive, as host names are)
    #[arg(
        long = "host",
        value_name = "HOST",
        value_delimiter = ',',
        help_heading = "Filters"
    )]
    pub hosts: Vec<String>,

    /// Report only records whose `alert` is STATE: firing, resolved or none
    /// (observations); records of programs without the field match none
    #[arg(
        long = "alert",
        value_name = "STATE",
        value_enum,
        value_delimiter = ',',
        help_heading = "Filters"
    )]
    pub alerts: Vec<AlertState>,
}

/// The `alert` field's values, as `--alert` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlertState {
    Firing,
    Resolved,
    None,
}

impl AlertState {
    fn of(rec: &Record) -> Option<AlertState> {
        match rec.alerting() {
            Alerting::Unknown => None,
            Alerting::Observation => Some(AlertState::None),
            Alerting::Alert(Stage::Firing, _) => Some(AlertState::Firing),
            Alerting::Alert(Stage::Resolved, _) => Some(AlertState::Resolved),
        }
    }
}

impl Filter {
    pub fn matches(&self, rec: &Record) -> bool {
        self.min_severity.is_none_or(|min| rec.severity >= min) && self.matches_but_severity(rec)
    }

    /// Every filter but `--min-severity` (a run's summary is shown by
    /// `--brief` whatever its severity).
    pub fn matches_but_severity(&self, rec: &Record) -> bool {
        any_or_none(&self.tools, |tool| *tool == rec.tool)
            && any_or_none(&self.kinds, |kind| kind_within(&rec.kind, kind))
            && any_or_none(&self.hosts, |host| host.eq_ignore_ascii_case(&rec.host))
            && (self.alerts.is_empty()
                || AlertState::of(rec).is_some_and(|s| self.alerts.contains(&s)))
    }
}

/// An empty list means the flag was not given, so everything passes.
fn any_or_none(wanted: &[String], matches: impl Fn(&String) -> bool) -> bool {
    wanted.is_empty() || wanted.iter().any(matches)
}

/// Kinds are dotted paths (`port.opened`, `disk.usage`), so asking for a
/// kind means asking for everything under it too, but only at a dot.
fn kind_within(kind: &str, wanted: &str) -> bool {
    kind.strip_prefix(wanted)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(host: &str, tool: &str, kind: &str, severity: Severity) -> Record {
        let mut rec = Record::new(tool, kind, severity, "m");
        rec.host = host.to_string();
        rec
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn no_flags_keep_everything() {
        assert!(Filter::default().matches(&rec("h", "t", "k", Severity::Info)));
    }

    #[test]
    fn kinds_match_at_dots_only() {
        assert!(kind_within("port", "port"));
        assert!(kind_within("port.opened", "port"));
        assert!(kind_within("port.opened.v6", "port.opened"));
        assert!(!kind_within("portscan", "port"));
        assert!(!kind_within("port", "port.opened"));
        assert!(!kind_within("disk.port", "port"));
    }

    #[test]
    fn different_flags_narrow_and_repeated_values_widen() {
        let filter = Filter {
            min_severity: Some(Severity::Medium),
            tools: strings(&["traffic-cop", "vulnscan"]),
            kinds: strings(&["port"]),
            hosts: strings(&["WEB1", "db1"]),
            alerts: vec![],
        };
        assert!(filter.matches(&rec("web1", "traffic-cop", "port", Severity::High)));
        assert!(filter.matches(&rec("db1", "vulnscan", "port.opened", Severity::Medium)));
        assert!(!filter.matches(&rec("web1", "traffic-cop", "port", Severity::Low)));
        assert!(!filter.matches(&rec("web2", "traffic-cop", "port", Severity::High)));
        assert!(!filter.matches(&rec("web1", "fim-check", "port", Severity::High)));
        assert!(!filter.matches(&rec("web1", "traffic-cop", "fim.changed", Severity::High)));

        let alerts = Filter {
            alerts: vec![AlertState::Firing],
            ..Filter::default()
        };
        let firing = rec("web1", "t", "k", Severity::Low).firing(&["x"]);
        assert!(alerts.matches(&firing));
        assert!(!alerts.matches(&rec("web1", "t", "k", Severity::High)));
        assert!(!alerts.matches(&firing.clone().resolved(&["x"])));
        let old = Record::from_json(
            r#"{"ts":"t","host":"h","tool":"x","kind":"k","severity":"high","message":"m"}"#,
        )
        .unwrap();
        assert!(!alerts.matches(&old));
    }
}
