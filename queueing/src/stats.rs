//! Estimators shared by the fits, the models and the CLI.
//!
//! Latency data reach this crate in two shapes: raw samples (`&\[f64\]`, nanoseconds by
//! convention) or a weighted histogram (`&\[(value, count)\]`, e.g. the buckets of an
//! HdrHistogram). Both are turned into a [`WeightedSamples`] — distinct values in ascending
//! order with integer counts — so that every estimator costs O(distinct values), not
//! O(samples): a 10⁷-sample histogram with 10⁴ buckets is as cheap as 10⁴ samples.
//!
//! # Estimators and their formulas
//!
//! With n = Σ wᵢ the total count:
//!
//! * mean x̄ = Σ wᵢxᵢ / n; variance s² = Σ wᵢ(xᵢ − x̄)² / (n − 1) (unbiased, two-pass);
//! * squared coefficient of variation cs² = s² / x̄² (the "SCV" of queueing theory:
//!   0 for deterministic, 1 for exponential);
//! * skewness g₁ = m₃ / m₂^{3/2} with central moments mₖ = Σ wᵢ(xᵢ − x̄)ᵏ / n
//!   (the Fisher–Pearson moment coefficient, no small-sample adjustment);
//! * quantiles: the inverse of the empirical CDF, Q(p) = min{x : F̂(x) ≥ p} (Hyndman & Fan
//!   1996, definition 1) — exact on weighted data, no interpolation;
//! * the Hill (1975) tail-index estimator from the k largest observations X₍₁₎ ≥ … ≥ X₍ₖ₊₁₎:
//!   ξ̂ = (1/k) Σᵢ₌₁ᵏ ln X₍ᵢ₎ − ln X₍ₖ₊₁₎, α̂ = 1/ξ̂, standard error α̂/√k (asymptotic);
//! * the Hurst exponent of a series, by the aggregated-variance method (Var of block means
//!   ∝ m^{2H−2}, slope of log-log fit; Taqqu, Teverovsky & Willinger 1995) or by rescaled
//!   range (E\[R/S\] ∝ n^H; Hurst 1951, Mandelbrot & Wallis 1969). Both are biased on short
//!   series (R/S reads about 0.55–0.6 on i.i.d. data of a few thousand points); use the
//!   estimate to tell "about ½" (short memory) from "clearly above ½" (long-range dependence).

#![warn(missing_docs)]

use serde::Serialize;

/// Why an estimator could not produce a number.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StatsError {
    /// No data (or only zero counts).
    #[error("no samples: pass at least one value with a non-zero count")]
    Empty,
    /// A NaN or infinite value.
    #[error("sample {index} is {value}: remove NaN and infinite values before estimating")]
    NonFinite {
        /// Position of the offending value in the input.
        index: usize,
        /// The value.
        value: f64,
    },
    /// Not enough data for this estimator.
    #[error("{estimator} needs at least {needed} samples, got {got}: collect more data")]
    TooFew {
        /// The estimator that refused.
        estimator: &'static str,
        /// The minimum it needs.
        needed: u64,
        /// What it got.
        got: u64,
    },
    /// A probability outside \[0, 1\].
    #[error("probability {p} is outside [0, 1]: pass a quantile level such as 0.99")]
    InvalidProbability {
        /// The offending probability.
        p: f64,
    },
    /// The estimate is undefined for this data (e.g. zero variance, non-positive tail).
    #[error("{estimator} is undefined here: {reason}")]
    Undefined {
        /// The estimator.
        estimator: &'static str,
        /// Why, and what to do.
        reason: &'static str,
    },
}

/// Samples as distinct values (ascending) with integer counts.
///
/// Construct it with [`WeightedSamples::from_weighted`] (histogram buckets) or
/// [`WeightedSamples::from_samples`] (raw values; sorted with an O(n) radix sort).
/// Values may be negative (clock offsets are); the fits reject negative values themselves.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedSamples {
    values: Vec<f64>,
    counts: Vec<u64>,
    /// cum\[i\] = counts\[0\] + … + counts\[i\].
    cum: Vec<u64>,
}

