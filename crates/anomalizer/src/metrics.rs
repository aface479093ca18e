//! `--prom-file`: what a detection run read and found, for node_exporter's
//! textfile collector. Besides the findings and last-success time every
//! tool writes (`anomalizer_findings`, by record kind and severity, and
//! `anomalizer_last_success_timestamp_seconds`), two gauges of anomalizer's
//! own, without labels (sources are file names, not bounded):
//!
//! - `anomalizer_lines_read`: the log lines the run read (a log that went
//!   quiet, or a glob that stopped matching, shows as a drop);
//! - `anomalizer_templates`: the templates mined from them (a jump means
//!   the logs started saying new things).
//!
//! anomalizer has no follow mode: it judges its input whole, so the file
//! is written once, after the records.

use secops_common::cli::PromArgs;
use secops_common::prom::{Exposition, Findings};
use secops_common::{Error, Record};

use crate::records::TOOL;

/// Writes the textfile of a detection run that completed: `findings` are
/// its records (in a table too, which is written as text).
pub fn write(
    prom: &PromArgs,
    findings: &[Record],
    lines: u64,
    templates: usize,
) -> Result<(), Error> {
    let mut tally = Findings::default();
    findings.iter().for_each(|rec| tally.observe(rec));
    let mut metrics = Exposition::default();
    metrics
        .gauge("anomalizer_lines_read", "Log lines the last run read.")
        .sample(&[], lines as f64);
    metrics
        .gauge(
            "anomalizer_templates",
            "Line templates the last run mined from what it read.",
        )
        .sample(&[], templates as f64);
    prom.write(TOOL, &tally, metrics)
}
