//! What healthmon watches and at which levels: a warning level and a
//! critical level per metric, from `--cpu 80,95`-style flags or the config
//! file, and how many samples a crossing must hold (`for`) or stay clear
//! (`clear`) before it is reported.

use std::fmt;

use secops_common::Severity;

/// A figure that can have thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Busy CPU, percent of all cores.
    Cpu,
    /// Memory used (total - available), percent.
    Mem,
    /// Swap used, percent.
    Swap,
    /// 1-minute load average.
    Load,
    /// 1-minute load average divided by the number of cores.
    LoadPerCore,
    /// Space used on a mount, percent as `df` shows it.
    Disk,
    /// Inodes used on a mount, percent as `df -i` shows it.
    Inodes,
    /// Number of processes.
    Procs,
    /// One process's CPU, percent of one core.
    ProcCpu,
}

impl Metric {
    pub const ALL: [Metric; 9] = [
        Metric::Cpu,
        Metric::Mem,
        Metric::Swap,
        Metric::Load,
        Metric::LoadPerCore,
        Metric::Disk,
        Metric::Inodes,
        Metric::Procs,
        Metric::ProcCpu,
    ];

    /// The name in records, config files and metric labels; the flag is
    /// the same with `-` for `_`.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Cpu => "cpu",
            Metric::Mem => "mem",
            Metric::Swap => "swap",
            Metric::Load => "load",
            Metric::LoadPerCore => "load_per_core",
            Metric::Disk => "disk",
            Metric::Inodes => "inodes",
            Metric::Procs => "procs",
            Metric::ProcCpu => "proc_cpu",
        }
    }

    /// What an operator reads: `cpu`, `memory`, `load per core`, ...
    pub fn label(self) -> &'static str {
        match self {
            Metric::Cpu => "cpu",
            Metric::Mem => "memory",
            Metric::Swap => "swap",
            Metric::Load => "load",
            Metric::LoadPerCore => "load per core",
            Metric::Disk => "disk",
            Metric::Inodes => "inodes",
            Metric::Procs => "process count",
            Metric::ProcCpu => "process cpu",
        }
    }

    /// `percent`, `load` or `count`.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::Load | Metric::LoadPerCore => "load",
            Metric::Procs => "count",
            _ => "percent",
        }
    }

    /// Percentages of a whole cannot pass 100, so a level above it is a
    /// mistake; a process's CPU can (several cores), loads and counts too.
    pub fn max_level(self) -> Option<f64> {
        match self {
            Metric::Cpu | Metric::Mem | Metric::Swap | Metric::Disk | Metric::Inodes => Some(100.0),
            _ => None,
        }
    }

    /// `12.5%`, `3.20`, `412`.
    pub fn format(self, value: f64) -> String {
        match self.unit() {
            "percent" => format!("{value:.1}%"),
            "load" => format!("{value:.2}"),
            _ => format!("{value:.0}"),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad a figure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Ok,
    Warning,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }

    /// Warnings are `medium`, critical alerts `high`: the default
    /// `--fail-on high` (and `secops-notify --min-severity high`) act on
    /// critical alerts and let warnings be read, not paged.
    pub fn severity(self) -> Severity {
        match self {
            Level::Ok => Severity::Info,
            Level::Warning => Severity::Medium,
            Level::Critical => Severity::High,
        }
    }

    /// 0, 1, 2 for the `healthmon_alert_level` gauge.
    pub fn number(self) -> u8 {
        self as u8
    }
}

/// A warning and a critical level; a figure strictly above a level is at
/// it (as `monit`'s `if cpu > 90%` and the old disk_alert.sh's `-gt`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Levels {
    pub warn: Option<f64>,
    pub crit: Option<f64>,
}

impl Levels {
    pub fn level(&self, value: f64) -> Level {
        if self.crit.is_some_and(|crit| value > crit) {
            Level::Critical
        } else if self.warn.is_some_and(|warn| value > warn) {
            Level::Warning
        } else {
            Level::Ok
        }
    }

    /// The level a figure must pass to reach `level`.
    pub fn threshold(&self, level: Level) -> Option<f64> {
        match level {
            Level::Critical => self.crit,
            Level::Warning => self.warn,
            Level::Ok => None,
        }
    }

