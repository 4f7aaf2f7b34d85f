//! PIE (Proportional Integral controller Enhanced), RFC 8033 and the Linux `sch_pie` arithmetic.
//!
//! PIE drops arriving packets at random with a probability `p` that a PI controller updates every
//! `t_update` (15 ms) from the queueing delay:
//!
//! ```text
//! p += alpha * (qdelay - target) + beta * (qdelay - qdelay_old)
//! ```
//!
//! with `target` = 15 ms, `alpha` = 0.125 /s and `beta` = 1.25 /s. The step is scaled down while
//! `p` is small ("auto-tuning", RFC 8033 §4.2): by 1/2048 below 10⁻⁶, 1/512 below 10⁻⁵, 1/128
//! below 10⁻⁴, 1/32 below 10⁻³, 1/8 below 10⁻², 1/2 below 10⁻¹, unscaled above; an increase is
//! capped at 2 % once `p >= 10 %`. When the delay was zero at two updates in a row `p` decays by
//! 2 % per update (§4.3: the queue is idle). No drop happens while the burst allowance (150 ms
//! initially, counted down by `t_update` per update) lasts, nor when
//! `qdelay_old < target/2 && p < 20 %`, nor when the queue holds at most two packets' worth of
//! bytes (§4.1, §4.4); the allowance is restored once `p == 0` and both delays are below
//! `target/2`.
//!
//! The queueing delay comes either from timestamps (the sojourn of the last dequeued packet,
//! zero when that dequeue emptied the queue) or, [`DelayEstimator::DepartureRate`], from
//! Little's law: the time `avg_dq_time` to dequeue `dq_threshold` bytes (16 KiB) is measured
//! whenever the queue holds at least that much, averaged with weight `dq_threshold / 2¹⁶`, and
//! `qdelay = backlog * avg_dq_time / dq_threshold` (§5.1, appendix B).
//! De-randomisation (§5.4) is an option: an accumulator `accu_prob += p` per arrival; no drop
//! below 0.85, always above 8.5, a random drop in between, reset on every drop.
//!
//! # Two variants
//!
//! * [`PieVariant::Rfc8033`]: the above in `f64`, with updates at `t_update, 2 t_update, ...`.
//! * [`PieVariant::Linux`]: the kernel's `pie_calculate_probability`, `pie_process_dequeue` and
//!   `pie_drop_early` (`net/sched/sch_pie.c`, `include/net/pie.h`), in its units:
//!   - time in `psched` ticks of 64 ns (`ns >> 6`; 15 ms = 234 375 ticks);
//!   - the probability is a `u64` scaled to `MAX_PROB = 2⁵⁶ − 1`;
//!   - `alpha` and `beta` are integers in 1/16 units (defaults 2 and 20, i.e. 0.125 and 1.25)
//!     turned into per-tick steps `(alpha * (MAX_PROB / 15 625 000)) >> 4`, halved when
//!     `p < MAX_PROB/10` and divided by 4 more for each decade below 1 % down to 10⁻⁶
//!     (the same /2 … /2048 table, by shifts);
//!   - an extra 2 % per update when the delay exceeds 250 ms; decay `p -= p/64` only when the
//!     delay is zero twice *and* the backlog is zero or the delay non-zero;
//!   - the burst allowance (`burst_time`) is counted down by the time between dequeues (or the
//!     dequeue-rate measurement period), not per update; the whole state is re-initialised when
//!     `p == 0` and both delays are below `target/2`;
//!   - dequeue-rate estimation (`dq_rate_estimator`) with `QUEUE_THRESHOLD = 16384` bytes,
//!     rate in bytes per tick scaled by `2^PIE_SCALE` (8) and an EWMA of weight 1/8;
//!   - drops are always de-randomised (`accu_prob`), the random draw is `(u64 >> 8) < p`, and
//!     there is no drop while the backlog is below two MTUs;
//!   - the timer first fires `HZ/2` jiffies (0.5 s) after start, then every
//!     `usecs_to_jiffies(t_update)` jiffies.
//!
//! Not modelled: ECN marking (packets are not ECN-capable) and the RFC's optional
//! activation/deactivation of PIE by queue length (appendix B's `active_` flag).

