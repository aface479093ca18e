//! `--detector pca` and `--detector iforest`: each source's lines cut
//! into windows (of time when its lines carry times, else of a fixed
//! number of lines), each window a vector of template counts, and the
//! windows whose mix of templates is unlike the source's others reported
//! as `log.window_anomaly` findings (see [`crate::detection::pca`] and
//! [`crate::detection::iforest`] for the maths).
//!
//! A rule looks at one template at a time; these look at how templates
//! move together: a "session opened" that stops being followed by its
//! "session closed", a retry storm that comes without the errors that
//! usually cause it. Each finding names the templates whose counts are
//! furthest from what the method expected.
//!
//! Memory: a window keeps only the templates it saw (a sparse vector), and
//! a source keeps at most [`MAX_WINDOWS`] windows; past that, neighbours
//! are merged and the window length doubles, so a year of one-minute
//! windows costs what a fortnight does.

use std::collections::HashMap;

use secops_common::Severity;

use crate::detection::iforest::{Forest, Isolation};
use crate::detection::pca::{C_ALPHA, Pca, Unfit};
use crate::input::mined::Origin;
use crate::mining::drain::Template;

/// Templates with a dimension of their own per source, the most frequent
/// there first; the rest share one "other templates" dimension, so ten
/// thousand templates cost what 64 do.
const MAX_TEMPLATES: usize = 64;

/// Windows kept per source before neighbours are merged.
const MAX_WINDOWS: usize = 20_000;

/// Windows a source needs before its correlations mean anything.
const MIN_WINDOWS: usize = 10;

/// How windows are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowConfig {
    /// Window length for sources whose lines carry times.
    pub secs: i64,
    /// Lines per window for sources without times.
    pub lines: u64,
}

/// The command line's defaults (`--window 1m --window-lines 100`), which
/// the evaluation uses too: a minute is short enough to see a storm
/// and long enough to hold a few lines of a quiet service; 100 lines is
/// the same order for an untimed log.
impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig {
            secs: 60,
            lines: 100,
        }
    }
}

/// How one source is being cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No line with a time yet, within the first window's lines: all in
    /// window 0 until a time comes (time windows) or the window fills
    /// (line windows).
    Undecided,
    Time,
    Lines,
}

/// One window's lines.
#[derive(Debug, Clone)]
struct Window {
    /// Start time / length (time windows) or line index / length.
    key: i64,
    lines: u64,
    first: Origin,
    last: Origin,
    /// Template id and lines, in order of first appearance.
    counts: Vec<(u32, u32)>,
}

impl Window {
    fn new(key: i64, at: Origin) -> Window {
        Window {
            key,
            lines: 0,
            first: at,
            last: at,
            counts: Vec::new(),
        }
    }

    fn add(&mut self, id: u32, n: u32) {
        match self.counts.iter_mut().find(|(t, _)| *t == id) {
            Some((_, count)) => *count += n,
            None => self.counts.push((id, n)),
        }
    }

    fn merge(&mut self, other: Window) {
        self.lines += other.lines;
        self.last = other.last;
        for (id, n) in other.counts {
            self.add(id, n);
        }
    }
}

/// One source's windows.
#[derive(Debug, Clone)]
struct Source {
    name: String,
    mode: Mode,
    /// Window length now: seconds or lines.
    width: i64,
    /// How many first-chosen windows one window now spans (doubles on
    /// each merge).
    factor: i64,
    lines: u64,
    windows: Vec<Window>,
}

impl Source {
    /// The windows learnt from and judged. Time windows leave out the
    /// first and the last: the input starts and ends mid-window, so they
    /// hold part of a window's lines and would look like a drop in every
    /// template at once. Line windows leave out a last one short of lines.
    fn judged(&self) -> &[Window] {
        let n = self.windows.len();
        match self.mode {
            Mode::Time => self.windows.get(1..n.saturating_sub(1)).unwrap_or(&[]),
            Mode::Lines | Mode::Undecided => {
                let short = self
                    .windows
                    .last()
                    .is_some_and(|w| (w.lines as i64) < self.width);
                &self.windows[..n - usize::from(short)]
            }
        }
    }

    /// Halves the number of windows by merging neighbours.
    fn merge_pairs(&mut self) {
        self.width *= 2;
        self.factor *= 2;
        let mut merged: Vec<Window> = Vec::with_capacity(self.windows.len() / 2 + 1);
        for mut w in std::mem::take(&mut self.windows) {
            w.key = w.key.div_euclid(2);
            match merged.last_mut() {
                Some(last) if last.key == w.key => last.merge(w),
                _ => merged.push(w),
            }
        }
        self.windows = merged;
    }
}

