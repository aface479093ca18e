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
//! the file if another run replaced it since this one last read or wrote
//! it, applies itself and saves, so neither run's debts or sends are lost
//! to the other's save. The lock is held for milliseconds, never across a
//! send.
//!
//! Memory grows with the number of alerts, so each is kept small: records
//! arrive as [`Arrival`]s (key and JSON line, not a parsed record, whose
//! field map is several times the line's size), an entry's sinks are short
//! sorted vectors rather than B-trees sized for eleven, what a sink is owed
//! is handed out as references to the entries' lines ([`Due`]) that are
//! parsed one at a time as they are sent, and the file is read and written
//! as a stream, never held as one string beside the map it holds.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{BufReader, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use secops_common::atomic::AtomicFile;
use secops_common::{Error, Record, Severity};
use serde::{Deserialize, Serialize, Serializer};

use crate::identity::Identity;

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
    pub told: SinkMap<Told>,
    #[serde(default)]
    pub owed: SinkSet,
}

/// A sink's name: this run's sinks' names are static, so 100,000 alerts
/// share them rather than each holding copies.
type Name = Cow<'static, str>;

/// `name`, shared when it is one of the sinks' names.
fn interned(name: String) -> Name {
    match name.as_str() {
        "email" => Cow::Borrowed("email"),
        "webhook" => Cow::Borrowed("webhook"),
        "exec" => Cow::Borrowed("exec"),
        "syslog" => Cow::Borrowed("syslog"),
        "slack" => Cow::Borrowed("slack"),
        "teams" => Cow::Borrowed("teams"),
        "sms" => Cow::Borrowed("sms"),
        "pagerduty" => Cow::Borrowed("pagerduty"),
        "opsgenie" => Cow::Borrowed("opsgenie"),
        "telegram" => Cow::Borrowed("telegram"),
        "matrix" => Cow::Borrowed("matrix"),
        "ntfy" => Cow::Borrowed("ntfy"),
        "http" => Cow::Borrowed("http"),
        _ => Cow::Owned(name),
    }
}

/// Per-sink values sorted by sink name: a `BTreeMap` in the file (a JSON
/// object, keys in order), a vector of the one to four sinks in memory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "BTreeMap<String, T>")]
pub struct SinkMap<T>(Vec<(Name, T)>);

impl<T> Default for SinkMap<T> {
    fn default() -> Self {
        SinkMap(Vec::new())
    }
}

impl<T> From<BTreeMap<String, T>> for SinkMap<T> {
    fn from(map: BTreeMap<String, T>) -> Self {
        SinkMap(map.into_iter().map(|(k, v)| (interned(k), v)).collect())
    }
}

impl<T: Serialize> Serialize for SinkMap<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<T> SinkMap<T> {
    pub fn get(&self, sink: &str) -> Option<&T> {
        self.find(sink).ok().map(|i| &self.0[i].1)
    }

    pub fn insert(&mut self, sink: &'static str, value: T) {
        match self.find(sink) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => {
                self.0.reserve_exact(1);
                self.0.insert(i, (Cow::Borrowed(sink), value));
            }
        }
    }

    pub fn remove(&mut self, sink: &str) {
        if let Ok(i) = self.find(sink) {
            self.0.remove(i);
            if self.0.is_empty() {
                self.clear();
            }
        }
    }

    pub fn clear(&mut self) {
        self.0 = Vec::new();
    }

    /// The sinks, in order.
    pub fn sinks(&self) -> SinkSet {
        SinkSet(SinkMap(
            self.0.iter().map(|(k, _)| (k.clone(), ())).collect(),
        ))
    }

    fn find(&self, sink: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_ref().cmp(sink))
    }
}

/// Sink names, sorted and distinct: a `BTreeSet` in the file (a JSON
/// array), a [`SinkMap`] holding nothing per sink in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "BTreeSet<String>")]
pub struct SinkSet(SinkMap<()>);

impl From<BTreeSet<String>> for SinkSet {
    fn from(set: BTreeSet<String>) -> Self {
        SinkSet(SinkMap(
            set.into_iter().map(|n| (interned(n), ())).collect(),
        ))
    }
}

impl Serialize for SinkSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.0.iter().map(|(k, ())| k))
    }
}

