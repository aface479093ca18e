//! An isolation forest (Liu, Ting & Zhou, "Isolation Forest", ICDM 2008)
//! over window count vectors: random trees cut the windows apart with
//! random splits, and a window that is cut off from the rest in few splits
//! is unusual. Unlike PCA it assumes no linear structure, so it also sees
//! a window that is odd in a way no correlation describes; like PCA it
//! learns from the windows it judges.
//!
//! Plain on purpose: 100 trees of at most 256 windows each, built from a
//! fixed seed so that the same input always gives the same findings.

/// Trees in the forest, and windows sampled for each (the paper's
/// defaults: more change little).
const TREES: usize = 100;
const SAMPLE: usize = 256;

/// The seed of the splits: fixed, so runs are reproducible.
const SEED: u64 = 0x5ec0_75ec_0000_0005;

/// A window is flagged when its mean path is shorter than this share of
/// the median window's: it is cut off from the rest in under half the
/// splits a typical window of the same source needs.
///
/// Why relative to the median and not a fixed score: the paper reads
/// `s` against `c(n)`, the path of an average point, so `s ≈ 0.5` is
/// ordinary and a path half as long (`s = 2^(-1/2) ≈ 0.71`, the old
/// fixed cut of 0.7) stands out. That holds when the typical window's
/// path is `c(n)`, which real windows do not promise: BGL's 20 line
/// windows have a median path of 1.5·c(n) (median score 0.36), so no
/// window reached 0.7 although one is isolated in under half the
/// median's splits. (Where the median path is c(n), as in a day of a
/// login log whose load cycles, the cut is 0.707; that log's busiest
/// minutes score 0.701, which 0.7 flagged: a thin margin.) Cuts on the
/// spread of the scores fare worse: a log whose load varies has a long
/// tail of busy and quiet windows, which median + 3.5·MAD flags by the
/// dozen (181 of a day's 838 minutes) and Q3 + 3·IQR by fifteen, while
/// missing the minute whose sessions never close. Path length is the
/// forest's own measure, and the median window is the source's typical
/// one.
pub const SHARE: f64 = 0.5;

/// At most this share of a source's windows (at least one) are flagged,
/// the most isolated first. The paper's premise is that anomalies are
/// "few and different": where many windows are isolated alike (a quiet
/// source whose windows are mostly copies of one another, so that the
/// median window sits deep in every tree and the rest look isolated
/// beside it), being isolated is what the source usually does. This is a
/// ceiling, not scikit-learn's `contamination` quota: a source with no
/// window past [`SHARE`] flags none.
pub const MOST_FLAGGED: f64 = 0.01;

#[derive(Debug, Clone, Copy)]
enum Node {
    Leaf {
        size: usize,
    },
    Split {
        dim: usize,
        value: f64,
        size: usize,
        left: usize,
        right: usize,
    },
}

/// The fitted forest.
#[derive(Debug, Clone)]
pub struct Forest {
    trees: Vec<Vec<Node>>,
    /// `c(sample)`: the path of an average window, the normaliser of
    /// path lengths (at least 1).
    normaliser: f64,
}

/// One window against the forest.
#[derive(Debug, Clone, PartialEq)]
pub struct Isolation {
    /// `E[h]`: the window's path length averaged over the trees.
    pub depth: f64,
    /// `2^(-E[h] / c(sample))`, in (0,1]: near 1 isolated at once.
    pub score: f64,
    /// Per dimension, how much the splits on it cut the window off from
    /// the others (the share of the node's windows left on the other
    /// side, summed along the window's paths).
    pub blame: Vec<f64>,
}

/// The cut a source's windows are judged by ([`SHARE`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cut {
    /// The median window's mean path length.
    pub median: f64,
    /// Windows with a shorter mean path are flagged: [`SHARE`] of the
    /// median, and never more than `c(sample)`, the path of an average
    /// window (score 0.5): where most windows are copies of one another
    /// and their paths run deep, a window merely as isolated as an
    /// average one is not an anomaly. If more than [`MOST_FLAGGED`] of
    /// the windows are shorter, the cut moves up to the first window
    /// past that share; windows as isolated as it (copies of it) are
    /// left out with it.
    pub depth: f64,
    /// The same cut as a score: windows scoring above it are flagged.
    pub score: f64,
}

