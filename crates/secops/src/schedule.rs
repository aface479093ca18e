//! When a job is due. `every:` jobs are due an interval after their last
//! start; the first run of each is spread by a splay (osquery's splay,
//! systemd's RandomizedDelaySec): a fixed offset from the job's name, up to
//! a tenth of the interval and at most a minute, so jobs of the same
//! interval do not all start in the same second, and restarts keep each
//! job's phase. `cron:` jobs are due at the expression's next fire time
//! (local time, as cron) after their last start, or after the job was
//! first seen. Either way a job that missed many slots while secops was
//! down is due once, not once per slot (anacron, `Persistent=true`).

use std::time::{Duration, SystemTime};

use crate::history::{JobHistory, time_of};
use crate::settings::{Job, Schedule};

/// The next time `job` is due, given its memory.
pub fn next_due(job: &Job, memory: &JobHistory) -> Option<SystemTime> {
    match &job.schedule {
        Schedule::Every(interval) => Some(match memory.last_start_ms {
            Some(last) => time_of(last) + *interval,
            None => time_of(memory.seen_ms) + splay(&job.name, *interval),
        }),
        Schedule::Cron(cron) => {
            let after = memory.last_start_ms.unwrap_or(memory.seen_ms);
            next_fire(cron, time_of(after))
        }
    }
}

/// When `job` becomes stale: its last start (or, never run, when secops
/// first saw it) older than twice its interval. For a cron job that is
/// the second fire time after it: a whole slot went by without a start.
/// The scheduler stopped, a cron line for `--once` removed, a job that
/// hangs: each makes its job stale.
pub fn stale_at(job: &Job, memory: &JobHistory) -> Option<SystemTime> {
    let base = time_of(memory.last_start_ms.unwrap_or(memory.seen_ms));
    match &job.schedule {
        Schedule::Every(interval) => Some(base + *interval * 2),
        Schedule::Cron(cron) => next_fire(cron, next_fire(cron, base)?),
    }
}

/// The first fire time of `cron` strictly after `after`, in local time.
pub fn next_fire(cron: &croner::Cron, after: SystemTime) -> Option<SystemTime> {
    let ts = jiff::Timestamp::try_from(after).ok()?;
    let zoned = ts.to_zoned(jiff::tz::TimeZone::system());
    let next = cron.find_next_occurrence(&zoned, false).ok()?;
    Some(SystemTime::from(next.timestamp()))
}

/// A stable offset in [0, min(interval / 10, 60s)) from the job's name.
fn splay(name: &str, interval: Duration) -> Duration {
    let span = (interval / 10).min(Duration::from_secs(60)).as_millis() as u64;
    if span == 0 {
        return Duration::ZERO;
    }
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let hash = name.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    Duration::from_millis(hash % span)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::ms;
    use std::str::FromStr;

    #[test]
    fn splay_spreads_jobs_and_stays_within_bounds() {
        let hour = Duration::from_secs(3600);
        let a = splay("ports", hour);
        let b = splay("disk", hour);
        assert_ne!(a, b);
        assert!(a < Duration::from_secs(60) && b < Duration::from_secs(60));
        assert_eq!(splay("ports", hour), a, "stable");
        assert!(splay("x", Duration::from_secs(1)) < Duration::from_millis(100));
    }

    #[test]
    fn a_job_is_stale_after_twice_its_interval() {
        let job = |schedule| Job {
            name: "j".to_string(),
            what: crate::settings::What::Report(crate::settings::Report {
                since: Duration::from_secs(60),
                output: "r.html".into(),
            }),
            schedule,
            timeout: None,
        };
        let start = SystemTime::now() - Duration::from_secs(86400);
        let memory = JobHistory {
            last_start_ms: Some(ms(start)),
            ..JobHistory::default()
        };
        let every = job(Schedule::Every(Duration::from_secs(300)));
        let at = stale_at(&every, &memory).unwrap();
        assert_eq!(ms(at), ms(start) + 600_000);
        let hourly = job(Schedule::Cron(Box::new(
            croner::Cron::from_str("0 * * * *").unwrap(),
        )));
        let at = stale_at(&hourly, &memory).unwrap();
        let gap = at.duration_since(start).unwrap();
        assert!(gap > Duration::from_secs(3600) && gap <= Duration::from_secs(7200));
    }

    #[test]
    fn a_missed_cron_slot_is_due_once() {
        let cron = croner::Cron::from_str("0 * * * *").unwrap();
        let day_ago = SystemTime::now() - Duration::from_secs(86400);
        let memory = JobHistory {
            last_start_ms: Some(ms(day_ago)),
            ..JobHistory::default()
        };
        let next = next_fire(&cron, time_of(memory.last_start_ms.unwrap())).unwrap();
        // Due (in the past): one run catches up, and the next is after it.
        assert!(next < SystemTime::now());
        let after_catch_up = next_fire(&cron, SystemTime::now()).unwrap();
        assert!(after_catch_up > SystemTime::now());
    }
}
