//! G/G/1 and G/G/c approximations: general renewal arrivals (squared coefficient of variation
//! c_a² of the inter-arrival times), general service (c_s²), FIFO.
//!
//! These are **approximations** ([`Method::Approximation`]); they are exact only in special
//! cases (M/M/c, and M/G/1 for the mean) and are good in heavy traffic.
//!
//! * Kingman (1961), G/G/1: E\[W\] ≈ ρ/(1 − ρ) · (c_a² + c_s²)/2 · E\[S\].
//! * Allen–Cunneen (Allen 1990, *Probability, Statistics and Queueing Theory*; Whitt 1993),
//!   G/G/c: E\[W\] ≈ C(c, a)/(cμ − λ) · (c_a² + c_s²)/2, i.e. the M/M/c mean wait (Erlang C)
//!   scaled by the variability factor. At c = 1 it reduces to Kingman.
//!
//! For percentiles the wait is approximated by its heavy-traffic shape (Kingman 1962; Whitt
//! 1993): an atom 1 − π at 0 with π = P(W > 0) (ρ for c = 1, Erlang C for c > 1), and given
//! W > 0 an exponential with mean E\[W\]/π. The sojourn is then W + S with S independent:
//! P(T > t) = (1 − π)P(S > t) + π·P(S + Exp(θ) > t), θ = π/E\[W\]. The last term is in closed
//! form for deterministic, exponential, shifted-exponential and empirical service
//! (Σ wᵢ\[1{xᵢ > t} + 1{xᵢ ≤ t}e^{−θ(t − xᵢ)}\]), otherwise by Euler inversion of
//! 1/(θ + s) + θ(1 − S*(s))/(s(θ + s)).

use super::laplace::{quantile_from_sf, Euler};
use super::mmc::{erlang_c, hypoexp_sf};
use super::{
    check_probability, check_rate, exponential_wait_quantile, Method, Model, ModelError, Prediction,
};
use crate::fit::ServiceDist;

/// Kingman's G/G/1 mean wait ρ/(1 − ρ)·(c_a² + c_s²)/2·E\[S\] (∞ when ρ ≥ 1).
pub fn kingman_mean_wait(
    utilization: f64,
    arrival_scv: f64,
    service_scv: f64,
    mean_service: f64,
) -> f64 {
    if utilization >= 1.0 {
        return f64::INFINITY;
    }
    utilization / (1.0 - utilization) * 0.5 * (arrival_scv + service_scv) * mean_service
}

/// Allen–Cunneen G/G/c mean wait C(c, a)/(cμ − λ)·(c_a² + c_s²)/2 (∞ when λE\[S\] ≥ c).
pub fn allen_cunneen_mean_wait(
    servers: u32,
    lambda: f64,
    mean_service: f64,
    arrival_scv: f64,
    service_scv: f64,
) -> f64 {
    let a = lambda * mean_service;
    let c = servers as f64;
    if a >= c {
        return f64::INFINITY;
    }
    erlang_c(servers, a) / (c / mean_service - lambda) * 0.5 * (arrival_scv + service_scv)
}

/// A G/G/c queue evaluated by the Kingman / Allen–Cunneen approximations.
#[derive(Debug, Clone, PartialEq)]
pub struct Ggc {
    lambda: f64,
    arrival_scv: f64,
    service: ServiceDist,
    servers: u32,
}

impl Ggc {
    /// Arrival rate λ ≥ 0, inter-arrival SCV c_a² ≥ 0 (1 for Poisson), a valid service
    /// distribution, c ≥ 1 servers, λE\[S\] < c.
    pub fn new(
        lambda: f64,
        arrival_scv: f64,
        service: ServiceDist,
        servers: u32,
    ) -> Result<Self, ModelError> {
        check_rate("lambda", lambda, true)?;
        check_rate("arrival_scv", arrival_scv, true)?;
        service.validate()?;
        if servers == 0 {
            return Err(ModelError::InvalidParameter {
                param: "servers",
                value: 0.0,
                requirement: "at least 1",
            });
        }
        let mean = service.mean();
        if !mean.is_finite() {
            return Err(ModelError::InfiniteMean);
        }
        if !service.second_moment().is_finite() {
            return Err(ModelError::InvalidParameter {
                param: "service second moment",
                value: f64::INFINITY,
                requirement: "finite for the Kingman / Allen–Cunneen approximations",
            });
        }
        let rho = lambda * mean / servers as f64;
        if rho >= 1.0 {
            return Err(ModelError::Unstable {
                utilization: rho,
                capacity: servers as f64 / mean,
            });
        }
        Ok(Ggc {
            lambda,
            arrival_scv,
            service,
            servers,
        })
    }

