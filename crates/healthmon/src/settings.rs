//! The settings file (`--config`) merged with the flags: thresholds per
//! metric, `for`/`clear` sample counts, `top` and `mounts`.
//!
//! ```yaml
//! for: 3
//! clear: 2
//! top: 10
//! mounts: [/, /var]
//! thresholds:
//!   cpu: {warn: 80, crit: 95}
//!   mem: {crit: 90}
//!   disk: {warn: 85, crit: 95, for: 1}
//! ```
//!
//! The most specific setting wins, as in disk-alert: a threshold flag
//! replaces the file's levels for that metric; a threshold's own
//! `for`/`clear` in the file beats `--for`/`--clear`, which beat the
//! file's top-level `for`/`clear`. `clear` defaults to the `for` in
//! effect, `for` to 1.
//!
//! Except in a single run (no `--interval`): there `--for` applies to every
//! threshold, its own `for` in the file included. That `for` counts the
//! samples of an `--interval` loop, and a single run takes one, so the one
//! settings file serves both the resident monitor and `--once --for 1`
//! from cron (where a `for: 30` would otherwise never let it alert).

use std::num::NonZeroU32;
use std::path::PathBuf;

use secops_common::Error;
use serde::{Deserialize, Deserializer};

use crate::cli::Args;
use crate::thresholds::{Levels, Metric, Rule, Rules};

/// Processes listed by CPU and by memory when neither flag nor file says.
pub const DEFAULT_TOP: usize = 5;

/// What a run watches and reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub rules: Rules,
    pub top: usize,
    /// Empty: every real filesystem.
    pub mounts: Vec<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    #[serde(rename = "for")]
    for_samples: Option<NonZeroU32>,
    clear: Option<NonZeroU32>,
    top: Option<usize>,
    mounts: Option<Vec<PathBuf>>,
    #[serde(default)]
    thresholds: ThresholdsFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdsFile {
    #[serde(default, deserialize_with = "percent_rule")]
    cpu: Option<RuleFile>,
    #[serde(default, deserialize_with = "percent_rule")]
    mem: Option<RuleFile>,
    #[serde(default, deserialize_with = "percent_rule")]
    swap: Option<RuleFile>,
    #[serde(default, deserialize_with = "open_rule")]
    load: Option<RuleFile>,
    #[serde(default, deserialize_with = "open_rule")]
    load_per_core: Option<RuleFile>,
    #[serde(default, deserialize_with = "percent_rule")]
    disk: Option<RuleFile>,
    #[serde(default, deserialize_with = "percent_rule")]
    inodes: Option<RuleFile>,
    #[serde(default, deserialize_with = "open_rule")]
    procs: Option<RuleFile>,
    #[serde(default, deserialize_with = "open_rule")]
    proc_cpu: Option<RuleFile>,
}

