//! What fim-check reported as firing, remembered so that it can say when
//! each alert is over (docs/records.md, "Alerts").
//!
//! A difference (`fim.added`, `fim.removed`, `fim.changed`) is one alert
//! per path; a path that could not be checked (`fim.error`) is another;
//! a baseline that cannot be trusted (`fim.baseline_invalid`) a third.
//! Every run writes what holds as firing. What the previous run (or watch
//! pass) reported and this one no longer finds, among the paths this one
//! looked at, gets one `fim.resolved`: restored, accepted by `update` or
//! `init --force`, checked again, or the baseline valid again.
//!
//! The memory is secops-common's [`LastRun`] in the state directory
//! (`fim-check.last-run.json`), shared by every baseline: each remembered
//! record names its baseline, and a run only resolves its own baseline's
//! alerts (the same path under two baselines is two memories of one
//! alert). A default state directory that cannot be used costs the
//! resolutions across runs, never the alerts.

use std::path::{Path, PathBuf};

use secops_common::cli::StateArgs;
use secops_common::prom::Findings;
use secops_common::{Error, LastRun, Output, Record};
use serde_json::Value;

use crate::names::from_base64;
use crate::records::{Reason, baseline_invalid_record, resolved_record};

/// The memory's name in the state directory.
const NAME: &str = "fim-check";

/// What was firing about one baseline, and what is now.
pub struct Alerts {
    memory: LastRun,
    /// The baseline as given, for records.
    baseline: PathBuf,
    key: PathBuf,
    /// The baseline's absolute path: which remembered alerts are ours.
    scope: String,
}

impl Alerts {
    /// The memory of the alerts about `baseline` (sealed with `key`).
    pub fn open(state: &StateArgs, baseline: &Path, key: &Path) -> Alerts {
        let memory = match state.dir().and_then(|dir| LastRun::load(&dir, NAME)) {
            Ok(memory) => memory,
            Err(err) => {
                secops_common::warn!("{err}; alerts that end are only reported within this run");
                LastRun::in_memory()
            }
        };
        let scope = std::path::absolute(baseline).unwrap_or_else(|_| baseline.to_path_buf());
        Alerts {
            memory,
            baseline: baseline.to_path_buf(),
            key: key.to_path_buf(),
            scope: scope.to_string_lossy().into_owned(),
        }
    }

    fn key_of(&self, rec: &Record) -> Option<String> {
        Some(format!("{} {}", rec.alert_id()?, self.scope))
    }

    /// Remembers a firing record this pass wrote (or would have: watch
    /// does not repeat itself).
    pub fn fire(&mut self, rec: &Record) {
        let Some(key) = self.key_of(rec) else {
            return;
        };
        let mut kept = rec.clone();
        kept.set("baseline", self.scope.as_str());
        self.memory.remember(key, kept);
    }

    /// Whether the previous pass had `rec`'s alert firing.
    pub fn was_firing(&self, rec: &Record) -> bool {
        self.key_of(rec)
            .is_some_and(|key| self.memory.previous(&key).is_some())
    }

    /// Ends the pass: the `fim.resolved` records of what was firing and no
    /// longer is, among the paths `looked` says this pass checked (the
    /// others are carried over, neither repeated nor resolved); a path
    /// `accepted` says went into the baseline as it is is `accepted`, any
    /// other `restored`.
    pub fn end_pass(
        &mut self,
        looked: impl Fn(&[u8]) -> bool,
        accepted: impl Fn(&[u8]) -> bool,
    ) -> Vec<Record> {
        let scope = self.scope.as_str();
        let ours = |rec: &Record| rec.fields.get("baseline").and_then(Value::as_str) == Some(scope);
        let ended = self.memory.end_pass(|rec| {
            ours(rec)
                && (rec.kind == "fim.baseline_invalid" || path_of(rec).is_some_and(|p| looked(&p)))
        });
        ended
            .iter()
            .map(|rec| {
                let reason = match rec.kind.as_str() {
                    "fim.baseline_invalid" => Reason::Valid,
                    "fim.error" => Reason::Checked,
                    _ if path_of(rec).is_some_and(|p| accepted(&p)) => Reason::Accepted,
                    _ => Reason::Restored,
                };
                resolved_record(rec, reason, &self.baseline)
            })
            .collect()
    }

    /// The alerts about this baseline held once the pass ended, by kind
    /// and severity (`--prom-file`'s findings): what this pass fired, and
    /// what it carried over about paths it could not look at. What a pass
    /// fired and then resolved (`update` accepting a difference) is over.
    pub fn findings(&self) -> Findings {
        let scope = self.scope.as_str();
        let mut findings = Findings::default();
        for (_, rec) in self.memory.remembered() {
            if rec.fields.get("baseline").and_then(Value::as_str) == Some(scope) {
                findings.observe(rec);
            }
        }
        findings
    }

    /// Writes the memory for the next run.
    pub fn save(&self) -> Result<(), Error> {
        self.memory.save()
    }

    /// The baseline cannot be trusted, so nothing was compared: writes
    /// the critical `fim.baseline_invalid` alert (a pipe into secops-notify
    /// reads records, not stderr), keeps every other alert as it was, and
    /// hands back the error, which still sets the exit status.
    pub fn refuse(&mut self, out: &mut Output, err: Error) -> Error {
        let rec = baseline_invalid_record(&self.baseline, &self.key, &err);
        let written = out.write(&rec).and_then(|()| out.flush());
        self.fire(&rec);
        self.end_pass(|_| false, |_| false);
        if let Err(save) = self.save() {
            secops_common::warn!("{save}");
        }
        if let Err(write) = written {
            secops_common::warn!("{write}");
        }
        err.recorded()
    }
}

/// The exact path a remembered record is about.
fn path_of(rec: &Record) -> Option<Vec<u8>> {
    if let Some(b64) = rec.fields.get("path_b64").and_then(Value::as_str) {
        return from_base64(b64);
    }
    rec.fields
        .get("path")
        .and_then(Value::as_str)
        .map(|p| p.as_bytes().to_vec())
}
