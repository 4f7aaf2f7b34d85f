//! Analytic queueing models: from a service distribution and a load to waiting and sojourn
//! times (means and percentiles).
//!
//! | model | type | mean | distribution | method |
//! |---|---|---|---|---|
//! | M/M/1 | [`Mm1`] | exact | exact (exponential sojourn) | [`Method::Exact`] |
//! | M/M/c | [`Mmc`] | exact (Erlang C) | exact; sojourn quantiles by root finding on the closed form | `Exact` |
//! | M/D/1 | [`Md1`] | exact (P-K) | exact (Erlang–Crommelin; stable positive-term form) | `Exact` |
//! | M/G/1 | [`Mg1`] | exact (Pollaczek–Khinchine) | Euler inversion of the P-K transform | [`Method::LaplaceInversion`] |
//! | G/G/1, G/G/c, M/G/c | [`Ggc`] | Kingman / Allen–Cunneen | exponential-tail approximation | [`Method::Approximation`] |
//! | M/M/1/K | [`Mm1k`] | exact | exact (Erlang mixtures), loss probability | `Exact` |
//!
//! Each model's module documents its formulas and sources. Every model produces a
//! [`Prediction`]: mean wait and sojourn, P(wait), L, and the p50/p90/p99/p99.9/p99.99 of wait
//! and sojourn, labelled with the [`Model`] and the [`Method`] that produced the percentiles.
//!
//! The entry point for "what happens at this load" is [`QueueSpec`]: a service distribution
//! (usually from [`crate::fit`]), a number of servers and the arrival variability. It picks the
//! best model available — exact where one exists (exponential or deterministic service with
//! Poisson arrivals, one server; exponential service with c servers), Laplace inversion for
//! M/G/1, the approximations otherwise — and offers [`QueueSpec::predict`] and
//! [`QueueSpec::knee`], the highest arrival rate at which a sojourn percentile stays within a
//! budget (bisection on λ; sojourn percentiles increase with λ in all these models).
//!
//! Rates are per unit of time of the service distribution (e.g. service in ns ⇒ λ per ns).

#![warn(missing_docs)]

mod ggc;
pub mod laplace;
mod mg1;
mod mm1;
mod mm1k;
mod mmc;

pub use ggc::{allen_cunneen_mean_wait, kingman_mean_wait, Ggc};
pub use mg1::{Md1, Mg1};
pub use mm1::Mm1;
pub use mm1k::Mm1k;
pub use mmc::{erlang_b, erlang_c, Mmc};

use serde::{Serialize, Serializer};

use crate::fit::{DistError, ServiceDist};

/// Why a model cannot be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A rate, count or factor is NaN, infinite or out of range.
    #[error("parameter {param} = {value} is invalid: it must be {requirement}")]
    InvalidParameter {
        /// Its name.
        param: &'static str,
        /// Its value.
        value: f64,
        /// What it must be.
        requirement: &'static str,
    },
    /// The load is at or above capacity.
    #[error("utilization {utilization} ≥ 1: the queue grows without bound; keep the arrival rate below {capacity} or add servers")]
    Unstable {
        /// Per-server utilisation ρ.
        utilization: f64,
        /// The arrival rate at which ρ = 1.
        capacity: f64,
    },
    /// The service distribution is invalid.
    #[error("invalid service distribution: {0}")]
    Service(#[from] DistError),
    /// The service distribution has an infinite mean.
    #[error("the service distribution has an infinite mean, so no load is stable; fit a lighter-tailed distribution")]
    InfiniteMean,
    /// A quantile level outside (0, 1).
    #[error("percentile level {p} is outside [0, 1): pass a level such as 0.99")]
    InvalidProbability {
        /// The level.
        p: f64,
    },
    /// The Erlang–Crommelin sum would lose too much precision at this t.
    #[error("crommelin formula at t = {t}: round-off bound {error_bound:e} exceeds 1e-10; use Md1::wait_cdf (stable for all t)")]
    Cancellation {
        /// The time asked for.
        t: f64,
        /// The round-off bound.
        error_bound: f64,
    },
    /// Even an idle system misses the budget.
    #[error("the service time alone has p{percentile_label} = {floor}, above the budget {budget}: no load meets it; raise the budget or speed up service")]
    BudgetBelowServiceTime {
        /// The percentile level, as text (e.g. "99.9").
        percentile_label: String,
        /// The budget.
        budget: f64,
        /// The sojourn percentile at vanishing load.
        floor: f64,
    },
}

