//! What was alerting, remembered between runs (docs/records.md, "Alerts").
//!
//! Within a run the hysteresis monitor knows every condition's level and
//! says when one ends (`health.recovered`). Across runs (one sample from
//! cron, or a monitor restarted) the levels live in secops-common's
//! [`LastRun`] in the state directory (`healthmon.last-run.json`): each
//! condition at warning or critical after a sample is remembered as its
//! `health.alert` record, and a run restores into its monitor those it
//! judges (their metric has a threshold in this run; a mount this run
//! samples), so the first sample carries on as one long run would: it
//! holds the alert, raises it, or ends it with one `health.recovered`.
//! Alerts this run does not judge (another metric, a mount outside
//! `--mount`) are kept for the runs that do.
//!
//! A default state directory that cannot be used costs recoveries across
//! runs, never alerts; one given with `--state-dir` must work.

use std::collections::HashSet;
use std::time::SystemTime;

use secops_common::alert::alert_id;
use secops_common::record::rfc3339;
use secops_common::{Error, LastRun, Record, Severity, Stage};
use serde_json::Value;

use crate::cli::Args;
use crate::hysteresis::{Counts, Monitor, Restored, Subject, Transition};
use crate::records::{TOOL, alert_parts, transition_record};
use crate::sampler::Sample;
use crate::thresholds::{Level, Metric};

/// The memory's name in the state directory.
const NAME: &str = "healthmon";

/// Fields only the memory holds, to carry on exactly where a run stopped.
const EPISODE_SINCE: &str = "episode_since";
const START_TICKS: &str = "start_ticks";
/// Samples in a row at or above warning and critical, and below them.
const ABOVE: &str = "samples_above";
const BELOW: &str = "samples_below";

pub struct Alerts {
    memory: LastRun,
    /// Alerts remembered from an earlier run that this run does not judge.
    carried: HashSet<String>,
    /// What the memory file holds, by id and level: written again only
    /// when that changes (and at the end).
    saved: Vec<(String, String)>,
    /// The last failure to write the memory, and how many there were.
    failure: Option<(String, u64)>,
}

impl Alerts {
    /// The memory: the state directory's unless `--no-state`.
    pub fn open(args: &Args) -> Result<Alerts, Error> {
        let memory = if args.no_state {
            LastRun::in_memory()
        } else {
            match args.state.dir().and_then(|dir| LastRun::load(&dir, NAME)) {
                Ok(memory) => memory,
                Err(err) if args.state.state_dir.is_none() => {
                    secops_common::warn!(
                        "{err}; alerts raised by earlier runs are not recovered by this one"
                    );
                    LastRun::in_memory()
                }
                Err(err) => return Err(err),
            }
        };
        let saved = signature(&memory);
        Ok(Alerts {
            memory,
            carried: HashSet::new(),
            saved,
            failure: None,
        })
    }

    /// Before the first sample is judged: restores into `monitor` what an
    /// earlier run left alerting and this run judges (`all_mounts`: no
    /// `--mount` selection, so a mount missing from `sample` is gone).
    pub fn restore(&mut self, monitor: &mut Monitor, sample: &Sample, all_mounts: bool) {
        let sampled = |mount: &str| {
            sample
                .disks
                .iter()
                .any(|d| d.mount.mountpoint.as_os_str() == mount)
        };
        let mut restored = Vec::new();
        for (id, rec) in self.memory.remembered() {
            let Some(r) = restored_of(rec) else {
                // Unreadable (damaged, or from a build with other
                // metrics): in scope, so it is ended rather than kept
                // forever.
                continue;
            };
            let judged = monitor.rules().get(r.metric).is_some()
                && match &r.subject {
                    Subject::Mount { mount, .. } => all_mounts || sampled(mount),
                    _ => true,
                };
            if judged {
                restored.push(r);
            } else {
                self.carried.insert(id.to_string());
            }
        }
        for r in restored {
            monitor.restore(r);
        }
    }

    /// After a sample: remembers every condition at warning or critical,
    /// and returns a `health.recovered` for any remembered alert that
    /// ended without the monitor saying so (one it could not read back),
    /// so none is left firing.
    pub fn after_sample(
        &mut self,
        monitor: &Monitor,
        changes: &[Transition],
        at: SystemTime,
    ) -> Vec<Record> {
        for t in monitor.held() {
            let mut rec = transition_record(&t, at);
            rec.set(EPISODE_SINCE, rfc3339(t.episode_since));
            if let Subject::Process { start, .. } = t.subject {
                rec.set(START_TICKS, start);
            }
            if let Some(counts) = monitor.counts(t.metric, &t.subject.key()) {
                rec.set(ABOVE, counts.above.to_vec());
                rec.set(BELOW, counts.below.to_vec());
            }
            self.memory.fire(&rec);
        }
        let ended_now: HashSet<String> = changes
            .iter()
            .filter(|t| t.to == Level::Ok)
            .map(|t| {
                let parts = alert_parts(t.metric, &t.subject);
                alert_id(TOOL, &parts.iter().map(String::as_str).collect::<Vec<_>>())
            })
            .collect();
        let carried = &self.carried;
        self.memory
            .end_pass(|rec| rec.alert_id().is_some_and(|id| !carried.contains(id)))
            .into_iter()
            .filter(|rec| rec.alert_id().is_some_and(|id| !ended_now.contains(id)))
            .map(|rec| ended(&rec, at))
            .collect()
    }

