//! disk-alert's command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use secops_common::cli::{CommonArgs, PromArgs, RepeatArgs, StateArgs, parse_duration};

const EXAMPLES: &str = "\
Examples:
  disk-alert                              the old cron script: / above 80% appends to /var/log/disk_alert.log
  disk-alert --threshold 90 --mount / --mount /var --log /var/log/disk.log
  disk-alert --all --format table         every real filesystem, as df lists them
  disk-alert --all --inodes --warn 80 --crit 90 --format jsonl | secops-report
  disk-alert --all -x squashfs --prom-file /var/lib/prometheus/node-exporter/disk-alert.prom
  disk-alert --config /etc/secops/disk-alert.yaml --interval 1m --format jsonl

Without --format or --output nothing is printed on stdout: disk-alert behaves
as disk_alert.sh did and only appends `<date>: Disk at N% used` lines to the
log. Levels: above --warn a mount is `warn` (severity medium, and the log line),
above --crit `crit` (high), with no space left `full` (critical). Exit status:
0 nothing at or above --fail-on, 1 something was, 2 bad usage or config, 3 a
mount could not be checked or the log could not be written.";

/// Alert when filesystems fill up: a drop-in replacement for the
/// disk_alert.sh cron script that checks one mount or every real
/// filesystem with df's exact Use%.
#[derive(Debug, Clone, Parser)]
#[command(name = "disk-alert", version, after_help = EXAMPLES)]
pub struct Args {
    /// Check the filesystem holding PATH (repeatable) [default: /]
    #[arg(
        short,
        long = "mount",
        value_name = "PATH",
        conflicts_with = "all",
        help_heading = "What to check"
    )]
    pub mounts: Vec<PathBuf>,

    /// Check every real filesystem: the set df lists without -a
    #[arg(short, long, help_heading = "What to check")]
    pub all: bool,

    /// Also check inode use, as df -i shows it
    #[arg(short, long, help_heading = "What to check")]
    pub inodes: bool,

    /// Skip filesystems of TYPE (repeatable or comma-separated), as df -x
    #[arg(
        short = 'x',
        long = "exclude-type",
        value_name = "TYPE",
        value_delimiter = ',',
        help_heading = "What to check"
    )]
    pub exclude_types: Vec<String>,

    /// Skip mount points matching PATTERN (exact path, or * and ? wildcards)
    #[arg(
        short = 'X',
        long = "exclude-mount",
        value_name = "PATTERN",
        help_heading = "What to check"
    )]
    pub exclude_mounts: Vec<String>,

    /// Skip network filesystems (NFS, CIFS, ...), as df -l
    #[arg(short, long, help_heading = "What to check")]
    pub local: bool,

    /// Give up on a mount that does not answer within DURATION (hung NFS)
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration,
          help_heading = "What to check")]
    pub mount_timeout: Duration,

    /// Alert when use is above PCT percent (the script's THRESHOLD) [default: 80]
    #[arg(short = 't', long = "warn", visible_alias = "threshold", value_name = "PCT",
          value_parser = clap::value_parser!(u8).range(0..=100), help_heading = "Levels")]
    pub warn: Option<u8>,

    /// Critical above PCT percent; never below --warn [default: 90]
    #[arg(short, long, value_name = "PCT", value_parser = clap::value_parser!(u8).range(0..=100),
          help_heading = "Levels")]
    pub crit: Option<u8>,

    /// Per-mount levels and exclusions (JSON, or YAML for .yaml/.yml)
    #[arg(long, value_name = "FILE", help_heading = "Levels")]
    pub config: Option<PathBuf>,

    /// Append alert lines to FILE [default without --format/--output:
    /// /var/log/disk_alert.log]
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "no_log",
        help_heading = "Alert log"
    )]
    pub log: Option<PathBuf>,

    /// Write no alert log lines
    #[arg(long, help_heading = "Alert log")]
    pub no_log: bool,

    #[command(flatten)]
    pub prom: PromArgs,

    /// Also write the node_filesystem_* families, for a node_exporter run
    /// without its filesystem collector (with it, they are duplicates that
    /// node_exporter drops)
    #[arg(long, requires = "prom_file", help_heading = "Prometheus")]
    pub prom_node: bool,

    /// Where alerting mounts are remembered between runs, for
    /// disk.recovered records
    #[command(flatten)]
    pub state: StateArgs,

    /// Remember nothing between runs (recoveries only within --interval)
    #[arg(long, conflicts_with = "state_dir", help_heading = "State")]
    pub no_state: bool,

    #[command(flatten)]
    pub repeat: RepeatArgs,

    #[command(flatten)]
    pub common: CommonArgs,
}

impl Args {
    /// Whether records were asked for. Without --format or --output,
    /// disk-alert is the drop-in: nothing on stdout, alerts go to the log.
    pub fn wants_records(&self) -> bool {
        self.common.format.is_some() || self.common.output.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn threshold_is_the_warn_level_and_percentages_are_bounded() {
        let args = Args::try_parse_from(["disk-alert", "--threshold", "90"]).unwrap();
        assert_eq!(args.warn, Some(90));
        assert!(!args.wants_records());
        assert!(Args::try_parse_from(["disk-alert", "--crit", "101"]).is_err());
        assert!(Args::try_parse_from(["disk-alert", "--all", "--mount", "/"]).is_err());
        let args =
            Args::try_parse_from(["disk-alert", "-x", "squashfs,tmpfs", "-x", "nfs"]).unwrap();
        assert_eq!(args.exclude_types, ["squashfs", "tmpfs", "nfs"]);
    }
}
