//! A seeded discrete-event simulator of a bottleneck.
//!
//! A [`Scenario`] describes one bottleneck: one or more arrival [`Source`]s (Poisson, constant,
//! two-state MMPP / on-off, or a replayed trace; each with a flow id and a packet-size
//! distribution), a [`Service`] (`count` servers drawing service times from a [`ServiceTime`],
//! or a link of `rate_bps` serving each packet in `size * 8 / rate_bps` seconds), a queue
//! discipline from [`crate::aqm`] ([`DisciplineConfig`]), a [`Stop`] rule, a seed and a few
//! output settings. [`simulate`] runs it and returns a [`SimReport`].
//!
//! ```
//! use latlab_queueing::sim::{simulate, Scenario};
//! let report = simulate(&Scenario::mm1(0.8, 1.0, 200_000).with_seed(7)).unwrap();
//! assert!(report.sojourn.mean > 4.0 && report.sojourn.mean < 6.0); // theory: 1/(μ-λ) = 5
//! ```
//!
//! # Time
//!
//! Virtual time is `f64` seconds from 0 (any unit works for the plain queueing models; the
//! AQMs' defaults are in seconds). Nothing reads a clock.
//!
//! # Two engines
//!
//! * **Lindley's recursion** — for one source, one server (or a link) and an unlimited FIFO,
//!   the start of service of customer `n` is `max(A_n, D_{n-1})` and its departure
//!   `D_n = start + S_n`, i.e. the wait obeys `W_{n+1} = max(0, W_n + S_n - (A_{n+1} - A_n))`.
//!   This is exact and needs no event list; the queue-length samples come from a FIFO of the
//!   departure times of the customers still in the system. It is chosen automatically
//!   ([`EngineChoice::Auto`]) and uses exactly the same floating-point operations as the event
//!   engine, so both give identical results for the same seed.
//! * **The event engine** — for everything else. The pending events (the next arrival of each
//!   source, the departure from each busy server) sit in fixed slots under a tournament tree
//!   ordered by `(time, scheduling order)`, so the earliest is found in `O(log slots)` without
//!   allocation and simultaneous events are handled in a fixed order (with one source and one
//!   server, the two slots are compared directly). Each arrival is offered
//!   to the discipline; each server that becomes free asks the discipline for its next packet
//!   (which is where CoDel drops and RED notices idleness). Periodic AQM work needs no timer
//!   events (see [`crate::aqm`]).

//! # Randomness and reproducibility
//!
//! Each source, the service times and the discipline draw from their own
//! [`rand_pcg::Pcg64Mcg`] stream derived from the scenario's seed, so a run is reproducible
//! bit for bit, and two scenarios that differ only in their discipline see the same arrivals
//! and service times (common random numbers).
//!
//! # Stopping
//!
//! [`Stop::Customers`]`(n)` admits the first `n` arrivals (over all sources) and runs until
//! all of them have left (the system starts and ends empty). [`Stop::Duration`]`(T)` processes
//! events up to time `T`; customers still present are counted in
//! [`SimReport::in_system_at_end`] and left out of the sojourn statistics. `warmup` customers
//! (the first by arrival order) are left out of the sojourn and wait statistics too.
//!
//! # What is reported
//!
//! The sojourn histogram in nanoseconds (an [`hdrhistogram::Histogram`] with a fixed range and
//! precision, so memory does not grow with the run), mean sojourn and mean wait with a 99 %
//! confidence interval by batch means ([`MeanCi`]), drops (count, causes and the first
//! `max_drop_times` drop times), the queue length sampled every `interval` into a bounded
//! series (halved and its interval doubled when full), utilisation, throughput, the
//! time-average number in the system with the sample-path Little check, per-flow results and
//! the number of events processed.
//!
//! # Confidence intervals: batch means
//!
//! Successive sojourn times are correlated, so the spread of the individual values says
//! nothing about the error of their mean. The batch-means method cuts the output sequence (in
//! departure order, after the warm-up) into `b` contiguous batches of `m` customers; when `m`
//! is long compared with the correlation length, the batch means are nearly independent and
//! nearly normal, and `mean ± t(1 − (1 − c)/2, b − 1) · s_b / √b`, with `s_b` the standard
//! deviation of the batch means and `t` Student's quantile, is a confidence interval of level
//! `c`. Since the run length is not known in advance, the batches are *dynamic* (Fishman;
//! Yeh & Schmeiser): start with batches of one customer and, whenever `2k` batches are
//! complete, merge neighbours pairwise into `k` batches of twice the size (`k = min_batches`,
//! 32 by default). There are always between `k` and `2k − 1` complete batches whose size grows
//! in proportion to the run, in `O(k)` memory. The incomplete last batch is left out of `s_b`;
//! the point estimate is the mean of all customers. For M/M/1 at ρ = 0.8 with 200 000
//! customers the 99 % interval covers the true mean in 98.75 % of 2000 independent runs.
//! Start-up bias is the user's to remove with `warmup`.

