//! The rules that judge each source's statistics ([`super::sources`]):
//! rare templates, dominating parameter values, bursts, slowdowns,
//! silences and templates new since learning. Each finding says what it is
//! about and why, and how unusual it is; [`crate::records`] writes it.
//!
//! Every source is judged against itself, and at most
//! [`Rules::max_per_source`] findings per source and rule are kept, the
//! most unusual first, so one noisy log cannot drown the others.

use std::borrow::Cow;

use crate::detection::context::Context;
use crate::detection::rhythm::{Burst, Silence, Slowdown, WINDOW_SECS};
use crate::detection::sources::{Detector, Profile, Stream, Values};
use crate::input::mined::Origin;
use crate::mining::drain::Template;

/// How many times a value must appear, and how many times its peers' mean,
/// before it "dominates" its template.
const DOMINANT_MIN_REPEATS: u64 = 10;
const DOMINANT_FACTOR: f64 = 10.0;

/// What the rules are told besides the statistics.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// A template below this share of its source's lines is rare.
    pub threshold: f64,
    /// Findings per source and rule, the highest scores first (0: all).
    pub max_per_source: usize,
}

/// Whether a source (by name) showed a template while learning.
pub type Known<'a> = &'a dyn Fn(&str, &Template) -> bool;

/// What a rule found: about one template in one source, or about a whole
/// source (its silence).
#[derive(Debug, Clone)]
pub struct Finding<'a> {
    /// The source judged.
    pub source: &'a str,
    /// Its lines.
    pub source_lines: u64,
    /// The template it is about; `None` for a whole source.
    pub template: Option<TemplateSeen<'a>>,
    pub rule: Rule<'a>,
    /// The lines around what it is about; `None` on a whole source's
    /// silence that has no line of its own to show.
    pub context: Option<Cow<'a, Context>>,
    /// In [0,1], higher is more unusual.
    pub score: f64,
}

/// One template in one source, as every finding about it shows it.
#[derive(Debug, Clone, Copy)]
pub struct TemplateSeen<'a> {
    pub id: usize,
    pub template: &'a Template,
    /// Its lines in the source.
    pub count: u64,
    pub first: Origin,
    pub last: Origin,
    /// The time of its first line that had one.
    pub first_time: Option<i64>,
    /// The level of its first line, when the input names one.
    pub level: Option<&'a str>,
    /// Its first line (clipped).
    pub sample: &'a str,
}

/// Which rule found it, and what that rule measured.
#[derive(Debug, Clone, Copy)]
pub enum Rule<'a> {
    /// Its share of the source's lines is below the threshold.
    RareTemplate {
        share: f64,
    },
    /// `value`, at `position`, repeats far more often than its peers.
    TokenFrequency {
        value: &'a str,
        position: usize,
        repeats: u64,
    },
    Burst(Burst),
    Slowdown(Slowdown),
    Silence(Silence),
    /// No template the source showed while learning covers it.
    NewTemplate,
}

impl Rule<'_> {
    /// The rule's name: the `detector` field, and the kind after `log.`.
    pub fn detector(&self) -> &'static str {
        match self {
            Rule::RareTemplate { .. } => "rare_template",
            Rule::TokenFrequency { .. } => "token_frequency",
            Rule::Burst(_) => "burst",
            Rule::Slowdown(_) => "slowdown",
            Rule::Silence(_) => "silence",
            Rule::NewTemplate => "new_template",
        }
    }
}

