//! A template's or a source's rhythm in constant space: its rate per
//! window (for bursts) and the gaps between its lines (for silences).

/// Length of the windows a template's rate is counted in.
pub const WINDOW_SECS: i64 = 60;

/// Windows of history a template needs before a window can be a burst
/// (or start a slowdown), and how far above its usual rate (and how many
/// lines at least) it must be.
const BURST_MIN_HISTORY: i64 = 10;
const BURST_FACTOR: f64 = 10.0;
pub const BURST_MIN_LINES: u64 = 10;

/// How far below its usual rate a template must fall, over a stretch of
/// windows, for a slowdown (it slowed without stopping: a stop is a
/// silence), the lines the stretch must have been expected to hold at
/// least, and the rate under which a stretch goes on (looser, so that one
/// window of noise does not cut a slowdown in pieces; each window must
/// also stay under half the usual rate, or hold one line, so that the
/// stretch ends when the rate comes back).
const SLOW_FACTOR: f64 = 5.0;
const SLOW_MIN_EXPECTED: f64 = 20.0;
const SLOW_GOES_ON: f64 = 4.0;
/// A rate is only "usual" if the windows before were steady: their counts'
/// variance at most this many times their mean (random arrivals give 1; a
/// log written in clumps, dpkg's, gives hundreds, and its quiet weeks are
/// no slowdown).
const SLOW_MAX_DISPERSION: f64 = 5.0;

/// Gaps a rhythm needs before it counts as steady, how regular the gaps
/// must be (coefficient of variation; a Poisson stream has 1), and how far
/// beyond the usual gap, and how long at least, a silence must be. The
/// rhythm must also have lasted at least a `SILENCE_FACTOR`th of the
/// silence: a one-minute storm that ended an hour ago is not a heartbeat
/// that stopped (the burst rule reports the storm).
const SILENCE_MIN_GAPS: u64 = 20;
const SILENCE_MAX_CV: f64 = 1.0;
const SILENCE_FACTOR: f64 = 10.0;
const SILENCE_MIN_SECS: i64 = 2 * WINDOW_SECS;

/// A template's rate, window by window: the open window and what came
/// before it.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    first_window: i64,
    window: i64,
    in_window: u64,
    before: u64,
    /// The sum of the squared counts of the windows before the open one.
    before_squares: f64,
    worst: Option<Burst>,
    /// The stretch of slow windows under way.
    slow: Option<Slowdown>,
    worst_slow: Option<Slowdown>,
}

/// A stretch of whole windows in which a template kept logging, far below
/// its usual rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slowdown {
    /// First window of the stretch, and the window after its last.
    pub from: i64,
    pub until: i64,
    pub count: u64,
    /// Lines the stretch would have held at the rate before it.
    pub expected: f64,
    /// Windows of history before it.
    history: i64,
}

impl Slowdown {
    pub fn score(&self) -> f64 {
        1.0 - self.count as f64 / self.expected
    }

    /// The same stretch judged against `expected` lines instead of the
    /// rate before it (what the same time of day usually holds), if it is
    /// still a slowdown.
    pub fn against(self, expected: f64) -> Option<Slowdown> {
        Some(Slowdown { expected, ..self }).filter(Slowdown::counts)
    }

    /// Far enough below, over enough lines, not a stop, and after a rate
    /// that lasted at least a tenth as long as the stretch (as for a
    /// silence: an hour of steady lines says little about the next weeks).
    fn counts(&self) -> bool {
        self.count > 0
            && self.expected >= SLOW_MIN_EXPECTED
            && self.count as f64 * SLOW_FACTOR <= self.expected
            && (self.history as f64) * SILENCE_FACTOR >= (self.until - self.from) as f64
    }
}

/// The window furthest above a template's usual rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burst {
    pub window: i64,
    pub count: u64,
    pub expected: f64,
}

impl Burst {
    pub fn score(&self) -> f64 {
        1.0 - self.expected / self.count as f64
    }
}