    /// Writes the memory when what it holds changed, or always when
    /// `last`; a failure is a warning (a monitor keeps monitoring) and the
    /// run's exit status in the end.
    pub fn save(&mut self, last: bool) {
        let now = signature(&self.memory);
        if !last && now == self.saved {
            return;
        }
        match self.memory.save() {
            Ok(()) => self.saved = now,
            Err(err) => {
                let message = err.to_string();
                let count = match self.failure.take() {
                    Some((last, count)) if last == message => count + 1,
                    _ => {
                        secops_common::warn!("{message}");
                        1
                    }
                };
                self.failure = Some((message, count));
            }
        }
    }

    /// Fails the run (exit 3) if the memory could not be written.
    pub fn conclude(self) -> Result<(), Error> {
        match self.failure {
            Some((message, count)) if count > 1 => Err(Error::failed(format!(
                "{message} ({count} times): recoveries of these alerts will not be reported"
            ))),
            Some((message, _)) => Err(Error::failed(format!(
                "{message}: recoveries of these alerts will not be reported"
            ))),
            None => Ok(()),
        }
    }
}

/// The ids and levels the memory holds.
fn signature(memory: &LastRun) -> Vec<(String, String)> {
    memory
        .remembered()
        .map(|(id, rec)| {
            let level = rec.fields.get("level").and_then(Value::as_str);
            (id.to_string(), level.unwrap_or_default().to_string())
        })
        .collect()
}

/// A remembered `health.alert` as the condition it stands for.
fn restored_of(rec: &Record) -> Option<Restored> {
    let text = |name: &str| rec.fields.get(name).and_then(Value::as_str);
    let number = |name: &str| rec.fields.get(name).and_then(Value::as_f64);
    let time = |name: &str| text(name).and_then(|t| humantime::parse_rfc3339(t).ok());
    let metric = Metric::ALL
        .into_iter()
        .find(|m| Some(m.as_str()) == text("metric"))?;
    let level = match text("level")? {
        "warning" => Level::Warning,
        "critical" => Level::Critical,
        _ => return None,
    };
    let subject = match metric {
        Metric::Disk | Metric::Inodes => Subject::Mount {
            mount: text("mount")?.to_string(),
            device: text("device").unwrap_or_default().to_string(),
            fstype: text("fstype").unwrap_or_default().to_string(),
        },
        Metric::ProcCpu => Subject::Process {
            pid: u32::try_from(rec.fields.get("pid")?.as_u64()?).ok()?,
            start: rec.fields.get(START_TICKS)?.as_u64()?,
            name: text("process").unwrap_or_default().to_string(),
            user: text("user").map(str::to_string),
        },
        _ => Subject::Host,
    };
    let since = time("since")?;
    let pair = |name: &str| -> Option<[u32; 2]> {
        let list = rec.fields.get(name)?.as_array()?;
        let n = |i: usize| u32::try_from(list.get(i)?.as_u64()?).ok();
        Some([n(0)?, n(1)?])
    };
    let counts = match (pair(ABOVE), pair(BELOW)) {
        (Some(above), Some(below)) => Some(Counts { above, below }),
        _ => None,
    };
    Some(Restored {
        metric,
        subject,
        level,
        value: number("value"),
        since,
        episode_since: time(EPISODE_SINCE).unwrap_or(since),
        peak: number("peak").unwrap_or_default(),
        counts,
    })
}

/// The end of a remembered alert the monitor did not end itself.
fn ended(rec: &Record, at: SystemTime) -> Record {
    let id = rec.alert_id().unwrap_or_default().to_string();
    let mut done = Record::new(
        TOOL,
        "health.recovered",
        Severity::Info,
        "an alert remembered from an earlier run is cleared: it could not be read back",
    );
    done.ts = rfc3339(at);
    for name in ["metric", "mount", "pid"] {
        if let Some(value) = rec.fields.get(name) {
            done.set(name, value.clone());
        }
    }
    done.set("level", "ok");
    done.set("gone", true);
    done.with_alert(Stage::Resolved, id)
}
