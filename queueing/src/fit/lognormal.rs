//! Lognormal, plain and shifted: X = γ + exp(N(μ, σ²)).
//!
//! For a fixed shift γ the MLE is closed form: μ̂(γ) = mean ln(xᵢ − γ),
//! σ̂²(γ) = mean (ln(xᵢ − γ) − μ̂)², with profile log-likelihood
//! ℓ(γ) = −Σ ln(xᵢ − γ) − n ln σ̂(γ) − (n/2)(1 + ln 2π).
//!
//! * Plain lognormal: γ = 0 (standard errors σ/√n for μ, σ/√(2n) for σ).
//! * Shifted lognormal: γ is chosen by profile likelihood over [0, min xᵢ). The likelihood is
//!   unbounded as γ → min xᵢ (Hill 1963), so the estimate is the largest *interior* local
//!   maximum of ℓ(γ): ℓ is scanned on 64 points log-spaced in d = min xᵢ − γ, then refined by
//!   golden-section search. If ℓ only increases towards γ = 0, the fit is the plain lognormal
//!   (γ = 0). Standard errors from the numerically differentiated observed information.

use super::{numeric_std_errors, Estimate, FitError, Param};
use crate::fit::ServiceDist;
use crate::stats::WeightedSamples;

const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// (μ̂, σ̂, profile log-likelihood) at shift γ; None if some xᵢ ≤ γ or σ̂ = 0.
///
/// One pass: Σwl and Σw(l − l₀)² about a provisional centre l₀ = ln(median − γ), so the
/// variance does not suffer from cancellation.
fn profile(data: &WeightedSamples, shift: f64) -> Option<(f64, f64, f64)> {
    let n = data.total() as f64;
    if data.min() <= shift {
        return None;
    }
    let centre = (data.quantile(0.5).ok()? - shift).ln();
    let (mut s1, mut s2) = (0.0, 0.0);
    for (x, c) in data.iter() {
        let d = (x - shift).ln() - centre;
        let c = c as f64;
        s1 += c * d;
        s2 += c * d * d;
    }
    let mean_d = s1 / n;
    let mu = centre + mean_d;
    let sigma = (s2 / n - mean_d * mean_d).max(0.0).sqrt();
    if sigma.is_nan() || sigma <= 0.0 {
        return None;
    }
    let ll = -(s1 + n * centre) - n * sigma.ln() - n * (0.5 + HALF_LN_2PI);
    Some((mu, sigma, ll))
}

fn log_likelihood(data: &WeightedSamples, shift: f64, mu: f64, sigma: f64) -> f64 {
    if sigma <= 0.0 || data.min() <= shift {
        return f64::NEG_INFINITY;
    }
    let n = data.total() as f64;
    let mut acc = 0.0;
    for (x, c) in data.iter() {
        let l = (x - shift).ln();
        let z = (l - mu) / sigma;
        acc += c as f64 * (-l - 0.5 * z * z);
    }
    acc - n * (sigma.ln() + HALF_LN_2PI)
}

pub(super) fn fit(data: &WeightedSamples) -> Result<Estimate, FitError> {
    super::require_positive(data, "lognormal")?;
    let n = data.total() as f64;
    let (mu, sigma, ll) = profile(data, 0.0).ok_or(FitError::Degenerate {
        family: "lognormal",
        reason: "ln x has no spread",
    })?;
    Ok(Estimate {
        dist: ServiceDist::LogNormal {
            shift: 0.0,
            mu,
            sigma,
        },
        params: vec![
            Param::new("mu", mu, Some(sigma / n.sqrt())),
            Param::new("sigma", sigma, Some(sigma / (2.0 * n).sqrt())),
        ],
        log_likelihood: ll,
    })
}

pub(super) fn fit_shifted(data: &WeightedSamples) -> Result<Estimate, FitError> {
    super::require_positive(data, "shifted lognormal")?;
    let x1 = data.min();
    // Scan d = x1 − γ from x1 (γ = 0) down to 1e-9 of the spread above the minimum.
    let spread = (data.quantile(0.5).unwrap_or(x1) - x1).max(1e-12 * x1);
    let d_lo = (1e-9 * spread).min(x1 * 0.5);
    let (ln_hi, ln_lo) = (x1.ln(), d_lo.ln());
    const GRID: usize = 64;
    let ds: Vec<f64> = (0..GRID)
        .map(|i| (ln_hi + (ln_lo - ln_hi) * i as f64 / (GRID - 1) as f64).exp())
        .collect();
    let lls: Vec<f64> = ds
        .iter()
        .map(|&d| profile(data, x1 - d).map_or(f64::NEG_INFINITY, |p| p.2))
        .collect();
    // Best interior local maximum (excluding the smallest d, where ℓ may diverge). Index 0 is
    // γ = 0, a legitimate boundary maximum.
    let mut best: Option<usize> = None;
    for i in 0..GRID - 1 {
        let left_ok = i == 0 || lls[i] >= lls[i - 1];
        if left_ok
            && lls[i] >= lls[i + 1]
            && lls[i].is_finite()
            && best.is_none_or(|b| lls[i] > lls[b])
        {
            best = Some(i);
        }
    }
    let Some(bi) = best else {
        return Err(FitError::Degenerate {
            family: "shifted lognormal",
            reason: "the profile likelihood has no interior maximum (it grows towards the minimum)",
        });
    };
    let shift = if bi == 0 {
        0.0
    } else {
        // Golden section on ln d between the neighbours.
        let f = |t: f64| profile(data, x1 - t.exp()).map_or(f64::NEG_INFINITY, |p| p.2);
        x1 - super::golden_max(f, ds[bi + 1].ln(), ds[bi - 1].ln(), 48).exp()
    };
    let (mu, sigma, ll) = profile(data, shift).ok_or(FitError::Degenerate {
        family: "shifted lognormal",
        reason: "ln(x − shift) has no spread",
    })?;
    let ses = if shift > 0.0 {
        numeric_std_errors(
            |p: &[f64]| log_likelihood(data, p[0], p[1], p[2]),
            &[shift, mu, sigma],
        )
    } else {
        // On the boundary γ = 0 the fit is the plain lognormal: its closed-form errors.
        let n = data.total() as f64;
        vec![None, Some(sigma / n.sqrt()), Some(sigma / (2.0 * n).sqrt())]
    };
    let shift_se = ses[0];
    Ok(Estimate {
        dist: ServiceDist::LogNormal { shift, mu, sigma },
        params: vec![
            Param::new("shift", shift, shift_se),
            Param::new("mu", mu, ses[1]),
            Param::new("sigma", sigma, ses[2]),
        ],
        log_likelihood: ll,
    })
}
