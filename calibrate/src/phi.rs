//! φ-accrual failure detection (Hayashibara, Défago, Yared & Katayama 2004, "The φ accrual
//! failure detector"): instead of a yes/no timeout, the detector outputs
//! `φ(t) = −log₁₀ P(the next heartbeat is later than t)` given the history of inter-arrival
//! times, and the application suspects the peer when φ crosses a threshold.
//!
//! # Akka's detector
//!
//! Akka's `PhiAccrualFailureDetector` models inter-arrival times as normal with the history's
//! mean and standard deviation, padded for pauses the history does not show, and uses a
//! logistic approximation of the normal tail:
//!
//! ```text
//! mean = history mean + acceptable-heartbeat-pause
//! std  = max(history std, min-std-deviation)
//! y = (t − mean) / std,   e = exp(−y (1.5976 + 0.070566 y²))
//! φ = −log₁₀(e / (1 + e))        if t > mean
//! φ = −log₁₀(1 − 1/(1 + e))      otherwise
//! ```
//!
//! The two branches are the same number, `softplus(y (1.5976 + 0.070566 y²)) / ln 10`,
//! written for precision on either side; [`phi_akka`] evaluates that form, which neither
//! underflows nor overflows.
//!
//! # Cassandra's detector
//!
//! Cassandra (`FailureDetector.ArrivalWindow`) assumes exponential inter-arrival times, for
//! which `P(next later than t) = e^{−t/mean}`:
//!
//! ```text
//! φ = t / (mean · ln 10)
//! ```
//!
//! # Thresholds from a false-suspicion budget
//!
//! In steady state the history's mean and deviation are those of the inter-arrival time
//! `G = (K + 1) h + D' − D` (K consecutive losses, geometric): `E[G] = h/(1 − p)`,
//! `Var[G] = h² p/(1 − p)² + 2 Var[D]`. With these fixed, "φ ≥ threshold" is "silence ≥
//! T(threshold)", so the false suspicions per hour are the silence rate of [`crate::gap`] at
//! `T`. The derivation finds the smallest `T` meeting the budget, reads the threshold off the
//! φ curve there, and rounds it *up* to 0.01. Mean detection time after a crash is
//! `E[D] − h/2 + T(threshold)`.

use serde::{Deserialize, Serialize};
use std::f64::consts::LN_10;

use crate::delay::EmpiricalDelay;
use crate::derivation::{Derivation, Evidence, Quantity};
use crate::error::CalibrateError;
use crate::gap::HeartbeatStream;
use crate::raft::min_window_for_budget;

const NS_PER_MS: f64 = 1e6;

/// Longest detection timeout searched: one hour.
const MAX_SUSPECT_NS: f64 = 3.6e12;

/// Cassandra accepts `phi_convict_threshold` in this range (`DatabaseDescriptor`).
pub const CASSANDRA_PHI_RANGE: (f64, f64) = (5.0, 16.0);

/// `ln(1 + eˣ)` without overflow.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// Akka's φ at `t_ns` since the last heartbeat, for a detector whose (padded) mean and
/// standard deviation are `mean_ns` and `std_ns`.
pub fn phi_akka(t_ns: f64, mean_ns: f64, std_ns: f64) -> f64 {
    let y = (t_ns - mean_ns) / std_ns;
    softplus(y * (1.5976 + 0.070566 * y * y)) / LN_10
}

/// Cassandra's φ at `t_ns` since the last heartbeat for a mean inter-arrival `mean_ns`.
pub fn phi_cassandra(t_ns: f64, mean_ns: f64) -> f64 {
    t_ns / (mean_ns * LN_10)
}

