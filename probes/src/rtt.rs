//! The round-trip probe: one loop, any datapath.
//!
//! The probe sends STAMP Session-Sender packets (or, towards an echo reflector, the same bytes
//! expecting them back unchanged) and matches replies by sequence number.
//!
//! * **Closed loop** ([`Schedule::Closed`]): one probe outstanding; the next is sent as soon as
//!   the previous is answered or declared lost. This measures the floor.
//! * **Open loop** ([`Schedule::Constant`], [`Schedule::Poisson`]): probes leave on a schedule
//!   fixed in advance, whatever the replies do. Latency is measured from the *intended* send
//!   time, so a stall that delays sending shows up as latency instead of disappearing
//!   (coordinated omission); the latency from the actual send time is recorded beside it.
//!
//! The loop busy-polls the datapath from the calling thread (pin it first), reads the clock
//! once per event, and never allocates after start. Sequence state lives in a ring sized for
//! the rate × timeout, so loss is found by timeout, duplicates and late replies by state, and
//! reordering by comparison with the highest sequence number answered so far.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use latlab_kernels::{Datapath, DatapathError};
use rand::{Rng, SeedableRng};

use crate::clock::{wall_ns, Clock};
use crate::manifest::SignedStats;
use crate::record::{new_histogram, record_ns, LatencyRecorder};
use crate::stamp::{ErrorEstimate, NtpTimestamp, ReflectorPacket, SenderPacket, BASE_LEN};

/// When probes are sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// One outstanding probe, back to back.
    Closed,
    /// Every 1/rate seconds.
    Constant {
        /// Probes per second.
        rate_hz: f64,
    },
    /// Exponential gaps with mean 1/rate (a Poisson process), from a seeded generator.
    Poisson {
        /// Probes per second.
        rate_hz: f64,
        /// Generator seed (the run is repeatable for a given seed).
        seed: u64,
    },
}

impl Schedule {
    /// `closed`, `constant` or `poisson`.
    pub fn name(&self) -> &'static str {
        match self {
            Schedule::Closed => "closed",
            Schedule::Constant { .. } => "constant",
            Schedule::Poisson { .. } => "poisson",
        }
    }

    /// The intended rate, for open-loop schedules.
    pub fn rate_hz(&self) -> Option<f64> {
        match *self {
            Schedule::Closed => None,
            Schedule::Constant { rate_hz } | Schedule::Poisson { rate_hz, .. } => Some(rate_hz),
        }
    }
}

/// What the far end sends back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyFormat {
    /// A STAMP Session-Reflector packet (t2 and t3 included).
    Stamp,
    /// The probe's own bytes, unchanged (a TCP or UDP echo service).
    Echo,
}

/// Configuration of one RTT probe.
#[derive(Debug, Clone)]
pub struct RttConfig {
    /// Stop after this many measured probes (warm-up not included).
    pub count: Option<u64>,
    /// Stop after this much measuring time (warm-up not included).
    pub duration: Option<Duration>,
    /// Probes sent first and discarded.
    pub warmup: u64,
    /// Message size in bytes (at least 44, the STAMP packet).
    pub size: usize,
    /// Send schedule.
    pub schedule: Schedule,
    /// A probe unanswered this long is lost.
    pub timeout: Duration,
    /// Reply format.
    pub reply: ReplyFormat,
    /// STAMP Session-Sender Identifier.
    pub ssid: u16,
    /// Interval length of the `.hlog`.
    pub interval: Duration,
    /// The sender clock's error estimate, written into each packet.
    pub error_estimate: ErrorEstimate,
    /// Give up when nothing at all has come back after this long (at least `timeout`).
    pub give_up_after: Duration,
}

impl Default for RttConfig {
    fn default() -> Self {
        RttConfig {
            count: Some(10_000),
            duration: None,
            warmup: 1_000,
            size: BASE_LEN,
            schedule: Schedule::Closed,
            timeout: Duration::from_secs(1),
            reply: ReplyFormat::Stamp,
            ssid: 0,
            interval: Duration::from_secs(1),
            error_estimate: ErrorEstimate::from_seconds(1e-6, false),
            give_up_after: Duration::from_secs(2),
        }
    }
}

