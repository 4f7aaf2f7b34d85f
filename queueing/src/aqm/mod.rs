//! Queue disciplines as pure state machines driven by virtual time.
//!
//! A discipline decides which packets wait, which leave and which are dropped. Every one here is
//! a plain value: it never reads a clock (the caller passes `now`, in seconds of virtual time) and
//! never allocates per packet beyond its queue, so the simulator in [`crate::sim`] and the tests
//! can drive it step by step and get the same answer every time.
//!
//! | type | algorithm | source |
//! |---|---|---|
//! | [`Fifo`] | first in, first out, no limit | — |
//! | [`DropTail`] | FIFO with a packet or byte limit; arrivals over the limit are dropped | — |
//! | [`Red`] | Random Early Detection: EWMA of the queue, count-spaced early drops, gentle mode | Floyd & Jacobson 1993; Floyd 2000 ("gentle") |
//! | [`Codel`] | Controlled Delay, in the RFC 8289 form and with the Linux kernel's integer arithmetic | RFC 8289; `include/net/codel.h`, `codel_impl.h` |
//! | [`Pie`] | Proportional Integral controller Enhanced, RFC 8033 and Linux `sch_pie` | RFC 8033; `net/sched/sch_pie.c`, `include/net/pie.h` |
//! | [`FqCodel`] | flow queueing (hashed flows, DRR with a quantum, new/old lists) with CoDel per flow | RFC 8290; `net/sched/sch_fq_codel.c` |
//!
//! # The contract
//!
//! [`Discipline::enqueue`] is called when a packet arrives and [`Discipline::dequeue`] when the
//! server (a link, or one of several servers) is ready for the next packet. Both may drop: RED and
//! PIE drop arrivals, CoDel drops at the head when it dequeues, FQ-CoDel drops from the fattest
//! flow when its limit is hit. Every drop, whatever its cause, is appended to an internal log that
//! the caller empties with [`Discipline::drain_drops`] after each call; the simulator does this, so
//! the log never grows.
//!
//! Periodic work (PIE's probability update every `t_update`) is done lazily: before handling an
//! event at `now`, a discipline first runs every update that fell due at or before `now`. Between
//! events the queue does not change, so this gives exactly the state a real timer would have
//! produced; when an update and an event fall on the same instant, the update runs first.
//!
//! Random decisions (RED, PIE) use a [`rand_pcg::Pcg64Mcg`] owned by the discipline and seeded
//! from the configuration's seed, so a discipline is reproducible bit for bit.
//!
//! ECN is not modelled: packets are not ECN-capable, so every congestion signal is a drop.

/// The four [`Discipline`] accessors of a discipline that keeps its packets in a field `q`
/// (a [`PacketQueue`]) and its drop log in a field `drops` (a `Vec<Dropped>`): used inside the
/// `impl Discipline` of every such discipline.
macro_rules! queue_and_drops {
    () => {
        fn len(&self) -> usize {
            self.q.len()
        }

        fn backlog_bytes(&self) -> u64 {
            self.q.bytes()
        }

        fn drain_drops(&mut self) -> std::vec::Drain<'_, Dropped> {
            self.drops.drain(..)
        }

        #[inline]
        fn pending_drops(&self) -> usize {
            self.drops.len()
        }
    };
}

mod codel;
mod fifo;
mod fq_codel;
mod pie;
mod red;

pub use codel::{
    kernel as codel_kernel, Codel, CodelConfig, CodelParams, CodelVariant, LinuxCodelVars,
    RfcCodelVars,
};
pub use fifo::{DropTail, Fifo, Limit};
pub use fq_codel::{FqCodel, FqCodelConfig};
pub use pie::{
    kernel as pie_kernel, DelayEstimator, LinuxPieVars, Pie, PieConfig, PieVariant, RfcPieVars,
};
pub use red::{QueueMeasure, Red, RedConfig, RedVars};

use serde::{Deserialize, Serialize};

/// Virtual time in seconds.
///
/// `f64` seconds keep nanosecond resolution for about 100 days of virtual time; the Linux
/// variants convert to the kernel's integer clocks (`ns >> 10` for CoDel, `ns >> 6` for PIE)
/// themselves and need `now >= 0`.
pub type Time = f64;

