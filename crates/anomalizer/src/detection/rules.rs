//! The rules that judge each source's statistics ([`super::sources`]):
//! rare templates, dominating parameter values, new addresses, bursts,
//! slowdowns, silences and templates new since learning. Each finding says
//! what it is about and why, how unusual it is, and through
//! [`super::concern`] how much an operator would care; [`crate::records`]
//! writes it.
//!
//! Every source is judged against itself. Findings that began together are
//! one episode, a line two files hold is one finding, and past the high and
//! critical ones at most [`Rules::max_per_source`] findings per source and
//! rule are kept, the most severe first, so one noisy log cannot drown the
//! others.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashMap;

use secops_common::Severity;

use crate::detection::concern::{Concern, Routine, concern, good_news};
use crate::detection::context::Context;
use crate::detection::expected::package_manager;
use crate::detection::rhythm::{Burst, Silence, Slowdown, WINDOW_SECS};
use crate::detection::sources::{Detector, Profile, Seen, Stream, Values};
use crate::detection::timeline::Timeline;
use crate::input::mined::Origin;
use crate::mining::drain::{Template, has_wildcard};
use crate::mining::mask::is_address;

/// How many times a value must appear, and how many times its peers' mean,
/// before it "dominates" its template.
const DOMINANT_MIN_REPEATS: u64 = 10;
const DOMINANT_FACTOR: f64 = 10.0;

/// A source's first minutes, whose new templates are its start-up (a
/// boot, a service starting), not news; only in sources whose lines span
/// [`START_OF_LOG_MIN_SPAN`] or more.
const START_OF_LOG_SECS: i64 = 600;
const START_OF_LOG_MIN_SPAN: i64 = 12 * START_OF_LOG_SECS;

/// A rare template seen in this many hours over more than a day is a
/// habit of its source.
const RECURRING_HOURS: u32 = 3;
/// How few addresses a template's place must have held, and in how many
/// lines at least, for a new one to be news ([`Judged::new_address`]).
const NEW_ADDRESS_MAX_KNOWN: usize = 3;
const NEW_ADDRESS_MIN_LINES: u64 = 5;

/// Tokens a template's family shares ([`Judged::family_recurs`]).
const FAMILY_TOKENS: usize = 6;
const DAY_SECS: i64 = 86_400;

/// Findings of a source and rule that begin this close together are one
/// episode ([`episodes`]).
pub const EPISODE_SECS: i64 = 300;

/// What the rules are told besides the statistics.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// A template below this share of its source's lines is rare.
    pub threshold: f64,
    /// Findings per source and rule below high, the most severe and then
    /// the highest scores first (0: all); high and critical ones are all
    /// kept besides.
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
    /// What the template's words and level say.
    pub concern: Concern,
    /// Why it is the log's habit, when it is.
    pub routine: Option<Routine>,
    /// Templates of the same source and rule that began within
    /// [`EPISODE_SECS`] of it, less severe or less unusual.
    pub episode: Vec<TemplateSeen<'a>>,
    /// Other sources that showed the same line ([`copied_lines`]).
    pub also_in: Vec<&'a str>,
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
        /// The times of its first and last line, when lines had times.
        seen: (Option<i64>, Option<i64>),
    },
    /// `value`, an address, at `position`, first seen after the
    /// position had held only `known` other addresses, in `lines` lines,
    /// for more than a day.
    NewAddress {
        value: &'a str,
        position: usize,
        count: u64,
        known: usize,
        lines: u64,
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
            Rule::NewAddress { .. } => "new_address",
            Rule::Burst(_) => "burst",
            Rule::Slowdown(_) => "slowdown",
            Rule::Silence(_) => "silence",
            Rule::NewTemplate => "new_template",
        }
    }
}