//! # Plugging in other service-time distributions
//!
//! [`Scenario`] is generic over its service-time type `S: ServiceTime`: [`ServiceSpec`] is the
//! built-in serialisable one, [`crate::fit::ServiceDist`] (a distribution fitted to measured
//! samples) works as is (`Scenario::with_service_time(sources, Service::Servers { count,
//! time: dist }, stop)`), and so does any `FnMut(&mut Pcg64Mcg) -> f64` closure. Another type
//! plugs in by implementing [`ServiceTime`] (one method, `sample`).

mod arrivals;
mod batch;
mod engine;
mod hist;
mod lindley;
pub mod random;
mod report;
mod service;

pub use crate::aqm::DisciplineConfig;
pub use arrivals::{ArrivalProcess, SizeSpec};
pub use batch::{student_t_cdf, student_t_quantile, MeanCi};
pub use report::{DropLog, EngineKind, FlowReport, LittleCheck, Quantiles, QueueSeries, SimReport};
pub use service::{Branch, ServiceSpec, ServiceTime};

use crate::aqm::ConfigError;
use serde::{Deserialize, Serialize};

/// One stream of arrivals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// Flow id carried by its packets (FQ-CoDel hashes it; the report groups by it).
    #[serde(default)]
    pub flow: u32,
    /// When packets arrive.
    pub arrivals: ArrivalProcess,
    /// How big they are (default 1500 bytes).
    #[serde(default)]
    pub size: SizeSpec,
}

impl Source {
    /// A source of flow 0 with 1500-byte packets.
    pub fn new(arrivals: ArrivalProcess) -> Self {
        Self {
            flow: 0,
            arrivals,
            size: SizeSpec::default(),
        }
    }

    /// Poisson arrivals at `rate` per second.
    pub fn poisson(rate: f64) -> Self {
        Self::new(ArrivalProcess::Poisson { rate })
    }

    /// Sets the flow id.
    pub fn with_flow(mut self, flow: u32) -> Self {
        self.flow = flow;
        self
    }

    /// Sets the packet sizes.
    pub fn with_size(mut self, size: SizeSpec) -> Self {
        self.size = size;
        self
    }
}

/// Who serves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Service<S = ServiceSpec> {
    /// `count` identical servers, each drawing service times from `time`.
    Servers {
        /// Number of servers.
        count: u32,
        /// Service-time distribution.
        time: S,
    },
    /// One link serving a packet of `size` bytes in `size * 8 / rate_bps` seconds.
    Link {
        /// Bits per second.
        rate_bps: f64,
    },
}

impl<S> Service<S> {
    /// Number of servers (1 for a link).
    pub fn servers(&self) -> u32 {
        match self {
            Service::Servers { count, .. } => *count,
            Service::Link { .. } => 1,
        }
    }
}

/// When a run ends.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// After this many arrivals have all left the system.
    Customers(u64),
    /// At this virtual time, seconds.
    Duration(f64),
}

/// Which engine to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EngineChoice {
    /// Lindley's recursion when it applies, the event engine otherwise.
    #[default]
    Auto,
    /// Always the event engine.
    EventList,
}

/// Output settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutputConfig {
    /// Queue-length sampling interval, seconds; `None` chooses one from the stop rule and the
    /// arrival rate so that about `max_queue_samples` samples cover the run.
    pub queue_sample_interval: Option<f64>,
    /// Most queue-length samples kept (default 4096).
    pub max_queue_samples: usize,
    /// Most drop times kept (default 100 000).
    pub max_drop_times: usize,
    /// Largest sojourn the histogram resolves, seconds (default 3600); larger ones are
    /// counted in [`SimReport::histogram_saturated`].
    pub histogram_max: f64,
    /// Significant decimal digits of the histogram (default 3).
    pub histogram_sigfig: u8,
    /// Minimum number of batches for the batch means (default 32; up to twice as many).
    pub min_batches: u32,
    /// Confidence level of the intervals (default 0.99).
    pub confidence: f64,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            queue_sample_interval: None,
            max_queue_samples: 4096,
            max_drop_times: 100_000,
            histogram_max: 3600.0,
            histogram_sigfig: 3,
            min_batches: 32,
            confidence: 0.99,
        }
    }
}

