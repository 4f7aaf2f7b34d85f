//! Fitting latency and service-time distributions by maximum likelihood.
//!
//! Input is either raw samples ([`fit_samples`]) or a weighted histogram
//! ([`fit_weighted`], `&\[(value, count)\]`, e.g. HdrHistogram buckets, never expanded). Both
//! become a [`WeightedSamples`]; every estimator below works on distinct values with counts,
//! so its cost is O(distinct values × iterations) however many samples the histogram holds.
//!
//! # Families
//!
//! | [`Family`] | parameters | estimator (details in each module) |
//! |---|---|---|
//! | `ShiftedExponential` | shift γ, scale θ | closed-form MLE γ̂ = min, θ̂ = x̄ − min |
//! | `LogNormal` | μ, σ | closed-form MLE on ln x |
//! | `ShiftedLogNormal` | γ, μ, σ | profile likelihood over γ (interior local maximum) |
//! | `Gamma` | shape k, scale θ | Newton on ln k − ψ(k) = ln x̄ − mean ln x |
//! | `Weibull` | shape k, scale λ | safeguarded Newton on the shape equation |
//! | `HyperExponential` | p, m₁, m₂ | EM algorithm |
//!
//! plus, outside the AIC ranking, a generalized-Pareto tail above a high threshold
//! ([`TailFit`], profile likelihood) and the empirical distribution itself. Families that need
//! x > 0 (lognormal, gamma, Weibull) are skipped, with the reason, when a sample is 0.
//!
//! # Choosing
//!
//! Every fit reports its log-likelihood ℓ, AIC = 2p − 2ℓ (Akaike 1974; p = number of
//! parameters), the Kolmogorov–Smirnov distance and the Anderson–Darling statistic (computed
//! exactly on weighted data, see `fit/gof.rs`), and the fitted mean and SCV. The [`FitReport::best`] fit is
//! the lowest AIC among fits that pass a sanity check: finite parameters, finite
//! log-likelihood, and a fitted mean within 50 % of the sample mean. Nested families
//! (exponential ⊂ gamma, Weibull, H₂) fit exponential data equally well; AIC then picks among
//! statistically indistinguishable fits, which is harmless for prediction.
//!
//! # Errors
//!
//! Fewer than 10 samples, NaN or infinite values, and negative values are errors. All samples
//! equal is [`FitError::AllEqual`], which carries the value: the data are deterministic, and
//! [`FitError::deterministic`] returns the [`ServiceDist::Deterministic`] to use instead.
//!
//! # Sources
//!
//! Akaike (1974) IEEE TAC 19(6); Anderson & Darling (1954) JASA 49; Choi & Wette (1969)
//! Technometrics 11 (gamma MLE); Minka (2002) "Estimating a Gamma distribution"; Cohen (1965)
//! Technometrics 7 (Weibull MLE); Hill (1963) JRSS-B 25 (three-parameter lognormal); Dempster,
//! Laird & Rubin (1977) JRSS-B 39 (EM); Grimshaw (1993) Technometrics 35 and Smith (1985)
//! Biometrika 72 (GPD).

#![warn(missing_docs)]

mod dist;
mod exponential;
mod gamma;
pub(crate) mod gof;
mod hyperexp;
mod lognormal;
mod pareto;
pub mod special;
mod weibull;

pub use dist::{DistError, Empirical, LaplaceParts, ServiceDist};

use serde::{Serialize, Serializer};

use crate::stats::{Summary, WeightedSamples};

/// The fewest samples a fit accepts.
pub const MIN_SAMPLES: u64 = 10;