impl Detector {
    /// The findings, at most `rules.max_per_source` per source and rule
    /// (highest scores first), and how many were left out. `known`, when a
    /// model was given, says whether a source showed a template while
    /// learning.
    pub fn findings<'a>(
        &'a mut self,
        templates: &'a [Template],
        rules: Rules,
        known: Option<Known<'_>>,
    ) -> (Vec<Finding<'a>>, usize) {
        self.flush_waiting();
        let mut out = Vec::new();
        let mut suppressed = 0;
        for stream in &self.streams {
            let mut found: Vec<Finding<'a>> = Vec::new();
            let mut ids: Vec<&usize> = stream.profiles.keys().collect();
            ids.sort_unstable();
            for &id in ids {
                let judged = Judged {
                    stream,
                    profile: &stream.profiles[&id],
                    id,
                    template: &templates[id],
                };
                found.extend(judged.rare(rules.threshold));
                found.extend(judged.burst());
                found.extend(judged.slowdown());
                found.extend(judged.dominant());
                found.extend(judged.silence(stream.gaps.silence(self.end)));
                if let Some(known) = known
                    && !known(&stream.name, judged.template)
                {
                    found.push(judged.new_template());
                }
            }
            found.extend(stream_silence(stream, self.end));
            // Highest scores first within each rule, rules in the order
            // found.
            let mut detectors: Vec<&str> = found.iter().map(|f| f.rule.detector()).collect();
            detectors.dedup();
            detectors.sort_by_key(|d| found.iter().position(|f| f.rule.detector() == *d));
            detectors.dedup();
            for detector in detectors {
                let mut mine: Vec<&Finding<'a>> = found
                    .iter()
                    .filter(|f| f.rule.detector() == detector)
                    .collect();
                mine.sort_by(|a, b| b.score.total_cmp(&a.score));
                let keep = match rules.max_per_source {
                    0 => mine.len(),
                    n => n.min(mine.len()),
                };
                suppressed += mine.len() - keep;
                out.extend(mine.into_iter().take(keep).cloned());
            }
        }
        (out, suppressed)
    }
}

/// One template in one source, being judged.
struct Judged<'a> {
    stream: &'a Stream,
    profile: &'a Profile,
    id: usize,
    template: &'a Template,
}

impl<'a> Judged<'a> {
    /// A finding about this template, around `context`.
    fn finding(&self, rule: Rule<'a>, score: f64, context: Cow<'a, Context>) -> Finding<'a> {
        let p = self.profile;
        Finding {
            source: &self.stream.name,
            source_lines: self.stream.lines,
            template: Some(TemplateSeen {
                id: self.id,
                template: self.template,
                count: p.count,
                first: p.first,
                last: p.last,
                first_time: p.first_time,
                level: p.level.as_deref(),
                sample: &p.context.line,
            }),
            rule,
            context: Some(context),
            score,
        }
    }

    fn rare(&self, threshold: f64) -> Option<Finding<'a>> {
        let (count, lines) = (self.profile.count, self.stream.lines);
        let share = count as f64 / lines.max(1) as f64;
        (share < threshold).then(|| {
            self.finding(
                Rule::RareTemplate { share },
                1.0 - share / threshold,
                Cow::Borrowed(&self.profile.context),
            )
        })
    }

    fn burst(&self) -> Option<Finding<'a>> {
        let burst: Burst = self.profile.rate?.worst_with_open_window()?;
        let context = self
            .profile
            .burst_contexts
            .iter()
            .find(|(w, _)| *w == burst.window)
            .map_or(&self.profile.context, |(_, c)| c);
        Some(self.finding(Rule::Burst(burst), burst.score(), Cow::Borrowed(context)))
    }

    /// The template kept logging, but far below its usual rate.
    fn slowdown(&self) -> Option<Finding<'a>> {
        let slow: Slowdown = self.profile.rate?.worst_slowdown()?;
        Some(self.finding(
            Rule::Slowdown(slow),
            slow.score(),
            Cow::Borrowed(&self.profile.context),
        ))
    }

    fn dominant(&self) -> Vec<Finding<'a>> {
        let mut out = Vec::new();
        for (position, values) in self.profile.values.iter().enumerate() {
            if let Some((value, repeats, score)) = dominant(values) {
                out.push(self.finding(
                    Rule::TokenFrequency {
                        value,
                        position,
                        repeats,
                    },
                    score,
                    Cow::Borrowed(&self.profile.context),
                ));
            }
        }
        out
    }

    /// The template fell silent while its source went on (a silence of
    /// the whole source is reported once, for the source).
    fn silence(&self, source_silence: Option<Silence>) -> Option<Finding<'a>> {
        let s = self.profile.gaps.silence(self.stream.last_time)?;
        let covered = source_silence.is_some_and(|w| {
            w.from <= s.from + s.usual as i64 && w.until + s.usual as i64 >= s.until
        });
        if covered {
            return None;
        }
        let context = match &self.profile.gap_context {
            Some((until, c)) if *until == s.until && !s.ongoing => Cow::Borrowed(c),
            // An ongoing silence shows the last line before it.
            _ => Cow::Owned(Context {
                line: self.profile.last_line.clone(),
                ..Context::default()
            }),
        };
        Some(self.finding(Rule::Silence(s), s.score(), context))
    }

    fn new_template(&self) -> Finding<'a> {
        self.finding(Rule::NewTemplate, 1.0, Cow::Borrowed(&self.profile.context))
    }
}

