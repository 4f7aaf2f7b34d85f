//! Latency distributions as the derivations see them.
//!
//! A measured latency distribution arrives as weighted points — `(value ns, count)` — for
//! example the non-empty buckets of an HdrHistogram. [`EmpiricalDelay`] turns them into a
//! distribution with a survival function (ccdf), quantiles, sampling and moments, and adds a
//! **tail model** beyond the observed data.
//!
//! # The tail model
//!
//! A probe that ran for `N` samples says nothing about probabilities much below `1/N`, yet a
//! budget of 10⁻⁴ spurious elections per hour with 10 ms heartbeats needs probabilities near
//! 10⁻¹¹. The classic answer is peaks-over-threshold (Pickands–Balkema–de Haan): above a high
//! threshold `u`, the excesses `Y = X − u` of almost any distribution are close to a
//! generalized Pareto distribution (GPD)
//!
//! ```text
//! P(X > u + y) = p_u · (1 + ξ y / σ)^(−1/ξ)      (ξ > 0)
//! P(X > u + y) = p_u · exp(−y / σ)                (ξ = 0, the exponential tail)
//! ```
//!
//! where `p_u = P(X > u)` is read off the data. Here `u` is the smallest observed value with at
//! most 1 % of the samples above it (at least 20 samples, so small runs still get a fit), and
//! the fit is by probability-weighted moments (Hosking & Wallis 1987, "Parameter and quantile
//! estimation for the generalized Pareto distribution", Technometrics 29(3)):
//!
//! ```text
//! a₀ = E[Y],  a₁ = E[Y (1 − F(Y))]
//! σ = 2 a₀ a₁ / (a₀ − 2 a₁),   ξ = 2 − a₀ / (a₀ − 2 a₁)
//! ```
//!
//! **Assumption, stated plainly:** the tail beyond the top 1 % decays no faster than an
//! exponential. A negative shape estimate (a bounded tail) is clamped to ξ = 0 — we never
//! extrapolate a hard ceiling that the data merely failed to cross, which is the conservative
//! side for timeouts. Above `u` the fitted model replaces the empirical steps; below it the
//! data are used as they are. [`TailFit::Exponential`] fits only `σ = a₀` (the exponential MLE);
//! [`TailFit::None`] uses the data alone (the ccdf is 0 beyond the largest sample — optimistic,
//! useful for comparisons). The fitted [`TailModel`] is plain data with public fields: a caller
//! with a better fit (for example the queueing crate's) installs it with
//! [`EmpiricalDelay::with_tail`].
//!
//! # Moments
//!
//! [`EmpiricalDelay::mean`], [`EmpiricalDelay::std_dev`] and [`EmpiricalDelay::mean_abs_dev`]
//! are the moments of the *observed* points, not of the tail model: they feed estimators that
//! real systems compute from finite windows of samples (φ-accrual history, RFC 6298's SRTT and
//! RTTVAR), and a heavy fitted tail (ξ ≥ ½) would make them infinite.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::CalibrateError;

/// Fewest samples a distribution must hold before it is used at all.
pub const MIN_SAMPLES: u64 = 100;

/// Share of the samples, at the top, that the tail model is fitted to.
pub const TAIL_FRACTION: f64 = 0.01;

/// Fewest samples the tail model is fitted to, whatever [`TAIL_FRACTION`] gives.
pub const MIN_TAIL_SAMPLES: f64 = 20.0;

/// Shapes closer to 0 than this are treated as the exponential tail.
const SHAPE_EPS: f64 = 1e-9;

/// One bucket of a latency histogram: `count` samples of `value_ns` nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WeightedPoint {
    /// Latency, nanoseconds (finite, ≥ 0).
    pub value_ns: f64,
    /// How many samples had this latency.
    pub count: u64,
}

impl WeightedPoint {
    /// A point.
    pub fn new(value_ns: f64, count: u64) -> Self {
        WeightedPoint { value_ns, count }
    }
}

/// How to model the tail beyond the observed data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TailFit {
    /// Generalized Pareto by probability-weighted moments, shape clamped to ξ ≥ 0.
    #[default]
    GeneralizedPareto,
    /// Exponential (ξ = 0), scale = mean excess.
    Exponential,
    /// No model: the ccdf is the data's, and 0 beyond the largest sample.
    None,
}

