//! M/M/1: Poisson arrivals (rate λ), exponential service (rate μ), one server, FIFO.
//!
//! Exact (e.g. Kleinrock 1975, vol. 1 §3.2; Gross & Harris, *Fundamentals of Queueing
//! Theory*, §2.2), with ρ = λ/μ < 1:
//!
//! * P(N = n) = (1 − ρ)ρⁿ, L = ρ/(1 − ρ);
//! * sojourn T ~ Exp(μ − λ): P(T > t) = e^{−(μ−λ)t}, E\[T\] = 1/(μ − λ),
//!   quantile −ln(1 − p)/(μ − λ);
//! * wait W: atom 1 − ρ at 0, P(W > t) = ρe^{−(μ−λ)t}, E\[W\] = ρ/(μ − λ),
//!   quantile ln(ρ/(1 − p))/(μ − λ) for p > 1 − ρ, else 0.

use super::{
    check_probability, check_rate, exponential_wait_quantile, Method, Model, ModelError, Prediction,
};

/// The M/M/1 queue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mm1 {
    lambda: f64,
    mu: f64,
}

impl Mm1 {
    /// Arrival rate `lambda` ≥ 0 and service rate `mu` > 0 with λ < μ.
    pub fn new(lambda: f64, mu: f64) -> Result<Self, ModelError> {
        check_rate("lambda", lambda, true)?;
        check_rate("mu", mu, false)?;
        let rho = lambda / mu;
        if rho >= 1.0 {
            return Err(ModelError::Unstable {
                utilization: rho,
                capacity: mu,
            });
        }
        Ok(Mm1 { lambda, mu })
    }

    /// Arrival rate λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// Service rate μ.
    pub fn mu(&self) -> f64 {
        self.mu
    }

    /// Utilisation ρ = λ/μ.
    pub fn utilization(&self) -> f64 {
        self.lambda / self.mu
    }

    /// E\[W\] = ρ/(μ − λ).
    pub fn mean_wait(&self) -> f64 {
        self.utilization() / (self.mu - self.lambda)
    }

    /// E\[T\] = 1/(μ − λ).
    pub fn mean_sojourn(&self) -> f64 {
        1.0 / (self.mu - self.lambda)
    }

    /// L = E\[N\] = ρ/(1 − ρ), from the geometric state distribution.
    pub fn mean_in_system(&self) -> f64 {
        let r = self.utilization();
        r / (1.0 - r)
    }

    /// P(N = n) = (1 − ρ)ρⁿ.
    pub fn state_probability(&self, n: u32) -> f64 {
        let r = self.utilization();
        (1.0 - r) * r.powi(n as i32)
    }

    /// P(W > t).
    pub fn wait_sf(&self, t: f64) -> f64 {
        if t < 0.0 {
            1.0
        } else {
            self.utilization() * (-(self.mu - self.lambda) * t).exp()
        }
    }

    /// P(T > t).
    pub fn sojourn_sf(&self, t: f64) -> f64 {
        if t <= 0.0 {
            1.0
        } else {
            (-(self.mu - self.lambda) * t).exp()
        }
    }

    /// The p-quantile of the wait.
    pub fn wait_quantile(&self, p: f64) -> Result<f64, ModelError> {
        exponential_wait_quantile(p, self.utilization(), self.mu - self.lambda)
    }

    /// The p-quantile of the sojourn time.
    pub fn sojourn_quantile(&self, p: f64) -> Result<f64, ModelError> {
        check_probability(p)?;
        Ok(-(-p).ln_1p() / (self.mu - self.lambda))
    }

    /// Means and percentiles.
    pub fn predict(&self) -> Result<Prediction, ModelError> {
        Prediction::build(
            Model::MM1,
            Method::Exact,
            self.lambda,
            self.utilization(),
            0.0,
            self.utilization(),
            self.mean_wait(),
            self.mean_sojourn(),
            self.mean_in_system(),
            |p| self.wait_quantile(p),
            |p| self.sojourn_quantile(p),
        )
    }
}