/// A small, fast, seedable generator (SplitMix64); quality is ample for
/// picking split points.
#[derive(Debug, Clone)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, n).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The average path length of an unsuccessful search in a binary search
/// tree of `n` items: what a leaf of `n` windows adds to a path.
fn average_path(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        n => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + 0.577_215_664_901_532_9) - 2.0 * (n - 1.0) / n
        }
    }
}

impl Forest {
    /// Grows the forest on `rows` (one count vector per window).
    pub fn fit(rows: &[Vec<f64>]) -> Forest {
        let mut rng = SplitMix(SEED);
        let sample = rows.len().min(SAMPLE);
        let limit = (sample.max(2) as f64).log2().ceil() as usize;
        let mut indices: Vec<usize> = (0..rows.len()).collect();
        let trees = (0..TREES)
            .map(|_| {
                // A partial Fisher–Yates shuffle draws the sample.
                for i in 0..sample {
                    let j = i + rng.below(indices.len() - i);
                    indices.swap(i, j);
                }
                let mut picked = indices[..sample].to_vec();
                let mut nodes = Vec::new();
                grow(rows, &mut picked, 0, limit, &mut rng, &mut nodes);
                nodes
            })
            .collect();
        Forest {
            trees,
            normaliser: average_path(sample).max(1.0),
        }
    }

    /// The score of a mean path length `depth`.
    pub fn score(&self, depth: f64) -> f64 {
        2f64.powf(-depth / self.normaliser)
    }

    /// The cut for windows whose isolations are `judged` (see [`Cut`]).
    pub fn cut(&self, judged: &[Isolation]) -> Cut {
        let mut depths: Vec<f64> = judged.iter().map(|i| i.depth).collect();
        depths.sort_by(f64::total_cmp);
        let n = depths.len();
        let median = match n {
            0 => self.normaliser,
            n => (depths[(n - 1) / 2] + depths[n / 2]) / 2.0,
        };
        let most = ((n as f64 * MOST_FLAGGED).ceil() as usize).max(1);
        let depth = (SHARE * median).min(self.normaliser);
        let depth = match depths.get(most) {
            Some(&past) if past < depth => past,
            _ => depth,
        };
        Cut {
            median,
            depth,
            score: self.score(depth),
        }
    }

    /// Scores one window.
    pub fn isolate(&self, row: &[f64]) -> Isolation {
        let mut blame = vec![0.0; row.len()];
        let mut total = 0.0;
        for tree in &self.trees {
            let (mut at, mut depth) = (0, 0.0);
            loop {
                match tree[at] {
                    Node::Leaf { size } => {
                        total += depth + average_path(size);
                        break;
                    }
                    Node::Split {
                        dim,
                        value,
                        size,
                        left,
                        right,
                    } => {
                        let next = if row[dim] < value { left } else { right };
                        let kept = match tree[next] {
                            Node::Leaf { size } | Node::Split { size, .. } => size,
                        };
                        blame[dim] += (size - kept) as f64 / size as f64;
                        at = next;
                        depth += 1.0;
                    }
                }
            }
        }
        let depth = total / self.trees.len() as f64;
        Isolation {
            depth,
            score: self.score(depth),
            blame,
        }
    }
}