/// Why a fit failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FitError {
    /// Not enough samples.
    #[error("only {got} samples: fitting needs at least {needed}; measure longer")]
    TooFew {
        /// Minimum required.
        needed: u64,
        /// Samples given.
        got: u64,
    },
    /// A NaN or infinite sample.
    #[error("sample {index} is {value}: latencies must be finite; drop NaN/inf values first")]
    NonFinite {
        /// Position in the input.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A negative sample.
    #[error("sample {index} is {value}: latencies cannot be negative; check the clock or the subtraction that produced it")]
    Negative {
        /// Position in the input.
        index: usize,
        /// The value.
        value: f64,
    },
    /// Every sample has the same value.
    #[error("all {count} samples equal {value}: the data are deterministic, not a distribution to fit; use ServiceDist::Deterministic({value})")]
    AllEqual {
        /// The common value.
        value: f64,
        /// How many samples.
        count: u64,
    },
    /// The family needs strictly positive data.
    #[error("{family} needs every sample > 0, but {zeros} samples are 0; use the shifted exponential or hyperexponential, or drop the zeros")]
    NotPositive {
        /// The family.
        family: &'static str,
        /// Number of zero samples.
        zeros: u64,
    },
    /// The data do not determine this family's parameters.
    #[error("{family}: cannot fit: {reason}")]
    Degenerate {
        /// The family.
        family: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// An iterative estimator did not converge.
    #[error("{family}: no convergence after {iterations} iterations; the family does not suit these data")]
    NoConvergence {
        /// The family.
        family: &'static str,
        /// Iterations run.
        iterations: usize,
    },
    /// Too few samples above the tail threshold.
    #[error("only {got} samples above the tail threshold {threshold}: the tail fit needs {needed}; lower tail_level or collect more data")]
    TooFewExceedances {
        /// The threshold.
        threshold: f64,
        /// Minimum required.
        needed: u64,
        /// Samples above the threshold.
        got: u64,
    },
    /// An option is out of range.
    #[error("option {option} = {value} is invalid: it must be {requirement}")]
    InvalidOption {
        /// The option's name.
        option: &'static str,
        /// Its value.
        value: f64,
        /// What it must be.
        requirement: &'static str,
    },
}

impl FitError {
    /// For [`FitError::AllEqual`]: the deterministic distribution the data describe.
    pub fn deterministic(&self) -> Option<ServiceDist> {
        match self {
            FitError::AllEqual { value, .. } => Some(ServiceDist::Deterministic(*value)),
            _ => None,
        }
    }
}

/// A parametric family that [`fit_data`] can try.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Family {
    /// γ + Exp(θ).
    ShiftedExponential,
    /// exp(N(μ, σ²)).
    LogNormal,
    /// γ + exp(N(μ, σ²)).
    ShiftedLogNormal,
    /// Gamma(k, θ).
    Gamma,
    /// Weibull(k, λ).
    Weibull,
    /// Two-phase hyperexponential.
    HyperExponential,
}

impl Family {
    /// Every family, in the order they are tried.
    pub const ALL: [Family; 6] = [
        Family::ShiftedExponential,
        Family::LogNormal,
        Family::ShiftedLogNormal,
        Family::Gamma,
        Family::Weibull,
        Family::HyperExponential,
    ];

    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Family::ShiftedExponential => "shifted exponential",
            Family::LogNormal => "lognormal",
            Family::ShiftedLogNormal => "shifted lognormal",
            Family::Gamma => "gamma",
            Family::Weibull => "weibull",
            Family::HyperExponential => "hyperexponential",
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One fitted parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Param {
    /// Its name ("shape", "scale", "mu", …).
    pub name: &'static str,
    /// The estimate.
    pub value: f64,
    /// Asymptotic standard error (None when the information matrix is singular or the
    /// estimate sits on a boundary).
    pub std_err: Option<f64>,
}

impl Param {
    fn new(name: &'static str, value: f64, std_err: Option<f64>) -> Self {
        Param {
            name,
            value,
            std_err: std_err.filter(|s| s.is_finite()),
        }
    }
}

/// One family fitted to the data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fit {
    /// The family.
    pub family: Family,
    /// The fitted distribution.
    pub dist: ServiceDist,
    /// The parameter estimates, with standard errors.
    pub params: Vec<Param>,
    /// Maximised log-likelihood ℓ.
    pub log_likelihood: f64,
    /// Akaike information criterion 2p − 2ℓ (lower is better).
    pub aic: f64,
    /// Kolmogorov–Smirnov distance sup|F̂ − F|.
    pub ks: f64,
    /// Anderson–Darling A² (∞ when the fitted CDF is 0 or 1 at an observed value, as for
    /// the shifted exponential, whose MLE shift is the sample minimum).
    pub anderson_darling: f64,
    /// Mean of the fitted distribution.
    pub mean: f64,
    /// SCV of the fitted distribution.
    pub scv: f64,
    /// Why this fit may not be chosen as best (None: eligible).
    pub rejected: Option<String>,
}

