//! [`ServiceDist`]: the one distribution type shared by fitting, the analytic models and the
//! simulator.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::special::{
    exp_neg_rem2, gamma_p, gamma_p_inv, gamma_q, integrate, ln_gamma, normal_cdf, normal_quantile,
    normal_sf, Complex,
};
use crate::stats::WeightedSamples;

/// Why a distribution's parameters are unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DistError {
    /// A parameter is NaN, infinite or out of its range.
    #[error("{dist}: parameter {param} = {value} is invalid: it must be {requirement}")]
    InvalidParameter {
        /// The distribution.
        dist: &'static str,
        /// The parameter's name.
        param: &'static str,
        /// Its value.
        value: f64,
        /// What it must be.
        requirement: &'static str,
    },
    /// An empirical distribution with no samples.
    #[error("empirical distribution: no samples with a non-zero count; pass at least one")]
    EmptyEmpirical,
    /// A value that a service time cannot take.
    #[error("empirical distribution: value {value} at index {index} is invalid: service times must be finite and ≥ 0")]
    InvalidValue {
        /// Position in the input.
        index: usize,
        /// The value.
        value: f64,
    },
}

/// An empirical (discrete) distribution: the observed values with their counts.
///
/// Sampling returns observed values with their observed frequencies (bootstrap); the CDF is the
/// step function F̂(x) = #{samples ≤ x}/n; the Laplace–Stieltjes transform is the exact finite
/// sum Σ wᵢ e^{−s xᵢ}/n. Values must be finite and non-negative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<(f64, u64)>", into = "Vec<(f64, u64)>")]
pub struct Empirical {
    values: Vec<f64>,
    /// Cumulative counts, `cum\[i\]` = samples ≤ `values\[i\]`.
    cum: Vec<u64>,
    mean: f64,
    second: f64,
}

impl Empirical {
    /// From weighted points `(value, count)`; any order, duplicates merged, zero counts dropped.
    pub fn new(points: &[(f64, u64)]) -> Result<Self, DistError> {
        for (index, &(value, _)) in points.iter().enumerate() {
            if !value.is_finite() || value < 0.0 {
                return Err(DistError::InvalidValue { index, value });
            }
        }
        let w = WeightedSamples::from_weighted(points).map_err(|_| DistError::EmptyEmpirical)?;
        Ok(Self::from_checked(&w))
    }

    /// From raw samples.
    pub fn from_samples(samples: &[f64]) -> Result<Self, DistError> {
        for (index, &value) in samples.iter().enumerate() {
            if !value.is_finite() || value < 0.0 {
                return Err(DistError::InvalidValue { index, value });
            }
        }
        let w = WeightedSamples::from_samples(samples).map_err(|_| DistError::EmptyEmpirical)?;
        Ok(Self::from_checked(&w))
    }

    /// From already collected weighted samples (which must be ≥ 0).
    pub fn from_weighted_samples(data: &WeightedSamples) -> Result<Self, DistError> {
        if data.min() < 0.0 {
            let index = 0;
            return Err(DistError::InvalidValue {
                index,
                value: data.min(),
            });
        }
        Ok(Self::from_checked(data))
    }

    fn from_checked(w: &WeightedSamples) -> Self {
        let n = w.total() as f64;
        let mean = w.sum_by(|x| x) / n;
        let second = w.sum_by(|x| x * x) / n;
        Empirical {
            values: w.values().to_vec(),
            cum: w.cumulative().to_vec(),
            mean,
            second,
        }
    }

    /// The distinct values, ascending.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// `(value, count)` pairs, ascending.
    pub fn points(&self) -> Vec<(f64, u64)> {
        let mut prev = 0;
        self.values
            .iter()
            .zip(&self.cum)
            .map(|(&v, &c)| {
                let count = c - prev;
                prev = c;
                (v, count)
            })
            .collect()
    }

    /// Total count.
    pub fn total(&self) -> u64 {
        *self.cum.last().expect("never empty")
    }

    fn weight(&self, i: usize) -> f64 {
        let prev = if i == 0 { 0 } else { self.cum[i - 1] };
        (self.cum[i] - prev) as f64 / self.total() as f64
    }

    /// Mean.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// E\[X²\].
    pub fn second_moment(&self) -> f64 {
        self.second
    }

    /// F̂(x), the fraction of samples ≤ x.
    pub fn cdf(&self, x: f64) -> f64 {
        let i = self.values.partition_point(|&v| v <= x);
        if i == 0 {
            0.0
        } else {
            self.cum[i - 1] as f64 / self.total() as f64
        }
    }

    /// The smallest observed x with F̂(x) ≥ p.
    pub fn quantile(&self, p: f64) -> f64 {
        if !(0.0..=1.0).contains(&p) {
            return f64::NAN;
        }
        let n = self.total();
        let rank = ((p * n as f64).ceil() as u64).clamp(1, n);
        let i = self.cum.partition_point(|&c| c < rank);
        self.values[i.min(self.values.len() - 1)]
    }

