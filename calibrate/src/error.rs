//! Errors of the derivations.
//!
//! One variant per way a calibration can fail. Every message is lowercase and says what to do
//! about it; none of them is ever a panic.

use thiserror::Error;

/// Why a calibration (or one of its derivations) could not produce a value.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum CalibrateError {
    /// The latency distribution has too little data to describe anything.
    ///
    /// Avoid it by recording at least [`crate::delay::MIN_SAMPLES`] samples.
    #[error(
        "too few samples to describe a latency distribution: need at least {need}, have {have}; run the probe longer"
    )]
    TooFewSamples {
        /// Samples needed.
        need: u64,
        /// Samples present.
        have: u64,
    },

    /// A weighted point is not a finite, non-negative latency.
    #[error(
        "latency point {index} has value {value} ns: latencies must be finite and non-negative; check the histogram decoding"
    )]
    BadPoint {
        /// Index of the offending point in the input.
        index: usize,
        /// Its value.
        value: f64,
    },

    /// An input field is out of its domain (a probability outside [0, 1), a negative interval…).
    #[error("invalid {what}: {value}; {hint}")]
    InvalidInput {
        /// The field.
        what: &'static str,
        /// Its value, as given.
        value: String,
        /// What range is accepted.
        hint: &'static str,
    },

    /// Neither a round-trip nor a one-way distribution was supplied.
    #[error(
        "no latency distribution: give a round-trip (rtt) or one-way distribution from a probe run"
    )]
    NoDistribution,

    /// No parameter inside the allowed range meets the false-positive budget.
    #[error(
        "cannot meet a budget of {budget_per_hour:e} false {event} per hour: {reason}; {hint}"
    )]
    BudgetUnreachable {
        /// The budget asked for.
        budget_per_hour: f64,
        /// What is being counted ("elections", "suspicions").
        event: &'static str,
        /// What was tried and what it predicted.
        reason: String,
        /// What to change.
        hint: &'static str,
    },

    /// The measurement holds too little evidence for the requested tail probability and the
    /// caller asked for evidence rather than extrapolation (`Options::require_evidence`).
    #[error(
        "too few samples for a false-suspicion rate of {budget_per_hour:e}/h: need at least {need}, have {have}; run the probe longer{more}"
    )]
    InsufficientEvidence {
        /// The budget asked for.
        budget_per_hour: f64,
        /// Samples needed (rule of three at the needed tail probability).
        need: u64,
        /// Samples present.
        have: u64,
        /// " (about N more seconds at this rate)" when the sample duration is known.
        more: String,
    },

    /// The clock-offset uncertainty is too large for the lease asked for.
    #[error(
        "a lease of {lease_ms} ms is too short for a clock uncertainty of {epsilon_ns:.0} ns and drift {drift_ppm} ppm: the holder would have to stop before it starts; lengthen the lease or tighten clock sync"
    )]
    LeaseTooShort {
        /// The lease duration.
        lease_ms: u64,
        /// The clock uncertainty ε.
        epsilon_ns: f64,
        /// The drift bound.
        drift_ppm: f64,
    },

    /// The Monte Carlo validation was asked for an impossible amount of work.
    #[error("monte carlo run of {heartbeats} heartbeats is over the limit of {limit}; simulate fewer hours or a longer heartbeat interval")]
    SimulationTooLong {
        /// Heartbeats the run would send.
        heartbeats: u64,
        /// The limit.
        limit: u64,
    },
}
