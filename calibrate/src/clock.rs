//! Clock uncertainty, TrueTime intervals, commit-wait and leases (Corbett et al. 2012,
//! "Spanner: Google's globally-distributed database", §3 TrueTime and §4.1.2 commit wait).
//!
//! # ε, the clock uncertainty
//!
//! ```text
//! ε = offset bound + asymmetry bound + drift bound × resync interval
//! ```
//!
//! * **offset bound** — from the measured clock-offset summary, one of
//!   [`OffsetBound::MaxAbs`] `max(|min|, |max|)` (what was observed; no distributional
//!   assumption), [`OffsetBound::MeanPlusKStd`] `|mean| + k·stddev` (a normal model), or
//!   [`OffsetBound::Larger`] of the two.
//! * **asymmetry bound** — an NTP-style offset `((t2 − t1) + (t3 − t4))/2` is off by up to half
//!   the exchange's network round trip when the paths are asymmetric; a sync daemon's filter
//!   keeps the minimum-delay exchange (Mills), so this adds `RTT_min / 2`.
//! * **drift** — between synchronisations the local oscillator drifts by at most `ρ`; Spanner
//!   assumes ρ = 200 ppm and polls every 30 s (the defaults here), giving the 0–6 ms sawtooth
//!   of the paper. ε is largest just before a resync; on average the drift term is half that.
//!
//! `TT.now() = [now − ε, now + ε]`. A Spanner-style commit at timestamp `s = TT.now().latest`
//! waits until `TT.now().earliest > s`, about `2ε`: worst case `2ε_max`, mean `2ε_mean`.
//!
//! # Leases
//!
//! A lease of duration `L` granted at the grantor's time `t` is safe if the holder stops
//! acting before the grantor can believe it expired. When the two compare clock readings, the
//! holder's view of `t` is off by up to `ε`, and its clock drifts by up to `ρ·L` over the
//! lease, so it stops at
//!
//! ```text
//! stop = L − (ε + ρ·L)                 (LeaseClock::Shared)
//! ```
//!
//! A Raft leader lease is timed on the leader's own clock from the moment it sent the
//! heartbeat that a majority acknowledged; no clock readings are compared, so `ε` drops out
//! and `stop = L − ρ·L` (`LeaseClock::Local`). Its `L` is the shortest time before a follower
//! can time out and elect a new leader, `E − tick` (Ongaro's thesis, §6.4.1).

use serde::{Deserialize, Serialize};

use crate::derivation::{Derivation, Quantity};
use crate::error::CalibrateError;
use crate::stats::normal_sf;

const NS_PER_MS: f64 = 1e6;

/// A summary of measured clock offsets (peer − local), ns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClockOffsetSummary {
    /// Mean offset.
    pub mean_ns: f64,
    /// Standard deviation.
    pub stddev_ns: f64,
    /// Smallest offset.
    pub min_ns: f64,
    /// Largest offset.
    pub max_ns: f64,
    /// Samples.
    pub count: u64,
}

/// How the offset bound is read off the summary.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum OffsetBound {
    /// `max(|min|, |max|)`.
    MaxAbs,
    /// `|mean| + k·stddev`.
    MeanPlusKStd {
        /// Standard deviations.
        k: f64,
    },
    /// The larger of the two.
    Larger {
        /// Standard deviations.
        k: f64,
    },
}

/// Clock assumptions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClockOptions {
    /// How to bound the offset.
    pub bound: OffsetBound,
    /// Drift bound ρ, parts per million (Spanner: 200).
    pub drift_ppm: f64,
    /// Interval between synchronisations, ms (Spanner: 30 000).
    pub resync_interval_ms: u64,
    /// Add `RTT_min / 2` for path asymmetry.
    pub include_asymmetry: bool,
}

impl Default for ClockOptions {
    fn default() -> Self {
        ClockOptions {
            bound: OffsetBound::MaxAbs,
            drift_ppm: 200.0,
            resync_interval_ms: 30_000,
            include_asymmetry: true,
        }
    }
}

