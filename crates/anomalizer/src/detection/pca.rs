//! Principal component analysis of per-window template counts, and the
//! residual test of Xu et al. ("Detecting Large-Scale System Problems by
//! Mining Console Logs", SOSP 2009) as loglizer implements it (He et al.,
//! "Experience Report: System Log Analysis for Anomaly Detection", ISSRE
//! 2016): weight the counts by TF-IDF, centre them, keep the principal
//! components that explain 95% of the variance, and flag a window whose
//! squared prediction error (SPE: the squared length of its part outside
//! those components) is above the Q-statistic of Jackson and Mudholkar
//! (Technometrics, 1979).
//!
//! The maths is plain on purpose: the caller keeps at most a few dozen
//! dimensions (the most frequent templates and one "other" count), so a
//! cyclic Jacobi eigen-decomposition of the covariance is exact, takes
//! microseconds, and needs no linear-algebra crate.

/// Share of the variance the kept components explain (loglizer's default).
const VARIANCE_KEPT: f64 = 0.95;

/// The standard normal quantile in the Q-statistic: 3.2905 is the 99.95th
/// percentile, loglizer's default `c_alpha` (which it labels 0.999, the
/// two-sided confidence).
pub const C_ALPHA: f64 = 3.2905;

/// Jacobi sweeps before giving up on convergence (a few dozen dimensions
/// converge in under ten).
const MAX_SWEEPS: usize = 100;

/// Eigenvalues of the symmetric `n`×`n` row-major matrix `a`, largest
/// first, each with its unit eigenvector (`vectors[i]` belongs to
/// `values[i]`), by cyclic Jacobi rotations: each rotation zeroes one
/// off-diagonal entry, and sweeps repeat until what is left off the
/// diagonal is negligible.
pub fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    assert_eq!(a.len(), n * n, "an n×n matrix");
    let mut a = a.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let total: f64 = a.iter().map(|x| x * x).sum();
    for _ in 0..MAX_SWEEPS {
        let off: f64 = (0..n)
            .flat_map(|p| ((p + 1)..n).map(move |q| (p, q)))
            .map(|(p, q)| a[p * n + q] * a[p * n + q])
            .sum();
        if off <= 1e-26 * total || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in (p + 1)..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                // The rotation angle that zeroes a[p][q] (Numerical
                // Recipes' stable form: the smaller root of t² + 2θt - 1).
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[j * n + j].total_cmp(&a[i * n + i]));
    let values = order.iter().map(|&i| a[i * n + i]).collect();
    let vectors = order
        .iter()
        .map(|&i| (0..n).map(|k| v[k * n + i]).collect())
        .collect();
    (values, vectors)
}

/// The SPE a window may reach at confidence `c_alpha` when the residual
/// space has these eigenvalues (Jackson & Mudholkar's Q-statistic), or
/// `None` when the residual space holds no variance.
///
/// The Q-statistic normalises the SPE with a power `h0` of its own; when
/// the residual eigenvalues have a long tail of small ones `h0` drops to
/// zero or below and the approximation breaks down, and then Box's (1954)
/// scaled chi-square `g·χ²(h)` is used, with the Wilson–Hilferty quantile:
/// the same formula with `h0 = 1/3`.
pub fn q_statistic(residual_eigenvalues: &[f64], c_alpha: f64) -> Option<f64> {
    let phi = |power: i32| -> f64 {
        residual_eigenvalues
            .iter()
            .map(|l| l.max(0.0).powi(power))
            .sum()
    };
    let (phi1, phi2, phi3) = (phi(1), phi(2), phi(3));
    if phi1 <= 0.0 || phi2 <= 0.0 {
        return None;
    }
    let h0 = 1.0 - 2.0 * phi1 * phi3 / (3.0 * phi2 * phi2);
    let h0 = if h0 > 0.05 { h0 } else { 1.0 / 3.0 };
    let base = c_alpha * (2.0 * phi2 * h0 * h0).sqrt() / phi1
        + 1.0
        + phi2 * h0 * (h0 - 1.0) / (phi1 * phi1);
    let q = phi1 * base.max(0.0).powf(1.0 / h0);
    (q.is_finite() && q > 0.0).then_some(q)
}

