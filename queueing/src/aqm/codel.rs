//! CoDel (Controlled Delay), in the RFC 8289 form and with the Linux kernel's arithmetic.
//!
//! CoDel watches the *sojourn time* of each packet as it leaves the queue. When the sojourn has
//! stayed at or above `target` (5 ms) for a whole `interval` (100 ms) — and the queue holds more
//! than one MTU — it enters the dropping state: it drops the head packet and schedules the next
//! drop with the control law `next = t + interval / sqrt(count)`, where `count` is the number of
//! drops since it entered the state, so the drop rate rises until the sojourn falls below
//! `target`. When it re-enters the dropping state soon after leaving it (within `16 * interval`
//! of the last scheduled drop) and more than one drop happened in the last cycle, it resumes with
//! `count = count - lastcount` instead of 1, on the grounds that the drop rate that controlled the
//! queue last time is a good starting point now.
//!
//! # Two variants
//!
//! * [`CodelVariant::Rfc8289`] follows the pseudocode of RFC 8289 §5 in real-valued time (`f64`
//!   seconds): `first_above_time`, `now >= first_above_time` to start dropping, the sojourn test
//!   `sojourn < target || bytes() <= MAXPACKET` with MAXPACKET the configured MTU, and the
//!   control law with an exact `1/sqrt(count)`.
//! * [`CodelVariant::Linux`] executes the arithmetic of the kernel's `include/net/codel.h` and
//!   `codel_impl.h` (`sch_codel`, and the per-flow CoDel of `sch_fq_codel`):
//!   - time is a `u32` [`codel_time_t`](kernel) in units of 1024 ns (`ns >> CODEL_SHIFT`,
//!     `CODEL_SHIFT = 10`), compared with wrap-around (`(s32)(a - b) > 0`); 100 ms is 97 656
//!     units (99.999 744 ms) and 5 ms is 4 882 units;
//!   - `1/sqrt(count)` is kept in `rec_inv_sqrt`, a `u16` holding the top 16 bits of a Q0.32
//!     number (`REC_INV_SQRT_BITS = 16`, `REC_INV_SQRT_SHIFT = 32 - 16`), updated by **one**
//!     Newton step `y' = y/2 * (3 - count * y^2)` each time `count` changes, and reset to
//!     `0xFFFF` (≈ 1 − 2⁻¹⁶) when `count` restarts at 1;
//!   - the control law is `t + reciprocal_scale(interval, rec_inv_sqrt << 16)`, i.e.
//!     `t + ((u64)interval * (rec_inv_sqrt << 16)) >> 32`;
//!   - dropping starts only when `now` is strictly after `first_above_time`, the "queue is
//!     small" test is `backlog <= mtu`, and the re-entry rule is `delta = count - lastcount;
//!     if delta > 1 && (s32)(16*interval - (now - drop_next)) > 0 { count = delta; Newton step }`.
//!
//! The functions in [`kernel`] are that arithmetic, exposed for tests and for anyone checking
//! the kernel's numbers.
//!
//! ## Where the variants differ: an example
//!
//! Take a queue whose sojourn stays above target from its first dequeue on, dequeued every
//! 1024 ns (one codel time unit), the first dequeue at unit 9 766. Both variants drop first at
//! unit 107 423 (110.001 ms). The RFC variant then drops at +100 ms, +70.71 ms (100/√2),
//! +57.74 ms (100/√3), +50 ms, +44.72 ms, each rounded up to the next dequeue. The Linux
//! variant drops at +97 654 units (99.998 ms: the quantised interval times 0xFFFF/2¹⁶), then
//! **+48 829 units (50.00 ms)**, +54 931 (56.25 ms), +47 635 (48.78 ms), +43 116 (44.15 ms):
//! one Newton step from y = 1 with count = 2 gives y ≈ 0.5 rather than 1/√2 ≈ 0.707, and the
//! estimate oscillates towards 1/√count over the following drops. `tests/aqm.rs` checks both
//! sequences (the Linux one against integers worked by hand from the kernel code).
//!
//! Not modelled: ECN marking and `ce_threshold` (packets are not ECN-capable), and the cap on
//! drops per dequeue call that recent kernels define (`CODEL_MAX_DROPS_PER_DEQUEUE`).

