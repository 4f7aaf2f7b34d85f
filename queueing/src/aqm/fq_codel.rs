//! FQ-CoDel: flow queueing with CoDel on each queue (RFC 8290; Linux `sch_fq_codel`).
//!
//! Each arriving packet's flow id is hashed (with a per-instance perturbation drawn from the
//! seed) onto one of `flows` queues (1024); distinct flows can collide, as in the kernel. Queues
//! with packets sit on one of two lists. A queue that becomes active joins the tail of the *new*
//! list with a deficit of one `quantum` (1514 bytes). Dequeue serves the head of the new list if
//! there is one, otherwise the head of the old list, by deficit round robin:
//!
//! * a queue whose deficit is used up (`<= 0`) gets another quantum and moves to the tail of the
//!   old list;
//! * otherwise its CoDel dequeues (possibly dropping at the head); if that yields nothing, the
//!   queue moves to the tail of the old list when it came from the new list and the old list is
//!   not empty (so that a flow cannot stay "new" forever), or leaves the lists;
//! * a served packet's size is taken from the deficit.
//!
//! So a sparse flow — one that empties its queue between packets — always returns through the
//! new list and is served ahead of the backlogged flows: its packets wait for at most the one
//! packet in transmission plus the other new flows.
//!
//! When the total exceeds `limit` packets (10 240) or `memory_limit` bytes (32 MiB), the queue
//! with the largest backlog in bytes loses packets from its head until half its backlog or
//! `drop_batch_size` (64) packets are gone, and its CoDel `count` is raised by the number
//! dropped. As in `sch_fq_codel`, each queue's CoDel compares the **total** backlog with the
//! MTU. The kernel charges `skb->truesize` against the memory limit; here it is the packet
//! size. By default the per-queue CoDel uses the Linux arithmetic ([`super::CodelVariant::Linux`]).

use super::codel::{CodelCore, HeadQueue};
use super::{
    invalid, CodelParams, CodelVariant, ConfigError, Discipline, DropReason, Dropped,
    EnqueueResult, Packet, Time,
};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// FQ-CoDel parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FqCodelConfig {
    /// CoDel parameters shared by every queue (default: Linux arithmetic, 5 ms, 100 ms, 1514).
    #[serde(flatten)]
    pub codel: CodelParams,
    /// Number of queues flows are hashed onto (default 1024; 1 ..= 65536).
    pub flows: u32,
    /// DRR quantum in bytes (default 1514; at least 256, as the kernel enforces).
    pub quantum: u32,
    /// Total packets (default 10 240).
    pub limit: u64,
    /// Total bytes (default 32 MiB).
    pub memory_limit: u64,
    /// Most packets dropped from the fattest queue per overload event (default 64).
    pub drop_batch_size: u32,
}

impl Default for FqCodelConfig {
    fn default() -> Self {
        Self {
            codel: CodelParams {
                variant: CodelVariant::Linux,
                ..CodelParams::default()
            },
            flows: 1024,
            quantum: 1514,
            limit: 10 * 1024,
            memory_limit: 32 << 20,
            drop_batch_size: 64,
        }
    }
}

impl FqCodelConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        self.codel.validate()?;
        if self.flows == 0 || self.flows > 65536 {
            return Err(invalid("fq_codel", "flows must be in 1 ..= 65536"));
        }
        if self.quantum < 256 {
            return Err(invalid("fq_codel", "quantum must be at least 256 bytes"));
        }
        if self.limit == 0 || self.memory_limit == 0 {
            return Err(invalid(
                "fq_codel",
                "limit and memory_limit must be at least 1",
            ));
        }
        if self.drop_batch_size == 0 {
            return Err(invalid("fq_codel", "drop_batch_size must be at least 1"));
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
struct FlowQueue {
    q: VecDeque<Packet>,
    backlog: u64,
    deficit: i64,
    codel: CodelCore,
    listed: bool,
}

/// FQ-CoDel.
#[derive(Clone, Debug)]
pub struct FqCodel {
    c: FqCodelConfig,
    queues: Vec<FlowQueue>,
    new_flows: VecDeque<u32>,
    old_flows: VecDeque<u32>,
    len: usize,
    bytes: u64,
    perturbation: u32,
    new_flow_count: u64,
    overlimit_drops: u64,
    drops: Vec<Dropped>,
}

/// A 32-bit integer mixer (xor-shift-multiply), so that consecutive flow ids spread out.
#[inline]
fn mix32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

struct FlowHost<'a> {
    q: &'a mut VecDeque<Packet>,
    backlog: &'a mut u64,
    len: &'a mut usize,
    bytes: &'a mut u64,
    drops: &'a mut Vec<Dropped>,
}

