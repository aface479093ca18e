//! traffic-cop's command line.

use std::path::PathBuf;

use clap::Parser;
use secops_common::cli::{CommonArgs, PromArgs, RepeatArgs, StateArgs};

const EXAMPLES: &str = "\
Examples:
  traffic-cop                                      list listening ports (table on a terminal)
  traffic-cop --whitelist /etc/secops/ports.json --output report.json
  traffic-cop -w ports.json | secops-report --csv > ports.csv
  traffic-cop -w ports.json --interval 5s --format jsonl >> ports.jsonl   watch for changes
  traffic-cop --all --profile --format json
  traffic-cop -w ports.json --format jsonl | secops-notify ...   cron: alerts fire, then resolve
  traffic-cop -w ports.json --prom-file /var/lib/prometheus/node-exporter/traffic-cop.prom

Statuses: approved, unapproved (port listed, but another process, exe, user or
scope), unverified (process not visible to check, or only a name-only entry
matched on a port any user can bind: pin such entries with exe or user),
unknown (port not listed), unchecked (no whitelist). A listener that is not approved is a firing alert;
it resolves when the listener closes or is approved, within --interval and,
through the state directory, across runs (a table without --output or
--state-dir, an operator's look, leaves the state alone). Exit status: 0
nothing at or above --fail-on, 1 something was, 2 bad whitelist or usage, 3
the scan failed.";

/// Map open ports to PID, process, executable and user, and check them
/// against a whitelist of approved services.
#[derive(Debug, Clone, Parser)]
#[command(name = "traffic-cop", version, after_help = EXAMPLES)]
pub struct Args {
    /// Approved services (ports.json); without one every socket is "unchecked"
    #[arg(short, long, value_name = "FILE")]
    pub whitelist: Option<PathBuf>,

    /// Also list connected sockets (established TCP, connected UDP)
    #[arg(short, long)]
    pub all: bool,

    /// Add each process's CPU%, RSS, open fds, threads and start time
    #[arg(long)]
    pub profile: bool,

    #[command(flatten)]
    pub state: StateArgs,

    /// Remember nothing between runs: no port.closed or resolution for what
    /// ended since the last run (within --interval they are still reported)
    #[arg(long, conflicts_with = "state_dir", help_heading = "State")]
    pub no_state: bool,

    #[command(flatten)]
    pub repeat: RepeatArgs,

    #[command(flatten)]
    pub prom: PromArgs,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
    }
}