/// Maps an f64 onto a u64 whose unsigned order is the numeric order (for finite values).
fn order_key(x: f64) -> u64 {
    // +0.0 and −0.0 compare equal numerically; canonicalise so they merge.
    let x = if x == 0.0 { 0.0 } else { x };
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

fn key_value(k: u64) -> f64 {
    if k >> 63 == 1 {
        f64::from_bits(k & !(1 << 63))
    } else {
        f64::from_bits(!k)
    }
}

/// LSD radix sort of u64 keys, 11 bits per pass (6 passes, cache-friendly counters),
/// skipping passes whose digit is the same for every key.
fn radix_sort(keys: &mut Vec<u64>) {
    const BITS: u32 = 11;
    const RADIX: usize = 1 << BITS;
    let n = keys.len();
    if n < 1024 {
        keys.sort_unstable();
        return;
    }
    // All six histograms in one read of the data.
    let mut hists = vec![[0usize; RADIX]; 6];
    for &k in keys.iter() {
        for (pass, h) in hists.iter_mut().enumerate() {
            h[((k >> (pass as u32 * BITS)) as usize) & (RADIX - 1)] += 1;
        }
    }
    let mut buf = vec![0u64; n];
    for (pass, hist) in hists.iter_mut().enumerate() {
        if hist.contains(&n) {
            continue;
        }
        let shift = pass as u32 * BITS;
        let mut sum = 0;
        for h in hist.iter_mut() {
            let c = *h;
            *h = sum;
            sum += c;
        }
        for &k in keys.iter() {
            let d = ((k >> shift) as usize) & (RADIX - 1);
            buf[hist[d]] = k;
            hist[d] += 1;
        }
        std::mem::swap(keys, &mut buf);
    }
}

impl WeightedSamples {
    /// From weighted points `(value, count)`, in any order, duplicates allowed; zero counts
    /// are ignored. Fails on NaN or infinite values and when every count is zero.
    pub fn from_weighted(points: &[(f64, u64)]) -> Result<Self, StatsError> {
        let mut pts: Vec<(f64, u64)> = Vec::with_capacity(points.len());
        for (index, &(value, count)) in points.iter().enumerate() {
            if !value.is_finite() {
                return Err(StatsError::NonFinite { index, value });
            }
            if count > 0 {
                pts.push((if value == 0.0 { 0.0 } else { value }, count));
            }
        }
        if pts.is_empty() {
            return Err(StatsError::Empty);
        }
        pts.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let mut values = Vec::with_capacity(pts.len());
        let mut counts: Vec<u64> = Vec::with_capacity(pts.len());
        for (v, c) in pts {
            if values.last() == Some(&v) {
                let last = counts.len() - 1;
                counts[last] = counts[last].saturating_add(c);
            } else {
                values.push(v);
                counts.push(c);
            }
        }
        Ok(Self::from_sorted_parts(values, counts))
    }

    /// From raw samples (any order). O(n) radix sort, then run-length counting.
    pub fn from_samples(samples: &[f64]) -> Result<Self, StatsError> {
        if samples.is_empty() {
            return Err(StatsError::Empty);
        }
        let mut keys = Vec::with_capacity(samples.len());
        for (index, &value) in samples.iter().enumerate() {
            if !value.is_finite() {
                return Err(StatsError::NonFinite { index, value });
            }
            keys.push(order_key(value));
        }
        radix_sort(&mut keys);
        let mut values = Vec::new();
        let mut counts: Vec<u64> = Vec::new();
        let mut prev = None;
        for k in keys {
            if prev == Some(k) {
                *counts.last_mut().expect("a previous key has a count") += 1;
            } else {
                values.push(key_value(k));
                counts.push(1);
                prev = Some(k);
            }
        }
        Ok(Self::from_sorted_parts(values, counts))
    }

    fn from_sorted_parts(values: Vec<f64>, counts: Vec<u64>) -> Self {
        let mut cum = Vec::with_capacity(counts.len());
        let mut acc: u64 = 0;
        for &c in &counts {
            acc = acc.saturating_add(c);
            cum.push(acc);
        }
        WeightedSamples {
            values,
            counts,
            cum,
        }
    }

    /// Distinct values, ascending.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Count of each distinct value.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Cumulative counts: `cumulative()\[i\]` = number of samples ≤ `values()\[i\]`.
    pub fn cumulative(&self) -> &[u64] {
        &self.cum
    }

    /// `(value, count)` pairs, ascending.
    pub fn iter(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        self.values.iter().copied().zip(self.counts.iter().copied())
    }

    /// Total number of samples.
    pub fn total(&self) -> u64 {
        *self.cum.last().expect("never empty")
    }

    /// Number of distinct values.
    pub fn distinct(&self) -> usize {
        self.values.len()
    }

    /// Smallest value.
    pub fn min(&self) -> f64 {
        self.values[0]
    }

    /// Largest value.
    pub fn max(&self) -> f64 {
        self.values[self.values.len() - 1]
    }

    /// Weighted sum of `f(x)` over all samples.
    pub fn sum_by(&self, mut f: impl FnMut(f64) -> f64) -> f64 {
        self.iter().map(|(x, c)| c as f64 * f(x)).sum()
    }

    /// Sample mean.
    pub fn mean(&self) -> f64 {
        self.sum_by(|x| x) / self.total() as f64
    }

    fn central_moment(&self, k: i32) -> f64 {
        let m = self.mean();
        self.sum_by(|x| (x - m).powi(k)) / self.total() as f64
    }

    /// Unbiased sample variance (n − 1 in the denominator). Needs at least two samples.
    pub fn variance(&self) -> Result<f64, StatsError> {
        let n = self.total();
        if n < 2 {
            return Err(StatsError::TooFew {
                estimator: "variance",
                needed: 2,
                got: n,
            });
        }
        let m = self.mean();
        Ok(self.sum_by(|x| (x - m) * (x - m)) / (n - 1) as f64)
    }

    /// Squared coefficient of variation s²/x̄². Needs two samples and a non-zero mean.
    pub fn scv(&self) -> Result<f64, StatsError> {
        let v = self.variance()?;
        let m = self.mean();
        if m == 0.0 {
            return Err(StatsError::Undefined {
                estimator: "squared coefficient of variation",
                reason: "the mean is zero; the SCV is only meaningful for positive data",
            });
        }
        Ok(v / (m * m))
    }

    /// Moment skewness g₁ = m₃/m₂^{3/2}. Needs three samples that are not all equal.
    pub fn skewness(&self) -> Result<f64, StatsError> {
        let n = self.total();
        if n < 3 {
            return Err(StatsError::TooFew {
                estimator: "skewness",
                needed: 3,
                got: n,
            });
        }
        let m2 = self.central_moment(2);
        if m2 == 0.0 {
            return Err(StatsError::Undefined {
                estimator: "skewness",
                reason: "all samples are equal",
            });
        }
        Ok(self.central_moment(3) / m2.powf(1.5))
    }

    /// Empirical CDF: fraction of samples ≤ x.
    pub fn cdf(&self, x: f64) -> f64 {
        let i = self.values.partition_point(|&v| v <= x);
        if i == 0 {
            0.0
        } else {
            self.cum[i - 1] as f64 / self.total() as f64
        }
    }

    /// Quantile Q(p) = min{x : F̂(x) ≥ p}; Q(0) is the minimum.
    pub fn quantile(&self, p: f64) -> Result<f64, StatsError> {
        if !(0.0..=1.0).contains(&p) {
            return Err(StatsError::InvalidProbability { p });
        }
        let n = self.total();
        // smallest rank r (1-based) with r ≥ p·n
        let rank = ((p * n as f64).ceil() as u64).clamp(1, n);
        let i = self.cum.partition_point(|&c| c < rank);
        Ok(self.values[i.min(self.values.len() - 1)])
    }

    /// Mean, variance, SCV, skewness, extremes and the usual latency percentiles in one pass.
    pub fn summary(&self) -> Summary {
        let q = |p| self.quantile(p).expect("valid level");
        Summary {
            count: self.total(),
            distinct: self.distinct(),
            min: self.min(),
            max: self.max(),
            mean: self.mean(),
            variance: self.variance().ok(),
            scv: self.scv().ok(),
            skewness: self.skewness().ok(),
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            p9999: q(0.9999),
        }
    }

    /// Coarsens the data to `digits` significant decimal digits (every value is replaced by
    /// its rounding, counts of values that collide are merged), like an HdrHistogram with that
    /// precision. Use it to bound the cost of fitting very large raw sample sets: fits cost
    /// O(distinct values). `digits` is clamped to 1..=15.
    pub fn quantize(&self, digits: u32) -> WeightedSamples {
        let digits = digits.clamp(1, 15) as i32;
        let pts: Vec<(f64, u64)> = self
            .iter()
            .map(|(x, c)| {
                if x == 0.0 {
                    return (0.0, c);
                }
                let e = x.abs().log10().floor() as i32 - digits + 1;
                let scale = 10f64.powi(e);
                ((x / scale).round() * scale, c)
            })
            .collect();
        WeightedSamples::from_weighted(&pts).expect("rounding keeps values finite")
    }
}

/// Descriptive statistics of a data set (see [`WeightedSamples::summary`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Number of samples.
    pub count: u64,
    /// Number of distinct values.
    pub distinct: usize,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean.
    pub mean: f64,
    /// Unbiased variance (None with fewer than two samples).
    pub variance: Option<f64>,
    /// Squared coefficient of variation (None when undefined).
    pub scv: Option<f64>,
    /// Skewness g₁ (None when undefined).
    pub skewness: Option<f64>,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// 99.99th percentile.
    pub p9999: f64,
}

