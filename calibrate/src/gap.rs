//! Silences in a heartbeat stream: the probability that a receiver hears nothing for a while
//! although the sender is alive. Every heartbeat-based detector here — a Raft follower's
//! election timer, a φ-accrual detector at a fixed threshold, a lease check — is a timer that
//! restarts at each arrival and fires after a silence of `T`; its false positives are the
//! silences longer than `T`.
//!
//! # Model
//!
//! The sender emits a heartbeat every `h`; each is lost independently with probability `p`;
//! the others arrive after a one-way delay `D`, independent and identically distributed
//! (an [`EmpiricalDelay`] with its tail model). Arrivals may be reordered. Take an arrival at
//! time `A` whose delay was `d`. Heartbeat `m` positions later (or earlier, `m < 0`) arrives
//! in the window `(A, A + T]` exactly when `d − m·h < D_m ≤ d − m·h + T`, independently for
//! each `m`, so
//!
//! ```text
//! P_silence(T) = E_d [ Π_{m ≠ 0} ( 1 − (1 − p) · P(d − m·h < D ≤ d − m·h + T) ) ],  d ~ D
//! ```
//!
//! and, with `(1 − p) · 3600 s / h` arrivals per hour, each starting one candidate silence,
//!
//! ```text
//! silences per hour = (1 − p) · (3600 s / h) · P_silence(T)
//! ```
//!
//! Keeping only the first heartbeat that is not lost after `A` gives the familiar first-passage
//! form `Σ_k p^k (1 − p) · P((k + 1) h + D' − D > T)` (D, D' iid; see
//! [`HeartbeatStream::first_passage_probability`]); it agrees with the product when the jitter
//! is small against `h`, and overstates silences when delays are heavy-tailed, because a late
//! heartbeat is often overtaken by the next one. The Monte Carlo tests in
//! [`crate::montecarlo`] check the product form.
//!
//! **Assumption, stated plainly:** delays and losses are independent from one heartbeat to the
//! next. Real paths correlate them — a queue that builds up delays a run of heartbeats, a
//! pause or a link flap silences all of them — and correlation makes long silences far
//! likelier than this model says. The Monte Carlo tests check the arithmetic under the
//! assumption, not the assumption; checking it needs the measured time series (the `.hlog`
//! interval logs), for example by comparing the silences seen in the raw sequence with
//! [`HeartbeatStream::silence_probability`].
//!
//! Numerics: the product over later heartbeats stops once it is below 10⁻³⁰; earlier
//! heartbeats deep in the tail model are summed in closed form, `Σ_m q_m ≥ (1 − p)/h ·
//! ∫_x^{x+T} P(D > y) dy` (the summand decreases in the tail), with `Π (1 − q) ≤ exp(−Σ q)`;
//! both approximations can only raise `P_silence`, never lower it. At most 10 000 factors are
//! taken on each side (leaving factors out also only raises it).

use crate::delay::EmpiricalDelay;

/// Nanoseconds in an hour.
pub const NS_PER_HOUR: f64 = 3.6e12;

/// Products below this count as zero.
const TINY: f64 = 1e-30;

/// Below this per-heartbeat probability (in the tail model) the rest is summed in closed form.
const SMALL_Q: f64 = 1e-4;

/// Explicit terms taken inside the tail model before switching to the closed form.
const MAX_TAIL_TERMS: u32 = 64;

/// Most factors taken on either side of an arrival. Every factor is at most 1, so stopping
/// early can only raise `P_silence`; the cap binds only for loss above about 0.99.
const MAX_TERMS: u32 = 10_000;

/// A periodic heartbeat stream over a lossy, jittery link.
#[derive(Debug, Clone, Copy)]
pub struct HeartbeatStream<'a> {
    /// One-way delay of a heartbeat.
    pub delay: &'a EmpiricalDelay,
    /// Sending period `h`, ns (> 0).
    pub interval_ns: f64,
    /// Probability that a heartbeat is lost, in `[0, 1)`.
    pub loss: f64,
}

