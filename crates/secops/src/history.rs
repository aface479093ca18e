//! What secops remembers of every job between runs and restarts: its last
//! run (start, duration, exit, findings by severity), failures in a row,
//! and when it was first seen (a cron job never run is due at its first
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
        Ok(History {
            path: Some(path),
            jobs,
        })
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
