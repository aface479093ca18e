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

/// Windows scoring above this are reported. The paper: scores well under
/// 0.5 are normal, scores near 1 anomalies, and when every window scores
/// about 0.5 there are none. The busiest and quietest minutes of a steady
/// log whose load varies score up to 0.68 (`tests/window.rs`), so 0.7: an
/// isolation path about half as long as a normal one.
pub const THRESHOLD: f64 = 0.7;

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
    /// Windows per tree: the normaliser of path lengths.
    sample: usize,
}

/// One window against the forest.
#[derive(Debug, Clone, PartialEq)]
pub struct Isolation {
    /// `2^(-E[h] / c(sample))`, in (0,1]: near 1 isolated at once.
    pub score: f64,
    /// Per dimension, how much the splits on it cut the window off from
    /// the others (the share of the node's windows left on the other
    /// side, summed along the window's paths).
    pub blame: Vec<f64>,
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
        Forest { trees, sample }
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
        let mean = total / self.trees.len() as f64;
        Isolation {
            score: 2f64.powf(-mean / average_path(self.sample).max(1.0)),
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
        let odd = forest.isolate(&rows[100]);
        assert!(odd.score > THRESHOLD, "{odd:?}");
        assert!(odd.blame[1] > odd.blame[0], "{odd:?}");
        assert_eq!(odd.blame[2], 0.0, "a constant dimension is never split");
        let flagged = rows
            .iter()
            .filter(|r| forest.isolate(r).score > THRESHOLD)
            .count();
        assert_eq!(flagged, 1);
        // The same input gives the same forest.
        assert_eq!(Forest::fit(&rows).isolate(&rows[100]), odd);
    }

    #[test]
    fn identical_windows_score_one_half() {
        // Nothing can be split: every path is the average one.
        let rows = vec![vec![2.0, 2.0]; 50];
        let s = Forest::fit(&rows).isolate(&rows[0]).score;
        assert!((s - 0.5).abs() < 1e-9, "{s}");
    }
}