use super::{
    discipline_rng, invalid, uniform01, ConfigError, Discipline, DropReason, Dropped,
    EnqueueResult, Packet, PacketQueue, Time,
};
use rand::RngCore;
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

/// Which PIE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PieVariant {
    /// RFC 8033, real-valued.
    #[default]
    Rfc8033,
    /// Linux `sch_pie`, integer arithmetic.
    Linux,
}

/// How PIE estimates the queueing delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DelayEstimator {
    /// The sojourn of the last dequeued packet (Linux's default).
    #[default]
    Timestamp,
    /// Little's law from the measured departure rate (the RFC's primary method; Linux
    /// `dq_rate_estimator`).
    DepartureRate,
}

/// PIE parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PieConfig {
    /// Which arithmetic.
    pub variant: PieVariant,
    /// Target queueing delay (QDELAY_REF), seconds (default 0.015).
    pub target: Time,
    /// Update period (T_UPDATE), seconds (default 0.015). Linux rounds it up to whole jiffies.
    pub t_update: Time,
    /// alpha, per second (default 0.125). Linux uses `round(alpha * 16)`.
    pub alpha: f64,
    /// beta, per second (default 1.25). Linux uses `round(beta * 16)`.
    pub beta: f64,
    /// Burst allowance (MAX_BURST), seconds (default 0.150).
    pub max_burst: Time,
    /// Packets; arrivals beyond are tail-dropped (default 1000).
    pub limit: u64,
    /// Queueing-delay estimator.
    pub estimator: DelayEstimator,
    /// Bytes per departure-rate measurement (DQ_THRESHOLD, default 16384). Linux fixes it at
    /// 16384 (`QUEUE_THRESHOLD`) and ignores this.
    pub dq_threshold: u32,
    /// Bytes: the RFC's MEAN_PKTSIZE and Linux's MTU; no early drop while the backlog is
    /// at most (RFC) or below (Linux) twice this (default 1514).
    pub packet_size: u32,
    /// RFC only: de-randomised drops (§5.4). Linux always de-randomises.
    pub derandomize: bool,
    /// Linux only: scale the drop probability by packet size / MTU (`bytemode`).
    pub bytemode: bool,
    /// Linux only: the kernel's `HZ`, for the jiffies rounding of the timer (default 1000).
    pub hz: u32,
    /// Time of the first update; `None` means `t_update` (RFC) or `HZ/2` jiffies (Linux).
    pub first_update: Option<Time>,
}

impl Default for PieConfig {
    fn default() -> Self {
        Self {
            variant: PieVariant::Rfc8033,
            target: 0.015,
            t_update: 0.015,
            alpha: 0.125,
            beta: 1.25,
            max_burst: 0.150,
            limit: 1000,
            estimator: DelayEstimator::Timestamp,
            dq_threshold: 16384,
            packet_size: 1514,
            derandomize: false,
            bytemode: false,
            hz: 1000,
            first_update: None,
        }
    }
}

