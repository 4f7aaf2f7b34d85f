//! M/M/c: Poisson arrivals, c exponential servers, FIFO — the Erlang C model.
//!
//! Offered load a = λ/μ, per-server utilisation ρ = a/c < 1. Exact results (Erlang 1917;
//! Gross & Harris §2.3; Kleinrock vol. 1 §3.5):
//!
//! * Erlang B by the stable recursion B(0, a) = 1, B(k, a) = aB(k−1, a)/(k + aB(k−1, a))
//!   (no factorials, no overflow), and Erlang C from it:
//!   C(c, a) = cB/(c − a(1 − B)) = P(wait > 0);
//! * state probabilities: P(N ≥ c) = C, π_c = C(1 − ρ), πₙ₋₁ = πₙ·n/a below c,
//!   πₙ₊₁ = ρπₙ above;
//! * wait: atom 1 − C at 0, P(W > t) = C e^{−(cμ−λ)t}, E\[W\] = C/(cμ − λ);
//! * sojourn T = W + S, S ~ Exp(μ) independent: with θ = cμ − λ,
//!   P(T > t) = (1 − C)e^{−μt} + C·P(Exp(θ) + Exp(μ) > t), and for the sum of two
//!   exponentials with rates r₁ ≤ r₂, P(> t) = e^{−r₁t}\[1 + r₁t·φ((r₂ − r₁)t)\],
//!   φ(x) = (1 − e^{−x})/x (φ(0) = 1), which is exact and stable including θ = μ (Erlang-2);
//!   sojourn quantiles by root finding on that closed form.

use super::laplace::quantile_from_sf;
use super::{
    check_probability, check_rate, exponential_wait_quantile, Method, Model, ModelError, Prediction,
};

/// Erlang B blocking probability for `servers` servers and offered load `offered` = λ/μ ≥ 0.
pub fn erlang_b(servers: u32, offered: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=servers {
        b = offered * b / (k as f64 + offered * b);
    }
    b
}

/// Erlang C probability of waiting for `servers` servers and offered load `offered` = λ/μ.
/// Returns 1 when `offered` ≥ `servers` (the queue is unstable and everyone waits).
pub fn erlang_c(servers: u32, offered: f64) -> f64 {
    let c = servers as f64;
    if offered >= c {
        return 1.0;
    }
    let b = erlang_b(servers, offered);
    c * b / (c - offered * (1.0 - b))
}

/// P(Exp(r1) + Exp(r2) > t), stable for all rates including r1 = r2.
pub(crate) fn hypoexp_sf(r1: f64, r2: f64, t: f64) -> f64 {
    if t <= 0.0 {
        return 1.0;
    }
    let (lo, hi) = if r1 <= r2 { (r1, r2) } else { (r2, r1) };
    let x = (hi - lo) * t;
    let phi = if x == 0.0 { 1.0 } else { -(-x).exp_m1() / x };
    (-lo * t).exp() * (1.0 + lo * t * phi)
}

/// The M/M/c queue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mmc {
    lambda: f64,
    mu: f64,
    servers: u32,
}

impl Mmc {
    /// Arrival rate λ ≥ 0, per-server service rate μ > 0, c ≥ 1 servers, λ < cμ.
    pub fn new(lambda: f64, mu: f64, servers: u32) -> Result<Self, ModelError> {
        check_rate("lambda", lambda, true)?;
        check_rate("mu", mu, false)?;
        if servers == 0 {
            return Err(ModelError::InvalidParameter {
                param: "servers",
                value: 0.0,
                requirement: "at least 1",
            });
        }
        let rho = lambda / (servers as f64 * mu);
        if rho >= 1.0 {
            return Err(ModelError::Unstable {
                utilization: rho,
                capacity: servers as f64 * mu,
            });
        }
        Ok(Mmc {
            lambda,
            mu,
            servers,
        })
    }

    /// Number of servers c.
    pub fn servers(&self) -> u32 {
        self.servers
    }

    /// Offered load a = λ/μ (Erlangs).
    pub fn offered_load(&self) -> f64 {
        self.lambda / self.mu
    }

    /// Per-server utilisation ρ = λ/(cμ).
    pub fn utilization(&self) -> f64 {
        self.offered_load() / self.servers as f64
    }

    fn theta(&self) -> f64 {
        self.servers as f64 * self.mu - self.lambda
    }

    /// P(wait > 0) = C(c, a).
    pub fn prob_wait(&self) -> f64 {
        erlang_c(self.servers, self.offered_load())
    }

    /// E\[W\] = C/(cμ − λ).
    pub fn mean_wait(&self) -> f64 {
        self.prob_wait() / self.theta()
    }

    /// E\[T\] = E\[W\] + 1/μ.
    pub fn mean_sojourn(&self) -> f64 {
        self.mean_wait() + 1.0 / self.mu
    }

    /// P(N = n), from π_c = C(1 − ρ) by the birth–death ratios.
    pub fn state_probability(&self, n: u32) -> f64 {
        let rho = self.utilization();
        let a = self.offered_load();
        let c = self.servers;
        let pc = self.prob_wait() * (1.0 - rho);
        if n >= c {
            pc * rho.powi((n - c) as i32)
        } else {
            let mut p = pc;
            for k in (n + 1..=c).rev() {
                p *= k as f64 / a;
            }
            p
        }
    }

    /// L = E\[N\] computed from the state probabilities:
    /// Σ_{n<c} nπₙ + π_c(c/(1 − ρ) + ρ/(1 − ρ)²).
    pub fn mean_in_system(&self) -> f64 {
        let rho = self.utilization();
        let c = self.servers;
        let below: f64 = (0..c).map(|n| n as f64 * self.state_probability(n)).sum();
        let pc = self.state_probability(c);
        below + pc * (c as f64 / (1.0 - rho) + rho / (1.0 - rho).powi(2))
    }

    /// P(W > t).
    pub fn wait_sf(&self, t: f64) -> f64 {
        if t < 0.0 {
            1.0
        } else {
            self.prob_wait() * (-self.theta() * t).exp()
        }
    }

    /// P(T > t).
    pub fn sojourn_sf(&self, t: f64) -> f64 {
        if t <= 0.0 {
            return 1.0;
        }
        let c = self.prob_wait();
        (1.0 - c) * (-self.mu * t).exp() + c * hypoexp_sf(self.theta(), self.mu, t)
    }

    /// The p-quantile of the wait: 0 for p ≤ 1 − C, else ln(C/(1 − p))/(cμ − λ).
    pub fn wait_quantile(&self, p: f64) -> Result<f64, ModelError> {
        exponential_wait_quantile(p, self.prob_wait(), self.theta())
    }

    /// The p-quantile of the sojourn time (root of the closed-form survival function).
    pub fn sojourn_quantile(&self, p: f64) -> Result<f64, ModelError> {
        check_probability(p)?;
        Ok(quantile_from_sf(
            |t| self.sojourn_sf(t),
            p,
            0.0,
            self.mean_sojourn(),
        ))
    }

    /// Means and percentiles.
    pub fn predict(&self) -> Result<Prediction, ModelError> {
        Prediction::build(
            Model::MMc {
                servers: self.servers,
            },
            Method::Exact,
            self.lambda,
            self.utilization(),
            0.0,
            self.prob_wait(),
            self.mean_wait(),
            self.mean_sojourn(),
            self.mean_in_system(),
            |p| self.wait_quantile(p),
            |p| self.sojourn_quantile(p),
        )
    }
}