    /// The lowest level configured: below it, all is well.
    pub fn lowest(&self) -> Option<f64> {
        self.warn.or(self.crit)
    }

    /// Parses a flag value: `CRIT` or `WARN,CRIT`.
    pub fn parse(metric: Metric, text: &str) -> Result<Levels, String> {
        let number = |s: &str| {
            s.trim().trim_end_matches('%').parse::<f64>().map_err(|_| {
                format!("{s:?} is not a number (expected CRIT or WARN,CRIT, e.g. 90 or 80,95)")
            })
        };
        let levels = match text.split_once(',') {
            Some((warn, crit)) => Levels {
                warn: Some(number(warn)?),
                crit: Some(number(crit)?),
            },
            None => Levels {
                warn: None,
                crit: Some(number(text)?),
            },
        };
        levels.check(metric.max_level())
    }

    /// Refuses levels that could never make sense, naming the problem;
    /// `max` is 100 for percentages of a whole.
    pub fn check(self, max: Option<f64>) -> Result<Levels, String> {
        for level in [self.warn, self.crit].into_iter().flatten() {
            if !level.is_finite() || level < 0.0 {
                return Err(format!("level {level} must be a number of 0 or more"));
            }
            if let Some(max) = max.filter(|max| level > *max) {
                return Err(format!(
                    "level {level} is above {max}, which a percentage never passes"
                ));
            }
        }
        match (self.warn, self.crit) {
            (None, None) => Err("give warn, crit or both".to_string()),
            (Some(warn), Some(crit)) if warn >= crit => Err(format!(
                "the warning level {warn} must be below the critical level {crit}"
            )),
            _ => Ok(self),
        }
    }
}

/// Thresholds of one metric, with their sample counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    pub levels: Levels,
    /// Consecutive samples at or above a level before it is reported.
    pub for_samples: u32,
    /// Consecutive samples below a level before its alert clears.
    pub clear_samples: u32,
}

/// Every metric's rule; metrics without one are sampled, never judged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rules {
    rules: Vec<(Metric, Rule)>,
}

impl Rules {
    pub fn set(&mut self, metric: Metric, rule: Rule) {
        match self.rules.iter_mut().find(|(m, _)| *m == metric) {
            Some((_, r)) => *r = rule,
            None => {
                self.rules.push((metric, rule));
                self.rules.sort_by_key(|(m, _)| *m);
            }
        }
    }

    pub fn get(&self, metric: Metric) -> Option<&Rule> {
        self.rules
            .iter()
            .find(|(m, _)| *m == metric)
            .map(|(_, r)| r)
    }

    pub fn iter(&self) -> impl Iterator<Item = &(Metric, Rule)> {
        self.rules.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_number_is_critical_two_are_warning_and_critical() {
        assert_eq!(
            Levels::parse(Metric::Cpu, "90"),
            Ok(Levels {
                warn: None,
                crit: Some(90.0)
            })
        );
        let both = Levels::parse(Metric::Disk, "80,95%").unwrap();
        assert_eq!((both.warn, both.crit), (Some(80.0), Some(95.0)));
        assert_eq!(both.level(80.0), Level::Ok, "strictly above");
        assert_eq!(both.level(80.5), Level::Warning);
        assert_eq!(both.level(96.0), Level::Critical);
        assert_eq!(both.lowest(), Some(80.0));
    }

    #[test]
    fn nonsense_levels_are_refused_with_the_reason() {
        let err = |m, s| Levels::parse(m, s).unwrap_err();
        assert!(err(Metric::Cpu, "95,80").contains("must be below"));
        assert!(err(Metric::Mem, "120").contains("above 100"));
        assert!(err(Metric::Load, "-1").contains("0 or more"));
        assert!(err(Metric::Cpu, "ninety").contains("not a number"));
        assert!(
            Levels::parse(Metric::ProcCpu, "250").is_ok(),
            "several cores"
        );
        assert!(Levels::parse(Metric::Load, "32").is_ok());
    }

    #[test]
    fn levels_map_to_severities_in_order() {
        assert!(Level::Ok < Level::Warning && Level::Warning < Level::Critical);
        assert_eq!(Level::Warning.severity(), Severity::Medium);
        assert_eq!(Level::Critical.severity(), Severity::High);
        assert_eq!(Level::Critical.number(), 2);
    }
}