impl PieConfig {
    /// The defaults with the given variant.
    pub fn with_variant(variant: PieVariant) -> Self {
        Self {
            variant,
            ..Self::default()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let pos = |x: f64| x.is_finite() && x > 0.0;
        if !pos(self.target) {
            return Err(invalid(
                "pie",
                "target must be a positive number of seconds",
            ));
        }
        if !pos(self.t_update) {
            return Err(invalid(
                "pie",
                "t_update must be a positive number of seconds",
            ));
        }
        if !(self.alpha.is_finite()
            && self.alpha >= 0.0
            && self.beta.is_finite()
            && self.beta >= 0.0)
        {
            return Err(invalid(
                "pie",
                "alpha and beta must be finite and non-negative",
            ));
        }
        if !(self.max_burst.is_finite() && self.max_burst >= 0.0) {
            return Err(invalid(
                "pie",
                "max_burst must be a non-negative number of seconds",
            ));
        }
        if self.limit == 0 {
            return Err(invalid("pie", "limit must be at least 1 packet"));
        }
        if self.dq_threshold == 0 {
            return Err(invalid("pie", "dq_threshold must be at least 1 byte"));
        }
        if let Some(f) = self.first_update {
            if !(f.is_finite() && f >= 0.0) {
                return Err(invalid("pie", "first_update must be a non-negative time"));
            }
        }
        if self.variant == PieVariant::Linux {
            if self.hz == 0 {
                return Err(invalid("pie", "linux variant: hz must be at least 1"));
            }
            if (self.alpha * 16.0).round() > 32.0 || (self.beta * 16.0).round() > 32.0 {
                return Err(invalid(
                    "pie",
                    "linux variant: alpha and beta must be at most 2 (32/16), as tc accepts",
                ));
            }
        }
        Ok(())
    }
}

/// The Linux kernel's PIE arithmetic (`net/sched/sch_pie.c`, `include/net/pie.h`), as pure
/// functions over [`kernel::LinuxPieParams`] and [`kernel::LinuxPieVars`].
pub mod kernel {
    /// Drop probability 1.0: `U64_MAX >> BITS_PER_BYTE`.
    pub const MAX_PROB: u64 = u64::MAX >> 8;
    /// `psched` time is nanoseconds shifted right by this.
    pub const PSCHED_SHIFT: u32 = 6;
    /// `PSCHED_TICKS_PER_SEC`.
    pub const PSCHED_TICKS_PER_SEC: u64 = 1_000_000_000 >> PSCHED_SHIFT;
    /// Bytes of backlog needed to measure the dequeue rate.
    pub const QUEUE_THRESHOLD: u64 = 16384;
    /// Fixed-point shift of the dequeue rate.
    pub const PIE_SCALE: u32 = 8;
    /// `DTIME_INVALID`.
    pub const DTIME_INVALID: u64 = u64::MAX;
    /// `DQCOUNT_INVALID` (-1 stored in a u64).
    pub const DQCOUNT_INVALID: u64 = u64::MAX;

    /// Nanoseconds to psched ticks.
    #[inline]
    pub fn ns_to_ticks(ns: u64) -> u64 {
        ns >> PSCHED_SHIFT
    }

    /// `struct pie_params`, in kernel units.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct LinuxPieParams {
        /// Target delay, ticks (default 234 375 = 15 ms).
        pub target: u64,
        /// Packets.
        pub limit: u32,
        /// alpha in 1/16 (default 2).
        pub alpha: u32,
        /// beta in 1/16 (default 20).
        pub beta: u32,
        /// Scale the probability by size/MTU.
        pub bytemode: bool,
        /// Little's-law delay estimate instead of timestamps.
        pub dq_rate_estimator: bool,
        /// `psched_mtu` of the device, bytes.
        pub mtu: u32,
    }

