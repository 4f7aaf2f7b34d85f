//! Generalized Pareto tail above a threshold (peaks over threshold; Pickands 1975,
//! Balkema & de Haan 1974).
//!
//! The threshold u is the empirical `level`-quantile (0.95 by default, i.e. the top 5 %); the
//! excesses yᵢ = xᵢ − u of the values above it are fitted by GPD(σ, ξ),
//! ℓ = −k ln σ − (1 + 1/ξ) Σ ln(1 + ξyᵢ/σ). With θ = ξ/σ the MLE of ξ for fixed θ is
//! ξ̂(θ) = (1/k) Σ ln(1 + θyᵢ), and the profile log-likelihood is
//! ℓ*(θ) = −k ln(ξ̂(θ)/θ) − kξ̂(θ) − k (Grimshaw 1993 reduces the problem to the same one
//! dimension). ℓ* is scanned over θ ∈ (−1/y_max, ∞) — log-spaced on both sides of 0, where
//! ℓ*(0) = −k ln ȳ − k is the exponential tail — and refined by golden-section search.
//! Standard errors (ξ > −½; Smith 1985): Var ξ̂ = (1 + ξ)²/k, Var σ̂ = 2σ²(1 + ξ)/k.
//!
//! The log-likelihood is conditional on exceeding u, so it is not comparable with the
//! full-range fits' and the tail fit does not compete in the AIC ranking; it is reported
//! beside them, with the spliced distribution (empirical body + GPD tail) for simulation.

use super::gof::ks_ad;
use super::{FitError, Param, TailFit};
use crate::fit::{Empirical, ServiceDist};
use crate::stats::{hill, WeightedSamples};

/// Profile log-likelihood at θ over the excesses (value, count).
fn profile(ex: &[(f64, f64)], k: f64, theta: f64) -> (f64, f64) {
    if theta == 0.0 {
        let ybar = ex.iter().map(|(y, c)| y * c).sum::<f64>() / k;
        return (-k * ybar.ln() - k, 0.0);
    }
    let mut s = 0.0;
    for &(y, c) in ex {
        let t = theta * y;
        if t <= -1.0 {
            return (f64::NEG_INFINITY, f64::NAN);
        }
        s += c * t.ln_1p();
    }
    let xi = s / k;
    let sigma = xi / theta;
    if sigma.is_nan() || sigma <= 0.0 {
        return (f64::NEG_INFINITY, xi);
    }
    (-k * sigma.ln() - k * xi - k, xi)
}

pub(super) fn fit_tail(
    data: &WeightedSamples,
    level: f64,
    min_exceedances: u64,
) -> Result<TailFit, FitError> {
    if !(level > 0.0 && level < 1.0) {
        return Err(FitError::InvalidOption {
            option: "tail_level",
            value: level,
            requirement: "in (0, 1), e.g. 0.95",
        });
    }
    let n = data.total();
    let u = data.quantile(level).map_err(|_| FitError::InvalidOption {
        option: "tail_level",
        value: level,
        requirement: "in (0, 1), e.g. 0.95",
    })?;
    let ex: Vec<(f64, f64)> = data
        .iter()
        .filter(|&(x, _)| x > u)
        .map(|(x, c)| (x - u, c as f64))
        .collect();
    let k: f64 = ex.iter().map(|e| e.1).sum();
    let k_count = k as u64;
    if k_count < min_exceedances.max(2) {
        return Err(FitError::TooFewExceedances {
            threshold: u,
            needed: min_exceedances.max(2),
            got: k_count,
        });
    }
    let y_max = ex.iter().map(|e| e.0).fold(0.0, f64::max);
    let ybar = ex.iter().map(|(y, c)| y * c).sum::<f64>() / k;
    // Candidate θ: negative side approaching −1/y_max, 0, positive side log-spaced.
    let mut thetas: Vec<f64> = (1..=40)
        .map(|j| -(1.0 - 0.5f64.powf(j as f64 / 2.0)) / y_max)
        .collect();
    thetas.extend((0..=40).map(|j| -(10f64.powf(-4.0 + j as f64 * 0.1)) / ybar));
    thetas.push(0.0);
    thetas.extend((0..=80).map(|j| 10f64.powf(-4.0 + j as f64 * 0.1) / ybar));
    thetas.retain(|&t| t * y_max > -1.0);
    thetas.sort_by(|a, b| a.total_cmp(b));
    thetas.dedup();
    let vals: Vec<f64> = thetas.iter().map(|&t| profile(&ex, k, t).0).collect();
    let bi = (0..vals.len())
        .max_by(|&a, &b| vals[a].total_cmp(&vals[b]))
        .expect("non-empty grid");
    let theta = if bi == 0 || bi == vals.len() - 1 {
        thetas[bi]
    } else {
        let f = |t: f64| profile(&ex, k, t).0;
        let (a, b) = (thetas[bi - 1], thetas[bi + 1]);
        let mid = super::golden_max(f, a, b, 60);
        // θ = 0 itself (exponential tail) may beat a tiny-|θ| neighbour.
        if f(0.0) >= f(mid) && a <= 0.0 && b >= 0.0 {
            0.0
        } else {
            mid
        }
    };
    let (ll, xi, sigma) = if theta == 0.0 {
        (profile(&ex, k, 0.0).0, 0.0, ybar)
    } else {
        let (ll, xi) = profile(&ex, k, theta);
        (ll, xi, xi / theta)
    };
    if !ll.is_finite() || !sigma.is_finite() || sigma <= 0.0 {
        return Err(FitError::Degenerate {
            family: "generalized pareto tail",
            reason: "the profile likelihood has no finite maximum",
        });
    }
    let (se_xi, se_sigma) = if xi > -0.5 {
        (
            Some((1.0 + xi) / k.sqrt()),
            Some(sigma * (2.0 * (1.0 + xi) / k).sqrt()),
        )
    } else {
        (None, None)
    };
    let excess_points: Vec<(f64, u64)> = ex.iter().map(|&(y, c)| (y, c as u64)).collect();
    let excess = WeightedSamples::from_weighted(&excess_points).expect("non-empty");
    let gpd = ServiceDist::GeneralizedPareto {
        location: 0.0,
        scale: sigma,
        shape: xi,
    };
    let (ks, ad) = ks_ad(&excess, &gpd);
    let body_points: Vec<(f64, u64)> = data.iter().filter(|&(x, _)| x <= u).collect();
    let body = Empirical::new(&body_points).map_err(|_| FitError::Degenerate {
        family: "generalized pareto tail",
        reason: "no data at or below the threshold",
    })?;
    let tail_prob = k / n as f64;
    let hill = if u > 0.0 {
        hill(data, k_count).ok()
    } else {
        None
    };
    Ok(TailFit {
        level,
        threshold: u,
        exceedances: k_count,
        tail_prob,
        params: vec![
            Param::new("shape", xi, se_xi),
            Param::new("scale", sigma, se_sigma),
        ],
        shape: xi,
        scale: sigma,
        log_likelihood: ll,
        ks,
        anderson_darling: ad,
        hill_alpha: hill.map(|h| h.alpha),
        dist: ServiceDist::EmpiricalGpdTail {
            body,
            threshold: u,
            tail_prob,
            scale: sigma,
            shape: xi,
        },
    })
}
