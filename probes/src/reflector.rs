//! The STAMP Session-Reflector (RFC 8762) and the TCP echo reflector.
//!
//! Both run in the calling thread (pin it first) and busy-poll while traffic flows. After
//! `idle_spin` without a packet they wait in `poll(2)` instead, so an idle `latlab reflect`
//! does not burn a core; the first probe after an idle spell pays one wake-up, which a probe's
//! warm-up absorbs.
//!
//! The STAMP reflector is stateless (the reply's sequence number is the request's) unless
//! asked to be stateful, takes t2 as soon as a request is read and t3 as late as possible
//! before the send, answers with exactly as many bytes as it received, and drops (and counts)
//! anything shorter than a STAMP packet. It never panics on input.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use latlab_kernels::{DatapathError, ReflectorPath, TcpEchoReflector};

use crate::clock::wall_ns;
use crate::stamp::{self, ErrorEstimate, NtpTimestamp, ReflectParams};

/// Options of a reflector.
#[derive(Debug, Clone, Copy)]
pub struct ReflectorConfig {
    /// Keep spinning this long after the last packet before waiting in poll(2).
    pub idle_spin: Duration,
    /// The reflector clock's error estimate, written into each reply.
    pub error_estimate: ErrorEstimate,
    /// Number replies with the reflector's own counter (stateful) instead of copying.
    pub stateful: bool,
    /// Stop after this long (none: until stopped).
    pub max_duration: Option<Duration>,
}

impl Default for ReflectorConfig {
    fn default() -> Self {
        ReflectorConfig {
            idle_spin: Duration::from_millis(200),
            error_estimate: ErrorEstimate::from_seconds(1e-6, false),
            stateful: false,
            max_duration: None,
        }
    }
}

/// A reflector's counters, readable from another thread while it runs.
#[derive(Debug, Default)]
pub struct ReflectorCounters {
    /// Messages (or, for TCP echo, bytes) received.
    pub received: AtomicU64,
    /// Replies sent (TCP echo: bytes echoed).
    pub reflected: AtomicU64,
    /// Requests dropped as malformed (shorter than a STAMP packet).
    pub malformed: AtomicU64,
    /// Replies that could not be sent.
    pub send_errors: AtomicU64,
}

impl ReflectorCounters {
    /// A plain snapshot, for printing.
    pub fn snapshot(&self) -> [u64; 4] {
        [
            self.received.load(Ordering::Relaxed),
            self.reflected.load(Ordering::Relaxed),
            self.malformed.load(Ordering::Relaxed),
            self.send_errors.load(Ordering::Relaxed),
        ]
    }
}

/// Runs a STAMP reflector on `path` until `stop` is set or `cfg.max_duration` passes.
pub fn run_stamp<R: ReflectorPath + ?Sized>(
    path: &mut R,
    cfg: &ReflectorConfig,
    stop: &AtomicBool,
    counters: &ReflectorCounters,
) -> Result<(), DatapathError> {
    serve(path, cfg, stop, counters, &mut || None)
}

/// Runs a STAMP reflector with a service stage: before answering each request it busy-waits
/// for `service()` nanoseconds. A single-threaded reflector serving requests one at a time is
/// then a real single-server queue whose service-time distribution the caller chooses — the
/// bottleneck of `latlab lab queue`. The spin happens between t2 and t3, so it shows up in
/// the reflector residence that each reply reports.
pub fn run_stamp_with_service<R: ReflectorPath + ?Sized>(
    path: &mut R,
    cfg: &ReflectorConfig,
    stop: &AtomicBool,
    counters: &ReflectorCounters,
    service: &mut dyn FnMut() -> u64,
) -> Result<(), DatapathError> {
    serve(path, cfg, stop, counters, &mut || Some(service()))
}

fn serve<R: ReflectorPath + ?Sized>(
    path: &mut R,
    cfg: &ReflectorConfig,
    stop: &AtomicBool,
    counters: &ReflectorCounters,
    service: &mut dyn FnMut() -> Option<u64>,
) -> Result<(), DatapathError> {
    let mut buf = vec![0u8; 65_536];
    let mut reply = vec![0u8; 65_536];
    let started = Instant::now();
    let mut last_packet = Instant::now();
    let mut own_seq: u32 = 0;
    let mut idle_iters: u32 = 0;
    loop {
        match path.try_recv_from(&mut buf)? {
            Some((r, peer)) => {
                let t2 = NtpTimestamp::from_unix_ns(r.kernel_rx_unix_ns.unwrap_or_else(wall_ns));
                counters.received.fetch_add(1, Ordering::Relaxed);
                if let Some(ns) = service().filter(|_| r.len >= stamp::BASE_LEN) {
                    let until = Instant::now() + Duration::from_nanos(ns);
                    while Instant::now() < until {
                        std::hint::spin_loop();
                    }
                }
                let params = ReflectParams {
                    receive_timestamp: t2,
                    error_estimate: cfg.error_estimate,
                    sender_ttl: r.ttl.unwrap_or(0),
                    reflector_seq: cfg.stateful.then_some(own_seq),
                };
                match stamp::reflect(&buf[..r.len], &mut reply, &params, || {
                    NtpTimestamp::from_unix_ns(wall_ns())
                }) {
                    Ok(n) => match path.send_to(&reply[..n], peer) {
                        Ok(()) => {
                            own_seq = own_seq.wrapping_add(1);
                            counters.reflected.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            counters.send_errors.fetch_add(1, Ordering::Relaxed);
                        }
                    },
                    Err(_) => {
                        counters.malformed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                idle_iters = 0;
                last_packet = Instant::now();
            }
            None => {
                idle_iters = idle_iters.wrapping_add(1);
                if idle_iters % 1024 == 0 {
                    if stop.load(Ordering::Relaxed)
                        || cfg.max_duration.is_some_and(|d| started.elapsed() >= d)
                    {
                        return Ok(());
                    }
                    if last_packet.elapsed() >= cfg.idle_spin {
                        path.wait_readable(Duration::from_millis(10))?;
                    }
                }
                std::hint::spin_loop();
            }
        }
    }
}

/// Runs a TCP echo reflector until `stop` is set or `cfg.max_duration` passes.
pub fn run_tcp_echo(
    echo: &mut TcpEchoReflector,
    cfg: &ReflectorConfig,
    stop: &AtomicBool,
    counters: &ReflectorCounters,
) -> Result<(), DatapathError> {
    let started = Instant::now();
    let mut last = Instant::now();
    let mut iters: u32 = 0;
    loop {
        let n = echo.poll_once()?;
        if n > 0 {
            counters.received.fetch_add(n as u64, Ordering::Relaxed);
            counters.reflected.fetch_add(n as u64, Ordering::Relaxed);
            last = Instant::now();
        }
        iters = iters.wrapping_add(1);
        if iters % 1024 == 0 {
            if stop.load(Ordering::Relaxed)
                || cfg.max_duration.is_some_and(|d| started.elapsed() >= d)
            {
                return Ok(());
            }
            if n == 0 && last.elapsed() >= cfg.idle_spin {
                echo.wait_readable(Duration::from_millis(10))?;
            }
        }
        std::hint::spin_loop();
    }
}