    /// `struct pie_vars`, in kernel units.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct LinuxPieVars {
        /// Current delay, ticks.
        pub qdelay: u64,
        /// Delay at the previous update, ticks.
        pub qdelay_old: u64,
        /// Burst allowance left, ticks.
        pub burst_time: u64,
        /// Time of the last dequeue or start of a rate measurement, ticks.
        pub dq_tstamp: u64,
        /// Drop probability, scaled to [`MAX_PROB`] (it can exceed it, as in the kernel).
        pub prob: u64,
        /// De-randomisation accumulator.
        pub accu_prob: u64,
        /// Bytes dequeued in the current measurement.
        pub dq_count: u64,
        /// Average dequeue rate, bytes per tick << PIE_SCALE.
        pub avg_dq_rate: u32,
        /// Backlog at the last update, bytes.
        pub backlog_old: u32,
    }

    impl LinuxPieVars {
        /// The state after `kzalloc` and `pie_vars_init`.
        pub fn new() -> Self {
            let mut v = Self {
                qdelay: 0,
                qdelay_old: 0,
                burst_time: 0,
                dq_tstamp: 0,
                prob: 0,
                accu_prob: 0,
                dq_count: 0,
                avg_dq_rate: 0,
                backlog_old: 0,
            };
            vars_init(&mut v);
            v
        }
    }

    impl Default for LinuxPieVars {
        fn default() -> Self {
            Self::new()
        }
    }

    /// `pie_vars_init`: burst allowance back to 150 ms, measurements invalidated.
    pub fn vars_init(v: &mut LinuxPieVars) {
        v.burst_time = ns_to_ticks(150_000_000);
        v.dq_tstamp = DTIME_INVALID;
        v.accu_prob = 0;
        v.dq_count = DQCOUNT_INVALID;
        v.avg_dq_rate = 0;
    }

    /// `pie_drop_early`: whether to drop an arrival of `packet_size` bytes when `backlog`
    /// bytes wait. `rnd` is called only when the kernel would call `get_random_bytes`.
    pub fn drop_early(
        p: &LinuxPieParams,
        v: &mut LinuxPieVars,
        backlog: u32,
        packet_size: u32,
        rnd: impl FnOnce() -> u64,
    ) -> bool {
        if v.burst_time > 0 {
            return false;
        }
        if v.qdelay < p.target / 2 && v.prob < MAX_PROB / 5 {
            return false;
        }
        if u64::from(backlog) < 2 * u64::from(p.mtu) {
            return false;
        }
        let local_prob = if p.bytemode && packet_size <= p.mtu {
            u64::from(packet_size).wrapping_mul(v.prob / u64::from(p.mtu.max(1)))
        } else {
            v.prob
        };
        if local_prob == 0 {
            v.accu_prob = 0;
        } else {
            v.accu_prob = v.accu_prob.wrapping_add(local_prob);
        }
        if v.accu_prob < (MAX_PROB / 100) * 85 {
            return false;
        }
        if v.accu_prob >= (MAX_PROB / 2) * 17 {
            return true;
        }
        if (rnd() >> 8) < local_prob {
            v.accu_prob = 0;
            return true;
        }
        false
    }

    /// `pie_process_dequeue`: after a packet of `len` bytes enqueued at `enqueue_time` left,
    /// with `backlog` bytes remaining, at `now` (ticks).
    pub fn process_dequeue(
        p: &LinuxPieParams,
        v: &mut LinuxPieVars,
        len: u32,
        enqueue_time: u64,
        backlog: u32,
        now: u64,
    ) {
        let dtime: u32;
        if !p.dq_rate_estimator {
            v.qdelay = now.wrapping_sub(enqueue_time);
            dtime = if v.dq_tstamp != DTIME_INVALID {
                now.wrapping_sub(v.dq_tstamp) as u32
            } else {
                0
            };
            v.dq_tstamp = now;
            if backlog == 0 {
                v.qdelay = 0;
            }
            if dtime == 0 {
                return;
            }
        } else {
            if u64::from(backlog) >= QUEUE_THRESHOLD && v.dq_count == DQCOUNT_INVALID {
                v.dq_tstamp = now;
                v.dq_count = 0;
            }
            if v.dq_count == DQCOUNT_INVALID {
                return;
            }
            v.dq_count = v.dq_count.wrapping_add(u64::from(len));
            if v.dq_count < QUEUE_THRESHOLD {
                return;
            }
            let mut count = (v.dq_count << PIE_SCALE) as u32;
            dtime = now.wrapping_sub(v.dq_tstamp) as u32;
            if dtime == 0 {
                return;
            }
            count /= dtime;
            if v.avg_dq_rate == 0 {
                v.avg_dq_rate = count;
            } else {
                v.avg_dq_rate = (v.avg_dq_rate - (v.avg_dq_rate >> 3)).wrapping_add(count >> 3);
            }
            if u64::from(backlog) < QUEUE_THRESHOLD {
                v.dq_count = DQCOUNT_INVALID;
            } else {
                v.dq_count = 0;
                v.dq_tstamp = now;
            }
        }
        if v.burst_time > 0 {
            if v.burst_time > u64::from(dtime) {
                v.burst_time -= u64::from(dtime);
            } else {
                v.burst_time = 0;
            }
        }
    }

    /// The per-tick alpha and beta steps for the current probability (the auto-tuning shifts).
    pub fn scaled_alpha_beta(p: &LinuxPieParams, prob: u64) -> (u64, u64) {
        let mut alpha = (u64::from(p.alpha) * (MAX_PROB / PSCHED_TICKS_PER_SEC)) >> 4;
        let mut beta = (u64::from(p.beta) * (MAX_PROB / PSCHED_TICKS_PER_SEC)) >> 4;
        if prob < MAX_PROB / 10 {
            alpha >>= 1;
            beta >>= 1;
            let mut power: u64 = 100;
            while prob < MAX_PROB / power && power <= 1_000_000 {
                alpha >>= 2;
                beta >>= 2;
                power *= 10;
            }
        }
        (alpha, beta)
    }

    /// `pie_calculate_probability`, run by the timer with the current `backlog` in bytes.
    pub fn calculate_probability(p: &LinuxPieParams, v: &mut LinuxPieVars, backlog: u32) {
        let qdelay: u64;
        let qdelay_old: u64;
        let mut update_prob = true;
        if p.dq_rate_estimator {
            qdelay_old = v.qdelay;
            v.qdelay_old = v.qdelay;
            // `(backlog << PIE_SCALE) / avg_dq_rate`, 0 without an estimate yet.
            qdelay = (backlog << PIE_SCALE)
                .checked_div(v.avg_dq_rate)
                .map_or(0, u64::from);
        } else {
            qdelay = v.qdelay;
            qdelay_old = v.qdelay_old;
        }
        if qdelay == 0 && backlog != 0 {
            update_prob = false;
        }
        let (alpha, beta) = scaled_alpha_beta(p, v.prob);
        let mut delta: i64 = 0;
        delta = delta.wrapping_add(alpha.wrapping_mul(qdelay.wrapping_sub(p.target)) as i64);
        delta = delta.wrapping_add(beta.wrapping_mul(qdelay.wrapping_sub(qdelay_old)) as i64);
        let oldprob = v.prob;
        if delta > (MAX_PROB / (100 / 2)) as i64 && v.prob >= MAX_PROB / 10 {
            delta = ((MAX_PROB / 100) * 2) as i64;
        }
        if qdelay > ns_to_ticks(250_000_000) {
            delta = delta.wrapping_add((MAX_PROB / (100 / 2)) as i64);
        }
        v.prob = v.prob.wrapping_add(delta as u64);
        if delta > 0 {
            if v.prob < oldprob {
                v.prob = MAX_PROB;
                update_prob = false;
            }
        } else if v.prob > oldprob {
            v.prob = 0;
        }
        if qdelay == 0 && qdelay_old == 0 && update_prob {
            v.prob -= v.prob / 64;
        }
        v.qdelay = qdelay;
        v.backlog_old = backlog;
        if v.qdelay < p.target / 2
            && v.qdelay_old < p.target / 2
            && v.prob == 0
            && (!p.dq_rate_estimator || v.avg_dq_rate > 0)
        {
            vars_init(v);
        }
        if !p.dq_rate_estimator {
            v.qdelay_old = qdelay;
        }
    }
}

