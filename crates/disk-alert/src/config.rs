//! The configuration file (`--config`): default levels, per-mount levels
//! and exclusions, in JSON or YAML. Unknown keys and impossible values are
//! errors naming the file, line and field, because a typo must not
//! silently disable an alert.
//!
//! ```yaml
//! all: true              # check every real filesystem (else the mounts listed below)
//! warn: 80               # levels for every mount...
//! crit: 90
//! inodes: true           # also check inode use
//! exclude_types: [squashfs, iso9660]
//! exclude_mounts: ["/var/lib/docker/*"]
//! mounts:                # ...and per mount point, most specific wins
//!   /var/lib/postgresql: {warn: 70, crit: 85}
//!   /boot: {warn: 90, inodes_warn: 95}
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use secops_common::Error;

/// A percentage from 0 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u64")]
pub struct Percent(pub u8);

impl TryFrom<u64> for Percent {
    type Error = String;

    fn try_from(n: u64) -> Result<Percent, String> {
        u8::try_from(n)
            .ok()
            .filter(|&p| p <= 100)
            .map(Percent)
            .ok_or_else(|| format!("{n} is not a percentage (0 to 100)"))
    }
}

/// Levels that may be set in the file, at the top or for one mount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawLevels")]
pub struct LevelSettings {
    pub warn: Option<Percent>,
    pub crit: Option<Percent>,
    pub inodes_warn: Option<Percent>,
    pub inodes_crit: Option<Percent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevels {
    warn: Option<Percent>,
    crit: Option<Percent>,
    inodes_warn: Option<Percent>,
    inodes_crit: Option<Percent>,
}

impl TryFrom<RawLevels> for LevelSettings {
    type Error = String;

    fn try_from(raw: RawLevels) -> Result<LevelSettings, String> {
        let levels = LevelSettings {
            warn: raw.warn,
            crit: raw.crit,
            inodes_warn: raw.inodes_warn,
            inodes_crit: raw.inodes_crit,
        };
        levels.check()?;
        Ok(levels)
    }
}

impl LevelSettings {
    /// A critical level below the warning level given next to it is a
    /// mistake worth stopping for.
    fn check(&self) -> Result<(), String> {
        for (warn, crit, prefix) in [
            (self.warn, self.crit, ""),
            (self.inodes_warn, self.inodes_crit, "inodes_"),
        ] {
            if let (Some(Percent(w)), Some(Percent(c))) = (warn, crit) {
                if c < w {
                    return Err(format!("{prefix}crit ({c}) is below {prefix}warn ({w})"));
                }
            }
        }
        Ok(())
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawConfig")]
pub struct Config {
    pub all: bool,
    pub inodes: bool,
    pub levels: LevelSettings,
    pub exclude_types: Vec<String>,
    pub exclude_mounts: Vec<String>,
    /// Levels by mount point.
    pub mounts: BTreeMap<String, LevelSettings>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    all: bool,
    #[serde(default)]
    inodes: bool,
    warn: Option<Percent>,
    crit: Option<Percent>,
    inodes_warn: Option<Percent>,
    inodes_crit: Option<Percent>,
    #[serde(default)]
    exclude_types: Vec<String>,
    #[serde(default)]
    exclude_mounts: Vec<String>,
    #[serde(default)]
    mounts: BTreeMap<String, LevelSettings>,
}

impl TryFrom<RawConfig> for Config {
    type Error = String;

    fn try_from(raw: RawConfig) -> Result<Config, String> {
        let levels = LevelSettings {
            warn: raw.warn,
            crit: raw.crit,
            inodes_warn: raw.inodes_warn,
            inodes_crit: raw.inodes_crit,
        };
        if let Some(relative) = raw.mounts.keys().find(|m| !m.starts_with('/')) {
            return Err(format!(
                "mounts: {relative:?} is not a mount point (an absolute path such as /var)"
            ));
        }
        Ok(Config {
            all: raw.all,
            inodes: raw.inodes,
            levels,
            exclude_types: raw.exclude_types,
            exclude_mounts: raw.exclude_mounts,
            mounts: raw.mounts,
        })
    }
}

impl Config {
    /// Loads the file; errors are exit-2 errors naming the place.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let config: Config = secops_common::config::load(path)?;
        // Checked after parsing rather than while: a YAML document as a
        // whole has no position to report, so the message names the file
        // and the fields instead.
        config
            .levels
            .check()
            .map_err(|problem| Error::bad_input(format!("{}: {problem}", path.display())))?;
        Ok(config)
    }

    /// The mount points the file lists, checked when neither `--all` nor
    /// `--mount` is given.
    pub fn listed_mounts(&self) -> impl Iterator<Item = &str> {
        self.mounts.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secops_common::config::{Syntax, parse};

    #[test]
    fn yaml_and_json_read_the_same() {
        let yaml: Config = parse(
            "all: true\nwarn: 70\ninodes: true\nexclude_types: [squashfs]\nmounts:\n  /var: {warn: 60, crit: 75}\n",
            Syntax::Yaml,
        )
        .unwrap();
        let json: Config = parse(
            r#"{"all": true, "warn": 70, "inodes": true, "exclude_types": ["squashfs"],
                "mounts": {"/var": {"warn": 60, "crit": 75}}}"#,
            Syntax::Json,
        )
        .unwrap();
        assert_eq!(yaml, json);
        assert_eq!(yaml.levels.warn, Some(Percent(70)));
        assert_eq!(yaml.mounts["/var"].crit, Some(Percent(75)));
        assert_eq!(yaml.listed_mounts().collect::<Vec<_>>(), ["/var"]);
    }

    #[test]
    fn errors_name_line_and_field() {
        let err = |text: &str| parse::<Config>(text, Syntax::Yaml).unwrap_err();
        let e = err("warn: 80\nmounts:\n  /var:\n    wran: 70\n");
        assert!(e.starts_with("4:") && e.contains("wran"), "{e}");
        let e = err("warn: 80\nmounts:\n  /var: {warn: 170}\n");
        assert!(
            e.starts_with("3:")
                && e.contains("mounts./var")
                && e.contains("170 is not a percentage"),
            "{e}"
        );
        let e = err("warn: 80\nmounts:\n  /var: {warn: 90, crit: 85}\n");
        assert!(e.contains("crit (85) is below warn (90)"), "{e}");
        let e = err("threshold: 80\n");
        assert!(
            e.starts_with("1:") && e.contains("unknown field `threshold`"),
            "{e}"
        );
        let e = err("mounts:\n  var: {warn: 9}\n");
        assert!(e.contains("\"var\" is not a mount point"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("disk.yaml");
        std::fs::write(&file, "inodes_warn: 90\ninodes_crit: 10\n").unwrap();
        let e = Config::load(&file).unwrap_err();
        assert_eq!(e.exit, secops_common::Exit::BadInput);
        assert_eq!(
            e.message,
            format!(
                "{}: inodes_crit (10) is below inodes_warn (90)",
                file.display()
            )
        );
    }
}