impl Detector {
    /// The findings: every high and critical one, and at most
    /// `rules.max_per_source` others per source and rule (the most severe,
    /// then the highest scores first); and how many were left out.
    /// `known`, when a model was given, says whether a source showed a
    /// template while learning.
    pub fn findings<'a>(
        &'a mut self,
        templates: &'a [Template],
        rules: Rules,
        known: Option<Known<'_>>,
    ) -> (Vec<Finding<'a>>, usize) {
        self.flush_waiting();
        let mut per_stream = Vec::new();
        for stream in &self.streams {
            let mut found: Vec<Finding<'a>> = Vec::new();
            let habits = Habits::new(stream, templates);
            let mut ids: Vec<&usize> = stream.profiles.keys().collect();
            ids.sort_unstable();
            for &id in ids {
                let judged = Judged {
                    stream,
                    profile: &stream.profiles[&id],
                    id,
                    template: &templates[id],
                    templates,
                    habits: &habits,
                    concern: OnceCell::new(),
                    family_recurs: OnceCell::new(),
                };
                found.extend(judged.rare(rules.threshold));
                found.extend(judged.burst());
                found.extend(judged.slowdown(self.timelines().get(id)));
                found.extend(judged.dominant());
                found.extend(judged.new_address());
                found.extend(judged.silence(stream.gaps.silence(self.end), self.end));
                if let Some(known) = known
                    && !known(&stream.name, judged.template)
                {
                    found.push(judged.new_template());
                }
            }
            found.extend(stream_silence(stream, self.end));
            per_stream.push(found);
        }
        copied_lines(&mut per_stream);
        let (mut out, mut suppressed) = (Vec::new(), 0);
        for found in per_stream {
            // The most severe first within each rule, then the highest
            // scores; rules in the order found.
            let mut detectors: Vec<&str> = found.iter().map(|f| f.rule.detector()).collect();
            detectors.dedup();
            detectors.sort_by_key(|d| found.iter().position(|f| f.rule.detector() == *d));
            detectors.dedup();
            for detector in detectors {
                let mut mine: Vec<&Finding<'a>> = found
                    .iter()
                    .filter(|f| f.rule.detector() == detector)
                    .collect();
                mine.sort_by(|a, b| {
                    b.severity()
                        .cmp(&a.severity())
                        .then(b.score.total_cmp(&a.score))
                });
                let mut mine = episodes(mine);
                mine.iter_mut().for_each(Finding::note_success);
                mine.sort_by_key(|f| std::cmp::Reverse(f.severity()));
                // High and critical findings are never left out: the cap
                // is for noise, and noise is plain rarity.
                let urgent = mine
                    .iter()
                    .take_while(|f| f.severity() >= Severity::High)
                    .count();
                let keep = match rules.max_per_source {
                    0 => mine.len(),
                    n => urgent + n.min(mine.len() - urgent),
                };
                suppressed += mine.len() - keep;
                out.extend(mine.into_iter().take(keep));
            }
        }
        (out, suppressed)
    }
}

/// Drops the findings about a line another source already showed, as the
/// same finding (rule, first line, time): rsyslog writes each kernel line
/// to kern.log and to syslog, and one event is one record. The first
/// source keeps it and names the others in `also_in`.
fn copied_lines(per_stream: &mut [Vec<Finding<'_>>]) {
    let key = |f: &Finding<'_>| {
        let t = f.template?;
        Some((f.rule.detector(), t.sample.to_string(), f.began()))
    };
    let mut first: HashMap<_, (usize, usize)> = HashMap::new();
    let mut dropped = Vec::new();
    for (s, found) in per_stream.iter().enumerate() {
        for (i, f) in found.iter().enumerate() {
            let Some(k) = key(f) else { continue };
            match first.get(&k) {
                Some(&at) => dropped.push((s, i, at)),
                None => {
                    first.insert(k, (s, i));
                }
            }
        }
    }
    for &(s, i, (ks, ki)) in &dropped {
        let source = per_stream[s][i].source;
        per_stream[ks][ki].also_in.push(source);
    }
    for &(s, i, _) in dropped.iter().rev() {
        per_stream[s].remove(i);
    }
}

/// Findings of one source and rule, the most severe first, with those
/// that began within [`EPISODE_SECS`] of a more severe one folded into it
/// as its episode: an out-of-memory kill writes four new templates in a
/// second, a failing disk five; each is one thing that happened, and one
/// record, led by its most severe template.
fn episodes<'a>(sorted: Vec<&Finding<'a>>) -> Vec<Finding<'a>> {
    let mut kept: Vec<Finding<'a>> = Vec::new();
    for f in sorted {
        let lead = f.began().and_then(|at| {
            kept.iter_mut()
                .find(|k| k.began().is_some_and(|t| (t - at).abs() <= EPISODE_SECS))
        });
        match (lead, f.template) {
            (Some(lead), Some(t)) => lead.episode.push(t),
            _ => kept.push(f.clone()),
        }
    }
    kept
}

