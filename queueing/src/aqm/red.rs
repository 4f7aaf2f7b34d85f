//! RED (Random Early Detection), as in Floyd & Jacobson, "Random Early Detection Gateways for
//! Congestion Avoidance", IEEE/ACM ToN 1(4), 1993, with the "gentle" extension (Floyd, 2000).
//!
//! On every arrival RED updates an exponentially weighted moving average of the queue size,
//!
//! ```text
//! avg <- (1 - w) * avg + w * q
//! ```
//!
//! and, when the link has been idle since `q_time`, instead decays it as if `m` packets of
//! typical transmission time `s` had left an empty queue: `avg <- (1 - w)^m * avg` with
//! `m = (now - q_time) / s`. As in Linux `sch_red`, the idle period starts when the server
//! asks for a packet and finds the queue empty, and ends at the next arrival.
//!
//! With `avg` between `min_th` and `max_th` the arrival is dropped with probability
//!
//! ```text
//! p_b = max_p * (avg - min_th) / (max_th - min_th)
//! p_a = p_b / (1 - count * p_b)          (1 once count * p_b >= 1)
//! ```
//!
//! where `count` is the number of packets accepted since the last drop (or since `avg` entered
//! the band; −1 while it is below `min_th`). The k-th arrival after a drop thus sees
//! `p_b / (1 - (k-1) p_b)`, which makes the gap between drops uniform on `1 ..= 1/p_b` rather
//! than geometric, as analysed in §7 of the paper. (Incrementing `count` *before* using it
//! would shift the gap by one and, once `p_b >= 0.5`, drop every arrival after the first drop.) Above `max_th` every arrival is dropped — unless `gentle` is on, in
//! which case between `max_th` and `2 max_th` the probability rises linearly,
//! `p_b = max_p + (1 - max_p) (avg - max_th) / max_th`, with the same count spacing, and only
//! above `2 max_th` is every arrival dropped. `count` is reset to −1 below `min_th` and to 0
//! after each drop. A hard `limit` (the physical buffer) tail-drops what RED accepted but does
//! not fit.

use super::{
    discipline_rng, invalid, uniform01, ConfigError, Discipline, DropReason, Dropped,
    EnqueueResult, Limit, Packet, PacketQueue, Time,
};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

/// What RED's thresholds count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum QueueMeasure {
    /// Packets.
    #[default]
    Packets,
    /// Bytes.
    Bytes,
}

/// RED parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RedConfig {
    /// Lower threshold on the average (packets or bytes; default 5).
    pub min_th: f64,
    /// Upper threshold (default 15).
    pub max_th: f64,
    /// Drop probability at `max_th` (default 0.1).
    pub max_p: f64,
    /// EWMA weight `w_q` (default 0.002).
    pub weight: f64,
    /// Physical buffer (default 60 packets).
    pub limit: Limit,
    /// Gentle mode (default on).
    pub gentle: bool,
    /// Unit of the thresholds.
    pub measure: QueueMeasure,
    /// Typical transmission time `s` of a small packet, seconds, for the idle correction
    /// (default 120 µs: 1500 bytes at 100 Mb/s).
    pub idle_packet_time: Time,
}

impl Default for RedConfig {
    fn default() -> Self {
        Self {
            min_th: 5.0,
            max_th: 15.0,
            max_p: 0.1,
            weight: 0.002,
            limit: Limit::Packets(60),
            gentle: true,
            measure: QueueMeasure::Packets,
            idle_packet_time: 120e-6,
        }
    }
}

impl RedConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if !(self.min_th.is_finite() && self.min_th >= 0.0) {
            return Err(invalid("red", "min_th must be finite and non-negative"));
        }
        if !(self.max_th.is_finite() && self.max_th > self.min_th) {
            return Err(invalid(
                "red",
                "max_th must be finite and greater than min_th",
            ));
        }
        if !(self.max_p > 0.0 && self.max_p <= 1.0) {
            return Err(invalid("red", "max_p must be in (0, 1]"));
        }
        if !(self.weight > 0.0 && self.weight <= 1.0) {
            return Err(invalid("red", "weight must be in (0, 1]"));
        }
        if !(self.idle_packet_time.is_finite() && self.idle_packet_time > 0.0) {
            return Err(invalid(
                "red",
                "idle_packet_time must be a positive number of seconds",
            ));
        }
        self.limit.validate("red")
    }
}

