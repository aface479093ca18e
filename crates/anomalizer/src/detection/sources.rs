//! Each source's statistics, fed line by line: for every template in it,
//! its count, first and last place and time, the values at its wildcard
//! positions, its rate per window and the gaps between its lines, and the
//! lines around what may become a finding; for the source itself, its
//! volume and gaps. The rules ([`super::rules`]) judge them.
//!
//! Every source (a file or rotated set, a journald unit, a `source` the
//! line names) is kept apart: a template is rare for its source's volume,
//! bursty or silent for its source's rhythm, so a small file is not
//! drowned by a big one read in the same run. Everything kept is per
//! source and template and bounded (a context of a few lines, at most
//! [`MAX_VALUES`] distinct values per parameter position), so memory grows
//! with the number of templates, not with the input.

use std::collections::HashMap;

use crate::detection::context::{Context, Recent, clipped, set_clipped};
use crate::detection::rhythm::{Gaps, Rate, WINDOW_SECS};
use crate::detection::timeline::Timeline;
use crate::fasthash::FastMap;
use crate::input::mined::Origin;
use crate::insights::SourceOverview;
use crate::mining::drain::{Template, has_wildcard};
use crate::mining::mask::{is_address, is_time_like};

/// Distinct values counted per parameter position; later new values only
/// add to an "other" count.
pub const MAX_VALUES: usize = 64;

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

/// The values seen at one wildcard position: up to [`MAX_VALUES`] counted
/// one by one, the rest together.
#[derive(Debug, Default, Clone)]
pub(super) struct Values {
    pub(super) counts: FastMap<String, Seen>,
    pub(super) other: u64,
    /// The latest address counted for the first time, and its line (what
    /// a new address shows).
    pub(super) new_address: Option<(String, String)>,
}

/// One value's lines, and the times of its first and last (when lines
/// carry times): a value that dominates all along is the log's habit, one
/// that dominates for an hour is news.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Seen {
    pub(super) count: u64,
    pub(super) first: Option<i64>,
    pub(super) last: Option<i64>,
}

/// Counts `n` more lines holding `value` at a position, the first of them
/// at `first` and the last at `last`; `line` is the line, when it is one.
fn count_value(
    slot: &mut Values,
    value: &str,
    n: u64,
    (first, last): (Option<i64>, Option<i64>),
    line: Option<&str>,
) {
    if let Some(seen) = slot.counts.get_mut(value) {
        seen.count += n;
        seen.first = seen.first.or(first);
        seen.last = last.or(seen.last);
    } else if slot.counts.len() < MAX_VALUES {
        let seen = Seen {
            count: n,
            first,
            last,
        };
        slot.counts.insert(value.to_string(), seen);
        if let Some(line) = line.filter(|_| is_address(value)) {
            slot.new_address = Some((value.to_string(), clipped(line)));
        }
    } else {
        slot.other += n;
    }
}

/// What one template has seen in one source.
#[derive(Debug, Clone)]
pub(super) struct Profile {
    pub(super) count: u64,
    pub(super) first: Origin,
    pub(super) last: Origin,
    pub(super) first_time: Option<i64>,
    /// The hours it was seen in (consecutive lines in the same hour count
    /// once), and the latest: a rare template seen on and off all week is
    /// a habit, not news.
    pub(super) hours: u32,
    last_hour: Option<i64>,
    pub(super) level: Option<String>,
    /// Around the template's first line here (its sample).
    pub(super) context: Context,
    /// Its latest line, what an ongoing silence shows.
    pub(super) last_line: String,
    pub(super) values: Vec<Values>,
    /// The template's positions that hold a wildcard, as of a version of
    /// it: parameter values are counted there only, and finding them
    /// anew for every line would read every token of the template.
    wildcards: (Option<u64>, Vec<usize>),
    /// The template's words at its other positions, as of that version:
    /// when one becomes a wildcard, every line counted before held that
    /// word there, and is counted as a value of it (so a value's count is
    /// exact whatever line made the position a wildcard).
    constants: Vec<Option<Box<str>>>,
    pub(super) rate: Option<Rate>,
    /// Contexts of the open window and of the worst burst so far.
    pub(super) burst_contexts: Vec<(i64, Context)>,
    pub(super) gaps: Gaps,
    /// Around the line that ended the longest gap.
    pub(super) gap_context: Option<(i64, Context)>,
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
pub(super) struct Stream {
    pub(super) name: String,
    pub(super) lines: u64,
    pub(super) profiles: FastMap<usize, Profile>,
    recent: Recent,
    waiting: Vec<(Target, Context)>,
    pub(super) gaps: Gaps,
    pub(super) gap_context: Option<(i64, Context)>,
    pub(super) first_time: Option<i64>,
    pub(super) last_time: Option<i64>,
    /// Its latest line read.
    last: Option<Origin>,
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

/// Statistics of every source and template, fed line by line.
#[derive(Debug, Default)]
pub struct Detector {
    pub(super) streams: Vec<Stream>,
    by_name: HashMap<String, usize>,
    /// The latest time any source showed: a steady source quiet since
    /// long before it went silent.
    pub(super) end: Option<i64>,
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
            last: None,
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

