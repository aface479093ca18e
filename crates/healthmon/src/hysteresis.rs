//! monit-style hysteresis: a threshold crossing is reported only after it
//! holds for `for` consecutive samples, once (not again every sample while
//! it holds), and its recovery only after `clear` consecutive samples below
//! it. A spike shorter than `for` samples is never news; a value hovering
//! at the threshold does not flap.
//!
//! Each (metric, subject) pair is a condition with a level: ok, warning or
//! critical. The level rises to the highest level held for `for` samples
//! and falls to the lowest level every sample has stayed under for `clear`
//! samples; each change is a [`Transition`], and only changes are.

use std::collections::HashMap;
use std::time::SystemTime;

use crate::thresholds::{Level, Metric, Rule, Rules};

/// What a condition is about.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// The machine as a whole (cpu, mem, swap, load, procs).
    Host,
    Mount {
        mount: String,
        device: String,
        fstype: String,
    },
    Process {
        pid: u32,
        /// Start time in ticks since boot, so a reused pid is another
        /// process.
        start: u64,
        name: String,
        user: Option<String>,
    },
}

/// What identifies a subject across samples.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SubjectKey {
    Host,
    Mount(String),
    Process(u32, u64),
}

impl Subject {
    pub fn key(&self) -> SubjectKey {
        match self {
            Subject::Host => SubjectKey::Host,
            Subject::Mount { mount, .. } => SubjectKey::Mount(mount.clone()),
            Subject::Process { pid, start, .. } => SubjectKey::Process(*pid, *start),
        }
    }
}

/// A condition's level changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub metric: Metric,
    pub subject: Subject,
    pub from: Level,
    pub to: Level,
    /// The figure of the sample that made the change; `None` when the
    /// subject is gone (unmounted, exited).
    pub value: Option<f64>,
    pub rule: Rule,
    /// For an alert, the first sample of the run that reached its level;
    /// for a recovery, the first sample of the whole episode.
    pub since: SystemTime,
    /// The first sample of the whole episode.
    pub episode_since: SystemTime,
    /// The highest figure since the episode began.
    pub peak: f64,
}

/// A condition at warning or critical as an earlier run left it, to carry
/// on from (see [`Monitor::restore`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    pub metric: Metric,
    pub subject: Subject,
    pub level: Level,
    pub value: Option<f64>,
    pub since: SystemTime,
    pub episode_since: SystemTime,
    pub peak: f64,
    /// The samples in a row at or above warning and critical, and below
    /// them, when the earlier run said; else as if the level had just
    /// been reached.
    pub counts: Option<Counts>,
}

/// Consecutive samples at or above warning and critical (`above`), and
/// below them (`below`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub above: [u32; 2],
    pub below: [u32; 2],
}

#[derive(Debug, Clone)]
struct Condition {
    subject: Subject,
    level: Level,
    /// Consecutive samples at or above warning, and at or above critical.
    above: [u32; 2],
    /// Consecutive samples below warning, and below critical.
    below: [u32; 2],
    /// When each `above` run began.
    above_since: [SystemTime; 2],
    /// When the current episode began (its first sample above a level).
    episode_since: SystemTime,
    peak: f64,
    /// The last figure known.
    value: Option<f64>,
    seen_in: u64,
}

/// Every condition's state between samples.
#[derive(Debug, Default)]
pub struct Monitor {
    rules: Rules,
    conditions: HashMap<(Metric, SubjectKey), Condition>,
    sample: u64,
}