/// One packet (or customer) as a discipline sees it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Packet {
    /// Sequence number, unique within a run.
    pub id: u64,
    /// Flow identifier; FQ-CoDel hashes it to pick a queue.
    pub flow: u32,
    /// Size in bytes.
    pub size: u32,
    /// Arrival (enqueue) time in seconds; the sojourn at dequeue is `now - arrival`.
    pub arrival: Time,
}

/// Why a packet was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DropReason {
    /// The buffer limit (packets or bytes) was reached when the packet arrived.
    Overflow,
    /// An early (probabilistic) drop on arrival: RED or PIE.
    Early,
    /// A CoDel drop at the head of the queue, at dequeue time.
    HeadDrop,
    /// FQ-CoDel's overload drop from the flow with the largest backlog.
    FattestFlow,
}

/// A drop, as logged by a discipline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropped {
    /// The packet that was dropped.
    pub packet: Packet,
    /// When it was dropped.
    pub time: Time,
    /// Why.
    pub reason: DropReason,
}

/// What happened to an arriving packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnqueueResult {
    /// The packet is in the queue.
    Queued,
    /// The packet was dropped on arrival (it is also in the drop log).
    Dropped(DropReason),
}

/// A queue discipline driven by virtual time.
pub trait Discipline {
    /// Offers an arriving packet at time `now` (normally `pkt.arrival == now`).
    fn enqueue(&mut self, pkt: Packet, now: Time) -> EnqueueResult;
    /// Takes the next packet to serve at time `now`, dropping at the head first if the
    /// algorithm says so. `None` when the queue is empty (possibly after head drops).
    fn dequeue(&mut self, now: Time) -> Option<Packet>;
    /// Packets waiting.
    fn len(&self) -> usize;
    /// Whether no packet is waiting.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Bytes waiting.
    fn backlog_bytes(&self) -> u64;
    /// Takes the drops logged since the last call, oldest first.
    fn drain_drops(&mut self) -> std::vec::Drain<'_, Dropped>;
    /// How many drops are waiting to be drained.
    fn pending_drops(&self) -> usize;
    /// A short name for reports ("fifo", "codel-rfc", ...).
    fn name(&self) -> &'static str;
}

/// An invalid discipline configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A parameter is out of range; the message names it and the accepted range.
    #[error("{discipline}: {message}")]
    Invalid {
        /// The discipline ("red", "codel", ...).
        discipline: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
}

pub(crate) fn invalid(discipline: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        discipline,
        message: message.into(),
    }
}

/// Which discipline to build, with its parameters; the serialisable form a scenario carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DisciplineConfig {
    /// FIFO with no limit.
    #[default]
    Fifo,
    /// FIFO with a limit; arrivals that do not fit are dropped.
    DropTail {
        /// The limit.
        limit: Limit,
    },
    /// Random Early Detection.
    Red(RedConfig),
    /// CoDel (RFC 8289 or Linux arithmetic).
    Codel(CodelConfig),
    /// PIE (RFC 8033 or Linux arithmetic).
    Pie(PieConfig),
    /// FQ-CoDel.
    FqCodel(FqCodelConfig),
}

impl DisciplineConfig {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            DisciplineConfig::Fifo => Ok(()),
            DisciplineConfig::DropTail { limit } => limit.validate("drop_tail"),
            DisciplineConfig::Red(c) => c.validate(),
            DisciplineConfig::Codel(c) => c.validate(),
            DisciplineConfig::Pie(c) => c.validate(),
            DisciplineConfig::FqCodel(c) => c.validate(),
        }
    }

    /// Whether this is the unlimited FIFO (the simulator's fast path applies).
    pub fn is_unlimited_fifo(&self) -> bool {
        matches!(self, DisciplineConfig::Fifo)
    }

    /// Builds the discipline; `seed` feeds its random decisions (RED, PIE).
    pub fn build(&self, seed: u64) -> Result<AnyDiscipline, ConfigError> {
        self.validate()?;
        Ok(match self {
            DisciplineConfig::Fifo => AnyDiscipline::Fifo(Fifo::new()),
            DisciplineConfig::DropTail { limit } => AnyDiscipline::DropTail(DropTail::new(*limit)?),
            DisciplineConfig::Red(c) => AnyDiscipline::Red(Red::new(*c, seed)?),
            DisciplineConfig::Codel(c) => AnyDiscipline::Codel(Codel::new(*c)?),
            DisciplineConfig::Pie(c) => AnyDiscipline::Pie(Pie::new(*c, seed)?),
            DisciplineConfig::FqCodel(c) => AnyDiscipline::FqCodel(FqCodel::new(*c, seed)?),
        })
    }
}

