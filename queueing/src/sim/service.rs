//! Service times: the [`ServiceTime`] trait the engine draws from, and [`ServiceSpec`], a
//! serialisable set of distributions that implements it.

use super::random::{exp1, std_normal, uniform};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

/// A source of service times (seconds) for the servers.
///
/// Implemented by [`ServiceSpec`], by the fitted distributions of
/// [`crate::fit::ServiceDist`], and by any `FnMut(&mut Pcg64Mcg) -> f64` closure. Another
/// distribution type plugs in by implementing the one required method, `sample`.
pub trait ServiceTime {
    /// Draws one service time, in seconds; it must be finite and non-negative.
    fn sample(&mut self, rng: &mut Pcg64Mcg) -> f64;

    /// Checks the parameters before a run; the message says what to fix.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

impl ServiceTime for crate::fit::ServiceDist {
    #[inline]
    fn sample(&mut self, rng: &mut Pcg64Mcg) -> f64 {
        crate::fit::ServiceDist::sample(self, rng)
    }

    fn validate(&self) -> Result<(), String> {
        crate::fit::ServiceDist::validate(self).map_err(|e| e.to_string())
    }
}

impl<F: FnMut(&mut Pcg64Mcg) -> f64> ServiceTime for F {
    #[inline]
    fn sample(&mut self, rng: &mut Pcg64Mcg) -> f64 {
        self(rng)
    }
}

/// One branch of a hyperexponential mixture.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Branch {
    /// Probability of this branch.
    pub p: f64,
    /// Mean of its exponential, seconds.
    pub mean: f64,
}

/// Service-time distributions, in seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServiceSpec {
    /// Always `value`.
    Deterministic {
        /// The service time.
        value: f64,
    },
    /// Exponential.
    Exponential {
        /// Mean.
        mean: f64,
    },
    /// Erlang-k (sum of `k` exponentials), SCV 1/k.
    Erlang {
        /// Phases.
        k: u32,
        /// Mean of the sum.
        mean: f64,
    },
    /// A mixture of exponentials, SCV ≥ 1.
    HyperExponential {
        /// The branches; probabilities sum to 1.
        branches: Vec<Branch>,
    },
    /// Uniform on `[min, max]`.
    Uniform {
        /// Lower end.
        min: f64,
        /// Upper end.
        max: f64,
    },
    /// `exp(N(mu, sigma²))`.
    LogNormal {
        /// Mean of the logarithm.
        mu: f64,
        /// Standard deviation of the logarithm.
        sigma: f64,
    },
    /// Resampling of measured values, each equally likely.
    Empirical {
        /// The values.
        values: Vec<f64>,
    },
}

impl ServiceSpec {
    /// The two-phase hyperexponential with balanced means (`p1 m1 = p2 m2`) of the given mean
    /// and squared coefficient of variation `scv >= 1`:
    /// `p1 = (1 + sqrt((scv - 1)/(scv + 1))) / 2`, `m_i = mean / (2 p_i)`.
    pub fn hyperexponential_balanced(mean: f64, scv: f64) -> Self {
        let scv = scv.max(1.0);
        let p1 = 0.5 * (1.0 + ((scv - 1.0) / (scv + 1.0)).sqrt());
        let p2 = 1.0 - p1;
        ServiceSpec::HyperExponential {
            branches: vec![
                Branch {
                    p: p1,
                    mean: mean / (2.0 * p1),
                },
                Branch {
                    p: p2,
                    mean: mean / (2.0 * p2),
                },
            ],
        }
    }

    /// Mean, seconds.
    pub fn mean(&self) -> f64 {
        match self {
            ServiceSpec::Deterministic { value } => *value,
            ServiceSpec::Exponential { mean } | ServiceSpec::Erlang { mean, .. } => *mean,
            ServiceSpec::HyperExponential { branches } => {
                branches.iter().map(|b| b.p * b.mean).sum()
            }
            ServiceSpec::Uniform { min, max } => 0.5 * (min + max),
            ServiceSpec::LogNormal { mu, sigma } => (mu + 0.5 * sigma * sigma).exp(),
            ServiceSpec::Empirical { values } => {
                values.iter().sum::<f64>() / values.len().max(1) as f64
            }
        }
    }

    /// Second moment, E(S²).
    pub fn second_moment(&self) -> f64 {
        match self {
            ServiceSpec::Deterministic { value } => value * value,
            ServiceSpec::Exponential { mean } => 2.0 * mean * mean,
            ServiceSpec::Erlang { k, mean } => mean * mean * (1.0 + 1.0 / f64::from(*k)),
            ServiceSpec::HyperExponential { branches } => {
                branches.iter().map(|b| 2.0 * b.p * b.mean * b.mean).sum()
            }
            ServiceSpec::Uniform { min, max } => (min * min + min * max + max * max) / 3.0,
            ServiceSpec::LogNormal { mu, sigma } => (2.0 * mu + 2.0 * sigma * sigma).exp(),
            ServiceSpec::Empirical { values } => {
                values.iter().map(|v| v * v).sum::<f64>() / values.len().max(1) as f64
            }
        }
    }

