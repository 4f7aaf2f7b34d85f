//! Heartbeat interval and election timeout for Raft (Ongaro & Ousterhout 2014, §5.2), tuned
//! the way etcd's tuning guide asks: heartbeat about the round-trip time between members,
//! election timeout at least five heartbeats (etcd refuses less) and at most 50 s.
//!
//! # Heartbeat interval `h`
//!
//! Unless fixed by the caller, `h = max(1 ms, ⌈RTT p99.9⌉ in whole ms)`: etcd's guide puts the
//! heartbeat near the round-trip time between members; taking the p99.9 rather than the mean
//! keeps a heartbeat from routinely being sent before the previous one could have been
//! answered. Systems that derive the heartbeat from the timeout (hashicorp/raft sends every
//! `HeartbeatTimeout/10` to `HeartbeatTimeout/5`) use the worst case, `h = E/5`.
//!
//! # Election timeout `E`
//!
//! A follower starts a (spurious) election when no heartbeat reaches it for its randomised
//! timeout, drawn uniformly from `[E, 2E)` (etcd/raft, TiKV's raft-rs, CockroachDB). Tick-based
//! implementations count whole ticks from the last reset, so a timer of `R` ticks fires
//! between `(R − 1)` and `R` ticks after the heartbeat: the effective window is uniform on
//! `[E − tick, 2E − tick)`. With the silence model of [`crate::gap`]:
//!
//! ```text
//! worst-case rate   = followers · (1 − p) · (3600 s / h) · P_silence(E − tick)
//! expected rate     = followers · mean over T ~ U[E − tick, 2E − tick) of the same
//! E                 = the smallest step-multiple ≥ max(5h, floor) with worst-case rate ≤ budget
//! ```
//!
//! The budget is met by the worst case (every follower drew the shortest timeout); the
//! expected rate under the randomisation is reported beside it. If no `E ≤ 50 000 ms` meets
//! the budget the derivation refuses.
//!
//! # Failover time
//!
//! After the leader crashes, the first of `F` followers times out after `(E − tick) + E/(F+1)`
//! on average (the minimum of `F` uniform draws), counted from the last heartbeat's arrival,
//! which on average is `E[D] − h/2` after the crash. The election round then costs about one
//! RTT p99 (RequestVote and its replies) plus one heartbeat interval for the new leader to
//! assert itself:
//!
//! ```text
//! failover ≈ E[D] − h/2 + (E − tick) + E/(F + 1) + RTT p99 + h
//! ```
//!
//! (with `F = 1` the timeout term is the `1.5 E` often quoted).

use serde::{Deserialize, Serialize};

use crate::delay::{DelayModel, EmpiricalDelay};
use crate::derivation::{Derivation, Evidence, Quantity};
use crate::error::CalibrateError;
use crate::gap::HeartbeatStream;

/// The model's central assumption, repeated in every heartbeat derivation's notes.
pub(crate) const INDEPENDENCE_CAVEAT: &str = "delays and losses are taken as independent from one heartbeat to the next; \
     correlated delay (a queue building up, a pause, a link flap) makes long silences likelier than predicted";

/// etcd's upper bound on the election timeout (`maxElectionMs`).
pub const MAX_ELECTION_MS: u64 = 50_000;

/// etcd's rule: the election timeout is at least this many heartbeat intervals.
pub const MIN_ELECTION_HEARTBEATS: u64 = 5;

const NS_PER_MS: f64 = 1e6;

/// How the heartbeat interval is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum HeartbeatRule {
    /// `max(1 ms, ⌈RTT p99.9⌉ ms)`.
    RttP999,
    /// Fixed by the caller, ms (≥ 1).
    FixedMs(u64),
    /// The implementation sends heartbeats at up to `E / divisor` (hashicorp/raft: 5).
    FractionOfTimeout(u64),
}

/// What the implementation allows and how its timers behave.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RaftSpec {
    /// Followers whose spurious elections count against the budget (cluster size − 1).
    pub followers: u32,
    /// Spurious elections per hour allowed, whole cluster.
    pub budget_per_hour: f64,
    /// How the heartbeat interval is chosen.
    pub heartbeat: HeartbeatRule,
    /// Election timeouts are searched in multiples of this many heartbeat intervals' worth of
    /// ticks when `tick_based`, else in whole ms.
    pub tick_based: bool,
    /// Smallest election timeout the implementation accepts, ms.
    pub min_election_ms: u64,
    /// Largest election timeout considered, ms.
    pub max_election_ms: u64,
    /// E is at least this many RTT p99.9, so that a vote round fits inside it
    /// ([`ELECTION_RTT_FACTOR`] in calibrations; 0 turns the floor off, for studying the
    /// silence model alone).
    pub min_election_rtts: f64,
}