impl SinkSet {
    pub fn contains(&self, sink: &str) -> bool {
        self.0.get(sink).is_some()
    }

    pub fn insert(&mut self, sink: &'static str) {
        self.0.insert(sink, ());
    }

    pub fn remove(&mut self, sink: &str) {
        self.0.remove(sink);
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.0.0.is_empty()
    }
}

/// A capped sink's recent messages, and what its cap has held back since
/// its last one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pace {
    /// When it was sent a message, within the last hour.
    #[serde(default)]
    pub sent: Vec<u64>,
    /// Alerts owed to it while its cap held it back.
    #[serde(default)]
    pub held: BTreeSet<String>,
}

/// The window a sink's cap counts messages in.
pub const CAP_WINDOW: u64 = 3600;

/// The file as written.
#[derive(Serialize)]
struct Saving<'a> {
    version: u32,
    alerts: &'a BTreeMap<String, Entry>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pace: &'a BTreeMap<String, Pace>,
}

/// The file as read.
#[derive(Deserialize)]
struct Saved {
    #[allow(dead_code)] // read to check the file's shape, never used
    version: u32,
    alerts: BTreeMap<String, Entry>,
    #[serde(default)]
    pace: BTreeMap<String, Pace>,
}

/// A record as the ledger takes it in: its alert key, whether it ends the
/// alert, its severity, and the JSON line the ledger keeps, which is all
/// the ledger needs of it and a fraction of the parsed record's size.
#[derive(Debug, Clone)]
pub struct Arrival {
    key: String,
    ends: bool,
    severity: Severity,
    line: String,
}

impl Arrival {
    /// `rec`, whose identity is `id`.
    pub fn new(rec: &Record, id: Identity) -> Arrival {
        let (mut key, mut line) = (id.key, rec.to_json());
        // Kept for as long as the alert is: not with the up to twice their
        // size that serializing grew them to.
        key.shrink_to_fit();
        line.shrink_to_fit();
        Arrival {
            key,
            ends: id.ends,
            severity: rec.severity,
            line,
        }
    }
}

/// One alert a sink is owed: references into the ledger, parsed only when
/// a message needs the record.
#[derive(Debug, Clone, Copy)]
pub struct Owed<'a> {
    pub key: &'a str,
    /// The latest record, as the JSON line the ledger keeps.
    pub line: &'a str,
    pub severity: Severity,
}

impl Owed<'_> {
    /// The record. [`Ledger::due`] hands out only lines that parse.
    pub fn record(&self) -> Record {
        Record::from_json(self.line).expect("due() checked that the line parses")
    }
}

/// What one sink is owed now.
#[derive(Debug, Default)]
pub struct Due<'a> {
    pub firing: Vec<Owed<'a>>,
    pub resolved: Vec<Owed<'a>>,
}

impl Due<'_> {
    pub fn is_empty(&self) -> bool {
        self.firing.is_empty() && self.resolved.is_empty()
    }

    /// What [`Ledger::paid`] needs to settle this once it was sent: owned,
    /// so the ledger can change (re-read the file) while it is held.
    pub fn receipt(&self) -> Receipt {
        Receipt {
            firing: self
                .firing
                .iter()
                .map(|o| (o.key.to_string(), o.severity))
                .collect(),
            resolved: self.resolved.iter().map(|o| o.key.to_string()).collect(),
        }
    }
}

/// The alerts a sink was sent: keys, and the severity each firing one was
/// sent at.
#[derive(Debug, Default)]
pub struct Receipt {
    firing: Vec<(String, Severity)>,
    resolved: Vec<String>,
}

impl Receipt {
    /// Whether `due` holds nothing this does not: every firing alert at the
    /// same severity, every recovery. A message made of it would be this
    /// one again (or a part of it, when another run paid the rest).
    pub fn covers(&self, due: &Due<'_>) -> bool {
        let firing: HashMap<&str, Severity> = self
            .firing
            .iter()
            .map(|(key, severity)| (key.as_str(), *severity))
            .collect();
        let resolved: HashSet<&str> = self.resolved.iter().map(String::as_str).collect();
        due.firing
            .iter()
            .all(|o| firing.get(o.key) == Some(&o.severity))
            && due.resolved.iter().all(|o| resolved.contains(o.key))
    }
}

