//! Per-source statistics and the detectors that read them: rare
//! templates, dominating parameter values, bursts, silences and templates
//! new since learning.
//!
//! Every source (a file or rotated set, a journald unit, a `source` the
//! line names) is judged against itself: a template is rare for its
//! source's volume, bursty or silent for its source's rhythm, so a small
//! file is not drowned by a big one read in the same run. Everything kept
//! is per source and template and bounded (a context of a few lines, at
//! most [`MAX_VALUES`] distinct values per parameter position), so memory
//! grows with the number of templates, not with the input.

use std::collections::HashMap;

use secops_common::{Record, Severity};

use crate::TOOL;
use crate::detection::context::{Context, Recent, clipped, set_clipped};
use crate::detection::rhythm::{Burst, Gaps, Rate, Silence, Slowdown, WINDOW_SECS, human_secs};
use crate::fasthash::FastMap;
use crate::insights::{SourceOverview, Timeline};
use crate::mining::drain::{Template, has_wildcard};
use crate::mining::mask::is_time_like;
use crate::mining::timestamp::rfc3339;

/// Distinct values counted per parameter position; later new values only
/// add to an "other" count.
pub const MAX_VALUES: usize = 64;

/// How many times a value must appear, and how many times its peers' mean,
/// before it "dominates" its template.
const DOMINANT_MIN_REPEATS: u64 = 10;
const DOMINANT_FACTOR: f64 = 10.0;

/// A place in the input: file index, 1-based line, and the line's time
/// (epoch seconds) when it has one or an earlier line of its file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub file: usize,
    pub line: u64,
    pub time: Option<i64>,
}

/// One mined line as the detectors see it.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// From [`Detector::stream`].
    pub stream: usize,
    pub id: usize,
    pub template: &'a Template,
    /// The template's version ([`crate::mining::drain::Drain::version`]).
    pub version: u64,
    /// The message's original tokens.
    pub tokens: &'a [&'a str],
    pub at: Origin,
    pub level: Option<&'a str>,
    pub line: &'a str,
}

/// What the detectors are told besides the lines.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// A template below this share of its source's lines is rare.
    pub threshold: f64,
    /// Records per source and detector, the highest scores first (0: all).
    pub max_per_source: usize,
}

#[derive(Debug, Default, Clone)]
struct Values {
    counts: FastMap<String, u64>,
    other: u64,
}

/// What one template has seen in one source.
#[derive(Debug, Clone)]
struct Profile {
    count: u64,
    first: Origin,
    last: Origin,
    first_time: Option<i64>,
    level: Option<String>,
    /// Around the template's first line here (its sample).
    context: Context,
    /// Its latest line, what an ongoing silence shows.
    last_line: String,
    values: Vec<Values>,
    /// The template's positions that hold a wildcard, as of a version of
    /// it: parameter values are counted there only, and finding them
    /// anew for every line would read every token of the template.
    wildcards: (Option<u64>, Vec<usize>),
    rate: Option<Rate>,
    /// Contexts of the open window and of the worst burst so far.
    burst_contexts: Vec<(i64, Context)>,
    gaps: Gaps,
    /// Around the line that ended the longest gap.
    gap_context: Option<(i64, Context)>,
}

/// Where a context still collecting its after-lines goes.
#[derive(Debug, Clone, Copy)]
enum Target {
    First(usize),
    Burst(usize, i64),
    /// A template's gap (or the source's, `None`) that ended at a time.
    Gap(Option<usize>, i64),
}

/// One source's lines and templates.
#[derive(Debug)]
struct Stream {
    name: String,
    lines: u64,
    profiles: FastMap<usize, Profile>,
    recent: Recent,
    waiting: Vec<(Target, Context)>,
    gaps: Gaps,
    gap_context: Option<(i64, Context)>,
    first_time: Option<i64>,
    last_time: Option<i64>,
}