impl ThresholdsFile {
    fn get(&self, metric: Metric) -> Option<&RuleFile> {
        match metric {
            Metric::Cpu => self.cpu.as_ref(),
            Metric::Mem => self.mem.as_ref(),
            Metric::Swap => self.swap.as_ref(),
            Metric::Load => self.load.as_ref(),
            Metric::LoadPerCore => self.load_per_core.as_ref(),
            Metric::Disk => self.disk.as_ref(),
            Metric::Inodes => self.inodes.as_ref(),
            Metric::Procs => self.procs.as_ref(),
            Metric::ProcCpu => self.proc_cpu.as_ref(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    warn: Option<f64>,
    crit: Option<f64>,
    #[serde(rename = "for")]
    for_samples: Option<NonZeroU32>,
    clear: Option<NonZeroU32>,
}

/// Levels are checked while parsing, so a bad one is reported with its
/// file, line and field like any other mistake.
fn checked_rule<'de, D: Deserializer<'de>>(
    de: D,
    max: Option<f64>,
) -> Result<Option<RuleFile>, D::Error> {
    let rule = RuleFile::deserialize(de)?;
    Levels {
        warn: rule.warn,
        crit: rule.crit,
    }
    .check(max)
    .map_err(serde::de::Error::custom)?;
    Ok(Some(rule))
}

fn percent_rule<'de, D: Deserializer<'de>>(de: D) -> Result<Option<RuleFile>, D::Error> {
    checked_rule(de, Some(100.0))
}

fn open_rule<'de, D: Deserializer<'de>>(de: D) -> Result<Option<RuleFile>, D::Error> {
    checked_rule(de, None)
}

impl Settings {
    pub fn from_args(args: &Args) -> Result<Settings, Error> {
        let file: SettingsFile = match &args.config {
            Some(path) => secops_common::config::load(path)?,
            None => SettingsFile::default(),
        };
        let file_for = file.for_samples.map(NonZeroU32::get);
        let file_clear = file.clear.map(NonZeroU32::get);
        let mut rules = Rules::default();
        for metric in Metric::ALL {
            let from_file = file.thresholds.get(metric);
            let flag = args.levels().find(|(m, _)| *m == metric).map(|(_, l)| l);
            let levels = match (flag, from_file) {
                (Some(levels), _) => levels,
                (None, Some(rule)) => Levels {
                    warn: rule.warn,
                    crit: rule.crit,
                },
                (None, None) => continue,
            };
            let single_run = args.repeat.interval.is_none();
            let for_samples = args
                .for_samples
                .filter(|_| single_run)
                .or(from_file.and_then(|r| r.for_samples).map(NonZeroU32::get))
                .or(args.for_samples)
                .or(file_for)
                .unwrap_or(1);
            let clear_samples = from_file
                .and_then(|r| r.clear)
                .map(NonZeroU32::get)
                .or(args.clear)
                .or(file_clear)
                .unwrap_or(for_samples);
            rules.set(
                metric,
                Rule {
                    levels,
                    for_samples,
                    clear_samples,
                },
            );
        }
        Ok(Settings {
            rules,
            top: args.top.or(file.top).unwrap_or(DEFAULT_TOP),
            mounts: if args.mount.is_empty() {
                file.mounts.unwrap_or_default()
            } else {
                args.mount.clone()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn settings(file: Option<(&str, &str)>, flags: &[&str]) -> Result<Settings, Error> {
        let dir = tempfile::tempdir().unwrap();
        let mut argv = vec!["healthmon".to_string()];
        if let Some((name, text)) = file {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            argv.extend(["--config".to_string(), path.to_str().unwrap().to_string()]);
        }
        argv.extend(flags.iter().map(|s| s.to_string()));
        Settings::from_args(&Args::try_parse_from(argv).unwrap())
    }

    #[test]
    fn flags_alone() {
        let s = settings(None, &["--cpu", "90", "--for", "3"]).unwrap();
        let cpu = s.rules.get(Metric::Cpu).unwrap();
        assert_eq!(
            (cpu.levels.crit, cpu.for_samples, cpu.clear_samples),
            (Some(90.0), 3, 3)
        );
        assert!(s.rules.get(Metric::Mem).is_none());
        assert_eq!((s.top, s.mounts.len()), (DEFAULT_TOP, 0));
    }

    #[test]
    fn the_most_specific_setting_wins() {
        let yaml = "for: 4\nclear: 2\ntop: 10\nmounts: [/]\nthresholds:\n  cpu: {warn: 80, crit: 95}\n  disk: {crit: 90, for: 1}\n";
        let s = settings(Some(("h.yaml", yaml)), &[]).unwrap();
        let cpu = s.rules.get(Metric::Cpu).unwrap();
        assert_eq!((cpu.levels.warn, cpu.levels.crit), (Some(80.0), Some(95.0)));
        assert_eq!((cpu.for_samples, cpu.clear_samples), (4, 2));
        let disk = s.rules.get(Metric::Disk).unwrap();
        assert_eq!((disk.for_samples, disk.clear_samples), (1, 2));
        assert_eq!((s.top, s.mounts), (10, vec![PathBuf::from("/")]));
        let flags = ["--cpu", "70,99", "--for", "5", "--interval", "10s"];
        let s = settings(Some(("h.yaml", yaml)), &flags).unwrap();
        let cpu = s.rules.get(Metric::Cpu).unwrap();
        assert_eq!((cpu.levels.warn, cpu.levels.crit), (Some(70.0), Some(99.0)));
        assert_eq!((cpu.for_samples, cpu.clear_samples), (5, 2));
        let disk = s.rules.get(Metric::Disk).unwrap();
        assert_eq!(
            (disk.for_samples, disk.clear_samples),
            (1, 2),
            "its own for beats --for"
        );
        // A single run takes one sample: --for is the only `for` it has.
        let s = settings(Some(("h.yaml", yaml)), &["--once", "--for", "1"]).unwrap();
        for metric in [Metric::Cpu, Metric::Disk] {
            let rule = s.rules.get(metric).unwrap();
            assert_eq!((rule.for_samples, rule.clear_samples), (1, 2), "{metric}");
        }
        let s = settings(Some(("h.yaml", yaml)), &["--once"]).unwrap();
        assert_eq!(s.rules.get(Metric::Cpu).unwrap().for_samples, 4);
        let json = r#"{"thresholds": {"load_per_core": {"warn": 1.5}}}"#;
        let s = settings(Some(("h.json", json)), &[]).unwrap();
        assert_eq!(
            s.rules.get(Metric::LoadPerCore).unwrap().levels.warn,
            Some(1.5)
        );
    }

    #[test]
    fn mistakes_name_the_file_line_and_field() {
        let err = settings(
            Some((
                "h.yaml",
                "thresholds:\n  cpu: {crit: 90}\n  mme: {crit: 90}\n",
            )),
            &[],
        )
        .unwrap_err();
        assert_eq!(err.exit, secops_common::Exit::BadInput);
        assert!(
            err.message.contains("h.yaml:3:") && err.message.contains("unknown field `mme`"),
            "{err}"
        );
        let err = settings(
            Some((
                "h.json",
                "{\"thresholds\": {\n \"disk\": {\"warn\": 95, \"crit\": 90}}}",
            )),
            &[],
        )
        .unwrap_err();
        assert!(
            err.message.contains("h.json:2:")
                && err.message.contains("thresholds.disk")
                && err.message.contains("below the critical"),
            "{err}"
        );
        let err = settings(
            Some(("h.json", r#"{"thresholds": {"mem": {"crit": 120}}}"#)),
            &[],
        )
        .unwrap_err();
        assert!(err.message.contains("above 100"), "{err}");
        let err = settings(Some(("h.json", r#"{"for": 0}"#)), &[]).unwrap_err();
        assert!(err.message.contains("for"), "{err}");
        let err = settings(Some(("h.json", r#"{"thresholds": {"cpu": {}}}"#)), &[]).unwrap_err();
        assert!(err.message.contains("warn, crit or both"), "{err}");
    }
}