pub use kernel::LinuxPieVars;

/// State of the RFC 8033 variant (names as in the RFC).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RfcPieVars {
    /// Drop probability.
    pub drop_prob: f64,
    /// Delay used at the last update, seconds.
    pub qdelay: f64,
    /// Delay at the update before, seconds.
    pub qdelay_old: f64,
    /// Burst allowance left, seconds.
    pub burst_allowance: f64,
    /// De-randomisation accumulator.
    pub accu_prob: f64,
    /// Timestamp estimator: sojourn of the last dequeued packet (0 once the queue emptied).
    pub last_sojourn: f64,
    /// Departure-rate estimator: a measurement is running.
    pub in_measurement: bool,
    /// Bytes dequeued in the running measurement.
    pub dq_count: u64,
    /// Start of the running measurement.
    pub measurement_start: f64,
    /// Average time to dequeue `dq_threshold` bytes (0: no estimate yet).
    pub avg_dq_time: f64,
}

#[derive(Clone, Debug)]
enum Ctl {
    Rfc(RfcPieVars),
    Linux {
        p: kernel::LinuxPieParams,
        v: LinuxPieVars,
    },
}

/// A FIFO managed by PIE (either variant).
#[derive(Clone, Debug)]
pub struct Pie {
    c: PieConfig,
    q: PacketQueue,
    ctl: Ctl,
    first_update: Time,
    period: Time,
    updates_done: u64,
    /// `first_update + updates_done * period`, kept with `updates_done` so that the check
    /// every enqueue and dequeue makes is one comparison.
    next_update: Time,
    rng: Pcg64Mcg,
    drops: Vec<Dropped>,
}