use super::{
    invalid, ConfigError, Discipline, DropReason, Dropped, EnqueueResult, Packet, PacketQueue, Time,
};
use serde::{Deserialize, Serialize};

/// Which CoDel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CodelVariant {
    /// RFC 8289 pseudocode, real-valued time.
    #[default]
    Rfc8289,
    /// The Linux kernel's integer arithmetic (`codel_impl.h`).
    Linux,
}

/// CoDel's control parameters (shared by [`Codel`] and the per-flow CoDel of FQ-CoDel).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CodelParams {
    /// Which arithmetic.
    pub variant: CodelVariant,
    /// Acceptable standing sojourn, seconds (default 0.005).
    pub target: Time,
    /// Sliding window over which the sojourn must stay above target, seconds (default 0.1).
    pub interval: Time,
    /// Bytes: no drop while the backlog is at most this (RFC MAXPACKET, kernel `mtu`;
    /// default 1514, the kernel's `psched_mtu` of an Ethernet device).
    pub mtu: u32,
}

impl Default for CodelParams {
    fn default() -> Self {
        Self {
            variant: CodelVariant::Rfc8289,
            target: 0.005,
            interval: 0.100,
            mtu: 1514,
        }
    }
}

impl CodelParams {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if !(self.target.is_finite() && self.target > 0.0) {
            return Err(invalid(
                "codel",
                "target must be a positive number of seconds",
            ));
        }
        if !(self.interval.is_finite() && self.interval > 0.0) {
            return Err(invalid(
                "codel",
                "interval must be a positive number of seconds",
            ));
        }
        if self.variant == CodelVariant::Linux {
            let iv = kernel::ns_to_time(super::secs_to_ns(self.interval));
            let tg = kernel::ns_to_time(super::secs_to_ns(self.target));
            if self.interval * 1e9 / 1024.0 >= f64::from(i32::MAX) / 16.0 {
                return Err(invalid(
                    "codel",
                    "linux variant: interval must be below 2^27 codel units (about 137 s)",
                ));
            }
            if iv == 0 || tg == 0 {
                return Err(invalid(
                    "codel",
                    "linux variant: target and interval must be at least 1024 ns (one codel time unit)",
                ));
            }
        }
        Ok(())
    }
}

/// Configuration of a single-queue [`Codel`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CodelConfig {
    /// The control parameters.
    #[serde(flatten)]
    pub params: CodelParams,
    /// Packets; arrivals beyond are tail-dropped (default 1000, as `sch_codel`).
    pub limit: u64,
}

impl Default for CodelConfig {
    fn default() -> Self {
        Self {
            params: CodelParams::default(),
            limit: 1000,
        }
    }
}

impl CodelConfig {
    /// The defaults with the given variant.
    pub fn with_variant(variant: CodelVariant) -> Self {
        Self {
            params: CodelParams {
                variant,
                ..CodelParams::default()
            },
            ..Self::default()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        self.params.validate()?;
        if self.limit == 0 {
            return Err(invalid("codel", "limit must be at least 1 packet"));
        }
        Ok(())
    }
}

/// The Linux kernel's CoDel arithmetic (`include/net/codel.h`, `include/net/codel_impl.h`).
pub mod kernel {
    /// `codel_time_t` is nanoseconds shifted right by this.
    pub const CODEL_SHIFT: u32 = 10;
    /// Bits of `rec_inv_sqrt` (a `u16`).
    pub const REC_INV_SQRT_BITS: u32 = 16;
    /// Shift from the stored `rec_inv_sqrt` to a Q0.32 number.
    pub const REC_INV_SQRT_SHIFT: u32 = 32 - REC_INV_SQRT_BITS;

    /// Nanoseconds to `codel_time_t` (`ns >> 10`, truncated to 32 bits: it wraps every
    /// 2³² × 1024 ns ≈ 73 minutes, as in the kernel).
    #[inline]
    pub fn ns_to_time(ns: u64) -> u32 {
        (ns >> CODEL_SHIFT) as u32
    }

    /// `codel_time_after(a, b)`: `a` is after `b`, modulo wrap-around.
    #[inline]
    pub fn time_after(a: u32, b: u32) -> bool {
        (a.wrapping_sub(b) as i32) > 0
    }