/// A bottleneck to simulate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scenario<S = ServiceSpec> {
    /// Arrival sources.
    pub sources: Vec<Source>,
    /// Servers or link.
    pub service: Service<S>,
    /// Queue discipline (default: unlimited FIFO).
    #[serde(default)]
    pub discipline: DisciplineConfig,
    /// When to stop.
    pub stop: Stop,
    /// Customers (by arrival order) left out of the sojourn and wait statistics.
    #[serde(default)]
    pub warmup: u64,
    /// Seed of every random stream.
    #[serde(default)]
    pub seed: u64,
    /// Output settings.
    #[serde(default)]
    pub output: OutputConfig,
    /// Engine selection.
    #[serde(default)]
    pub engine: EngineChoice,
}

impl Scenario<ServiceSpec> {
    /// A scenario with built-in service-time distributions, an unlimited FIFO, seed 0 and
    /// default output.
    pub fn new(sources: Vec<Source>, service: Service<ServiceSpec>, stop: Stop) -> Self {
        Self::with_service_time(sources, service, stop)
    }

    /// M/M/1: Poisson arrivals at `lambda`, exponential service at rate `mu`, one server,
    /// unlimited FIFO, stopping after `customers` customers.
    pub fn mm1(lambda: f64, mu: f64, customers: u64) -> Self {
        Scenario::new(
            vec![Source::poisson(lambda)],
            Service::Servers {
                count: 1,
                time: ServiceSpec::Exponential { mean: 1.0 / mu },
            },
            Stop::Customers(customers),
        )
    }
}