/// The generalized-Pareto fit of the upper tail (see the `pareto` module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TailFit {
    /// Quantile level of the threshold.
    pub level: f64,
    /// The threshold u.
    pub threshold: f64,
    /// Number of samples above u.
    pub exceedances: u64,
    /// Fraction of samples above u.
    pub tail_prob: f64,
    /// shape ξ and scale σ with standard errors.
    pub params: Vec<Param>,
    /// ξ: > 0 a power-law tail with index 1/ξ, 0 exponential, < 0 bounded.
    pub shape: f64,
    /// σ.
    pub scale: f64,
    /// Log-likelihood of the excesses (conditional; not comparable to full fits).
    pub log_likelihood: f64,
    /// KS distance of the excesses to the GPD.
    pub ks: f64,
    /// Anderson–Darling A² of the excesses.
    pub anderson_darling: f64,
    /// Hill estimate of the tail index α over the same exceedances, for comparison
    /// (≈ 1/ξ when ξ > 0).
    pub hill_alpha: Option<f64>,
    /// Empirical body below u spliced with the GPD tail: a distribution for simulation.
    pub dist: ServiceDist,
}

/// A family that could not be fitted, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    /// The family (None for the tail fit).
    pub family: Option<Family>,
    /// Why.
    #[serde(serialize_with = "display")]
    pub error: FitError,
}

fn display<S: Serializer>(e: &FitError, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(e)
}

/// Everything [`fit_data`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitReport {
    /// Descriptive statistics of the data.
    pub data: Summary,
    /// Fitted families, sorted by AIC (eligible fits first); never empty.
    pub fits: Vec<Fit>,
    /// Families that failed, with the reason.
    pub skipped: Vec<Skipped>,
    /// The generalized-Pareto tail fit, when requested and possible.
    pub tail: Option<TailFit>,
    /// The empirical distribution of the data.
    pub empirical: ServiceDist,
}

impl FitReport {
    /// The chosen fit: lowest AIC among the fits that pass the sanity check (or, if none
    /// does, the lowest AIC overall).
    pub fn best(&self) -> &Fit {
        &self.fits[0]
    }

    /// The fit of one family, if it was fitted.
    pub fn get(&self, family: Family) -> Option<&Fit> {
        self.fits.iter().find(|f| f.family == family)
    }
}

/// What [`fit_data`] tries.
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    /// Families to fit (default: [`Family::ALL`]).
    pub families: Vec<Family>,
    /// Quantile level of the GPD tail threshold (default 0.95); None skips the tail fit.
    pub tail_level: Option<f64>,
    /// Fewest exceedances the tail fit accepts (default 50).
    pub min_tail_exceedances: u64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            families: Family::ALL.to_vec(),
            tail_level: Some(0.95),
            min_tail_exceedances: 50,
        }
    }
}

/// Estimate returned by each family module.
pub(crate) struct Estimate {
    dist: ServiceDist,
    params: Vec<Param>,
    log_likelihood: f64,
}

fn require_positive(data: &WeightedSamples, family: &'static str) -> Result<(), FitError> {
    if data.min() > 0.0 {
        Ok(())
    } else {
        let zeros = data.iter().filter(|p| p.0 <= 0.0).map(|p| p.1).sum();
        Err(FitError::NotPositive { family, zeros })
    }
}

/// Golden-section search for the maximum of a unimodal `f` on `[a, b]`: `iters` steps, each
/// shrinking the bracket by the golden ratio; returns the bracket's midpoint.
fn golden_max(f: impl Fn(f64) -> f64, a: f64, b: f64, iters: usize) -> f64 {
    let g = 0.618_033_988_749_894_9;
    let (mut a, mut b) = (a, b);
    let mut c = b - g * (b - a);
    let mut d = a + g * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..iters {
        if fc > fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = f(d);
        }
    }
    0.5 * (a + b)
}