    /// `codel_time_after_eq(a, b)`.
    #[inline]
    pub fn time_after_eq(a: u32, b: u32) -> bool {
        (a.wrapping_sub(b) as i32) >= 0
    }

    /// `codel_time_before(a, b)`.
    #[inline]
    pub fn time_before(a: u32, b: u32) -> bool {
        time_after(b, a)
    }

    /// `reciprocal_scale(val, ep_ro)`: `(val * ep_ro) >> 32`, i.e. `val` scaled by the Q0.32
    /// number `ep_ro`.
    #[inline]
    pub fn reciprocal_scale(val: u32, ep_ro: u32) -> u32 {
        ((u64::from(val) * u64::from(ep_ro)) >> 32) as u32
    }

    /// One Newton step of `1/sqrt(count)` on the stored 16-bit `rec_inv_sqrt`
    /// (`codel_Newton_step`): with `y` the Q0.32 value,
    /// `y' = (y/2) * (3 - count * y^2)`, computed as
    /// `invsqrt2 = (y*y) >> 32; val = ((3 << 32) - count*invsqrt2) >> 2;
    /// val = (val * y) >> 31; rec_inv_sqrt = val >> 16`.
    #[inline]
    pub fn newton_step(rec_inv_sqrt: u16, count: u32) -> u16 {
        let invsqrt = u32::from(rec_inv_sqrt) << REC_INV_SQRT_SHIFT;
        let invsqrt2 = ((u64::from(invsqrt) * u64::from(invsqrt)) >> 32) as u32;
        let mut val = (3u64 << 32).wrapping_sub(u64::from(count) * u64::from(invsqrt2));
        val >>= 2;
        val = val.wrapping_mul(u64::from(invsqrt)) >> (32 - 2 + 1);
        (val >> REC_INV_SQRT_SHIFT) as u16
    }

    /// `codel_control_law(t, interval, rec_inv_sqrt)`:
    /// `t + reciprocal_scale(interval, rec_inv_sqrt << REC_INV_SQRT_SHIFT)`.
    #[inline]
    pub fn control_law(t: u32, interval: u32, rec_inv_sqrt: u16) -> u32 {
        t.wrapping_add(reciprocal_scale(
            interval,
            u32::from(rec_inv_sqrt) << REC_INV_SQRT_SHIFT,
        ))
    }

    /// The `rec_inv_sqrt` the kernel stores when `count` restarts at 1: `~0U >> 16`.
    pub const REC_INV_SQRT_ONE: u16 = (u32::MAX >> REC_INV_SQRT_SHIFT) as u16;
}

/// What CoDel needs from the queue it manages.
pub(crate) trait HeadQueue {
    /// Removes and returns the head packet.
    fn pop_head(&mut self) -> Option<Packet>;
    /// Bytes left after the last removal (the RFC's `bytes()`, the kernel's `*backlog`).
    fn backlog(&self) -> u64;
    /// Records a head drop.
    fn drop_head(&mut self, pkt: Packet, now: Time);
}

/// State of the RFC 8289 variant (names as in the RFC's pseudocode).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct RfcCodelVars {
    /// When the sojourn will have been above target for an interval (`None`: below target).
    pub first_above_time: Option<Time>,
    /// Time of the next scheduled drop.
    pub drop_next: Time,
    /// Drops since entering the dropping state.
    pub count: u32,
    /// `count` when the dropping state was last entered.
    pub lastcount: u32,
    /// In the dropping state.
    pub dropping: bool,
}

/// State of the Linux variant (`struct codel_vars`), in kernel units.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct LinuxCodelVars {
    /// Drops since entering the dropping state.
    pub count: u32,
    /// `count` when the dropping state was last entered.
    pub lastcount: u32,
    /// In the dropping state.
    pub dropping: bool,
    /// Top 16 bits of 1/sqrt(count) in Q0.32.
    pub rec_inv_sqrt: u16,
    /// `codel_time_t` when the sojourn will have been above target for an interval (0: below).
    pub first_above_time: u32,
    /// `codel_time_t` of the next drop.
    pub drop_next: u32,
    /// Sojourn of the last dequeued packet, codel units.
    pub ldelay: u32,
}