/// Counters a probe shares with whoever shows progress (updated every few hundred probes).
#[derive(Debug, Default)]
pub struct Live {
    /// Measured probes sent.
    pub sent: AtomicU64,
    /// Replies received in time.
    pub received: AtomicU64,
    /// Probes declared lost.
    pub lost: AtomicU64,
}

/// Event counts of a probe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Measured probes sent (and resolved).
    pub sent: u64,
    /// Answered in time.
    pub received: u64,
    /// Not answered within the timeout.
    pub lost: u64,
    /// Answered after being declared lost.
    pub late: u64,
    /// Answered after a later probe was.
    pub reordered: u64,
    /// Answered more than once.
    pub duplicates: u64,
    /// Unparseable, foreign, or of an unknown sequence number.
    pub malformed: u64,
}

/// Everything one probe measured.
#[derive(Debug)]
pub struct RttOutcome {
    /// RTT (open loop: from the intended send time), cut into intervals.
    pub rtt: LatencyRecorder,
    /// Open loop only: RTT from the actual send time.
    pub rtt_uncorrected: Option<Histogram<u64>>,
    /// STAMP only: RTT minus reflector residence.
    pub network_rtt: Option<Histogram<u64>>,
    /// STAMP only: reflector residence t3 − t2.
    pub residence: Option<Histogram<u64>>,
    /// STAMP only: clock offset estimates.
    pub offset: Option<SignedStats>,
    /// With kernel RX timestamps: kernel receive to user space.
    pub rx_kernel_to_user: Option<Histogram<u64>>,
    /// Counts.
    pub counters: Counters,
    /// Warm-up probes sent.
    pub warmup: u64,
    /// Wall-clock time of the start of measurement (after warm-up), ns since the Unix epoch.
    pub start_unix_ns: u64,
    /// Measuring time, ns.
    pub duration_ns: u64,
    /// Stopped early by the stop flag.
    pub interrupted: bool,
}

/// Why a probe could not produce results.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// Nothing came back at all.
    #[error("no reply from {target} after {waited:?} ({sent} probes sent): is a STAMP reflector running there (`latlab reflect --bind {target}`), and does a firewall let UDP/TCP through?")]
    NoReply {
        /// The target.
        target: String,
        /// How long the probe waited.
        waited: Duration,
        /// Probes sent.
        sent: u64,
    },
    /// The target host answered with ICMP port unreachable (UDP) before any reply.
    #[error("{target} refused the probe (ICMP port unreachable): nothing listens on that port; start a reflector with `latlab reflect --bind {target}`")]
    Refused {
        /// The target.
        target: String,
    },
    /// The configuration cannot work.
    #[error("invalid probe configuration: {0}")]
    Config(String),
    /// The datapath failed.
    #[error(transparent)]
    Datapath(#[from] DatapathError),
}

const EMPTY: u8 = 0;
const OUTSTANDING: u8 = 1;
const RECEIVED: u8 = 2;
const LOST: u8 = 3;

#[derive(Clone, Copy, Default)]
struct Slot {
    seq: u64,
    intended: u64,
    sent: u64,
    wall_sent_ns: u64,
    state: u8,
}

struct Welford {
    n: u64,
    mean: f64,
    m2: f64,
    min: i64,
    max: i64,
}

impl Welford {
    fn new() -> Self {
        Welford {
            n: 0,
            mean: 0.0,
            m2: 0.0,
            min: i64::MAX,
            max: i64::MIN,
        }
    }
    fn push(&mut self, x: i64) {
        self.n += 1;
        let d = x as f64 - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x as f64 - self.mean);
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }
    fn stats(&self) -> Option<SignedStats> {
        (self.n > 0).then(|| SignedStats {
            count: self.n,
            min: self.min,
            max: self.max,
            mean: self.mean,
            stddev: if self.n > 1 {
                (self.m2 / (self.n - 1) as f64).sqrt()
            } else {
                0.0
            },
        })
    }
}