impl Stream {
    fn deliver(&mut self, target: Target, context: Context) {
        match target {
            Target::First(id) => {
                if let Some(p) = self.profiles.get_mut(&id) {
                    p.context = context;
                }
            }
            Target::Burst(id, window) => {
                if let Some(p) = self.profiles.get_mut(&id) {
                    let keep = [
                        p.rate.map(|r| r.open_window()),
                        p.rate
                            .and_then(|r| r.worst_with_open_window())
                            .map(|b| b.window),
                    ];
                    p.burst_contexts.push((window, context));
                    p.burst_contexts.retain(|(w, _)| keep.contains(&Some(*w)));
                }
            }
            Target::Gap(Some(id), until) => {
                if let Some(p) = self.profiles.get_mut(&id) {
                    p.gap_context = Some((until, context));
                }
            }
            Target::Gap(None, until) => self.gap_context = Some((until, context)),
        }
    }

    /// Gives `line` to the contexts waiting for lines after them, and
    /// delivers those now complete.
    fn feed_waiting(&mut self, line: &str) {
        for (_, context) in &mut self.waiting {
            context.after.push(clipped(line));
        }
        let mut i = 0;
        while i < self.waiting.len() {
            if self.waiting[i].1.is_complete() {
                let (target, context) = self.waiting.swap_remove(i);
                self.deliver(target, context);
            } else {
                i += 1;
            }
        }
    }
}

/// Whether a source (by name) showed a template while learning.
pub type Known<'a> = &'a dyn Fn(&str, &Template) -> bool;

/// Statistics of every source and template, fed line by line.
#[derive(Debug, Default)]
pub struct Detector {
    streams: Vec<Stream>,
    by_name: HashMap<String, usize>,
    /// The latest time any source showed: a steady source quiet since
    /// long before it went silent.
    end: Option<i64>,
    /// Each template's lines per hour, over all sources (by template id).
    timelines: Vec<Timeline>,
}

impl Detector {
    /// The id of the source called `name`, made on first use.
    pub fn stream(&mut self, name: &str) -> usize {
        if let Some(&id) = self.by_name.get(name) {
            return id;
        }
        let id = self.streams.len();
        self.streams.push(Stream {
            name: name.to_string(),
            lines: 0,
            profiles: FastMap::default(),
            recent: Recent::default(),
            waiting: Vec::new(),
            gaps: Gaps::default(),
            gap_context: None,
            first_time: None,
            last_time: None,
        });
        self.by_name.insert(name.to_string(), id);
        id
    }

    /// How many sources were seen.
    pub fn streams(&self) -> usize {
        self.streams.len()
    }

    /// Each source's name, lines and time span, in order of appearance.
    pub fn overview(&self) -> Vec<SourceOverview> {
        self.streams
            .iter()
            .map(|s| SourceOverview {
                name: s.name.clone(),
                lines: s.lines,
                first_time: s.first_time,
                last_time: s.last_time,
            })
            .collect()
    }

    /// Each template's lines per hour, by template id.
    pub fn timelines(&self) -> &[Timeline] {
        &self.timelines
    }