/// The RFC's auto-tuning factor for the probability step.
fn rfc_scale(p: f64) -> f64 {
    if p < 0.000_001 {
        1.0 / 2048.0
    } else if p < 0.000_01 {
        1.0 / 512.0
    } else if p < 0.000_1 {
        1.0 / 128.0
    } else if p < 0.001 {
        1.0 / 32.0
    } else if p < 0.01 {
        1.0 / 8.0
    } else if p < 0.1 {
        1.0 / 2.0
    } else {
        1.0
    }
}

impl Pie {
    /// An empty PIE queue; `seed` drives its random drops.
    pub fn new(c: PieConfig, seed: u64) -> Result<Self, ConfigError> {
        c.validate()?;
        let (ctl, first_update, period) = match c.variant {
            PieVariant::Rfc8033 => (
                Ctl::Rfc(RfcPieVars {
                    drop_prob: 0.0,
                    qdelay: 0.0,
                    qdelay_old: 0.0,
                    burst_allowance: c.max_burst,
                    accu_prob: 0.0,
                    last_sojourn: 0.0,
                    in_measurement: false,
                    dq_count: 0,
                    measurement_start: 0.0,
                    avg_dq_time: 0.0,
                }),
                c.first_update.unwrap_or(c.t_update),
                c.t_update,
            ),
            PieVariant::Linux => {
                let hz = u64::from(c.hz);
                let us = (c.t_update * 1e6).round() as u64;
                let jiffies = (us * hz).div_ceil(1_000_000).max(1);
                let period = jiffies as f64 / hz as f64;
                let first = c.first_update.unwrap_or((hz / 2) as f64 / hz as f64);
                let p = kernel::LinuxPieParams {
                    target: kernel::ns_to_ticks(super::secs_to_ns(c.target)),
                    limit: u32::try_from(c.limit).unwrap_or(u32::MAX),
                    alpha: (c.alpha * 16.0).round() as u32,
                    beta: (c.beta * 16.0).round() as u32,
                    bytemode: c.bytemode,
                    dq_rate_estimator: c.estimator == DelayEstimator::DepartureRate,
                    mtu: c.packet_size,
                };
                (
                    Ctl::Linux {
                        p,
                        v: LinuxPieVars::new(),
                    },
                    first,
                    period,
                )
            }
        };
        Ok(Self {
            c,
            q: PacketQueue::default(),
            ctl,
            first_update,
            period,
            updates_done: 0,
            next_update: first_update,
            rng: discipline_rng(seed, 0x0050_4945),
            drops: Vec::new(),
        })
    }

    /// The drop probability now, as a fraction (the Linux value divided by `MAX_PROB`; it can
    /// exceed 1 there, as the kernel's can).
    pub fn drop_probability(&self) -> f64 {
        match &self.ctl {
            Ctl::Rfc(v) => v.drop_prob,
            Ctl::Linux { v, .. } => v.prob as f64 / kernel::MAX_PROB as f64,
        }
    }

    /// The RFC variant's state.
    pub fn rfc_vars(&self) -> Option<&RfcPieVars> {
        match &self.ctl {
            Ctl::Rfc(v) => Some(v),
            Ctl::Linux { .. } => None,
        }
    }

    /// The Linux variant's state (kernel units).
    pub fn linux_vars(&self) -> Option<&LinuxPieVars> {
        match &self.ctl {
            Ctl::Rfc(_) => None,
            Ctl::Linux { v, .. } => Some(v),
        }
    }

    /// The Linux variant's parameters in kernel units.
    pub fn linux_params(&self) -> Option<&kernel::LinuxPieParams> {
        match &self.ctl {
            Ctl::Rfc(_) => None,
            Ctl::Linux { p, .. } => Some(p),
        }
    }

    /// When the next probability update falls due.
    pub fn next_update(&self) -> Time {
        self.next_update
    }

    fn set_updates_done(&mut self, n: u64) {
        self.updates_done = n;
        self.next_update = self.first_update + n as f64 * self.period;
    }