/// The derived Raft timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaftTiming {
    /// Heartbeat interval, ms (for tick-based systems also the tick).
    pub heartbeat_interval_ms: u64,
    /// Heartbeat interval used in the model, ns (worst case for `FractionOfTimeout`).
    pub heartbeat_interval_ns: f64,
    /// Election timeout `E` (the lower end of the randomised range), ms.
    pub election_timeout_ms: u64,
    /// Timer tick, ms (0 for continuous timers).
    pub tick_ms: u64,
    /// Spurious elections per hour if every follower drew the shortest timeout.
    pub spurious_elections_per_hour: f64,
    /// Expected spurious elections per hour under the `[E, 2E)` randomisation.
    pub spurious_elections_per_hour_expected: f64,
    /// Mean time from a leader crash to the first follower's timeout, ns.
    pub detection_ns: f64,
    /// Mean time from a leader crash to a new leader, ns.
    pub expected_failover_ns: f64,
    /// How it was derived.
    pub derivation: Derivation,
}

/// E is at least this many RTT p99.9: a RequestVote round must fit inside the timeout.
pub const ELECTION_RTT_FACTOR: f64 = 2.0;

/// Derives heartbeat interval and election timeout.
///
/// `one_way` is the heartbeat delay; `rtt` the round-trip distribution (for the heartbeat rule
/// and the election round); `duration_s` how long the measurement ran (for the evidence note).
pub fn derive(
    one_way: &EmpiricalDelay,
    rtt: &dyn DelayModel,
    loss: f64,
    spec: &RaftSpec,
    duration_s: Option<f64>,
    require_evidence: bool,
) -> Result<RaftTiming, CalibrateError> {
    let budget = spec.budget_per_hour;
    let followers = spec.followers.max(1) as f64;
    let rtt_p999 = rtt.quantile(0.999);
    let rtt_p99 = rtt.quantile(0.99);

    // h as a function of E (ns), and the election step.
    let fixed_h_ms = match spec.heartbeat {
        HeartbeatRule::RttP999 => Some(((rtt_p999 / NS_PER_MS).ceil() as u64).max(1)),
        HeartbeatRule::FixedMs(ms) => {
            if ms == 0 {
                return Err(CalibrateError::InvalidInput {
                    what: "heartbeat interval",
                    value: "0 ms".into(),
                    hint: "give a heartbeat interval of at least 1 ms",
                });
            }
            Some(ms)
        }
        HeartbeatRule::FractionOfTimeout(div) => {
            if div == 0 {
                return Err(CalibrateError::InvalidInput {
                    what: "heartbeat divisor",
                    value: "0".into(),
                    hint: "the heartbeat is a positive fraction of the timeout",
                });
            }
            None
        }
    };
    let h_of = |e_ms: u64| -> f64 {
        match (fixed_h_ms, spec.heartbeat) {
            (Some(h), _) => h as f64 * NS_PER_MS,
            (None, HeartbeatRule::FractionOfTimeout(div)) => e_ms as f64 * NS_PER_MS / div as f64,
            (None, _) => NS_PER_MS,
        }
    };
    let tick_ms = match fixed_h_ms {
        Some(h) if spec.tick_based => h,
        _ => 0,
    };
    let step_ms = tick_ms.max(1);
    let tick_ns = tick_ms as f64 * NS_PER_MS;

    // An election needs a RequestVote round trip (and the new leader's first heartbeat a
    // one-way trip) inside E: the silence model sees only the jitter of the delay, not the
    // delay itself, so E is also floored at `min_election_rtts` × RTT p99.9.
    let rtt_floor_ms = ((spec.min_election_rtts * rtt_p999 / NS_PER_MS).ceil() as u64).max(1);
    let min_e = match fixed_h_ms {
        Some(h) => MIN_ELECTION_HEARTBEATS
            .saturating_mul(h)
            .max(spec.min_election_ms),
        None => spec.min_election_ms.max(1),
    }
    .max(rtt_floor_ms);
    let n_lo = min_e.div_ceil(step_ms);
    let n_hi = spec.max_election_ms / step_ms;
    if n_lo > n_hi {
        return Err(CalibrateError::BudgetUnreachable {
            budget_per_hour: budget,
            event: "elections",
            reason: format!(
                "the heartbeat interval needs an election timeout of at least {} ms, over the limit of {} ms",
                min_e, spec.max_election_ms
            ),
            hint: "use a shorter heartbeat interval",
        });
    }

    let rate = |n: u64| -> f64 {
        let e_ms = n * step_ms;
        let h = h_of(e_ms);
        let stream = HeartbeatStream {
            delay: one_way,
            interval_ns: h,
            loss,
        };
        followers * stream.silences_per_hour(e_ms as f64 * NS_PER_MS - tick_ns)
    };

    let hi_rate = rate(n_hi);
    if hi_rate > budget {
        return Err(CalibrateError::BudgetUnreachable {
            budget_per_hour: budget,
            event: "elections",
            reason: format!(
                "even the longest election timeout allowed, {} ms, predicts {:.3e} spurious elections per hour",
                n_hi * step_ms,
                hi_rate
            ),
            hint: "shorten the heartbeat interval, reduce loss on the path, or raise the budget",
        });
    }
    // Smallest n in [n_lo, n_hi] with rate(n) ≤ budget (rate is non-increasing in n).
    let (mut lo, mut hi) = (n_lo, n_hi);
    if rate(lo) <= budget {
        hi = lo;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if rate(mid) <= budget {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let e_ms = hi * step_ms;
    let e_ns = e_ms as f64 * NS_PER_MS;
    let h_ns = h_of(e_ms);
    let stream = HeartbeatStream {
        delay: one_way,
        interval_ns: h_ns,
        loss,
    };
    let worst_window = e_ns - tick_ns;
    let p_gap = stream.silence_probability(worst_window);
    let worst = followers * stream.arrivals_per_hour() * p_gap;
    let expected = followers * stream.mean_silences_per_hour(worst_window, 2.0 * e_ns - tick_ns);

    let detection = one_way.mean() - h_ns / 2.0 + worst_window + e_ns / (followers + 1.0);
    let failover = detection + rtt_p99 + h_ns;

    let gaps_per_hour = followers * stream.arrivals_per_hour();
    let p_needed = budget / gaps_per_hour;
    let evidence = Evidence::assess(
        one_way.count(),
        p_needed,
        duration_s,
        &crate::derivation::budget_text(budget),
        one_way.tail().is_some(),
    );
    if require_evidence && evidence.extrapolated {
        return Err(CalibrateError::InsufficientEvidence {
            budget_per_hour: budget,
            need: evidence.required_samples,
            have: evidence.samples,
            more: crate::derivation::more_seconds_text(evidence.more_seconds_needed),
        });
    }

    let heartbeat_ms = (h_ns / NS_PER_MS).ceil() as u64;
    let mut notes = Vec::new();
    match spec.heartbeat {
        HeartbeatRule::RttP999 => notes.push(format!(
            "heartbeat interval = max(1 ms, ⌈RTT p99.9⌉) = {heartbeat_ms} ms (RTT p99.9 = {:.0} ns)",
            rtt_p999
        )),
        HeartbeatRule::FixedMs(ms) => notes.push(format!("heartbeat interval fixed at {ms} ms")),
        HeartbeatRule::FractionOfTimeout(div) => notes.push(format!(
            "the implementation sends heartbeats every E/{} to E/{}; the model uses the worst case h = E/{div}",
            div.saturating_mul(2),
            div
        )),
    }
    if tick_ms > 0 {
        notes.push(format!(
            "tick-based timers: E is a whole number of {tick_ms} ms ticks and may fire up to one tick early"
        ));
    }
    if hi == n_lo && n_lo > 1 && rate(n_lo - 1) <= budget {
        let why = match fixed_h_ms {
            _ if min_e == rtt_floor_ms && rtt_floor_ms > spec.min_election_ms => {
                "at least 2 × RTT p99.9, so that a vote round fits inside it"
            }
            Some(_) if min_e > spec.min_election_ms => {
                "etcd's rule of at least 5 heartbeat intervals"
            }
            _ => "the implementation's minimum",
        };
        notes.push(format!(
            "E is at its floor of {min_e} ms ({why}); the budget alone would allow less"
        ));
    }
    notes.push(INDEPENDENCE_CAVEAT.into());
    if let Some(m) = &evidence.message {
        notes.push(m.clone());
    }

    let derivation = Derivation {
        parameter: "heartbeat interval and election timeout".into(),
        measured: vec![
            Quantity::new("one-way delay mean", one_way.mean(), "ns"),
            Quantity::new("one-way delay p99.9", one_way.quantile(0.999), "ns"),
            Quantity::new("rtt p99", rtt_p99, "ns"),
            Quantity::new("rtt p99.9", rtt_p999, "ns"),
            Quantity::new("loss probability", loss, ""),
            Quantity::new("samples", one_way.count() as f64, ""),
        ],
        model: "heartbeats every h, independent Bernoulli(p) loss, iid one-way delays D (reordering allowed); \
                a follower's timer restarts at every arrival and fires after a silence of its randomised timeout, \
                uniform on [E − tick, 2E − tick)"
            .into(),
        target: format!(
            "at most {budget:e} spurious elections per hour across {} followers, with E ≥ {MIN_ELECTION_HEARTBEATS}h and E ≤ {} ms",
            spec.followers, spec.max_election_ms
        ),
        formula: "rate(E) = F·(1−p)·(3600 s/h)·P_silence(E − tick); \
                  P_silence(T) = E_d[Π_{m≠0} (1 − (1−p)·P(d − m·h < D ≤ d − m·h + T))]; \
                  E = min{E ≥ max(5h, floor) : rate(E) ≤ budget}; \
                  failover = E[D] − h/2 + (E − tick) + E/(F+1) + RTT p99 + h"
            .into(),
        result: vec![
            Quantity::new("heartbeat interval", h_ns / NS_PER_MS, "ms"),
            Quantity::new("election timeout", e_ms as f64, "ms"),
            Quantity::new("P(silence > E − tick) per arrival", p_gap, ""),
            Quantity::new("spurious elections, worst case", worst, "1/h"),
            Quantity::new("spurious elections, expected", expected, "1/h"),
            Quantity::new("expected failover", failover / NS_PER_MS, "ms"),
        ],
        false_positive_rate_per_hour: Some(worst),
        false_positive_probability: Some(p_gap),
        detection_latency_ns: Some(detection),
        evidence: Some(evidence),
        notes,
    };

    Ok(RaftTiming {
        heartbeat_interval_ms: heartbeat_ms,
        heartbeat_interval_ns: h_ns,
        election_timeout_ms: e_ms,
        tick_ms,
        spurious_elections_per_hour: worst,
        spurious_elections_per_hour_expected: expected,
        detection_ns: detection,
        expected_failover_ns: failover,
        derivation,
    })
}

/// Smallest silence threshold `T` (ns, to 1 µs) at which `receivers` timers restarting on each
/// heartbeat of `stream` fire at most `budget_per_hour` times per hour, searched up to
/// `cap_ns`.
pub(crate) fn min_window_for_budget(
    stream: &HeartbeatStream<'_>,
    receivers: f64,
    budget_per_hour: f64,
    cap_ns: f64,
    event: &'static str,
) -> Result<f64, CalibrateError> {
    let rate = |t: f64| receivers * stream.silences_per_hour(t);
    let cap_rate = rate(cap_ns);
    if cap_rate > budget_per_hour {
        return Err(CalibrateError::BudgetUnreachable {
            budget_per_hour,
            event,
            reason: format!(
                "even a timeout of {:.0} s predicts {:.3e} per hour",
                cap_ns / 1e9,
                cap_rate
            ),
            hint: "reduce loss on the path, send heartbeats more often, or raise the budget",
        });
    }
    let (mut lo, mut hi) = (0.0f64, cap_ns);
    while hi - lo > 1e3 {
        let mid = 0.5 * (lo + hi);
        if rate(mid) <= budget_per_hour {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delay::{IidSum, TailFit, WeightedPoint};

    fn spec(budget: f64) -> RaftSpec {
        RaftSpec {
            followers: 2,
            budget_per_hour: budget,
            heartbeat: HeartbeatRule::RttP999,
            tick_based: true,
            min_election_ms: 1,
            max_election_ms: MAX_ELECTION_MS,
            min_election_rtts: ELECTION_RTT_FACTOR,
        }
    }

    /// One-way delay uniform-ish on 200–400 µs.
    fn lan() -> EmpiricalDelay {
        let pts: Vec<WeightedPoint> = (0..200)
            .map(|i| WeightedPoint::new(200_000.0 + i as f64 * 1000.0, 50))
            .collect();
        EmpiricalDelay::new(&pts, TailFit::GeneralizedPareto).unwrap()
    }

    #[test]
    fn lan_without_loss_sits_at_etcd_floor() {
        let d = lan();
        let rtt = IidSum { one: &d };
        let t = derive(&d, &rtt, 0.0, &spec(1e-4), None, false).unwrap();
        // RTT p99.9 < 1 ms → h = 1 ms; jitter is tiny against 5 ms, so the floor rules.
        assert_eq!(t.heartbeat_interval_ms, 1);
        assert_eq!(t.election_timeout_ms, 5);
        assert!(t.spurious_elections_per_hour <= 1e-4);
        assert!(t.derivation.notes.iter().any(|n| n.contains("floor")));
    }

    #[test]
    fn loss_pushes_the_timeout_out_by_whole_heartbeats() {
        let d = lan();
        let rtt = IidSum { one: &d };
        let p = 0.01;
        let t = derive(&d, &rtt, p, &spec(1e-4), None, false).unwrap();
        // Window E − tick = (n−1)h. Heartbeats 1..n−2 land inside unless lost; heartbeat n−1
        // lands inside unless lost or later than the one before it (D' > D, about ½):
        // P ≈ p^(n−2)·(p + 0.99/2). Rate 2·0.99·3.6e6·P ≤ 1e-4 → n − 2 ≥ 5.3 → n = 8.
        assert_eq!(t.election_timeout_ms, 8, "{:?}", t.derivation.result);
        let e = t.spurious_elections_per_hour;
        assert!(e <= 1e-4 && e > 1e-6, "{e}");
        assert!(t.spurious_elections_per_hour_expected < e);
        // failover ≈ 0.3 ms − 0.5 ms + 7 ms + 8/3 ms + rtt p99 (≈ 0.77 ms) + 1 ms.
        let f = t.expected_failover_ns / 1e6;
        assert!(
            (f - (0.3 - 0.5 + 7.0 + 8.0 / 3.0 + 0.77 + 1.0)).abs() < 0.05,
            "{f}"
        );
    }

    #[test]
    fn impossible_budget_is_refused_with_a_reason() {
        let d = lan();
        let rtt = IidSum { one: &d };
        let mut s = spec(1e-4);
        s.max_election_ms = 6;
        let err = derive(&d, &rtt, 0.2, &s, None, false).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("longest election timeout allowed, 6 ms"),
            "{msg}"
        );
    }

    #[test]
    fn evidence_is_flagged_and_can_be_required() {
        let d = lan(); // 10 000 samples
        let rtt = IidSum { one: &d };
        let t = derive(&d, &rtt, 0.0, &spec(1e-4), Some(1.0), false).unwrap();
        let ev = t.derivation.evidence.as_ref().unwrap();
        assert!(ev.extrapolated);
        // p needed = 1e-4 / (2 · 3.6e6) ≈ 1.39e-11 → 3/p ≈ 2.16e11.
        assert!((ev.required_samples as f64 / 2.16e11 - 1.0).abs() < 0.01);
        let err = derive(&d, &rtt, 0.0, &spec(1e-4), Some(1.0), true).unwrap_err();
        assert!(
            err.to_string().contains("more seconds at this rate"),
            "{err}"
        );
    }

    #[test]
    fn fraction_of_timeout_heartbeats() {
        let d = lan();
        let rtt = IidSum { one: &d };
        let mut s = spec(1e-4);
        s.heartbeat = HeartbeatRule::FractionOfTimeout(5);
        s.tick_based = false;
        s.min_election_ms = 5;
        let t = derive(&d, &rtt, 0.01, &s, None, false).unwrap();
        assert_eq!(t.tick_ms, 0);
        assert!((t.heartbeat_interval_ns - t.election_timeout_ms as f64 * 1e6 / 5.0).abs() < 1.0);
        assert!(t.spurious_elections_per_hour <= 1e-4);
        // One ms less must break the budget (E is the smallest).
        let e = t.election_timeout_ms - 1;
        let stream = HeartbeatStream {
            delay: &d,
            interval_ns: e as f64 * 1e6 / 5.0,
            loss: 0.01,
        };
        assert!(2.0 * stream.silences_per_hour(e as f64 * 1e6) > 1e-4);
    }
}