    /// Name of the approximation: "kingman" (c = 1) or "allen-cunneen".
    pub fn approximation(&self) -> &'static str {
        if self.servers == 1 {
            "kingman"
        } else {
            "allen-cunneen"
        }
    }

    /// Per-server utilisation ρ = λE\[S\]/c.
    pub fn utilization(&self) -> f64 {
        self.lambda * self.service.mean() / self.servers as f64
    }

    /// Approximate P(W > 0): ρ for one server, Erlang C otherwise.
    pub fn prob_wait(&self) -> f64 {
        if self.servers == 1 {
            self.utilization()
        } else {
            erlang_c(self.servers, self.lambda * self.service.mean())
        }
    }

    /// Approximate E\[W\].
    pub fn mean_wait(&self) -> f64 {
        let m = self.service.mean();
        let cs2 = self.service.scv();
        if self.servers == 1 {
            kingman_mean_wait(self.utilization(), self.arrival_scv, cs2, m)
        } else {
            allen_cunneen_mean_wait(self.servers, self.lambda, m, self.arrival_scv, cs2)
        }
    }

    /// Approximate E\[T\] = E\[W\] + E\[S\].
    pub fn mean_sojourn(&self) -> f64 {
        self.mean_wait() + self.service.mean()
    }

    fn theta(&self) -> f64 {
        self.prob_wait() / self.mean_wait()
    }

    /// Approximate P(W > t) = π e^{−θt}.
    pub fn wait_sf(&self, t: f64) -> f64 {
        if t < 0.0 {
            1.0
        } else if self.lambda == 0.0 {
            0.0
        } else {
            self.prob_wait() * (-self.theta() * t).exp()
        }
    }

    /// P(S + Exp(θ) > t).
    fn conv_sf(&self, theta: f64, t: f64) -> f64 {
        if t <= 0.0 {
            return 1.0;
        }
        match &self.service {
            ServiceDist::Deterministic(v) => {
                if t < *v {
                    1.0
                } else {
                    (-theta * (t - v)).exp()
                }
            }
            ServiceDist::Exponential(m) => hypoexp_sf(1.0 / m, theta, t),
            ServiceDist::ShiftedExponential { shift, scale } => {
                if t < *shift {
                    1.0
                } else {
                    hypoexp_sf(1.0 / scale, theta, t - shift)
                }
            }
            ServiceDist::Empirical(e) => {
                let n = e.total() as f64;
                e.points()
                    .iter()
                    .map(|&(x, c)| {
                        let w = c as f64 / n;
                        if x > t {
                            w
                        } else {
                            w * (-theta * (t - x)).exp()
                        }
                    })
                    .sum()
            }
            other => Euler::for_service(other).invert(
                |s| {
                    let om = other.laplace_parts(s).one_minus;
                    let d = s + theta;
                    d.recip() + om * theta / (s * d)
                },
                t,
            ),
        }
    }

    /// Approximate P(T > t).
    pub fn sojourn_sf(&self, t: f64) -> f64 {
        if t < 0.0 {
            return 1.0;
        }
        let pi = self.prob_wait();
        let base = self.service.sf(t);
        if self.lambda == 0.0 || pi == 0.0 {
            return base;
        }
        (1.0 - pi) * base + pi * self.conv_sf(self.theta(), t)
    }

    /// Approximate wait quantile: 0 for p ≤ 1 − π, else ln(π/(1 − p))/θ.
    pub fn wait_quantile(&self, p: f64) -> Result<f64, ModelError> {
        exponential_wait_quantile(p, self.prob_wait(), self.theta())
    }

    /// Approximate sojourn quantile.
    pub fn sojourn_quantile(&self, p: f64) -> Result<f64, ModelError> {
        check_probability(p)?;
        Ok(quantile_from_sf(
            |t| self.sojourn_sf(t),
            p,
            0.0,
            self.mean_sojourn(),
        ))
    }

    /// The model name and method label of this queue.
    pub(crate) fn predict_labels(&self) -> (Model, Method) {
        let poisson = self.arrival_scv == 1.0;
        let model = match (poisson, self.servers) {
            (true, 1) => Model::MG1,
            (true, c) => Model::MGc { servers: c },
            (false, 1) => Model::GG1,
            (false, c) => Model::GGc { servers: c },
        };
        (
            model,
            Method::Approximation {
                name: self.approximation(),
            },
        )
    }

    /// Means and percentiles, labelled with the approximation used.
    pub fn predict(&self) -> Result<Prediction, ModelError> {
        let (model, method) = self.predict_labels();
        Prediction::build(
            model,
            method,
            self.lambda,
            self.utilization(),
            0.0,
            self.prob_wait(),
            self.mean_wait(),
            self.mean_sojourn(),
            self.lambda * self.mean_sojourn(),
            |p| self.wait_quantile(p),
            |p| self.sojourn_quantile(p),
        )
    }
}
