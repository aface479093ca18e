//! `--state-dir` for one-shot runs: the listeners of the previous run, kept
//! as the `port.closed` records they would become, so that a cron run can
//! say what closed since the last one. Without it a port that closes
//! between two cron runs just stops being listed, and its alert stays open
//! in secops-notify until it expires.
//!
//! A listener is identified by protocol, address and port, not by inode as
//! in `--interval` mode: a service restarted between two cron runs is still
//! listening, and that is not news.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use secops_common::record::{hostname, now_rfc3339};
use secops_common::{Error, Record};

use crate::records::closed_record;
use crate::scan::Port;

/// The file in the state directory.
const FILE: &str = "traffic-cop.listeners.jsonl";

type Key = (String, String, u64);

/// The previous run's listeners, and this run's once [`LastRun::compare`]
/// has seen them.
pub struct LastRun {
    path: PathBuf,
    listeners: HashMap<Key, Record>,
}

impl LastRun {
    /// Reads what the previous run left in `dir` (nothing on a first run).
    /// A damaged file costs the recoveries of one run, not the run: it is
    /// named in a warning and replaced at the end.
    pub fn load(dir: &Path) -> Result<LastRun, Error> {
        let path = secops_common::state::state_dir(Some(dir))?.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(err) => {
                return Err(Error::failed(format!(
                    "cannot read {}: {err}",
                    path.display()
                )));
            }
        };
        let mut listeners = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            match Record::from_json(line)
                .ok()
                .and_then(|r| Some((key_of(&r)?, r)))
            {
                Some((key, rec)) => {
                    listeners.insert(key, rec);
                }
                None => {
                    secops_common::warn!(
                        "{}:{}: not a listener record; closures since the last run are not reported this time",
                        path.display(),
                        n + 1
                    );
                    listeners.clear();
                    break;
                }
            }
        }
        Ok(LastRun { path, listeners })
    }

    /// The `port.closed` records of listeners gone since the last run,
    /// stamped now; `ports` become the listeners the next run compares with.
    pub fn compare(&mut self, ports: &[Port]) -> Vec<Record> {
        let now: HashMap<Key, Record> = ports
            .iter()
            .filter(|p| p.socket.is_server())
            .filter_map(|p| {
                let rec = closed_record(p);
                Some((key_of(&rec)?, rec))
            })
            .collect();
        let before = std::mem::replace(&mut self.listeners, now);
        let mut closed: Vec<(Key, Record)> = before
            .into_iter()
            .filter(|(key, _)| !self.listeners.contains_key(key))
            .collect();
        closed.sort_by(|a, b| (a.0.2, &a.0.0, &a.0.1).cmp(&(b.0.2, &b.0.0, &b.0.1)));
        closed
            .into_iter()
            .map(|(_, mut rec)| {
                rec.ts = now_rfc3339();
                rec.host = hostname().to_string();
                rec
            })
            .collect()
    }

    /// Keeps this run's listeners for the next run. Called only once the
    /// records are out, so a run whose output failed reports its closures
    /// again next time.
    pub fn save(&self) -> Result<(), Error> {
        let mut text = String::new();
        for rec in self.listeners.values() {
            text.push_str(&rec.to_json());
            text.push('\n');
        }
        secops_common::atomic::write_atomic(&self.path, text.as_bytes(), 0o600)
            .map_err(|err| Error::failed(format!("cannot write {}: {err}", self.path.display())))
    }
}

/// Protocol, address and port of a `port.closed` record: the one
/// definition of a listener's identity, for saved and new records alike.
fn key_of(rec: &Record) -> Option<Key> {
    let field = |name: &str| rec.fields.get(name);
    Some((
        field("proto")?.as_str()?.to_string(),
        field("addr")?.as_str()?.to_string(),
        field("port")?.as_u64()?,
    ))
}