/// A word that names a thing (a unit, a file, a host): letters or digits
/// with `.`, `-`, `_` or `/` inside, a trailing `:` or `,` aside.
fn is_name(token: &str) -> bool {
    let t = token.trim_end_matches([':', ',']);
    t.bytes().any(|b| b.is_ascii_alphanumeric())
        && t.bytes()
            .skip(1)
            .any(|b| matches!(b, b'.' | b'-' | b'_' | b'/'))
}

/// A source's templates indexed for [`Judged::family_recurs`], once per
/// source: those long enough to have a family, by first token (a
/// wildcard first token under `<*>`), and those that recur on their own.
struct Habits<'a> {
    by_first: HashMap<&'a str, Vec<usize>>,
    /// By their number of tokens.
    recurring: HashMap<usize, Vec<usize>>,
}

impl<'a> Habits<'a> {
    fn new(stream: &'a Stream, templates: &'a [Template]) -> Habits<'a> {
        let mut habits = Habits {
            by_first: HashMap::new(),
            recurring: HashMap::new(),
        };
        let mut ids: Vec<usize> = stream.profiles.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let tokens = &templates[id].tokens;
            if tokens.len() > FAMILY_TOKENS {
                let first = tokens[0].as_str();
                let key = if has_wildcard(first) { "<*>" } else { first };
                habits.by_first.entry(key).or_default().push(id);
            }
            if stream.profiles[&id].hours >= RECURRING_HOURS {
                habits.recurring.entry(tokens.len()).or_default().push(id);
            }
        }
        habits
    }

    /// The templates that may share `tokens`' first tokens.
    fn family_candidates(&self, tokens: &[String]) -> impl Iterator<Item = usize> + '_ {
        let first = tokens.first().map(String::as_str).unwrap_or_default();
        let wild = has_wildcard(first);
        let lists: Vec<&Vec<usize>> = if wild {
            self.by_first.values().collect()
        } else {
            [self.by_first.get(first), self.by_first.get("<*>")]
                .into_iter()
                .flatten()
                .collect()
        };
        lists.into_iter().flatten().copied()
    }
}

/// One template in one source, being judged.
struct Judged<'a, 'h> {
    stream: &'a Stream,
    profile: &'a Profile,
    id: usize,
    template: &'a Template,
    /// Every template, by id.
    templates: &'a [Template],
    habits: &'h Habits<'a>,
    /// The template's concern and whether its family recurs, worked out
    /// once for all the findings about it.
    concern: OnceCell<Concern>,
    family_recurs: OnceCell<bool>,
}