    /// A value drawn with the observed frequencies.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let r = rng.random_range(0..self.total());
        let i = self.cum.partition_point(|&c| c <= r);
        self.values[i]
    }

    fn parts(&self, s: Complex) -> LaplaceParts {
        let mut acc = [Complex::ZERO; 3];
        for (i, &x) in self.values.iter().enumerate() {
            let w = self.weight(i);
            let p = point_parts(s, x);
            for (a, b) in acc.iter_mut().zip(p) {
                *a += b * w;
            }
        }
        LaplaceParts::from_array(acc)
    }
}

impl TryFrom<Vec<(f64, u64)>> for Empirical {
    type Error = DistError;
    fn try_from(points: Vec<(f64, u64)>) -> Result<Self, DistError> {
        Empirical::new(&points)
    }
}

impl From<Empirical> for Vec<(f64, u64)> {
    fn from(e: Empirical) -> Self {
        e.points()
    }
}

/// The Laplace–Stieltjes transform S*(s) = E\[e^{−sX}\] at a complex point, with the two
/// remainders the queueing formulas need, each computed without cancellation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LaplaceParts {
    /// S*(s) = E\[e^{−sX}\].
    pub lst: Complex,
    /// 1 − S*(s) = E\[1 − e^{−sX}\].
    pub one_minus: Complex,
    /// S*(s) − 1 + s·E\[X\] = E\[e^{−sX} − 1 + sX\] (second-order remainder; O(s²) near 0).
    pub rem2: Complex,
}

impl LaplaceParts {
    fn from_array(a: [Complex; 3]) -> Self {
        LaplaceParts {
            lst: a[0],
            one_minus: a[1],
            rem2: a[2],
        }
    }
}

/// e^{−sx}, 1 − e^{−sx}, e^{−sx} − 1 + sx: from the series of the last for |sx| < ½ (no
/// cancellation), from one complex exponential otherwise.
fn point_parts(s: Complex, x: f64) -> [Complex; 3] {
    let z = s * x;
    if z.abs() < 0.5 {
        let rem2 = exp_neg_rem2(z);
        let one_minus = z - rem2;
        [Complex::ONE - one_minus, one_minus, rem2]
    } else {
        let e = (-z).exp();
        [e, Complex::ONE - e, e - 1.0 + z]
    }
}

/// A service-time (or latency) distribution.
///
/// This is the currency of `latlab-queueing`: [`crate::fit`] produces it from measured
/// latencies, [`crate::models`] predict queueing delay from it, and the simulator draws service
/// times from it with [`ServiceDist::sample`]. Every variant offers the same operations:
///
/// | operation | meaning |
/// |---|---|
/// | [`sample`](Self::sample) | one draw, from any `rand::Rng` |
/// | [`mean`](Self::mean), [`second_moment`](Self::second_moment), [`scv`](Self::scv) | E\[X\], E\[X²\], Var X / E\[X\]² |
/// | [`cdf`](Self::cdf), [`sf`](Self::sf), [`quantile`](Self::quantile) | P(X ≤ x), P(X > x), the p-quantile |
/// | [`laplace`](Self::laplace), [`laplace_parts`](Self::laplace_parts) | E\[e^{−sX}\] at real or complex s |
///
/// Parameters are public so the enum can be built and matched directly; use the checked
/// constructors ([`ServiceDist::exponential`], …) or [`ServiceDist::validate`] to reject bad
/// values. With invalid parameters the methods return NaN rather than panicking.
///
/// The Laplace transform is in closed form for every variant except `LogNormal` and `Weibull`
/// (adaptive Gauss–Legendre quadrature over the normal variable, respectively the log of the
/// exponential variable, behind them; ~1e-13 absolute) and the generalized-Pareto parts (quadrature in w = −ln(1 − u)).
///
/// Serialised (serde) as `{"family": "gamma", "params": {"shape": 2.0, "scale": 3.0}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", content = "params", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServiceDist {
    /// Always the same value v ≥ 0.
    Deterministic(f64),
    /// Exponential with the given mean (> 0).
    Exponential(f64),
    /// `shift + Exp(scale)`: a fixed floor plus an exponential part; mean shift + scale.
    ShiftedExponential {
        /// Minimum value (≥ 0).
        shift: f64,
        /// Mean of the exponential part (> 0).
        scale: f64,
    },
    /// `shift + exp(N(mu, sigma²))`.
    LogNormal {
        /// Minimum value (≥ 0; 0 for the ordinary lognormal).
        shift: f64,
        /// Mean of ln(X − shift).
        mu: f64,
        /// Standard deviation of ln(X − shift) (> 0).
        sigma: f64,
    },
    /// Gamma with density x^{k−1}e^{−x/θ}/(Γ(k)θ^k); mean kθ, SCV 1/k.
    Gamma {
        /// k > 0.
        shape: f64,
        /// θ > 0.
        scale: f64,
    },
    /// Weibull with P(X > x) = exp(−(x/λ)^k).
    Weibull {
        /// k > 0.
        shape: f64,
        /// λ > 0.
        scale: f64,
    },
    /// Two-phase hyperexponential: Exp(mean1) with probability p, else Exp(mean2).
    HyperExponential {
        /// Probability of phase 1, in \[0, 1\].
        p: f64,
        /// Mean of phase 1 (> 0).
        mean1: f64,
        /// Mean of phase 2 (> 0).
        mean2: f64,
    },
    /// Generalized Pareto: P(X > x) = (1 + ξ(x − location)/σ)^{−1/ξ} (exponential at ξ = 0).
    GeneralizedPareto {
        /// Lower end of the support (≥ 0).
        location: f64,
        /// σ > 0.
        scale: f64,
        /// ξ: > 0 heavy (Pareto-like) tail, 0 exponential, < 0 bounded.
        shape: f64,
    },
    /// Empirical body up to `threshold`, generalized-Pareto tail above it (peaks over
    /// threshold): F(x) = (1 − ζ)·F̂_body(x) for x < u, 1 − ζ·(1 + ξ(x − u)/σ)^{−1/ξ} above.
    EmpiricalGpdTail {
        /// Observed values at or below the threshold.
        body: Empirical,
        /// The threshold u (≥ every body value).
        threshold: f64,
        /// ζ = P(X > u), in (0, 1).
        tail_prob: f64,
        /// GPD σ > 0 of the excess X − u.
        scale: f64,
        /// GPD ξ of the excess.
        shape: f64,
    },
    /// Observed values with their counts.
    Empirical(Empirical),
}

