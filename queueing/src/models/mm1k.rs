//! M/M/1/K: one exponential server, room for K customers in total (K − 1 waiting); arrivals
//! that find the system full are lost.
//!
//! Exact (Gross & Harris §2.5; Kleinrock vol. 1 §3.6), any ρ = λ/μ (no stability condition):
//!
//! * πₙ = ρⁿ / Σ_{j=0}^{K} ρʲ, n = 0..K (uniform when ρ = 1), computed in log space;
//! * loss (blocking) probability π_K (PASTA), throughput λ(1 − π_K), utilisation 1 − π₀;
//! * an admitted arrival finds n < K customers with probability qₙ = πₙ/(1 − π_K) and its
//!   sojourn is Erlang(n + 1, μ), its wait Erlang(n, μ):
//!   E\[T\] = Σ qₙ(n + 1)/μ, P(T > t) = Σₙ qₙ Σ_{j≤n} e^{−μt}(μt)ʲ/j!. Little's law
//!   L = λ(1 − π_K)E\[T\] then holds as an identity between independently computed sides.

use super::laplace::quantile_from_sf;
use super::{check_probability, check_rate, Method, Model, ModelError, Prediction};
use crate::fit::special::ln_gamma;

/// The M/M/1/K queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Mm1k {
    lambda: f64,
    mu: f64,
    capacity: u32,
    pi: Vec<f64>,
}

impl Mm1k {
    /// Arrival rate λ ≥ 0, service rate μ > 0, system capacity K ≥ 1 (in service + waiting).
    pub fn new(lambda: f64, mu: f64, capacity: u32) -> Result<Self, ModelError> {
        check_rate("lambda", lambda, true)?;
        check_rate("mu", mu, false)?;
        if capacity == 0 {
            return Err(ModelError::InvalidParameter {
                param: "capacity",
                value: 0.0,
                requirement: "at least 1 (the customer in service)",
            });
        }
        let rho = lambda / mu;
        let pi = if lambda == 0.0 {
            let mut v = vec![0.0; capacity as usize + 1];
            v[0] = 1.0;
            v
        } else {
            let lr = rho.ln();
            let logs: Vec<f64> = (0..=capacity).map(|n| n as f64 * lr).collect();
            let m = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let w: Vec<f64> = logs.iter().map(|l| (l - m).exp()).collect();
            let z: f64 = w.iter().sum();
            w.iter().map(|x| x / z).collect()
        };
        Ok(Mm1k {
            lambda,
            mu,
            capacity,
            pi,
        })
    }

    /// Offered load ρ = λ/μ (may exceed 1).
    pub fn offered_load(&self) -> f64 {
        self.lambda / self.mu
    }

    /// π₀ … π_K.
    pub fn state_probabilities(&self) -> &[f64] {
        &self.pi
    }

    /// Loss probability π_K.
    pub fn blocking_probability(&self) -> f64 {
        self.pi[self.capacity as usize]
    }

    /// Throughput λ(1 − π_K).
    pub fn throughput(&self) -> f64 {
        self.lambda * (1.0 - self.blocking_probability())
    }

    /// Server utilisation 1 − π₀.
    pub fn utilization(&self) -> f64 {
        1.0 - self.pi[0]
    }

    /// L = Σ nπₙ.
    pub fn mean_in_system(&self) -> f64 {
        self.pi.iter().enumerate().map(|(n, p)| n as f64 * p).sum()
    }

    fn arrival_state(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        let admitted = 1.0 - self.blocking_probability();
        self.pi[..self.capacity as usize]
            .iter()
            .enumerate()
            .map(move |(n, p)| (n, p / admitted))
    }

    /// Mean sojourn of admitted customers, Σ qₙ(n + 1)/μ.
    pub fn mean_sojourn(&self) -> f64 {
        self.arrival_state()
            .map(|(n, q)| q * (n as f64 + 1.0) / self.mu)
            .sum()
    }

    /// Mean wait of admitted customers, Σ qₙ n/μ.
    pub fn mean_wait(&self) -> f64 {
        self.arrival_state()
            .map(|(n, q)| q * n as f64 / self.mu)
            .sum()
    }

    /// Σₙ qₙ P(Erlang(n + offset, μ) > t) for offset 0 (wait) or 1 (sojourn).
    fn erlang_mix_sf(&self, t: f64, offset: usize) -> f64 {
        if t <= 0.0 {
            return if offset == 1 {
                1.0
            } else {
                1.0 - self.arrival_state().next().map_or(0.0, |(_, q)| q)
            };
        }
        let x = self.mu * t;
        let lx = x.ln();
        // P(Erlang(m, μ) > t) = Σ_{j<m} Poisson(j; x)
        let mut cum = 0.0;
        let mut acc = 0.0;
        let mut j = 0usize;
        for (n, q) in self.arrival_state() {
            let m = n + offset;
            while j < m {
                cum += (-x + j as f64 * lx - ln_gamma(j as f64 + 1.0)).exp();
                j += 1;
            }
            acc += q * cum.min(1.0);
        }
        acc
    }

    /// P(W > t) for an admitted customer.
    pub fn wait_sf(&self, t: f64) -> f64 {
        if t < 0.0 {
            1.0
        } else {
            self.erlang_mix_sf(t, 0)
        }
    }

    /// P(T > t) for an admitted customer.
    pub fn sojourn_sf(&self, t: f64) -> f64 {
        self.erlang_mix_sf(t, 1)
    }

    /// The p-quantile of an admitted customer's wait.
    pub fn wait_quantile(&self, p: f64) -> Result<f64, ModelError> {
        check_probability(p)?;
        Ok(quantile_from_sf(
            |t| self.wait_sf(t),
            p,
            0.0,
            self.mean_sojourn(),
        ))
    }

    /// The p-quantile of an admitted customer's sojourn.
    pub fn sojourn_quantile(&self, p: f64) -> Result<f64, ModelError> {
        check_probability(p)?;
        Ok(quantile_from_sf(
            |t| self.sojourn_sf(t),
            p,
            0.0,
            self.mean_sojourn(),
        ))
    }

    /// Means, loss and percentiles (of admitted customers).
    pub fn predict(&self) -> Result<Prediction, ModelError> {
        let admitted = 1.0 - self.blocking_probability();
        Prediction::build(
            Model::MM1K {
                capacity: self.capacity,
            },
            Method::Exact,
            self.lambda,
            self.offered_load(),
            self.blocking_probability(),
            1.0 - self.pi[0] / admitted,
            self.mean_wait(),
            self.mean_sojourn(),
            self.mean_in_system(),
            |p| self.wait_quantile(p),
            |p| self.sojourn_quantile(p),
        )
    }
}