#[derive(Clone, Debug)]
pub(crate) struct RfcCodel {
    target: Time,
    interval: Time,
    mtu: u64,
    v: RfcCodelVars,
}

impl RfcCodel {
    #[inline]
    fn control_law(&self, t: Time, count: u32) -> Time {
        t + self.interval / f64::from(count).sqrt()
    }

    /// `dodequeue`: pops the head and says whether the sojourn has been above target for an
    /// interval.
    #[inline]
    fn dodequeue<H: HeadQueue>(&mut self, h: &mut H, now: Time) -> (Option<Packet>, bool) {
        let Some(p) = h.pop_head() else {
            self.v.first_above_time = None;
            return (None, false);
        };
        let sojourn = now - p.arrival;
        if sojourn < self.target || h.backlog() <= self.mtu {
            self.v.first_above_time = None;
            return (Some(p), false);
        }
        match self.v.first_above_time {
            None => {
                self.v.first_above_time = Some(now + self.interval);
                (Some(p), false)
            }
            Some(t) => (Some(p), now >= t),
        }
    }

    /// RFC 8289's `dequeue`. The usual outcomes (no drop due) return here; a drop goes to
    /// [`RfcCodel::dequeue_drop`].
    #[inline(always)]
    fn dequeue<H: HeadQueue>(&mut self, h: &mut H, now: Time) -> Option<Packet> {
        let (p, ok) = self.dodequeue(h, now);
        if !ok {
            // Leaves the dropping state, if in it.
            self.v.dropping = false;
            return p;
        }
        if self.v.dropping && now < self.v.drop_next {
            return p;
        }
        self.dequeue_drop(h, now, p)
    }

    /// The rest of `dequeue` once `dodequeue` said "ok to drop" and a drop is due: in the
    /// dropping state, the drops scheduled up to `now`; otherwise, entering it.
    #[inline(never)]
    fn dequeue_drop<H: HeadQueue>(
        &mut self,
        h: &mut H,
        now: Time,
        mut p: Option<Packet>,
    ) -> Option<Packet> {
        let mut ok;
        if self.v.dropping {
            while self.v.dropping && now >= self.v.drop_next {
                if let Some(d) = p.take() {
                    h.drop_head(d, now);
                }
                self.v.count = self.v.count.wrapping_add(1);
                (p, ok) = self.dodequeue(h, now);
                if ok {
                    self.v.drop_next = self.control_law(self.v.drop_next, self.v.count);
                } else {
                    self.v.dropping = false;
                }
            }
        } else {
            if let Some(d) = p.take() {
                h.drop_head(d, now);
            }
            (p, _) = self.dodequeue(h, now);
            self.v.dropping = true;
            let delta = self.v.count.wrapping_sub(self.v.lastcount);
            self.v.count = 1;
            if delta > 1 && now - self.v.drop_next < 16.0 * self.interval {
                self.v.count = delta;
            }
            self.v.drop_next = self.control_law(now, self.v.count);
            self.v.lastcount = self.v.count;
        }
        p
    }
}

#[derive(Clone, Debug)]
pub(crate) struct LinuxCodel {
    target: u32,
    interval: u32,
    mtu: u32,
    v: LinuxCodelVars,
}

impl LinuxCodel {
    /// `codel_should_drop`.
    #[inline]
    fn should_drop(&mut self, p: Option<&Packet>, backlog: u64, now: u32) -> bool {
        let Some(p) = p else {
            self.v.first_above_time = 0;
            return false;
        };
        let enq = kernel::ns_to_time(super::secs_to_ns(p.arrival));
        self.v.ldelay = now.wrapping_sub(enq);
        let backlog = u32::try_from(backlog).unwrap_or(u32::MAX);
        if kernel::time_before(self.v.ldelay, self.target) || backlog <= self.mtu {
            self.v.first_above_time = 0;
            return false;
        }
        if self.v.first_above_time == 0 {
            self.v.first_above_time = now.wrapping_add(self.interval);
            false
        } else {
            kernel::time_after(now, self.v.first_above_time)
        }
    }