/// The derived clock uncertainty and commit-wait.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockBounds {
    /// Offset bound, ns.
    pub offset_bound_ns: f64,
    /// Asymmetry bound, ns.
    pub asymmetry_ns: f64,
    /// Drift over one resync interval, ns.
    pub drift_ns: f64,
    /// ε just before a resync, ns.
    pub epsilon_ns: f64,
    /// ε averaged over the resync sawtooth, ns.
    pub epsilon_mean_ns: f64,
    /// Worst-case commit wait, `2ε`, ns.
    pub commit_wait_ns: f64,
    /// Mean commit wait, `2ε_mean`, ns.
    pub commit_wait_mean_ns: f64,
    /// Probability that a fresh offset sample exceeds the offset bound.
    pub exceed_probability: f64,
    /// The drift bound used, ppm.
    pub drift_ppm: f64,
    /// How it was derived.
    pub derivation: Derivation,
}

/// A lease and the holder's early stop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    /// Lease duration, ms.
    pub duration_ms: u64,
    /// `ε + ρ·L`, ns.
    pub margin_ns: f64,
    /// The holder stops acting this long after the grant, ns.
    pub holder_stops_at_ns: f64,
    /// How it was derived.
    pub derivation: Derivation,
}

/// TrueTime's interval `[now − ε, now + ε]`.
pub fn truetime_interval(now_ns: f64, epsilon_ns: f64) -> (f64, f64) {
    (now_ns - epsilon_ns, now_ns + epsilon_ns)
}

fn invalid(what: &'static str, value: String, hint: &'static str) -> CalibrateError {
    CalibrateError::InvalidInput { what, value, hint }
}

/// Derives ε and commit-wait from an offset summary and, for the asymmetry term, the minimum
/// round-trip time.
pub fn derive_clock(
    offset: &ClockOffsetSummary,
    rtt_min_ns: Option<f64>,
    opts: &ClockOptions,
) -> Result<ClockBounds, CalibrateError> {
    let o = offset;
    let finite = [o.mean_ns, o.stddev_ns, o.min_ns, o.max_ns]
        .iter()
        .all(|v| v.is_finite());
    if !finite || o.stddev_ns < 0.0 || o.min_ns > o.max_ns || o.count == 0 {
        return Err(invalid(
            "clock offset summary",
            format!("{o:?}"),
            "give finite values with stddev ≥ 0, min ≤ max and at least one sample",
        ));
    }
    if !crate::non_negative(opts.drift_ppm) {
        return Err(invalid(
            "drift bound",
            opts.drift_ppm.to_string(),
            "give a non-negative drift in ppm (spanner assumes 200)",
        ));
    }
    let max_abs = o.min_ns.abs().max(o.max_ns.abs());
    let p_max = 1.0 / (o.count as f64 + 1.0);
    let k_bound = |k: f64| -> Result<(f64, f64), CalibrateError> {
        if !crate::non_negative(k) {
            return Err(invalid(
                "offset bound k",
                k.to_string(),
                "give a non-negative number of standard deviations",
            ));
        }
        let b = o.mean_ns.abs() + k * o.stddev_ns;
        let p = if o.stddev_ns > 0.0 {
            normal_sf(k) + normal_sf(k + 2.0 * o.mean_ns.abs() / o.stddev_ns)
        } else {
            0.0
        };
        Ok((b, p))
    };
    let (bound, exceed, how) = match opts.bound {
        OffsetBound::MaxAbs => (
            max_abs,
            p_max,
            "max(|min|, |max|); a fresh sample exceeds the largest of n with probability 1/(n+1)"
                .to_string(),
        ),
        OffsetBound::MeanPlusKStd { k } => {
            let (b, p) = k_bound(k)?;
            (
                b,
                p,
                format!("|mean| + {k}·stddev; exceedance under a normal model"),
            )
        }
        OffsetBound::Larger { k } => {
            let (b, p) = k_bound(k)?;
            if b >= max_abs {
                (
                    b,
                    p.min(p_max),
                    format!("larger of |mean| + {k}·stddev and max |offset|"),
                )
            } else {
                (
                    max_abs,
                    p.min(p_max),
                    format!("larger of |mean| + {k}·stddev and max |offset|"),
                )
            }
        }
    };
    let asym = match (opts.include_asymmetry, rtt_min_ns) {
        (true, Some(r)) if r.is_finite() && r >= 0.0 => r / 2.0,
        _ => 0.0,
    };
    let drift = opts.drift_ppm * 1e-6 * opts.resync_interval_ms as f64 * NS_PER_MS;
    let eps = bound + asym + drift;
    let eps_mean = bound + asym + drift / 2.0;
    let derivation = Derivation {
        parameter: "clock uncertainty ε and commit-wait".into(),
        measured: vec![
            Quantity::new("offset mean", o.mean_ns, "ns"),
            Quantity::new("offset stddev", o.stddev_ns, "ns"),
            Quantity::new("offset min", o.min_ns, "ns"),
            Quantity::new("offset max", o.max_ns, "ns"),
            Quantity::new("offset samples", o.count as f64, ""),
            Quantity::new("rtt min", rtt_min_ns.unwrap_or(f64::NAN), "ns"),
        ]
        .into_iter()
        .filter(|q| q.value.is_finite())
        .collect(),
        model: format!(
            "offset bound = {how}; asymmetry ≤ RTT_min/2{}; drift ≤ {} ppm between syncs every {} ms",
            if asym > 0.0 { "" } else { " (not included)" },
            opts.drift_ppm,
            opts.resync_interval_ms
        ),
        target: "a bound ε on |true time − local time| (TrueTime)".into(),
        formula: "ε = offset bound + RTT_min/2 + ρ·resync; ε_mean = offset bound + RTT_min/2 + ρ·resync/2; \
                  TT.now() = [now − ε, now + ε]; commit wait ≈ 2ε (mean 2ε_mean)"
            .into(),
        result: vec![
            Quantity::new("epsilon", eps / NS_PER_MS, "ms"),
            Quantity::new("epsilon mean", eps_mean / NS_PER_MS, "ms"),
            Quantity::new("commit wait", 2.0 * eps / NS_PER_MS, "ms"),
            Quantity::new("commit wait mean", 2.0 * eps_mean / NS_PER_MS, "ms"),
        ],
        false_positive_rate_per_hour: None,
        false_positive_probability: Some(exceed),
        detection_latency_ns: None,
        evidence: None,
        notes: vec![format!(
            "the probability that an offset exceeds the bound is {exceed:.3e} per sample; ε is only as good as the sync daemon's own guarantees"
        )],
    };
    Ok(ClockBounds {
        offset_bound_ns: bound,
        asymmetry_ns: asym,
        drift_ns: drift,
        epsilon_ns: eps,
        epsilon_mean_ns: eps_mean,
        commit_wait_ns: 2.0 * eps,
        commit_wait_mean_ns: 2.0 * eps_mean,
        exceed_probability: exceed,
        drift_ppm: opts.drift_ppm,
        derivation,
    })
}