impl Monitor {
    pub fn new(rules: Rules) -> Monitor {
        Monitor {
            rules,
            ..Monitor::default()
        }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Starts a sample: every subject not observed before [`end_sample`]
    /// is gone.
    ///
    /// [`end_sample`]: Monitor::end_sample
    pub fn begin_sample(&mut self) {
        self.sample += 1;
    }

    /// Feeds one figure; `None` (a mount that timed out, a first sample
    /// without a baseline) keeps the condition as it was.
    pub fn observe(
        &mut self,
        metric: Metric,
        subject: Subject,
        value: Option<f64>,
        now: SystemTime,
        changes: &mut Vec<Transition>,
    ) {
        let Some(rule) = self.rules.get(metric).copied() else {
            return;
        };
        let cond = self
            .conditions
            .entry((metric, subject.key()))
            .or_insert_with(|| Condition {
                subject: Subject::Host,
                level: Level::Ok,
                above: [0; 2],
                below: [0; 2],
                above_since: [now; 2],
                episode_since: now,
                peak: 0.0,
                value: None,
                seen_in: 0,
            });
        cond.subject = subject;
        cond.seen_in = self.sample;
        let Some(value) = value else {
            return;
        };
        cond.value = Some(value);
        let level = rule.levels.level(value);
        for (i, at) in [Level::Warning, Level::Critical].into_iter().enumerate() {
            if level >= at {
                if cond.above[i] == 0 {
                    cond.above_since[i] = now;
                }
                cond.above[i] += 1;
                cond.below[i] = 0;
            } else {
                cond.above[i] = 0;
                cond.below[i] = cond.below[i].saturating_add(1);
            }
        }
        if cond.level == Level::Ok && cond.above[0] <= 1 {
            cond.peak = value;
        } else {
            cond.peak = cond.peak.max(value);
        }

        let raised = if cond.above[1] >= rule.for_samples {
            Level::Critical
        } else if cond.above[0] >= rule.for_samples {
            Level::Warning
        } else {
            Level::Ok
        };
        let lowered = if cond.below[0] >= rule.clear_samples {
            Level::Ok
        } else if cond.below[1] >= rule.clear_samples {
            Level::Warning
        } else {
            Level::Critical
        };
        let to = if raised > cond.level {
            raised
        } else if lowered < cond.level {
            lowered
        } else {
            return;
        };
        if cond.level == Level::Ok {
            cond.episode_since = cond.above_since[0];
        }
        let since = match to {
            Level::Ok => cond.episode_since,
            Level::Warning => cond.above_since[0],
            Level::Critical => cond.above_since[1],
        };
        changes.push(Transition {
            metric,
            subject: cond.subject.clone(),
            from: cond.level,
            to,
            value: Some(value),
            rule,
            since,
            episode_since: cond.episode_since,
            peak: cond.peak,
        });
        cond.level = to;
    }

    /// Carries on from an earlier run: the condition is at `level` with
    /// the sample counts it had (or as if it had held for `for` samples),
    /// so the next sample keeps it, raises it or (after `clear` samples
    /// below, counted across runs) ends it, as in one long run. A metric
    /// without a rule in this run is not restored.
    pub fn restore(&mut self, r: Restored) {
        let Some(rule) = self.rules.get(r.metric).copied() else {
            return;
        };
        let held = |at: Level| if r.level >= at { rule.for_samples } else { 0 };
        let counts = r.counts.unwrap_or(Counts {
            above: [held(Level::Warning), held(Level::Critical)],
            below: [0; 2],
        });
        self.conditions.insert(
            (r.metric, r.subject.key()),
            Condition {
                subject: r.subject,
                level: r.level,
                above: counts.above,
                below: counts.below,
                above_since: match r.level {
                    Level::Critical => [r.episode_since, r.since],
                    _ => [r.since; 2],
                },
                episode_since: r.episode_since,
                peak: r.peak,
                value: r.value,
                seen_in: self.sample,
            },
        );
    }

    /// Every condition at warning or critical, as a transition from its
    /// level to itself: what a run that begins says about alerts that
    /// hold (each run writes them while they hold).
    pub fn held(&self) -> Vec<Transition> {
        let mut held: Vec<Transition> = self
            .conditions
            .iter()
            .filter(|(_, c)| c.level > Level::Ok)
            .map(|((metric, _), c)| Transition {
                metric: *metric,
                subject: c.subject.clone(),
                from: c.level,
                to: c.level,
                value: c.value,
                rule: *self
                    .rules
                    .get(*metric)
                    .expect("conditions exist only for rules"),
                since: c.above_since[usize::from(c.level == Level::Critical)],
                episode_since: c.episode_since,
                peak: c.peak,
            })
            .collect();
        held.sort_by(|a, b| {
            (a.metric, key_text(&a.subject)).cmp(&(b.metric, key_text(&b.subject)))
        });
        held
    }

    /// Ends a sample: a subject not observed in it is gone, and an alert
    /// about it recovers (a full disk that was unmounted, a runaway process
    /// that exited).
    pub fn end_sample(&mut self, changes: &mut Vec<Transition>) {
        let sample = self.sample;
        let rules = &self.rules;
        self.conditions.retain(|(metric, _), cond| {
            if cond.seen_in == sample {
                // An idle process condition is the same as none; keeping
                // it would grow the map with every process ever seen.
                return !(matches!(cond.subject, Subject::Process { .. })
                    && cond.level == Level::Ok
                    && cond.above[0] == 0);
            }
            if cond.level > Level::Ok {
                changes.push(Transition {
                    metric: *metric,
                    subject: cond.subject.clone(),
                    from: cond.level,
                    to: Level::Ok,
                    value: None,
                    rule: *rules.get(*metric).expect("conditions exist only for rules"),
                    since: cond.episode_since,
                    episode_since: cond.episode_since,
                    peak: cond.peak,
                });
            }
            false
        });
    }

    /// A condition's sample counts, to carry them to the next run.
    pub fn counts(&self, metric: Metric, key: &SubjectKey) -> Option<Counts> {
        self.conditions.get(&(metric, key.clone())).map(|c| Counts {
            above: c.above,
            below: c.below,
        })
    }

    /// The current level of a condition; ok when it is not tracked.
    pub fn level(&self, metric: Metric, key: &SubjectKey) -> Level {
        self.conditions
            .get(&(metric, key.clone()))
            .map_or(Level::Ok, |c| c.level)
    }

    /// True when a process is being watched for `proc_cpu`, so its figure
    /// must be fed even when it is back under the threshold.
    pub fn tracks_process(&self, pid: u32, start: u64) -> bool {
        self.conditions
            .contains_key(&(Metric::ProcCpu, SubjectKey::Process(pid, start)))
    }

    /// Conditions at warning or critical now.
    pub fn alerts(&self) -> impl Iterator<Item = (Metric, &Subject, Level)> {
        self.conditions
            .iter()
            .filter(|(_, c)| c.level > Level::Ok)
            .map(|((metric, _), c)| (*metric, &c.subject, c.level))
    }
}

/// A subject's identity as text, to list conditions in a stable order.
fn key_text(subject: &Subject) -> String {
    match subject {
        Subject::Host => String::new(),
        Subject::Mount { mount, .. } => mount.clone(),
        Subject::Process { pid, .. } => format!("{pid:010}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thresholds::Levels;
    use std::time::Duration;

    fn monitor(warn: Option<f64>, crit: f64, for_samples: u32, clear_samples: u32) -> Monitor {
        let mut rules = Rules::default();
        for metric in [Metric::Cpu, Metric::ProcCpu] {
            rules.set(
                metric,
                Rule {
                    levels: Levels {
                        warn,
                        crit: Some(crit),
                    },
                    for_samples,
                    clear_samples,
                },
            );
        }
        Monitor::new(rules)
    }

    /// Feeds host cpu figures one second apart; returns, per sample, the
    /// level changes as `(from, to)`.
    fn feed(m: &mut Monitor, values: &[f64]) -> Vec<Vec<(Level, Level)>> {
        values
            .iter()
            .map(|v| {
                let mut changes = Vec::new();
                m.begin_sample();
                let now = SystemTime::UNIX_EPOCH + Duration::from_secs(m.sample);
                m.observe(Metric::Cpu, Subject::Host, Some(*v), now, &mut changes);
                m.end_sample(&mut changes);
                changes.iter().map(|t| (t.from, t.to)).collect()
            })
            .collect()
    }

    use Level::{Critical as C, Ok as K, Warning as W};

    #[test]
    fn alerts_after_for_samples_once_and_recovers_after_clear_samples() {
        let mut m = monitor(None, 90.0, 3, 2);
        let got = feed(
            &mut m,
            &[
                95.0, 95.0, 50.0, 95.0, 95.0, 95.0, 99.0, 97.0, 10.0, 95.0, 10.0, 10.0, 10.0,
            ],
        );
        let none = Vec::<(Level, Level)>::new();
        assert_eq!(
            got,
            [
                none.clone(), // 1 sample over: pending
                none.clone(), // 2
                none.clone(), // a dip resets the run
                none.clone(),
                none.clone(),
                vec![(K, C)], // the third consecutive sample over
                none.clone(), // held: no repeat
                none.clone(),
                none.clone(), // one clear sample is not enough
                none.clone(), // and a new one over restarts the count
                none.clone(),
                vec![(C, K)], // two clear samples in a row
                none,
            ]
        );
    }

    #[test]
    fn escalates_and_lowers_between_warning_and_critical() {
        let mut m = monitor(Some(80.0), 95.0, 2, 2);
        let got = feed(&mut m, &[85.0, 85.0, 99.0, 99.0, 85.0, 85.0, 50.0, 50.0]);
        let flat: Vec<(usize, (Level, Level))> = got
            .into_iter()
            .enumerate()
            .flat_map(|(i, c)| c.into_iter().map(move |t| (i, t)))
            .collect();
        assert_eq!(flat, [(1, (K, W)), (3, (W, C)), (5, (C, W)), (7, (W, K))]);
    }

    #[test]
    fn a_jump_straight_to_critical_is_one_alert() {
        let mut m = monitor(Some(80.0), 95.0, 1, 1);
        let got = feed(&mut m, &[99.0, 10.0]);
        assert_eq!(got, [vec![(K, C)], vec![(C, K)]]);
    }

    #[test]
    fn unknown_figures_hold_the_state_and_gone_subjects_recover() {
        let mut m = monitor(None, 90.0, 2, 1);
        let mut changes = Vec::new();
        let proc = |pid| Subject::Process {
            pid,
            start: 7,
            name: "hog".into(),
            user: Some("root".into()),
        };
        let t0 = SystemTime::UNIX_EPOCH;
        let at = |s| t0 + Duration::from_secs(s);
        for (s, value) in [(1, Some(99.0)), (2, None), (3, Some(99.0))] {
            m.begin_sample();
            m.observe(Metric::Cpu, proc(4), value, at(s), &mut changes);
            m.end_sample(&mut changes);
        }
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(
            changes[0].since,
            at(1),
            "the run began with the first sample over"
        );
        assert_eq!(m.alerts().count(), 1);
        m.begin_sample();
        m.end_sample(&mut changes);
        assert_eq!(
            (changes[1].to, changes[1].value, changes[1].since),
            (Level::Ok, None, at(1))
        );
        assert_eq!(m.alerts().count(), 0);
        assert_eq!(m.conditions.len(), 0);
    }

    #[test]
    fn idle_processes_are_not_remembered() {
        let mut m = monitor(None, 90.0, 2, 1);
        let mut changes = Vec::new();
        let hog = Subject::Process {
            pid: 9,
            start: 1,
            name: "x".into(),
            user: None,
        };
        let now = SystemTime::UNIX_EPOCH;
        m.begin_sample();
        m.observe(Metric::ProcCpu, hog.clone(), Some(99.0), now, &mut changes);
        m.end_sample(&mut changes);
        assert!(m.tracks_process(9, 1), "pending: one sample of two");
        assert_eq!(m.level(Metric::ProcCpu, &hog.key()), Level::Ok);
        m.begin_sample();
        m.observe(Metric::ProcCpu, hog, Some(1.0), now, &mut changes);
        m.end_sample(&mut changes);
        assert!(changes.is_empty() && m.conditions.is_empty());
    }

    #[test]
    fn a_restored_alert_holds_escalates_and_ends_as_in_one_run() {
        let at = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        let restored = |level| Restored {
            metric: Metric::Cpu,
            subject: Subject::Host,
            level,
            value: Some(97.0),
            since: at(10),
            episode_since: at(5),
            peak: 99.0,
            counts: None,
        };
        // Still above: no change, and held says it still holds.
        let mut m = monitor(Some(80.0), 95.0, 3, 1);
        m.restore(restored(C));
        assert_eq!(feed(&mut m, &[96.0]), [vec![]]);
        let held = m.held();
        assert_eq!(held.len(), 1);
        assert_eq!((held[0].from, held[0].to), (C, C));
        assert_eq!(
            (held[0].value, held[0].since, held[0].peak),
            (Some(96.0), at(10), 99.0)
        );
        // Below its levels: one recovery, for the whole episode.
        let mut changes = Vec::new();
        m.begin_sample();
        m.observe(Metric::Cpu, Subject::Host, Some(10.0), at(20), &mut changes);
        m.end_sample(&mut changes);
        assert_eq!(changes.len(), 1);
        assert_eq!((changes[0].from, changes[0].to), (C, K));
        assert_eq!((changes[0].since, changes[0].peak), (at(5), 99.0));
        assert!(m.held().is_empty());

        // A warning that goes critical escalates at once (it has held).
        let mut m = monitor(Some(80.0), 95.0, 1, 1);
        m.restore(restored(W));
        assert_eq!(feed(&mut m, &[99.0]), [vec![(W, C)]]);
        // Not observed at all (no figure for it this run): gone.
        let mut m = monitor(Some(80.0), 95.0, 1, 1);
        m.restore(restored(W));
        let mut changes = Vec::new();
        m.begin_sample();
        m.end_sample(&mut changes);
        assert_eq!((changes[0].to, changes[0].value), (K, None));
        // Counts carried from earlier runs: the third run below ends it.
        let mut m = monitor(Some(80.0), 95.0, 1, 3);
        m.restore(Restored {
            counts: Some(Counts {
                above: [0; 2],
                below: [2; 2],
            }),
            ..restored(C)
        });
        assert_eq!(feed(&mut m, &[10.0]), [vec![(C, K)]]);
        let mut m = monitor(Some(80.0), 95.0, 1, 3);
        m.restore(restored(C));
        assert_eq!(feed(&mut m, &[10.0]), [vec![]]);
        assert_eq!(
            m.counts(Metric::Cpu, &SubjectKey::Host),
            Some(Counts {
                above: [0; 2],
                below: [1; 2]
            })
        );
        // A metric without a rule in this run is not carried on.
        let mut m = Monitor::new(Rules::default());
        m.restore(restored(C));
        assert!(m.held().is_empty());
    }
}