/// A Hill tail-index estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HillEstimate {
    /// Number of upper order statistics used.
    pub k: u64,
    /// The threshold X₍ₖ₊₁₎.
    pub threshold: f64,
    /// Extreme-value index ξ̂ = 1/α̂ (larger = heavier tail).
    pub xi: f64,
    /// Tail index α̂: P(X > x) ∝ x^{−α} in the tail; moments of order ≥ α are infinite.
    pub alpha: f64,
    /// Asymptotic standard error of α̂, α̂/√k.
    pub alpha_std_err: f64,
}

/// The Hill estimator from the `k` largest samples (1 ≤ k < n). The k + 1 largest values
/// must be positive.
pub fn hill(data: &WeightedSamples, k: u64) -> Result<HillEstimate, StatsError> {
    let n = data.total();
    if k == 0 || k >= n {
        return Err(StatsError::TooFew {
            estimator: "the Hill estimator",
            needed: k.max(1) + 1,
            got: n,
        });
    }
    // Walk from the top: take k samples, the next one is the threshold.
    let mut taken: u64 = 0;
    let mut sum_ln = 0.0;
    let mut threshold = f64::NAN;
    for (x, c) in data.iter().collect::<Vec<_>>().into_iter().rev() {
        if x <= 0.0 {
            return Err(StatsError::Undefined {
                estimator: "the Hill estimator",
                reason: "the upper tail contains values ≤ 0; use positive latencies or a smaller k",
            });
        }
        if taken < k {
            let use_c = c.min(k - taken);
            sum_ln += use_c as f64 * x.ln();
            taken += use_c;
            if use_c < c {
                threshold = x;
                break;
            }
        } else {
            threshold = x;
            break;
        }
    }
    let xi = sum_ln / k as f64 - threshold.ln();
    if xi <= 0.0 || !xi.is_finite() {
        return Err(StatsError::Undefined {
            estimator: "the Hill estimator",
            reason: "the k largest values are all equal to the threshold; use a larger k",
        });
    }
    let alpha = 1.0 / xi;
    Ok(HillEstimate {
        k,
        threshold,
        xi,
        alpha,
        alpha_std_err: alpha / (k as f64).sqrt(),
    })
}

