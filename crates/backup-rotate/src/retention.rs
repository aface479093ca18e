//! Which backups a policy keeps: restic's `forget` rules, exactly.
//!
//! Backups are taken newest first. `--keep-last N` keeps the first N. Each
//! bucket rule (`hourly`, `daily`, `weekly`, `monthly`, `yearly`) walks the
//! same list and keeps a backup whenever its bucket (the hour, day, ISO
//! week...) differs from the bucket of the last backup that rule kept, until
//! it has kept N: the newest backup of each of the last N buckets that
//! have one. `--keep-within D` keeps everything less than D older than the
//! newest backup (not than now, so a host that stopped backing up does not
//! age out its last backups). A backup kept by any rule is kept.
//!
//! `--max-age D` is the old cron script's `find -mtime +7 -delete`: keep
//! what is younger than D measured from now.
//!
//! Buckets are in UTC, like the names. (restic uses local time; on a UTC
//! server, as most are, the two agree.)

use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::cli::PolicyArgs;

/// A retention policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub last: u32,
    pub hourly: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
    pub yearly: u32,
    pub within: Option<Duration>,
    pub max_age: Option<Duration>,
}

impl Policy {
    pub fn from_args(args: &PolicyArgs) -> Policy {
        Policy {
            last: args.keep_last.unwrap_or(0),
            hourly: args.keep_hourly.unwrap_or(0),
            daily: args.keep_daily.unwrap_or(0),
            weekly: args.keep_weekly.unwrap_or(0),
            monthly: args.keep_monthly.unwrap_or(0),
            yearly: args.keep_yearly.unwrap_or(0),
            within: args.keep_within,
            max_age: args.max_age,
        }
    }

    /// A policy that keeps nothing would delete every backup: refused.
    pub fn is_empty(&self) -> bool {
        self.last == 0
            && self.hourly == 0
            && self.daily == 0
            && self.weekly == 0
            && self.monthly == 0
            && self.yearly == 0
            && self.within.is_none()
            && self.max_age.is_none()
    }
}

/// Why each backup is kept (empty: not kept by any rule), for `times`
/// sorted newest first.
pub fn reasons(times: &[Timestamp], policy: &Policy, now: Timestamp) -> Vec<Vec<String>> {
    let mut buckets: Vec<(&str, u32, Bucket, Option<String>)> = vec![
        (
            "hourly",
            policy.hourly,
            |t| t.strftime("%Y-%m-%d %H:00").to_string(),
            None,
        ),
        (
            "daily",
            policy.daily,
            |t| t.strftime("%Y-%m-%d").to_string(),
            None,
        ),
        ("weekly", policy.weekly, iso_week, None),
        (
            "monthly",
            policy.monthly,
            |t| t.strftime("%Y-%m").to_string(),
            None,
        ),
        (
            "yearly",
            policy.yearly,
            |t| t.strftime("%Y").to_string(),
            None,
        ),
    ];
    let newest = times.first().copied();
    times
        .iter()
        .enumerate()
        .map(|(nr, &time)| {
            let mut why = Vec::new();
            if nr < policy.last as usize {
                why.push(format!("last {}", policy.last));
            }
            let zoned = time.to_zoned(TimeZone::UTC);
            for (rule, left, bucket, last) in &mut buckets {
                if *left == 0 {
                    continue;
                }
                let value = bucket(&zoned);
                if last.as_deref() != Some(value.as_str()) {
                    why.push(format!("{rule} {value}"));
                    *last = Some(value);
                    *left -= 1;
                }
            }
            if let (Some(within), Some(newest)) = (policy.within, newest) {
                if newest.duration_since(time).unsigned_abs() < within {
                    why.push(format!("within {} of the newest", human(within)));
                }
            }
            if let Some(max_age) = policy.max_age {
                if now.duration_since(time).as_secs_f64() < max_age.as_secs_f64() {
                    why.push(format!("younger than {}", human(max_age)));
                }
            }
            why
        })
        .collect()
}

/// The bucket a backup falls in for one rule, e.g. `2026-11-21` for daily.
type Bucket = fn(&jiff::Zoned) -> String;

fn iso_week(t: &jiff::Zoned) -> String {
    let week = t.date().iso_week_date();
    format!("{}-W{:02}", week.year(), week.week())
}