impl Rate {
    pub fn new(window: i64) -> Rate {
        Rate {
            first_window: window,
            window,
            in_window: 0,
            before: 0,
            before_squares: 0.0,
            worst: None,
            slow: None,
            worst_slow: None,
        }
    }

    /// Counts a line in `window`; true when it is the line that brings
    /// its window to [`BURST_MIN_LINES`] (a moment worth keeping context
    /// of).
    pub fn add(&mut self, window: i64) -> bool {
        if window > self.window {
            self.worst = self.worst_with_open_window();
            self.close(self.window, self.in_window, 1);
            self.before += self.in_window;
            self.before_squares += (self.in_window * self.in_window) as f64;
            // The windows skipped held no line.
            self.close(self.window + 1, 0, window - self.window - 1);
            self.window = window;
            self.in_window = 0;
        }
        // Lines from an earlier window (out-of-order input) count in the
        // open one rather than rewriting history.
        self.in_window += 1;
        self.in_window == BURST_MIN_LINES
    }

    /// Ends `n` whole windows from `window` on, holding `count` lines in
    /// all, for the slowdown under way: it goes on while it stays far
    /// enough below the rate before it, else it ends and is judged.
    fn close(&mut self, window: i64, count: u64, n: i64) {
        if n == 0 {
            return;
        }
        if let Some(slow) = &mut self.slow {
            let rate = slow.expected / (slow.until - slow.from) as f64;
            let low = count as f64 <= (rate * n as f64 / 2.0).max(1.0);
            let total = (slow.count + count) as f64;
            if low && total * SLOW_GOES_ON <= rate * (slow.until + n - slow.from) as f64 {
                slow.count += count;
                slow.until += n;
                slow.expected += rate * n as f64;
                return;
            }
            self.end_slow();
        }
        let history = window - self.first_window;
        if history < BURST_MIN_HISTORY {
            return;
        }
        let rate = self.before as f64 / history as f64;
        let variance = self.before_squares / history as f64 - rate * rate;
        if variance <= SLOW_MAX_DISPERSION * rate && count as f64 * SLOW_GOES_ON <= rate * n as f64
        {
            self.slow = Some(Slowdown {
                from: window,
                until: window + n,
                count,
                expected: rate * n as f64,
                history,
            });
        }
    }

    /// Judges the stretch under way, keeping it if it is the worst yet.
    fn end_slow(&mut self) {
        let Some(slow) = self.slow.take().filter(Slowdown::counts) else {
            return;
        };
        if self.worst_slow.is_none_or(|w| slow.score() > w.score()) {
            self.worst_slow = Some(slow);
        }
    }

    /// The worst slowdown, the stretch under way included (its whole
    /// windows: the open one is not over).
    pub fn worst_slowdown(&self) -> Option<Slowdown> {
        let mut rate = *self;
        rate.end_slow();
        rate.worst_slow
    }

    /// The window lines are being counted in.
    pub fn open_window(&self) -> i64 {
        self.window
    }

    /// The worst burst so far, the open window included.
    pub fn worst_with_open_window(&self) -> Option<Burst> {
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

/// The gaps between a rhythm's lines: their count, sum and sum of squares
/// (for the usual gap and its spread) and the longest one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gaps {
    last: Option<i64>,
    n: u64,
    sum: f64,
    sum_sq: f64,
    longest: Option<(i64, i64)>,
}

/// A stretch of quiet far longer than the usual gap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Silence {
    pub from: i64,
    pub until: i64,
    /// The usual gap, the silence itself left out.
    pub usual: f64,
    /// Still quiet when the input ended (the rhythm did not come back).
    pub ongoing: bool,
}

impl Silence {
    pub fn secs(&self) -> i64 {
        self.until - self.from
    }

    pub fn score(&self) -> f64 {
        1.0 - self.usual / self.secs() as f64
    }
}

