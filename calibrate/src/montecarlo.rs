//! Monte Carlo validation of the predicted false-positive rates, on a virtual clock.
//!
//! A sender emits heartbeats every `h` of simulated time; each is lost with probability `p`
//! or arrives after a delay drawn from the distribution (reordering allowed). A receiver runs
//! one detector — a fixed or randomised timeout, or a φ-accrual detector with its own sliding
//! window of inter-arrival times, as Akka and Cassandra keep — and counts a false suspicion
//! for every silence long enough to trip it. Nothing reads a real clock: time is a number,
//! the generator is a seeded `Pcg64Mcg`, so a run is repeatable to the bit.
//!
//! The count of rare, nearly independent events is Poisson; a prediction `λ` (expected count
//! over the simulated time) is consistent with an observed count `n` when it lies in the exact
//! (Garwood) confidence interval for `n`, 99 % by default.
//!
//! Randomised timeouts are redrawn at every arrival. etcd draws once per term, but over many
//! terms both average the rate over the uniform range, which is what the prediction is.
//! φ detectors count nothing until their window is full (the warm-up).

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use crate::delay::EmpiricalDelay;
use crate::error::CalibrateError;
use crate::gap::NS_PER_HOUR;
use crate::phi::{phi_akka, phi_cassandra};
use crate::stats::poisson_ci;

/// Most heartbeats one run may send.
pub const MAX_HEARTBEATS: u64 = 1_000_000_000;

/// The detector the receiver runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SimDetector {
    /// Suspect after a silence longer than `timeout_ns`.
    Timeout {
        /// The timeout, ns.
        timeout_ns: f64,
    },
    /// Suspect after a silence longer than a timeout drawn uniformly from `[min, max)` at each
    /// arrival.
    RandomizedTimeout {
        /// Lower end, ns.
        min_ns: f64,
        /// Upper end, ns.
        max_ns: f64,
    },
    /// Akka's φ over a sliding window of inter-arrival times.
    PhiAkka {
        /// φ threshold.
        threshold: f64,
        /// Acceptable heartbeat pause, ns.
        acceptable_pause_ns: f64,
        /// Minimum standard deviation, ns.
        min_std_ns: f64,
        /// Window length (Akka's `max-sample-size`, 1000).
        window: usize,
    },
    /// Cassandra's φ over a sliding window of inter-arrival times.
    PhiCassandra {
        /// φ threshold.
        threshold: f64,
        /// Window length (Cassandra keeps 1000).
        window: usize,
    },
}

/// One simulation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    /// Heartbeat interval, ns.
    pub interval_ns: f64,
    /// Loss probability.
    pub loss: f64,
    /// Simulated hours.
    pub hours: f64,
    /// Generator seed.
    pub seed: u64,
    /// The detector.
    pub detector: SimDetector,
}

/// What a simulation counted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SimCount {
    /// False suspicions counted.
    pub false_suspicions: u64,
    /// Simulated hours.
    pub simulated_hours: f64,
    /// Heartbeats sent.
    pub heartbeats_sent: u64,
    /// Heartbeats that arrived.
    pub arrivals: u64,
}

/// A prediction held against a simulation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// The simulation.
    pub count: SimCount,
    /// Predicted expected count over the simulated time.
    pub predicted: f64,
    /// Confidence level of the interval.
    pub confidence: f64,
    /// Lower end of the interval for the mean, given the count.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// Whether `predicted` lies in `[ci_low, ci_high]`.
    pub consistent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Time(f64);