fn human(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// Newest first, as `reasons` wants them.
    fn times(texts: &[&str]) -> Vec<Timestamp> {
        let mut times: Vec<Timestamp> = texts.iter().map(|t| at(t)).collect();
        times.sort_by(|a, b| b.cmp(a));
        times
    }

    fn kept(texts: &[&str], policy: &Policy) -> Vec<String> {
        let times = times(texts);
        let now = at("2026-12-01T00:00:00Z");
        times
            .iter()
            .zip(reasons(&times, policy, now))
            .filter(|(_, why)| !why.is_empty())
            .map(|(t, _)| t.to_string())
            .collect()
    }

    /// A synthetic history: several backups a day, gaps, a year edge and an
    /// ISO-week edge (2025-12-29..2026-01-04 is 2026-W01).
    const HISTORY: [&str; 12] = [
        "2024-06-15T12:00:00Z",
        "2025-03-10T08:00:00Z",
        "2025-12-28T23:00:00Z", // Sunday, 2025-W52
        "2025-12-29T01:00:00Z", // Monday, 2026-W01
        "2026-01-03T10:00:00Z", // Saturday, 2026-W01
        "2026-11-02T09:00:00Z", // Monday, W45
        "2026-11-20T06:00:00Z", // Friday, W47
        "2026-11-20T18:00:00Z",
        "2026-11-21T00:30:00Z", // Saturday, W47
        "2026-11-21T00:45:00Z",
        "2026-11-21T07:00:00Z",
        "2026-11-21T07:10:00Z",
    ];

    // Expected sets below were worked out by hand from restic's documented
    // rules (newest of each of the last N buckets that have a backup).

    #[test]
    fn keep_last_keeps_the_newest_n() {
        let policy = Policy {
            last: 3,
            ..Policy::default()
        };
        assert_eq!(
            kept(&HISTORY, &policy),
            [
                "2026-11-21T07:10:00Z",
                "2026-11-21T07:00:00Z",
                "2026-11-21T00:45:00Z"
            ]
        );
    }

    #[test]
    fn hourly_keeps_the_newest_of_each_hour_that_has_one() {
        let policy = Policy {
            hourly: 3,
            ..Policy::default()
        };
        assert_eq!(
            kept(&HISTORY, &policy),
            [
                "2026-11-21T07:10:00Z",
                "2026-11-21T00:45:00Z",
                "2026-11-20T18:00:00Z"
            ]
        );
    }

    #[test]
    fn daily_skips_days_without_backups() {
        let policy = Policy {
            daily: 4,
            ..Policy::default()
        };
        assert_eq!(
            kept(&HISTORY, &policy),
            [
                "2026-11-21T07:10:00Z",
                "2026-11-20T18:00:00Z",
                "2026-11-02T09:00:00Z",
                "2026-01-03T10:00:00Z",
            ]
        );
    }

    #[test]
    fn weekly_uses_iso_weeks_across_the_year_edge() {
        let policy = Policy {
            weekly: 4,
            ..Policy::default()
        };
        // W47 (11-21), W45 (11-02), 2026-W01 (01-03, newer than 12-29),
        // 2025-W52 (12-28).
        assert_eq!(
            kept(&HISTORY, &policy),
            [
                "2026-11-21T07:10:00Z",
                "2026-11-02T09:00:00Z",
                "2026-01-03T10:00:00Z",
                "2025-12-28T23:00:00Z",
            ]
        );
    }

    #[test]
    fn monthly_and_yearly_keep_the_newest_of_each() {
        let policy = Policy {
            monthly: 3,
            ..Policy::default()
        };
        assert_eq!(
            kept(&HISTORY, &policy),
            [
                "2026-11-21T07:10:00Z",
                "2026-01-03T10:00:00Z",
                "2025-12-29T01:00:00Z"
            ]
        );
        let policy = Policy {
            yearly: 5,
            ..Policy::default()
        };
        assert_eq!(
            kept(&HISTORY, &policy),
            [
                "2026-11-21T07:10:00Z",
                "2025-12-29T01:00:00Z",
                "2024-06-15T12:00:00Z"
            ]
        );
    }

    #[test]
    fn rules_combine_and_each_counts_on_its_own() {
        // restic: last 2 keeps 07:10 and 07:00; daily 2 keeps 11-21 07:10 and
        // 11-20 18:00 (07:00 does not use up a daily slot); yearly 1 keeps
        // 07:10 only.
        let policy = Policy {
            last: 2,
            daily: 2,
            yearly: 1,
            ..Policy::default()
        };
        assert_eq!(
            kept(&HISTORY, &policy),
            [
                "2026-11-21T07:10:00Z",
                "2026-11-21T07:00:00Z",
                "2026-11-20T18:00:00Z"
            ]
        );
    }

    #[test]
    fn within_counts_from_the_newest_backup_and_max_age_from_now() {
        let policy = Policy {
            within: Some(Duration::from_secs(24 * 3600)),
            ..Policy::default()
        };
        // Newest is 11-21 07:10; 11-20 06:00 is 25h10m older: out.
        assert_eq!(
            kept(&HISTORY, &policy),
            [
                "2026-11-21T07:10:00Z",
                "2026-11-21T07:00:00Z",
                "2026-11-21T00:45:00Z",
                "2026-11-21T00:30:00Z",
                "2026-11-20T18:00:00Z",
            ]
        );
        // now is 12-01 00:00: everything is older than 7 days.
        let policy = Policy {
            max_age: Some(Duration::from_secs(7 * 86400)),
            ..Policy::default()
        };
        assert!(kept(&HISTORY, &policy).is_empty());
        let policy = Policy {
            max_age: Some(Duration::from_secs(10 * 86400 + 17 * 3600)),
            ..Policy::default()
        };
        // 12-01 minus 10d17h is 11-20 07:00.
        assert_eq!(kept(&HISTORY, &policy).len(), 5);
    }

    #[test]
    fn reasons_say_which_rule_kept_what() {
        let times = times(&HISTORY);
        let policy = Policy {
            last: 1,
            daily: 1,
            ..Policy::default()
        };
        let why = reasons(&times, &policy, at("2026-12-01T00:00:00Z"));
        assert_eq!(why[0], ["last 1", "daily 2026-11-21"]);
        assert!(why[1].is_empty());
        assert!(Policy::default().is_empty());
        assert!(!policy.is_empty());
    }
}
