//! Two-phase hyperexponential H₂ by the EM algorithm.
//!
//! Density f(x) = p·e^{−x/m₁}/m₁ + (1 − p)·e^{−x/m₂}/m₂. Each EM step (Dempster, Laird &
//! Rubin 1977; for phase-type fits Asmussen, Nerman & Olsson 1996) computes the posterior
//! probability rᵢ that xᵢ came from phase 1, then p = Σwᵢrᵢ/n, m₁ = Σwᵢrᵢxᵢ/Σwᵢrᵢ,
//! m₂ = Σwᵢ(1 − rᵢ)xᵢ/Σwᵢ(1 − rᵢ). EM never decreases the likelihood; iteration stops when
//! the log-likelihood gains less than 1e-9 per sample (at most 5000 steps). The start is the
//! balanced-means H₂ with the sample mean and SCV when SCV > 1, otherwise means ½x̄ and 3⁄2x̄.
//! With SCV ≤ 1 the two phases merge and the fit is an exponential with a redundant parameter
//! (AIC then prefers a 2-parameter family). Standard errors from the numerically
//! differentiated observed information (None when it is singular).

use super::{numeric_std_errors, Estimate, FitError, Param};
use crate::fit::ServiceDist;
use crate::stats::WeightedSamples;

fn log_likelihood(data: &WeightedSamples, p: f64, m1: f64, m2: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) || m1 <= 0.0 || m2 <= 0.0 {
        return f64::NEG_INFINITY;
    }
    let (lp, lq) = (p.ln() - m1.ln(), (1.0 - p).ln() - m2.ln());
    data.sum_by(|x| log_add(lp - x / m1, lq - x / m2))
}

fn log_add(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + ((a - m).exp() + (b - m).exp()).ln()
}

pub(super) fn fit(data: &WeightedSamples) -> Result<Estimate, FitError> {
    let n = data.total() as f64;
    let mean = data.mean();
    let scv = data.scv().unwrap_or(1.0);
    let (mut p, mut m1, mut m2) = if scv > 1.0 {
        let p = 0.5 * (1.0 + ((scv - 1.0) / (scv + 1.0)).sqrt());
        (p, mean / (2.0 * p), mean / (2.0 * (1.0 - p)))
    } else {
        (0.5, 0.5 * mean, 1.5 * mean)
    };
    let mut prev = f64::NEG_INFINITY;
    let mut converged = false;
    const MAX_STEPS: usize = 5000;
    for _ in 0..MAX_STEPS {
        let (lp, lq) = (p.ln() - m1.ln(), (1.0 - p).ln() - m2.ln());
        let (mut w1, mut wx1, mut wx2, mut ll) = (0.0, 0.0, 0.0, 0.0);
        for (x, c) in data.iter() {
            let c = c as f64;
            let a = lp - x / m1;
            let b = lq - x / m2;
            let l = log_add(a, b);
            let r = (a - l).exp();
            ll += c * l;
            w1 += c * r;
            wx1 += c * r * x;
            wx2 += c * (1.0 - r) * x;
        }
        let w2 = n - w1;
        if w1 <= 0.0 || w2 <= 0.0 {
            return Err(FitError::Degenerate {
                family: "hyperexponential",
                reason: "one phase lost all its weight (the data look exponential)",
            });
        }
        p = w1 / n;
        m1 = wx1 / w1;
        m2 = wx2 / w2;
        if m1 <= 0.0 || m2 <= 0.0 {
            return Err(FitError::Degenerate {
                family: "hyperexponential",
                reason: "a phase mean collapsed to zero",
            });
        }
        if ll - prev < 1e-9 * n {
            converged = true;
            break;
        }
        prev = ll;
    }
    if !converged {
        return Err(FitError::NoConvergence {
            family: "hyperexponential",
            iterations: MAX_STEPS,
        });
    }
    // Order the phases: phase 1 the shorter.
    if m1 > m2 {
        std::mem::swap(&mut m1, &mut m2);
        p = 1.0 - p;
    }
    let ll = log_likelihood(data, p, m1, m2);
    let ses = numeric_std_errors(
        |q: &[f64]| log_likelihood(data, q[0], q[1], q[2]),
        &[p, m1, m2],
    );
    Ok(Estimate {
        dist: ServiceDist::HyperExponential {
            p,
            mean1: m1,
            mean2: m2,
        },
        params: vec![
            Param::new("p", p, ses[0]),
            Param::new("mean1", m1, ses[1]),
            Param::new("mean2", m2, ses[2]),
        ],
        log_likelihood: ll,
    })
}
