//! RPC timeouts: the RFC 6298 retransmission timer, a percentile timeout, and hedged requests.
//!
//! # RFC 6298
//!
//! The retransmission timeout (Paxson, Allman, Chu & Sargent 2011) keeps a smoothed RTT and an
//! RTT variation:
//!
//! ```text
//! first sample R:   SRTT = R,  RTTVAR = R/2
//! later sample R':  RTTVAR = (1 − β)·RTTVAR + β·|SRTT − R'|,   SRTT = (1 − α)·SRTT + α·R'
//! RTO = SRTT + max(G, K·RTTVAR)      (K = 4, α = 1/8, β = 1/4, G the clock granularity)
//! ```
//!
//! optionally clamped below (the RFC's 1 s) and above (at least 60 s). [`RtoEstimator`] is the
//! estimator itself, fed sample by sample. Over a stationary distribution SRTT settles at the
//! mean and RTTVAR at about the mean absolute deviation, so the steady-state timeout is
//! `RTO ≈ mean + max(G, 4·MAD)` and the probability that a request outlives it without being
//! lost is `P(RTT > RTO)`.
//!
//! # Percentile timeout
//!
//! `timeout = RTT p_q × safety factor` (default p99.9 × 2); predicted false-timeout
//! probability `P(RTT > timeout)`.
//!
//! # Hedged requests
//!
//! Dean & Barroso ("The Tail at Scale", CACM 2013): send a second copy of a request that is
//! still outstanding after the q-th percentile (default p95). The extra load is the fraction
//! of requests that get a copy, `P(RTT > d)`, and the latency becomes `min(X₁, d + X₂)`:
//! `P(hedged > t) = P(X > t)·P(X > t − d)` (independent copies).

use serde::{Deserialize, Serialize};

use crate::delay::DelayModel;
use crate::derivation::{Derivation, Evidence, Quantity};
use crate::error::CalibrateError;

const NS_PER_MS: f64 = 1e6;

/// Parameters of the RFC 6298 estimator.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RtoParams {
    /// K (4).
    pub k: f64,
    /// α, the SRTT gain (1/8).
    pub alpha: f64,
    /// β, the RTTVAR gain (1/4).
    pub beta: f64,
    /// G, the clock granularity of the system that runs the timer, ns (0 for an ideal timer).
    pub granularity_ns: f64,
    /// Lower clamp, ns (the RFC's SHOULD is 1 s; none by default, for datacenter RPC).
    pub min_ns: Option<f64>,
    /// Upper clamp, ns (the RFC allows one of at least 60 s).
    pub max_ns: Option<f64>,
}

impl Default for RtoParams {
    /// K = 4, α = 1/8, β = 1/4, G = 0, no clamps.
    fn default() -> Self {
        RtoParams {
            k: 4.0,
            alpha: 0.125,
            beta: 0.25,
            granularity_ns: 0.0,
            min_ns: None,
            max_ns: None,
        }
    }
}

impl RtoParams {
    /// RFC 6298 as written for TCP: the defaults with RTO clamped to [1 s, 60 s].
    pub fn rfc6298_tcp() -> Self {
        RtoParams {
            min_ns: Some(1e9),
            max_ns: Some(60e9),
            ..Self::default()
        }
    }

    fn clamp(&self, rto: f64) -> f64 {
        let mut r = rto;
        if let Some(lo) = self.min_ns {
            r = r.max(lo);
        }
        if let Some(hi) = self.max_ns {
            r = r.min(hi);
        }
        r
    }
}

/// The RFC 6298 estimator, fed one RTT sample at a time. Pure: no clock, samples in, RTO out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RtoEstimator {
    params: RtoParams,
    srtt: f64,
    rttvar: f64,
    primed: bool,
}

impl RtoEstimator {
    /// A fresh estimator (no sample yet).
    pub fn new(params: RtoParams) -> Self {
        RtoEstimator {
            params,
            srtt: 0.0,
            rttvar: 0.0,
            primed: false,
        }
    }

    /// Feeds one RTT sample (ns) and returns the new RTO (ns).
    pub fn observe(&mut self, rtt_ns: f64) -> f64 {
        if self.primed {
            let p = &self.params;
            self.rttvar = (1.0 - p.beta) * self.rttvar + p.beta * (self.srtt - rtt_ns).abs();
            self.srtt = (1.0 - p.alpha) * self.srtt + p.alpha * rtt_ns;
        } else {
            self.srtt = rtt_ns;
            self.rttvar = rtt_ns / 2.0;
            self.primed = true;
        }
        self.rto()
    }