/// RED's state, for inspection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RedVars {
    /// Average queue size.
    pub avg: f64,
    /// Packets accepted since the last drop in the probabilistic band (−1 below `min_th`).
    pub count: i64,
    /// Start of the current idle period, if the link is idle.
    pub idle_since: Option<Time>,
    /// `p_b` at the last arrival (0 below `min_th`, 1 in the forced-drop region).
    pub last_pb: f64,
    /// `p_a` at the last arrival.
    pub last_pa: f64,
}

/// A FIFO managed by RED.
#[derive(Clone, Debug)]
pub struct Red {
    c: RedConfig,
    q: PacketQueue,
    v: RedVars,
    rng: Pcg64Mcg,
    drops: Vec<Dropped>,
}

impl Red {
    /// An empty RED queue; `seed` drives its random drops.
    pub fn new(c: RedConfig, seed: u64) -> Result<Self, ConfigError> {
        c.validate()?;
        Ok(Self {
            c,
            q: PacketQueue::default(),
            v: RedVars {
                avg: 0.0,
                count: -1,
                idle_since: None,
                last_pb: 0.0,
                last_pa: 0.0,
            },
            rng: discipline_rng(seed, 0x52_4544),
            drops: Vec::new(),
        })
    }

    /// The current state.
    pub fn vars(&self) -> &RedVars {
        &self.v
    }

    fn measure(&self) -> f64 {
        match self.c.measure {
            QueueMeasure::Packets => self.q.len() as f64,
            QueueMeasure::Bytes => self.q.bytes() as f64,
        }
    }

    /// Updates `avg` for an arrival at `now` (both branches of Floyd–Jacobson's rule).
    fn update_avg(&mut self, now: Time) {
        let w = self.c.weight;
        match self.v.idle_since.take() {
            Some(t0) => {
                let m = ((now - t0) / self.c.idle_packet_time).max(0.0);
                self.v.avg *= (1.0 - w).powf(m);
            }
            None => {
                let q = self.measure();
                self.v.avg = (1.0 - w) * self.v.avg + w * q;
            }
        }
    }

    /// The early-drop decision for the current `avg`.
    fn early_drop(&mut self) -> bool {
        let c = self.c;
        let avg = self.v.avg;
        let pb = if avg < c.min_th {
            self.v.count = -1;
            self.v.last_pb = 0.0;
            self.v.last_pa = 0.0;
            return false;
        } else if avg < c.max_th {
            c.max_p * (avg - c.min_th) / (c.max_th - c.min_th)
        } else if c.gentle && avg < 2.0 * c.max_th {
            c.max_p + (1.0 - c.max_p) * (avg - c.max_th) / c.max_th
        } else {
            self.v.count = 0;
            self.v.last_pb = 1.0;
            self.v.last_pa = 1.0;
            return true;
        };
        if self.v.count < 0 {
            self.v.count = 0;
        }
        let cp = self.v.count as f64 * pb;
        let pa = if cp >= 1.0 { 1.0 } else { pb / (1.0 - cp) };
        self.v.last_pb = pb;
        self.v.last_pa = pa;
        if uniform01(&mut self.rng) < pa {
            self.v.count = 0;
            true
        } else {
            self.v.count += 1;
            false
        }
    }
}

impl Discipline for Red {
    fn enqueue(&mut self, pkt: Packet, now: Time) -> EnqueueResult {
        self.update_avg(now);
        let reason = if self.early_drop() {
            Some(DropReason::Early)
        } else if !self.c.limit.admits(self.q.len(), self.q.bytes(), pkt.size) {
            Some(DropReason::Overflow)
        } else {
            None
        };
        match reason {
            None => {
                self.q.push(pkt);
                EnqueueResult::Queued
            }
            Some(r) => {
                self.drops.push(Dropped {
                    packet: pkt,
                    time: now,
                    reason: r,
                });
                EnqueueResult::Dropped(r)
            }
        }
    }

    fn dequeue(&mut self, now: Time) -> Option<Packet> {
        let p = self.q.pop();
        if p.is_none() && self.v.idle_since.is_none() {
            self.v.idle_since = Some(now);
        }
        p
    }

    queue_and_drops!();

    fn name(&self) -> &'static str {
        "red"
    }
}