pub(crate) fn check_rate(param: &'static str, value: f64, zero_ok: bool) -> Result<(), ModelError> {
    let ok = value.is_finite() && if zero_ok { value >= 0.0 } else { value > 0.0 };
    if ok {
        Ok(())
    } else {
        Err(ModelError::InvalidParameter {
            param,
            value,
            requirement: if zero_ok {
                "finite and ≥ 0"
            } else {
                "finite and > 0"
            },
        })
    }
}

pub(crate) fn check_probability(p: f64) -> Result<(), ModelError> {
    if (0.0..1.0).contains(&p) {
        Ok(())
    } else {
        Err(ModelError::InvalidProbability { p })
    }
}

/// The p-quantile of a wait that is 0 with probability 1 − `p_wait` and otherwise
/// exponential with rate `rate` (M/M/1, Erlang C, and its G/G/c approximation): 0 for
/// p ≤ 1 − p_wait, else ln(p_wait/(1 − p))/rate.
pub(crate) fn exponential_wait_quantile(p: f64, p_wait: f64, rate: f64) -> Result<f64, ModelError> {
    check_probability(p)?;
    if p <= 1.0 - p_wait {
        return Ok(0.0);
    }
    Ok((p_wait / (1.0 - p)).ln() / rate)
}

/// Which queueing model produced a prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Model {
    /// M/M/1.
    MM1,
    /// M/M/c.
    MMc {
        /// c.
        servers: u32,
    },
    /// M/D/1.
    MD1,
    /// M/G/1.
    MG1,
    /// M/G/c (approximation).
    MGc {
        /// c.
        servers: u32,
    },
    /// G/G/1 (approximation).
    GG1,
    /// G/G/c (approximation).
    GGc {
        /// c.
        servers: u32,
    },
    /// M/M/1/K.
    MM1K {
        /// K, the system capacity.
        capacity: u32,
    },
}

impl std::fmt::Display for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Model::MM1 => write!(f, "M/M/1"),
            Model::MMc { servers } => write!(f, "M/M/{servers}"),
            Model::MD1 => write!(f, "M/D/1"),
            Model::MG1 => write!(f, "M/G/1"),
            Model::MGc { servers } => write!(f, "M/G/{servers}"),
            Model::GG1 => write!(f, "G/G/1"),
            Model::GGc { servers } => write!(f, "G/G/{servers}"),
            Model::MM1K { capacity } => write!(f, "M/M/1/{capacity}"),
        }
    }
}

impl Serialize for Model {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How a prediction's distribution (percentiles) was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Method {
    /// Closed form (or an exact finite/positive series).
    Exact,
    /// Numerical inversion of an exact Laplace transform (Abate–Whitt Euler).
    LaplaceInversion,
    /// A named approximation ("kingman", "allen-cunneen").
    Approximation {
        /// Its name.
        name: &'static str,
    },
}

/// The percentiles latlab reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th.
    pub p90: f64,
    /// 99th.
    pub p99: f64,
    /// 99.9th.
    pub p999: f64,
    /// 99.99th.
    pub p9999: f64,
}

impl Percentiles {
    /// The levels, in field order.
    pub const LEVELS: [f64; 5] = [0.5, 0.9, 0.99, 0.999, 0.9999];

    fn from_fn(mut q: impl FnMut(f64) -> Result<f64, ModelError>) -> Result<Self, ModelError> {
        Ok(Percentiles {
            p50: q(0.5)?,
            p90: q(0.9)?,
            p99: q(0.99)?,
            p999: q(0.999)?,
            p9999: q(0.9999)?,
        })
    }

    /// The values, in [`Percentiles::LEVELS`] order.
    pub fn values(&self) -> [f64; 5] {
        [self.p50, self.p90, self.p99, self.p999, self.p9999]
    }
}

