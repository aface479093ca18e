//! Silences that outlast a run. A template (or a whole source) that went
//! quiet and is still quiet when the input ends is a firing alert; it ends
//! when the template logs again. Within one input the rule sees that
//! itself and writes the silence as `resolved`. Across runs it cannot:
//! when each run reads only what is new (`journalctl --since -1h`, as the
//! shipped timer does), the run in which the template comes back does not
//! hold the silence at all. So the firing silences are remembered in the
//! state directory (`anomalizer.last-run.json`, [`LastRun`]), and a later
//! run whose input shows the template, or the source, logging after the
//! silence began writes the end of it.
//!
//! Only silences are remembered. The other findings are about lines the
//! input holds (a rare line, a burst, a window): they fire while a run's
//! input shows them and nothing ends them, since a line that has rotated
//! out of the logs is not a problem solved, and telling an operator that a
//! rare line "resolved" would be noise (secops-notify forgets an alert a
//! week after the last run that reported it).
//!
//! A remembered silence whose source or template a run does not show (a
//! source not read this time, a template still quiet) stays remembered,
//! unchanged, for at most [`FORGET_AFTER`]: by then secops-notify has
//! forgotten the alert too, and a unit that was removed must not be kept
//! for ever.

use std::collections::HashSet;

use secops_common::{Alerting, Error, LastRun, Record, Stage};

use crate::input::mined::Origin;
use crate::mining::timestamp;

/// How long a remembered silence is kept without news of it.
const FORGET_AFTER: i64 = 7 * 24 * 3600;

/// The firing silences of earlier runs.
#[derive(Debug)]
pub struct Silences {
    memory: LastRun,
}

/// A silence an earlier run reported firing, and the line that shows it
/// is over.
#[derive(Debug, Clone)]
pub struct Over {
    /// The firing record the earlier run wrote.
    pub firing: Record,
    /// The latest line of its template (or source) in this run, after the
    /// silence began.
    pub back: Origin,
}

impl Silences {
    pub fn new(memory: LastRun) -> Silences {
        Silences { memory }
    }

    /// Remembers this run's firing silences among `written`, and returns
    /// each silence an earlier run remembered that is over: its template
    /// (or its source, for a whole source) logged after the silence began,
    /// as `logged_after(source, template, since)` finds, and this run did
    /// not already write its end. `now` is epoch seconds.
    pub fn pass(
        &mut self,
        written: &[Record],
        now: i64,
        logged_after: impl Fn(&str, Option<&str>, i64) -> Option<Origin>,
    ) -> Vec<Over> {
        let ended_here: HashSet<&str> = written
            .iter()
            .filter_map(|r| match r.alerting() {
                Alerting::Alert(Stage::Resolved, id) => Some(id),
                _ => None,
            })
            .collect();
        let firing = |r: &&Record| matches!(r.alerting(), Alerting::Alert(Stage::Firing, _));
        for rec in written
            .iter()
            .filter(|r| r.kind == "log.silence")
            .filter(firing)
        {
            self.memory.fire(rec);
        }
        let back = |rec: &Record| {
            let text = |name: &str| rec.fields.get(name).and_then(|v| v.as_str());
            let since = timestamp::leading(text("silent_from")?, now)?;
            logged_after(text("source")?, text("template"), since)
        };
        let forgotten = |rec: &Record| {
            timestamp::leading(&rec.ts, now).is_none_or(|ts| now - ts >= FORGET_AFTER)
        };
        let settled = |rec: &Record| rec.alert_id().is_some_and(|id| ended_here.contains(id));
        let gone = self
            .memory
            .end_pass(|rec| forgotten(rec) || settled(rec) || back(rec).is_some());
        gone.into_iter()
            .filter(|rec| !forgotten(rec) && !settled(rec))
            .filter_map(|firing| {
                let back = back(&firing)?;
                Some(Over { firing, back })
            })
            .collect()
    }