    /// The current RTO, ns (before any sample: the clamp floor, or 1 s as RFC 6298 §2.1 says).
    pub fn rto(&self) -> f64 {
        if !self.primed {
            return self.params.min_ns.unwrap_or(1e9);
        }
        let p = &self.params;
        p.clamp(self.srtt + p.granularity_ns.max(p.k * self.rttvar))
    }

    /// SRTT, ns.
    pub fn srtt(&self) -> f64 {
        self.srtt
    }

    /// RTTVAR, ns.
    pub fn rttvar(&self) -> f64 {
        self.rttvar
    }
}

/// What to derive and how.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RpcOptions {
    /// Percentile for the percentile timeout (0.999).
    pub timeout_percentile: f64,
    /// Multiplier on that percentile (2).
    pub safety_factor: f64,
    /// Percentile after which a hedged copy is sent (0.95, Dean & Barroso).
    pub hedge_percentile: f64,
    /// RFC 6298 parameters.
    pub rto: RtoParams,
}

impl Default for RpcOptions {
    fn default() -> Self {
        RpcOptions {
            timeout_percentile: 0.999,
            safety_factor: 2.0,
            hedge_percentile: 0.95,
            rto: RtoParams::default(),
        }
    }
}

/// Steady-state RFC 6298 timeout over a distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RtoTimeout {
    /// Steady-state RTO, ns.
    pub rto_ns: f64,
    /// `P(RTT > RTO)`: spurious retransmissions per request.
    pub spurious_probability: f64,
    /// How it was derived.
    pub derivation: Derivation,
}

/// A percentile timeout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PercentileTimeout {
    /// The timeout, ns.
    pub timeout_ns: f64,
    /// `P(RTT > timeout)`.
    pub false_timeout_probability: f64,
    /// How it was derived.
    pub derivation: Derivation,
}

/// A hedging delay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hedge {
    /// Send the second copy after this long, ns.
    pub delay_ns: f64,
    /// Fraction of requests that get a second copy.
    pub extra_load: f64,
    /// p99 without / with hedging, ns.
    pub p99_ns: (f64, f64),
    /// p99.9 without / with hedging, ns.
    pub p999_ns: (f64, f64),
    /// How it was derived.
    pub derivation: Derivation,
}

/// The three RPC derivations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpcTimeouts {
    /// RFC 6298 steady state.
    pub rto: RtoTimeout,
    /// Percentile timeout.
    pub percentile: PercentileTimeout,
    /// Hedging.
    pub hedge: Hedge,
}

fn check_percentile(what: &'static str, q: f64) -> Result<(), CalibrateError> {
    if q > 0.0 && q < 1.0 {
        Ok(())
    } else {
        Err(CalibrateError::InvalidInput {
            what,
            value: q.to_string(),
            hint: "give a percentile as a fraction strictly between 0 and 1 (0.999 for p99.9)",
        })
    }
}

/// Quantile of the hedged latency `min(X₁, d + X₂)`.
pub fn hedged_quantile(rtt: &dyn DelayModel, delay_ns: f64, q: f64) -> f64 {
    let s = |t: f64| {
        rtt.ccdf(t)
            * if t < delay_ns {
                1.0
            } else {
                rtt.ccdf(t - delay_ns)
            }
    };
    let target = 1.0 - q;
    let mut lo = 0.0;
    let mut hi = rtt.quantile(q).max(1.0);
    while s(hi) > target && hi < 1e18 {
        lo = hi;
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if s(mid) > target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-9 * hi {
            break;
        }
    }
    hi
}