    /// Records one mined line.
    pub fn observe(&mut self, o: Observed<'_>) {
        let stream = &mut self.streams[o.stream];
        stream.lines += 1;
        if !stream.waiting.is_empty() {
            stream.feed_waiting(o.line);
        }
        let Stream {
            profiles,
            recent,
            waiting,
            gaps,
            first_time,
            last_time,
            ..
        } = stream;
        let profile = profiles.entry(o.id).or_insert_with(|| {
            waiting.push((Target::First(o.id), recent.context(o.line)));
            Profile {
                count: 0,
                first: o.at,
                last: o.at,
                first_time: None,
                level: o.level.map(str::to_string),
                context: recent.context(o.line),
                last_line: String::new(),
                values: Vec::new(),
                wildcards: (None, Vec::new()),
                rate: None,
                burst_contexts: Vec::new(),
                gaps: Gaps::default(),
                gap_context: None,
            }
        });
        profile.count += 1;
        profile.last = o.at;
        set_clipped(&mut profile.last_line, o.line);
        if let Some(time) = o.at.time {
            *first_time = Some(first_time.map_or(time, |t| t.min(time)));
            *last_time = Some(last_time.map_or(time, |t| t.max(time)));
            if self.timelines.len() <= o.id {
                self.timelines.resize_with(o.id + 1, Timeline::default);
            }
            self.timelines[o.id].add(time);
            self.end = Some(self.end.map_or(time, |t| t.max(time)));
            profile.first_time = profile.first_time.or(Some(time));
            if gaps.add(time) {
                waiting.push((Target::Gap(None, time), recent.context(o.line)));
            }
            if profile.gaps.add(time) {
                waiting.push((Target::Gap(Some(o.id), time), recent.context(o.line)));
            }
            let window = time.div_euclid(WINDOW_SECS);
            if profile
                .rate
                .get_or_insert_with(|| Rate::new(window))
                .add(window)
            {
                waiting.push((Target::Burst(o.id, window), recent.context(o.line)));
            }
        }
        let positions = o.template.tokens.len();
        if profile.values.len() < positions {
            profile.values.resize_with(positions, Values::default);
        }
        let (version, wildcards) = &mut profile.wildcards;
        if *version != Some(o.version) {
            *version = Some(o.version);
            wildcards.clear();
            wildcards.extend((0..positions).filter(|&i| has_wildcard(&o.template.tokens[i])));
        }
        for &position in wildcards.iter() {
            let Some(token) = o.tokens.get(position) else {
                break;
            };
            if is_time_like(token) {
                continue;
            }
            let slot = &mut profile.values[position];
            if let Some(n) = slot.counts.get_mut(*token) {
                *n += 1;
            } else if slot.counts.len() < MAX_VALUES {
                slot.counts.insert(token.to_string(), 1);
            } else {
                slot.other += 1;
            }
        }
        recent.push(o.line);
    }

    /// Delivers the contexts still waiting for lines after them: the
    /// input has ended.
    fn flush_waiting(&mut self) {
        for stream in &mut self.streams {
            for (target, context) in std::mem::take(&mut stream.waiting) {
                stream.deliver(target, context);
            }
        }
    }

    /// The anomaly records, at most `rules.max_per_source` per source and
    /// detector (highest scores first), and how many were left out.
    /// `files` names the input files; `known`, when a model was given,
    /// says whether a source showed a template while learning.
    pub fn findings(
        &mut self,
        templates: &[Template],
        files: &[String],
        rules: Rules,
        known: Option<Known<'_>>,
    ) -> (Vec<Record>, usize) {
        self.flush_waiting();
        let mut out = Vec::new();
        let mut suppressed = 0;
        for stream in &self.streams {
            let mut found: Vec<(&str, f64, Record)> = Vec::new();
            let mut ids: Vec<&usize> = stream.profiles.keys().collect();
            ids.sort_unstable();
            for &id in ids {
                let profile = &stream.profiles[&id];
                let template = &templates[id];
                let finding = Finding {
                    stream,
                    profile,
                    id,
                    template,
                    files,
                };
                found.extend(finding.rare(rules.threshold));
                found.extend(finding.burst());
                found.extend(finding.slowdown());
                found.extend(finding.dominant());
                found.extend(finding.silence(stream.gaps.silence(self.end)));
                if let Some(known) = known
                    && !known(&stream.name, template)
                {
                    found.push(finding.new_template());
                }
            }
            found.extend(stream_silence(stream, self.end));
            // Highest scores first within each detector, detectors in the
            // order found.
            let mut detectors: Vec<&str> = found.iter().map(|f| f.0).collect();
            detectors.dedup();
            detectors.sort_by_key(|d| found.iter().position(|f| f.0 == *d));
            detectors.dedup();
            for detector in detectors {
                let mut mine: Vec<&(&str, f64, Record)> =
                    found.iter().filter(|f| f.0 == detector).collect();
                mine.sort_by(|a, b| b.1.total_cmp(&a.1));
                let keep = match rules.max_per_source {
                    0 => mine.len(),
                    n => n.min(mine.len()),
                };
                suppressed += mine.len() - keep;
                out.extend(mine.into_iter().take(keep).map(|f| f.2.clone()));
            }
        }
        (out, suppressed)
    }
}

/// One template in one source, being turned into records.
struct Finding<'a> {
    stream: &'a Stream,
    profile: &'a Profile,
    id: usize,
    template: &'a Template,
    files: &'a [String],
}