fn check(
    dist: &'static str,
    param: &'static str,
    value: f64,
    ok: bool,
    requirement: &'static str,
) -> Result<(), DistError> {
    if value.is_finite() && ok {
        Ok(())
    } else {
        Err(DistError::InvalidParameter {
            dist,
            param,
            value,
            requirement,
        })
    }
}

/// GPD survival (1 + ξy/σ)^{−1/ξ} for y ≥ 0.
fn gpd_sf(y: f64, scale: f64, shape: f64) -> f64 {
    if y <= 0.0 {
        return 1.0;
    }
    if shape.abs() < 1e-12 {
        return (-y / scale).exp();
    }
    let t = 1.0 + shape * y / scale;
    if t <= 0.0 {
        return 0.0;
    }
    (-(t.ln()) / shape).exp()
}

/// GPD quantile of the excess: σ/ξ((1 − p)^{−ξ} − 1).
fn gpd_quantile(p: f64, scale: f64, shape: f64) -> f64 {
    if shape.abs() < 1e-12 {
        -scale * (-p).ln_1p()
    } else {
        scale / shape * ((-shape * (-p).ln_1p()).exp_m1())
    }
}

/// GPD excess as a function of w = −ln(1 − u) (so w ~ Exp(1)).
fn gpd_excess_of_w(w: f64, scale: f64, shape: f64) -> f64 {
    if shape.abs() < 1e-12 {
        scale * w
    } else {
        scale / shape * (shape * w).exp_m1()
    }
}

/// Moments E\[Y\], E\[Y²\] of the GPD excess.
fn gpd_moments(scale: f64, shape: f64) -> (f64, f64) {
    let m1 = if shape < 1.0 {
        scale / (1.0 - shape)
    } else {
        f64::INFINITY
    };
    let m2 = if shape < 0.5 {
        2.0 * scale * scale / ((1.0 - shape) * (1.0 - 2.0 * shape))
    } else {
        f64::INFINITY
    };
    (m1, m2)
}