/// Grows one (sub)tree over `picked` rows and returns its root's index:
/// a random dimension among those that still vary, split at a random
/// point between its least and greatest value, until a window stands
/// alone or the depth limit is reached.
fn grow(
    rows: &[Vec<f64>],
    picked: &mut [usize],
    depth: usize,
    limit: usize,
    rng: &mut SplitMix,
    nodes: &mut Vec<Node>,
) -> usize {
    let at = nodes.len();
    let size = picked.len();
    nodes.push(Node::Leaf { size });
    if depth >= limit || size <= 1 {
        return at;
    }
    let dims = rows[picked[0]].len();
    let varying: Vec<(usize, f64, f64)> = (0..dims)
        .filter_map(|d| {
            let (lo, hi) = picked.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &i| {
                (lo.min(rows[i][d]), hi.max(rows[i][d]))
            });
            (hi > lo).then_some((d, lo, hi))
        })
        .collect();
    if varying.is_empty() {
        return at;
    }
    let (dim, lo, hi) = varying[rng.below(varying.len())];
    let mut value = lo + rng.unit() * (hi - lo);
    if value <= lo {
        value = (lo + hi) / 2.0;
    }
    // Partition: rows below the split first.
    let mut split = 0;
    for i in 0..picked.len() {
        if rows[picked[i]][dim] < value {
            picked.swap(i, split);
            split += 1;
        }
    }
    let (below, above) = picked.split_at_mut(split);
    let left = grow(rows, below, depth + 1, limit, rng, nodes);
    let right = grow(rows, above, depth + 1, limit, rng, nodes);
    nodes[at] = Node::Split {
        dim,
        value,
        size,
        left,
        right,
    };
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_normaliser_matches_the_paper() {
        // c(n) = 2H(n-1) - 2(n-1)/n with H(i) ≈ ln(i) + γ.
        assert_eq!(average_path(1), 0.0);
        assert_eq!(average_path(2), 1.0);
        assert!(
            (average_path(256) - 10.244).abs() < 0.01,
            "{}",
            average_path(256)
        );
    }

    #[test]
    fn an_outlier_is_isolated_first_and_blamed_on_its_dimension() {
        // A 10×10 grid of ordinary windows, and one far off in dimension 1.
        let mut rows: Vec<Vec<f64>> = (0..100)
            .map(|i| vec![f64::from(i % 10), f64::from(i / 10), 3.0])
            .collect();
        rows.push(vec![5.0, 60.0, 3.0]);
        let forest = Forest::fit(&rows);
        let isolations: Vec<Isolation> = rows.iter().map(|r| forest.isolate(r)).collect();
        let cut = forest.cut(&isolations);
        let odd = forest.isolate(&rows[100]);
        assert!(
            odd.depth < cut.depth && odd.score > cut.score,
            "{odd:?} {cut:?}"
        );
        assert!(odd.blame[1] > odd.blame[0], "{odd:?}");
        assert_eq!(odd.blame[2], 0.0, "a constant dimension is never split");
        let flagged = isolations.iter().filter(|i| i.depth < cut.depth).count();
        assert_eq!(flagged, 1);
        // The same input gives the same forest.
        assert_eq!(Forest::fit(&rows).isolate(&rows[100]), odd);
    }

    #[test]
    fn identical_windows_score_one_half() {
        // Nothing can be split: every path is the average one.
        let rows = vec![vec![2.0, 2.0]; 50];
        let forest = Forest::fit(&rows);
        let same = forest.isolate(&rows[0]);
        assert!((same.score - 0.5).abs() < 1e-9, "{same:?}");
        // ... so a steady source flags nothing: the cut is half the
        // median path, a score of 2^(-1/2).
        let cut = forest.cut(&vec![same.clone(); 50]);
        assert!((cut.median - average_path(50)).abs() < 1e-9, "{cut:?}");
        assert!((cut.score - 0.5f64.sqrt()).abs() < 1e-9, "{cut:?}");
        assert!(same.depth >= cut.depth);
    }

    #[test]
    fn many_windows_isolated_alike_are_not_anomalies() {
        // A quiet source: 150 windows the same, 50 varying among ten
        // patterns, one far off. The copies sit deep (median path about
        // 1.4·c(n)), so the varying windows fall under half of it; only
        // the one that is also few is flagged.
        let mut rows: Vec<Vec<f64>> = (0..200)
            .map(|i| match i {
                0..150 => vec![1.0, 0.0],
                _ => vec![f64::from(i % 5), f64::from(i % 2)],
            })
            .collect();
        rows.push(vec![1.0, 3.0]);
        let forest = Forest::fit(&rows);
        let isolations: Vec<Isolation> = rows.iter().map(|r| forest.isolate(r)).collect();
        let cut = forest.cut(&isolations);
        let half = isolations
            .iter()
            .filter(|i| i.depth < SHARE * cut.median)
            .count();
        assert!(half > 10, "{half} windows under half the median: {cut:?}");
        let flagged: Vec<usize> = (0..rows.len())
            .filter(|&w| isolations[w].depth < cut.depth)
            .collect();
        assert_eq!(flagged, [200], "{cut:?}");
        assert!(isolations[200].score > cut.score);
    }
}
