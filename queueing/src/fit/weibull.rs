//! Weibull(k, λ) by maximum likelihood.
//!
//! The shape solves h(k) = Σwᵢxᵢᵏ ln xᵢ / Σwᵢxᵢᵏ − 1/k − mean(ln xᵢ) = 0 (Cohen 1965); h is
//! strictly increasing (h′ = weighted variance of ln x under weights xᵏ, plus 1/k²), so a
//! Newton iteration safeguarded by bisection on a bracket converges from the moment start
//! k₀ = π/(√6·sd(ln x)). The data are centred on their geometric mean and the weights xᵏ are
//! computed in log space, so large nanosecond values do not overflow. Then
//! λ̂ = (Σwᵢxᵢᵏ/n)^{1/k}. Standard errors from the numerically differentiated observed
//! information. Needs every value > 0.

use super::{numeric_std_errors, Estimate, FitError, Param};
use crate::fit::ServiceDist;
use crate::stats::WeightedSamples;

fn log_likelihood(data: &WeightedSamples, k: f64, lambda: f64) -> f64 {
    if k <= 0.0 || lambda <= 0.0 {
        return f64::NEG_INFINITY;
    }
    let n = data.total() as f64;
    let mut acc = 0.0;
    for (x, c) in data.iter() {
        let l = (x / lambda).ln();
        acc += c as f64 * ((k - 1.0) * l - (k * l).exp());
    }
    acc + n * (k.ln() - lambda.ln())
}

pub(super) fn fit(data: &WeightedSamples) -> Result<Estimate, FitError> {
    super::require_positive(data, "weibull")?;
    let n = data.total() as f64;
    let mean_ln = data.sum_by(f64::ln) / n;
    // Centred logs and their counts.
    let pts: Vec<(f64, f64)> = data
        .iter()
        .map(|(x, c)| (x.ln() - mean_ln, c as f64))
        .collect();
    let l_max = pts.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let var_ln = pts.iter().map(|(l, c)| c * l * l).sum::<f64>() / n;
    if var_ln.is_nan() || var_ln <= 0.0 {
        return Err(FitError::Degenerate {
            family: "weibull",
            reason: "ln x has no spread",
        });
    }
    // h(k) and h'(k), with weights exp(k (l − l_max)).
    let h = |k: f64| {
        let (mut b, mut a, mut c2) = (0.0, 0.0, 0.0);
        for &(l, c) in &pts {
            let v = c * (k * (l - l_max)).exp();
            b += v;
            a += v * l;
            c2 += v * l * l;
        }
        let m = a / b;
        (m - 1.0 / k, c2 / b - m * m + 1.0 / (k * k), b)
    };
    let mut k = std::f64::consts::PI / (6.0 * var_ln).sqrt();
    let (mut lo, mut hi) = (0.0_f64, f64::INFINITY);
    let mut converged = false;
    for _ in 0..200 {
        let (f, fp, _) = h(k);
        if f > 0.0 {
            hi = hi.min(k);
        } else {
            lo = lo.max(k);
        }
        let mut next = k - f / fp;
        if !(next > lo && next < hi && next.is_finite()) {
            next = if hi.is_finite() {
                0.5 * (lo + hi)
            } else {
                2.0 * k
            };
        }
        let done = (next - k).abs() <= 1e-13 * k;
        k = next;
        if done {
            converged = true;
            break;
        }
    }
    if !converged {
        return Err(FitError::NoConvergence {
            family: "weibull",
            iterations: 200,
        });
    }
    let (_, _, b) = h(k);
    let lambda = (mean_ln + l_max + (b / n).ln() / k).exp();
    let ll = log_likelihood(data, k, lambda);
    let ses = numeric_std_errors(|p: &[f64]| log_likelihood(data, p[0], p[1]), &[k, lambda]);
    Ok(Estimate {
        dist: ServiceDist::Weibull {
            shape: k,
            scale: lambda,
        },
        params: vec![
            Param::new("shape", k, ses[0]),
            Param::new("scale", lambda, ses[1]),
        ],
        log_likelihood: ll,
    })
}