/// A peaks-over-threshold tail: `P(X > x) = p_u · S_GPD(x − u)` for `x ≥ u`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TailModel {
    /// The threshold `u`, ns.
    pub threshold_ns: f64,
    /// `p_u = P(X > u)` as observed.
    pub exceedance_probability: f64,
    /// GPD scale σ, ns (> 0).
    pub scale_ns: f64,
    /// GPD shape ξ (0 = exponential; > 0 heavier, power-law tail with index 1/ξ).
    pub shape: f64,
    /// Samples above the threshold that the fit used.
    pub samples: f64,
}

impl TailModel {
    /// `P(X > x)` for `x ≥ threshold_ns` (for smaller `x` it returns `exceedance_probability`).
    pub fn ccdf(&self, x: f64) -> f64 {
        let y = (x - self.threshold_ns).max(0.0);
        self.exceedance_probability * self.excess_survival(y)
    }

    /// Survival of the excess over the threshold, `S_GPD(y)`.
    fn excess_survival(&self, y: f64) -> f64 {
        if self.shape.abs() < SHAPE_EPS {
            (-y / self.scale_ns).exp()
        } else {
            (-(self.shape * y / self.scale_ns).ln_1p() / self.shape).exp()
        }
    }

    /// The value exceeded with probability `s` (`0 < s ≤ exceedance_probability`).
    pub fn value_at_exceedance(&self, s: f64) -> f64 {
        let r = (s / self.exceedance_probability).clamp(f64::MIN_POSITIVE, 1.0);
        let y = if self.shape.abs() < SHAPE_EPS {
            -self.scale_ns * r.ln()
        } else {
            self.scale_ns * (-self.shape * r.ln()).exp_m1() / self.shape
        };
        self.threshold_ns + y
    }

    /// `∫_a^b P(X > x) dx` for `threshold ≤ a ≤ b` (b may be +∞ when ξ < 1).
    pub fn integral(&self, a: f64, b: f64) -> f64 {
        let ya = (a - self.threshold_ns).max(0.0) / self.scale_ns;
        let yb = (b - self.threshold_ns).max(0.0) / self.scale_ns;
        let xi = self.shape;
        let unit = if xi.abs() < SHAPE_EPS {
            (-ya).exp() - (-yb).exp()
        } else if (xi - 1.0).abs() < SHAPE_EPS {
            (xi * yb).ln_1p() - (xi * ya).ln_1p()
        } else {
            let e = 1.0 - 1.0 / xi;
            let fa = (e * (xi * ya).ln_1p()).exp();
            let fb = if yb.is_infinite() {
                if e < 0.0 {
                    0.0
                } else {
                    f64::INFINITY
                }
            } else {
                (e * (xi * yb).ln_1p()).exp()
            };
            (fa - fb) / (1.0 - xi)
        };
        self.exceedance_probability * self.scale_ns * unit
    }
}

/// Anything the derivations can ask for exceedance probabilities and summary numbers.
pub trait DelayModel {
    /// `P(X > x)`.
    fn ccdf(&self, x: f64) -> f64;
    /// The smallest `x` with `P(X ≤ x) ≥ q`, for `q` in `[0, 1)`.
    fn quantile(&self, q: f64) -> f64;
    /// Mean of the observed data, ns.
    fn mean(&self) -> f64;
    /// Mean absolute deviation from the mean of the observed data, ns.
    fn mean_abs_dev(&self) -> f64;
    /// Smallest observed value, ns.
    fn min(&self) -> f64;
    /// Samples behind the distribution.
    fn samples(&self) -> u64;
}

/// A measured latency distribution with a tail model. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct EmpiricalDelay {
    /// Distinct values, ascending, ns.
    values: Vec<f64>,
    /// Cumulative weight up to and including each value.
    cum: Vec<f64>,
    /// Suffix sums of weight × value, from each index to the end.
    suffix_wv: Vec<f64>,
    total: f64,
    count: u64,
    mean: f64,
    variance: f64,
    mad: f64,
    tail: Option<TailModel>,
}