impl<S> Scenario<S> {
    /// A scenario whose servers draw from any [`ServiceTime`] (a closure, a fitted
    /// distribution), with an unlimited FIFO, seed 0 and default output.
    pub fn with_service_time(sources: Vec<Source>, service: Service<S>, stop: Stop) -> Self {
        Self {
            sources,
            service,
            discipline: DisciplineConfig::Fifo,
            stop,
            warmup: 0,
            seed: 0,
            output: OutputConfig::default(),
            engine: EngineChoice::Auto,
        }
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the discipline.
    pub fn with_discipline(mut self, d: DisciplineConfig) -> Self {
        self.discipline = d;
        self
    }

    /// Sets the stop rule.
    pub fn with_stop(mut self, stop: Stop) -> Self {
        self.stop = stop;
        self
    }

    /// Sets the warm-up.
    pub fn with_warmup(mut self, customers: u64) -> Self {
        self.warmup = customers;
        self
    }

    /// Sets the engine choice.
    pub fn with_engine(mut self, engine: EngineChoice) -> Self {
        self.engine = engine;
        self
    }

    /// Sets the output settings.
    pub fn with_output(mut self, output: OutputConfig) -> Self {
        self.output = output;
        self
    }

    /// Whether [`simulate`] will use Lindley's recursion.
    pub fn uses_lindley(&self) -> bool {
        self.engine == EngineChoice::Auto
            && self.sources.len() == 1
            && self.service.servers() == 1
            && self.discipline.is_unlimited_fifo()
    }

    fn total_rate(&self) -> f64 {
        self.sources.iter().map(|s| s.arrivals.mean_rate()).sum()
    }

    pub(crate) fn sample_interval(&self) -> f64 {
        if let Some(i) = self.output.queue_sample_interval {
            return i;
        }
        let cap = self.output.max_queue_samples.max(2) as f64;
        let span = match self.stop {
            Stop::Duration(t) => t,
            Stop::Customers(n) => n as f64 / self.total_rate(),
        };
        let i = span / cap;
        if i.is_finite() && i > 0.0 {
            i
        } else {
            1e-6
        }
    }
}

impl<S: ServiceTime> Scenario<S> {
    /// Checks the whole scenario; the error names the part to fix.
    pub fn validate(&self) -> Result<(), SimError> {
        if self.sources.is_empty() {
            return Err(SimError::NoSources);
        }
        for (index, s) in self.sources.iter().enumerate() {
            s.arrivals
                .validate()
                .and_then(|()| s.size.validate())
                .map_err(|reason| SimError::InvalidSource { index, reason })?;
        }
        match &self.service {
            Service::Servers { count, time } => {
                if *count == 0 {
                    return Err(SimError::InvalidService("need at least one server".into()));
                }
                time.validate().map_err(SimError::InvalidService)?;
            }
            Service::Link { rate_bps } => {
                if !(rate_bps.is_finite() && *rate_bps > 0.0) {
                    return Err(SimError::InvalidService(
                        "link rate_bps must be a positive number of bits per second".into(),
                    ));
                }
            }
        }
        match self.stop {
            Stop::Customers(0) => {
                return Err(SimError::InvalidStop("customers must be at least 1".into()))
            }
            Stop::Duration(t) if !(t.is_finite() && t > 0.0) => {
                return Err(SimError::InvalidStop(
                    "duration must be a positive number of seconds".into(),
                ))
            }
            _ => {}
        }
        self.discipline.validate()?;
        let o = &self.output;
        if let Some(i) = o.queue_sample_interval {
            if !(i.is_finite() && i > 0.0) {
                return Err(SimError::InvalidOutput(
                    "queue_sample_interval must be a positive number of seconds".into(),
                ));
            }
        }
        if o.max_queue_samples < 2 {
            return Err(SimError::InvalidOutput(
                "max_queue_samples must be at least 2".into(),
            ));
        }
        if !(o.histogram_max.is_finite() && o.histogram_max * 1e9 >= 2.0) {
            return Err(SimError::InvalidOutput(
                "histogram_max must be at least 2 ns and finite".into(),
            ));
        }
        if !(1..=5).contains(&o.histogram_sigfig) {
            return Err(SimError::InvalidOutput(
                "histogram_sigfig must be in 1..=5".into(),
            ));
        }
        if o.min_batches < 2 {
            return Err(SimError::InvalidOutput(
                "min_batches must be at least 2".into(),
            ));
        }
        if !(o.confidence > 0.0 && o.confidence < 1.0) {
            return Err(SimError::InvalidOutput(
                "confidence must be in (0, 1)".into(),
            ));
        }
        Ok(())
    }
}

impl<S: ServiceTime + Clone> Scenario<S> {
    /// Runs the scenario; see [`simulate`].
    pub fn run(&self) -> Result<SimReport, SimError> {
        simulate(self)
    }
}

/// Runs a scenario to its stop rule and reports.
pub fn simulate<S: ServiceTime + Clone>(scenario: &Scenario<S>) -> Result<SimReport, SimError> {
    scenario.validate()?;
    if scenario.uses_lindley() {
        lindley::run(scenario)
    } else {
        engine::run(scenario)
    }
}

/// Why a scenario could not be run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The scenario has no source.
    #[error("scenario has no arrival source: add at least one to `sources`")]
    NoSources,
    /// A source is invalid.
    #[error("source {index}: {reason}")]
    InvalidSource {
        /// Its position in `sources`.
        index: usize,
        /// What to fix.
        reason: String,
    },
    /// The service is invalid.
    #[error("service: {0}")]
    InvalidService(String),
    /// The stop rule is invalid.
    #[error("stop: {0}")]
    InvalidStop(String),
    /// An output setting is invalid.
    #[error("output: {0}")]
    InvalidOutput(String),
    /// The discipline's parameters are invalid.
    #[error("discipline: {0}")]
    Discipline(#[from] ConfigError),
    /// The histogram could not be created from `histogram_max` and `histogram_sigfig`.
    #[error("output: cannot create the sojourn histogram (check histogram_max and histogram_sigfig): {0}")]
    Histogram(String),
    /// The service-time distribution produced a negative, infinite or NaN value.
    #[error("service: sampled service time {value} is not a finite non-negative number; check the distribution's parameters")]
    BadServiceTime {
        /// The value drawn.
        value: f64,
    },
}

/// The sojourn recorder of a run, in nanoseconds.
pub(crate) fn new_histogram(o: &OutputConfig) -> Result<hist::FastHist, SimError> {
    hist::FastHist::new(((o.histogram_max * 1e9) as u64).max(2), o.histogram_sigfig)
        .map_err(|e| SimError::Histogram(format!("{e:?}")))
}
