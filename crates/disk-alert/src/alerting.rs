//! Which mounts are alerting, remembered across the passes of an
//! `--interval` loop and, through a small state file, across cron runs, so
//! that a mount dropping back below its level gives one `disk.recovered`
//! record (what secops-notify turns into a recovery notice).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use secops_common::Error;
use secops_common::atomic::write_atomic;

use crate::limits::{Level, Measure};

/// The state file's name in the state directory.
pub const STATE_FILE: &str = "disk-alert.json";

/// One measure of one mount that is over its warning level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alerting {
    pub mount: PathBuf,
    pub measure: Measure,
    pub level: Level,
    /// When it was first seen over (RFC 3339).
    pub since: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    alerting: Vec<Alerting>,
}

/// What a new observation means for a mount's alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// Not alerting, and was not.
    Quiet,
    /// Over a level, since then.
    Alerting { since: String },
    /// Was alerting (as described) and no longer is.
    Recovered(Alerting),
}

/// The alerting mounts, and the file they are kept in (if any).
#[derive(Debug)]
pub struct Memory {
    file: Option<PathBuf>,
    alerting: BTreeMap<(PathBuf, Measure), Alerting>,
    changed: bool,
}

impl Memory {
    /// Memory for this process only.
    pub fn in_process() -> Memory {
        Memory {
            file: None,
            alerting: BTreeMap::new(),
            changed: false,
        }
    }

    /// Memory kept in `dir`/disk-alert.json. A state file that cannot be
    /// parsed is set aside with a warning rather than stopping alerts: the
    /// cost is at most one missed recovery notice.
    pub fn in_dir(dir: &Path) -> Result<Memory, Error> {
        let file = dir.join(STATE_FILE);
        let mut memory = Memory {
            file: Some(file.clone()),
            ..Memory::in_process()
        };
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(memory),
            Err(err) => {
                return Err(Error::failed(format!(
                    "cannot read {}: {err}",
                    file.display()
                )));
            }
        };
        match secops_common::config::parse::<StateFile>(&text, secops_common::config::Syntax::Json)
        {
            Ok(state) => {
                memory.alerting = state
                    .alerting
                    .into_iter()
                    .map(|a| ((a.mount.clone(), a.measure), a))
                    .collect();
            }
            Err(err) => {
                secops_common::warn!("ignoring {}:{err}; alerts start afresh", file.display());
                memory.changed = true;
            }
        }
        Ok(memory)
    }

    /// Records that `measure` of `mount` now stands at `level`.
    pub fn observe(
        &mut self,
        mount: &Path,
        measure: Measure,
        level: Level,
        now: &str,
    ) -> Observation {
        let key = (mount.to_path_buf(), measure);
        if !level.is_alert() {
            return match self.alerting.remove(&key) {
                Some(was) => {
                    self.changed = true;
                    Observation::Recovered(was)
                }
                None => Observation::Quiet,
            };
        }
        let entry = self.alerting.entry(key).or_insert_with(|| {
            self.changed = true;
            Alerting {
                mount: mount.to_path_buf(),
                measure,
                level,
                since: now.to_string(),
            }
        });
        if entry.level != level {
            entry.level = level;
            self.changed = true;
        }
        Observation::Alerting {
            since: entry.since.clone(),
        }
    }

    /// Forgets the alerts of mounts that are no longer mounted at all, and
    /// returns them: with `--all`, their alert is over.
    pub fn forget_unmounted(&mut self, mounted: &HashSet<PathBuf>) -> Vec<Alerting> {
        let gone: Vec<_> = self
            .alerting
            .keys()
            .filter(|(mount, _)| !mounted.contains(mount))
            .cloned()
            .collect();
        self.changed |= !gone.is_empty();
        gone.iter()
            .filter_map(|key| self.alerting.remove(key))
            .collect()
    }

    /// Writes the state file (0600, atomically) if anything changed since
    /// it was read or last written.
    pub fn save(&mut self) -> Result<(), Error> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        if !self.changed {
            return Ok(());
        }
        let state = StateFile {
            alerting: self.alerting.values().cloned().collect(),
        };
        let mut text = serde_json::to_vec_pretty(&state).expect("state always serializes");
        text.push(b'\n');
        write_atomic(file, &text, 0o600)
            .map_err(|err| Error::failed(format!("cannot write {}: {err}", file.display())))?;
        self.changed = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn alerts_start_escalate_and_recover_once() {
        let mut memory = Memory::in_process();
        let root = Path::new("/");
        assert_eq!(
            memory.observe(root, Measure::Space, Level::Ok, "t0"),
            Observation::Quiet
        );
        let since = Observation::Alerting { since: "t1".into() };
        assert_eq!(
            memory.observe(root, Measure::Space, Level::Warn, "t1"),
            since
        );
        assert_eq!(
            memory.observe(root, Measure::Space, Level::Crit, "t2"),
            since
        );
        // Inodes are a separate alert.
        assert_eq!(
            memory.observe(root, Measure::Inodes, Level::Ok, "t2"),
            Observation::Quiet
        );
        match memory.observe(root, Measure::Space, Level::Ok, "t3") {
            Observation::Recovered(was) => {
                assert_eq!((was.level, was.since.as_str()), (Level::Crit, "t1"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            memory.observe(root, Measure::Space, Level::Ok, "t4"),
            Observation::Quiet
        );
    }

    #[test]
    fn the_state_file_carries_alerts_between_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = Memory::in_dir(dir.path()).unwrap();
        first.observe(Path::new("/var"), Measure::Space, Level::Warn, "t1");
        first.observe(Path::new("/gone"), Measure::Inodes, Level::Full, "t1");
        first.save().unwrap();
        let file = dir.path().join(STATE_FILE);
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let mut second = Memory::in_dir(dir.path()).unwrap();
        let gone = second.forget_unmounted(&HashSet::from([PathBuf::from("/var")]));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].mount, Path::new("/gone"));
        assert!(matches!(
            second.observe(Path::new("/var"), Measure::Space, Level::Ok, "t2"),
            Observation::Recovered(was) if was.since == "t1"
        ));
        second.save().unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text, "{\n  \"alerting\": []\n}\n");

        // Nothing changed: the file is not rewritten.
        std::fs::write(&file, "{\"alerting\": []}").unwrap();
        let mut third = Memory::in_dir(dir.path()).unwrap();
        third.observe(Path::new("/"), Measure::Space, Level::Ok, "t3");
        third.save().unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "{\"alerting\": []}"
        );
    }

    #[test]
    fn a_damaged_state_file_is_replaced_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STATE_FILE), "{not json").unwrap();
        let mut memory = Memory::in_dir(dir.path()).unwrap();
        assert_eq!(
            memory.observe(Path::new("/"), Measure::Space, Level::Ok, "t"),
            Observation::Quiet
        );
        memory.save().unwrap();
        let text = std::fs::read_to_string(dir.path().join(STATE_FILE)).unwrap();
        assert!(text.contains("\"alerting\": []"), "{text}");
    }
}