impl Gaps {
    /// Counts a line at `time`; true when it ends the longest gap so far.
    pub fn add(&mut self, time: i64) -> bool {
        let Some(last) = self.last.replace(time.max(self.last.unwrap_or(time))) else {
            return false;
        };
        // Out-of-order lines are a gap of 0, not a negative one.
        let gap = (time - last).max(0);
        self.n += 1;
        self.sum += gap as f64;
        self.sum_sq += (gap * gap) as f64;
        let longer = self.longest.is_none_or(|(from, until)| gap > until - from);
        if longer {
            self.longest = Some((last, time));
        }
        longer && gap > 0
    }

    /// The longest silence, if the rhythm was steady and the silence far
    /// beyond its usual gap: the longest gap between lines, or the quiet
    /// from the last line to `end` (when the input went on elsewhere).
    pub fn silence(&self, end: Option<i64>) -> Option<Silence> {
        let last = self.last?;
        let usual_without = |gap: i64, counted: bool| {
            let (mut n, mut sum, mut sum_sq) = (self.n as f64, self.sum, self.sum_sq);
            if counted {
                n -= 1.0;
                sum -= gap as f64;
                sum_sq -= (gap * gap) as f64;
            }
            let mean = sum / n.max(1.0);
            let var = (sum_sq / n.max(1.0) - mean * mean).max(0.0);
            (mean, var.sqrt())
        };
        let inner = self.longest.map(|(from, until)| (from, until, false));
        let trailing = end.filter(|&e| e > last).map(|e| (last, e, true));
        let (from, until, ongoing) = match (inner, trailing) {
            (Some(i), Some(t)) if t.1 - t.0 > i.1 - i.0 => t,
            (Some(i), _) => i,
            (None, t) => t?,
        };
        let gap = until - from;
        let (usual, spread) = usual_without(gap, !ongoing);
        let gaps = self.n - u64::from(!ongoing);
        let lasted = usual * gaps as f64;
        let steady = gaps >= SILENCE_MIN_GAPS
            && usual > 0.0
            && spread <= SILENCE_MAX_CV * usual
            && lasted * SILENCE_FACTOR >= gap as f64;
        (steady && gap >= SILENCE_MIN_SECS && gap as f64 >= SILENCE_FACTOR * usual).then_some(
            Silence {
                from,
                until,
                usual,
                ongoing,
            },
        )
    }
}