impl<'a> Judged<'a, '_> {
    /// A finding about this template, around `context`.
    fn finding(&self, rule: Rule<'a>, score: f64, context: Cow<'a, Context>) -> Finding<'a> {
        let p = self.profile;
        let concern = match rule {
            // An absence is news whatever the template says.
            Rule::Slowdown(_) | Rule::Silence(_) => Concern::Plain,
            _ => *self
                .concern
                .get_or_init(|| concern(&self.template.text(), p.level.as_deref())),
        };
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
            concern,
            routine: self.routine(rule),
            episode: Vec::new(),
            also_in: Vec::new(),
        }
    }

    /// Why what `rule` found is the source's habit, if it is.
    fn routine(&self, rule: Rule<'_>) -> Option<Routine> {
        let (p, stream) = (self.profile, self.stream);
        let span = stream
            .first_time
            .zip(stream.last_time)
            .map(|(a, b)| b - a)?;
        match rule {
            Rule::RareTemplate { .. } | Rule::NewTemplate => {
                let first = p.first_time?;
                let start = stream.first_time?;
                let last = p.last.time.unwrap_or(first);
                if span >= START_OF_LOG_MIN_SPAN && first - start < START_OF_LOG_SECS {
                    Some(Routine::StartOfLog)
                } else if p.hours >= RECURRING_HOURS && last - first > DAY_SECS
                    || *self.family_recurs.get_or_init(|| self.family_recurs())
                {
                    Some(Routine::Recurring)
                } else {
                    None
                }
            }
            Rule::TokenFrequency {
                seen: (Some(first), Some(last)),
                ..
            } => {
                let lasted = last - first;
                (lasted > DAY_SECS && 2 * lasted >= span).then_some(Routine::Steady)
            }
            _ => None,
        }
    }

    /// Whether the templates of the source that begin as this one does
    /// (their first [`FAMILY_TOKENS`] tokens), this one included, recur
    /// together: a sudo command line with a new number of arguments, or a
    /// request for a new path, is a variant of a habit, split off only
    /// because the miner groups lines of one length.
    /// So does a template that differs from a recurring one of its length
    /// in one name alone (`apt-daily.service:` for `man-db.service:`):
    /// a name with punctuation in it, which the miner keeps as a word, not
    /// a plain word (`root` for `ops` stays news).
    fn family_recurs(&self) -> bool {
        let mine = &self.template.tokens;
        let same = |a: &String, b: &String| a == b || has_wildcard(a) || has_wildcard(b);
        let in_family = |theirs: &[String]| {
            mine.len() > FAMILY_TOKENS
                && theirs.len() > FAMILY_TOKENS
                && mine[..FAMILY_TOKENS]
                    .iter()
                    .zip(theirs)
                    .all(|(a, b)| same(a, b))
        };
        let renamed = |theirs: &[String]| {
            mine.len() == theirs.len() && {
                let mut differ = mine.iter().zip(theirs).filter(|(a, b)| !same(a, b));
                differ.next().is_some_and(|(a, b)| is_name(a) && is_name(b))
                    && differ.next().is_none()
            }
        };
        let family = self
            .habits
            .family_candidates(mine)
            .filter(|&id| in_family(&self.templates[id].tokens));
        let same_length = self.habits.recurring.get(&mine.len()).into_iter().flatten();
        let variants = same_length.copied().filter(|&id| {
            let theirs = &self.templates[id].tokens;
            id != self.id && !in_family(theirs) && renamed(theirs)
        });
        let (mut hours, mut first, mut last) = (0, i64::MAX, i64::MIN);
        for id in family.chain(variants) {
            let p = &self.stream.profiles[&id];
            hours += p.hours;
            if let Some(t) = p.first_time {
                first = first.min(t);
                last = last.max(p.last.time.unwrap_or(t));
            }
        }
        hours >= RECURRING_HOURS && last - first > DAY_SECS
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

    /// The template kept logging, but far below its usual rate: the rate
    /// before it, or when the input covers other days, the rate of the
    /// same time of day (nights are quiet).
    fn slowdown(&self, timeline: Option<&Timeline>) -> Option<Finding<'a>> {
        let slow: Slowdown = self.profile.rate?.worst_slowdown()?;
        let (from, until) = (slow.from * WINDOW_SECS, slow.until * WINDOW_SECS);
        let slow = match timeline.and_then(|t| t.usual_at_time_of_day(from, until)) {
            Some(usual) => slow.against(usual)?,
            None => slow,
        };
        Some(self.finding(
            Rule::Slowdown(slow),
            slow.score(),
            Cow::Borrowed(&self.profile.context),
        ))
    }

    fn dominant(&self) -> Vec<Finding<'a>> {
        let mut out = Vec::new();
        for (position, values) in self.profile.values.iter().enumerate() {
            if let Some((value, seen, score)) = dominant(values) {
                out.push(self.finding(
                    Rule::TokenFrequency {
                        value,
                        position,
                        repeats: seen.count,
                        seen: (seen.first, seen.last),
                    },
                    score,
                    Cow::Borrowed(&self.profile.context),
                ));
            }
        }
        out
    }

    /// A login or connection from an address never seen in that place of
    /// the template, where the addresses had been few
    /// ([`NEW_ADDRESS_MAX_KNOWN`] at most) and settled for more than a day
    /// over [`NEW_ADDRESS_MIN_LINES`] lines: the operator's key used from
    /// somewhere new, a service talking to a new peer.
    fn new_address(&self) -> Vec<Finding<'a>> {
        let mut out = Vec::new();
        for (position, values) in self.profile.values.iter().enumerate() {
            let n = values.counts.len();
            if values.other > 0 || !(2..=NEW_ADDRESS_MAX_KNOWN + 1).contains(&n) {
                continue;
            }
            let newest = values
                .counts
                .iter()
                .filter_map(|(v, s)| Some((s.first?, v, s)))
                .max_by_key(|(first, v, _)| (*first, *v));
            let Some((at, value, seen)) = newest.filter(|(_, v, _)| is_address(v)) else {
                continue;
            };
            let before = || values.counts.iter().filter(|(v, _)| *v != value);
            let settled = before().all(|(_, s)| s.first.is_some_and(|f| at - f > DAY_SECS));
            let lines: u64 = before().map(|(_, s)| s.count).sum();
            if settled && lines >= NEW_ADDRESS_MIN_LINES {
                let rule = Rule::NewAddress {
                    value,
                    position,
                    count: seen.count,
                    known: n - 1,
                    lines,
                };
                let score = 1.0 - seen.count as f64 / (lines + seen.count) as f64;
                let context = match &values.new_address {
                    Some((address, line)) if address == value => Cow::Owned(Context {
                        line: line.clone(),
                        ..Context::default()
                    }),
                    _ => Cow::Borrowed(&self.profile.context),
                };
                out.push(self.finding(rule, score, context));
            }
        }
        out
    }

    /// The template fell silent while the input went on, in its source or
    /// in others (a silence of the whole source it is part of is reported
    /// once, for the source; a source too irregular for that still has
    /// its steady templates, a heartbeat, to show that it stopped).
    fn silence(&self, source_silence: Option<Silence>, end: Option<i64>) -> Option<Finding<'a>> {
        let s = self.profile.gaps.silence(end)?;
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
        concern: Concern::Plain,
        routine: None,
        episode: Vec::new(),
        also_in: Vec::new(),
    })
}