pub struct Ledger {
    path: PathBuf,
    lock: PathBuf,
    /// As of the last change this process made (or the load).
    alerts: BTreeMap<String, Entry>,
    /// Per capped sink.
    pace: BTreeMap<String, Pace>,
    /// The file `alerts` was read from or saved as; `None` when there was
    /// none.
    seen: Option<Stamp>,
    /// `alerts` holds changes that could not be saved (a full, read-only
    /// or failing disk): newer than the file `seen`, so that file is not
    /// read over them.
    unsaved: bool,
}

/// Which file, and which version of it: every save replaces the file
/// (temp file + rename), so another run's save shows as another inode,
/// and an edit in place as another size or time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The file at `path` now; `None` when there is none (or it cannot be
    /// looked at, which the read that follows will report).
    fn now(path: &Path) -> Option<Stamp> {
        std::fs::metadata(path).ok().map(|m| Stamp::of(&m))
    }
}

impl Ledger {
    pub fn load(dir: &Path) -> Result<Ledger, Error> {
        let path = dir.join(FILE);
        let (saved, seen) = read(&path)?;
        Ok(Ledger {
            alerts: saved.alerts,
            pace: saved.pace,
            seen,
            lock: dir.join(LOCK),
            path,
            unsaved: false,
        })
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies `change` to the ledger as it is on disk now, under the lock,
    /// and saves the result. When the state cannot be locked, read or
    /// saved (a full, read-only or failing disk), the change is still made
    /// in memory, so this run goes on to send what it owes (a full disk
    /// must never silence an alert), and the error says why it was not
    /// saved.
    fn change(&mut self, now: u64, change: impl FnOnce(&mut Ledger)) -> Result<(), Error> {
        let held = self.lock_file();
        if held.is_ok() {
            // Unchanged since this run read or wrote it: what is in memory
            // is what is on disk (or newer, when a save failed), and
            // re-reading 100,000 alerts costs a second.
            let on_disk = Stamp::now(&self.path);
            let stale = if self.unsaved {
                on_disk != self.seen
            } else {
                self.seen.is_none() || on_disk != self.seen
            };
            if stale {
                if self.unsaved {
                    secops_common::warn!(
                        "{} was replaced by another run: this run's unsaved changes give way to it",
                        self.path.display()
                    );
                }
                // The old copy goes before the new one is read: never both.
                let old = std::mem::take(&mut self.alerts);
                match read(&self.path) {
                    Ok((saved, seen)) => {
                        drop(old);
                        (self.alerts, self.pace, self.seen, self.unsaved) =
                            (saved.alerts, saved.pace, seen, false);
                    }
                    // Unreadable now: go on from what this run knew.
                    Err(err) if err.exit == secops_common::Exit::Failed => {
                        self.alerts = old;
                        change(self);
                        self.unsaved = true;
                        return Err(err);
                    }
                    Err(err) => return Err(err),
                }
            }
        }
        change(self);
        let saved = held.and_then(|_held| self.save(now));
        self.unsaved = saved.is_err();
        saved
    }

    /// The exclusive lock every change of the file is made under.
    fn lock_file(&self) -> Result<Flock<std::fs::File>, Error> {
        let failed = |err: &dyn std::fmt::Display| {
            Error::failed(format!(
                "cannot save {}: cannot lock {}: {err}",
                self.path.display(),
                self.lock.display()
            ))
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&self.lock)
            .map_err(|err| failed(&err))?;
        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, err)| failed(&err))
    }

    /// Takes in a batch of records that are alerts (at or above the lowest
    /// minimum severity) or endings, and marks what each of `sinks` is
    /// owed: the alerts at or above its own minimum severity.
    pub fn absorb(
        &mut self,
        batch: Vec<Arrival>,
        sinks: &[(&'static str, Severity)],
        now: u64,
        repeat: Duration,
    ) -> Result<(), Error> {
        self.change(now, |ledger| ledger.take_in(batch, sinks, now, repeat))
    }

    fn take_in(
        &mut self,
        batch: Vec<Arrival>,
        sinks: &[(&'static str, Severity)],
        now: u64,
        repeat: Duration,
    ) {
        let mut seq = self.alerts.values().map(|e| e.seq).max().unwrap_or(0);
        let known = self.alerts.len();
        for arrival in batch {
            seq += 1;
            let Arrival {
                key,
                ends,
                severity,
                line,
            } = arrival;
            if ends {
                let Some(entry) = self.alerts.get_mut(&key) else {
                    continue; // never alerted (or already over): nothing to end
                };
                if entry.status == Status::Firing {
                    entry.status = Status::Resolved;
                    entry.record = line;
                    entry.last_seen = now;
                    entry.seq = seq;
                    // Only sinks that heard of the alert hear of its end.
                    entry.owed = entry.told.sinks();
                }
                if entry.owed.is_empty() {
                    self.alerts.remove(&key);
                }
                continue;
            }
            let entry = self.alerts.entry(key).or_insert_with(|| Entry {
                status: Status::Firing,
                record: String::new(),
                first_seen: now,
                last_seen: now,
                seq,
                told: SinkMap::default(),
                owed: SinkSet::default(),
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
            for &(sink, min) in sinks {
                if severity < min {
                    continue;
                }
                let due = match entry.told.get(sink) {
                    None => true,
                    Some(told) => {
                        severity > told.severity || now.saturating_sub(told.at) >= repeat.as_secs()
                    }
                };
                if due {
                    entry.owed.insert(sink);
                }
            }
        }
        if self.alerts.len() > known {
            pack(&mut self.alerts);
        }
    }

    /// What `sink` is owed, firing alerts worst first.
    pub fn due(&self, sink: &str) -> Due<'_> {
        let (mut firing, mut resolved) = (Vec::new(), Vec::new());
        for (key, entry) in &self.alerts {
            if !entry.owed.contains(sink) {
                continue;
            }
            // Parsed to check it and learn its severity, then dropped.
            let Ok(rec) = Record::from_json(&entry.record) else {
                continue;
            };
            let owed = Owed {
                key,
                line: &entry.record,
                severity: rec.severity,
            };
            match entry.status {
                Status::Firing => firing.push((entry.seq, owed)),
                Status::Resolved => resolved.push((entry.seq, owed)),
            }
        }
        firing.sort_by(|a, b| b.1.severity.cmp(&a.1.severity).then(a.0.cmp(&b.0)));
        resolved.sort_by_key(|r| r.0);
        Due {
            firing: firing.into_iter().map(|(_, o)| o).collect(),
            resolved: resolved.into_iter().map(|(_, o)| o).collect(),
        }
    }

    /// Records that `sink` was told what [`due`](Ledger::due) gave; a
    /// capped sink's message is counted against its cap, and what the cap
    /// held back is told.
    pub fn paid(
        &mut self,
        sink: &'static str,
        receipt: &Receipt,
        now: u64,
        capped: bool,
    ) -> Result<(), Error> {
        self.change(now, |ledger| {
            ledger.settle(sink, receipt, now);
            if capped {
                let pace = ledger.pace.entry(sink.to_string()).or_default();
                pace.sent.retain(|at| now.saturating_sub(*at) < CAP_WINDOW);
                pace.sent.push(now);
                pace.held.clear();
            }
        })
    }

    /// Messages `sink` was sent in the last hour.
    pub fn sent_lately(&self, sink: &str, now: u64) -> usize {
        self.pace.get(sink).map_or(0, |pace| {
            pace.sent
                .iter()
                .filter(|at| now.saturating_sub(**at) < CAP_WINDOW)
                .count()
        })
    }

    /// Alerts `sink`'s cap has held back since its last message.
    pub fn held(&self, sink: &str) -> usize {
        self.pace.get(sink).map_or(0, |pace| pace.held.len())
    }

    /// Notes that `sink`'s cap held back what `receipt` holds.
    pub fn hold(&mut self, sink: &'static str, receipt: &Receipt, now: u64) -> Result<(), Error> {
        self.change(now, |ledger| {
            let pace = ledger.pace.entry(sink.to_string()).or_default();
            pace.held
                .extend(receipt.firing.iter().map(|(key, _)| key.clone()));
        })
    }

    fn settle(&mut self, sink: &'static str, receipt: &Receipt, now: u64) {
        for (key, severity) in &receipt.firing {
            if let Some(entry) = self.alerts.get_mut(key) {
                entry.owed.remove(sink);
                entry.told.insert(
                    sink,
                    Told {
                        at: now,
                        severity: *severity,
                    },
                );
            }
        }
        for key in &receipt.resolved {
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
        let failed = |err: &dyn std::fmt::Display| {
            Error::failed(format!("cannot write {}: {err}", self.path.display()))
        };
        let mut file = AtomicFile::create(&self.path, 0o600).map_err(|err| failed(&err))?;
        self.pace.retain(|_, pace| {
            pace.sent.retain(|at| now.saturating_sub(*at) < CAP_WINDOW);
            !pace.sent.is_empty() || !pace.held.is_empty()
        });
        let saving = Saving {
            version: 1,
            alerts: &self.alerts,
            pace: &self.pace,
        };
        serde_json::to_writer(&mut file, &saving).map_err(|err| failed(&err))?;
        file.write_all(b"\n").map_err(|err| failed(&err))?;
        let committed = file.commit().map_err(|err| failed(&err));
        // Still under the lock: the file there is the one just written, or
        // (the commit failed before its rename) the one before it, which
        // what is in memory is newer than.
        self.seen = Stamp::now(&self.path);
        committed
    }
}

/// Rebuilds `map` with full B-tree nodes. Inserting one key after another
/// leaves nodes a third (random keys) to half (keys in order, as read from
/// the file) empty: a fifth of the ledger's memory with 100,000 alerts.
/// `append` of two non-empty maps builds the tree afresh from both sorted
/// sequences, freeing the old nodes as it goes, so no second copy is made.
fn pack<V>(map: &mut BTreeMap<String, V>) {
    let Some(last) = map.last_key_value().map(|(k, _)| k.clone()) else {
        return;
    };
    let mut tail = map.split_off(&last);
    map.append(&mut tail);
}

/// The state in `path` and the file it was read from; none when it does
/// not exist yet.
fn read(path: &Path) -> Result<(Saved, Option<Stamp>), Error> {
    match std::fs::File::open(path) {
        // Stamped from the open file: the version read, whatever replaces
        // it meanwhile.
        Ok(file) => serde_json::from_reader::<_, Saved>(BufReader::with_capacity(1 << 16, &file))
            .map(|mut saved| {
                pack(&mut saved.alerts);
                (saved, file.metadata().ok().map(|m| Stamp::of(&m)))
            })
            .map_err(|err| {
                if err.is_io() {
                    Error::failed(format!("cannot read {}: {err}", path.display()))
                } else {
                    Error::bad_input(format!(
                        "{}: not a secops-notify state file: {err} (move it away to start afresh)",
                        path.display()
                    ))
                }
            }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok((
            Saved {
                version: 1,
                alerts: BTreeMap::new(),
                pace: BTreeMap::new(),
            },
            None,
        )),
        Err(err) => Err(Error::failed(format!(
            "cannot read {}: {err}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::identify;

    fn alert(severity: Severity, percent: u32) -> Record {
        Record::new(
            "disk-alert",
            "disk.alert",
            severity,
            format!("/var is {percent}% full"),
        )
        .with("mount", "/var")
        .firing(&["space", "/var"])
    }

    fn recovered() -> Record {
        Record::new(
            "disk-alert",
            "disk.recovered",
            Severity::Info,
            "/var is back",
        )
        .with("mount", "/var")
        .resolved(&["space", "/var"])
    }

    const HOUR: Duration = Duration::from_secs(3600);

    fn arrivals(records: &[Record]) -> Vec<Arrival> {
        records
            .iter()
            .map(|r| Arrival::new(r, identify(r).expect("an alert")))
            .collect()
    }

    #[test]
    fn repeats_wait_for_the_interval_unless_it_gets_worse() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::load(dir.path()).unwrap();
        ledger
            .absorb(
                arrivals(&[alert(Severity::Medium, 85)]),
                &[("email", Severity::Info)],
                1000,
                HOUR,
            )
            .unwrap();
        let due = ledger.due("email");
        assert_eq!(due.firing.len(), 1);
        ledger.paid("email", &due.receipt(), 1000, false).unwrap();

        ledger
            .absorb(
                arrivals(&[alert(Severity::Medium, 86)]),
                &[("email", Severity::Info)],
                2000,
                HOUR,
            )
            .unwrap();
        assert!(
            ledger.due("email").is_empty(),
            "repeated within the interval"
        );
        ledger
            .absorb(
                arrivals(&[alert(Severity::High, 91)]),
                &[("email", Severity::Info)],
                2100,
                HOUR,
            )
            .unwrap();
        assert_eq!(
            ledger.due("email").firing.len(),
            1,
            "escalation goes out at once"
        );
        let due = ledger.due("email");
        ledger.paid("email", &due.receipt(), 2100, false).unwrap();
        ledger
            .absorb(
                arrivals(&[alert(Severity::High, 91)]),
                &[("email", Severity::Info)],
                2100 + 3600,
                HOUR,
            )
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
                arrivals(&[alert(Severity::High, 93)]),
                &[("email", Severity::Info), ("webhook", Severity::Info)],
                10,
                HOUR,
            )
            .unwrap();
        let due = ledger.due("email");
        ledger.paid("email", &due.receipt(), 10, false).unwrap();
        ledger
            .absorb(
                arrivals(&[recovered()]),
                &[("email", Severity::Info), ("webhook", Severity::Info)],
                20,
                HOUR,
            )
            .unwrap();
        assert!(ledger.due("webhook").is_empty());
        assert_eq!(ledger.due("email").resolved.len(), 1);

        // The recovery send failed: a later run still owes it.
        let mut again = Ledger::load(dir.path()).unwrap();
        let due = again.due("email");
        assert_eq!(due.resolved.len(), 1);
        again.paid("email", &due.receipt(), 30, false).unwrap();
        assert!(again.alerts.is_empty());
        // An ending with no alert behind it is ignored.
        again
            .absorb(
                arrivals(&[recovered()]),
                &[("email", Severity::Info)],
                40,
                HOUR,
            )
            .unwrap();
        assert!(again.due("email").is_empty());
    }

    #[test]
    fn two_runs_sharing_the_directory_keep_each_others_changes() {
        let dir = tempfile::tempdir().unwrap();
        let mut disk = Ledger::load(dir.path()).unwrap();
        let mut fim = Ledger::load(dir.path()).unwrap();
        disk.absorb(
            arrivals(&[alert(Severity::High, 93)]),
            &[("email", Severity::Info)],
            10,
            HOUR,
        )
        .unwrap();
        let changed = Record::new("fim-check", "fim.changed", Severity::High, "x")
            .with("path", "/etc/passwd")
            .firing(&["path", "/etc/passwd"]);
        fim.absorb(arrivals(&[changed]), &[("email", Severity::Info)], 11, HOUR)
            .unwrap();
        let due = fim.due("email");
        assert_eq!(due.firing.len(), 2, "the other run's alert is seen");
        fim.paid("email", &due.receipt(), 12, false).unwrap();
        let after = Ledger::load(dir.path()).unwrap();
        assert!(after.due("email").is_empty());
        assert_eq!(after.alerts.len(), 2);
    }

    /// A state that cannot be saved (here: its lock, or the file's
    /// directory, is missing) still takes every change in memory, so the
    /// run sends what it owes and does not send it twice; the next save
    /// that works writes all of it.
    #[test]
    fn changes_that_cannot_be_saved_are_kept_in_memory() {
        type Break = fn(&mut Ledger, &Path);
        let cases: [(&str, Break); 2] = [
            ("save", |ledger, dir| {
                ledger.path = dir.join("later").join(FILE);
            }),
            ("lock", |ledger, dir| {
                ledger.lock = dir.join("later").join(LOCK);
            }),
        ];
        for (what, broken) in cases {
            let dir = tempfile::tempdir().unwrap();
            let mut ledger = Ledger::load(dir.path()).unwrap();
            broken(&mut ledger, dir.path());
            let var = arrivals(&[alert(Severity::High, 93)]);
            let err = ledger
                .absorb(var.clone(), &[("email", Severity::Info)], 10, HOUR)
                .unwrap_err();
            assert_eq!(err.exit, secops_common::Exit::Failed, "{what}: {err}");
            let due = ledger.due("email");
            assert_eq!(due.firing.len(), 1, "{what}: the alert is still owed");
            let receipt = due.receipt();
            assert!(ledger.paid("email", &receipt, 11, false).is_err(), "{what}");
            assert!(
                ledger.due("email").is_empty(),
                "{what}: owed after its send"
            );
            assert!(
                ledger
                    .absorb(var, &[("email", Severity::Info)], 20, HOUR)
                    .is_err()
            );
            assert!(
                ledger.due("email").is_empty(),
                "{what}: the unsaved send was forgotten, so the alert would go out again"
            );

            std::fs::create_dir(dir.path().join("later")).unwrap();
            ledger
                .absorb(
                    arrivals(&[recovered()]),
                    &[("email", Severity::Info)],
                    30,
                    HOUR,
                )
                .unwrap();
            let saved = Ledger::load(ledger.path.parent().unwrap()).unwrap();
            assert_eq!(saved.due("email").resolved.len(), 1, "{what}");
            assert_eq!(saved.alerts.len(), 1, "{what}");
        }
    }

    /// The in-memory form (sink vectors, packed map, arrivals as lines)
    /// must save exactly the file the B-tree form saved: same key order,
    /// sinks sorted, a repeated sink once, the last of a repeated key.
    #[test]
    fn the_file_reads_and_saves_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let line = alert(Severity::High, 93).to_json();
        let entry = |owed: &str, told: &str| {
            format!(
                r#"{{"status":"firing","record":{},"first_seen":5,"last_seen":7,"seq":3,"told":{told},"owed":{owed}}}"#,
                serde_json::to_string(&line).unwrap()
            )
        };
        let keys: Vec<String> = (0..40).map(|i| format!("[\"k{i:02}\"]")).collect();
        let mut alerts: Vec<String> = keys
            .iter()
            .map(|k| {
                let e = entry(
                    r#"["webhook","email"]"#,
                    r#"{"syslog":{"at":1,"severity":"low"},"email":{"at":2,"severity":"high"}}"#,
                );
                format!("{}:{e}", serde_json::to_string(k).unwrap())
            })
            .collect();
        // A repeated key: the last one counts, as a map insert would have.
        alerts.push(format!(
            "{}:{}",
            serde_json::to_string(&keys[0]).unwrap(),
            entry(r#"["exec","exec"]"#, "{}")
        ));
        std::fs::write(
            dir.path().join(FILE),
            format!(r#"{{"version":1,"alerts":{{{}}}}}"#, alerts.join(",")) + "\n",
        )
        .unwrap();

        let mut ledger = Ledger::load(dir.path()).unwrap();
        ledger.save(7).unwrap();
        let saved = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        let expected: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let e = if i == 0 {
                    entry(r#"["exec"]"#, "{}")
                } else {
                    entry(
                        r#"["email","webhook"]"#,
                        r#"{"email":{"at":2,"severity":"high"},"syslog":{"at":1,"severity":"low"}}"#,
                    )
                };
                format!("{}:{e}", serde_json::to_string(k).unwrap())
            })
            .collect();
        assert_eq!(
            saved,
            format!(r#"{{"version":1,"alerts":{{{}}}}}"#, expected.join(",")) + "\n"
        );
        assert_eq!(ledger.due("exec").firing.len(), 1);
        assert_eq!(ledger.due("email").firing.len(), 39);
        assert_eq!(ledger.due("email").firing[0].line, line);

        // Many new alerts (the map is repacked) and a settle (in memory,
        // the file being this run's own) still save what a re-read gives.
        let batch: Vec<Record> = (0..500)
            .map(|i| {
                let mount = format!("/m{i}");
                alert(Severity::Critical, 90)
                    .with("mount", mount.as_str())
                    .firing(&["space", &mount])
            })
            .collect();
        ledger
            .absorb(arrivals(&batch), &[("email", Severity::Info)], 8, HOUR)
            .unwrap();
        let due = ledger.due("email");
        assert_eq!(due.firing.len(), 539);
        assert_eq!(due.firing[0].severity, Severity::Critical);
        let receipt = due.receipt();
        ledger.paid("email", &receipt, 9, false).unwrap();
        let mine = std::fs::read(dir.path().join(FILE)).unwrap();
        let mut again = Ledger::load(dir.path()).unwrap();
        again.save(9).unwrap();
        assert_eq!(std::fs::read(dir.path().join(FILE)).unwrap(), mine);
        assert!(again.due("email").is_empty());
        assert_eq!(again.alerts.len(), 540);
    }
}