/// What a model predicts at one load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The model.
    pub model: Model,
    /// How the percentiles were computed.
    pub method: Method,
    /// Arrival rate λ.
    pub lambda: f64,
    /// Per-server offered utilisation λE\[S\]/c (may exceed 1 for M/M/1/K).
    pub utilization: f64,
    /// Rate of customers served, λ(1 − blocking).
    pub throughput: f64,
    /// Loss probability (0 for infinite queues).
    pub blocking: f64,
    /// P(wait > 0) for an admitted customer.
    pub prob_wait: f64,
    /// Mean wait in queue.
    pub mean_wait: f64,
    /// Mean sojourn (wait + service).
    pub mean_sojourn: f64,
    /// Mean number in system L.
    pub mean_in_system: f64,
    /// Wait percentiles.
    pub wait: Percentiles,
    /// Sojourn percentiles.
    pub sojourn: Percentiles,
}

impl Prediction {
    #[allow(clippy::too_many_arguments)]
    fn build(
        model: Model,
        method: Method,
        lambda: f64,
        utilization: f64,
        blocking: f64,
        prob_wait: f64,
        mean_wait: f64,
        mean_sojourn: f64,
        mean_in_system: f64,
        wait: impl FnMut(f64) -> Result<f64, ModelError>,
        sojourn: impl FnMut(f64) -> Result<f64, ModelError>,
    ) -> Result<Self, ModelError> {
        Ok(Prediction {
            model,
            method,
            lambda,
            utilization,
            throughput: lambda * (1.0 - blocking),
            blocking,
            prob_wait,
            mean_wait,
            mean_sojourn,
            mean_in_system,
            wait: Percentiles::from_fn(wait)?,
            sojourn: Percentiles::from_fn(sojourn)?,
        })
    }
}

/// A queue described by what latlab measures: the service distribution, the number of servers
/// and the variability of arrivals. See the module docs for how the model is chosen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueSpec {
    /// Service-time distribution.
    pub service: ServiceDist,
    /// Number of servers c ≥ 1.
    pub servers: u32,
    /// Squared coefficient of variation of inter-arrival times (exactly 1.0 = Poisson).
    pub arrival_scv: f64,
}

enum AnyModel {
    Mm1(Mm1),
    Mmc(Mmc),
    Mg1(Mg1),
    Ggc(Ggc),
}

impl AnyModel {
    fn sojourn_quantile(&self, p: f64) -> Result<f64, ModelError> {
        match self {
            AnyModel::Mm1(m) => m.sojourn_quantile(p),
            AnyModel::Mmc(m) => m.sojourn_quantile(p),
            AnyModel::Mg1(m) => m.sojourn_quantile(p),
            AnyModel::Ggc(m) => m.sojourn_quantile(p),
        }
    }

    fn predict(&self) -> Result<Prediction, ModelError> {
        match self {
            AnyModel::Mm1(m) => m.predict(),
            AnyModel::Mmc(m) => m.predict(),
            AnyModel::Mg1(m) => m.predict(),
            AnyModel::Ggc(m) => m.predict(),
        }
    }
}

/// The result of [`QueueSpec::knee`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Knee {
    /// The highest arrival rate found that keeps the percentile within the budget.
    pub lambda: f64,
    /// Per-server utilisation at that rate.
    pub utilization: f64,
    /// The percentile level (e.g. 0.99).
    pub percentile: f64,
    /// The budget.
    pub budget: f64,
    /// The sojourn percentile at `lambda` (≤ budget).
    pub sojourn_at_knee: f64,
    /// The model used.
    pub model: Model,
    /// How its percentiles were computed.
    pub method: Method,
}