/// Whose clock times the lease.
#[derive(Debug, Clone, Copy)]
pub enum LeaseClock<'a> {
    /// The holder times the lease on its own clock from the moment it sent the request
    /// (Raft leader leases): only drift over the lease matters, `margin = ρ·L`.
    Local {
        /// Drift bound ρ, ppm.
        drift_ppm: f64,
    },
    /// Grantor and holder compare clock readings: `margin = ε + ρ·L`.
    Shared(&'a ClockBounds),
}

/// Derives the holder's early stop for a lease of `duration_ms`; `why` says where the
/// duration came from.
pub fn derive_lease(
    duration_ms: u64,
    clock: LeaseClock<'_>,
    why: &str,
) -> Result<Lease, CalibrateError> {
    let l = duration_ms as f64 * NS_PER_MS;
    let (eps, drift_ppm, exceed, model) = match clock {
        LeaseClock::Local { drift_ppm } => (
            0.0,
            drift_ppm,
            None,
            "the holder times the lease on its own clock from when it sent the request, so only its drift over the lease counts",
        ),
        LeaseClock::Shared(c) => (
            c.epsilon_ns,
            c.drift_ppm,
            Some(c.exceed_probability),
            "the holder's view of the grant time is off by at most ε and its clock drifts by at most ρ over the lease",
        ),
    };
    if !crate::non_negative(drift_ppm) {
        return Err(invalid(
            "drift bound",
            drift_ppm.to_string(),
            "give a non-negative drift in ppm (spanner assumes 200)",
        ));
    }
    let rho = drift_ppm * 1e-6;
    let margin = eps + rho * l;
    let stop = l - margin;
    if !crate::positive(stop) {
        return Err(CalibrateError::LeaseTooShort {
            lease_ms: duration_ms,
            epsilon_ns: eps,
            drift_ppm,
        });
    }
    let derivation = Derivation {
        parameter: "lease early stop".into(),
        measured: vec![
            Quantity::new("epsilon", eps, "ns"),
            Quantity::new("drift bound", drift_ppm, "ppm"),
        ],
        model: model.into(),
        target: format!(
            "lease of {duration_ms} ms ({why}); the holder never acts after the grantor deems it expired"
        ),
        formula: "stop = L − (ε + ρ·L)".into(),
        result: vec![
            Quantity::new("lease", duration_ms as f64, "ms"),
            Quantity::new("margin", margin / NS_PER_MS, "ms"),
            Quantity::new("holder stops at", stop / NS_PER_MS, "ms"),
        ],
        false_positive_rate_per_hour: None,
        false_positive_probability: exceed,
        detection_latency_ns: None,
        evidence: None,
        notes: vec![],
    };
    Ok(Lease {
        duration_ms,
        margin_ns: margin,
        holder_stops_at_ns: stop,
        derivation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> ClockOffsetSummary {
        ClockOffsetSummary {
            mean_ns: 20_000.0,
            stddev_ns: 10_000.0,
            min_ns: -15_000.0,
            max_ns: 70_000.0,
            count: 999,
        }
    }

    #[test]
    fn spanner_defaults() {
        let c = derive_clock(&summary(), Some(100_000.0), &ClockOptions::default()).unwrap();
        // 70 µs + 50 µs + 200 ppm × 30 s = 6 ms.
        assert_eq!(c.offset_bound_ns, 70_000.0);
        assert_eq!(c.asymmetry_ns, 50_000.0);
        assert!((c.drift_ns - 6e6).abs() < 1e-6);
        assert!((c.epsilon_ns - 6.12e6).abs() < 1e-6);
        assert!((c.epsilon_mean_ns - 3.12e6).abs() < 1e-6);
        assert!((c.commit_wait_ns - 12.24e6).abs() < 1e-6);
        assert!((c.exceed_probability - 1e-3).abs() < 1e-12);
        assert_eq!(truetime_interval(100.0, 7.0), (93.0, 107.0));
    }

    #[test]
    fn mean_plus_k_std_and_larger() {
        let opts = ClockOptions {
            bound: OffsetBound::MeanPlusKStd { k: 3.0 },
            include_asymmetry: false,
            drift_ppm: 0.0,
            ..ClockOptions::default()
        };
        let c = derive_clock(&summary(), Some(1.0), &opts).unwrap();
        assert_eq!(c.epsilon_ns, 50_000.0);
        // Φc(3) + Φc(3 + 4) ≈ 1.3499e-3.
        assert!((c.exceed_probability - 1.3499e-3).abs() < 1e-6);
        let l = derive_clock(
            &summary(),
            None,
            &ClockOptions {
                bound: OffsetBound::Larger { k: 3.0 },
                ..opts
            },
        )
        .unwrap();
        assert_eq!(l.offset_bound_ns, 70_000.0);
    }

    #[test]
    fn lease_early_stop() {
        let c = derive_clock(&summary(), Some(100_000.0), &ClockOptions::default()).unwrap();
        let l = derive_lease(1000, LeaseClock::Shared(&c), "test").unwrap();
        // margin = 6.12 ms + 200e-6 × 1000 ms = 6.32 ms.
        assert!((l.margin_ns - 6.32e6).abs() < 1e-3);
        assert!((l.holder_stops_at_ns - 993.68e6).abs() < 1e-3);
        let err = derive_lease(5, LeaseClock::Shared(&c), "test").unwrap_err();
        assert!(err.to_string().contains("too short"), "{err}");
        // Timed on the holder's own clock, only drift counts: 5 ms − 200 ppm × 5 ms.
        let local = derive_lease(5, LeaseClock::Local { drift_ppm: 200.0 }, "test").unwrap();
        assert!((local.holder_stops_at_ns - 4.999e6).abs() < 1e-6);
    }

    #[test]
    fn bad_summaries_are_refused() {
        let mut s = summary();
        s.min_ns = 1e9;
        assert!(derive_clock(&s, None, &ClockOptions::default()).is_err());
        let mut s = summary();
        s.stddev_ns = f64::NAN;
        assert!(derive_clock(&s, None, &ClockOptions::default()).is_err());
    }
}