    /// `codel_dequeue`. The usual outcomes (no drop due) return here; a drop goes to
    /// [`LinuxCodel::dequeue_drop`].
    #[inline(always)]
    fn dequeue<H: HeadQueue>(&mut self, h: &mut H, now_s: Time) -> Option<Packet> {
        let p = h.pop_head();
        if p.is_none() {
            self.v.dropping = false;
            return None;
        }
        let now = kernel::ns_to_time(super::secs_to_ns(now_s));
        if !self.should_drop(p.as_ref(), h.backlog(), now) {
            // Leaves the dropping state, if in it.
            self.v.dropping = false;
            return p;
        }
        if self.v.dropping && !kernel::time_after_eq(now, self.v.drop_next) {
            return p;
        }
        self.dequeue_drop(h, now_s, now, p)
    }

    /// The rest of `codel_dequeue` once `codel_should_drop` said drop and a drop is due: in
    /// the dropping state, the drops scheduled up to `now`; otherwise, entering it.
    #[inline(never)]
    fn dequeue_drop<H: HeadQueue>(
        &mut self,
        h: &mut H,
        now_s: Time,
        now: u32,
        mut p: Option<Packet>,
    ) -> Option<Packet> {
        if self.v.dropping {
            while self.v.dropping && kernel::time_after_eq(now, self.v.drop_next) {
                self.v.count = self.v.count.wrapping_add(1);
                self.v.rec_inv_sqrt = kernel::newton_step(self.v.rec_inv_sqrt, self.v.count);
                if let Some(d) = p.take() {
                    h.drop_head(d, now_s);
                }
                p = h.pop_head();
                if self.should_drop(p.as_ref(), h.backlog(), now) {
                    self.v.drop_next =
                        kernel::control_law(self.v.drop_next, self.interval, self.v.rec_inv_sqrt);
                } else {
                    self.v.dropping = false;
                }
            }
        } else {
            if let Some(d) = p.take() {
                h.drop_head(d, now_s);
            }
            p = h.pop_head();
            self.should_drop(p.as_ref(), h.backlog(), now);
            self.v.dropping = true;
            let delta = self.v.count.wrapping_sub(self.v.lastcount);
            if delta > 1
                && kernel::time_before(
                    now.wrapping_sub(self.v.drop_next),
                    self.interval.wrapping_mul(16),
                )
            {
                self.v.count = delta;
                self.v.rec_inv_sqrt = kernel::newton_step(self.v.rec_inv_sqrt, self.v.count);
            } else {
                self.v.count = 1;
                self.v.rec_inv_sqrt = kernel::REC_INV_SQRT_ONE;
            }
            self.v.lastcount = self.v.count;
            self.v.drop_next = kernel::control_law(now, self.interval, self.v.rec_inv_sqrt);
        }
        p
    }
}

/// The CoDel state machine of either variant, without a queue of its own.
#[derive(Clone, Debug)]
pub(crate) enum CodelCore {
    Rfc(RfcCodel),
    Linux(LinuxCodel),
}

impl CodelCore {
    pub(crate) fn new(p: &CodelParams) -> Self {
        match p.variant {
            CodelVariant::Rfc8289 => CodelCore::Rfc(RfcCodel {
                target: p.target,
                interval: p.interval,
                mtu: u64::from(p.mtu),
                v: RfcCodelVars::default(),
            }),
            CodelVariant::Linux => CodelCore::Linux(LinuxCodel {
                target: kernel::ns_to_time(super::secs_to_ns(p.target)),
                interval: kernel::ns_to_time(super::secs_to_ns(p.interval)),
                mtu: p.mtu,
                v: LinuxCodelVars::default(),
            }),
        }
    }

    #[inline(always)]
    pub(crate) fn dequeue<H: HeadQueue>(&mut self, h: &mut H, now: Time) -> Option<Packet> {
        match self {
            CodelCore::Rfc(c) => c.dequeue(h, now),
            CodelCore::Linux(c) => c.dequeue(h, now),
        }
    }

    /// FQ-CoDel's "tell codel to increase its signal strength": `count += n` after an
    /// overload drop of `n` packets from this flow.
    pub(crate) fn add_count(&mut self, n: u32) {
        match self {
            CodelCore::Rfc(c) => c.v.count = c.v.count.wrapping_add(n),
            CodelCore::Linux(c) => c.v.count = c.v.count.wrapping_add(n),
        }
    }