    /// The latest line of `source` (of a template that covers `template`,
    /// when given) if it came after `since` (epoch seconds): how a later
    /// run knows that a silence an earlier one reported is over.
    pub fn logged_after(
        &self,
        source: &str,
        template: Option<&str>,
        templates: &[Template],
        since: i64,
    ) -> Option<Origin> {
        let stream = &self.streams[*self.by_name.get(source)?];
        let Some(text) = template else {
            return stream
                .last
                .filter(|_| stream.last_time.is_some_and(|t| t > since));
        };
        stream
            .profiles
            .iter()
            .filter(|&(&id, p)| {
                p.last.time.is_some_and(|t| t > since) && templates[id].covers(text)
            })
            .map(|(_, p)| p.last)
            .max_by_key(|o| (o.time, o.file, o.line))
    }

    /// Each template's lines per hour, by template id.
    pub fn timelines(&self) -> &[Timeline] {
        &self.timelines
    }

    /// Records one mined line.
    pub fn observe(&mut self, o: Observed<'_>) {
        let stream = &mut self.streams[o.stream];
        stream.lines += 1;
        stream.last = Some(o.at);
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
                hours: 0,
                last_hour: None,
                level: o.level.map(str::to_string),
                context: recent.context(o.line),
                last_line: String::new(),
                values: Vec::new(),
                wildcards: (None, Vec::new()),
                constants: Vec::new(),
                rate: None,
                burst_contexts: Vec::new(),
                gaps: Gaps::default(),
                gap_context: None,
            }
        });
        profile.count += 1;
        // The last line before this one, for values counted late.
        let previous = std::mem::replace(&mut profile.last, o.at);
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
            let hour = time.div_euclid(3_600);
            if profile.last_hour != Some(hour) {
                profile.last_hour = Some(hour);
                profile.hours += 1;
            }
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
            // The lines before this one, all with the old word where a
            // wildcard now is.
            let before = profile.count - 1;
            for &position in wildcards.iter() {
                let Some(Some(word)) = profile.constants.get(position) else {
                    continue;
                };
                if before > 0 && !is_time_like(word) {
                    let (first, last) = (profile.first_time, previous.time);
                    count_value(
                        &mut profile.values[position],
                        word,
                        before,
                        (first, last),
                        None,
                    );
                }
            }
            profile.constants.clear();
            profile.constants.extend(
                o.template
                    .tokens
                    .iter()
                    .map(|t| (!has_wildcard(t)).then(|| Box::from(t.as_str()))),
            );
        }
        for &position in wildcards.iter() {
            let Some(token) = o.tokens.get(position) else {
                break;
            };
            if is_time_like(token) {
                continue;
            }
            let at = (o.at.time, o.at.time);
            count_value(&mut profile.values[position], token, 1, at, Some(o.line));
        }
        recent.push(o.line);
    }

    /// Delivers the contexts still waiting for lines after them: the
    /// input has ended.
    pub(super) fn flush_waiting(&mut self) {
        for stream in &mut self.streams {
            for (target, context) in std::mem::take(&mut stream.waiting) {
                stream.deliver(target, context);
            }
        }
    }
}