/// Derives the RPC timeouts from the round-trip distribution.
pub fn derive(
    rtt: &dyn DelayModel,
    opts: &RpcOptions,
    duration_s: Option<f64>,
) -> Result<RpcTimeouts, CalibrateError> {
    check_percentile("timeout percentile", opts.timeout_percentile)?;
    check_percentile("hedge percentile", opts.hedge_percentile)?;
    if !(opts.safety_factor.is_finite() && opts.safety_factor >= 1.0) {
        return Err(CalibrateError::InvalidInput {
            what: "safety factor",
            value: opts.safety_factor.to_string(),
            hint: "give a factor of at least 1",
        });
    }
    let n = rtt.samples();
    let mean = rtt.mean();
    let mad = rtt.mean_abs_dev();
    let p = &opts.rto;
    let rto = p.clamp(mean + p.granularity_ns.max(p.k * mad));
    let rto_p = rtt.ccdf(rto);
    let rto_d = Derivation {
        parameter: "retransmission timeout (RFC 6298, steady state)".into(),
        measured: vec![
            Quantity::new("rtt mean", mean, "ns"),
            Quantity::new("rtt mean absolute deviation", mad, "ns"),
            Quantity::new("samples", n as f64, ""),
        ],
        model: "RFC 6298's EWMA estimator on a stationary RTT: SRTT → mean, RTTVAR → mean absolute deviation".into(),
        target: "RFC 6298 (K = 4, α = 1/8, β = 1/4)".into(),
        formula: "RTO = clamp(SRTT + max(G, K·RTTVAR)) ≈ clamp(mean + max(G, 4·MAD)); P(spurious) = P(RTT > RTO)".into(),
        result: vec![
            Quantity::new("rto", rto / NS_PER_MS, "ms"),
            Quantity::new("P(rtt > rto)", rto_p, ""),
        ],
        false_positive_rate_per_hour: None,
        false_positive_probability: Some(rto_p),
        detection_latency_ns: Some(rto),
        evidence: None,
        notes: vec![
            "the live estimator lags shifts in the distribution; this is its long-run value".into(),
        ],
    };

    let q = opts.timeout_percentile;
    let base = rtt.quantile(q);
    let timeout = base * opts.safety_factor;
    let pt_p = rtt.ccdf(timeout);
    let ev = Evidence::assess(
        n,
        1.0 - q,
        duration_s,
        &format!("the p{}", percent(q)),
        true,
    );
    let notes: Vec<String> = ev.message.iter().cloned().collect();
    let pt_d = Derivation {
        parameter: "percentile timeout".into(),
        measured: vec![
            Quantity::new(format!("rtt p{}", percent(q)), base, "ns"),
            Quantity::new("samples", n as f64, ""),
        ],
        model: "requests time out when their round trip exceeds the timeout; the rtt distribution with its tail model".into(),
        target: format!("p{} × {}", percent(q), opts.safety_factor),
        formula: "timeout = quantile(q) × safety factor; P(false timeout) = P(RTT > timeout)".into(),
        result: vec![
            Quantity::new("timeout", timeout / NS_PER_MS, "ms"),
            Quantity::new("P(rtt > timeout)", pt_p, ""),
        ],
        false_positive_rate_per_hour: None,
        false_positive_probability: Some(pt_p),
        detection_latency_ns: Some(timeout),
        evidence: Some(ev),
        notes,
    };

    let hq = opts.hedge_percentile;
    let d = rtt.quantile(hq);
    let load = rtt.ccdf(d);
    let p99 = (rtt.quantile(0.99), hedged_quantile(rtt, d, 0.99));
    let p999 = (rtt.quantile(0.999), hedged_quantile(rtt, d, 0.999));
    let hev = Evidence::assess(
        n,
        1.0 - hq,
        duration_s,
        &format!("the p{}", percent(hq)),
        true,
    );
    let h_d = Derivation {
        parameter: "hedged-request delay".into(),
        measured: vec![
            Quantity::new(format!("rtt p{}", percent(hq)), d, "ns"),
            Quantity::new("rtt p99", p99.0, "ns"),
            Quantity::new("rtt p99.9", p999.0, "ns"),
        ],
        model: "a second, independent copy is sent when the first is outstanding after the delay (Dean & Barroso 2013)".into(),
        target: format!("hedge at p{}", percent(hq)),
        formula: "d = quantile(q_h); extra load = P(RTT > d); P(hedged > t) = P(X > t)·P(X > t − d)".into(),
        result: vec![
            Quantity::new("hedge delay", d / NS_PER_MS, "ms"),
            Quantity::new("extra load", load, ""),
            Quantity::new("hedged p99", p99.1, "ns"),
            Quantity::new("hedged p99.9", p999.1, "ns"),
        ],
        false_positive_rate_per_hour: None,
        false_positive_probability: Some(load),
        detection_latency_ns: None,
        evidence: Some(hev),
        notes: vec!["copies are assumed independent; correlated slowness (a shared queue) hedges worse".into()],
    };

    Ok(RpcTimeouts {
        rto: RtoTimeout {
            rto_ns: rto,
            spurious_probability: rto_p,
            derivation: rto_d,
        },
        percentile: PercentileTimeout {
            timeout_ns: timeout,
            false_timeout_probability: pt_p,
            derivation: pt_d,
        },
        hedge: Hedge {
            delay_ns: d,
            extra_load: load,
            p99_ns: p99,
            p999_ns: p999,
            derivation: h_d,
        },
    })
}

