//! "What did I see last time, and what changed": the one run-to-run memory
//! of every tool. A tool remembers records under keys during a pass (for
//! alerts the key is the `alert_id`); at the end of the pass it learns which
//! keys the previous pass remembered and this one did not, and those become
//! its `resolved` (or `closed`, `gone`) records. Between `--interval` passes
//! the memory is in the process; between cron runs it is a file in the
//! state directory, so an alert raised by one run is resolved by the next.
//!
//! The file, `NAME.last-run.json`, is one JSON object, written atomically
//! and mode 0600: `{"version":1,"saved":TS,"entries":{KEY:RECORD,...}}`,
//! entries in key order. A newer or unknown version is refused (a downgrade
//! must not silently drop what a newer version remembered); a damaged file
//! is named in a warning and replaced, which costs one run its resolutions,
//! never its alerts.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::exit::{Context, Error};
use crate::record::{Record, now_rfc3339};

/// The file format's version.
const VERSION: u64 = 1;

/// Records remembered by key, from the last pass and this one.
#[derive(Debug, Default)]
pub struct LastRun {
    /// The file, or none for a memory that lives as long as the process.
    path: Option<PathBuf>,
    /// What the previous pass (or run) remembered.
    before: BTreeMap<String, Record>,
    /// What this pass has remembered so far.
    now: BTreeMap<String, Record>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u64,
    saved: String,
    entries: BTreeMap<String, Record>,
}

impl LastRun {
    /// A memory kept only while the process runs (`--interval` without a
    /// state directory, `--no-state`).
    pub fn in_memory() -> LastRun {
        LastRun::default()
    }

    /// What the last run left under `name` in the state directory `dir`
    /// (nothing on a first run).
    pub fn load(dir: &Path, name: &str) -> Result<LastRun, Error> {
        let path = dir.join(format!("{name}.last-run.json"));
        let before = match std::fs::read(&path) {
            Ok(bytes) => parse(&path, &bytes)?,
            Err(err) if err.kind() == ErrorKind::NotFound => BTreeMap::new(),
            Err(err) => {
                return Err(Error::failed(format!(
                    "cannot read {}: {err}",
                    path.display()
                )));
            }
        };
        Ok(LastRun {
            path: Some(path),
            before,
            now: BTreeMap::new(),
        })
    }

    /// What the previous pass remembered under `key`.
    pub fn previous(&self, key: &str) -> Option<&Record> {
        self.before.get(key)
    }

    /// Remembers `rec` under `key` for the next pass, returning what the
    /// previous pass remembered under it.
    pub fn remember(&mut self, key: impl Into<String>, rec: Record) -> Option<&Record> {
        let key = key.into();
        let previous = self.before.get(&key);
        self.now.insert(key, rec);
        previous
    }

    /// Remembers a firing record under its `alert_id`, returning the
    /// previous pass's record of the same alert (to keep its `since`, say).
    /// A record that is not firing is not remembered.
    pub fn fire(&mut self, rec: &Record) -> Option<&Record> {
        let id = rec.alert_id()?.to_string();
        self.remember(id, rec.clone())
    }

    /// Ends the pass: returns, in key order, what the previous pass
    /// remembered and this one did not, among the records `in_scope` says
    /// this pass looked at. Those out of scope (a mount this run was not
    /// asked about) are carried over unchanged. This pass becomes the
    /// previous one.
    pub fn end_pass(&mut self, mut in_scope: impl FnMut(&Record) -> bool) -> Vec<Record> {
        let before = std::mem::take(&mut self.before);
        let mut gone = Vec::new();
        for (key, rec) in before {
            if self.now.contains_key(&key) {
                continue;
            }
            if in_scope(&rec) {
                gone.push(rec);
            } else {
                self.now.insert(key, rec);
            }
        }
        self.before = std::mem::take(&mut self.now);
        gone
    }

    /// What the last ended pass remembered, in key order.
    pub fn remembered(&self) -> impl Iterator<Item = (&str, &Record)> {
        self.before.iter().map(|(k, r)| (k.as_str(), r))
    }

