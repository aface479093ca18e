//! Warning and critical levels, which mount gets which, and what a
//! percentage means against them.
//!
//! A level of N alerts when use is strictly above N%, as the old script's
//! `[ "$USAGE" -gt "$THRESHOLD" ]` did: at the default 80, a disk at 80%
//! is fine and one at 81% is not.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use secops_common::{Error, Severity};

use crate::config::{Config, LevelSettings, Percent};

/// The script's THRESHOLD.
pub const DEFAULT_WARN: u8 = 80;
pub const DEFAULT_CRIT: u8 = 90;

/// What is being measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Measure {
    /// Blocks, as df shows them.
    Space,
    /// Inodes, as df -i shows them.
    Inodes,
}

impl Measure {
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Space => "space",
            Measure::Inodes => "inodes",
        }
    }
}

/// How bad a measure stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// At or below the warning level.
    Ok,
    /// Above the warning level: the old script's alert.
    Warn,
    /// Above the critical level.
    Crit,
    /// Above the warning level with nothing left: writes are failing now.
    Full,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Crit => "crit",
            Level::Full => "full",
        }
    }

    /// The record severity: `info`, `medium`, `high`, `critical`, so the
    /// default `--fail-on high` exits 1 from the critical level up.
    pub fn severity(self) -> Severity {
        match self {
            Level::Ok => Severity::Info,
            Level::Warn => Severity::Medium,
            Level::Crit => Severity::High,
            Level::Full => Severity::Critical,
        }
    }

    pub fn is_alert(self) -> bool {
        self != Level::Ok
    }
}

/// The two levels of one measure on one mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Levels {
    pub warn: u8,
    pub crit: u8,
}

impl Levels {
    /// The level of a percentage (`None`: df's `-`, nothing to measure),
    /// with `left` the space or inodes still free for users.
    pub fn level(&self, percent: Option<u8>, left: u64) -> Level {
        match percent {
            Some(p) if p > self.warn && left == 0 => Level::Full,
            Some(p) if p > self.crit => Level::Crit,
            Some(p) if p > self.warn => Level::Warn,
            _ => Level::Ok,
        }
    }
}

/// The levels of every mount: most specific wins, a mount's own entry in
/// the config file, then `--warn`/`--crit`, then the file's top-level
/// levels, then 80/90. Inodes default to the space levels. A critical level
/// is never below the warning level it pairs with.
#[derive(Debug, Clone)]
pub struct Limits {
    flags: LevelSettings,
    file: LevelSettings,
    per_mount: BTreeMap<PathBuf, LevelSettings>,
}

impl Limits {
    pub fn new(
        warn: Option<u8>,
        crit: Option<u8>,
        config: Option<&Config>,
    ) -> Result<Limits, Error> {
        if let (Some(w), Some(c)) = (warn, crit) {
            if c < w {
                return Err(Error::bad_input(format!(
                    "--crit {c} is below --warn {w}: the critical level cannot be lower"
                )));
            }
        }
        Ok(Limits {
            flags: LevelSettings {
                warn: warn.map(Percent),
                crit: crit.map(Percent),
                ..LevelSettings::default()
            },
            file: config.map(|c| c.levels).unwrap_or_default(),
            per_mount: config
                .map(|c| {
                    c.mounts
                        .iter()
                        .map(|(m, l)| (PathBuf::from(m), *l))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// The levels of `measure` on the mount at `mountpoint`.
    pub fn levels(&self, mountpoint: &Path, measure: Measure) -> Levels {
        let own = self.per_mount.get(mountpoint).copied().unwrap_or_default();
        let layers = [own, self.flags, self.file];
        let first = |pick: fn(&LevelSettings) -> Option<Percent>| {
            layers.iter().find_map(pick).map(|Percent(p)| p)
        };
        let warn = first(|l| l.warn).unwrap_or(DEFAULT_WARN);
        let crit = first(|l| l.crit).unwrap_or(DEFAULT_CRIT).max(warn);
        match measure {
            Measure::Space => Levels { warn, crit },
            Measure::Inodes => {
                let inodes_warn = first(|l| l.inodes_warn).unwrap_or(warn);
                let inodes_crit = first(|l| l.inodes_crit).unwrap_or(crit).max(inodes_warn);
                Levels {
                    warn: inodes_warn,
                    crit: inodes_crit,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secops_common::config::{Syntax, parse};

    #[test]
    fn strictly_above_the_level_alerts() {
        let levels = Levels { warn: 80, crit: 90 };
        assert_eq!(levels.level(Some(80), 100), Level::Ok);
        assert_eq!(levels.level(Some(81), 100), Level::Warn);
        assert_eq!(levels.level(Some(90), 100), Level::Warn);
        assert_eq!(levels.level(Some(91), 100), Level::Crit);
        assert_eq!(levels.level(Some(100), 0), Level::Full);
        assert_eq!(levels.level(None, 0), Level::Ok);
        assert_eq!(
            Levels {
                warn: 100,
                crit: 100
            }
            .level(Some(100), 0),
            Level::Ok
        );
        assert!(Level::Full.severity() > Level::Crit.severity());
        assert!(Level::Crit.severity() > Level::Warn.severity());
    }

    #[test]
    fn the_most_specific_level_wins() {
        let config: Config = parse(
            "warn: 70\ncrit: 95\ninodes_warn: 50\nmounts:\n  /var: {warn: 60}\n  /boot: {crit: 99, inodes_crit: 98}\n",
            Syntax::Yaml,
        )
        .unwrap();
        let limits = Limits::new(Some(85), None, Some(&config)).unwrap();
        let at = |m: &str, measure| limits.levels(Path::new(m), measure);
        // --warn beats the file's top level; the file's crit still applies.
        assert_eq!(at("/", Measure::Space), Levels { warn: 85, crit: 95 });
        // A mount's own entry beats --warn.
        assert_eq!(at("/var", Measure::Space), Levels { warn: 60, crit: 95 });
        assert_eq!(at("/boot", Measure::Inodes), Levels { warn: 50, crit: 98 });
        // Inodes default to the space levels.
        let plain = Limits::new(None, None, None).unwrap();
        assert_eq!(
            plain.levels(Path::new("/"), Measure::Inodes),
            Levels { warn: 80, crit: 90 }
        );
    }

    #[test]
    fn crit_follows_a_high_threshold_and_cannot_be_set_below_it() {
        let limits = Limits::new(Some(95), None, None).unwrap();
        assert_eq!(
            limits.levels(Path::new("/"), Measure::Space),
            Levels { warn: 95, crit: 95 }
        );
        let err = Limits::new(Some(90), Some(80), None).unwrap_err();
        assert!(
            err.message.contains("--crit 80 is below --warn 90"),
            "{err}"
        );
    }
}
