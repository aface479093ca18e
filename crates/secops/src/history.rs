//! What secops remembers of every job between runs and restarts: its last
//! run (start, end, duration, exit, findings by severity), when it last
//! succeeded, failures in a row, and when it was first seen (a cron job never run is due at its first
//! fire time after that). One file, `secops.jobs.json` in the state
//! directory, written 0600 and atomically after every run; a job that
//! is no longer in the settings is forgotten at the next write.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secops_common::{Context, Error};
use serde::{Deserialize, Serialize};

const VERSION: u64 = 1;

/// A job's memory.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobHistory {
    /// Milliseconds since the epoch when secops first saw the job.
    pub seen_ms: u64,
    /// When the last run started (ms since the epoch).
    pub last_start_ms: Option<u64>,
    pub last_duration_ms: Option<u64>,
    /// Its exit status; none when it was killed or did not start.
    pub last_exit: Option<i32>,
    /// How it ended, in words: `exit 0`, `killed by SIGKILL after the 20m timeout`.
    pub last_outcome: Option<String>,
    /// Records of the last run by severity.
    #[serde(default)]
    pub findings: BTreeMap<String, u64>,
    /// When the last run ended (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_end_ms: Option<u64>,
    /// When the last good run (exit 0 or 1) ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_ms: Option<u64>,
    /// Firing alerts among the last run's records, by severity.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub alerts: BTreeMap<String, u64>,
    #[serde(default)]
    pub failures_in_row: u64,
    /// Runs skipped because the previous one was still going.
    #[serde(default)]
    pub skipped: u64,
    /// A `job.stale` alert fired and not yet ended by a good run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u64,
    jobs: BTreeMap<String, JobHistory>,
}

/// Every job's memory, and where it is kept.
#[derive(Debug, Default)]
pub struct History {
    path: Option<PathBuf>,
    pub jobs: BTreeMap<String, JobHistory>,
}

pub fn now_ms() -> u64 {
    ms(SystemTime::now())
}

pub fn ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn time_of(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

impl History {
    pub fn load(dir: &Path) -> Result<History, Error> {
        let path = dir.join("secops.jobs.json");
        let jobs = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<File>(&bytes) {
                Ok(file) if file.version == VERSION => file.jobs,
                Ok(file) => {
                    return Err(Error::bad_input(format!(
                        "{}: field `version`: {} is not a version this build reads ({VERSION}): move it away to start afresh",
                        path.display(),
                        file.version
                    )));
                }
                Err(err) => {
                    secops_common::warn!(
                        "{}: damaged ({err}); every job is taken as never run, and the file is replaced",
                        path.display()
                    );
                    BTreeMap::new()
                }
            },
            Err(err) if err.kind() == ErrorKind::NotFound => BTreeMap::new(),
            Err(err) => {
                return Err(Error::failed(format!(
                    "cannot read {}: {err}",
                    path.display()
                )));
            }
        };
        let mut history = History {
            path: Some(path),
            jobs,
        };
        history.fill_in_ends();
        Ok(history)
    }

    /// A file written before secops remembered when runs ended: the last
    /// run ended at its start plus its duration, and was the last success
    /// when no failure followed it.
    fn fill_in_ends(&mut self) {
        for memory in self.jobs.values_mut() {
            if memory.last_end_ms.is_some() || memory.last_outcome.is_none() {
                continue;
            }
            let (Some(start), Some(duration)) = (memory.last_start_ms, memory.last_duration_ms)
            else {
                continue;
            };
            memory.last_end_ms = Some(start + duration);
            if memory.failures_in_row == 0 && memory.last_success_ms.is_none() {
                memory.last_success_ms = memory.last_end_ms;
            }
        }
    }

    /// The memory of `name`, made on first sight.
    pub fn job(&mut self, name: &str) -> &mut JobHistory {
        self.jobs
            .entry(name.to_string())
            .or_insert_with(|| JobHistory {
                seen_ms: now_ms(),
                ..JobHistory::default()
            })
    }

    /// Forgets jobs no longer in the settings.
    pub fn retain(&mut self, names: &[&str]) {
        self.jobs.retain(|name, _| names.contains(&name.as_str()));
    }

    pub fn save(&self) -> Result<(), Error> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let file = File {
            version: VERSION,
            jobs: self.jobs.clone(),
        };
        let mut bytes = serde_json::to_vec_pretty(&file).expect("history serializes");
        bytes.push(b'\n');
        secops_common::atomic::write_atomic(path, &bytes, 0o600)
            .context(|| format!("cannot write {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_of_an_earlier_version_gets_its_end_and_success_times() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("secops.jobs.json"),
            r#"{"version":1,"jobs":{
                "good":{"seen_ms":1,"last_start_ms":1000,"last_duration_ms":500,"last_exit":0,"last_outcome":"exit 0","findings":{"info":2},"failures_in_row":0,"skipped":0},
                "bad":{"seen_ms":1,"last_start_ms":2000,"last_duration_ms":10,"last_exit":3,"last_outcome":"exit 3: the run itself failed","findings":{},"failures_in_row":2,"skipped":0},
                "new":{"seen_ms":1,"last_start_ms":null,"last_duration_ms":null,"last_exit":null,"last_outcome":null}
            }}"#,
        )
        .unwrap();
        let history = History::load(dir.path()).unwrap();
        let good = &history.jobs["good"];
        assert_eq!(
            (good.last_end_ms, good.last_success_ms),
            (Some(1500), Some(1500))
        );
        let bad = &history.jobs["bad"];
        assert_eq!((bad.last_end_ms, bad.last_success_ms), (Some(2010), None));
        let new = &history.jobs["new"];
        assert_eq!((new.last_end_ms, new.last_success_ms), (None, None));
        // Saved and read again: the same.
        history.save().unwrap();
        let again = History::load(dir.path()).unwrap();
        assert_eq!(again.jobs["bad"].last_end_ms, Some(2010));
        assert!(again.jobs["good"].alerts.is_empty());
    }
}