/// Every source's windows, fed line by line.
#[derive(Debug, Clone)]
pub struct Windows {
    config: WindowConfig,
    sources: Vec<Source>,
}

impl Windows {
    pub fn new(config: WindowConfig) -> Windows {
        Windows {
            config,
            sources: Vec::new(),
        }
    }

    /// Counts one line of template `id` in source `stream` (ids as
    /// [`crate::detection::sources::Detector::stream`] gives them, `name` its name);
    /// returns the key of the window it went to, in the units first chosen
    /// for the source (see [`Windows::anomalous`]); lines read before a source's
    /// first time get key 0 although they join its first time window.
    pub fn observe(&mut self, stream: usize, name: &str, id: usize, at: Origin) -> i64 {
        if self.sources.len() <= stream {
            self.sources.resize_with(stream + 1, || Source {
                name: String::new(),
                mode: Mode::Undecided,
                width: 0,
                factor: 1,
                lines: 0,
                windows: Vec::new(),
            });
        }
        let config = self.config;
        let s = &mut self.sources[stream];
        if s.lines == 0 {
            s.name = name.to_string();
            s.width = config.lines as i64;
        }
        s.lines += 1;
        let key = match (s.mode, at.time) {
            (Mode::Undecided, Some(time)) => {
                // The lines so far (fewer than a window's worth) had no
                // time: they join the first time window.
                s.mode = Mode::Time;
                s.width = config.secs;
                let key = time.div_euclid(s.width);
                for w in &mut s.windows {
                    w.key = key;
                }
                key
            }
            (Mode::Undecided, None) if s.lines <= config.lines => 0,
            (Mode::Undecided | Mode::Lines, _) => {
                s.mode = Mode::Lines;
                (s.lines as i64 - 1).div_euclid(s.width)
            }
            (Mode::Time, Some(time)) => time.div_euclid(s.width),
            // A line without a time after timed ones (a rotated file that
            // starts untimed): with the latest window.
            (Mode::Time, None) => s.windows.last().map_or(0, |w| w.key),
        };
        let index = match s.windows.last() {
            Some(w) if w.key == key => s.windows.len() - 1,
            _ => match s.windows.binary_search_by_key(&key, |w| w.key) {
                Ok(i) => i,
                Err(i) => {
                    s.windows.insert(i, Window::new(key, at));
                    i
                }
            },
        };
        let window = &mut s.windows[index];
        window.lines += 1;
        window.last = at;
        window.add(id as u32, 1);
        let first_units = key * s.factor;
        if s.windows.len() > MAX_WINDOWS {
            s.merge_pairs();
        }
        first_units
    }

    /// Cuts each source's judged windows into vectors and runs `methods`
    /// on them; calls `found` with the method, the source's index, the
    /// source, its vectors and each window flagged. Sources that cannot be
    /// judged are said so on stderr (`-v` for the reasons).
    fn flag<'s>(
        &'s self,
        methods: &[Method],
        mut found: impl FnMut(Method, usize, &'s Source, &Vectors<'_>, Flagged),
    ) {
        for (index, s) in self.sources.iter().enumerate() {
            let Some(v) = vectors(s) else {
                continue;
            };
            for &method in methods {
                let flagged = match method {
                    Method::Pca => pca_flags(s, &v),
                    Method::IsolationForest => forest_flags(&v),
                };
                for f in flagged {
                    found(method, index, s, &v, f);
                }
            }
        }
    }

    /// The windows `methods` flag, for evaluation: the method, the
    /// source's index and the keys [`Windows::observe`] returned for the
    /// window's lines.
    pub fn anomalous(&self, methods: &[Method]) -> Vec<(Method, usize, std::ops::Range<i64>)> {
        let mut out = Vec::new();
        self.flag(methods, |method, source, s, v, f| {
            let w = &v.windows[f.window];
            out.push((method, source, w.key * s.factor..(w.key + 1) * s.factor));
        });
        out
    }

    /// The windows `methods` flag, at most `max_per_source` per source
    /// and method (highest scores first; 0: all), and how many were left
    /// out.
    pub fn findings(
        &self,
        methods: &[Method],
        templates: &[Template],
        max_per_source: usize,
    ) -> (Vec<WindowAnomaly<'_>>, usize) {
        let mut found: Vec<(usize, WindowAnomaly<'_>)> = Vec::new();
        self.flag(methods, |method, source, s, v, f| {
            found.push((source, anomaly(method, s, v, f, templates)));
        });
        let mut out = Vec::new();
        let mut suppressed = 0;
        for source in 0..self.sources.len() {
            for &method in methods {
                let mut mine: Vec<&(usize, WindowAnomaly<'_>)> = found
                    .iter()
                    .filter(|f| f.1.method == method && f.0 == source)
                    .collect();
                mine.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
                let keep = match max_per_source {
                    0 => mine.len(),
                    n => n.min(mine.len()),
                };
                suppressed += mine.len() - keep;
                out.extend(mine.into_iter().take(keep).map(|f| f.1.clone()));
            }
        }
        (out, suppressed)
    }
}

/// A detector over window vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// PCA residual: the SPE against the Q-statistic ([`crate::detection::pca`]).
    Pca,
    /// Isolation forest ([`crate::detection::iforest`]).
    IsolationForest,
}