impl QueueSpec {
    /// A queue with `servers` servers, service `service` and inter-arrival SCV `arrival_scv`.
    pub fn new(service: ServiceDist, servers: u32, arrival_scv: f64) -> Result<Self, ModelError> {
        service.validate()?;
        if servers == 0 {
            return Err(ModelError::InvalidParameter {
                param: "servers",
                value: 0.0,
                requirement: "at least 1",
            });
        }
        check_rate("arrival_scv", arrival_scv, true)?;
        let mean = service.mean();
        if !mean.is_finite() {
            return Err(ModelError::InfiniteMean);
        }
        if mean <= 0.0 {
            return Err(ModelError::InvalidParameter {
                param: "service mean",
                value: mean,
                requirement: "> 0",
            });
        }
        Ok(QueueSpec {
            service,
            servers,
            arrival_scv,
        })
    }

    /// Poisson arrivals.
    pub fn poisson(service: ServiceDist, servers: u32) -> Result<Self, ModelError> {
        QueueSpec::new(service, servers, 1.0)
    }

    /// The arrival rate at which utilisation reaches 1: c/E\[S\].
    pub fn capacity(&self) -> f64 {
        self.servers as f64 / self.service.mean()
    }

    fn model(&self, lambda: f64) -> Result<AnyModel, ModelError> {
        let poisson = self.arrival_scv == 1.0;
        Ok(match (&self.service, self.servers, poisson) {
            (ServiceDist::Exponential(m), 1, true) => AnyModel::Mm1(Mm1::new(lambda, 1.0 / m)?),
            (ServiceDist::Exponential(m), c, true) => AnyModel::Mmc(Mmc::new(lambda, 1.0 / m, c)?),
            (_, 1, true) => AnyModel::Mg1(Mg1::new(lambda, self.service.clone())?),
            _ => AnyModel::Ggc(Ggc::new(
                lambda,
                self.arrival_scv,
                self.service.clone(),
                self.servers,
            )?),
        })
    }

    /// Means and percentiles at arrival rate `lambda`.
    pub fn predict(&self, lambda: f64) -> Result<Prediction, ModelError> {
        self.model(lambda)?.predict()
    }

    /// The p-quantile of the sojourn at arrival rate `lambda`.
    pub fn sojourn_quantile(&self, lambda: f64, p: f64) -> Result<f64, ModelError> {
        self.model(lambda)?.sojourn_quantile(p)
    }

    /// The highest arrival rate λ at which the `percentile` (e.g. 0.99) of the sojourn stays
    /// within `budget`, by bisection on λ ∈ (0, capacity) to a relative width of 1e-6.
    ///
    /// Fails with [`ModelError::BudgetBelowServiceTime`] when even an idle queue (whose
    /// sojourn is the service time) misses the budget.
    pub fn knee(&self, percentile: f64, budget: f64) -> Result<Knee, ModelError> {
        check_probability(percentile)?;
        if percentile == 0.0 {
            return Err(ModelError::InvalidProbability { p: percentile });
        }
        check_rate("budget", budget, false)?;
        let floor = self.service.quantile(percentile);
        if floor > budget {
            return Err(ModelError::BudgetBelowServiceTime {
                percentile_label: format!("{}", (percentile * 1e6).round() / 1e4),
                budget,
                floor,
            });
        }
        let cap = self.capacity();
        let (mut lo, mut hi) = (0.0, cap);
        while (hi - lo) > 1e-6 * cap {
            let mid = 0.5 * (lo + hi);
            let q = self.sojourn_quantile(mid, percentile)?;
            if q <= budget {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let model = self.model(lo)?;
        let at = model.sojourn_quantile(percentile)?;
        let (model_kind, method) = match &model {
            AnyModel::Mm1(_) => (Model::MM1, Method::Exact),
            AnyModel::Mmc(m) => (
                Model::MMc {
                    servers: m.servers(),
                },
                Method::Exact,
            ),
            AnyModel::Mg1(m) => (
                match m.service() {
                    ServiceDist::Deterministic(_) => Model::MD1,
                    _ => Model::MG1,
                },
                m.method(),
            ),
            AnyModel::Ggc(g) => {
                let p = g.predict_labels();
                (p.0, p.1)
            }
        };
        Ok(Knee {
            lambda: lo,
            utilization: lo / cap,
            percentile,
            budget,
            sojourn_at_knee: at,
            model: model_kind,
            method,
        })
    }
}