impl HeartbeatStream<'_> {
    /// Heartbeats that arrive per hour: `(1 − p) · 3600 s / h`.
    pub fn arrivals_per_hour(&self) -> f64 {
        (1.0 - self.loss) * NS_PER_HOUR / self.interval_ns
    }

    /// `P_silence(T)`: after an arrival, no further arrival for `window_ns`.
    pub fn silence_probability(&self, window_ns: f64) -> f64 {
        if window_ns <= 0.0 {
            return 1.0;
        }
        let mut s = 0.0;
        for (d, w) in self.delay.points() {
            s += w * self.silence_after(d, window_ns);
        }
        s / self.delay.total_weight()
    }

    /// Silences longer than `window_ns` per hour (one receiver).
    pub fn silences_per_hour(&self, window_ns: f64) -> f64 {
        self.arrivals_per_hour() * self.silence_probability(window_ns)
    }

    /// Mean of [`Self::silences_per_hour`] over a window drawn uniformly from `[lo, hi)` — the
    /// expected rate under randomised timeouts (composite Simpson rule, 32 panels).
    pub fn mean_silences_per_hour(&self, lo_ns: f64, hi_ns: f64) -> f64 {
        if hi_ns <= lo_ns {
            return self.silences_per_hour(lo_ns);
        }
        const PANELS: usize = 32;
        let step = (hi_ns - lo_ns) / PANELS as f64;
        let mut acc = 0.0;
        for i in 0..=PANELS {
            let w = if i == 0 || i == PANELS {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            acc += w * self.silences_per_hour(lo_ns + i as f64 * step);
        }
        acc * step / 3.0 / (hi_ns - lo_ns)
    }

    /// The first-passage approximation `Σ_k p^k (1 − p) P((k + 1) h + D' − D > T)`, which
    /// considers only the next heartbeat that is not lost. Kept for comparison; see the
    /// [module docs](self).
    pub fn first_passage_probability(&self, window_ns: f64) -> f64 {
        let mut total = 0.0;
        let mut pk = 1.0 - self.loss;
        let mut k = 0.0;
        while pk > TINY && k < 10_000.0 {
            let y = window_ns - (k + 1.0) * self.interval_ns;
            let mut s = 0.0;
            for (d, w) in self.delay.points() {
                s += w * self.delay.ccdf(y + d);
            }
            total += pk * s / self.delay.total_weight();
            pk *= self.loss;
            k += 1.0;
        }
        total
    }

    /// `P(no arrival in (A, A + T] | the arrival at A had delay d)`.
    fn silence_after(&self, d: f64, t: f64) -> f64 {
        let h = self.interval_ns;
        let keep = 1.0 - self.loss;
        let delay = self.delay;
        let mut prod = 1.0;
        // Later heartbeats, m = 1, 2, …: inside the window iff d − m h < D ≤ d − m h + t.
        let mut m = 1.0;
        for _ in 0..MAX_TERMS {
            let x = d - m * h;
            if x + t < 0.0 {
                break; // D ≥ 0, so this and every later window is empty of D's mass
            }
            let q = keep * (delay.ccdf(x) - delay.ccdf(x + t));
            prod *= 1.0 - q;
            if prod < TINY {
                return 0.0;
            }
            m += 1.0;
        }
        // Earlier heartbeats, m = 1, 2, …: inside the window iff d + m h < D ≤ d + m h + t.
        let tail = delay.tail();
        let mut tail_terms = 0u32;
        let mut m = 1.0;
        for _ in 0..MAX_TERMS {
            let x = d + m * h;
            let sx = delay.ccdf(x);
            if sx <= 0.0 {
                break;
            }
            let q = keep * (sx - delay.ccdf(x + t));
            if let Some(tm) = tail {
                if x >= tm.threshold_ns {
                    tail_terms += 1;
                    if q < SMALL_Q || tail_terms > MAX_TAIL_TERMS {
                        let rest = keep * tm.integral(x, x + t) / h;
                        prod *= (-rest).exp();
                        break;
                    }
                }
            }
            prod *= 1.0 - q;
            if prod < TINY {
                return 0.0;
            }
            m += 1.0;
        }
        prod
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delay::{TailFit, WeightedPoint};

    fn constant(v: f64) -> EmpiricalDelay {
        EmpiricalDelay::new(&[WeightedPoint::new(v, 1000)], TailFit::None).unwrap()
    }

    #[test]
    fn constant_delay_no_loss_never_silent_beyond_h() {
        let d = constant(5.0);
        let s = HeartbeatStream {
            delay: &d,
            interval_ns: 10.0,
            loss: 0.0,
        };
        assert_eq!(s.silence_probability(9.0), 1.0);
        assert_eq!(s.silence_probability(10.0), 0.0);
        assert_eq!(s.silence_probability(50.0), 0.0);
    }

    #[test]
    fn constant_delay_with_loss_is_geometric() {
        // A silence longer than T = k h + ε needs the next k heartbeats lost: p^k.
        let d = constant(5.0);
        let p = 0.1;
        let s = HeartbeatStream {
            delay: &d,
            interval_ns: 10.0,
            loss: p,
        };
        for k in 1..6 {
            let got = s.silence_probability(k as f64 * 10.0 + 1.0);
            let want = p.powi(k);
            assert!((got - want).abs() < 1e-12 * want, "k {k}: {got} vs {want}");
            assert!((s.first_passage_probability(k as f64 * 10.0 + 1.0) - want).abs() < 1e-12);
        }
        // Rate: 0.9 arrivals per 10 ns.
        assert!((s.silences_per_hour(11.0) - 0.9 * NS_PER_HOUR / 10.0 * 0.1).abs() < 1.0);
    }

    #[test]
    fn two_point_jitter_matches_hand_count() {
        // D ∈ {0, 15} with equal weight, h = 10, T = 12, no loss.
        // After an arrival with d = 0: next (m=1) arrives at 10 (d'=0, inside) or 25 (outside);
        // m=2 at 20 or 35: 20 ≤ 12? no → outside. So silence iff m=1 has d'=15 → 1/2;
        // earlier m=-1 sent at -10 arrives at -10 or 5 (inside (0,12]) → must be -10: 1/2.
        // After d = 15 (A=15): m=1 arrives 10 (before A) or 25 (inside); m=2: 20 (inside) or 35.
        // Silence needs m=1 at 10 and m=2 at 35 → 1/4; m=-1 arrives -10 or 5: both outside.
        // P = ½·(½·½) + ½·(¼) = ¼.
        let d = EmpiricalDelay::new(
            &[WeightedPoint::new(0.0, 500), WeightedPoint::new(15.0, 500)],
            TailFit::None,
        )
        .unwrap();
        let s = HeartbeatStream {
            delay: &d,
            interval_ns: 10.0,
            loss: 0.0,
        };
        assert!((s.silence_probability(12.0) - 0.25).abs() < 1e-12);
        // First passage counts only the next heartbeat: P(10 + D' − D > 12) = P(D' − D > 2)
        // = P(D'=15, D=0) = ¼ — the same here, but for a different reason.
        assert!((s.first_passage_probability(12.0) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn silence_decreases_with_window() {
        let samples: Vec<f64> = (0..2000).map(|i| 1000.0 + (i % 97) as f64 * 30.0).collect();
        let d = EmpiricalDelay::from_samples(&samples, TailFit::GeneralizedPareto).unwrap();
        let s = HeartbeatStream {
            delay: &d,
            interval_ns: 1000.0,
            loss: 0.01,
        };
        let mut prev = 1.0;
        for k in 1..40 {
            let p = s.silence_probability(k as f64 * 250.0);
            assert!(p <= prev + 1e-15, "window {k}: {p} > {prev}");
            prev = p;
        }
        let lo = s.silences_per_hour(3000.0);
        let hi = s.silences_per_hour(6000.0);
        let mean = s.mean_silences_per_hour(3000.0, 6000.0);
        assert!(mean <= lo && mean >= hi);
    }
}