impl Method {
    /// The `detector` field of its records.
    pub fn name(self) -> &'static str {
        match self {
            Method::Pca => "pca",
            Method::IsolationForest => "iforest",
        }
    }
}

/// One source's judged windows as count vectors.
struct Vectors<'a> {
    windows: &'a [Window],
    /// Template id per dimension; `None` is every other template.
    dims: Vec<Option<u32>>,
    rows: Vec<Vec<f64>>,
}

/// The vectors of a source's judged windows, if it has enough of them.
fn vectors(s: &Source) -> Option<Vectors<'_>> {
    if s.lines == 0 {
        return None;
    }
    if s.mode != Mode::Time {
        secops_common::warn!(
            "{}: lines carry no times; windows are {} lines each (--window-lines)",
            s.name,
            s.width
        );
    }
    let windows = s.judged();
    if windows.len() < MIN_WINDOWS {
        secops_common::info!(
            "{}: {} whole windows, too few to judge (needs {MIN_WINDOWS})",
            s.name,
            windows.len()
        );
        return None;
    }
    let dims = dimensions(windows);
    let position: HashMap<u32, usize> = dims
        .iter()
        .enumerate()
        .filter_map(|(i, d)| d.map(|id| (id, i)))
        .collect();
    let rows = windows
        .iter()
        .map(|w| {
            let mut row = vec![0.0; dims.len()];
            for &(id, n) in &w.counts {
                row[position.get(&id).copied().unwrap_or(dims.len() - 1)] += f64::from(n);
            }
            row
        })
        .collect();
    Some(Vectors {
        windows,
        dims,
        rows,
    })
}

/// One window a method flagged, and why.
struct Flagged {
    /// Index into the source's judged windows.
    window: usize,
    /// In [0,1], higher is more unusual.
    score: f64,
    severity: Severity,
    /// Per dimension: its share of the blame, and the count the method
    /// expected there.
    share: Vec<f64>,
    expected: Vec<f64>,
    why: Why,
}

/// Why a method flagged a window, in the method's own measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Why {
    /// The window's squared prediction error, above the Q-statistic
    /// threshold, with `components` principal components kept.
    Pca {
        spe: f64,
        threshold: f64,
        components: usize,
    },
    /// The window's mean path length, the median window's, and the cut
    /// (as a path and as a score) it fell under.
    Iforest {
        depth: f64,
        median_depth: f64,
        cut_depth: f64,
        cut_score: f64,
    },
}

/// A window a method flagged, with what is known about it.
#[derive(Debug, Clone)]
pub struct WindowAnomaly<'a> {
    pub method: Method,
    pub source: &'a str,
    pub span: Span,
    pub first: Origin,
    pub last: Origin,
    pub lines: u64,
    /// Every dimension of the source: its template, the window's count
    /// there, what the method expected and its share of the blame.
    pub dims: Vec<Dimension>,
    /// In [0,1], higher is more unusual.
    pub score: f64,
    pub severity: Severity,
    pub why: Why,
    /// Whole windows of the source learnt from and judged.
    pub windows: usize,
}

/// Where a flagged window lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// A time window: its start (epoch seconds) and length.
    Time { start: i64, secs: i64 },
    /// A window of `lines` lines (a log without times).
    Lines { lines: i64 },
}

/// One dimension of a flagged window.
#[derive(Debug, Clone)]
pub struct Dimension {
    /// The template, or `None` for every template past the cap.
    pub template_id: Option<u32>,
    /// Its text, or `(other templates)`.
    pub template: String,
    pub count: f64,
    pub expected: f64,
    pub share: f64,
}