    /// The update period actually used (Linux: whole jiffies).
    pub fn update_period(&self) -> Time {
        self.period
    }

    /// Runs every probability update due at or before `now`. `enqueue` and `dequeue` call it
    /// first; call it directly to observe the state at a given time.
    #[inline]
    pub fn advance(&mut self, now: Time) {
        if self.next_update <= now {
            self.run_updates(now);
        }
    }

    #[inline(never)]
    fn run_updates(&mut self, now: Time) {
        loop {
            let t = self.next_update();
            if t > now {
                return;
            }
            let before = self.ctl_snapshot();
            self.update();
            self.set_updates_done(self.updates_done + 1);
            if self.ctl_snapshot() == before {
                // A fixed point (idle queue, p = 0): further updates before `now` change
                // nothing, so skip them.
                let remaining = ((now - self.next_update()) / self.period).floor();
                if remaining >= 1.0 {
                    self.set_updates_done(self.updates_done + remaining as u64);
                }
            }
        }
    }

    fn ctl_snapshot(&self) -> CtlSnapshot {
        match &self.ctl {
            Ctl::Rfc(v) => CtlSnapshot::Rfc(*v),
            Ctl::Linux { v, .. } => CtlSnapshot::Linux(*v),
        }
    }

    fn update(&mut self) {
        let backlog = self.q.bytes();
        match &mut self.ctl {
            Ctl::Rfc(v) => {
                let c = &self.c;
                let qdelay = match c.estimator {
                    DelayEstimator::Timestamp => v.last_sojourn,
                    DelayEstimator::DepartureRate => {
                        if v.avg_dq_time > 0.0 {
                            backlog as f64 * v.avg_dq_time / f64::from(c.dq_threshold)
                        } else {
                            0.0
                        }
                    }
                };
                let mut adj = c.alpha * (qdelay - c.target) + c.beta * (qdelay - v.qdelay_old);
                adj *= rfc_scale(v.drop_prob);
                if v.drop_prob >= 0.1 && adj > 0.02 {
                    adj = 0.02;
                }
                v.drop_prob += adj;
                if qdelay == 0.0 && v.qdelay_old == 0.0 {
                    v.drop_prob *= 0.98;
                }
                v.drop_prob = v.drop_prob.clamp(0.0, 1.0);
                v.burst_allowance = (v.burst_allowance - c.t_update).max(0.0);
                if v.drop_prob == 0.0 && qdelay < c.target / 2.0 && v.qdelay_old < c.target / 2.0 {
                    v.burst_allowance = c.max_burst;
                }
                v.qdelay_old = qdelay;
                v.qdelay = qdelay;
            }
            Ctl::Linux { p, v } => {
                let backlog = u32::try_from(backlog).unwrap_or(u32::MAX);
                kernel::calculate_probability(p, v, backlog);
            }
        }
    }
}

#[derive(PartialEq)]
enum CtlSnapshot {
    Rfc(RfcPieVars),
    Linux(LinuxPieVars),
}

impl Discipline for Pie {
    #[inline(always)]
    fn enqueue(&mut self, pkt: Packet, now: Time) -> EnqueueResult {
        self.advance(now);
        let drop = if self.q.len() as u64 >= self.c.limit {
            Some(DropReason::Overflow)
        } else {
            let backlog = self.q.bytes();
            let early = match &mut self.ctl {
                Ctl::Rfc(v) => {
                    let c = &self.c;
                    if v.burst_allowance > 0.0
                        || (v.qdelay_old < c.target / 2.0 && v.drop_prob < 0.2)
                        || backlog <= 2 * u64::from(c.packet_size)
                    {
                        false
                    } else if c.derandomize {
                        if v.drop_prob == 0.0 {
                            v.accu_prob = 0.0;
                        }
                        v.accu_prob += v.drop_prob;
                        if v.accu_prob < 0.85 {
                            false
                        } else if v.accu_prob >= 8.5 {
                            true
                        } else {
                            uniform01(&mut self.rng) < v.drop_prob
                        }
                    } else {
                        uniform01(&mut self.rng) < v.drop_prob
                    }
                }
                Ctl::Linux { p, v } => {
                    let rng = &mut self.rng;
                    let backlog = u32::try_from(backlog).unwrap_or(u32::MAX);
                    kernel::drop_early(p, v, backlog, pkt.size, || rng.next_u64())
                }
            };
            early.then_some(DropReason::Early)
        };
        match drop {
            None => {
                self.q.push(pkt);
                EnqueueResult::Queued
            }
            Some(reason) => {
                match &mut self.ctl {
                    Ctl::Rfc(v) => v.accu_prob = 0.0,
                    Ctl::Linux { v, .. } => v.accu_prob = 0,
                }
                self.drops.push(Dropped {
                    packet: pkt,
                    time: now,
                    reason,
                });
                EnqueueResult::Dropped(reason)
            }
        }
    }