impl Finding<'_> {
    /// A record with the fields every template finding carries.
    fn record(&self, detector: &'static str, message: String, context: &Context) -> Record {
        let p = self.profile;
        let place = |o: Origin| format!("{}:{}", self.files[o.file], o.line);
        Record::new(TOOL, &format!("log.{detector}"), Severity::Medium, message)
            .with("detector", detector)
            .with("source", self.stream.name.clone())
            .with("template_id", self.id)
            .with("template", self.template.text())
            .with("first_seen", place(p.first))
            .with("last_seen", place(p.last))
            .with("first_time", p.first_time.map(rfc3339))
            .with("last_time", p.last.time.map(rfc3339))
            .with("level", p.level.clone())
            .with("sample", p.context.line.clone())
            .with("context_before", context.before.clone())
            .with("context_line", context.line.clone())
            .with("context_after", context.after.clone())
    }

    fn rare(&self, threshold: f64) -> Option<(&'static str, f64, Record)> {
        let (count, lines) = (self.profile.count, self.stream.lines);
        let share = count as f64 / lines.max(1) as f64;
        (share < threshold).then(|| {
            let score = 1.0 - share / threshold;
            let message = format!(
                "Rare template: {:?} seen {count}x ({:.3}% of {lines} lines of {})",
                self.template.text(),
                share * 100.0,
                self.stream.name
            );
            let rec = self
                .record("rare_template", message, &self.profile.context)
                .with("count", count)
                .with("source_lines", lines)
                .with("share", share)
                .with("score", score);
            ("rare_template", score, rec)
        })
    }

    fn burst(&self) -> Option<(&'static str, f64, Record)> {
        let burst: Burst = self.profile.rate?.worst_with_open_window()?;
        let start = burst.window * WINDOW_SECS;
        let context = self
            .profile
            .burst_contexts
            .iter()
            .find(|(w, _)| *w == burst.window)
            .map_or(&self.profile.context, |(_, c)| c);
        let message = format!(
            "Burst: {:?} {}x in the {WINDOW_SECS}s from {}, usually {:.1}, in {}",
            self.template.text(),
            burst.count,
            rfc3339(start),
            burst.expected,
            self.stream.name
        );
        let rec = self
            .record("burst", message, context)
            .with("count", burst.count)
            .with("expected", burst.expected)
            .with("score", burst.score())
            .with("window_start", rfc3339(start))
            .with("window_secs", WINDOW_SECS);
        Some(("burst", burst.score(), rec))
    }

    /// The template kept logging, but far below its usual rate.
    fn slowdown(&self) -> Option<(&'static str, f64, Record)> {
        let slow: Slowdown = self.profile.rate?.worst_slowdown()?;
        let (from, until) = (slow.from * WINDOW_SECS, slow.until * WINDOW_SECS);
        let message = format!(
            "Slowdown: {:?} {}x in the {} from {}, usually {:.0}, in {}",
            self.template.text(),
            slow.count,
            human_secs(until - from),
            rfc3339(from),
            slow.expected,
            self.stream.name
        );
        let rec = self
            .record("slowdown", message, &self.profile.context)
            .with("count", slow.count)
            .with("expected", slow.expected)
            .with("score", slow.score())
            .with("slow_from", rfc3339(from))
            .with("slow_until", rfc3339(until))
            .with("slow_secs", until - from);
        Some(("slowdown", slow.score(), rec))
    }

    fn dominant(&self) -> Vec<(&'static str, f64, Record)> {
        let mut out = Vec::new();
        for (position, values) in self.profile.values.iter().enumerate() {
            if let Some((value, repeats, score)) = dominant(values) {
                let message = format!(
                    "Unusual token frequency: {value} repeated {repeats}x in {:?} ({})",
                    self.template.text(),
                    self.stream.name
                );
                let rec = self
                    .record("token_frequency", message, &self.profile.context)
                    .with("token", value)
                    .with("position", position)
                    .with("count", repeats)
                    .with("template_count", self.profile.count)
                    .with("score", score);
                out.push(("token_frequency", score, rec));
            }
        }
        out
    }

    /// The template fell silent while its source went on (a silence of
    /// the whole source is reported once, for the source).
    fn silence(&self, source_silence: Option<Silence>) -> Option<(&'static str, f64, Record)> {
        let s = self.profile.gaps.silence(self.stream.last_time)?;
        let covered = source_silence.is_some_and(|w| {
            w.from <= s.from + s.usual as i64 && w.until + s.usual as i64 >= s.until
        });
        if covered {
            return None;
        }
        let last = Context {
            line: self.profile.last_line.clone(),
            ..Context::default()
        };
        let context = match &self.profile.gap_context {
            Some((until, c)) if *until == s.until && !s.ongoing => c,
            _ => &last,
        };
        let message = format!(
            "Silence: {:?} quiet for {} from {}{} (usually every {}) in {}",
            self.template.text(),
            human_secs(s.secs()),
            rfc3339(s.from),
            if s.ongoing {
                " until the end of the input".to_string()
            } else {
                String::new()
            },
            human_secs(s.usual.round() as i64),
            self.stream.name
        );
        let rec = silence_fields(self.record("silence", message, context), &s)
            .with("count", self.profile.count);
        Some(("silence", s.score(), rec))
    }

    fn new_template(&self) -> (&'static str, f64, Record) {
        let message = format!(
            "New template: {:?} seen {}x in {}, never while learning",
            self.template.text(),
            self.profile.count,
            self.stream.name
        );
        let rec = self
            .record("new_template", message, &self.profile.context)
            .with("count", self.profile.count)
            .with("score", 1.0);
        ("new_template", 1.0, rec)
    }
}