    pub(crate) fn rfc_vars(&self) -> Option<&RfcCodelVars> {
        match self {
            CodelCore::Rfc(c) => Some(&c.v),
            CodelCore::Linux(_) => None,
        }
    }

    pub(crate) fn linux_vars(&self) -> Option<&LinuxCodelVars> {
        match self {
            CodelCore::Rfc(_) => None,
            CodelCore::Linux(c) => Some(&c.v),
        }
    }
}

struct SingleQueue<'a> {
    q: &'a mut PacketQueue,
    drops: &'a mut Vec<Dropped>,
}

impl HeadQueue for SingleQueue<'_> {
    #[inline]
    fn pop_head(&mut self) -> Option<Packet> {
        self.q.pop()
    }
    #[inline]
    fn backlog(&self) -> u64 {
        self.q.bytes()
    }
    #[inline]
    fn drop_head(&mut self, pkt: Packet, now: Time) {
        self.drops.push(Dropped {
            packet: pkt,
            time: now,
            reason: DropReason::HeadDrop,
        });
    }
}

/// A single FIFO managed by CoDel (`sch_codel`): tail drop at `limit` packets, head drops by
/// the control law at dequeue.
#[derive(Clone, Debug)]
pub struct Codel {
    q: PacketQueue,
    core: CodelCore,
    limit: u64,
    drops: Vec<Dropped>,
}

impl Codel {
    /// An empty CoDel queue.
    pub fn new(config: CodelConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            q: PacketQueue::default(),
            core: CodelCore::new(&config.params),
            limit: config.limit,
            drops: Vec::new(),
        })
    }

    /// The RFC variant's state (`None` for the Linux variant).
    pub fn rfc_vars(&self) -> Option<&RfcCodelVars> {
        self.core.rfc_vars()
    }

    /// The Linux variant's state (`None` for the RFC variant).
    pub fn linux_vars(&self) -> Option<&LinuxCodelVars> {
        self.core.linux_vars()
    }
}

impl Discipline for Codel {
    #[inline]
    fn enqueue(&mut self, pkt: Packet, now: Time) -> EnqueueResult {
        if (self.q.len() as u64) < self.limit {
            self.q.push(pkt);
            EnqueueResult::Queued
        } else {
            self.drops.push(Dropped {
                packet: pkt,
                time: now,
                reason: DropReason::Overflow,
            });
            EnqueueResult::Dropped(DropReason::Overflow)
        }
    }

    #[inline(always)]
    fn dequeue(&mut self, now: Time) -> Option<Packet> {
        let mut h = SingleQueue {
            q: &mut self.q,
            drops: &mut self.drops,
        };
        self.core.dequeue(&mut h, now)
    }

    queue_and_drops!();

    fn name(&self) -> &'static str {
        match self.core {
            CodelCore::Rfc(_) => "codel-rfc8289",
            CodelCore::Linux(_) => "codel-linux",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::kernel::*;

    #[test]
    fn kernel_constants() {
        assert_eq!(REC_INV_SQRT_SHIFT, 16);
        assert_eq!(REC_INV_SQRT_ONE, 0xFFFF);
        // MS2TIME(100) and MS2TIME(5)
        assert_eq!(ns_to_time(100_000_000), 97_656);
        assert_eq!(ns_to_time(5_000_000), 4_882);
    }

    #[test]
    fn wraparound_compare() {
        assert!(time_after(5, u32::MAX - 5));
        assert!(time_before(u32::MAX - 5, 5));
        assert!(time_after_eq(7, 7));
        assert!(!time_after(7, 7));
    }

    #[test]
    fn newton_tracks_inverse_sqrt_as_count_grows() {
        // One step per count increment, as in the kernel: the estimate follows 1/sqrt(count)
        // (a fixed count iterated from 1.0 would diverge for count >= 3, which is why the
        // kernel never does that).
        let mut y = REC_INV_SQRT_ONE;
        for count in 2..=1000u32 {
            y = newton_step(y, count);
            if count >= 20 {
                let want = 1.0 / f64::from(count).sqrt();
                let got = f64::from(y) / 65536.0;
                assert!(
                    (got - want).abs() < 0.02 * want,
                    "count {count}: {got} vs {want}"
                );
            }
        }
    }
}