/// Standard errors from the observed information: the inverse of the negated Hessian of `ll`
/// at `theta`, by central differences (relative step 1e-4). None where the matrix is not
/// positive definite.
fn numeric_std_errors(ll: impl Fn(&[f64]) -> f64, theta: &[f64]) -> Vec<Option<f64>> {
    let k = theta.len();
    let h: Vec<f64> = theta.iter().map(|t| 1e-4 * t.abs().max(1e-12)).collect();
    let f0 = ll(theta);
    let eval = |di: usize, si: f64, dj: usize, sj: f64| {
        let mut p = theta.to_vec();
        p[di] += si * h[di];
        p[dj] += sj * h[dj];
        ll(&p)
    };
    let mut m = vec![vec![0.0; k]; k];
    for i in 0..k {
        for j in i..k {
            let v = if i == j {
                let mut p = theta.to_vec();
                p[i] += h[i];
                let fp = ll(&p);
                p[i] -= 2.0 * h[i];
                let fm = ll(&p);
                -(fp - 2.0 * f0 + fm) / (h[i] * h[i])
            } else {
                -(eval(i, 1.0, j, 1.0) - eval(i, 1.0, j, -1.0) - eval(i, -1.0, j, 1.0)
                    + eval(i, -1.0, j, -1.0))
                    / (4.0 * h[i] * h[j])
            };
            m[i][j] = v;
            m[j][i] = v;
        }
    }
    match invert(m) {
        Some(inv) => (0..k)
            .map(|i| {
                let v = inv[i][i];
                if v > 0.0 && v.is_finite() {
                    Some(v.sqrt())
                } else {
                    None
                }
            })
            .collect(),
        None => vec![None; k],
    }
}

/// Gauss–Jordan inverse with partial pivoting; None if singular or not finite.
fn invert(mut a: Vec<Vec<f64>>) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let mut inv: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    for col in 0..n {
        let piv = (col..n).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[piv][col] == 0.0 || !a[piv][col].is_finite() {
            return None;
        }
        a.swap(col, piv);
        inv.swap(col, piv);
        let d = a[col][col];
        for j in 0..n {
            a[col][j] /= d;
            inv[col][j] /= d;
        }
        for r in 0..n {
            if r != col {
                let f = a[r][col];
                for j in 0..n {
                    a[r][j] -= f * a[col][j];
                    inv[r][j] -= f * inv[col][j];
                }
            }
        }
    }
    Some(inv)
}

/// Checks raw input for NaN/inf/negative values, with the index of the first offender.
fn check_values(values: impl Iterator<Item = f64>) -> Result<(), FitError> {
    for (index, value) in values.enumerate() {
        if !value.is_finite() {
            return Err(FitError::NonFinite { index, value });
        }
        if value < 0.0 {
            return Err(FitError::Negative { index, value });
        }
    }
    Ok(())
}

/// Fits raw samples (e.g. latencies in ns). See [`fit_data`].
pub fn fit_samples(samples: &[f64], options: &FitOptions) -> Result<FitReport, FitError> {
    check_values(samples.iter().copied())?;
    if (samples.len() as u64) < MIN_SAMPLES {
        return Err(FitError::TooFew {
            needed: MIN_SAMPLES,
            got: samples.len() as u64,
        });
    }
    let data = WeightedSamples::from_samples(samples).expect("checked above");
    fit_data(&data, options)
}

/// Fits a weighted histogram `(value, count)`, e.g. HdrHistogram buckets at their
/// representative values. See [`fit_data`].
pub fn fit_weighted(points: &[(f64, u64)], options: &FitOptions) -> Result<FitReport, FitError> {
    check_values(points.iter().map(|p| p.0))?;
    let total: u64 = points.iter().map(|p| p.1).sum();
    if total < MIN_SAMPLES {
        return Err(FitError::TooFew {
            needed: MIN_SAMPLES,
            got: total,
        });
    }
    let data = WeightedSamples::from_weighted(points).expect("checked above");
    fit_data(&data, options)
}

