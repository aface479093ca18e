//! The alert ledger in the state directory (`notify.json`): for every alert
//! key, its latest record, whether it is firing or over, when each sink was
//! last told, and which sinks are still *owed* a message.
//!
//! "Owed" is what makes delivery at-least-once: a batch first marks what
//! each sink must be told and saves that, then sends, and only after a send
//! succeeds records it as sent and clears the debt. A send that fails, or a
//! process killed mid-batch, leaves the debt in the file, and the next run
//! (or the next batch) pays it, even for once-only records such as
//! `disk.recovered`. Every save is atomic (temp file + rename), mode 0600.
//!
//! Two runs may share the directory (a disk-alert cron line and a fim-check
//! one): every change takes an exclusive `flock` on `notify.lock`, re-reads
//! the file, applies itself and saves, so neither run's debts or sends are
//! lost to the other's save. The lock is held for milliseconds, never
//! across a send.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use secops_common::{Error, Record, Severity};
use serde::{Deserialize, Serialize};

use crate::identity::identify;

const FILE: &str = "notify.json";
const LOCK: &str = "notify.lock";

/// Entries not reported for this long are forgotten: the tool stopped
/// saying so, and a new report later is a new alert.
const FORGET_AFTER: u64 = 7 * 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Firing,
    Resolved,
}

/// When a sink was last told about a firing alert, and how bad it was then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Told {
    pub at: u64,
    pub severity: Severity,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub status: Status,
    /// The latest record about it, as a JSON line.
    pub record: String,
    pub first_seen: u64,
    pub last_seen: u64,
    /// Arrival order of the latest record, so a message lists alerts of
    /// one severity as they came.
    #[serde(default)]
    pub seq: u64,
    #[serde(default)]
    pub told: BTreeMap<String, Told>,
    #[serde(default)]
    pub owed: BTreeSet<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    version: u32,
    alerts: BTreeMap<String, Entry>,
}

/// What one sink is owed now.
#[derive(Debug, Default)]
pub struct Due {
    pub firing: Vec<(String, Record)>,
    pub resolved: Vec<(String, Record)>,
}

impl Due {
    pub fn is_empty(&self) -> bool {
        self.firing.is_empty() && self.resolved.is_empty()
    }
}

pub struct Ledger {
    path: PathBuf,
    lock: PathBuf,
    /// As of the last change this process made (or the load).
    alerts: BTreeMap<String, Entry>,
}

impl Ledger {
    pub fn load(dir: &Path) -> Result<Ledger, Error> {
        let path = dir.join(FILE);
        Ok(Ledger {
            alerts: read(&path)?,
            lock: dir.join(LOCK),
            path,
        })
    }