/// The value that repeats at least [`DOMINANT_FACTOR`] times as often as
/// the mean of at least two peers, with its lines and a score in [0,1]
/// (1 - peer mean / its count). The peers are the values counted one by
/// one: the lines of values past [`super::sources::MAX_VALUES`] may be
/// few values or many, and taking each for a value of its own would make
/// any common value look dominant.
fn dominant(values: &Values) -> Option<(&str, Seen, f64)> {
    if values.counts.len() < 3 {
        return None;
    }
    let (value, &top) = values
        .counts
        .iter()
        .max_by_key(|(v, seen)| (seen.count, std::cmp::Reverse(*v)))?;
    let peers = values.counts.len() as u64 - 1;
    let peer_total = values.counts.values().map(|s| s.count).sum::<u64>() - top.count;
    let peer_mean = peer_total as f64 / peers as f64;
    let n = top.count;
    (n >= DOMINANT_MIN_REPEATS && n as f64 >= DOMINANT_FACTOR * peer_mean)
        .then(|| (value.as_str(), top, 1.0 - peer_mean / n as f64))
}

impl Finding<'_> {
    /// When what it found began, for findings that can share an episode:
    /// a rare or new template's first line, a burst's window.
    fn began(&self) -> Option<i64> {
        match self.rule {
            Rule::RareTemplate { .. } | Rule::NewTemplate => self.template?.first_time,
            Rule::Burst(b) => Some(b.window * WINDOW_SECS),
            _ => None,
        }
    }

    /// Marks a plain rare episode that reports success (a weekly job that
    /// started and finished) as routine: done news. Its episode must be
    /// known, so this runs after [`episodes`].
    fn note_success(&mut self) {
        let rarity = matches!(self.rule, Rule::RareTemplate { .. } | Rule::NewTemplate);
        if rarity && self.concern == Concern::Plain && self.routine.is_none() {
            let texts = self.template.iter().chain(&self.episode);
            if texts.map(|t| t.template.text()).any(|t| good_news(&t)) {
                self.routine = Some(Routine::Completed);
            }
        }
    }

    /// How much an operator would care ([`Concern::severity`]): nothing
    /// pages for a package manager's routine ([`package_manager`]) or a
    /// silence that is over.
    pub fn severity(&self) -> Severity {
        let over = matches!(self.rule, Rule::Silence(s) if !s.ongoing);
        if over || package_manager(self.source) {
            Severity::Info
        } else {
            self.concern.severity(self.routine)
        }
    }
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
            Rule::NewAddress {
                value, position, ..
            } => tokens.get(position).is_some_and(|t| t == value),
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
            counts: counts
                .iter()
                .map(|(v, n)| {
                    let seen = Seen {
                        count: *n,
                        ..Seen::default()
                    };
                    (v.to_string(), seen)
                })
                .collect(),
            other: 0,
            new_address: None,
        }
    }

    /// Findings of a source fed `lines` of one template, `login from
    /// <address>`, each `(time, address)`.
    fn logins(lines: &[(i64, &str)]) -> Vec<(String, Severity)> {
        let templates = [Template {
            tokens: ["login", "from", "<*>"].map(String::from).to_vec(),
            count: 0,
        }];
        let mut d = Detector::default();
        let stream = d.stream("auth.log");
        for (n, (time, address)) in lines.iter().enumerate() {
            let line = format!("login from {address}");
            d.observe(Observed {
                stream,
                id: 0,
                template: &templates[0],
                version: 0,
                tokens: &["login", "from", address],
                at: Origin {
                    file: 0,
                    line: n as u64 + 1,
                    time: Some(*time),
                },
                level: None,
                line: &line,
            });
        }
        let rules = Rules {
            threshold: 0.01,
            max_per_source: 10,
        };
        let (found, _) = d.findings(&templates, rules, None);
        found
            .iter()
            .filter_map(|f| match f.rule {
                Rule::NewAddress { value, .. } => {
                    let line = f.context.as_deref().map(|c| c.line.clone());
                    assert_eq!(line, Some(format!("login from {value}")));
                    Some((value.to_string(), f.severity()))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn an_address_new_after_a_settled_day_is_news() {
        let day = DAY_SECS;
        let mut lines: Vec<(i64, &str)> = (0..10).map(|n| (n * day / 2, "10.0.0.5")).collect();
        lines.push((5 * day, "185.220.101.4"));
        assert_eq!(
            logins(&lines),
            [("185.220.101.4".to_string(), Severity::Medium)]
        );
        // Two addresses from the start, then the new one: still news.
        let mut two = lines.clone();
        two.insert(1, (day / 4, "10.0.0.6"));
        assert_eq!(logins(&two).len(), 1);
        // Not when the addresses before it were themselves new that day,
        // nor when there were many, nor after too few lines.
        let mut young = lines.clone();
        young.insert(9, (5 * day - 60, "10.0.0.7"));
        assert_eq!(logins(&young), []);
        let many: Vec<(i64, String)> = (0..10)
            .map(|n| (n * day / 2, format!("10.0.0.{n}")))
            .collect();
        let mut many: Vec<(i64, &str)> = many.iter().map(|(t, a)| (*t, a.as_str())).collect();
        many.push((5 * day, "185.220.101.4"));
        assert_eq!(logins(&many), []);
        assert_eq!(
            logins(&[
                (0, "10.0.0.5"),
                (day, "10.0.0.5"),
                (3 * day, "185.220.101.4")
            ]),
            []
        );
    }

    #[test]
    fn a_value_far_above_its_peers_dominates() {
        let v = values(&[("user_xyz", 87), ("alice", 2), ("bob", 1), ("carol", 3)]);
        let (value, repeats, score) = dominant(&v).unwrap();
        assert_eq!((value, repeats.count), ("user_xyz", 87));
        assert!(score > 0.9 && score <= 1.0, "{score}");
    }

    #[test]
    fn values_past_the_counted_ones_are_not_taken_for_rare_peers() {
        // 64 values counted, about 30 lines each, and many more lines of
        // values past them: the top one at 44 is an ordinary value.
        let mut counts: Vec<(String, u64)> = (0..64).map(|i| (format!("TTL={i}"), 30)).collect();
        counts[0].1 = 44;
        let counts: Vec<(&str, u64)> = counts.iter().map(|(v, n)| (v.as_str(), *n)).collect();
        let mut v = values(&counts);
        v.other = 4_000;
        assert!(dominant(&v).is_none());
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