/// The time since the last heartbeat at which Akka's φ reaches `threshold` (> 0).
pub fn akka_time_to_phi(threshold: f64, mean_ns: f64, std_ns: f64) -> f64 {
    // softplus(z) = c  ⇔  z = ln(eᶜ − 1); then solve y(1.5976 + 0.070566 y²) = z (increasing).
    let c = threshold * LN_10;
    let z = if c > 30.0 {
        c + (-(-c).exp()).ln_1p()
    } else {
        c.exp_m1().ln()
    };
    let f = |y: f64| y * (1.5976 + 0.070566 * y * y) - z;
    let (mut lo, mut hi) = (-1.0f64, 1.0f64);
    while f(lo) > 0.0 {
        lo *= 2.0;
    }
    while f(hi) < 0.0 {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if f(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    mean_ns + 0.5 * (lo + hi) * std_ns
}

/// The time since the last heartbeat at which Cassandra's φ reaches `threshold`.
pub fn cassandra_time_to_phi(threshold: f64, mean_ns: f64) -> f64 {
    threshold * mean_ns * LN_10
}

/// Rounds a threshold up to 0.01, at least 0.01.
fn round_up_threshold(phi: f64) -> f64 {
    ((phi * 100.0).ceil() / 100.0).max(0.01)
}

/// Akka's `akka.cluster.failure-detector` settings that the derivation takes as given.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AkkaSettings {
    /// `heartbeat-interval`, ms.
    pub heartbeat_interval_ms: u64,
    /// `acceptable-heartbeat-pause`, ms.
    pub acceptable_heartbeat_pause_ms: u64,
    /// `min-std-deviation`, ms.
    pub min_std_deviation_ms: u64,
}

impl Default for AkkaSettings {
    /// Akka's reference.conf: 1 s, 3 s, 100 ms.
    fn default() -> Self {
        AkkaSettings {
            heartbeat_interval_ms: 1000,
            acceptable_heartbeat_pause_ms: 3000,
            min_std_deviation_ms: 100,
        }
    }
}

/// A derived Akka φ threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AkkaPhi {
    /// The settings it was derived for.
    pub settings: AkkaSettings,
    /// `threshold`.
    pub threshold: f64,
    /// Detector mean (history mean + pause), ns.
    pub mean_ns: f64,
    /// Detector standard deviation (max(history, min)), ns.
    pub std_ns: f64,
    /// Silence after which φ crosses the threshold, ns.
    pub suspect_after_ns: f64,
    /// Predicted false suspicions per hour over all monitoring pairs.
    pub false_suspicions_per_hour: f64,
    /// Mean time from a crash to suspicion, ns.
    pub detection_ns: f64,
    /// How it was derived.
    pub derivation: Derivation,
}

/// A derived Cassandra `phi_convict_threshold`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CassandraPhi {
    /// Gossip (heartbeat) interval, ms.
    pub gossip_interval_ms: u64,
    /// `phi_convict_threshold`.
    pub phi_convict_threshold: f64,
    /// Mean inter-arrival time, ns.
    pub mean_ns: f64,
    /// Silence after which φ crosses the threshold, ns.
    pub convict_after_ns: f64,
    /// Predicted false convictions per hour over all monitoring pairs.
    pub false_suspicions_per_hour: f64,
    /// Mean time from a crash to conviction, ns.
    pub detection_ns: f64,
    /// How it was derived.
    pub derivation: Derivation,
}

/// What the φ derivations share.
#[derive(Debug, Clone, Copy)]
pub struct PhiContext<'a> {
    /// One-way heartbeat delay.
    pub one_way: &'a EmpiricalDelay,
    /// Loss probability.
    pub loss: f64,
    /// Monitoring pairs whose false suspicions count against the budget.
    pub pairs: f64,
    /// False suspicions per hour allowed.
    pub budget_per_hour: f64,
    /// How long the measurement ran, s.
    pub duration_s: Option<f64>,
    /// Fail rather than extrapolate the tail.
    pub require_evidence: bool,
}