impl Eq for Time {}
impl PartialOrd for Time {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Time {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A sliding window of inter-arrival times with running sums.
#[derive(Debug)]
struct Window {
    cap: usize,
    xs: VecDeque<f64>,
    sum: f64,
    sum_sq: f64,
}

impl Window {
    fn new(cap: usize) -> Self {
        Window {
            cap: cap.max(2),
            xs: VecDeque::with_capacity(cap.max(2)),
            sum: 0.0,
            sum_sq: 0.0,
        }
    }
    fn full(&self) -> bool {
        self.xs.len() >= self.cap
    }
    fn push(&mut self, x: f64) {
        if self.xs.len() >= self.cap {
            if let Some(old) = self.xs.pop_front() {
                self.sum -= old;
                self.sum_sq -= old * old;
            }
        }
        self.xs.push_back(x);
        self.sum += x;
        self.sum_sq += x * x;
    }
    fn mean(&self) -> f64 {
        self.sum / self.xs.len() as f64
    }
    fn std(&self) -> f64 {
        let m = self.mean();
        (self.sum_sq / self.xs.len() as f64 - m * m).max(0.0).sqrt()
    }
}

fn check(cfg: &SimConfig) -> Result<u64, CalibrateError> {
    if !crate::positive(cfg.interval_ns) {
        return Err(CalibrateError::InvalidInput {
            what: "heartbeat interval",
            value: cfg.interval_ns.to_string(),
            hint: "give a positive interval in ns",
        });
    }
    if !(0.0..1.0).contains(&cfg.loss) {
        return Err(CalibrateError::InvalidInput {
            what: "loss probability",
            value: cfg.loss.to_string(),
            hint: "give a probability in [0, 1)",
        });
    }
    if !crate::positive(cfg.hours) {
        return Err(CalibrateError::InvalidInput {
            what: "simulated hours",
            value: cfg.hours.to_string(),
            hint: "give a positive number of hours",
        });
    }
    let n = (cfg.hours * NS_PER_HOUR / cfg.interval_ns).ceil();
    if n > MAX_HEARTBEATS as f64 {
        return Err(CalibrateError::SimulationTooLong {
            heartbeats: n.min(u64::MAX as f64) as u64,
            limit: MAX_HEARTBEATS,
        });
    }
    Ok(n as u64)
}

/// Runs the simulation and counts false suspicions.
pub fn simulate(delay: &EmpiricalDelay, cfg: &SimConfig) -> Result<SimCount, CalibrateError> {
    let n = check(cfg)?;
    let mut rng = Pcg64Mcg::seed_from_u64(cfg.seed);
    let mut pending: BinaryHeap<Reverse<Time>> = BinaryHeap::new();
    let window_cap = match cfg.detector {
        SimDetector::PhiAkka { window, .. } | SimDetector::PhiCassandra { window, .. } => window,
        _ => 2,
    };
    let mut window = Window::new(window_cap);
    let mut last: Option<f64> = None;
    let mut count = 0u64;
    let mut arrivals = 0u64;
    let mut next_timeout = draw_timeout(&cfg.detector, &mut rng);

    let mut on_arrival = |t: f64, rng: &mut Pcg64Mcg, count: &mut u64| {
        if let Some(a) = last {
            let gap = t - a;
            let suspect = match cfg.detector {
                SimDetector::Timeout { .. } | SimDetector::RandomizedTimeout { .. } => {
                    gap > next_timeout
                }
                SimDetector::PhiAkka {
                    threshold,
                    acceptable_pause_ns,
                    min_std_ns,
                    ..
                } => {
                    window.full()
                        && phi_akka(
                            gap,
                            window.mean() + acceptable_pause_ns,
                            window.std().max(min_std_ns),
                        ) > threshold
                }
                SimDetector::PhiCassandra { threshold, .. } => {
                    window.full() && phi_cassandra(gap, window.mean()) > threshold
                }
            };
            if suspect {
                *count += 1;
            }
            window.push(gap);
        }
        last = Some(t);
        next_timeout = draw_timeout(&cfg.detector, rng);
    };

    for j in 0..n {
        let send = j as f64 * cfg.interval_ns;
        while let Some(Reverse(Time(t))) = pending.peek().copied() {
            if t >= send {
                break;
            }
            pending.pop();
            arrivals += 1;
            on_arrival(t, &mut rng, &mut count);
        }
        if rng.random::<f64>() >= cfg.loss {
            pending.push(Reverse(Time(send + delay.sample(&mut rng))));
        }
    }
    while let Some(Reverse(Time(t))) = pending.pop() {
        arrivals += 1;
        on_arrival(t, &mut rng, &mut count);
    }
    Ok(SimCount {
        false_suspicions: count,
        simulated_hours: n as f64 * cfg.interval_ns / NS_PER_HOUR,
        heartbeats_sent: n,
        arrivals,
    })
}

fn draw_timeout(d: &SimDetector, rng: &mut Pcg64Mcg) -> f64 {
    match *d {
        SimDetector::Timeout { timeout_ns } => timeout_ns,
        SimDetector::RandomizedTimeout { min_ns, max_ns } => {
            min_ns + (max_ns - min_ns) * rng.random::<f64>()
        }
        _ => f64::INFINITY,
    }
}

/// Runs the simulation and holds `predicted_per_hour` (one receiver) against the count at
/// `confidence` (0.99 in the tests).
pub fn validate(
    delay: &EmpiricalDelay,
    cfg: &SimConfig,
    predicted_per_hour: f64,
    confidence: f64,
) -> Result<Validation, CalibrateError> {
    let count = simulate(delay, cfg)?;
    Ok(judge(count, predicted_per_hour, confidence))
}

/// Holds a prediction against an existing count.
pub fn judge(count: SimCount, predicted_per_hour: f64, confidence: f64) -> Validation {
    let predicted = predicted_per_hour * count.simulated_hours;
    let (lo, hi) = poisson_ci(count.false_suspicions, confidence);
    Validation {
        count,
        predicted,
        confidence,
        ci_low: lo,
        ci_high: hi,
        consistent: predicted >= lo && predicted <= hi,
    }
}