/// The Hill estimator using every sample above the empirical `level`-quantile
/// (e.g. 0.95: the top 5 %).
pub fn hill_above_quantile(data: &WeightedSamples, level: f64) -> Result<HillEstimate, StatsError> {
    if !(0.0..1.0).contains(&level) {
        return Err(StatsError::InvalidProbability { p: level });
    }
    let n = data.total();
    let k = ((1.0 - level) * n as f64).floor() as u64;
    hill(data, k.min(n.saturating_sub(1)))
}

/// How a Hurst exponent was estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum HurstMethod {
    /// Variance of block means versus block size.
    AggregatedVariance,
    /// Rescaled range R/S versus block size.
    RescaledRange,
}

/// A Hurst-exponent estimate: H ≈ ½ for short memory, ½ < H < 1 for long-range dependence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HurstEstimate {
    /// The estimate.
    pub h: f64,
    /// The method.
    pub method: HurstMethod,
    /// The (block size, statistic) points of the log-log regression.
    pub points: Vec<(usize, f64)>,
    /// Coefficient of determination of the log-log fit.
    pub r_squared: f64,
}

const HURST_MIN_LEN: usize = 128;

fn check_series(series: &[f64], estimator: &'static str) -> Result<(), StatsError> {
    if series.len() < HURST_MIN_LEN {
        return Err(StatsError::TooFew {
            estimator,
            needed: HURST_MIN_LEN as u64,
            got: series.len() as u64,
        });
    }
    for (index, &value) in series.iter().enumerate() {
        if !value.is_finite() {
            return Err(StatsError::NonFinite { index, value });
        }
    }
    Ok(())
}

