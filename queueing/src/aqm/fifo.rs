//! FIFO without a limit, and drop-tail FIFO with a packet or byte limit.

use super::{
    invalid, ConfigError, Discipline, DropReason, Dropped, EnqueueResult, Packet, PacketQueue, Time,
};
use serde::{Deserialize, Serialize};

/// A buffer limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// At most this many packets wait.
    Packets(u64),
    /// At most this many bytes wait.
    Bytes(u64),
}

impl Limit {
    pub(crate) fn validate(&self, who: &'static str) -> Result<(), ConfigError> {
        match self {
            Limit::Packets(0) | Limit::Bytes(0) => Err(invalid(
                who,
                "limit must be at least 1 (use the unlimited fifo for no limit)",
            )),
            _ => Ok(()),
        }
    }

    /// Whether a packet of `size` bytes fits in a queue holding `len` packets and `bytes` bytes.
    #[inline]
    pub fn admits(&self, len: usize, bytes: u64, size: u32) -> bool {
        match *self {
            Limit::Packets(n) => (len as u64) < n,
            Limit::Bytes(b) => bytes + u64::from(size) <= b,
        }
    }
}

/// First in, first out, with no limit. Never drops.
#[derive(Debug, Default, Clone)]
pub struct Fifo {
    q: PacketQueue,
    drops: Vec<Dropped>,
}

impl Fifo {
    /// An empty FIFO.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Discipline for Fifo {
    #[inline]
    fn enqueue(&mut self, pkt: Packet, _now: Time) -> EnqueueResult {
        self.q.push(pkt);
        EnqueueResult::Queued
    }
    #[inline]
    fn dequeue(&mut self, _now: Time) -> Option<Packet> {
        self.q.pop()
    }
    queue_and_drops!();
    fn name(&self) -> &'static str {
        "fifo"
    }
}

/// FIFO with a limit: an arrival that does not fit is dropped ([`DropReason::Overflow`]).
#[derive(Debug, Clone)]
pub struct DropTail {
    q: PacketQueue,
    limit: Limit,
    drops: Vec<Dropped>,
}

impl DropTail {
    /// An empty drop-tail queue.
    pub fn new(limit: Limit) -> Result<Self, ConfigError> {
        limit.validate("drop_tail")?;
        Ok(Self {
            q: PacketQueue::default(),
            limit,
            drops: Vec::new(),
        })
    }
}

impl Discipline for DropTail {
    #[inline]
    fn enqueue(&mut self, pkt: Packet, now: Time) -> EnqueueResult {
        if self.limit.admits(self.q.len(), self.q.bytes(), pkt.size) {
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
    #[inline]
    fn dequeue(&mut self, _now: Time) -> Option<Packet> {
        self.q.pop()
    }
    queue_and_drops!();
    fn name(&self) -> &'static str {
        "drop-tail"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(id: u64, size: u32) -> Packet {
        Packet {
            id,
            flow: 0,
            size,
            arrival: 0.0,
        }
    }

    #[test]
    fn byte_limit_counts_the_arriving_packet() {
        let mut q = DropTail::new(Limit::Bytes(3000)).unwrap();
        assert_eq!(q.enqueue(pkt(0, 1500), 0.0), EnqueueResult::Queued);
        assert_eq!(q.enqueue(pkt(1, 1500), 0.0), EnqueueResult::Queued);
        assert_eq!(
            q.enqueue(pkt(2, 1), 0.0),
            EnqueueResult::Dropped(DropReason::Overflow)
        );
        let d: Vec<_> = q.drain_drops().collect();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].packet.id, 2);
        assert_eq!(q.dequeue(0.0).unwrap().id, 0);
        assert_eq!(q.enqueue(pkt(3, 1500), 0.0), EnqueueResult::Queued);
    }

    #[test]
    fn packet_limit() {
        let mut q = DropTail::new(Limit::Packets(2)).unwrap();
        for i in 0..5 {
            q.enqueue(pkt(i, 100), 0.0);
        }
        assert_eq!(q.len(), 2);
        assert_eq!(q.drain_drops().count(), 3);
        assert!(DropTail::new(Limit::Packets(0)).is_err());
    }
}