    /// Applies `change` to the ledger as it is on disk now, under the lock,
    /// and saves the result.
    fn change(&mut self, now: u64, change: impl FnOnce(&mut Ledger)) -> Result<(), Error> {
        let failed = |err: &dyn std::fmt::Display| {
            Error::failed(format!("cannot lock {}: {err}", self.lock.display()))
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&self.lock)
            .map_err(|err| failed(&err))?;
        let _held = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, err)| failed(&err))?;
        self.alerts = read(&self.path)?;
        change(self);
        self.save(now)
    }

    /// Takes in a batch of records that are alerts (at or above the minimum
    /// severity) or endings, and marks what each of `sinks` is owed.
    pub fn absorb(
        &mut self,
        batch: &[Record],
        sinks: &[&str],
        now: u64,
        repeat: Duration,
    ) -> Result<(), Error> {
        self.change(now, |ledger| ledger.take_in(batch, sinks, now, repeat))
    }

    fn take_in(&mut self, batch: &[Record], sinks: &[&str], now: u64, repeat: Duration) {
        let mut seq = self.alerts.values().map(|e| e.seq).max().unwrap_or(0);
        for rec in batch {
            seq += 1;
            let id = identify(rec);
            let line = rec.to_json();
            if id.ends {
                let Some(entry) = self.alerts.get_mut(&id.key) else {
                    continue; // never alerted (or already over): nothing to end
                };
                if entry.status == Status::Firing {
                    entry.status = Status::Resolved;
                    entry.record = line;
                    entry.last_seen = now;
                    entry.seq = seq;
                    // Only sinks that heard of the alert hear of its end.
                    entry.owed = entry.told.keys().cloned().collect();
                }
                if entry.owed.is_empty() {
                    self.alerts.remove(&id.key);
                }
                continue;
            }
            let entry = self.alerts.entry(id.key).or_insert_with(|| Entry {
                status: Status::Firing,
                record: String::new(),
                first_seen: now,
                last_seen: now,
                seq,
                told: BTreeMap::new(),
                owed: BTreeSet::new(),
            });
            if entry.status == Status::Resolved {
                // Back before its recovery went out: a fresh alert.
                entry.status = Status::Firing;
                entry.first_seen = now;
                entry.told.clear();
                entry.owed.clear();
            }
            entry.record = line;
            entry.last_seen = now;
            entry.seq = seq;
            for sink in sinks {
                let due = match entry.told.get(*sink) {
                    None => true,
                    Some(told) => {
                        rec.severity > told.severity
                            || now.saturating_sub(told.at) >= repeat.as_secs()
                    }
                };
                if due {
                    entry.owed.insert(sink.to_string());
                }
            }
        }
    }

    /// What `sink` is owed, firing alerts worst first.
    pub fn due(&self, sink: &str) -> Due {
        let (mut firing, mut resolved) = (Vec::new(), Vec::new());
        for (key, entry) in &self.alerts {
            if !entry.owed.contains(sink) {
                continue;
            }
            let Ok(rec) = Record::from_json(&entry.record) else {
                continue;
            };
            match entry.status {
                Status::Firing => firing.push((entry.seq, key.clone(), rec)),
                Status::Resolved => resolved.push((entry.seq, key.clone(), rec)),
            }
        }
        firing.sort_by(|a, b| b.2.severity.cmp(&a.2.severity).then(a.0.cmp(&b.0)));
        resolved.sort_by_key(|r| r.0);
        let strip =
            |list: Vec<(u64, String, Record)>| list.into_iter().map(|(_, k, r)| (k, r)).collect();
        Due {
            firing: strip(firing),
            resolved: strip(resolved),
        }
    }

    /// Records that `sink` was told what [`due`](Ledger::due) gave.
    pub fn paid(&mut self, sink: &str, due: &Due, now: u64) -> Result<(), Error> {
        self.change(now, |ledger| ledger.settle(sink, due, now))
    }

    fn settle(&mut self, sink: &str, due: &Due, now: u64) {
        for (key, rec) in &due.firing {
            if let Some(entry) = self.alerts.get_mut(key) {
                entry.owed.remove(sink);
                entry.told.insert(
                    sink.to_string(),
                    Told {
                        at: now,
                        severity: rec.severity,
                    },
                );
            }
        }
        for (key, _) in &due.resolved {
            if let Some(entry) = self.alerts.get_mut(key) {
                entry.owed.remove(sink);
                entry.told.remove(sink);
                if entry.owed.is_empty() {
                    self.alerts.remove(key);
                }
            }
        }
    }

    /// Writes the ledger atomically, forgetting what went quiet long ago.
    fn save(&mut self, now: u64) -> Result<(), Error> {
        self.alerts
            .retain(|_, e| now.saturating_sub(e.last_seen) < FORGET_AFTER);
        let saved = Saved {
            version: 1,
            alerts: std::mem::take(&mut self.alerts),
        };
        let mut text = serde_json::to_vec(&saved).expect("the ledger serializes");
        self.alerts = saved.alerts;
        text.push(b'\n');
        secops_common::atomic::write_atomic(&self.path, &text, 0o600)
            .map_err(|err| Error::failed(format!("cannot write {}: {err}", self.path.display())))
    }
}