/// Laplace parts of `offset + Y`, Y the GPD excess, by quadrature over w ~ Exp(1).
fn gpd_parts(s: Complex, offset: f64, scale: f64, shape: f64) -> [Complex; 3] {
    let (mean, _) = gpd_moments(scale, shape);
    if !mean.is_finite() {
        let nan = Complex::new(f64::NAN, f64::NAN);
        return [nan, nan, Complex::new(f64::INFINITY, 0.0)];
    }
    let w_max = if shape > 0.0 {
        (40.0 / (1.0 - shape)).max(40.0)
    } else {
        40.0
    };
    let tol = 1e-13 * (1.0 + s.abs() * (offset + mean));
    let f = |w: f64| {
        let x = offset + gpd_excess_of_w(w, scale, shape);
        let d = (-w).exp();
        point_parts(s, x).map(|c| c * d)
    };
    let a = integrate(f, 0.0, 5.0, tol);
    let b = integrate(f, 5.0, w_max, tol);
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// Bisection for the p-quantile of a distribution given its survival function on \[lo, hi\].
fn bisect_quantile(sf: impl Fn(f64) -> f64, p: f64, mut lo: f64, mut hi: f64) -> f64 {
    let target = 1.0 - p;
    // Grow hi until sf(hi) ≤ target.
    let mut guard = 0;
    while sf(hi) > target && guard < 2000 {
        lo = hi;
        hi *= 2.0;
        guard += 1;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if sf(mid) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

impl ServiceDist {
    /// Checked constructor: deterministic `value` ≥ 0.
    pub fn deterministic(value: f64) -> Result<Self, DistError> {
        let d = ServiceDist::Deterministic(value);
        d.validate().map(|_| d)
    }

    /// Checked constructor: exponential with `mean` > 0.
    pub fn exponential(mean: f64) -> Result<Self, DistError> {
        let d = ServiceDist::Exponential(mean);
        d.validate().map(|_| d)
    }

    /// Checked constructor: gamma with `mean` > 0 and squared coefficient of variation
    /// `scv` > 0 (shape 1/scv, scale mean·scv).
    pub fn gamma_with_mean_scv(mean: f64, scv: f64) -> Result<Self, DistError> {
        check("gamma", "scv", scv, scv > 0.0, "finite and > 0")?;
        let d = ServiceDist::Gamma {
            shape: 1.0 / scv,
            scale: mean * scv,
        };
        d.validate().map(|_| d)
    }

    /// Checked constructor: lognormal (no shift) with the given `mean` > 0 and `scv` > 0.
    pub fn lognormal_with_mean_scv(mean: f64, scv: f64) -> Result<Self, DistError> {
        check("lognormal", "scv", scv, scv > 0.0, "finite and > 0")?;
        check("lognormal", "mean", mean, mean > 0.0, "finite and > 0")?;
        let sigma2 = scv.ln_1p();
        let d = ServiceDist::LogNormal {
            shift: 0.0,
            mu: mean.ln() - 0.5 * sigma2,
            sigma: sigma2.sqrt(),
        };
        d.validate().map(|_| d)
    }

    /// Checked constructor: the balanced-means two-phase hyperexponential with the given
    /// `mean` and `scv` ≥ 1 (p·mean1 = (1 − p)·mean2; Whitt 1982).
    pub fn hyperexponential_with_mean_scv(mean: f64, scv: f64) -> Result<Self, DistError> {
        check("hyperexponential", "scv", scv, scv >= 1.0, "finite and ≥ 1")?;
        let p = 0.5 * (1.0 + ((scv - 1.0) / (scv + 1.0)).sqrt());
        let d = ServiceDist::HyperExponential {
            p,
            mean1: mean / (2.0 * p),
            mean2: mean / (2.0 * (1.0 - p)),
        };
        d.validate().map(|_| d)
    }

    /// Short lowercase name of the family ("gamma", "lognormal", …).
    pub fn name(&self) -> &'static str {
        match self {
            ServiceDist::Deterministic(_) => "deterministic",
            ServiceDist::Exponential(_) => "exponential",
            ServiceDist::ShiftedExponential { .. } => "shifted exponential",
            ServiceDist::LogNormal { shift, .. } if *shift == 0.0 => "lognormal",
            ServiceDist::LogNormal { .. } => "shifted lognormal",
            ServiceDist::Gamma { .. } => "gamma",
            ServiceDist::Weibull { .. } => "weibull",
            ServiceDist::HyperExponential { .. } => "hyperexponential",
            ServiceDist::GeneralizedPareto { .. } => "generalized pareto",
            ServiceDist::EmpiricalGpdTail { .. } => "empirical with gpd tail",
            ServiceDist::Empirical(_) => "empirical",
        }
    }

    /// Checks every parameter (finite, in range).
    pub fn validate(&self) -> Result<(), DistError> {
        match self {
            ServiceDist::Deterministic(v) => {
                check("deterministic", "value", *v, *v >= 0.0, "finite and ≥ 0")
            }
            ServiceDist::Exponential(m) => {
                check("exponential", "mean", *m, *m > 0.0, "finite and > 0")
            }
            ServiceDist::ShiftedExponential { shift, scale } => {
                check(
                    "shifted exponential",
                    "shift",
                    *shift,
                    *shift >= 0.0,
                    "finite and ≥ 0",
                )?;
                check(
                    "shifted exponential",
                    "scale",
                    *scale,
                    *scale > 0.0,
                    "finite and > 0",
                )
            }
            ServiceDist::LogNormal { shift, mu, sigma } => {
                check(
                    "lognormal",
                    "shift",
                    *shift,
                    *shift >= 0.0,
                    "finite and ≥ 0",
                )?;
                check("lognormal", "mu", *mu, true, "finite")?;
                check("lognormal", "sigma", *sigma, *sigma > 0.0, "finite and > 0")
            }
            ServiceDist::Gamma { shape, scale } => {
                check("gamma", "shape", *shape, *shape > 0.0, "finite and > 0")?;
                check("gamma", "scale", *scale, *scale > 0.0, "finite and > 0")
            }
            ServiceDist::Weibull { shape, scale } => {
                check("weibull", "shape", *shape, *shape > 0.0, "finite and > 0")?;
                check("weibull", "scale", *scale, *scale > 0.0, "finite and > 0")
            }
            ServiceDist::HyperExponential { p, mean1, mean2 } => {
                check(
                    "hyperexponential",
                    "p",
                    *p,
                    (0.0..=1.0).contains(p),
                    "in [0, 1]",
                )?;
                check(
                    "hyperexponential",
                    "mean1",
                    *mean1,
                    *mean1 > 0.0,
                    "finite and > 0",
                )?;
                check(
                    "hyperexponential",
                    "mean2",
                    *mean2,
                    *mean2 > 0.0,
                    "finite and > 0",
                )
            }
            ServiceDist::GeneralizedPareto {
                location,
                scale,
                shape,
            } => {
                check(
                    "generalized pareto",
                    "location",
                    *location,
                    *location >= 0.0,
                    "finite and ≥ 0",
                )?;
                check(
                    "generalized pareto",
                    "scale",
                    *scale,
                    *scale > 0.0,
                    "finite and > 0",
                )?;
                check("generalized pareto", "shape", *shape, true, "finite")
            }
            ServiceDist::EmpiricalGpdTail {
                body,
                threshold,
                tail_prob,
                scale,
                shape,
            } => {
                let d = "empirical with gpd tail";
                check(
                    d,
                    "threshold",
                    *threshold,
                    *threshold >= body.values()[body.values().len() - 1],
                    "finite and ≥ every body value",
                )?;
                check(
                    d,
                    "tail_prob",
                    *tail_prob,
                    *tail_prob > 0.0 && *tail_prob < 1.0,
                    "in (0, 1)",
                )?;
                check(d, "scale", *scale, *scale > 0.0, "finite and > 0")?;
                check(d, "shape", *shape, true, "finite")
            }
            ServiceDist::Empirical(_) => Ok(()),
        }
    }

    /// Mean E\[X\] (∞ when it does not exist).
    pub fn mean(&self) -> f64 {
        match self {
            ServiceDist::Deterministic(v) => *v,
            ServiceDist::Exponential(m) => *m,
            ServiceDist::ShiftedExponential { shift, scale } => shift + scale,
            ServiceDist::LogNormal { shift, mu, sigma } => shift + (mu + 0.5 * sigma * sigma).exp(),
            ServiceDist::Gamma { shape, scale } => shape * scale,
            ServiceDist::Weibull { shape, scale } => scale * ln_gamma(1.0 + 1.0 / shape).exp(),
            ServiceDist::HyperExponential { p, mean1, mean2 } => p * mean1 + (1.0 - p) * mean2,
            ServiceDist::GeneralizedPareto {
                location,
                scale,
                shape,
            } => location + gpd_moments(*scale, *shape).0,
            ServiceDist::EmpiricalGpdTail {
                body,
                threshold,
                tail_prob,
                scale,
                shape,
            } => {
                (1.0 - tail_prob) * body.mean()
                    + tail_prob * (threshold + gpd_moments(*scale, *shape).0)
            }
            ServiceDist::Empirical(e) => e.mean(),
        }
    }

    /// Second moment E\[X²\] (∞ when it does not exist).
    pub fn second_moment(&self) -> f64 {
        match self {
            ServiceDist::Deterministic(v) => v * v,
            ServiceDist::Exponential(m) => 2.0 * m * m,
            ServiceDist::ShiftedExponential { shift, scale } => {
                (shift + scale).powi(2) + scale * scale
            }
            ServiceDist::LogNormal { shift, mu, sigma } => {
                let m1 = (mu + 0.5 * sigma * sigma).exp();
                let m2 = (2.0 * mu + 2.0 * sigma * sigma).exp();
                shift * shift + 2.0 * shift * m1 + m2
            }
            ServiceDist::Gamma { shape, scale } => shape * (shape + 1.0) * scale * scale,
            ServiceDist::Weibull { shape, scale } => {
                scale * scale * ln_gamma(1.0 + 2.0 / shape).exp()
            }
            ServiceDist::HyperExponential { p, mean1, mean2 } => {
                2.0 * (p * mean1 * mean1 + (1.0 - p) * mean2 * mean2)
            }
            ServiceDist::GeneralizedPareto {
                location,
                scale,
                shape,
            } => {
                let (m1, m2) = gpd_moments(*scale, *shape);
                location * location + 2.0 * location * m1 + m2
            }
            ServiceDist::EmpiricalGpdTail {
                body,
                threshold,
                tail_prob,
                scale,
                shape,
            } => {
                let (m1, m2) = gpd_moments(*scale, *shape);
                (1.0 - tail_prob) * body.second_moment()
                    + tail_prob * (threshold * threshold + 2.0 * threshold * m1 + m2)
            }
            ServiceDist::Empirical(e) => e.second_moment(),
        }
    }

    /// Variance.
    pub fn variance(&self) -> f64 {
        match self {
            // Closed forms avoid E[X²] − E[X]² cancellation.
            ServiceDist::Deterministic(_) => 0.0,
            ServiceDist::Exponential(m) => m * m,
            ServiceDist::ShiftedExponential { scale, .. } => scale * scale,
            ServiceDist::LogNormal { mu, sigma, .. } => {
                let s2 = sigma * sigma;
                s2.exp_m1() * (2.0 * mu + s2).exp()
            }
            ServiceDist::Gamma { shape, scale } => shape * scale * scale,
            _ => {
                let m = self.mean();
                (self.second_moment() - m * m).max(0.0)
            }
        }
    }

    /// Squared coefficient of variation Var X / E\[X\]² (0 deterministic, 1 exponential).
    pub fn scv(&self) -> f64 {
        let m = self.mean();
        self.variance() / (m * m)
    }

    /// P(X ≤ x).
    pub fn cdf(&self, x: f64) -> f64 {
        match self {
            ServiceDist::Deterministic(v) => {
                if x >= *v {
                    1.0
                } else {
                    0.0
                }
            }
            ServiceDist::Empirical(e) => e.cdf(x),
            ServiceDist::EmpiricalGpdTail {
                body,
                threshold,
                tail_prob,
                ..
            } if x < *threshold => (1.0 - tail_prob) * body.cdf(x),
            ServiceDist::LogNormal { shift, mu, sigma } => {
                if x <= *shift {
                    0.0
                } else {
                    normal_cdf(((x - shift).ln() - mu) / sigma)
                }
            }
            ServiceDist::Gamma { shape, scale } => gamma_p(*shape, x.max(0.0) / scale),
            ServiceDist::Weibull { shape, scale } => {
                if x <= 0.0 {
                    0.0
                } else {
                    -(-(x / scale).powf(*shape)).exp_m1()
                }
            }
            ServiceDist::Exponential(m) => {
                if x <= 0.0 {
                    0.0
                } else {
                    -(-x / m).exp_m1()
                }
            }
            ServiceDist::ShiftedExponential { shift, scale } => {
                if x <= *shift {
                    0.0
                } else {
                    -(-(x - shift) / scale).exp_m1()
                }
            }
            _ => 1.0 - self.sf(x),
        }
    }

    /// P(X > x), accurate in the upper tail.
    pub fn sf(&self, x: f64) -> f64 {
        match self {
            ServiceDist::Deterministic(v) => {
                if x < *v {
                    1.0
                } else {
                    0.0
                }
            }
            ServiceDist::Empirical(e) => 1.0 - e.cdf(x),
            ServiceDist::Exponential(m) => {
                if x <= 0.0 {
                    1.0
                } else {
                    (-x / m).exp()
                }
            }
            ServiceDist::ShiftedExponential { shift, scale } => {
                if x <= *shift {
                    1.0
                } else {
                    (-(x - shift) / scale).exp()
                }
            }
            ServiceDist::LogNormal { shift, mu, sigma } => {
                if x <= *shift {
                    1.0
                } else {
                    normal_sf(((x - shift).ln() - mu) / sigma)
                }
            }
            ServiceDist::Gamma { shape, scale } => gamma_q(*shape, x.max(0.0) / scale),
            ServiceDist::Weibull { shape, scale } => {
                if x <= 0.0 {
                    1.0
                } else {
                    (-(x / scale).powf(*shape)).exp()
                }
            }
            ServiceDist::HyperExponential { p, mean1, mean2 } => {
                if x <= 0.0 {
                    1.0
                } else {
                    p * (-x / mean1).exp() + (1.0 - p) * (-x / mean2).exp()
                }
            }
            ServiceDist::GeneralizedPareto {
                location,
                scale,
                shape,
            } => gpd_sf(x - location, *scale, *shape),
            ServiceDist::EmpiricalGpdTail {
                body,
                threshold,
                tail_prob,
                scale,
                shape,
            } => {
                if x < *threshold {
                    1.0 - (1.0 - tail_prob) * body.cdf(x)
                } else {
                    tail_prob * gpd_sf(x - threshold, *scale, *shape)
                }
            }
        }
    }

    /// The p-quantile, the smallest x with P(X ≤ x) ≥ p (NaN unless 0 ≤ p ≤ 1).
    pub fn quantile(&self, p: f64) -> f64 {
        if !(0.0..=1.0).contains(&p) {
            return f64::NAN;
        }
        match self {
            ServiceDist::Deterministic(v) => *v,
            ServiceDist::Exponential(m) => -m * (-p).ln_1p(),
            ServiceDist::ShiftedExponential { shift, scale } => shift - scale * (-p).ln_1p(),
            ServiceDist::LogNormal { shift, mu, sigma } => {
                shift + (mu + sigma * normal_quantile(p)).exp()
            }
            ServiceDist::Gamma { shape, scale } => scale * gamma_p_inv(*shape, p),
            ServiceDist::Weibull { shape, scale } => scale * (-(-p).ln_1p()).powf(1.0 / shape),
            ServiceDist::HyperExponential { mean1, mean2, .. } => {
                if p == 1.0 {
                    return f64::INFINITY;
                }
                let hi = mean1.max(*mean2) * (-(-p).ln_1p()).max(1e-300);
                bisect_quantile(|x| self.sf(x), p, 0.0, hi.max(f64::MIN_POSITIVE))
            }
            ServiceDist::GeneralizedPareto {
                location,
                scale,
                shape,
            } => location + gpd_quantile(p, *scale, *shape),
            ServiceDist::EmpiricalGpdTail {
                body,
                threshold,
                tail_prob,
                scale,
                shape,
            } => {
                let body_mass = 1.0 - tail_prob;
                if p <= body_mass {
                    body.quantile(p / body_mass)
                } else {
                    threshold + gpd_quantile((p - body_mass) / tail_prob, *scale, *shape)
                }
            }
            ServiceDist::Empirical(e) => e.quantile(p),
        }
    }

    /// One draw.
    ///
    /// Exponential-type variants use inversion, lognormal the Marsaglia polar method, gamma
    /// Marsaglia & Tsang (2000) (with the U^{1/k} boost for k < 1), empirical a uniform rank.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        // u in (0, 1]: never 0 so logarithms stay finite.
        fn open01<R: Rng + ?Sized>(rng: &mut R) -> f64 {
            1.0 - rng.random::<f64>()
        }
        match self {
            ServiceDist::Deterministic(v) => *v,
            ServiceDist::Exponential(m) => -m * open01(rng).ln(),
            ServiceDist::ShiftedExponential { shift, scale } => shift - scale * open01(rng).ln(),
            ServiceDist::LogNormal { shift, mu, sigma } => {
                shift + (mu + sigma * standard_normal(rng)).exp()
            }
            ServiceDist::Gamma { shape, scale } => scale * standard_gamma(*shape, rng),
            ServiceDist::Weibull { shape, scale } => scale * (-open01(rng).ln()).powf(1.0 / shape),
            ServiceDist::HyperExponential { p, mean1, mean2 } => {
                let m = if rng.random::<f64>() < *p {
                    mean1
                } else {
                    mean2
                };
                -m * open01(rng).ln()
            }
            ServiceDist::GeneralizedPareto {
                location,
                scale,
                shape,
            } => location + gpd_excess_of_w(-open01(rng).ln(), *scale, *shape),
            ServiceDist::EmpiricalGpdTail {
                body,
                threshold,
                tail_prob,
                scale,
                shape,
            } => {
                if rng.random::<f64>() < *tail_prob {
                    threshold + gpd_excess_of_w(-open01(rng).ln(), *scale, *shape)
                } else {
                    body.sample(rng)
                }
            }
            ServiceDist::Empirical(e) => e.sample(rng),
        }
    }

    /// The Laplace–Stieltjes transform E\[e^{−sX}\] at real s ≥ 0.
    pub fn laplace(&self, s: f64) -> f64 {
        self.laplace_parts(Complex::real(s)).lst.re
    }

    /// The Laplace–Stieltjes transform E\[e^{−sX}\] at complex s with Re s ≥ 0.
    pub fn laplace_complex(&self, s: Complex) -> Complex {
        self.laplace_parts(s).lst
    }

    /// E\[e^{−sX}\], 1 − E\[e^{−sX}\] and E\[e^{−sX}\] − 1 + sE\[X\], each without cancellation.
    ///
    /// Closed forms: deterministic e^{−sv}; exponential 1/(1 + ms); shifted exponential
    /// e^{−sγ}/(1 + θs); gamma (1 + θs)^{−k}; hyperexponential Σ pᵢ/(1 + mᵢs); empirical
    /// Σ wᵢe^{−sxᵢ}. Lognormal, Weibull and the generalized-Pareto parts by quadrature.
    pub fn laplace_parts(&self, s: Complex) -> LaplaceParts {
        match self {
            ServiceDist::Deterministic(v) => LaplaceParts::from_array(point_parts(s, *v)),
            ServiceDist::Exponential(m) => {
                // 1/(1+ms); 1 − · = ms/(1+ms); rem2 = (ms)²/(1+ms)
                let ms = s * *m;
                let d = ms + 1.0;
                LaplaceParts {
                    lst: d.recip(),
                    one_minus: ms / d,
                    rem2: ms * ms / d,
                }
            }
            ServiceDist::ShiftedExponential { shift, scale } => {
                // X = γ + E: S* = e^{−sγ}·E*, 1 − S* = (1 − e^{−sγ}) + e^{−sγ}(1 − E*).
                let g = point_parts(s, *shift);
                let e = ServiceDist::Exponential(*scale).laplace_parts(s);
                let lst = g[0] * e.lst;
                let one_minus = g[1] + g[0] * e.one_minus;
                // S* − 1 + s(γ + θ) = rem2_γ + rem2_E + (1 − e^{−sγ})(1 − E*)
                let rem2 = g[2] + e.rem2 + g[1] * e.one_minus;
                LaplaceParts {
                    lst,
                    one_minus,
                    rem2,
                }
            }
            ServiceDist::Gamma { shape, scale } => {
                // L = −k ln(1 + θs); S* = e^L; 1 − S* = −expm1(L); rem2 = expm1(L) + kθs.
                let ts = s * *scale;
                let l = ts.ln_1p() * (-shape);
                let em1 = l.exp_m1();
                let rem2 = if ts.abs() < 0.1 {
                    // expm1(L) + kθs has cancellation; use the series of e^{L} − 1 + kθs via
                    // L + kθs = k(θs − ln(1+θs)) and e^L − 1 − L.
                    let lk = ts_minus_ln1p(ts) * *shape;
                    exp_neg_rem2(-l) + lk
                } else {
                    em1 + ts * *shape
                };
                LaplaceParts {
                    lst: em1 + 1.0,
                    one_minus: -em1,
                    rem2,
                }
            }
            ServiceDist::HyperExponential { p, mean1, mean2 } => {
                let a = ServiceDist::Exponential(*mean1).laplace_parts(s);
                let b = ServiceDist::Exponential(*mean2).laplace_parts(s);
                let q = 1.0 - p;
                LaplaceParts {
                    lst: a.lst * *p + b.lst * q,
                    one_minus: a.one_minus * *p + b.one_minus * q,
                    rem2: a.rem2 * *p + b.rem2 * q,
                }
            }
            ServiceDist::LogNormal { shift, mu, sigma } => {
                let mean = self.mean();
                let tol = 1e-13 * (1.0 + s.abs() * mean);
                let dens = |z: f64| (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
                let f = |z: f64| {
                    let x = shift + (mu + sigma * z).exp();
                    point_parts(s, x).map(|c| c * dens(z))
                };
                let r = integrate(f, -9.0, 9.0 + sigma, tol);
                LaplaceParts::from_array(r)
            }
            ServiceDist::Weibull { shape, scale } => {
                // X = λ·e^{v/k} with v = ln E, E ~ Exp(1); v has density e^{v − e^v}.
                let mean = self.mean();
                let tol = 1e-13 * (1.0 + s.abs() * mean);
                let f = |v: f64| {
                    let x = scale * (v / shape).exp();
                    point_parts(s, x).map(|c| c * (v - v.exp()).exp())
                };
                LaplaceParts::from_array(integrate(f, -40.0, 4.0, tol))
            }
            ServiceDist::GeneralizedPareto {
                location,
                scale,
                shape,
            } => LaplaceParts::from_array(gpd_parts(s, *location, *scale, *shape)),
            ServiceDist::EmpiricalGpdTail {
                body,
                threshold,
                tail_prob,
                scale,
                shape,
            } => {
                let b = body.parts(s);
                let t = gpd_parts(s, *threshold, *scale, *shape);
                let q = 1.0 - tail_prob;
                LaplaceParts {
                    lst: b.lst * q + t[0] * *tail_prob,
                    one_minus: b.one_minus * q + t[1] * *tail_prob,
                    rem2: b.rem2 * q + t[2] * *tail_prob,
                }
            }
            ServiceDist::Empirical(e) => e.parts(s),
        }
    }
}

/// `z − ln(1 + z)` for small |z| by its series z²/2 − z³/3 + …
fn ts_minus_ln1p(z: Complex) -> Complex {
    let mut term = z * z;
    let mut sum = Complex::ZERO;
    let mut k = 2.0;
    loop {
        let add = term / k;
        sum += add;
        if add.abs() <= 1e-17 * sum.abs() || k > 80.0 {
            break;
        }
        term = term * (-z);
        k += 1.0;
    }
    sum
}

/// A standard normal draw (Marsaglia polar method).
pub(crate) fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    loop {
        let u = 2.0 * rng.random::<f64>() - 1.0;
        let v = 2.0 * rng.random::<f64>() - 1.0;
        let s = u * u + v * v;
        if s > 0.0 && s < 1.0 {
            return u * (-2.0 * s.ln() / s).sqrt();
        }
    }
}

/// A Gamma(k, 1) draw (Marsaglia & Tsang 2000).
fn standard_gamma<R: Rng + ?Sized>(k: f64, rng: &mut R) -> f64 {
    if k.is_nan() || k <= 0.0 {
        return f64::NAN;
    }
    if k < 1.0 {
        let u = 1.0 - rng.random::<f64>();
        return standard_gamma(k + 1.0, rng) * u.powf(1.0 / k);
    }
    let d = k - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = standard_normal(rng);
        let v = 1.0 + c * x;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        let u = 1.0 - rng.random::<f64>();
        if u < 1.0 - 0.0331 * x.powi(4) || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
            return d * v;
        }
    }
}