    /// Squared coefficient of variation, Var(S)/E(S)².
    pub fn scv(&self) -> f64 {
        let m = self.mean();
        self.second_moment() / (m * m) - 1.0
    }
}

impl ServiceTime for ServiceSpec {
    #[inline(always)]
    fn sample(&mut self, rng: &mut Pcg64Mcg) -> f64 {
        match self {
            ServiceSpec::Deterministic { value } => *value,
            ServiceSpec::Exponential { mean } => *mean * exp1(rng),
            ServiceSpec::Erlang { k, mean } => {
                let mut s = 0.0;
                for _ in 0..*k {
                    s += exp1(rng);
                }
                s * *mean / f64::from(*k)
            }
            ServiceSpec::HyperExponential { branches } => {
                let u = uniform(rng);
                let mut acc = 0.0;
                let mut m = branches.last().map_or(0.0, |b| b.mean);
                for b in branches.iter() {
                    acc += b.p;
                    if u < acc {
                        m = b.mean;
                        break;
                    }
                }
                m * exp1(rng)
            }
            ServiceSpec::Uniform { min, max } => *min + (*max - *min) * uniform(rng),
            ServiceSpec::LogNormal { mu, sigma } => (*mu + *sigma * std_normal(rng)).exp(),
            ServiceSpec::Empirical { values } => {
                let i = (uniform(rng) * values.len() as f64) as usize;
                values[i.min(values.len() - 1)]
            }
        }
    }

    fn validate(&self) -> Result<(), String> {
        let ok = |x: f64| x.is_finite() && x >= 0.0;
        match self {
            ServiceSpec::Deterministic { value } if !ok(*value) => {
                Err("deterministic: value must be finite and non-negative".into())
            }
            ServiceSpec::Exponential { mean } if !(ok(*mean) && *mean > 0.0) => {
                Err("exponential: mean must be positive".into())
            }
            ServiceSpec::Erlang { k, mean } if *k == 0 || !(ok(*mean) && *mean > 0.0) => {
                Err("erlang: k must be at least 1 and mean positive".into())
            }
            ServiceSpec::HyperExponential { branches } => {
                if branches.is_empty()
                    || branches
                        .iter()
                        .any(|b| !(ok(b.p) && ok(b.mean) && b.mean > 0.0))
                    || (branches.iter().map(|b| b.p).sum::<f64>() - 1.0).abs() > 1e-9
                {
                    Err("hyperexponential: need branches with p >= 0 summing to 1 and positive means".into())
                } else {
                    Ok(())
                }
            }
            ServiceSpec::Uniform { min, max } if !(ok(*min) && ok(*max) && min <= max) => {
                Err("uniform: need 0 <= min <= max".into())
            }
            ServiceSpec::LogNormal { mu, sigma } if !(mu.is_finite() && ok(*sigma)) => {
                Err("lognormal: mu must be finite and sigma non-negative".into())
            }
            ServiceSpec::Empirical { values }
                if values.is_empty() || !values.iter().all(|v| ok(*v)) =>
            {
                Err("empirical: need at least one value, all finite and non-negative".into())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_h2_has_the_requested_moments() {
        let h = ServiceSpec::hyperexponential_balanced(1.0, 4.0);
        assert!((h.mean() - 1.0).abs() < 1e-12);
        assert!((h.scv() - 4.0).abs() < 1e-12);
        if let ServiceSpec::HyperExponential { branches } = &h {
            assert!(
                (branches[0].p * branches[0].mean - branches[1].p * branches[1].mean).abs() < 1e-12
            );
        }
    }

    #[test]
    fn sample_means_match() {
        let mut rng = super::super::random::stream(3, 0);
        for mut s in [
            ServiceSpec::Exponential { mean: 2.0 },
            ServiceSpec::Erlang { k: 4, mean: 1.0 },
            ServiceSpec::hyperexponential_balanced(1.0, 4.0),
            ServiceSpec::Uniform { min: 1.0, max: 3.0 },
            ServiceSpec::LogNormal {
                mu: 0.0,
                sigma: 0.5,
            },
        ] {
            let n = 400_000;
            let m: f64 = (0..n).map(|_| s.sample(&mut rng)).sum::<f64>() / n as f64;
            let sd = (s.second_moment() - s.mean() * s.mean()).sqrt();
            assert!(
                (m - s.mean()).abs() < 5.0 * sd / (n as f64).sqrt(),
                "{s:?}: {m}"
            );
        }
    }
}
