//! The record each derivation leaves behind: what was measured, which model turned it into a
//! parameter, the target it had to meet, the formula, and what it predicts.
//!
//! A number without its derivation cannot be checked; every parameter latlab exports carries
//! one of these so that the report (and a reviewer) can follow the chain from histogram to
//! config line.

use serde::{Deserialize, Serialize};

/// A named number with its unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantity {
    /// What it is ("rtt p99.9", "heartbeat interval").
    pub name: String,
    /// Its value.
    pub value: f64,
    /// Its unit ("ns", "ms", "1/h", "").
    pub unit: String,
}

impl Quantity {
    /// A quantity.
    pub fn new(name: impl Into<String>, value: f64, unit: impl Into<String>) -> Self {
        Quantity {
            name: name.into(),
            value,
            unit: unit.into(),
        }
    }
}

/// How much the measurement supports the tail probability a derivation relies on.
///
/// A prediction of `P = 10⁻¹¹` per heartbeat cannot be *seen* in 10⁵ samples. By the rule of
/// three (Hanley & Lippman-Hand 1983), observing no event in `n` trials bounds its probability
/// by `3/n` at 95 % confidence, so checking a probability `p` needs at least `⌈3/p⌉` samples.
/// Below that the prediction rests on the tail model, and is flagged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Samples in the measurement.
    pub samples: u64,
    /// The per-event probability the target needs (per heartbeat gap, per request, …).
    pub tail_probability_needed: f64,
    /// Samples needed to observe that probability directly: `⌈3 / p⌉`.
    pub required_samples: u64,
    /// True when `samples < required_samples`: the prediction extrapolates the tail model.
    pub extrapolated: bool,
    /// How much longer the probe would have to run at its measured sample rate, when the
    /// sample duration is known.
    pub more_seconds_needed: Option<f64>,
    /// A sentence for the user when the evidence falls short.
    pub message: Option<String>,
}

impl Evidence {
    /// Evidence for needing probabilities down to `p` from `samples` collected over
    /// `duration_s` seconds (if known); `target` names what needs them in the message
    /// ("a false-suspicion rate of 1e-4/h").
    pub fn assess(
        samples: u64,
        p: f64,
        duration_s: Option<f64>,
        target: &str,
        tail_model: bool,
    ) -> Evidence {
        let required = required_samples(p);
        let extrapolated = samples < required;
        let more_seconds_needed = match duration_s {
            Some(d) if extrapolated && d > 0.0 && samples > 0 => {
                Some((required - samples) as f64 / (samples as f64 / d))
            }
            _ => None,
        };
        let message = extrapolated.then(|| {
            let more = more_seconds_text(more_seconds_needed);
            let how = if tail_model {
                "the prediction extrapolates the fitted tail"
            } else {
                "with no tail model the prediction is optimistic"
            };
            format!(
                "too few samples for {target}: need at least {required}, have {samples}; run the probe longer{more}; until then {how}"
            )
        });
        Evidence {
            samples,
            tail_probability_needed: p,
            required_samples: required,
            extrapolated,
            more_seconds_needed,
            message,
        }
    }
}

/// "a false-suspicion rate of 1e-4/h".
pub fn budget_text(budget_per_hour: f64) -> String {
    format!("a false-suspicion rate of {budget_per_hour:e}/h")
}

/// `⌈3 / p⌉`, saturating.
pub fn required_samples(p: f64) -> u64 {
    if !crate::positive(p) {
        return u64::MAX;
    }
    let r = (3.0 / p).ceil();
    if r >= u64::MAX as f64 {
        u64::MAX
    } else {
        r as u64
    }
}

/// " (about N more seconds at this rate)" or "".
pub(crate) fn more_seconds_text(s: Option<f64>) -> String {
    match s {
        Some(s) => format!(" (about {} more seconds at this rate)", s.ceil()),
        None => String::new(),
    }
}

/// The record of one derivation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Derivation {
    /// The parameter(s) derived ("election timeout").
    pub parameter: String,
    /// The measured quantities used.
    pub measured: Vec<Quantity>,
    /// The model and its assumptions, in words.
    pub model: String,
    /// The target the parameter had to meet.
    pub target: String,
    /// The formula, as text.
    pub formula: String,
    /// The derived values.
    pub result: Vec<Quantity>,
    /// Predicted false positives per hour (spurious elections, false suspicions, …).
    pub false_positive_rate_per_hour: Option<f64>,
    /// Predicted false-positive probability per event (per gap, per request).
    pub false_positive_probability: Option<f64>,
    /// Predicted mean time to detect a real failure, ns (from the crash).
    pub detection_latency_ns: Option<f64>,
    /// How well the data support the probabilities used.
    pub evidence: Option<Evidence>,
    /// Anything the reader should know (clamps, rules applied, caveats).
    pub notes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_of_three() {
        assert_eq!(required_samples(1e-3), 3000);
        assert_eq!(required_samples(0.0), u64::MAX);
        let e = Evidence::assess(100_000, 1e-9, Some(10.0), &budget_text(1e-4), true);
        assert!(e.extrapolated);
        assert_eq!(e.required_samples, 3_000_000_000);
        // 10⁴ samples/s: (3e9 − 1e5) / 1e4 s.
        assert!((e.more_seconds_needed.unwrap() - 299_990.0).abs() < 1e-6);
        let m = e.message.unwrap();
        assert!(m.contains("need at least 3000000000, have 100000"), "{m}");
        assert!(m.contains("about 299990 more seconds"), "{m}");
        assert!(
            m.starts_with("too few samples for a false-suspicion rate of 1e-4/h"),
            "{m}"
        );
        let ok = Evidence::assess(10_000, 1e-3, None, "the p99.9", true);
        assert!(!ok.extrapolated && ok.message.is_none());
    }
}