/// The least threshold: weights are at least 1, so an SPE below 1 is less
/// than one line's difference in one template, never worth a report
/// (a log whose windows barely vary would otherwise flag rounding).
const MIN_THRESHOLD: f64 = 1.0;

/// Above this share of a component's variance from a single window, the
/// component is that window's outlier (see [`Pca::fit`]).
const MAX_SINGLE_WINDOW_SHARE: f64 = 0.5;

/// The sum of the rows' squared (centred) projections on `direction`,
/// and the largest one.
fn spread_along(rows: &[Vec<f64>], mean: &[f64], direction: &[f64]) -> (f64, f64) {
    let (mut sum, mut max) = (0.0_f64, 0.0_f64);
    for row in rows {
        let t: f64 = row
            .iter()
            .zip(mean)
            .zip(direction)
            .map(|((x, m), d)| (x - m) * d)
            .sum();
        sum += t * t;
        max = max.max(t * t);
    }
    (sum, max)
}

/// Why no model could be fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfit {
    /// Every window weighs the same: nothing to learn a structure from.
    NoVariance,
    /// The kept components explain all the variance: no window can stray
    /// from them.
    NoResidual,
}

/// The principal-component model of a set of count vectors.
#[derive(Debug, Clone)]
pub struct Pca {
    /// TF-IDF weight of each dimension.
    idf: Vec<f64>,
    /// Mean weighted vector.
    mean: Vec<f64>,
    /// The kept principal directions, unit length.
    components: Vec<Vec<f64>>,
    /// SPE above this is anomalous.
    pub threshold: f64,
}

/// One window against the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Residual {
    /// Squared prediction error: squared length of `residual`.
    pub spe: f64,
    /// The window's part outside the kept components, per dimension (in
    /// weighted, centred units).
    pub residual: Vec<f64>,
    /// The counts the kept components predict, per dimension (what the
    /// window "should" have held, given the rest of it).
    pub expected: Vec<f64>,
}