/// Block sizes 2^(j/2) from `min` while at least `min_blocks` blocks fit.
fn block_sizes(len: usize, min: usize, min_blocks: usize) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    let mut j = 0;
    loop {
        let m = (min as f64 * 2f64.powf(j as f64 / 2.0)).round() as usize;
        if len / m < min_blocks {
            break;
        }
        if out.last() != Some(&m) {
            out.push(m);
        }
        j += 1;
    }
    out
}

/// Least squares y = a + b·x; returns (b, r²).
fn linear_fit(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
    let b = sxy / sxx;
    let r2 = if syy == 0.0 {
        1.0
    } else {
        sxy * sxy / (sxx * syy)
    };
    (b, r2)
}

/// Hurst exponent by aggregated variance: for block sizes m, the variance of the means of
/// non-overlapping blocks behaves as m^{2H−2}; H = 1 + slope/2. Needs ≥ 128 points.
pub fn hurst_aggregated_variance(series: &[f64]) -> Result<HurstEstimate, StatsError> {
    check_series(series, "the aggregated-variance Hurst estimator")?;
    let mut points = Vec::new();
    for m in block_sizes(series.len(), 1, 10) {
        let means: Vec<f64> = series
            .chunks_exact(m)
            .map(|b| b.iter().sum::<f64>() / m as f64)
            .collect();
        let k = means.len() as f64;
        let mu = means.iter().sum::<f64>() / k;
        let var = means.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / (k - 1.0);
        if var > 0.0 {
            points.push((m, var));
        }
    }
    if points.len() < 3 {
        return Err(StatsError::Undefined {
            estimator: "the aggregated-variance Hurst estimator",
            reason: "the series is constant; there is no variance to scale",
        });
    }
    let logs: Vec<(f64, f64)> = points
        .iter()
        .map(|&(m, v)| ((m as f64).ln(), v.ln()))
        .collect();
    let (slope, r_squared) = linear_fit(&logs);
    Ok(HurstEstimate {
        h: 1.0 + slope / 2.0,
        method: HurstMethod::AggregatedVariance,
        points,
        r_squared,
    })
}

