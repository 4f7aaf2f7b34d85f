//! Shifted exponential X = γ + Exp(θ): a deterministic floor plus an exponential part.
//!
//! MLE (exact, closed form): γ̂ = min xᵢ, θ̂ = x̄ − γ̂, log-likelihood ℓ = −n ln θ̂ − n.
//! γ̂ is the sample minimum, whose error is Exp with mean θ/n (super-efficient, standard
//! error θ/n); θ̂ has standard error θ/√n.

use super::{Estimate, FitError, Param};
use crate::fit::ServiceDist;
use crate::stats::WeightedSamples;

pub(super) fn fit(data: &WeightedSamples) -> Result<Estimate, FitError> {
    let n = data.total() as f64;
    let shift = data.min();
    let scale = data.mean() - shift;
    if scale.is_nan() || scale <= 0.0 {
        return Err(FitError::Degenerate {
            family: "shifted exponential",
            reason: "the mean equals the minimum",
        });
    }
    let log_likelihood = -n * scale.ln() - n;
    Ok(Estimate {
        dist: ServiceDist::ShiftedExponential { shift, scale },
        params: vec![
            Param::new("shift", shift, Some(scale / n)),
            Param::new("scale", scale, Some(scale / n.sqrt())),
        ],
        log_likelihood,
    })
}