    /// Writes what is remembered, once this run's records are out.
    pub fn save(&self) -> Result<(), Error> {
        self.memory.save()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secops_common::Severity;

    fn silence(source: &str, template: Option<&str>, from: &str, ongoing: bool) -> Record {
        let mut rec = Record::new("anomalizer", "log.silence", Severity::Medium, "quiet")
            .with("detector", "silence")
            .with("source", source);
        if let Some(t) = template {
            rec = rec.with("template", t);
        }
        let rec = rec.with("silent_from", from).with("ongoing", ongoing);
        let parts: Vec<&str> = ["silence", source].into_iter().chain(template).collect();
        if ongoing {
            rec.firing(&parts)
        } else {
            rec.resolved(&parts)
        }
    }

    const FROM: &str = "2026-11-21T11:29:05Z";

    fn from_secs() -> i64 {
        timestamp::leading(FROM, 0).unwrap()
    }

    fn back_at(line: u64) -> Origin {
        Origin {
            file: 0,
            line,
            time: Some(from_secs() + 3600),
        }
    }

    /// `rec` as a run at `secs` wrote it.
    fn written_at(mut rec: Record, secs: i64) -> Record {
        rec.ts = timestamp::rfc3339(secs);
        rec
    }

    #[test]
    fn a_silence_ends_in_the_run_that_sees_its_template_again() {
        let now = from_secs() + 600;
        let mut mem = Silences::new(LastRun::in_memory());
        let beat = written_at(
            silence("app.log", Some("heartbeat ok seq=<*>"), FROM, true),
            now,
        );
        assert!(
            mem.pass(std::slice::from_ref(&beat), now, |_, _, _| None)
                .is_empty()
        );

        // Still quiet (or its source not read): nothing, and still
        // remembered.
        assert!(mem.pass(&[], now + 3600, |_, _, _| None).is_empty());

        // Back: ended once, by the alert the firing record named.
        let over = mem.pass(&[], now + 7200, |source, template, since| {
            assert_eq!(
                (source, template),
                ("app.log", Some("heartbeat ok seq=<*>"))
            );
            assert_eq!(since, from_secs());
            Some(back_at(7))
        });
        assert_eq!(over.len(), 1);
        assert_eq!(over[0].firing.alert_id(), beat.alert_id());
        assert_eq!(over[0].back, back_at(7));
        assert!(
            mem.pass(&[], now + 9000, |_, _, _| Some(back_at(8)))
                .is_empty()
        );
    }

    #[test]
    fn an_end_the_input_showed_is_not_written_twice() {
        let now = from_secs() + 600;
        let mut mem = Silences::new(LastRun::in_memory());
        let quiet = written_at(silence("-", None, FROM, true), now);
        mem.pass(&[quiet], now, |_, _, _| None);
        let ended = written_at(silence("-", None, FROM, false), now + 3600);
        let over = mem.pass(&[ended], now + 3600, |_, _, _| Some(back_at(1)));
        assert!(over.is_empty(), "{over:?}");
        assert!(
            mem.pass(&[], now + 7200, |_, _, _| Some(back_at(2)))
                .is_empty()
        );
    }

    #[test]
    fn a_silence_without_news_is_forgotten_after_a_week() {
        let now = from_secs() + 600;
        let mut mem = Silences::new(LastRun::in_memory());
        let quiet = written_at(silence("gone.service", None, FROM, true), now);
        mem.pass(&[quiet], now, |_, _, _| None);
        let week = FORGET_AFTER;
        assert!(mem.pass(&[], now + week - 60, |_, _, _| None).is_empty());
        // A week without news: dropped, and not ended by what comes later.
        assert!(mem.pass(&[], now + week, |_, _, _| None).is_empty());
        assert!(
            mem.pass(&[], now + week + 60, |_, _, _| Some(back_at(1)))
                .is_empty()
        );
    }
}