impl HeadQueue for FlowHost<'_> {
    #[inline]
    fn pop_head(&mut self) -> Option<Packet> {
        let p = self.q.pop_front()?;
        *self.backlog -= u64::from(p.size);
        *self.len -= 1;
        *self.bytes -= u64::from(p.size);
        Some(p)
    }
    #[inline]
    fn backlog(&self) -> u64 {
        *self.bytes
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

impl FqCodel {
    /// An empty FQ-CoDel; `seed` picks the hash perturbation.
    pub fn new(c: FqCodelConfig, seed: u64) -> Result<Self, ConfigError> {
        c.validate()?;
        let proto = FlowQueue {
            q: VecDeque::new(),
            backlog: 0,
            deficit: 0,
            codel: CodelCore::new(&c.codel),
            listed: false,
        };
        let perturbation = {
            use rand::RngCore;
            super::discipline_rng(seed, 0x4651).next_u32()
        };
        Ok(Self {
            queues: vec![proto; c.flows as usize],
            c,
            new_flows: VecDeque::new(),
            old_flows: VecDeque::new(),
            len: 0,
            bytes: 0,
            perturbation,
            new_flow_count: 0,
            overlimit_drops: 0,
            drops: Vec::new(),
        })
    }

    /// The queue index a flow id hashes to.
    pub fn bucket_of(&self, flow: u32) -> u32 {
        let h = mix32(flow ^ self.perturbation);
        ((u64::from(h) * u64::from(self.c.flows)) >> 32) as u32
    }

    /// Bytes waiting in the queue that `flow` hashes to.
    pub fn flow_backlog(&self, flow: u32) -> u64 {
        self.queues[self.bucket_of(flow) as usize].backlog
    }

    /// How many times a queue became active (joined the new list).
    pub fn new_flow_count(&self) -> u64 {
        self.new_flow_count
    }

    /// Packets dropped because the total limit was exceeded.
    pub fn overlimit_drops(&self) -> u64 {
        self.overlimit_drops
    }

    /// Drops from the head of the fattest queue; returns the id of the last packet dropped.
    fn drop_fattest(&mut self, now: Time) -> Option<u64> {
        let mut idx = 0usize;
        let mut max = 0u64;
        for (i, f) in self.queues.iter().enumerate() {
            if f.backlog > max {
                max = f.backlog;
                idx = i;
            }
        }
        let threshold = max >> 1;
        let f = &mut self.queues[idx];
        let mut len = 0u64;
        let mut n = 0u32;
        let mut last = None;
        while let Some(p) = f.q.pop_front() {
            len += u64::from(p.size);
            n += 1;
            last = Some(p.id);
            self.drops.push(Dropped {
                packet: p,
                time: now,
                reason: DropReason::FattestFlow,
            });
            if n >= self.c.drop_batch_size || len >= threshold {
                break;
            }
        }
        f.codel.add_count(n);
        f.backlog -= len;
        self.len -= n as usize;
        self.bytes -= len;
        self.overlimit_drops += u64::from(n);
        last
    }
}

impl Discipline for FqCodel {
    fn enqueue(&mut self, pkt: Packet, now: Time) -> EnqueueResult {
        let idx = self.bucket_of(pkt.flow);
        let f = &mut self.queues[idx as usize];
        f.q.push_back(pkt);
        f.backlog += u64::from(pkt.size);
        if !f.listed {
            f.listed = true;
            f.deficit = i64::from(self.c.quantum);
            self.new_flows.push_back(idx);
            self.new_flow_count += 1;
        }
        self.len += 1;
        self.bytes += u64::from(pkt.size);
        if self.len as u64 <= self.c.limit && self.bytes <= self.c.memory_limit {
            return EnqueueResult::Queued;
        }
        let before = self.drops.len();
        self.drop_fattest(now);
        if self.drops[before..].iter().any(|d| d.packet.id == pkt.id) {
            EnqueueResult::Dropped(DropReason::FattestFlow)
        } else {
            EnqueueResult::Queued
        }
    }

    fn dequeue(&mut self, now: Time) -> Option<Packet> {
        loop {
            let (from_new, idx) = if let Some(&i) = self.new_flows.front() {
                (true, i)
            } else if let Some(&i) = self.old_flows.front() {
                (false, i)
            } else {
                return None;
            };
            let quantum = i64::from(self.c.quantum);
            let FlowQueue {
                q,
                backlog,
                deficit,
                codel,
                listed,
            } = &mut self.queues[idx as usize];
            if *deficit <= 0 {
                *deficit += quantum;
                if from_new {
                    self.new_flows.pop_front();
                } else {
                    self.old_flows.pop_front();
                }
                self.old_flows.push_back(idx);
                continue;
            }
            let mut host = FlowHost {
                q,
                backlog,
                len: &mut self.len,
                bytes: &mut self.bytes,
                drops: &mut self.drops,
            };
            match codel.dequeue(&mut host, now) {
                Some(p) => {
                    *deficit -= i64::from(p.size);
                    return Some(p);
                }
                None => {
                    if from_new {
                        self.new_flows.pop_front();
                    } else {
                        self.old_flows.pop_front();
                    }
                    if from_new && !self.old_flows.is_empty() {
                        self.old_flows.push_back(idx);
                    } else {
                        *listed = false;
                    }
                }
            }
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn backlog_bytes(&self) -> u64 {
        self.bytes
    }

    fn drain_drops(&mut self) -> std::vec::Drain<'_, Dropped> {
        self.drops.drain(..)
    }

    #[inline]
    fn pending_drops(&self) -> usize {
        self.drops.len()
    }

    fn name(&self) -> &'static str {
        "fq_codel"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(id: u64, flow: u32, size: u32, t: Time) -> Packet {
        Packet {
            id,
            flow,
            size,
            arrival: t,
        }
    }

    #[test]
    fn new_flow_is_served_before_backlogged_flow() {
        let mut fq = FqCodel::new(FqCodelConfig::default(), 7).unwrap();
        assert_ne!(fq.bucket_of(1), fq.bucket_of(2));
        for i in 0..10 {
            fq.enqueue(pkt(i, 1, 1514, 0.0), 0.0);
        }
        // Flow 1 is served once, using up its quantum (1514 bytes)...
        assert_eq!(fq.dequeue(0.0).unwrap().flow, 1);
        // ...then a packet of flow 2 arrives and goes ahead of flow 1's backlog.
        fq.enqueue(pkt(100, 2, 100, 0.0), 0.0);
        assert_eq!(fq.dequeue(0.0).unwrap().id, 100);
        assert_eq!(fq.dequeue(0.0).unwrap().flow, 1);
    }

    #[test]
    fn overload_drops_from_the_fattest_flow() {
        let c = FqCodelConfig {
            limit: 20,
            ..FqCodelConfig::default()
        };
        let mut fq = FqCodel::new(c, 1).unwrap();
        for i in 0..4 {
            fq.enqueue(pkt(1000 + i, 2, 100, 0.0), 0.0);
        }
        for i in 0..16 {
            fq.enqueue(pkt(i, 1, 1000, 0.0), 0.0);
        }
        assert!(fq.drain_drops().next().is_none());
        // The 21st packet exceeds the limit: flow 1 (16 000 bytes) loses its head packets
        // until 8 000 bytes are gone.
        fq.enqueue(pkt(99, 2, 100, 0.0), 0.0);
        let d: Vec<_> = fq.drain_drops().collect();
        assert_eq!(d.len(), 8);
        assert!(d
            .iter()
            .all(|d| d.packet.flow == 1 && d.reason == DropReason::FattestFlow));
        assert_eq!(d[0].packet.id, 0);
        assert_eq!(fq.len(), 13);
        assert_eq!(fq.flow_backlog(1), 8000);
    }
}