/// Runs one RTT probe over `dp` until its count or duration is reached, `stop` is set, or the
/// target proves silent. `target` only names the peer in messages.
pub fn run<D: Datapath + ?Sized>(
    dp: &mut D,
    clock: &Clock,
    cfg: &RttConfig,
    target: &str,
    stop: &AtomicBool,
    live: &Live,
) -> Result<RttOutcome, ProbeError> {
    if cfg.size < BASE_LEN {
        return Err(ProbeError::Config(format!(
            "message size {} is below the STAMP packet's {BASE_LEN} bytes",
            cfg.size
        )));
    }
    if cfg.count.is_none() && cfg.duration.is_none() {
        return Err(ProbeError::Config("give a count or a duration".into()));
    }
    if let Some(r) = cfg.schedule.rate_hz() {
        if !(r.is_finite() && r > 0.0) {
            return Err(ProbeError::Config(format!(
                "rate must be a positive number, not {r}"
            )));
        }
    }
    let open = cfg.schedule != Schedule::Closed;
    let stamp = cfg.reply == ReplyFormat::Stamp;

    // Ring of per-sequence state, large enough for every probe that can be outstanding.
    let window = match cfg.schedule.rate_hz() {
        None => 1024,
        Some(r) => ((r * (cfg.timeout.as_secs_f64() + 0.5) * 2.0) as usize).clamp(1024, 1 << 22),
    }
    .next_power_of_two();
    let mask = window as u64 - 1;
    let mut ring = vec![Slot::default(); window];

    let mut tx = vec![0u8; cfg.size];
    let mut rx = vec![0u8; cfg.size.max(2048)];
    let mut pkt = SenderPacket {
        seq: 0,
        timestamp: NtpTimestamp::default(),
        error_estimate: cfg.error_estimate,
        ssid: cfg.ssid,
    };
    pkt.encode(&mut tx).expect("size checked above");

    let timeout_ticks = clock.ns_to_ticks(cfg.timeout.as_nanos() as u64);
    let give_up_ticks = clock.ns_to_ticks(cfg.give_up_after.max(cfg.timeout).as_nanos() as u64);
    let mut rng = rand::rngs::StdRng::seed_from_u64(match cfg.schedule {
        Schedule::Poisson { seed, .. } => seed,
        _ => 0,
    });
    let gap_ticks = |rng: &mut rand::rngs::StdRng| -> u64 {
        match cfg.schedule {
            Schedule::Closed => 0,
            Schedule::Constant { rate_hz } => clock.ns_to_ticks((1e9 / rate_hz) as u64),
            Schedule::Poisson { rate_hz, .. } => {
                let u: f64 = rng.random();
                clock.ns_to_ticks((-(1.0 - u).ln() / rate_hz * 1e9) as u64)
            }
        }
    };

    let mut rtt = LatencyRecorder::new(cfg.interval);
    let mut uncorrected = open.then(new_histogram);
    let mut network = stamp.then(new_histogram);
    let mut residence = stamp.then(new_histogram);
    let mut offset = Welford::new();
    let mut rx_stack: Option<Histogram<u64>> = None;
    let mut c = Counters::default();

    let first_send = clock.now();
    let mut next_seq: u64 = 0; // next to send
    let mut oldest: u64 = 0; // oldest possibly unresolved
    let mut next_intended = first_send;
    let mut measure_start: Option<u64> = None;
    let mut measure_end: Option<u64> = None; // tick at which no more measured probes are sent
    let mut max_answered: Option<u64> = None;
    let mut any_reply = false;
    let mut sending = true;
    let mut interrupted = false;
    let mut iter: u64 = 0;
    let measured = |seq: u64| seq >= cfg.warmup;

    loop {
        iter = iter.wrapping_add(1);
        let now = clock.now();

        // Send.
        if sending {
            let due = if open {
                now >= next_intended
            } else {
                next_seq == oldest
            };
            if due {
                let seq = next_seq;
                if measured(seq) && measure_start.is_none() {
                    let t = if open { next_intended } else { now };
                    measure_start = Some(t);
                    measure_end = cfg
                        .duration
                        .map(|d| t + clock.ns_to_ticks(d.as_nanos() as u64));
                }
                let over_count = cfg.count.is_some_and(|n| seq >= cfg.warmup + n);
                let intended = if open { next_intended } else { now };
                let over_time = measure_end.is_some_and(|end| intended >= end);
                if over_count || over_time {
                    sending = false;
                    // Measuring time ends when sending does: the wait for the last replies is
                    // not part of it, so the achieved rate is not understated.
                    if measure_start.is_some() {
                        measure_end = Some(measure_end.map_or(intended, |e| e.min(intended)));
                    }
                } else {
                    // The window is full only when far more than rate × timeout probes are in
                    // flight: the oldest have waited much longer than the timeout already.
                    while seq - oldest >= window as u64 {
                        let old = &mut ring[(oldest & mask) as usize];
                        if old.state == OUTSTANDING {
                            old.state = LOST;
                            if measured(old.seq) {
                                c.lost += 1;
                            }
                        }
                        oldest += 1;
                    }
                    let slot = &mut ring[(seq & mask) as usize];
                    let wall = wall_ns();
                    pkt.seq = seq as u32;
                    pkt.timestamp = NtpTimestamp::from_unix_ns(wall);
                    pkt.encode_header(&mut tx);
                    let sent_at = clock.now();
                    match dp.send(&tx) {
                        Ok(()) => {}
                        Err(DatapathError::Send(e))
                            if e.kind() == std::io::ErrorKind::ConnectionRefused =>
                        {
                            if !any_reply {
                                return Err(ProbeError::Refused {
                                    target: target.to_string(),
                                });
                            }
                        }
                        Err(e) => return Err(e.into()),
                    }
                    // Closed loop: the round trip starts at the send, not before the encode.
                    let intended = if open { intended } else { sent_at };
                    *slot = Slot {
                        seq,
                        intended,
                        sent: sent_at,
                        wall_sent_ns: wall,
                        state: OUTSTANDING,
                    };
                    if measured(seq) {
                        c.sent += 1;
                    }
                    next_seq += 1;
                    if open {
                        next_intended += gap_ticks(&mut rng);
                    }
                }
            }
        }

        // Receive everything that is ready.
        loop {
            let r = match dp.try_recv(&mut rx) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(DatapathError::Recv(e))
                    if e.kind() == std::io::ErrorKind::ConnectionRefused =>
                {
                    if !any_reply {
                        return Err(ProbeError::Refused {
                            target: target.to_string(),
                        });
                    }
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let t4 = clock.now();
            let wall_rx = if stamp || r.kernel_rx_unix_ns.is_some() {
                wall_ns()
            } else {
                0
            };
            let msg = &rx[..r.len];
            let (seq32, t2t3) = if stamp {
                match ReflectorPacket::decode(msg) {
                    Ok(p) if p.ssid == cfg.ssid => {
                        (p.sender_seq, Some((p.receive_timestamp, p.timestamp)))
                    }
                    _ => {
                        c.malformed += 1;
                        continue;
                    }
                }
            } else {
                match SenderPacket::decode(msg) {
                    Ok(p) if p.ssid == cfg.ssid => (p.seq, None),
                    _ => {
                        c.malformed += 1;
                        continue;
                    }
                }
            };
            // Rebuild the 64-bit sequence number from the 32 bits on the wire.
            let back = (next_seq as u32).wrapping_sub(seq32) as u64;
            if back == 0 || back > next_seq || back > window as u64 {
                c.malformed += 1;
                continue;
            }
            let seq = next_seq - back;
            let slot = &mut ring[(seq & mask) as usize];
            if slot.seq != seq || slot.state == EMPTY {
                c.malformed += 1;
                continue;
            }
            any_reply = true;
            let counted = measured(seq);
            match slot.state {
                RECEIVED => {
                    if counted {
                        c.duplicates += 1;
                    }
                    continue;
                }
                LOST => {
                    if counted {
                        c.late += 1;
                    }
                    continue;
                }
                _ => {}
            }
            slot.state = RECEIVED;
            let reordered = max_answered.is_some_and(|m| seq < m);
            max_answered = Some(max_answered.map_or(seq, |m| m.max(seq)));
            if !counted {
                continue;
            }
            c.received += 1;
            if reordered {
                c.reordered += 1;
            }
            let rtt_ns = clock.elapsed_ns(slot.intended, t4);
            let actual_ns = clock.elapsed_ns(slot.sent, t4);
            rtt.record(rtt_ns);
            if let Some(h) = uncorrected.as_mut() {
                record_ns(h, actual_ns);
            }
            if let Some((t2, t3)) = t2t3 {
                let res = t3.diff_ns(t2).max(0) as u64;
                record_ns(residence.as_mut().expect("stamp"), res);
                record_ns(
                    network.as_mut().expect("stamp"),
                    actual_ns.saturating_sub(res),
                );
                let t1 = NtpTimestamp::from_unix_ns(slot.wall_sent_ns);
                let t4w = NtpTimestamp::from_unix_ns(wall_rx);
                offset.push((t2.diff_ns(t1) + t3.diff_ns(t4w)) / 2);
            }
            if let Some(k) = r.kernel_rx_unix_ns {
                record_ns(
                    rx_stack.get_or_insert_with(new_histogram),
                    wall_rx.saturating_sub(k),
                );
            }
        }

        // Expire the oldest unanswered probes.
        while oldest < next_seq {
            let slot = &mut ring[(oldest & mask) as usize];
            match slot.state {
                OUTSTANDING if now.saturating_sub(slot.sent) > timeout_ticks => {
                    slot.state = LOST;
                    if measured(slot.seq) {
                        c.lost += 1;
                    }
                    oldest += 1;
                }
                OUTSTANDING => break,
                _ => oldest += 1,
            }
        }

        if !sending && oldest == next_seq {
            break;
        }

        if iter % 256 == 0 {
            if let Some(ms) = measure_start {
                rtt.tick(clock.elapsed_ns(ms, now));
            }
            live.sent.store(c.sent, Ordering::Relaxed);
            live.received.store(c.received, Ordering::Relaxed);
            live.lost.store(c.lost, Ordering::Relaxed);
            if stop.load(Ordering::Relaxed) {
                interrupted = true;
                break;
            }
            if !any_reply && now.saturating_sub(first_send) > give_up_ticks {
                return Err(ProbeError::NoReply {
                    target: target.to_string(),
                    waited: Duration::from_nanos(clock.elapsed_ns(first_send, now)),
                    sent: next_seq,
                });
            }
        }
        std::hint::spin_loop();
    }

    let end = clock.now();
    // Probes still in flight when interrupted were neither answered nor lost.
    if interrupted {
        for seq in oldest..next_seq {
            let slot = &ring[(seq & mask) as usize];
            if slot.state == OUTSTANDING && measured(seq) {
                c.sent -= 1;
            }
        }
    }
    if !any_reply && c.sent > 0 && !interrupted {
        return Err(ProbeError::NoReply {
            target: target.to_string(),
            waited: Duration::from_nanos(clock.elapsed_ns(first_send, end)),
            sent: next_seq,
        });
    }
    let start = measure_start.unwrap_or(end);
    let duration_ns = match measure_end {
        Some(e) if !interrupted => clock.elapsed_ns(start, e.min(end)),
        _ => clock.elapsed_ns(start, end),
    };
    rtt.finish(clock.elapsed_ns(start, end));
    live.sent.store(c.sent, Ordering::Relaxed);
    live.received.store(c.received, Ordering::Relaxed);
    live.lost.store(c.lost, Ordering::Relaxed);
    Ok(RttOutcome {
        rtt,
        rtt_uncorrected: uncorrected,
        network_rtt: network,
        residence,
        offset: offset.stats(),
        rx_kernel_to_user: rx_stack,
        counters: c,
        warmup: cfg.warmup.min(next_seq),
        start_unix_ns: clock.unix_ns(start),
        duration_ns,
        interrupted,
    })
}