/// A duration as a person reads it: `45s`, `12m`, `2h5m`, `3d4h`.
pub fn human_secs(secs: i64) -> String {
    if secs < 120 {
        format!("{secs}s")
    } else if secs < 7200 {
        format!("{}m", secs / 60)
    } else if secs < 172_800 {
        format!("{}h{}m", secs / 3600, secs / 60 % 60)
    } else {
        format!("{}d{}h", secs / 86_400, secs / 3600 % 24)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_far_above_the_usual_rate_is_a_burst() {
        let mut rate = Rate::new(0);
        for window in 0..30 {
            rate.add(window);
        }
        assert!(rate.worst_with_open_window().is_none(), "a steady rate");
        let tenth: Vec<bool> = (0..40).map(|_| rate.add(30)).collect();
        assert_eq!(tenth.iter().position(|t| *t), Some(9));
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

    /// A rate fed `per_window[w]` lines in window `w`.
    fn rate_of(per_window: &[u64]) -> Rate {
        let mut rate = Rate::new(0);
        for (w, &n) in per_window.iter().enumerate() {
            for _ in 0..n {
                rate.add(w as i64);
            }
        }
        rate
    }

    #[test]
    fn a_rate_far_below_the_usual_is_a_slowdown() {
        // 60 lines a window for 30 windows, then 5 to 7 for 20, then back.
        let mut windows = vec![60; 30];
        windows.extend((0..20).map(|w| 5 + w % 3));
        windows.extend([60; 10]);
        let slow = rate_of(&windows).worst_slowdown().unwrap();
        assert_eq!((slow.from, slow.until), (30, 50));
        assert_eq!(slow.count, windows[30..50].iter().sum::<u64>());
        assert!((slow.expected - 1200.0).abs() < 1e-9, "{slow:?}");
        assert!(slow.score() > 0.89);
        // Still slow when the input ends: judged on its whole windows.
        let ongoing = rate_of(&windows[..45]).worst_slowdown().unwrap();
        assert_eq!((ongoing.from, ongoing.until), (30, 44));
    }

    #[test]
    fn a_dip_a_stop_a_clumpy_past_or_a_short_history_is_no_slowdown() {
        let mut half = vec![60; 30];
        half.extend([30; 20]);
        assert_eq!(rate_of(&half).worst_slowdown(), None, "half the rate");
        let mut stop = vec![60; 30];
        stop.extend([0; 20]);
        stop.push(60);
        assert_eq!(rate_of(&stop).worst_slowdown(), None, "a stop is a silence");
        let mut sparse = vec![1; 30];
        sparse.extend([0, 0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(
            rate_of(&sparse).worst_slowdown(),
            None,
            "too few lines expected"
        );
        assert_eq!(
            rate_of(&[60, 60, 2, 2, 60]).worst_slowdown(),
            None,
            "no history yet"
        );
        // A thousand lines in one window of twelve, then one a day.
        let mut clumps = vec![0; 12];
        clumps[3] = 1000;
        clumps.extend([0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
        assert_eq!(rate_of(&clumps).worst_slowdown(), None, "written in clumps");
    }

    #[test]
    fn a_steady_rhythm_that_stops_is_a_silence() {
        let mut gaps = Gaps::default();
        for i in 0..50 {
            gaps.add(i * 10 + i % 3);
        }
        assert_eq!(gaps.silence(Some(500)), None, "no longer than usual");
        let s = gaps.silence(Some(2000)).unwrap();
        assert!(s.ongoing);
        assert_eq!((s.from, s.until), (491, 2000));
        assert!((s.usual - 10.0).abs() < 0.2, "{}", s.usual);
        assert!(gaps.add(2000), "the gap ends here");
        for i in 1..10 {
            gaps.add(2000 + i * 10);
        }
        let s = gaps.silence(Some(2090)).unwrap();
        assert!(!s.ongoing);
        assert_eq!((s.from, s.until), (491, 2000));
        assert!(s.score() > 0.99);
    }

    #[test]
    fn irregular_or_short_rhythms_are_not_judged() {
        let mut clumps = Gaps::default();
        for i in 0..100 {
            // Ten lines in one second, then a minute of nothing.
            clumps.add(i / 10 * 60);
        }
        assert_eq!(clumps.silence(Some(100_000)), None, "not steady");
        let mut few = Gaps::default();
        for i in 0..5 {
            few.add(i * 10);
        }
        assert_eq!(few.silence(Some(100_000)), None, "too little history");
    }

    #[test]
    fn a_storm_that_ended_is_not_a_silence() {
        // Thirty lines two seconds apart, then 68 minutes of nothing while
        // the source went on: steady, but for one minute only.
        let mut storm = Gaps::default();
        for i in 0..30 {
            storm.add(i * 2);
        }
        assert_eq!(storm.silence(Some(58 + 68 * 60)), None);
        // Ten minutes of the same rhythm is one that stopped.
        let mut heartbeat = Gaps::default();
        for i in 0..300 {
            heartbeat.add(i * 2);
        }
        let s = heartbeat.silence(Some(598 + 68 * 60)).unwrap();
        assert_eq!(s.secs(), 68 * 60);
    }

    #[test]
    fn durations_read_like_a_person_writes_them() {
        assert_eq!(human_secs(45), "45s");
        assert_eq!(human_secs(720), "12m");
        assert_eq!(human_secs(7500), "2h5m");
        assert_eq!(human_secs(273_600), "3d4h");
    }
}
