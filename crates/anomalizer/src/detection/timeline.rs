//! Each template's lines per hour, over all sources, in bounded memory:
//! what the `log.summary` record's `timeline` and the `--summary` file's
//! charts show.

use serde_json::{Value, json};

use crate::mining::drain::Template;
use crate::mining::timestamp::rfc3339;

/// Timeline bucket length.
pub const BUCKET_SECS: i64 = 3600;

/// Distinct hours kept per template (a month); lines in later new hours
/// are only counted, so memory stays bounded on years of logs.
const MAX_BUCKETS: usize = 744;

/// Templates given a timeline, the most frequent first.
pub const TIMELINE_TEMPLATES: usize = 10;

/// Hours a recent timeline covers (a week), up to the input's last hour.
const RECENT_HOURS: i64 = 168;

/// One template's lines per hour, sorted by hour.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// Hour numbers and their lines.
    buckets: Vec<(i64, u64)>,
    /// Lines in hours past [`MAX_BUCKETS`].
    dropped: u64,
}

impl Timeline {
    pub fn add(&mut self, time: i64) {
        let hour = time.div_euclid(BUCKET_SECS);
        // Logs come mostly in order: the last bucket is the usual one.
        if let Some(last) = self.buckets.last_mut()
            && last.0 == hour
        {
            last.1 += 1;
            return;
        }
        match self.buckets.binary_search_by_key(&hour, |b| b.0) {
            Ok(i) => self.buckets[i].1 += 1,
            Err(_) if self.buckets.len() >= MAX_BUCKETS => self.dropped += 1,
            Err(i) => self.buckets.insert(i, (hour, 1)),
        }
    }

    /// The hours from `start` to `end` (bucket numbers, both included).
    pub fn between(&self, start: i64, end: i64) -> &[(i64, u64)] {
        let from = self.buckets.partition_point(|b| b.0 < start);
        let to = self.buckets.partition_point(|b| b.0 <= end);
        &self.buckets[from..to]
    }

    /// Every hour kept and its lines, in order.
    pub fn hours(&self) -> &[(i64, u64)] {
        &self.buckets
    }

    /// Lines in hours past the cap, only counted.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The lines usual from `from` to `until` (epoch seconds) at that time
    /// of day: each hour's lines on the other days the timeline covers,
    /// averaged, and taken for the part of the hour inside the span.
    /// `None` when no other day covers it: a log of one day has no
    /// night-time rate to go by.
    pub fn usual_at_time_of_day(&self, from: i64, until: i64) -> Option<f64> {
        const DAY: i64 = 24;
        let (first, last) = (self.buckets.first()?.0, self.buckets.last()?.0);
        let count = |hour: i64| {
            self.buckets
                .binary_search_by_key(&hour, |b| b.0)
                .map_or(0, |i| self.buckets[i].1)
        };
        let mut usual = 0.0;
        for hour in from.div_euclid(BUCKET_SECS)..=(until - 1).div_euclid(BUCKET_SECS) {
            let days: Vec<i64> = (-31..=31)
                .filter(|&k| k != 0 && (first..=last).contains(&(hour + k * DAY)))
                .collect();
            if days.is_empty() {
                return None;
            }
            let mean =
                days.iter().map(|k| count(hour + k * DAY)).sum::<u64>() as f64 / days.len() as f64;
            let start = from.max(hour * BUCKET_SECS);
            let end = until.min((hour + 1) * BUCKET_SECS);
            usual += mean * (end - start) as f64 / BUCKET_SECS as f64;
        }
        Some(usual)
    }
}

/// `[["2026-11-21T10:00:00Z", 60], ...]`: hours and their line counts.
pub fn hours_json(buckets: &[(i64, u64)]) -> Vec<Value> {
    buckets
        .iter()
        .map(|(h, n)| json!([rfc3339(h * BUCKET_SECS), n]))
        .collect()
}

/// The last week of the input (bucket numbers `start..=end`, ending at
/// its latest timed hour) and the most frequent templates with timed
/// lines: what the Markdown sparklines draw and the `log.summary`
/// record's `timeline` carries, so both show the same thing.
pub struct RecentWeek<'a> {
    pub start: i64,
    pub end: i64,
    /// Template ids and their timelines, the most frequent first.
    pub templates: Vec<(usize, &'a Timeline)>,
}

pub fn recent_week<'a>(
    templates: &[Template],
    timelines: &'a [Timeline],
) -> Option<RecentWeek<'a>> {
    let spans = timelines
        .iter()
        .filter_map(|t| Some((t.buckets.first()?.0, t.buckets.last()?.0)));
    let start = spans.clone().map(|s| s.0).min()?;
    let end = spans.map(|s| s.1).max()?;
    Some(RecentWeek {
        start: start.max(end - (RECENT_HOURS - 1)),
        end,
        templates: by_count(templates)
            .into_iter()
            .take(TIMELINE_TEMPLATES)
            .filter_map(|id| Some((id, timelines.get(id).filter(|t| !t.buckets.is_empty())?)))
            .collect(),
    })
}

/// Template ids by count, most frequent first.
pub fn by_count(templates: &[Template]) -> Vec<usize> {
    let mut ids: Vec<usize> = (0..templates.len()).collect();
    ids.sort_by_key(|&id| (std::cmp::Reverse(templates[id].count), id));
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_are_counted_in_order_and_bounded() {
        let mut t = Timeline::default();
        for time in [7200, 7300, 0, 3600, 7201] {
            t.add(time);
        }
        assert_eq!(t.buckets, [(0, 1), (1, 1), (2, 3)]);
        for hour in 3..(MAX_BUCKETS as i64 + 10) {
            t.add(hour * BUCKET_SECS);
        }
        assert_eq!(t.buckets.len(), MAX_BUCKETS);
        assert_eq!(t.dropped, 10);
    }
}