impl EmpiricalDelay {
    /// Builds the distribution from weighted points (any order, duplicates merged, zero counts
    /// dropped) and fits the tail with `fit`.
    pub fn new(points: &[WeightedPoint], fit: TailFit) -> Result<Self, CalibrateError> {
        let mut pts: Vec<(f64, u64)> = Vec::with_capacity(points.len());
        let mut count: u64 = 0;
        for (index, p) in points.iter().enumerate() {
            if !p.value_ns.is_finite() || p.value_ns < 0.0 {
                return Err(CalibrateError::BadPoint {
                    index,
                    value: p.value_ns,
                });
            }
            if p.count > 0 {
                pts.push((p.value_ns, p.count));
                count = count.saturating_add(p.count);
            }
        }
        if count < MIN_SAMPLES {
            return Err(CalibrateError::TooFewSamples {
                need: MIN_SAMPLES,
                have: count,
            });
        }
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut values: Vec<f64> = Vec::with_capacity(pts.len());
        let mut weights: Vec<f64> = Vec::with_capacity(pts.len());
        for (v, c) in pts {
            match values.last() {
                Some(&last) if last == v => {
                    if let Some(w) = weights.last_mut() {
                        *w += c as f64;
                    }
                }
                _ => {
                    values.push(v);
                    weights.push(c as f64);
                }
            }
        }
        let mut cum = Vec::with_capacity(values.len());
        let mut acc = 0.0;
        for w in &weights {
            acc += w;
            cum.push(acc);
        }
        let total = acc;
        let mut suffix_wv = vec![0.0; values.len()];
        let mut s = 0.0;
        for i in (0..values.len()).rev() {
            s += weights[i] * values[i];
            suffix_wv[i] = s;
        }
        let mean = s / total;
        let mut var = 0.0;
        let mut mad = 0.0;
        for (v, w) in values.iter().zip(&weights) {
            var += w * (v - mean) * (v - mean);
            mad += w * (v - mean).abs();
        }
        let mut d = EmpiricalDelay {
            values,
            cum,
            suffix_wv,
            total,
            count,
            mean,
            variance: var / total,
            mad: mad / total,
            tail: None,
        };
        d.tail = d.fit_tail(fit, &weights);
        Ok(d)
    }

    /// Builds the distribution from raw samples (each with count 1).
    pub fn from_samples(samples_ns: &[f64], fit: TailFit) -> Result<Self, CalibrateError> {
        let pts: Vec<WeightedPoint> = samples_ns
            .iter()
            .map(|&v| WeightedPoint::new(v, 1))
            .collect();
        Self::new(&pts, fit)
    }

    fn fit_tail(&self, fit: TailFit, weights: &[f64]) -> Option<TailModel> {
        if fit == TailFit::None || self.values.len() < 3 {
            return None;
        }
        let n = self.values.len();
        let target = (TAIL_FRACTION * self.total).max(MIN_TAIL_SAMPLES);
        // Smallest k whose weight above is at most `target`, keeping ≥ 2 distinct excesses.
        let k = self
            .cum
            .partition_point(|&c| self.total - c > target)
            .min(n - 3);
        let u = self.values[k];
        let above = self.total - self.cum[k];
        if above <= 0.0 {
            return None;
        }
        let mut a0 = 0.0;
        let mut a1 = 0.0;
        let mut before = 0.0;
        for (&v, &w) in self.values.iter().zip(weights).skip(k + 1) {
            let y = v - u;
            let f = (before + 0.5 * w) / above;
            a0 += w * y;
            a1 += w * y * (1.0 - f);
            before += w;
        }
        a0 /= above;
        a1 /= above;
        if a0 <= 0.0 {
            return None;
        }
        let (scale, shape) = match fit {
            TailFit::GeneralizedPareto if a0 - 2.0 * a1 > 0.0 => {
                let xi = 2.0 - a0 / (a0 - 2.0 * a1);
                let sigma = 2.0 * a0 * a1 / (a0 - 2.0 * a1);
                if xi <= 0.0 || !sigma.is_finite() || sigma <= 0.0 {
                    (a0, 0.0)
                } else {
                    (sigma, xi)
                }
            }
            _ => (a0, 0.0),
        };
        Some(TailModel {
            threshold_ns: u,
            exceedance_probability: above / self.total,
            scale_ns: scale,
            shape,
            samples: above,
        })
    }

    /// Replaces the tail model (for example with a better fit from elsewhere), or removes it.
    pub fn with_tail(mut self, tail: Option<TailModel>) -> Self {
        self.tail = tail;
        self
    }

    /// The tail model in use, if any.
    pub fn tail(&self) -> Option<&TailModel> {
        self.tail.as_ref()
    }