impl Pca {
    /// Fits the model to `rows` (one count vector per window, all the same
    /// length): TF-IDF weights, zero mean, components for
    /// [`VARIANCE_KEPT`] of the variance, threshold at `c_alpha`.
    ///
    /// The IDF is the smoothed `ln((1 + n) / (1 + df)) + 1`, not loglizer's
    /// `ln(n / df)`: in time windows the steady templates appear in every
    /// window, and the plain form would weigh them zero, erasing exactly
    /// the correlations (an "opened" for every "closed") whose breaking is
    /// the anomaly.
    pub fn fit(rows: &[Vec<f64>], c_alpha: f64) -> Result<Pca, Unfit> {
        let dims = rows.first().map_or(0, Vec::len);
        let n = rows.len() as f64;
        let idf: Vec<f64> = (0..dims)
            .map(|j| {
                let df = rows.iter().filter(|r| r[j] > 0.0).count() as f64;
                ((1.0 + n) / (1.0 + df)).ln() + 1.0
            })
            .collect();
        let weighted: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| r.iter().zip(&idf).map(|(x, w)| x * w).collect())
            .collect();
        let mut mean = vec![0.0; dims];
        for row in &weighted {
            for (m, x) in mean.iter_mut().zip(row) {
                *m += x / n;
            }
        }
        let mut covariance = vec![0.0; dims * dims];
        let mut centred = vec![0.0; dims];
        for row in &weighted {
            for ((c, x), m) in centred.iter_mut().zip(row).zip(&mean) {
                *c = x - m;
            }
            for i in 0..dims {
                if centred[i] == 0.0 {
                    continue;
                }
                for j in i..dims {
                    covariance[i * dims + j] += centred[i] * centred[j] / n;
                }
            }
        }
        for i in 0..dims {
            for j in 0..i {
                covariance[i * dims + j] = covariance[j * dims + i];
            }
        }
        let (values, vectors) = symmetric_eigen(&covariance, dims);
        let total: f64 = values.iter().map(|l| l.max(0.0)).sum();
        // Identical windows leave rounding noise, not variance.
        let scale: f64 = mean.iter().map(|m| m * m).sum();
        if total <= 1e-12 * scale || total <= 0.0 {
            return Err(Unfit::NoVariance);
        }
        let mut explained = 0.0;
        let mut kept = dims;
        for (i, l) in values.iter().enumerate() {
            explained += l.max(0.0);
            if explained >= VARIANCE_KEPT * total {
                kept = i + 1;
                break;
            }
        }
        // A direction whose variance one window supplies most of is that
        // window's outlier, not a correlation of the log (a one-off storm
        // would otherwise explain itself away): it goes to the residual,
        // with the variance the other windows have along it (the outlier's
        // own would raise the threshold past itself and everything else).
        let (mut components, mut rest) = (Vec::new(), values[kept..].to_vec());
        for vector in vectors.into_iter().take(kept) {
            let (sum, max) = spread_along(&weighted, &mean, &vector);
            if max > MAX_SINGLE_WINDOW_SHARE * sum {
                rest.push((sum - max) / n);
            } else {
                components.push(vector);
            }
        }
        // Rounding leaves residual eigenvalues of ~1e-16 of the total when
        // the kept components explain everything; they are not variance.
        let residual_variance: f64 = rest.iter().map(|l| l.max(0.0)).sum();
        if residual_variance <= 1e-12 * total {
            return Err(Unfit::NoResidual);
        }
        let threshold = q_statistic(&rest, c_alpha)
            .ok_or(Unfit::NoResidual)?
            .max(MIN_THRESHOLD);
        Ok(Pca {
            idf,
            mean,
            components,
            threshold,
        })
    }

    /// Components kept.
    pub fn kept(&self) -> usize {
        self.components.len()
    }

    /// Projects one window's counts: its SPE, residual and expected counts.
    pub fn residual(&self, counts: &[f64]) -> Residual {
        let centred: Vec<f64> = counts
            .iter()
            .zip(&self.idf)
            .zip(&self.mean)
            .map(|((x, w), m)| x * w - m)
            .collect();
        let mut projected = vec![0.0; centred.len()];
        for component in &self.components {
            let along: f64 = component.iter().zip(&centred).map(|(c, x)| c * x).sum();
            for (p, c) in projected.iter_mut().zip(component) {
                *p += along * c;
            }
        }
        let residual: Vec<f64> = centred.iter().zip(&projected).map(|(x, p)| x - p).collect();
        let expected = projected
            .iter()
            .zip(&self.mean)
            .zip(&self.idf)
            .map(|((p, m), w)| ((p + m) / w).max(0.0))
            .collect();
        Residual {
            spe: residual.iter().map(|r| r * r).sum(),
            residual,
            expected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance * b.abs().max(1.0)
    }

    #[test]
    fn a_two_by_two_has_its_textbook_eigenpairs() {
        let (values, vectors) = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        assert!(close(values[0], 3.0, 1e-12) && close(values[1], 1.0, 1e-12));
        let h = std::f64::consts::FRAC_1_SQRT_2;
        // Eigenvectors are unique up to sign.
        assert!(close(vectors[0][0].abs(), h, 1e-12) && close(vectors[0][1], vectors[0][0], 1e-12));
        assert!(close(vectors[1][0], -vectors[1][1], 1e-12));
    }

    #[test]
    fn a_matrix_built_from_known_eigenpairs_gives_them_back() {
        // A = Q diag(d) Qᵀ with Q a Householder reflection I - 2uuᵀ/uᵀu.
        let u = [1.0, -2.0, 0.5, 3.0, 1.5];
        let d = [9.0, 5.0, 2.5, 1.0, 0.25];
        let n = u.len();
        let uu: f64 = u.iter().map(|x| x * x).sum();
        let q = |i: usize, j: usize| f64::from(u8::from(i == j)) - 2.0 * u[i] * u[j] / uu;
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| q(i, k) * d[k] * q(j, k)).sum();
            }
        }
        let (values, vectors) = symmetric_eigen(&a, n);
        for (k, (value, vector)) in values.iter().zip(&vectors).enumerate() {
            assert!(close(*value, d[k], 1e-10), "{values:?}");
            // The k-th column of Q, up to sign.
            let dot: f64 = (0..n).map(|i| vector[i] * q(i, k)).sum();
            assert!(close(dot.abs(), 1.0, 1e-10), "vector {k}: {vector:?}");
        }
    }

    #[test]
    fn the_q_statistic_of_equal_eigenvalues_is_the_chi_square_quantile() {
        // With m equal residual eigenvalues the SPE of Gaussian data is
        // λ·χ²(m); the chi-square quantiles at 0.9995 are 31.42 (m = 10)
        // and 12.12 (m = 1).
        let q = q_statistic(&[1.0; 10], C_ALPHA).unwrap();
        assert!(close(q, 31.42, 0.01), "{q}");
        let q = q_statistic(&[2.0], C_ALPHA).unwrap();
        assert!(close(q, 2.0 * 12.12, 0.05), "{q}");
        assert_eq!(q_statistic(&[0.0, 0.0], C_ALPHA), None);
        // A long tail of small eigenvalues (h0 < 0) still gives a finite
        // threshold above the residual variance.
        let mut tail = vec![1.0];
        tail.extend([0.01; 200]);
        let q = q_statistic(&tail, C_ALPHA).unwrap();
        assert!(q.is_finite() && q > 3.0, "{q}");
    }

    /// `n` windows of a login log: "opened" and "closed" follow the load
    /// together, a heartbeat ticks with a little jitter, and window
    /// `broken` opens sessions that never close.
    fn logins(n: usize, broken: Option<usize>) -> Vec<Vec<f64>> {
        (0..n)
            .map(|i| {
                let load = 5.0 + ((i * 37) % 23) as f64;
                let heartbeat = 6.0 + (i % 3) as f64;
                let closed = if Some(i) == broken { 0.0 } else { load };
                vec![load, closed, heartbeat]
            })
            .collect()
    }

    #[test]
    fn a_window_that_breaks_the_correlation_is_flagged_and_others_are_not() {
        let rows = logins(80, Some(40));
        let model = Pca::fit(&rows, C_ALPHA).unwrap();
        assert_eq!(model.kept(), 1, "the load explains most of the variance");
        let flagged: Vec<usize> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| model.residual(r).spe > model.threshold)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(flagged, [40]);
        let r = model.residual(&rows[40]);
        // The "closed" count is what is off: expected near the opened
        // count, observed 0.
        let worst = (0..3)
            .max_by(|&a, &b| r.residual[a].abs().total_cmp(&r.residual[b].abs()))
            .unwrap();
        assert!(worst < 2, "{r:?}");
        assert!(r.expected[1] > 5.0, "{r:?}");
    }

    #[test]
    fn a_one_off_storm_is_not_learnt_as_structure() {
        // A fourth template appears once, 60 times, in window 20: alone it
        // is most of the variance, so plain PCA would keep it as a
        // component and explain the storm away.
        let mut rows: Vec<Vec<f64>> = logins(80, None)
            .into_iter()
            .map(|mut r| {
                r.push(0.0);
                r
            })
            .collect();
        rows[20][3] = 60.0;
        let model = Pca::fit(&rows, C_ALPHA).unwrap();
        let flagged: Vec<usize> = (0..rows.len())
            .filter(|&i| model.residual(&rows[i]).spe > model.threshold)
            .collect();
        assert_eq!(flagged, [20]);
    }

    #[test]
    fn less_than_a_line_of_difference_is_never_anomalous() {
        // Two templates in step, and a third that drifts by a hair once.
        let mut rows: Vec<Vec<f64>> = logins(40, None)
            .into_iter()
            .map(|r| vec![r[0], r[1], 4.0])
            .collect();
        rows[7][2] = 4.01;
        let model = Pca::fit(&rows, C_ALPHA).unwrap();
        assert!(model.threshold >= MIN_THRESHOLD);
        assert!(
            rows.iter()
                .all(|r| model.residual(r).spe <= model.threshold)
        );
    }

    #[test]
    fn steady_or_perfectly_correlated_windows_cannot_be_fitted() {
        let steady = vec![vec![3.0, 1.0]; 20];
        assert_eq!(Pca::fit(&steady, C_ALPHA).unwrap_err(), Unfit::NoVariance);
        let rows = logins(30, None);
        let only_load: Vec<Vec<f64>> = rows.iter().map(|r| vec![r[0], r[1]]).collect();
        assert_eq!(
            Pca::fit(&only_load, C_ALPHA).unwrap_err(),
            Unfit::NoResidual
        );
    }
}
