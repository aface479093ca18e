//! Per-template statistics and the detectors that read them: rare
//! templates and dominating parameter values.
//!
//! Everything kept is per template and bounded (a sample line, at most
//! [`MAX_VALUES`] distinct values per parameter position), so memory grows
//! with the number of templates, not with the input.

use std::collections::HashMap;

use secops_common::text::clip;
use secops_common::{Record, Severity};

use crate::TOOL;
use crate::classify::WILDCARD;
use crate::drain::Template;
use crate::timestamp::rfc3339;

/// Distinct values counted per parameter position; later new values only
/// add to an "other" count.
pub const MAX_VALUES: usize = 64;

/// How many times a value must appear, and how many times its peers' mean,
/// before it "dominates" its template.
const DOMINANT_MIN_REPEATS: u64 = 10;
const DOMINANT_FACTOR: f64 = 10.0;

/// Length of the windows a template's rate is counted in.
pub const WINDOW_SECS: i64 = 60;

/// Windows of history a template needs before a window can be a burst,
/// and how far above its usual rate (and how many lines at least) it must
/// be.
const BURST_MIN_HISTORY: i64 = 10;
const BURST_FACTOR: f64 = 10.0;
const BURST_MIN_LINES: u64 = 10;

/// A place in the input: source index, 1-based line, and the line's time
/// (epoch seconds) when it has one or an earlier line of its file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub source: usize,
    pub line: u64,
    pub time: Option<i64>,
}

/// A template's rate, window by window, in constant space: the open window
/// and what came before it.
#[derive(Debug, Clone, Copy)]
struct Rate {
    first_window: i64,
    window: i64,
    in_window: u64,
    before: u64,
    worst: Option<Burst>,
}

/// The window furthest above a template's usual rate.
#[derive(Debug, Clone, Copy)]
struct Burst {
    window: i64,
    count: u64,
    expected: f64,
}

impl Burst {
    fn score(&self) -> f64 {
        1.0 - self.expected / self.count as f64
    }
}

impl Rate {
    fn new(window: i64) -> Rate {
        Rate {
            first_window: window,
            window,
            in_window: 0,
            before: 0,
            worst: None,
        }
    }

    fn add(&mut self, window: i64) {
        if window > self.window {
            self.worst = self.worst_with_open_window();
            self.before += self.in_window;
            self.window = window;
            self.in_window = 0;
        }
        // Lines from an earlier window (out-of-order input) count in the
        // open one rather than rewriting history.
        self.in_window += 1;
    }