/// Any of the disciplines, dispatched by `match` (no allocation, no virtual call).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum AnyDiscipline {
    /// See [`Fifo`].
    Fifo(Fifo),
    /// See [`DropTail`].
    DropTail(DropTail),
    /// See [`Red`].
    Red(Red),
    /// See [`Codel`].
    Codel(Codel),
    /// See [`Pie`].
    Pie(Pie),
    /// See [`FqCodel`].
    FqCodel(FqCodel),
}

macro_rules! dispatch {
    ($self:expr, $d:ident => $e:expr) => {
        match $self {
            AnyDiscipline::Fifo($d) => $e,
            AnyDiscipline::DropTail($d) => $e,
            AnyDiscipline::Red($d) => $e,
            AnyDiscipline::Codel($d) => $e,
            AnyDiscipline::Pie($d) => $e,
            AnyDiscipline::FqCodel($d) => $e,
        }
    };
}

impl Discipline for AnyDiscipline {
    #[inline]
    fn enqueue(&mut self, pkt: Packet, now: Time) -> EnqueueResult {
        dispatch!(self, d => d.enqueue(pkt, now))
    }
    #[inline]
    fn dequeue(&mut self, now: Time) -> Option<Packet> {
        dispatch!(self, d => d.dequeue(now))
    }
    #[inline]
    fn len(&self) -> usize {
        dispatch!(self, d => d.len())
    }
    #[inline]
    fn backlog_bytes(&self) -> u64 {
        dispatch!(self, d => d.backlog_bytes())
    }
    #[inline]
    fn drain_drops(&mut self) -> std::vec::Drain<'_, Dropped> {
        dispatch!(self, d => d.drain_drops())
    }
    #[inline]
    fn pending_drops(&self) -> usize {
        dispatch!(self, d => d.pending_drops())
    }
    fn name(&self) -> &'static str {
        dispatch!(self, d => d.name())
    }
}

/// A simple packet FIFO with a byte counter, shared by the single-queue disciplines.
#[derive(Debug, Default, Clone)]
pub(crate) struct PacketQueue {
    q: std::collections::VecDeque<Packet>,
    bytes: u64,
}

impl PacketQueue {
    #[inline]
    pub(crate) fn push(&mut self, p: Packet) {
        self.bytes += u64::from(p.size);
        self.q.push_back(p);
    }
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Packet> {
        let p = self.q.pop_front()?;
        self.bytes -= u64::from(p.size);
        Some(p)
    }
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.q.len()
    }
    #[inline]
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// Seeds a discipline's generator from a scenario seed and a per-discipline tag.
pub(crate) fn discipline_rng(seed: u64, tag: u64) -> rand_pcg::Pcg64Mcg {
    use rand::SeedableRng;
    rand_pcg::Pcg64Mcg::seed_from_u64(seed ^ tag.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Seconds of virtual time to the nearest whole nanosecond (negative times give 0).
#[inline]
pub(crate) fn secs_to_ns(t: Time) -> u64 {
    // `+ 0.5` and truncation rather than `f64::round`, which is a libm call on baseline x86-64.
    let ns = t * 1e9;
    if ns > 0.0 {
        (ns + 0.5) as u64
    } else {
        0
    }
}

/// A uniform draw in `[0, 1)` with 53 random bits.
#[inline]
pub(crate) fn uniform01(rng: &mut rand_pcg::Pcg64Mcg) -> f64 {
    use rand::RngCore;
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}
