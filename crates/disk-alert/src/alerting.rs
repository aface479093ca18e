//! Which mounts are alerting, remembered across the passes of an
//! `--interval` loop and, through secops-common's [`LastRun`] in the state
//! directory, across cron runs: a mount dropping back below its level gives
//! one `disk.recovered` record, a mount that can be checked again after a
//! `disk.error` one `disk.error_cleared`, each resolving its alert.
//!
//! What is remembered is the last firing record of each alert, so its
//! `since` and `level` come back with it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use secops_common::alert::alert_id;
use secops_common::{Error, LastRun, Record};
use serde_json::Value;

use crate::limits::{Level, Measure};
use crate::records::{TOOL, alert_parts, error_parts, write_parts};

/// The name of disk-alert's memory in the state directory.
const STATE_NAME: &str = "disk-alert";

/// One measure of one mount that was over its warning level, as the last
/// pass left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alerting {
    pub mount: PathBuf,
    pub measure: Measure,
    pub level: Level,
    /// When it was first seen over (RFC 3339).
    pub since: String,
}

impl Alerting {
    /// The alert a remembered `disk.alert` record stands for.
    fn of(rec: &Record) -> Option<Alerting> {
        fn parse<T: serde::de::DeserializeOwned>(rec: &Record, name: &str) -> Option<T> {
            serde_json::from_value(rec.fields.get(name)?.clone()).ok()
        }
        Some(Alerting {
            mount: PathBuf::from(parse::<String>(rec, "mount")?),
            measure: parse(rec, "measure")?,
            level: parse(rec, "level")?,
            since: parse(rec, "since")?,
        })
    }
}

/// What ended without the mount being checked: it is no longer mounted.
#[derive(Debug)]
pub enum Unmounted {
    Alert(Alerting),
    /// A mount that could not be checked, by its mount point and `since`.
    Error {
        mount: String,
        since: String,
    },
}

/// The alerting mounts of the last pass, and what this pass resolved.
#[derive(Debug)]
pub struct Memory {
    last: LastRun,
    /// Alert ids this pass resolved itself (back below, checkable again).
    resolved: HashSet<String>,
}

impl Memory {
    /// Memory for this process only.
    pub fn in_process() -> Memory {
        Memory {
            last: LastRun::in_memory(),
            resolved: HashSet::new(),
        }
    }

    /// Memory kept in the state directory `dir`.
    pub fn in_dir(dir: &Path) -> Result<Memory, Error> {
        Ok(Memory {
            last: LastRun::load(dir, STATE_NAME)?,
            resolved: HashSet::new(),
        })
    }

    /// `measure` of `mount` as the last pass left it, if it was alerting.
    pub fn previous(&self, mount: &str, measure: Measure) -> Option<Alerting> {
        let id = alert_id(TOOL, &alert_parts(measure, mount));
        self.last.previous(&id).and_then(Alerting::of)
    }

    /// When `mount` was first found uncheckable, if the last pass could not
    /// check it either.
    pub fn previous_error(&self, mount: &str) -> Option<String> {
        self.since(&error_parts(mount))
    }

    /// Since when the output file `path` could not be written, if the last
    /// write of it failed.
    pub fn previous_write_failure(&self, path: &str) -> Option<String> {
        self.since(&write_parts(path))
    }

    fn since(&self, parts: &[&str]) -> Option<String> {
        let rec = self.last.previous(&alert_id(TOOL, parts))?;
        let since = rec.fields.get("since").and_then(Value::as_str);
        Some(since.unwrap_or(&rec.ts).to_string())
    }

    /// Remembers a firing record (`disk.alert`, `disk.error`,
    /// `disk.write_failed`) of this pass.
    pub fn fire(&mut self, rec: &Record) {
        self.last.fire(rec);
    }

    /// Notes that this pass wrote the resolution of `rec`.
    pub fn resolved(&mut self, rec: &Record) {
        if let Some(id) = rec.alert_id() {
            self.resolved.insert(id.to_string());
        }
    }

    /// Ends the pass. With `mounted` (an `--all` pass), the alerts of mounts
    /// that are no longer mounted are over, and returned; alerts of mounts
    /// this pass did not look at are carried to the next.
    pub fn end_pass(&mut self, mounted: Option<&HashSet<PathBuf>>) -> Vec<Unmounted> {
        let resolved = std::mem::take(&mut self.resolved);
        let unmounted = |rec: &Record| {
            let mount = rec.fields.get("mount").and_then(Value::as_str);
            mounted
                .zip(mount)
                .is_some_and(|(set, m)| !set.contains(Path::new(m)))
        };
        self.last
            .end_pass(|rec| {
                rec.alert_id().is_some_and(|id| resolved.contains(id)) || unmounted(rec)
            })
            .into_iter()
            .filter(|rec| !rec.alert_id().is_some_and(|id| resolved.contains(id)))
            .filter_map(|rec| match rec.kind.as_str() {
                "disk.error" => Some(Unmounted::Error {
                    since: rec
                        .fields
                        .get("since")
                        .and_then(Value::as_str)
                        .unwrap_or(&rec.ts)
                        .to_string(),
                    mount: rec.fields.get("mount")?.as_str()?.to_string(),
                }),
                _ => Alerting::of(&rec).map(Unmounted::Alert),
            })
            .collect()
    }

    /// Writes the memory to the state file, if there is one.
    pub fn save(&self) -> Result<(), Error> {
        self.last.save()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secops_common::Severity;

    fn alert(mount: &str, measure: Measure, level: Level, since: &str) -> Record {
        Record::new(TOOL, "disk.alert", Severity::High, "over")
            .with("mount", mount)
            .with("measure", measure.as_str())
            .with("level", level.as_str())
            .with("since", since)
            .firing(&alert_parts(measure, mount))
    }

    #[test]
    fn alerts_carry_their_start_and_unmounted_ones_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = Memory::in_dir(dir.path()).unwrap();
        assert_eq!(first.previous("/var", Measure::Space), None);
        first.fire(&alert("/var", Measure::Space, Level::Warn, "t1"));
        first.fire(&alert("/gone", Measure::Inodes, Level::Full, "t1"));
        first.fire(&alert("/other", Measure::Space, Level::Crit, "t1"));
        assert!(first.end_pass(None).is_empty());
        first.save().unwrap();

        // The next run checks /var (back below) with --all: /gone is not
        // mounted, /other is mounted but was not looked at.
        let mut second = Memory::in_dir(dir.path()).unwrap();
        let was = second.previous("/var", Measure::Space).unwrap();
        assert_eq!((was.level, was.since.as_str()), (Level::Warn, "t1"));
        assert_eq!(second.previous("/var", Measure::Inodes), None);
        let recovered = Record::new(TOOL, "disk.recovered", Severity::Info, "back")
            .resolved(&alert_parts(Measure::Space, "/var"));
        second.resolved(&recovered);
        let mounted = HashSet::from([PathBuf::from("/var"), PathBuf::from("/other")]);
        let gone = second.end_pass(Some(&mounted));
        assert_eq!(gone.len(), 1);
        assert!(matches!(&gone[0], Unmounted::Alert(a) if a.mount == Path::new("/gone")));
        second.save().unwrap();

        let third = Memory::in_dir(dir.path()).unwrap();
        assert_eq!(third.previous("/var", Measure::Space), None);
        assert_eq!(third.previous("/gone", Measure::Inodes), None);
        assert!(third.previous("/other", Measure::Space).is_some());
    }
}