/// 0.999 → "99.9".
fn percent(q: f64) -> String {
    let s = format!("{:.6}", q * 100.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delay::{EmpiricalDelay, TailFit};
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64Mcg;

    #[test]
    fn rfc6298_sequence_100_100_300() {
        let mut e = RtoEstimator::new(RtoParams::default());
        let ms = 1e6;
        assert!((e.observe(100.0 * ms) - 300.0 * ms).abs() < 1e-6);
        assert!((e.observe(100.0 * ms) - 250.0 * ms).abs() < 1e-6);
        assert!((e.observe(300.0 * ms) - 437.5 * ms).abs() < 1e-6);
        assert!((e.srtt() - 125.0 * ms).abs() < 1e-6);
        assert!((e.rttvar() - 78.125 * ms).abs() < 1e-6);
    }

    #[test]
    fn rfc6298_clamps_and_granularity() {
        let mut e = RtoEstimator::new(RtoParams::rfc6298_tcp());
        assert_eq!(e.rto(), 1e9);
        assert_eq!(e.observe(1e6), 1e9);
        let mut g = RtoEstimator::new(RtoParams {
            granularity_ns: 50e6,
            ..RtoParams::default()
        });
        g.observe(10e6); // RTTVAR 5 ms, K·RTTVAR 20 ms < G
        assert!((g.rto() - 60e6).abs() < 1e-6);
    }

    #[test]
    fn steady_state_matches_running_the_estimator() {
        let mut rng = Pcg64Mcg::seed_from_u64(2);
        let samples: Vec<f64> = (0..50_000)
            .map(|_| 1e6 * (0.5 + 0.5 * -(1.0 - rng.random::<f64>()).ln()))
            .collect();
        let d = EmpiricalDelay::from_samples(&samples, TailFit::GeneralizedPareto).unwrap();
        let r = derive(&d, &RpcOptions::default(), None).unwrap();
        let mut e = RtoEstimator::new(RtoParams::default());
        let mut sum = 0.0;
        for (i, s) in samples.iter().enumerate() {
            let rto = e.observe(*s);
            if i >= 1000 {
                sum += rto;
            }
        }
        let avg = sum / (samples.len() - 1000) as f64;
        assert!(
            (r.rto.rto_ns / avg - 1.0).abs() < 0.1,
            "{} vs {avg}",
            r.rto.rto_ns
        );
    }

    #[test]
    fn percentile_and_hedge_on_exponential() {
        // RTT = 1 ms + Exp(mean 1 ms).
        let mut rng = Pcg64Mcg::seed_from_u64(4);
        let samples: Vec<f64> = (0..200_000)
            .map(|_| 1e6 + 1e6 * -(1.0 - rng.random::<f64>()).ln())
            .collect();
        let d = EmpiricalDelay::from_samples(&samples, TailFit::GeneralizedPareto).unwrap();
        let r = derive(&d, &RpcOptions::default(), None).unwrap();
        // p99.9 = 1 + ln 1000 ≈ 7.91 ms; × 2 ≈ 15.8 ms; P(> 15.8 ms) = e^{−14.8} ≈ 3.6e-7.
        assert!((r.percentile.timeout_ns / 1e6 - 15.82).abs() < 0.4);
        let p = r.percentile.false_timeout_probability;
        assert!(p > 1e-7 && p < 1e-6, "{p}");
        // Hedge at p95 = 1 + ln 20 ≈ 4.0 ms; 5 % extra load.
        assert!((r.hedge.delay_ns / 1e6 - 4.0).abs() < 0.1);
        assert!((r.hedge.extra_load - 0.05).abs() < 0.002);
        // Hedged p99: solve e^{−(t−1)}·e^{−(t−d−1)} = 0.01 → t = (ln 100 + d + 2)/2 ≈ 5.3 ms.
        let want = ((100.0f64).ln() + 4.0 + 2.0) / 2.0;
        assert!(
            (r.hedge.p99_ns.1 / 1e6 - want).abs() < 0.1,
            "{:?}",
            r.hedge.p99_ns
        );
        assert!(r.hedge.p999_ns.1 < r.hedge.p999_ns.0);
        assert!(derive(
            &d,
            &RpcOptions {
                timeout_percentile: 1.0,
                ..RpcOptions::default()
            },
            None
        )
        .is_err());
    }

    #[test]
    fn percent_text() {
        assert_eq!(percent(0.999), "99.9");
        assert_eq!(percent(0.95), "95");
        assert_eq!(percent(0.9999), "99.99");
    }
}