    /// The same distribution with every value multiplied by `factor` (> 0): one-way delay from
    /// round-trip time is `scaled(0.5)`.
    pub fn scaled(&self, factor: f64) -> Self {
        let mut d = self.clone();
        for v in &mut d.values {
            *v *= factor;
        }
        for s in &mut d.suffix_wv {
            *s *= factor;
        }
        d.mean *= factor;
        d.variance *= factor * factor;
        d.mad *= factor;
        if let Some(t) = &mut d.tail {
            t.threshold_ns *= factor;
            t.scale_ns *= factor;
        }
        d
    }

    /// `P(X > x)`: the data below the tail threshold, the tail model above it.
    #[inline]
    pub fn ccdf(&self, x: f64) -> f64 {
        if let Some(t) = &self.tail {
            if x >= t.threshold_ns {
                return t.ccdf(x);
            }
        }
        let i = self.values.partition_point(|&v| v <= x);
        if i == 0 {
            1.0
        } else {
            (self.total - self.cum[i - 1]) / self.total
        }
    }

    /// `P(X ≤ x)`.
    pub fn cdf(&self, x: f64) -> f64 {
        1.0 - self.ccdf(x)
    }

    /// The smallest `x` with `P(X ≤ x) ≥ q`; `q` is clamped to `[0, 1)`. Levels in the tail
    /// come from the tail model.
    pub fn quantile(&self, q: f64) -> f64 {
        let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
        let s = 1.0 - q;
        if let Some(t) = &self.tail {
            if s < t.exceedance_probability {
                return t.value_at_exceedance(s.max(f64::MIN_POSITIVE));
            }
        }
        let target = q * self.total;
        let i = self.cum.partition_point(|&c| c < target);
        self.values[i.min(self.values.len() - 1)]
    }

    /// One draw by inversion of the cdf.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        self.quantile(rng.random::<f64>())
    }

    /// `E[(X − c)⁺]` over the observed data (no tail).
    pub fn stop_loss_observed(&self, c: f64) -> f64 {
        let i = self.values.partition_point(|&v| v <= c);
        if i >= self.values.len() {
            return 0.0;
        }
        let w_above = self.total - if i == 0 { 0.0 } else { self.cum[i - 1] };
        (self.suffix_wv[i] - c * w_above) / self.total
    }

    /// Mean of the observed data, ns.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Variance of the observed data, ns².
    pub fn variance(&self) -> f64 {
        self.variance
    }

    /// Standard deviation of the observed data, ns.
    pub fn std_dev(&self) -> f64 {
        self.variance.sqrt()
    }

    /// Mean absolute deviation of the observed data from its mean, ns.
    pub fn mean_abs_dev(&self) -> f64 {
        self.mad
    }

    /// Smallest observed value, ns.
    pub fn min(&self) -> f64 {
        self.values[0]
    }

    /// Largest observed value, ns.
    pub fn max(&self) -> f64 {
        self.values[self.values.len() - 1]
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Distinct values and their weights, ascending.
    pub fn points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        let mut prev = 0.0;
        self.values.iter().zip(&self.cum).map(move |(&v, &c)| {
            let w = c - prev;
            prev = c;
            (v, w)
        })
    }

    /// Number of distinct values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Always false: a distribution holds at least [`MIN_SAMPLES`] samples.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Total weight, as a float.
    pub(crate) fn total_weight(&self) -> f64 {
        self.total
    }
}

impl DelayModel for EmpiricalDelay {
    fn ccdf(&self, x: f64) -> f64 {
        EmpiricalDelay::ccdf(self, x)
    }
    fn quantile(&self, q: f64) -> f64 {
        EmpiricalDelay::quantile(self, q)
    }
    fn mean(&self) -> f64 {
        self.mean
    }
    fn mean_abs_dev(&self) -> f64 {
        self.mad
    }
    fn min(&self) -> f64 {
        EmpiricalDelay::min(self)
    }
    fn samples(&self) -> u64 {
        self.count
    }
}

/// The sum of two independent draws of one distribution: round-trip time built from a
/// one-way delay when only that was measured (`RTT = D₁ + D₂`).
///
/// `P(D₁ + D₂ > x) = Σᵢ wᵢ · P(D > x − dᵢ)` over the points of `D` (tail model included for
/// the second draw); quantiles by bisection.
#[derive(Debug, Clone, Copy)]
pub struct IidSum<'a> {
    /// The one-way distribution.
    pub one: &'a EmpiricalDelay,
}

