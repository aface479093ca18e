//! The subcommands as the binary runs them, one module each: read the
//! input, hand it to the miner and the detectors (or the evaluation), and
//! write what they found as records.

pub mod detect;
pub mod eval;
pub mod learn;
pub mod parse;

use secops_common::{Exit, Severity};

use crate::input::ingest::IngestStats;

/// Status 3 when some input could not be read, else by severity found.
fn conclude(stats: &IngestStats, worst: Option<Severity>, fail_on: Severity) -> Exit {
    if stats.unreadable > 0 {
        Exit::Failed
    } else {
        Exit::for_findings(worst, fail_on)
    }
}
