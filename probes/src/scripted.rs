//! An in-memory datapath that plays a STAMP (or echo) reflector with scripted impairments:
//! drop, duplicate, hold back (reorder), delay past the timeout (late), or truncate (malformed)
//! chosen sequence numbers. It makes the probe's accounting testable exactly, with no network.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use latlab_kernels::{Datapath, DatapathError, DatapathInfo, DatapathKind, Received};

use crate::clock::wall_ns;
use crate::rtt::ReplyFormat;
use crate::stamp::{self, ErrorEstimate, NtpTimestamp, ReflectParams, SenderPacket};

/// What happens to the reply to one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Never answered.
    Drop,
    /// Answered twice.
    Duplicate,
    /// Answered after this many further probes have been sent.
    HoldFor(u32),
    /// Answered after this much time.
    Delay(Duration),
    /// Answered with a reply cut to 20 bytes.
    Truncate,
}

/// The scripted datapath. Probes whose sequence number is not in the script are answered at
/// once.
#[derive(Debug)]
pub struct Scripted {
    script: HashMap<u32, Fate>,
    reply: ReplyFormat,
    ready: VecDeque<Vec<u8>>,
    held: Vec<(u64, Vec<u8>)>,
    delayed: Vec<(Instant, Vec<u8>)>,
    sends: u64,
    idle_polls: u64,
    /// Probes the datapath has seen.
    pub seen: u64,
}

impl Scripted {
    /// A scripted reflector answering in `reply` format.
    pub fn new(reply: ReplyFormat, script: impl IntoIterator<Item = (u32, Fate)>) -> Scripted {
        Scripted {
            script: script.into_iter().collect(),
            reply,
            ready: VecDeque::new(),
            held: Vec::new(),
            delayed: Vec::new(),
            sends: 0,
            idle_polls: 0,
            seen: 0,
        }
    }
}

impl Datapath for Scripted {
    fn info(&self) -> DatapathInfo {
        DatapathInfo {
            kind: DatapathKind::Scripted,
            local: None,
            peer: None,
            busy_poll_us: None,
            spin: true,
            kernel_rx_timestamps: false,
            mode: None,
            notes: vec![format!("{} scripted fates", self.script.len())],
        }
    }

    fn send(&mut self, msg: &[u8]) -> Result<(), DatapathError> {
        self.sends += 1;
        self.idle_polls = 0;
        self.seen += 1;
        let seq = SenderPacket::decode(msg).map(|p| p.seq).unwrap_or(u32::MAX);
        let mut reply = vec![0u8; msg.len()];
        match self.reply {
            ReplyFormat::Echo => reply.copy_from_slice(msg),
            ReplyFormat::Stamp => {
                let params = ReflectParams {
                    receive_timestamp: NtpTimestamp::from_unix_ns(wall_ns()),
                    error_estimate: ErrorEstimate::from_seconds(1e-6, false),
                    sender_ttl: 64,
                    reflector_seq: None,
                };
                if stamp::reflect(msg, &mut reply, &params, || {
                    NtpTimestamp::from_unix_ns(wall_ns())
                })
                .is_err()
                {
                    return Ok(());
                }
            }
        }
        match self.script.get(&seq).copied() {
            None => self.ready.push_back(reply),
            Some(Fate::Drop) => {}
            Some(Fate::Duplicate) => {
                self.ready.push_back(reply.clone());
                self.ready.push_back(reply);
            }
            Some(Fate::HoldFor(n)) => self.held.push((self.sends + u64::from(n), reply)),
            Some(Fate::Delay(d)) => self.delayed.push((Instant::now() + d, reply)),
            Some(Fate::Truncate) => {
                reply.truncate(20);
                self.ready.push_back(reply);
            }
        }
        // Release held replies whose turn has come, in the order they were held.
        let sends = self.sends;
        let (due, keep): (Vec<_>, Vec<_>) = self.held.drain(..).partition(|(at, _)| *at <= sends);
        self.held = keep;
        self.ready.extend(due.into_iter().map(|(_, r)| r));
        Ok(())
    }

    fn try_recv(&mut self, buf: &mut [u8]) -> Result<Option<Received>, DatapathError> {
        let now = Instant::now();
        if let Some(i) = self.delayed.iter().position(|(at, _)| *at <= now) {
            let (_, r) = self.delayed.remove(i);
            self.ready.push_back(r);
        }
        if self.ready.is_empty() && !self.held.is_empty() {
            // Nothing else is being sent: held replies must not wait for sends that never
            // come, so release them after a long idle spell.
            self.idle_polls += 1;
            if self.idle_polls > 200_000 {
                self.ready.extend(self.held.drain(..).map(|(_, r)| r));
            }
        }
        Ok(self.ready.pop_front().map(|r| {
            let n = r.len().min(buf.len());
            buf[..n].copy_from_slice(&r[..n]);
            Received {
                len: n,
                kernel_rx_unix_ns: None,
                ttl: None,
            }
        }))
    }
}