fn silence_fields(rec: Record, s: &Silence) -> Record {
    rec.with("silent_from", rfc3339(s.from))
        .with("silent_until", rfc3339(s.until))
        .with("silent_secs", s.secs())
        .with("usual_gap_secs", (s.usual * 10.0).round() / 10.0)
        .with("ongoing", s.ongoing)
        .with("score", s.score())
}

/// A whole source that logged steadily and went quiet, while other
/// sources went on (ongoing) or before it came back.
fn stream_silence(stream: &Stream, end: Option<i64>) -> Option<(&'static str, f64, Record)> {
    let s = stream.gaps.silence(end)?;
    let message = format!(
        "Silence: {} logged nothing for {} from {}{} (usually a line every {})",
        stream.name,
        human_secs(s.secs()),
        rfc3339(s.from),
        if s.ongoing {
            " while other sources went on"
        } else {
            ""
        },
        human_secs(s.usual.round().max(1.0) as i64),
    );
    let mut rec = Record::new(TOOL, "log.silence", Severity::Medium, message)
        .with("detector", "silence")
        .with("source", stream.name.clone())
        .with("source_lines", stream.lines);
    if let Some((until, c)) = stream.gap_context.as_ref().filter(|_| !s.ongoing)
        && *until == s.until
    {
        rec = rec
            .with("context_before", c.before.clone())
            .with("context_line", c.line.clone())
            .with("context_after", c.after.clone());
    }
    Some(("silence", s.score(), silence_fields(rec, &s)))
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
        let files = ["big.log".to_string(), "small.log".to_string()];
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
        let (recs, suppressed) = d.findings(&templates, &files, rules, None);
        assert_eq!(suppressed, 0);
        // 1 of 1060 lines overall would be rare; 1 of the small file's 60
        // is not.
        assert!(recs.is_empty(), "{recs:#?}");

        for n in 61..=200 {
            feed(&mut d, small, 1, n, 0);
        }
        let (recs, _) = d.findings(&templates, &files, rules, None);
        assert_eq!(recs.len(), 1, "{recs:#?}");
        let r = &recs[0];
        assert_eq!(r.fields["source"], "small.log");
        assert_eq!(r.fields["first_seen"], "small.log:30");
        assert_eq!(r.fields["context_line"], "odd line 30");
        assert_eq!(
            r.fields["context_before"],
            serde_json::json!(["common line 27", "common line 28", "common line 29"])
        );
        assert_eq!(
            r.fields["context_after"],
            serde_json::json!(["common line 31", "common line 32", "common line 33"])
        );
    }
}