fn pca_flags(s: &Source, v: &Vectors<'_>) -> Vec<Flagged> {
    let pca = match Pca::fit(&v.rows, C_ALPHA) {
        Ok(pca) => pca,
        Err(why) => {
            secops_common::info!(
                "{}: no PCA model ({})",
                s.name,
                match why {
                    Unfit::NoVariance => "every window holds the same counts",
                    Unfit::NoResidual => "a few templates explain all of the variation",
                }
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (window, row) in v.rows.iter().enumerate() {
        let r = pca.residual(row);
        if r.spe <= pca.threshold {
            continue;
        }
        let score = 1.0 - pca.threshold / r.spe;
        out.push(Flagged {
            window,
            score,
            // Marginal (under twice the threshold) is low; statistics
            // alone never make a finding high.
            severity: if score >= 0.5 {
                Severity::Medium
            } else {
                Severity::Low
            },
            share: r.residual.iter().map(|x| x * x / r.spe).collect(),
            expected: r.expected.clone(),
            why: Why::Pca {
                spe: r.spe,
                threshold: pca.threshold,
                components: pca.kept(),
            },
        });
    }
    out
}

fn forest_flags(v: &Vectors<'_>) -> Vec<Flagged> {
    let forest = Forest::fit(&v.rows);
    let isolations: Vec<Isolation> = v.rows.iter().map(|r| forest.isolate(r)).collect();
    // Judged against the source's own windows (see `iforest::Cut`).
    let cut = forest.cut(&isolations);
    // What a window usually holds: the median count per template.
    let medians: Vec<f64> = (0..v.dims.len())
        .map(|d| {
            let mut column: Vec<f64> = v.rows.iter().map(|r| r[d]).collect();
            column.sort_by(f64::total_cmp);
            let n = column.len();
            (column[(n - 1) / 2] + column[n / 2]) / 2.0
        })
        .collect();
    let mut out = Vec::new();
    for (window, isolation) in isolations.into_iter().enumerate() {
        if isolation.depth >= cut.depth {
            continue;
        }
        let total: f64 = isolation.blame.iter().sum();
        out.push(Flagged {
            window,
            score: isolation.score,
            // Marginal (path over half the cut's, as PCA's under twice
            // its threshold) is low; statistics alone never make a
            // finding high.
            severity: if isolation.depth <= cut.depth / 2.0 {
                Severity::Medium
            } else {
                Severity::Low
            },
            share: isolation
                .blame
                .iter()
                .map(|b| b / total.max(f64::MIN_POSITIVE))
                .collect(),
            expected: medians.clone(),
            why: Why::Iforest {
                depth: isolation.depth,
                median_depth: cut.median,
                cut_depth: cut.depth,
                cut_score: cut.score,
            },
        });
    }
    out
}

/// The source's most frequent templates (at most [`MAX_TEMPLATES`]), then
/// "other" if any template is left over.
fn dimensions(windows: &[Window]) -> Vec<Option<u32>> {
    let mut totals: HashMap<u32, u64> = HashMap::new();
    for w in windows {
        for &(id, n) in &w.counts {
            *totals.entry(id).or_default() += u64::from(n);
        }
    }
    let mut ids: Vec<(u32, u64)> = totals.into_iter().collect();
    ids.sort_by_key(|&(id, n)| (std::cmp::Reverse(n), id));
    let rest = ids.len() > MAX_TEMPLATES;
    let mut dims: Vec<Option<u32>> = ids
        .into_iter()
        .take(MAX_TEMPLATES)
        .map(|(id, _)| Some(id))
        .collect();
    if rest {
        dims.push(None);
    }
    dims
}

/// What is known about a flagged window.
fn anomaly<'s>(
    method: Method,
    s: &'s Source,
    v: &Vectors<'_>,
    f: Flagged,
    templates: &[Template],
) -> WindowAnomaly<'s> {
    let w = &v.windows[f.window];
    let dims = v
        .dims
        .iter()
        .enumerate()
        .map(|(d, &id)| Dimension {
            template_id: id,
            template: id.map_or("(other templates)".to_string(), |id| {
                templates[id as usize].text()
            }),
            count: v.rows[f.window][d],
            expected: f.expected[d],
            share: f.share[d],
        })
        .collect();
    let span = if s.mode == Mode::Time {
        Span::Time {
            start: w.key * s.width,
            secs: s.width,
        }
    } else {
        Span::Lines { lines: s.width }
    };
    WindowAnomaly {
        method,
        source: &s.name,
        span,
        first: w.first,
        last: w.last,
        lines: w.lines,
        dims,
        score: f.score,
        severity: f.severity,
        why: f.why,
        windows: v.windows.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: u64, time: Option<i64>) -> Origin {
        Origin {
            file: 0,
            line,
            time,
        }
    }

    #[test]
    fn the_command_line_defaults_are_the_evaluated_ones() {
        use clap::Parser;
        let args = crate::Args::parse_from(["anomalizer"]);
        assert!(args.detectors().rules);
        assert_eq!(args.detectors().methods(), []);
        assert_eq!(args.detectors().windows, WindowConfig::default());
        let args = crate::Args::parse_from(["anomalizer", "--detector", "iforest,pca"]);
        assert!(!args.detectors().rules);
        assert_eq!(
            args.detectors().methods(),
            [Method::Pca, Method::IsolationForest]
        );
    }

    #[test]
    fn untimed_lines_fall_back_to_line_windows() {
        let mut w = Windows::new(WindowConfig { secs: 60, lines: 3 });
        let keys: Vec<i64> = (1..=7).map(|n| w.observe(0, "a", 0, at(n, None))).collect();
        assert_eq!(keys, [0, 0, 0, 1, 1, 1, 2]);
        assert_eq!(w.sources[0].mode, Mode::Lines);
    }

    #[test]
    fn a_time_within_the_first_window_switches_to_time_windows() {
        let mut w = Windows::new(WindowConfig {
            secs: 60,
            lines: 100,
        });
        w.observe(0, "a", 0, at(1, None));
        assert_eq!(w.observe(0, "a", 1, at(2, Some(600))), 10);
        assert_eq!(w.observe(0, "a", 1, at(3, Some(610))), 10);
        assert_eq!(w.observe(0, "a", 1, at(4, Some(660))), 11);
        // Out of order: back into its own window.
        assert_eq!(w.observe(0, "a", 0, at(5, Some(605))), 10);
        let s = &w.sources[0];
        assert_eq!(s.mode, Mode::Time);
        assert_eq!(s.windows.len(), 2);
        assert_eq!(s.windows[0].lines, 4);
        assert_eq!(s.windows[0].counts, [(0, 2), (1, 2)]);
    }

    #[test]
    fn too_many_windows_merge_pairwise_and_keys_stay_in_first_units() {
        let mut w = Windows::new(WindowConfig { secs: 1, lines: 10 });
        for t in 0..=(MAX_WINDOWS as i64) {
            w.observe(0, "a", 0, at(t as u64 + 1, Some(t)));
        }
        let s = &w.sources[0];
        assert_eq!((s.width, s.factor), (2, 2));
        assert_eq!(s.windows.len(), MAX_WINDOWS / 2 + 1);
        assert_eq!(s.windows[0].lines, 2);
        // A later line reports its key in one-second units.
        assert_eq!(w.observe(0, "a", 0, at(1, Some(30_001))), 30_000);
    }

    #[test]
    fn partial_windows_at_the_edges_of_the_input_are_not_judged() {
        // A clockwork log: the same three templates twice a minute each,
        // except that the input starts and ends mid-minute.
        let mut w = Windows::new(WindowConfig::default());
        let mut line = 0;
        for t in (50..1800 + 20).step_by(10) {
            line += 1;
            w.observe(0, "a", (line % 3) as usize, at(line, Some(t)));
        }
        let s = &w.sources[0];
        assert!(s.windows[0].lines < 6 && s.windows.last().unwrap().lines < 6);
        assert_eq!(s.judged().len(), s.windows.len() - 2);
        let flagged = w.anomalous(&[Method::Pca, Method::IsolationForest]);
        assert!(flagged.is_empty(), "{flagged:?}");
    }

    #[test]
    fn templates_past_the_cap_share_one_dimension() {
        let mut w = Windows::new(WindowConfig {
            secs: 60,
            lines: 10,
        });
        for id in 0..(MAX_TEMPLATES + 5) {
            // Template 0 most frequent, then by id.
            for _ in 0..(if id == 0 { 3 } else { 1 }) {
                w.observe(0, "a", id, at(1, Some(0)));
            }
        }
        let dims = dimensions(&w.sources[0].windows);
        assert_eq!(dims.len(), MAX_TEMPLATES + 1);
        assert_eq!(dims[0], Some(0));
        assert_eq!(dims[MAX_TEMPLATES], None);
    }
}