    /// The worst burst so far, the open window included.
    fn worst_with_open_window(&self) -> Option<Burst> {
        let history = self.window - self.first_window;
        let candidate = (history >= BURST_MIN_HISTORY).then(|| Burst {
            window: self.window,
            count: self.in_window,
            expected: self.before as f64 / history as f64,
        });
        let is_burst = |b: &Burst| {
            b.count >= BURST_MIN_LINES && b.count as f64 >= BURST_FACTOR * b.expected.max(0.1)
        };
        match (self.worst, candidate.filter(is_burst)) {
            (Some(w), Some(c)) if c.score() > w.score() => Some(c),
            (None, c) => c,
            (w, _) => w,
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Values {
    counts: HashMap<String, u64>,
    other: u64,
}

/// What one template has seen.
#[derive(Debug, Clone)]
struct Profile {
    first: Origin,
    last: Origin,
    first_time: Option<i64>,
    sample: String,
    values: Vec<Values>,
    rate: Option<Rate>,
}

/// Statistics of every template, fed line by line.
#[derive(Debug, Default)]
pub struct Detector {
    profiles: Vec<Profile>,
}

impl Detector {
    /// Records one line mined into template `id` (whose current text is
    /// `template`), with the message's original `tokens`.
    pub fn observe(
        &mut self,
        id: usize,
        template: &Template,
        tokens: &[&str],
        at: Origin,
        line: &str,
    ) {
        if id == self.profiles.len() {
            let mut sample = line.to_string();
            clip(&mut sample, 512);
            self.profiles.push(Profile {
                first: at,
                last: at,
                first_time: None,
                sample,
                values: Vec::new(),
                rate: None,
            });
        }
        let profile = &mut self.profiles[id];
        profile.last = at;
        if let Some(time) = at.time {
            profile.first_time = profile.first_time.or(Some(time));
            let window = time.div_euclid(WINDOW_SECS);
            profile
                .rate
                .get_or_insert_with(|| Rate::new(window))
                .add(window);
        }
        if profile.values.len() < template.tokens.len() {
            profile
                .values
                .resize_with(template.tokens.len(), Values::default);
        }
        for ((slot, have), token) in profile.values.iter_mut().zip(&template.tokens).zip(tokens) {
            if !have.contains(WILDCARD) {
                continue;
            }
            if let Some(n) = slot.counts.get_mut(*token) {
                *n += 1;
            } else if slot.counts.len() < MAX_VALUES {
                slot.counts.insert(token.to_string(), 1);
            } else {
                slot.other += 1;
            }
        }
    }

    /// The anomaly records: rare templates (share of lines below
    /// `threshold`) and parameter values that dominate their template.
    pub fn findings(
        &self,
        templates: &[Template],
        sources: &[String],
        threshold: f64,
    ) -> Vec<Record> {
        let total: u64 = templates.iter().map(|t| t.count).sum();
        let mut out = Vec::new();
        for (id, (template, profile)) in templates.iter().zip(&self.profiles).enumerate() {
            let share = template.count as f64 / total.max(1) as f64;
            let text = template.text();
            let place = |o: Origin| format!("{}:{}", sources[o.source], o.line);
            if share < threshold {
                out.push(
                    Record::new(
                        TOOL,
                        "log.anomaly",
                        Severity::Medium,
                        format!(
                            "Rare template: {text:?} seen {}x ({:.3}% of {total} lines)",
                            template.count,
                            share * 100.0
                        ),
                    )
                    .with("detector", "rare_template")
                    .with("template_id", id)
                    .with("template", text.clone())
                    .with("count", template.count)
                    .with("share", share)
                    .with("score", 1.0 - share / threshold)
                    .with("first_seen", place(profile.first))
                    .with("last_seen", place(profile.last))
                    .with("first_time", profile.first_time.map(rfc3339))
                    .with("last_time", profile.last.time.map(rfc3339))
                    .with("sample", profile.sample.clone()),
                );
            }
            if let Some(burst) = profile.rate.and_then(|r| r.worst_with_open_window()) {
                let start = burst.window * WINDOW_SECS;
                out.push(
                    Record::new(
                        TOOL,
                        "log.anomaly",
                        Severity::Medium,
                        format!(
                            "Burst: {text:?} {}x in the {WINDOW_SECS}s from {}, usually {:.1}",
                            burst.count,
                            rfc3339(start),
                            burst.expected
                        ),
                    )
                    .with("detector", "burst")
                    .with("template_id", id)
                    .with("template", text.clone())
                    .with("count", burst.count)
                    .with("expected", burst.expected)
                    .with("score", burst.score())
                    .with("window_start", rfc3339(start))
                    .with("window_secs", WINDOW_SECS)
                    .with("first_time", profile.first_time.map(rfc3339))
                    .with("last_time", profile.last.time.map(rfc3339))
                    .with("sample", profile.sample.clone()),
                );
            }
            for (position, values) in profile.values.iter().enumerate() {
                if let Some((value, repeats, score)) = dominant(values) {
                    out.push(
                        Record::new(
                            TOOL,
                            "log.anomaly",
                            Severity::Medium,
                            format!(
                                "Unusual token frequency: {value} repeated {repeats}x in {text:?}"
                            ),
                        )
                        .with("detector", "token_frequency")
                        .with("template_id", id)
                        .with("template", text.clone())
                        .with("token", value)
                        .with("position", position)
                        .with("count", repeats)
                        .with("template_count", template.count)
                        .with("score", score)
                        .with("first_seen", place(profile.first))
                        .with("last_seen", place(profile.last))
                        .with("first_time", profile.first_time.map(rfc3339))
                        .with("last_time", profile.last.time.map(rfc3339))
                        .with("sample", profile.sample.clone()),
                    );
                }
            }
        }
        out
    }
}

impl Detector {
    /// A record for each template `known` rejects: new since learning.
    pub fn new_templates(
        &self,
        templates: &[Template],
        sources: &[String],
        known: impl Fn(&Template) -> bool,
    ) -> Vec<Record> {
        let place = |o: Origin| format!("{}:{}", sources[o.source], o.line);
        templates
            .iter()
            .zip(&self.profiles)
            .enumerate()
            .filter(|(_, (t, _))| !known(t))
            .map(|(id, (template, profile))| {
                let text = template.text();
                Record::new(
                    TOOL,
                    "log.anomaly",
                    Severity::Medium,
                    format!(
                        "New template: {text:?} seen {}x, never while learning",
                        template.count
                    ),
                )
                .with("detector", "new_template")
                .with("template_id", id)
                .with("template", text)
                .with("count", template.count)
                .with("score", 1.0)
                .with("first_seen", place(profile.first))
                .with("last_seen", place(profile.last))
                .with("first_time", profile.first_time.map(rfc3339))
                .with("last_time", profile.last.time.map(rfc3339))
                .with("sample", profile.sample.clone())
            })
            .collect()
    }
}

/// The value that repeats at least [`DOMINANT_FACTOR`] times as often as
/// the mean of at least two peers, with its count and a score in [0,1]
/// (1 - peer mean / its count).
fn dominant(values: &Values) -> Option<(&str, u64, f64)> {
    if values.counts.len() < 3 {
        return None;
    }
    let (value, &top) = values
        .counts
        .iter()
        .max_by_key(|(v, n)| (**n, std::cmp::Reverse(*v)))?;
    let peers = values.counts.len() as u64 - 1 + values.other;
    let peer_total = values.counts.values().sum::<u64>() + values.other - top;
    let peer_mean = peer_total as f64 / peers as f64;
    (top >= DOMINANT_MIN_REPEATS && top as f64 >= DOMINANT_FACTOR * peer_mean)
        .then(|| (value.as_str(), top, 1.0 - peer_mean / top as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(counts: &[(&str, u64)]) -> Values {
        Values {
            counts: counts.iter().map(|(v, n)| (v.to_string(), *n)).collect(),
            other: 0,
        }
    }

    #[test]
    fn a_value_far_above_its_peers_dominates() {
        let v = values(&[("user_xyz", 87), ("alice", 2), ("bob", 1), ("carol", 3)]);
        let (value, repeats, score) = dominant(&v).unwrap();
        assert_eq!((value, repeats), ("user_xyz", 87));
        assert!(score > 0.9 && score <= 1.0, "{score}");
    }

    #[test]
    fn a_window_far_above_the_usual_rate_is_a_burst() {
        let mut rate = Rate::new(0);
        for window in 0..30 {
            rate.add(window);
        }
        assert!(rate.worst_with_open_window().is_none(), "a steady rate");
        for _ in 0..40 {
            rate.add(30);
        }
        let burst = rate.worst_with_open_window().unwrap();
        assert_eq!((burst.window, burst.count), (30, 40));
        assert!((burst.expected - 1.0).abs() < 1e-9);
        rate.add(31);
        assert_eq!(
            rate.worst_with_open_window().unwrap().window,
            30,
            "kept once closed"
        );
    }

    #[test]
    fn even_values_do_not() {
        assert!(dominant(&values(&[("a", 30), ("b", 28), ("c", 31)])).is_none());
        assert!(
            dominant(&values(&[("a", 87), ("b", 1)])).is_none(),
            "needs peers"
        );
    }
}