    #[inline(always)]
    fn dequeue(&mut self, now: Time) -> Option<Packet> {
        self.advance(now);
        let pkt = self.q.pop()?;
        let backlog = self.q.bytes();
        match &mut self.ctl {
            Ctl::Rfc(v) => match self.c.estimator {
                DelayEstimator::Timestamp => {
                    v.last_sojourn = if backlog == 0 { 0.0 } else { now - pkt.arrival };
                }
                DelayEstimator::DepartureRate => {
                    let th = u64::from(self.c.dq_threshold);
                    if v.in_measurement {
                        v.dq_count += u64::from(pkt.size);
                        if v.dq_count >= th {
                            let dq_time = now - v.measurement_start;
                            if v.avg_dq_time == 0.0 {
                                v.avg_dq_time = dq_time;
                            } else {
                                let w = (th as f64 / 65536.0).min(1.0);
                                v.avg_dq_time = dq_time * w + v.avg_dq_time * (1.0 - w);
                            }
                            v.in_measurement = false;
                        }
                    }
                    if backlog >= th && !v.in_measurement {
                        v.in_measurement = true;
                        v.measurement_start = now;
                        v.dq_count = 0;
                    }
                }
            },
            Ctl::Linux { p, v } => {
                let now_t = kernel::ns_to_ticks(super::secs_to_ns(now));
                let enq = kernel::ns_to_ticks(super::secs_to_ns(pkt.arrival));
                let backlog = u32::try_from(backlog).unwrap_or(u32::MAX);
                kernel::process_dequeue(p, v, pkt.size, enq, backlog, now_t);
            }
        }
        Some(pkt)
    }

    queue_and_drops!();

    fn name(&self) -> &'static str {
        match self.ctl {
            Ctl::Rfc(_) => "pie-rfc8033",
            Ctl::Linux { .. } => "pie-linux",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::kernel::*;
    use super::*;

    #[test]
    fn kernel_step_table_matches_rfc_table() {
        // The kernel's shifts reproduce the RFC's /2 ... /2048 table (up to integer rounding).
        let p = LinuxPieParams {
            target: 234_375,
            limit: 1000,
            alpha: 2,
            beta: 20,
            bytemode: false,
            dq_rate_estimator: false,
            mtu: 1514,
        };
        let (a_full, _) = scaled_alpha_beta(&p, MAX_PROB / 2);
        for (prob, div) in [
            (0.0, 2048u64),
            (0.000_005, 512),
            (0.000_05, 128),
            (0.000_5, 32),
            (0.005, 8),
            (0.05, 2),
            (0.5, 1),
        ] {
            let (a, _) = scaled_alpha_beta(&p, (prob * MAX_PROB as f64) as u64);
            let want = a_full / div;
            assert!(a.abs_diff(want) <= 1, "p={prob}: {a} vs {want}");
            assert!((rfc_scale(prob) - 1.0 / div as f64).abs() < 1e-15);
        }
    }

    #[test]
    fn idle_fixed_point_is_skipped() {
        let mut pie = Pie::new(PieConfig::default(), 1).unwrap();
        pie.advance(1.0e6);
        // 1e6 s of idleness at 15 ms per update would be 6.7e7 updates; the fixed point is
        // detected after the first.
        assert!(pie.next_update() > 1.0e6 - 0.015 && pie.next_update() <= 1.0e6 + 0.015);
        assert_eq!(pie.drop_probability(), 0.0);
    }
}
