//! healthmon's command line.

use std::path::PathBuf;

use clap::Parser;
use secops_common::cli::{CommonArgs, PromArgs, RepeatArgs, StateArgs};

use crate::thresholds::{Levels, Metric};

const EXAMPLES: &str = "\
Examples:
  healthmon                                         one sample, as a table on a terminal
  healthmon --interval 10s --cpu 90 --mem 80,90 --disk 85,95 --for 3
  healthmon --interval 10s --alerts-only --config /etc/secops/healthmon.yaml | secops-notify
  healthmon --interval 15s --prom-file /var/lib/prometheus/node-exporter/healthmon.prom
  healthmon --once --top 10 --format json           the ten busiest and largest processes

A threshold is CRIT or WARN,CRIT: a figure strictly above WARN is a warning
(severity medium), above CRIT critical (severity high). --for N reports a
level only after N consecutive samples at it; --clear M reports the recovery
after M consecutive samples below it (default: the --for value). Alerts are
remembered in the state directory (healthmon.last-run.json), so a later run,
from cron say, reports the recovery of what an earlier one raised; --for and
--clear count samples within one run. Exit status:
0 nothing at or above --fail-on, 1 something was, 2 bad usage or config, 3
/proc could not be read.";

/// Sample CPU, memory, swap, load, disk and processes; alert on thresholds
/// with monit-style hysteresis; write Prometheus textfile metrics.
#[derive(Debug, Clone, Parser)]
#[command(name = "healthmon", version, after_help = EXAMPLES)]
pub struct Args {
    /// Take one sample and exit (the default without --interval)
    #[arg(long, conflicts_with = "interval")]
    pub once: bool,

    /// Settings file (JSON, or YAML for .yaml/.yml): thresholds, for, clear, top, mounts
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Processes to list by CPU and by memory in each sample (0: none)
    /// [default: 5]
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,

    /// Only these mounts (repeatable) [default: every real filesystem, as df]
    #[arg(long, value_name = "PATH")]
    pub mount: Vec<PathBuf>,

    /// Write only health.alert and health.recovered records
    #[arg(long)]
    pub alerts_only: bool,

    /// Busy CPU of all cores, percent
    #[arg(long, value_name = "[WARN,]CRIT", value_parser = |s: &str| Levels::parse(Metric::Cpu, s), help_heading = "Thresholds")]
    pub cpu: Option<Levels>,

    /// Memory used (total - available), percent
    #[arg(long, value_name = "[WARN,]CRIT", value_parser = |s: &str| Levels::parse(Metric::Mem, s), help_heading = "Thresholds")]
    pub mem: Option<Levels>,

    /// Swap used, percent
    #[arg(long, value_name = "[WARN,]CRIT", value_parser = |s: &str| Levels::parse(Metric::Swap, s), help_heading = "Thresholds")]
    pub swap: Option<Levels>,

    /// 1-minute load average
    #[arg(long, value_name = "[WARN,]CRIT", value_parser = |s: &str| Levels::parse(Metric::Load, s), help_heading = "Thresholds")]
    pub load: Option<Levels>,

    /// 1-minute load average per core
    #[arg(long, value_name = "[WARN,]CRIT", value_parser = |s: &str| Levels::parse(Metric::LoadPerCore, s), help_heading = "Thresholds")]
    pub load_per_core: Option<Levels>,

    /// Space used on each mount, percent (df's Use%)
    #[arg(long, value_name = "[WARN,]CRIT", value_parser = |s: &str| Levels::parse(Metric::Disk, s), help_heading = "Thresholds")]
    pub disk: Option<Levels>,

    /// Inodes used on each mount, percent (df -i's IUse%)
    #[arg(long, value_name = "[WARN,]CRIT", value_parser = |s: &str| Levels::parse(Metric::Inodes, s), help_heading = "Thresholds")]
    pub inodes: Option<Levels>,

    /// Number of processes
    #[arg(long, value_name = "[WARN,]CRIT", value_parser = |s: &str| Levels::parse(Metric::Procs, s), help_heading = "Thresholds")]
    pub procs: Option<Levels>,

    /// CPU of any one process, percent of one core (above 100 on several)
    #[arg(long, value_name = "[WARN,]CRIT", value_parser = |s: &str| Levels::parse(Metric::ProcCpu, s), help_heading = "Thresholds")]
    pub proc_cpu: Option<Levels>,

    /// Report a level only after N consecutive samples at it [default: 1]
    #[arg(long = "for", value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Thresholds")]
    pub for_samples: Option<u32>,

    /// Report a recovery only after N consecutive samples below the level
    /// [default: the --for value]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Thresholds")]
    pub clear: Option<u32>,

    #[command(flatten)]
    pub prom: PromArgs,

    /// Also write node_exporter's cpu, load, processes and filesystem
    /// families, for a node_exporter run without those collectors (with
    /// them, they are duplicates that node_exporter drops)
    #[arg(long, requires = "prom_file", help_heading = "Prometheus")]
    pub prom_node: bool,

    // Where alerts are remembered between runs.
    #[command(flatten)]
    pub state: StateArgs,

    /// Remember no alerts between runs (recoveries only within --interval)
    #[arg(long, conflicts_with = "state_dir", help_heading = "State")]
    pub no_state: bool,

    #[command(flatten)]
    pub repeat: RepeatArgs,

    #[command(flatten)]
    pub common: CommonArgs,
}

impl Args {
    /// The thresholds given as flags.
    pub fn levels(&self) -> impl Iterator<Item = (Metric, Levels)> + '_ {
        [
            (Metric::Cpu, self.cpu),
            (Metric::Mem, self.mem),
            (Metric::Swap, self.swap),
            (Metric::Load, self.load),
            (Metric::LoadPerCore, self.load_per_core),
            (Metric::Disk, self.disk),
            (Metric::Inodes, self.inodes),
            (Metric::Procs, self.procs),
            (Metric::ProcCpu, self.proc_cpu),
        ]
        .into_iter()
        .filter_map(|(metric, levels)| Some((metric, levels?)))
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
    fn thresholds_parse_from_flags() {
        let args =
            Args::try_parse_from(["healthmon", "--cpu", "90", "--disk", "80,95", "--for", "3"])
                .unwrap();
        let levels: Vec<_> = args.levels().collect();
        assert_eq!(levels.len(), 2);
        assert_eq!(levels[1].1.warn, Some(80.0));
        assert!(Args::try_parse_from(["healthmon", "--mem", "95,90"]).is_err());
        assert!(Args::try_parse_from(["healthmon", "--once", "--interval", "1s"]).is_err());
        assert!(Args::try_parse_from(["healthmon", "--for", "0"]).is_err());
    }
}
