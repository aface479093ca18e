//! `--prom-file`: what a check found, for node_exporter's textfile
//! collector. Besides the findings and last-success time every tool writes,
//! two gauges of fim-check's own:
//!
//! - `fim_check_entries_checked`: the entries (files, directories, links)
//!   the run found and compared with the baseline (`init`: recorded in it;
//!   `watch`: its last check of every tree). A drop means a tree went
//!   missing or stopped being read.
//! - `fim_check_baseline_timestamp_seconds`: when the baseline the run
//!   checked against was made. A baseline made again without a change
//!   window is how changes are hidden (`changes(...[1d]) > 0`).
//!
//! `fim_check_findings` counts the alerts held once the run ended (see
//! [`crate::alerts::Alerts::findings`]): what `verify` wrote as firing,
//! but not what `update` accepted in the same run.

use secops_common::cli::PromArgs;
use secops_common::prom::{Exposition, Findings};
use secops_common::{Error, Exit, Record};

use crate::records::TOOL;

/// fim-check's own figures of a run.
#[derive(Debug, Default, Clone, Copy)]
pub struct Figures {
    pub checked: u64,
    /// The baseline's `created`, seconds since the epoch.
    pub baseline_created: Option<f64>,
}

impl Figures {
    pub fn new(checked: u64, created: &str) -> Figures {
        Figures {
            checked,
            baseline_created: epoch_seconds(created),
        }
    }

    /// The figures of a run that wrote a baseline, from its `fim.baseline`
    /// record.
    pub fn of_summary(checked: u64, summary: &Record) -> Figures {
        let created = summary
            .fields
            .get("created")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        Figures::new(checked, created)
    }

    pub fn exposition(&self) -> Exposition {
        let mut metrics = Exposition::default();
        metrics
            .gauge(
                "fim_check_entries_checked",
                "Entries (files, directories, links) the last run found and compared with the baseline.",
            )
            .sample(&[], self.checked as f64);
        if let Some(created) = self.baseline_created {
            metrics
                .gauge(
                    "fim_check_baseline_timestamp_seconds",
                    "When the baseline the last run checked against was made, in seconds since the epoch.",
                )
                .sample(&[], created);
        }
        metrics
    }
}

fn epoch_seconds(rfc3339: &str) -> Option<f64> {
    let time = humantime::parse_rfc3339_weak(rfc3339).ok()?;
    let since = time
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .ok()?;
    Some(since.as_secs() as f64)
}

/// Writes the textfile of a run that ended with `exit`: only a run that
/// completed (0 or 1) does; one that failed leaves the last file as it
/// was, so `fim_check_last_success_timestamp_seconds` ages.
pub fn after_run(
    prom: &PromArgs,
    exit: Exit,
    findings: &Findings,
    figures: Figures,
) -> Result<Exit, Error> {
    if matches!(exit, Exit::Clean | Exit::Found) {
        prom.write(TOOL, findings, figures.exposition())?;
    }
    Ok(exit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_time_is_read_from_its_header() {
        assert_eq!(epoch_seconds("2026-11-21T19:02:00Z"), Some(1_795_287_720.0));
        assert_eq!(epoch_seconds("yesterday"), None);
        let text = Figures::new(3, "2026-11-21T19:02:00Z")
            .exposition()
            .render();
        assert!(text.contains("fim_check_entries_checked 3\n"), "{text}");
        assert!(
            text.contains("fim_check_baseline_timestamp_seconds 1795287720\n"),
            "{text}"
        );
    }
}