/// Hurst exponent by rescaled range: for block sizes n ≥ 8, the mean over blocks of
/// R/S (range of the cumulative deviations over the standard deviation) behaves as n^H.
/// Needs ≥ 128 points.
pub fn hurst_rescaled_range(series: &[f64]) -> Result<HurstEstimate, StatsError> {
    check_series(series, "the rescaled-range Hurst estimator")?;
    let mut points = Vec::new();
    for m in block_sizes(series.len(), 8, 4) {
        let mut acc = 0.0;
        let mut used = 0usize;
        for b in series.chunks_exact(m) {
            let mu = b.iter().sum::<f64>() / m as f64;
            let (mut y, mut lo, mut hi, mut ss) = (0.0_f64, 0.0_f64, 0.0_f64, 0.0);
            for &x in b {
                y += x - mu;
                lo = lo.min(y);
                hi = hi.max(y);
                ss += (x - mu) * (x - mu);
            }
            let s = (ss / m as f64).sqrt();
            if s > 0.0 {
                acc += (hi - lo) / s;
                used += 1;
            }
        }
        if used > 0 {
            points.push((m, acc / used as f64));
        }
    }
    if points.len() < 3 {
        return Err(StatsError::Undefined {
            estimator: "the rescaled-range Hurst estimator",
            reason: "the series is constant; there is no range to rescale",
        });
    }
    let logs: Vec<(f64, f64)> = points
        .iter()
        .map(|&(m, v)| ((m as f64).ln(), v.ln()))
        .collect();
    let (slope, r_squared) = linear_fit(&logs);
    Ok(HurstEstimate {
        h: slope,
        method: HurstMethod::RescaledRange,
        points,
        r_squared,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_sort_matches_std_sort() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut vals = Vec::new();
        for i in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = (x % 20_000) as f64 - 10_000.0 + if i % 3 == 0 { 0.5 } else { 0.0 };
            vals.push(v);
        }
        vals.push(-0.0);
        vals.push(0.0);
        let w = WeightedSamples::from_samples(&vals).unwrap();
        let mut sorted = vals.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        sorted.dedup_by(|a, b| a == b);
        assert_eq!(w.values(), &sorted[..]);
        assert_eq!(w.total(), vals.len() as u64);
    }

    #[test]
    fn weighted_equals_expanded() {
        let pts = [(3.0, 2), (1.0, 1), (10.0, 3), (3.0, 1), (7.0, 0)];
        let w = WeightedSamples::from_weighted(&pts).unwrap();
        let raw = [3.0, 3.0, 1.0, 10.0, 10.0, 10.0, 3.0];
        let r = WeightedSamples::from_samples(&raw).unwrap();
        assert_eq!(w, r);
        assert_eq!(w.values(), &[1.0, 3.0, 10.0]);
        assert_eq!(w.counts(), &[1, 3, 3]);
        let mean = raw.iter().sum::<f64>() / 7.0;
        assert!((w.mean() - mean).abs() < 1e-12);
        let var = raw.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 6.0;
        assert!((w.variance().unwrap() - var).abs() < 1e-12);
        assert_eq!(w.quantile(0.0).unwrap(), 1.0);
        assert_eq!(w.quantile(1.0 / 7.0).unwrap(), 1.0);
        assert_eq!(w.quantile(0.15).unwrap(), 3.0);
        assert_eq!(w.quantile(4.0 / 7.0).unwrap(), 3.0);
        assert_eq!(w.quantile(0.58).unwrap(), 10.0);
        assert!((w.cdf(3.0) - 4.0 / 7.0).abs() < 1e-15);
        assert!(w.quantile(1.5).is_err());
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(WeightedSamples::from_samples(&[]), Err(StatsError::Empty));
        assert!(matches!(
            WeightedSamples::from_samples(&[1.0, f64::NAN]),
            Err(StatsError::NonFinite { index: 1, .. })
        ));
        assert_eq!(
            WeightedSamples::from_weighted(&[(1.0, 0)]),
            Err(StatsError::Empty)
        );
        let one = WeightedSamples::from_samples(&[4.0]).unwrap();
        assert!(one.variance().is_err());
        let flat = WeightedSamples::from_samples(&[4.0, 4.0, 4.0]).unwrap();
        assert!(flat.skewness().is_err());
    }

    #[test]
    fn skewness_of_known_sets() {
        let sym = WeightedSamples::from_samples(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert!(sym.skewness().unwrap().abs() < 1e-15);
        // {0,0,0,3}: m=0.75, m2 = (3·0.5625 + 5.0625)/4 = 1.6875, m3 = (3·(−0.421875)+11.390625)/4
        let s = WeightedSamples::from_samples(&[0.0, 0.0, 0.0, 3.0]).unwrap();
        let m2: f64 = 1.6875;
        let m3 = (3.0 * -0.421_875 + 11.390_625) / 4.0;
        assert!((s.skewness().unwrap() - m3 / m2.powf(1.5)).abs() < 1e-12);
    }

    #[test]
    fn quantize_merges() {
        let w = WeightedSamples::from_samples(&[1234.0, 1236.0, 1244.0, 98765.0]).unwrap();
        let q = w.quantize(3);
        assert_eq!(q.values(), &[1230.0, 1240.0, 98800.0]);
        assert_eq!(q.counts(), &[1, 2, 1]);
    }

    #[test]
    fn hill_on_exact_pareto_quantiles() {
        // Deterministic Pareto(α = 2) sample: x_i = (1 − u_i)^{−1/2} on a fine grid.
        let n = 100_000;
        let xs: Vec<f64> = (0..n)
            .map(|i| (1.0 - (i as f64 + 0.5) / n as f64).powf(-0.5))
            .collect();
        let w = WeightedSamples::from_samples(&xs).unwrap();
        let h = hill(&w, 2000).unwrap();
        assert!((h.alpha - 2.0).abs() < 0.05, "{h:?}");
        let hq = hill_above_quantile(&w, 0.98).unwrap();
        assert_eq!(hq.k, 2000);
        assert!(hill(&w, 0).is_err());
    }

    fn lcg_uniforms(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (s >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect()
    }

    #[test]
    fn hurst_separates_memory_regimes() {
        let iid: Vec<f64> = lcg_uniforms(1 << 14, 7);
        let av = hurst_aggregated_variance(&iid).unwrap();
        assert!((av.h - 0.5).abs() < 0.08, "iid AV {av:?}");
        let rs = hurst_rescaled_range(&iid).unwrap();
        assert!(rs.h > 0.45 && rs.h < 0.68, "iid RS {}", rs.h);
        // Anti-persistent: first differences of i.i.d. noise (block means telescope).
        let diff: Vec<f64> = iid.windows(2).map(|w| w[1] - w[0]).collect();
        let ad = hurst_aggregated_variance(&diff).unwrap();
        assert!(ad.h < 0.2, "differenced {}", ad.h);
        // Persistent: a random walk.
        let mut acc = 0.0;
        let walk: Vec<f64> = iid
            .iter()
            .map(|u| {
                acc += u - 0.5;
                acc
            })
            .collect();
        let aw = hurst_aggregated_variance(&walk).unwrap();
        assert!(aw.h > 0.9, "walk {}", aw.h);
        let rw = hurst_rescaled_range(&walk).unwrap();
        assert!(rw.h > 0.9, "walk RS {}", rw.h);
        assert!(hurst_rescaled_range(&iid[..100]).is_err());
        assert!(hurst_aggregated_variance(&[1.0; 500]).is_err());
    }
}