/// A whole source that logged steadily and went quiet, while other
/// sources went on (ongoing) or before it came back.
fn stream_silence(stream: &Stream, end: Option<i64>) -> Option<Finding<'_>> {
    let s = stream.gaps.silence(end)?;
    let context = stream
        .gap_context
        .as_ref()
        .filter(|(until, _)| !s.ongoing && *until == s.until)
        .map(|(_, c)| Cow::Borrowed(c));
    Some(Finding {
        source: &stream.name,
        source_lines: stream.lines,
        template: None,
        rule: Rule::Silence(s),
        context,
        score: s.score(),
    })
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

impl Finding<'_> {
    /// Whether this finding names a line of template `id` with `tokens`
    /// at `time`: every line of a rare or new template, the template's
    /// lines holding a dominating value, its lines in a burst's window;
    /// slowdowns and silences point at an absence, not at lines.
    pub fn points_at(&self, id: usize, tokens: &[String], time: Option<i64>) -> bool {
        if self.template.is_none_or(|t| t.id != id) {
            return false;
        }
        match self.rule {
            Rule::RareTemplate { .. } | Rule::NewTemplate => true,
            Rule::TokenFrequency {
                value, position, ..
            } => tokens.get(position).is_some_and(|t| t == value),
            Rule::Burst(burst) => {
                let start = burst.window * WINDOW_SECS;
                time.is_some_and(|t| (start..start + WINDOW_SECS).contains(&t))
            }
            Rule::Slowdown(_) | Rule::Silence(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::sources::Observed;

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
    fn even_values_do_not() {
        assert!(dominant(&values(&[("a", 30), ("b", 28), ("c", 31)])).is_none());
        assert!(
            dominant(&values(&[("a", 87), ("b", 1)])).is_none(),
            "needs peers"
        );
    }

    #[test]
    fn rarity_is_judged_per_source_with_context_around_the_line() {
        let template = |text: &str| Template {
            tokens: text.split(' ').map(str::to_string).collect(),
            count: 0,
        };
        let templates = [template("common line"), template("odd line")];
        let mut d = Detector::default();
        let (big, small) = (d.stream("big.log"), d.stream("small.log"));
        let feed = |d: &mut Detector, stream: usize, file: usize, line: u64, id: usize| {
            let text = format!("{} {line}", templates[id].text());
            d.observe(Observed {
                stream,
                id,
                template: &templates[id],
                version: 0,
                tokens: &[],
                at: Origin {
                    file,
                    line,
                    time: None,
                },
                level: None,
                line: &text,
            });
        };
        for n in 1..=1000 {
            feed(&mut d, big, 0, n, 0);
        }
        for n in 1..=60 {
            feed(&mut d, small, 1, n, if n == 30 { 1 } else { 0 });
        }
        let rules = Rules {
            threshold: 0.01,
            max_per_source: 10,
        };
        let (found, suppressed) = d.findings(&templates, rules, None);
        assert_eq!(suppressed, 0);
        // 1 of 1060 lines overall would be rare; 1 of the small file's 60
        // is not.
        assert!(found.is_empty(), "{found:#?}");

        for n in 61..=200 {
            feed(&mut d, small, 1, n, 0);
        }
        let (found, _) = d.findings(&templates, rules, None);
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!(f.source, "small.log");
        assert_eq!(f.rule.detector(), "rare_template");
        let t = f.template.unwrap();
        assert_eq!((t.id, t.first.file, t.first.line), (1, 1, 30));
        let context = f.context.as_deref().unwrap();
        assert_eq!(context.line, "odd line 30");
        assert_eq!(
            context.before,
            ["common line 27", "common line 28", "common line 29"]
        );
        assert_eq!(
            context.after,
            ["common line 31", "common line 32", "common line 33"]
        );
    }
}