    /// Writes what the last ended pass remembered to the file, if there is
    /// one. Call it once the pass's records are out, so a run whose output
    /// failed reports the same changes again next time.
    pub fn save(&self) -> Result<(), Error> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let file = FileRef {
            version: VERSION,
            saved: now_rfc3339(),
            entries: &self.before,
        };
        let mut bytes = serde_json::to_vec(&file).expect("records always serialize");
        bytes.push(b'\n');
        crate::atomic::write_atomic(path, &bytes, 0o600)
            .context(|| format!("cannot write {}", path.display()))
    }
}

/// [`File`] borrowing the entries, to save without copying them.
#[derive(Serialize)]
struct FileRef<'a> {
    version: u64,
    saved: String,
    entries: &'a BTreeMap<String, Record>,
}

fn parse(path: &Path, bytes: &[u8]) -> Result<BTreeMap<String, Record>, Error> {
    // The version first, so a newer file is refused rather than reported
    // as damaged.
    #[derive(Deserialize)]
    struct Version {
        version: Option<u64>,
    }
    if let Ok(Version {
        version: Some(version),
    }) = serde_json::from_slice(bytes)
        && version != VERSION
    {
        return Err(Error::bad_input(format!(
            "{}: field `version`: {version} is not a version this build reads ({VERSION}); \
             it was written by another version of the tool: move it away to start afresh",
            path.display()
        )));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, File>(&mut de) {
        Ok(file) => Ok(file.entries),
        Err(err) => {
            crate::warn!(
                "{}: damaged ({} at line {}: {}); what ended since the last run is not reported this time, and the file is replaced",
                path.display(),
                err.path(),
                err.inner().line(),
                err.inner()
            );
            Ok(BTreeMap::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;

    fn alert(id: &str) -> Record {
        Record::new("t", "k", Severity::High, id).firing(&[id])
    }

    #[test]
    fn passes_report_what_is_gone_and_carry_what_is_out_of_scope() {
        let mut mem = LastRun::in_memory();
        assert!(mem.fire(&alert("a")).is_none());
        mem.fire(&alert("b"));
        mem.fire(&alert("c"));
        assert!(mem.end_pass(|_| true).is_empty());

        // Pass 2: a again, b gone, c not looked at.
        assert_eq!(mem.fire(&alert("a")).unwrap().message, "a");
        let gone = mem.end_pass(|rec| rec.message != "c");
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].message, "b");
        let kept: Vec<&str> = mem.remembered().map(|(_, r)| r.message.as_str()).collect();
        assert_eq!(kept.len(), 2);
        assert!(kept.contains(&"a") && kept.contains(&"c"));

        // An observation is never remembered as an alert.
        assert!(
            mem.fire(&Record::new("t", "k", Severity::High, "o"))
                .is_none()
        );
    }

    #[test]
    fn runs_share_a_private_versioned_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut first = LastRun::load(dir.path(), "t").unwrap();
        first.fire(&alert("a"));
        first.fire(&alert("b"));
        first.end_pass(|_| true);
        first.save().unwrap();
        let path = dir.path().join("t.last-run.json");
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(r#"{"version":1,"saved":""#), "{text}");

        let mut second = LastRun::load(dir.path(), "t").unwrap();
        second.fire(&alert("a"));
        let gone = second.end_pass(|_| true);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].message, "b");
        assert_eq!(gone[0].alert_id(), alert("b").alert_id());
    }

    #[test]
    fn a_newer_file_is_refused_and_a_damaged_one_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.last-run.json");
        std::fs::write(&path, r#"{"version":2,"saved":"x","entries":{}}"#).unwrap();
        let err = LastRun::load(dir.path(), "t").unwrap_err();
        assert!(err.message.contains("field `version`: 2"), "{err}");
        assert!(err.message.contains("t.last-run.json"), "{err}");

        std::fs::write(
            &path,
            r#"{"version":1,"saved":"x","entries":{"a":{"ts":1}}}"#,
        )
        .unwrap();
        let mut mem = LastRun::load(dir.path(), "t").unwrap();
        assert!(mem.end_pass(|_| true).is_empty());
        mem.save().unwrap();
        assert!(LastRun::load(dir.path(), "t").is_ok());
    }
}
