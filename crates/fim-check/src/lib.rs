//! fim-check: file integrity monitoring. `init` records hashes and
//! metadata of the watched trees in an HMAC-sealed baseline, `verify`
//! compares the live trees with it (`fim.added`, `fim.removed`,
//! `fim.changed`, `fim.error`), `update` accepts what changed, `show`
//! lists the baseline and `watch` reports changes as they happen.

mod acl;
mod alerts;
pub mod attrs;
mod baseline;
mod binding;
pub mod cli;
mod commands;
mod diff;
mod entry;
mod hashing;
mod key;
mod metrics;
mod names;
pub mod policy;
mod progress;
mod records;
mod scan;
mod watch;

use std::process::ExitCode;

use secops_common::{Error, Exit};

pub use crate::baseline::read_bytes as read_baseline_bytes;
pub use crate::cli::Args;
pub use crate::records::TOOL;

/// What the run found, for `--aide-exit-codes`.
#[derive(Debug, Default)]
pub struct Status {
    aide_bits: u8,
    error: Option<Exit>,
}

impl Status {
    /// The exit code: `code` (the secops contract) unless AIDE's was asked
    /// for, where failures become AIDE's 17 (configuration) and 18 (I/O)
    /// so they never read as "files removed".
    pub fn exit_code(&self, aide: bool, code: ExitCode) -> ExitCode {
        match (aide, self.error) {
            (false, _) => code,
            (true, Some(Exit::BadInput)) => ExitCode::from(17),
            (true, Some(_)) => ExitCode::from(18),
            (true, None) => ExitCode::from(self.aide_bits),
        }
    }
}

/// Runs fim-check as the command line asks.
pub fn run(args: &Args, status: &mut Status) -> Result<Exit, Error> {
    let result = commands::dispatch(args, &mut status.aide_bits);
    if let Err(err) = &result {
        status.error = Some(err.exit);
    }
    result
}