fn check_data(data: &WeightedSamples) -> Result<(), FitError> {
    if data.min() < 0.0 {
        let index = 0;
        return Err(FitError::Negative {
            index,
            value: data.min(),
        });
    }
    if data.total() < MIN_SAMPLES {
        return Err(FitError::TooFew {
            needed: MIN_SAMPLES,
            got: data.total(),
        });
    }
    if data.distinct() == 1 {
        return Err(FitError::AllEqual {
            value: data.min(),
            count: data.total(),
        });
    }
    Ok(())
}

/// Fits one family.
pub fn fit_family(data: &WeightedSamples, family: Family) -> Result<Fit, FitError> {
    check_data(data)?;
    let est = match family {
        Family::ShiftedExponential => exponential::fit(data),
        Family::LogNormal => lognormal::fit(data),
        Family::ShiftedLogNormal => lognormal::fit_shifted(data),
        Family::Gamma => gamma::fit(data),
        Family::Weibull => weibull::fit(data),
        Family::HyperExponential => hyperexp::fit(data),
    }?;
    let (ks, anderson_darling) = gof::ks_ad(data, &est.dist);
    let mean = est.dist.mean();
    let scv = est.dist.scv();
    let k = est.params.len() as f64;
    let data_mean = data.mean();
    let rejected = if !est.log_likelihood.is_finite() {
        Some("log-likelihood is not finite".to_string())
    } else if est.params.iter().any(|p| !p.value.is_finite()) {
        Some("a parameter is not finite".to_string())
    } else if !mean.is_finite() || (mean / data_mean - 1.0).abs() > 0.5 {
        Some(format!(
            "fitted mean {mean:.6e} is more than 50% away from the sample mean {data_mean:.6e}"
        ))
    } else {
        None
    };
    Ok(Fit {
        family,
        aic: 2.0 * k - 2.0 * est.log_likelihood,
        dist: est.dist,
        params: est.params,
        log_likelihood: est.log_likelihood,
        ks,
        anderson_darling,
        mean,
        scv,
        rejected,
    })
}

/// The generalized-Pareto fit of the samples above the empirical `level`-quantile.
pub fn fit_tail(
    data: &WeightedSamples,
    level: f64,
    min_exceedances: u64,
) -> Result<TailFit, FitError> {
    check_data(data)?;
    pareto::fit_tail(data, level, min_exceedances)
}

/// Fits every family in `options`, ranks them by AIC and fits the tail.
///
/// Errors only for unusable data (fewer than [`MIN_SAMPLES`], negative values, all equal) or
/// when no family could be fitted; a family that fails is listed in [`FitReport::skipped`].
pub fn fit_data(data: &WeightedSamples, options: &FitOptions) -> Result<FitReport, FitError> {
    check_data(data)?;
    let mut fits = Vec::new();
    let mut skipped = Vec::new();
    let mut first_error = None;
    for &family in &options.families {
        match fit_family(data, family) {
            Ok(f) => fits.push(f),
            Err(e) => {
                first_error.get_or_insert_with(|| e.clone());
                skipped.push(Skipped {
                    family: Some(family),
                    error: e,
                });
            }
        }
    }
    if fits.is_empty() {
        return Err(first_error.unwrap_or(FitError::InvalidOption {
            option: "families",
            value: 0.0,
            requirement: "a non-empty list of families",
        }));
    }
    fits.sort_by(|a, b| {
        a.rejected
            .is_some()
            .cmp(&b.rejected.is_some())
            .then(a.aic.total_cmp(&b.aic))
    });
    let tail = match options.tail_level {
        Some(level) => match pareto::fit_tail(data, level, options.min_tail_exceedances) {
            Ok(t) => Some(t),
            Err(e) => {
                skipped.push(Skipped {
                    family: None,
                    error: e,
                });
                None
            }
        },
        None => None,
    };
    Ok(FitReport {
        data: data.summary(),
        fits,
        skipped,
        tail,
        empirical: ServiceDist::Empirical(
            Empirical::from_weighted_samples(data).expect("checked non-negative"),
        ),
    })
}