impl DelayModel for IidSum<'_> {
    fn ccdf(&self, x: f64) -> f64 {
        let mut s = 0.0;
        for (d, w) in self.one.points() {
            s += w * self.one.ccdf(x - d);
        }
        s / self.one.total_weight()
    }

    fn quantile(&self, q: f64) -> f64 {
        let q = if q.is_nan() {
            0.0
        } else {
            q.clamp(0.0, 1.0 - 1e-15)
        };
        let target = 1.0 - q;
        let mut lo = 2.0 * self.one.min();
        let mut hi = 2.0 * self.one.quantile(q).max(1.0);
        let mut guard = 0;
        while self.ccdf(hi) > target && guard < 200 {
            lo = hi;
            hi *= 2.0;
            guard += 1;
        }
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if self.ccdf(mid) > target {
                lo = mid;
            } else {
                hi = mid;
            }
            if hi - lo <= 1e-9 * hi.max(1.0) {
                break;
            }
        }
        hi
    }

    fn mean(&self) -> f64 {
        2.0 * self.one.mean()
    }

    fn mean_abs_dev(&self) -> f64 {
        // E|D₁ + D₂ − 2μ| = 2 E[(D₁ + D₂ − 2μ)⁺] = 2 Σᵢ wᵢ E[(D − (2μ − dᵢ))⁺].
        let mu2 = 2.0 * self.one.mean();
        let mut s = 0.0;
        for (d, w) in self.one.points() {
            s += w * self.one.stop_loss_observed(mu2 - d);
        }
        2.0 * s / self.one.total_weight()
    }

    fn min(&self) -> f64 {
        2.0 * self.one.min()
    }

    fn samples(&self) -> u64 {
        self.one.count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    fn exp_samples(n: usize, mean: f64, seed: u64) -> Vec<f64> {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        (0..n)
            .map(|_| -mean * (1.0 - rng.random::<f64>()).ln())
            .collect()
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            EmpiricalDelay::new(&[WeightedPoint::new(1.0, 10)], TailFit::None),
            Err(CalibrateError::TooFewSamples {
                need: 100,
                have: 10
            })
        ));
        assert!(matches!(
            EmpiricalDelay::new(
                &[
                    WeightedPoint::new(1.0, 100),
                    WeightedPoint::new(f64::NAN, 1)
                ],
                TailFit::None
            ),
            Err(CalibrateError::BadPoint { index: 1, .. })
        ));
        assert!(EmpiricalDelay::new(&[WeightedPoint::new(-1.0, 100)], TailFit::None).is_err());
    }

    #[test]
    fn empirical_ccdf_and_quantiles_are_exact() {
        // 1..=100, one each.
        let s: Vec<f64> = (1..=100).map(f64::from).collect();
        let d = EmpiricalDelay::from_samples(&s, TailFit::None).unwrap();
        assert_eq!(d.ccdf(0.5), 1.0);
        assert_eq!(d.ccdf(1.0), 0.99);
        assert_eq!(d.ccdf(50.0), 0.5);
        assert_eq!(d.ccdf(100.0), 0.0);
        assert_eq!(d.quantile(0.5), 50.0);
        assert_eq!(d.quantile(0.0), 1.0);
        assert_eq!(d.quantile(0.999), 100.0);
        assert!((d.mean() - 50.5).abs() < 1e-12);
        assert!((d.mean_abs_dev() - 25.0).abs() < 1e-12);
        assert!((d.stop_loss_observed(90.0) - 0.55).abs() < 1e-12);
    }

    #[test]
    fn duplicates_merge_and_order_does_not_matter() {
        let a = EmpiricalDelay::new(
            &[
                WeightedPoint::new(5.0, 60),
                WeightedPoint::new(1.0, 20),
                WeightedPoint::new(5.0, 20),
                WeightedPoint::new(9.0, 0),
            ],
            TailFit::None,
        )
        .unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a.count(), 100);
        assert_eq!(a.ccdf(1.0), 0.8);
    }

    #[test]
    fn exponential_tail_recovers_the_scale() {
        let s = exp_samples(200_000, 1000.0, 7);
        let truth = (-20.0f64).exp(); // P(X > 20 means)
        let e = EmpiricalDelay::from_samples(&s, TailFit::Exponential).unwrap();
        let t = e.tail().unwrap();
        assert_eq!(t.shape, 0.0);
        assert!((t.scale_ns - 1000.0).abs() < 50.0, "scale {}", t.scale_ns);
        let p = e.ccdf(20_000.0);
        assert!((p / truth).ln().abs() < 0.5, "p {p} truth {truth}");
        // The GPD fit estimates a small shape too; its extrapolation 15 scales past the
        // threshold errs, but never far on the optimistic side (ξ ≥ 0).
        let g = EmpiricalDelay::from_samples(&s, TailFit::GeneralizedPareto).unwrap();
        assert!(
            g.tail().unwrap().shape < 0.06,
            "shape {}",
            g.tail().unwrap().shape
        );
        let pg = g.ccdf(20_000.0);
        assert!(
            pg > 0.5 * truth && pg < 20.0 * truth,
            "p {pg} truth {truth}"
        );
    }

    #[test]
    fn pareto_tail_recovers_the_index() {
        let mut rng = Pcg64Mcg::seed_from_u64(3);
        let alpha = 2.0;
        let s: Vec<f64> = (0..200_000)
            .map(|_| 100.0 * (1.0 - rng.random::<f64>()).powf(-1.0 / alpha))
            .collect();
        let d = EmpiricalDelay::from_samples(&s, TailFit::GeneralizedPareto).unwrap();
        let t = d.tail().unwrap();
        assert!((t.shape - 0.5).abs() < 0.1, "shape {}", t.shape);
        // P(X > 100·10⁴) = 10⁻⁸ for Pareto(α = 2, x_m = 100).
        let p = d.ccdf(1e6);
        assert!((p / 1e-8).ln().abs() < 1.0, "p {p}");
        // The exponential fit underestimates the same tail by orders of magnitude.
        let e = EmpiricalDelay::from_samples(&s, TailFit::Exponential).unwrap();
        assert!(e.ccdf(1e6) < 1e-12);
    }

    #[test]
    fn quantile_inverts_ccdf_in_the_tail() {
        let s = exp_samples(10_000, 50.0, 11);
        let d = EmpiricalDelay::from_samples(&s, TailFit::GeneralizedPareto).unwrap();
        for q in [0.995, 0.9999, 1.0 - 1e-9] {
            let x = d.quantile(q);
            assert!(((1.0 - d.ccdf(x)) - q).abs() < 1e-9 * (1.0 - q).max(1e-3));
        }
    }

    #[test]
    fn tail_integral_matches_numeric() {
        for shape in [0.0, 0.3, 1.0, 1.5] {
            let t = TailModel {
                threshold_ns: 10.0,
                exceedance_probability: 0.01,
                scale_ns: 3.0,
                shape,
                samples: 100.0,
            };
            let (a, b) = (12.0, 40.0);
            let n = 200_000;
            let h = (b - a) / n as f64;
            let num: f64 = (0..n).map(|i| t.ccdf(a + (i as f64 + 0.5) * h) * h).sum();
            let exact = t.integral(a, b);
            assert!((num - exact).abs() < 1e-8 * exact.max(1e-12), "{shape}");
        }
    }

    #[test]
    fn scaled_halves_everything() {
        let s = exp_samples(5_000, 100.0, 5);
        let d = EmpiricalDelay::from_samples(&s, TailFit::GeneralizedPareto).unwrap();
        let h = d.scaled(0.5);
        assert!((h.mean() - d.mean() / 2.0).abs() < 1e-9);
        for x in [10.0, 100.0, 1000.0, 5000.0] {
            assert!((h.ccdf(x / 2.0) - d.ccdf(x)).abs() < 1e-12);
        }
    }

    #[test]
    fn iid_sum_of_constants_and_exponentials() {
        // Two exponentials sum to a gamma(2): P(S > x) = (1 + x/m) e^{-x/m}.
        let s = exp_samples(100_000, 10.0, 9);
        let d = EmpiricalDelay::from_samples(&s, TailFit::GeneralizedPareto).unwrap();
        let sum = IidSum { one: &d };
        for x in [10.0, 30.0, 60.0] {
            let truth = (1.0 + x / 10.0) * (-x / 10.0f64).exp();
            assert!((sum.ccdf(x) - truth).abs() < 0.01 * truth + 1e-3, "x {x}");
        }
        let q = sum.quantile(0.99);
        assert!((sum.ccdf(q) - 0.01).abs() < 1e-6);
        // E|S − 20| for gamma(2, 10) = 2·20·e^{-2}·... check against numeric on samples.
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let n = 200_000;
        let mc: f64 = (0..n)
            .map(|_| (d.sample(&mut rng) + d.sample(&mut rng) - sum.mean()).abs())
            .sum::<f64>()
            / n as f64;
        assert!((sum.mean_abs_dev() - mc).abs() < 0.02 * mc);
    }
}