impl PhiContext<'_> {
    fn evidence(&self, stream: &HeartbeatStream<'_>) -> Result<Evidence, CalibrateError> {
        let p = self.budget_per_hour / (self.pairs * stream.arrivals_per_hour());
        let ev = Evidence::assess(
            self.one_way.count(),
            p,
            self.duration_s,
            &crate::derivation::budget_text(self.budget_per_hour),
            self.one_way.tail().is_some(),
        );
        if self.require_evidence && ev.extrapolated {
            return Err(CalibrateError::InsufficientEvidence {
                budget_per_hour: self.budget_per_hour,
                need: ev.required_samples,
                have: ev.samples,
                more: crate::derivation::more_seconds_text(ev.more_seconds_needed),
            });
        }
        Ok(ev)
    }

    /// Mean and standard deviation of the inter-arrival time at interval `h_ns`.
    pub fn inter_arrival(&self, h_ns: f64) -> (f64, f64) {
        let keep = 1.0 - self.loss;
        let mean = h_ns / keep;
        let var = h_ns * h_ns * self.loss / (keep * keep) + 2.0 * self.one_way.variance();
        (mean, var.sqrt())
    }

    fn measured(&self, h_ns: f64) -> Vec<Quantity> {
        let (m, s) = self.inter_arrival(h_ns);
        vec![
            Quantity::new("one-way delay mean", self.one_way.mean(), "ns"),
            Quantity::new("one-way delay std", self.one_way.std_dev(), "ns"),
            Quantity::new("loss probability", self.loss, ""),
            Quantity::new("inter-arrival mean", m, "ns"),
            Quantity::new("inter-arrival std", s, "ns"),
            Quantity::new("samples", self.one_way.count() as f64, ""),
        ]
    }
}

/// Derives Akka's `threshold` for the given settings.
pub fn derive_akka(
    ctx: &PhiContext<'_>,
    settings: AkkaSettings,
) -> Result<AkkaPhi, CalibrateError> {
    if settings.heartbeat_interval_ms == 0 || settings.min_std_deviation_ms == 0 {
        return Err(CalibrateError::InvalidInput {
            what: "akka failure-detector settings",
            value: format!("{settings:?}"),
            hint: "heartbeat-interval and min-std-deviation must be positive (akka requires it)",
        });
    }
    let h = settings.heartbeat_interval_ms as f64 * NS_PER_MS;
    let stream = HeartbeatStream {
        delay: ctx.one_way,
        interval_ns: h,
        loss: ctx.loss,
    };
    let (ia_mean, ia_std) = ctx.inter_arrival(h);
    let mean = ia_mean + settings.acceptable_heartbeat_pause_ms as f64 * NS_PER_MS;
    let std = ia_std.max(settings.min_std_deviation_ms as f64 * NS_PER_MS);
    let t_min = min_window_for_budget(
        &stream,
        ctx.pairs,
        ctx.budget_per_hour,
        MAX_SUSPECT_NS,
        "suspicions",
    )?;
    let needed = phi_akka(t_min, mean, std);
    let threshold = round_up_threshold(needed);
    let t = akka_time_to_phi(threshold, mean, std).max(t_min);
    let p_gap = stream.silence_probability(t);
    let rate = ctx.pairs * stream.arrivals_per_hour() * p_gap;
    let detection = ctx.one_way.mean() - h / 2.0 + t;
    let evidence = ctx.evidence(&stream)?;
    let mut notes = vec![format!(
        "the smallest silence meeting the budget is {:.3} ms, where φ = {:.4}; the threshold is that rounded up to 0.01",
        t_min / NS_PER_MS,
        needed
    )];
    if threshold < 8.0 {
        notes.push(format!(
            "below akka's default of 8: with an acceptable pause of {} ms the pause, not the network, sets the detection time; \
             keep the pause for stalls a network probe cannot see (GC, CPU starvation) or lower it to detect sooner",
            settings.acceptable_heartbeat_pause_ms
        ));
    }
    notes.push(crate::raft::INDEPENDENCE_CAVEAT.into());
    if let Some(m) = &evidence.message {
        notes.push(m.clone());
    }
    let derivation = Derivation {
        parameter: "akka failure-detector threshold".into(),
        measured: ctx.measured(h),
        model: "akka's φ-accrual detector in steady state: mean = inter-arrival mean + acceptable pause, \
                std = max(inter-arrival std, min std); φ ≥ threshold is a silence ≥ T(threshold); \
                silences from the heartbeat model (iid delays, Bernoulli loss)"
            .into(),
        target: format!(
            "at most {:e} false suspicions per hour across {} monitoring pairs",
            ctx.budget_per_hour, ctx.pairs
        ),
        formula: "y = (t − mean)/std; φ(t) = softplus(y(1.5976 + 0.070566y²))/ln 10; \
                  T_min = min{T : pairs·(1−p)·(3600 s/h)·P_silence(T) ≤ budget}; threshold = ⌈φ(T_min)⌉₀.₀₁; \
                  detection = E[D] − h/2 + T(threshold)"
            .into(),
        result: vec![
            Quantity::new("threshold", threshold, ""),
            Quantity::new("suspect after silence", t / NS_PER_MS, "ms"),
            Quantity::new("false suspicions", rate, "1/h"),
            Quantity::new("mean detection", detection / NS_PER_MS, "ms"),
        ],
        false_positive_rate_per_hour: Some(rate),
        false_positive_probability: Some(p_gap),
        detection_latency_ns: Some(detection),
        evidence: Some(evidence),
        notes,
    };
    Ok(AkkaPhi {
        settings,
        threshold,
        mean_ns: mean,
        std_ns: std,
        suspect_after_ns: t,
        false_suspicions_per_hour: rate,
        detection_ns: detection,
        derivation,
    })
}

