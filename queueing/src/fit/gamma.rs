//! Gamma(k, θ) by maximum likelihood.
//!
//! The likelihood equations reduce to one equation in the shape (Choi & Wette 1969):
//! ln k − ψ(k) = s with s = ln x̄ − mean(ln xᵢ) > 0, then θ̂ = x̄/k̂. It is solved by Newton's
//! method (ψ′ is the trigamma function) from Minka's (2002) closed-form start
//! k₀ = (3 − s + √((s − 3)² + 24s))/(12s). Standard errors come from the expected Fisher
//! information n·\[\[ψ′(k), 1/θ\], \[1/θ, k/θ²\]\]. Needs every value > 0.

use super::special::{digamma, ln_gamma, trigamma};
use super::{Estimate, FitError, Param};
use crate::fit::ServiceDist;
use crate::stats::WeightedSamples;

pub(super) fn fit(data: &WeightedSamples) -> Result<Estimate, FitError> {
    super::require_positive(data, "gamma")?;
    let n = data.total() as f64;
    let mean = data.mean();
    let mean_ln = data.sum_by(f64::ln) / n;
    let s = mean.ln() - mean_ln;
    if s.is_nan() || s <= 0.0 {
        return Err(FitError::Degenerate {
            family: "gamma",
            reason: "ln(mean) equals the mean of ln x (no spread)",
        });
    }
    let mut k = (3.0 - s + ((s - 3.0).powi(2) + 24.0 * s).sqrt()) / (12.0 * s);
    let mut converged = false;
    for _ in 0..100 {
        let f = k.ln() - digamma(k) - s;
        let fp = 1.0 / k - trigamma(k);
        let mut next = k - f / fp;
        if next.is_nan() || next <= 0.0 || !next.is_finite() {
            next = k / 2.0;
        }
        let done = (next - k).abs() <= 1e-14 * k;
        k = next;
        if done {
            converged = true;
            break;
        }
    }
    if !converged {
        return Err(FitError::NoConvergence {
            family: "gamma",
            iterations: 100,
        });
    }
    let theta = mean / k;
    let log_likelihood =
        (k - 1.0) * n * mean_ln - n * mean / theta - n * k * theta.ln() - n * ln_gamma(k);
    // Inverse of n·[[ψ′(k), 1/θ], [1/θ, k/θ²]].
    let (a, b, d) = (trigamma(k), 1.0 / theta, k / (theta * theta));
    let det = a * d - b * b;
    let se_k = (d / (n * det)).sqrt();
    let se_t = (a / (n * det)).sqrt();
    let se = |v: f64| if v.is_finite() { Some(v) } else { None };
    Ok(Estimate {
        dist: ServiceDist::Gamma {
            shape: k,
            scale: theta,
        },
        params: vec![
            Param::new("shape", k, se(se_k)),
            Param::new("scale", theta, se(se_t)),
        ],
        log_likelihood,
    })
}