/// The alerts in `path`; none when it does not exist yet.
fn read(path: &Path) -> Result<BTreeMap<String, Entry>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str::<Saved>(&text)
            .map(|saved| saved.alerts)
            .map_err(|err| {
                Error::bad_input(format!(
                    "{}: not a secops-notify state file: {err} (move it away to start afresh)",
                    path.display()
                ))
            }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(err) => Err(Error::failed(format!(
            "cannot read {}: {err}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(severity: Severity, percent: u32) -> Record {
        Record::new(
            "disk-alert",
            "disk.alert",
            severity,
            format!("/var is {percent}% full"),
        )
        .with("mount", "/var")
        .with("measure", "space")
    }

    fn recovered() -> Record {
        Record::new(
            "disk-alert",
            "disk.recovered",
            Severity::Info,
            "/var is back",
        )
        .with("mount", "/var")
        .with("measure", "space")
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn repeats_wait_for_the_interval_unless_it_gets_worse() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::load(dir.path()).unwrap();
        ledger
            .absorb(&[alert(Severity::Medium, 85)], &["email"], 1000, HOUR)
            .unwrap();
        let due = ledger.due("email");
        assert_eq!(due.firing.len(), 1);
        ledger.paid("email", &due, 1000).unwrap();

        ledger
            .absorb(&[alert(Severity::Medium, 86)], &["email"], 2000, HOUR)
            .unwrap();
        assert!(
            ledger.due("email").is_empty(),
            "repeated within the interval"
        );
        ledger
            .absorb(&[alert(Severity::High, 91)], &["email"], 2100, HOUR)
            .unwrap();
        assert_eq!(
            ledger.due("email").firing.len(),
            1,
            "escalation goes out at once"
        );
        let due = ledger.due("email");
        ledger.paid("email", &due, 2100).unwrap();
        ledger
            .absorb(&[alert(Severity::High, 91)], &["email"], 2100 + 3600, HOUR)
            .unwrap();
        assert_eq!(
            ledger.due("email").firing.len(),
            1,
            "repeat after the interval"
        );
    }

    #[test]
    fn endings_reach_only_sinks_that_were_told_and_survive_a_failed_send() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::load(dir.path()).unwrap();
        ledger
            .absorb(
                &[alert(Severity::High, 93)],
                &["email", "webhook"],
                10,
                HOUR,
            )
            .unwrap();
        let due = ledger.due("email");
        ledger.paid("email", &due, 10).unwrap();
        ledger
            .absorb(&[recovered()], &["email", "webhook"], 20, HOUR)
            .unwrap();
        assert!(ledger.due("webhook").is_empty());
        assert_eq!(ledger.due("email").resolved.len(), 1);

        // The recovery send failed: a later run still owes it.
        let mut again = Ledger::load(dir.path()).unwrap();
        let due = again.due("email");
        assert_eq!(due.resolved.len(), 1);
        again.paid("email", &due, 30).unwrap();
        assert!(again.alerts.is_empty());
        // An ending with no alert behind it is ignored.
        again.absorb(&[recovered()], &["email"], 40, HOUR).unwrap();
        assert!(again.due("email").is_empty());
    }

    #[test]
    fn two_runs_sharing_the_directory_keep_each_others_changes() {
        let dir = tempfile::tempdir().unwrap();
        let mut disk = Ledger::load(dir.path()).unwrap();
        let mut fim = Ledger::load(dir.path()).unwrap();
        disk.absorb(&[alert(Severity::High, 93)], &["email"], 10, HOUR)
            .unwrap();
        let changed = Record::new("fim-check", "fim.changed", Severity::High, "x")
            .with("path", "/etc/passwd");
        fim.absorb(&[changed], &["email"], 11, HOUR).unwrap();
        let due = fim.due("email");
        assert_eq!(due.firing.len(), 2, "the other run's alert is seen");
        fim.paid("email", &due, 12).unwrap();
        let after = Ledger::load(dir.path()).unwrap();
        assert!(after.due("email").is_empty());
        assert_eq!(after.alerts.len(), 2);
    }
}