/// Derives Cassandra's `phi_convict_threshold` for gossip every `gossip_interval_ms`. With
/// `cassandra_range`, a threshold below Cassandra's minimum of 5 is raised to 5 and one above
/// its maximum of 16 is refused.
pub fn derive_cassandra(
    ctx: &PhiContext<'_>,
    gossip_interval_ms: u64,
    cassandra_range: bool,
) -> Result<CassandraPhi, CalibrateError> {
    if gossip_interval_ms == 0 {
        return Err(CalibrateError::InvalidInput {
            what: "gossip interval",
            value: "0 ms".into(),
            hint: "give a positive interval (cassandra gossips every 1000 ms)",
        });
    }
    let h = gossip_interval_ms as f64 * NS_PER_MS;
    let stream = HeartbeatStream {
        delay: ctx.one_way,
        interval_ns: h,
        loss: ctx.loss,
    };
    let (mean, _) = ctx.inter_arrival(h);
    let t_min = min_window_for_budget(
        &stream,
        ctx.pairs,
        ctx.budget_per_hour,
        MAX_SUSPECT_NS,
        "suspicions",
    )?;
    let needed = phi_cassandra(t_min, mean);
    let mut threshold = round_up_threshold(needed);
    let mut notes = vec![format!(
        "the smallest silence meeting the budget is {:.3} ms, where φ = {:.4}; the threshold is that rounded up to 0.01",
        t_min / NS_PER_MS,
        needed
    )];
    if cassandra_range {
        let (lo, hi) = CASSANDRA_PHI_RANGE;
        if threshold > hi {
            return Err(CalibrateError::BudgetUnreachable {
                budget_per_hour: ctx.budget_per_hour,
                event: "convictions",
                reason: format!(
                    "the budget needs phi_convict_threshold {threshold}, but cassandra accepts at most {hi}"
                ),
                hint: "reduce loss on the path or raise the budget",
            });
        }
        if threshold < lo {
            notes.push(format!(
                "raised to cassandra's minimum of {lo} (the budget alone allows {threshold}); fewer false convictions than the budget"
            ));
            threshold = lo;
        }
    }
    let t = cassandra_time_to_phi(threshold, mean).max(t_min);
    let p_gap = stream.silence_probability(t);
    let rate = ctx.pairs * stream.arrivals_per_hour() * p_gap;
    let detection = ctx.one_way.mean() - h / 2.0 + t;
    let evidence = ctx.evidence(&stream)?;
    notes.push(
        "gossip is modelled as direct heartbeats every interval; real gossip relays through random peers, \
         which adds jitter the probe did not see"
            .into(),
    );
    notes.push(crate::raft::INDEPENDENCE_CAVEAT.into());
    if let Some(m) = &evidence.message {
        notes.push(m.clone());
    }
    let derivation = Derivation {
        parameter: "cassandra phi_convict_threshold".into(),
        measured: ctx.measured(h),
        model: "cassandra's exponential φ with the steady-state inter-arrival mean h/(1−p); \
                φ ≥ threshold is a silence ≥ threshold·mean·ln 10; silences from the heartbeat model"
            .into(),
        target: format!(
            "at most {:e} false convictions per hour across {} monitoring pairs",
            ctx.budget_per_hour, ctx.pairs
        ),
        formula: "φ(t) = t/(mean·ln 10); T_min = min{T : pairs·(1−p)·(3600 s/h)·P_silence(T) ≤ budget}; \
                  threshold = ⌈T_min/(mean·ln 10)⌉₀.₀₁; detection = E[D] − h/2 + threshold·mean·ln 10"
            .into(),
        result: vec![
            Quantity::new("phi_convict_threshold", threshold, ""),
            Quantity::new("convict after silence", t / NS_PER_MS, "ms"),
            Quantity::new("false convictions", rate, "1/h"),
            Quantity::new("mean detection", detection / NS_PER_MS, "ms"),
        ],
        false_positive_rate_per_hour: Some(rate),
        false_positive_probability: Some(p_gap),
        detection_latency_ns: Some(detection),
        evidence: Some(evidence),
        notes,
    };
    Ok(CassandraPhi {
        gossip_interval_ms,
        phi_convict_threshold: threshold,
        mean_ns: mean,
        convict_after_ns: t,
        false_suspicions_per_hour: rate,
        detection_ns: detection,
        derivation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delay::{TailFit, WeightedPoint};

    #[test]
    fn cassandra_mean_1s_threshold_8_is_reached_after_18_42_s() {
        let t = cassandra_time_to_phi(8.0, 1e9);
        assert!((t / 1e9 - 18.42).abs() < 0.005, "{t}");
        assert!((phi_cassandra(t, 1e9) - 8.0).abs() < 1e-12);
    }

    #[test]
    fn akka_defaults_phi_at_4s_is_0_301() {
        // heartbeat 1 s (history mean 1 s), acceptable pause 3 s, min std 100 ms.
        let mean = 1e9 + 3e9;
        let std = 100e6;
        let phi = phi_akka(4e9, mean, std);
        assert!((phi - 0.301).abs() < 1e-3, "{phi}");
    }

    #[test]
    fn akka_phi_matches_both_branches_of_the_reference_formula() {
        let (mean, std) = (1000.0, 100.0);
        for t in [0.0, 500.0, 900.0, 999.0, 1001.0, 1200.0, 1500.0, 1800.0] {
            let y: f64 = (t - mean) / std;
            let e = (-y * (1.5976 + 0.070566 * y * y)).exp();
            let reference = if t > mean {
                -(e / (1.0 + e)).log10()
            } else {
                -(1.0 - 1.0 / (1.0 + e)).log10()
            };
            let got = phi_akka(t, mean, std);
            assert!(
                (got - reference).abs() < 1e-9 * reference.max(1.0),
                "t {t}: {got} vs {reference}"
            );
        }
        // Far out the reference overflows to inf; ours keeps growing like the cubic.
        assert!(phi_akka(1e6, mean, std).is_finite());
        assert!(phi_akka(-1e6, mean, std) >= 0.0);
    }

    #[test]
    fn akka_inverse_round_trips() {
        for th in [0.01, 0.5, 1.0, 3.0, 8.0, 16.0, 50.0] {
            let t = akka_time_to_phi(th, 4e9, 1e8);
            assert!(
                (phi_akka(t, 4e9, 1e8) - th).abs() < 1e-9 * th.max(1.0),
                "{th}"
            );
        }
    }

    fn lan() -> EmpiricalDelay {
        let pts: Vec<WeightedPoint> = (0..200)
            .map(|i| WeightedPoint::new(200_000.0 + i as f64 * 1000.0, 50))
            .collect();
        EmpiricalDelay::new(&pts, TailFit::GeneralizedPareto).unwrap()
    }

    #[test]
    fn cassandra_threshold_from_loss() {
        let d = lan();
        let ctx = PhiContext {
            one_way: &d,
            loss: 0.01,
            pairs: 6.0,
            budget_per_hour: 1e-4,
            duration_s: None,
            require_evidence: false,
        };
        let c = derive_cassandra(&ctx, 1000, false).unwrap();
        // Gossip every 1 s; jitter ≪ 1 s, so a silence just over k s needs the next k
        // heartbeats lost: 6·0.99·3600·0.01^k ≤ 1e-4 → k = 5 → T ≈ 5 s, φ = 5 s/(mean·ln 10).
        let mean = 1e9 / 0.99;
        let expect = ((5e9 / (mean * LN_10)) * 100.0).ceil() / 100.0;
        assert!(
            (c.phi_convict_threshold - expect).abs() <= 0.011,
            "{}",
            c.phi_convict_threshold
        );
        assert!(c.false_suspicions_per_hour <= 1e-4);
        // With the cassandra range, it is raised to 5.
        let c5 = derive_cassandra(&ctx, 1000, true).unwrap();
        assert_eq!(c5.phi_convict_threshold, 5.0);
        assert!(c5.false_suspicions_per_hour <= c.false_suspicions_per_hour);
        assert!(c5
            .derivation
            .notes
            .iter()
            .any(|n| n.contains("minimum of 5")));
        // 95 % loss and a budget of 1e-15/h need about 800 silent intervals: φ ≈ 17.5 > 16.
        let lossy = PhiContext {
            loss: 0.95,
            budget_per_hour: 1e-15,
            ..ctx
        };
        let err = derive_cassandra(&lossy, 1000, true).unwrap_err();
        assert!(err.to_string().contains("accepts at most 16"), "{err}");
    }

    #[test]
    fn akka_threshold_is_minimal_and_meets_budget() {
        let d = lan();
        let ctx = PhiContext {
            one_way: &d,
            loss: 0.05,
            pairs: 6.0,
            budget_per_hour: 1e-3,
            duration_s: None,
            require_evidence: false,
        };
        let s = AkkaSettings {
            heartbeat_interval_ms: 1000,
            acceptable_heartbeat_pause_ms: 0,
            min_std_deviation_ms: 100,
        };
        let a = derive_akka(&ctx, s).unwrap();
        assert!(a.false_suspicions_per_hour <= 1e-3);
        // 0.01 lower would break the budget.
        let t_lower = akka_time_to_phi(a.threshold - 0.01, a.mean_ns, a.std_ns);
        let stream = HeartbeatStream {
            delay: &d,
            interval_ns: 1e9,
            loss: 0.05,
        };
        assert!(6.0 * stream.silences_per_hour(t_lower) > 1e-3);
        // A 3 s pause moves the mean out, so the same silence needs a lower φ.
        let b = derive_akka(&ctx, AkkaSettings::default()).unwrap();
        assert!(b.threshold < a.threshold);
        assert!((b.suspect_after_ns - a.suspect_after_ns).abs() < 1e6);
        // Without loss the network alone never needs φ near akka's default; a note says the
        // pause, not the network, sets the detection time.
        let clean = PhiContext { loss: 0.0, ..ctx };
        let c = derive_akka(&clean, AkkaSettings::default()).unwrap();
        assert_eq!(c.threshold, 0.01);
        assert!(c
            .derivation
            .notes
            .iter()
            .any(|n| n.contains("the pause, not the network")));
        assert!(c.false_suspicions_per_hour <= 1e-3);
    }
}
