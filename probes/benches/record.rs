//! What the probe and the reflector do per packet besides the system calls: record a
//! latency, and encode, decode or reflect a STAMP packet.
//!
//! * `record` — [`record_ns`] into a [`new_histogram`] (1 ns ..= 1 h, 3 significant digits),
//!   [`LatencyRecorder::record`], and the bare `Histogram::record` for comparison. Values come
//!   from a fixed table shaped like a loopback RTT distribution (mostly 3–6 µs, a 1 % tail to
//!   100 µs, a 0.1 % tail to a few ms) so that bucket indices vary as they do in a run; one
//!   repeated value is the best case.
//! * `stamp` — the probe's per-send [`SenderPacket::encode_header`] (with the NTP conversion
//!   of the send time), its per-reply [`ReflectorPacket::decode`], the reflector's
//!   [`stamp::reflect`] of a 44-byte request, and [`NtpTimestamp::from_unix_ns`] alone.
//! * `hot_path` — a probe's whole per-reply bookkeeping without the socket: decode, convert the
//!   tick difference, record.
//!
//! Run with `cargo bench -p latlab-probes --bench record`; docs/PERFORMANCE.md records results.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use latlab_probes::clock::Clock;
use latlab_probes::record::{new_histogram, record_ns, LatencyRecorder};
use latlab_probes::stamp::{
    self, ErrorEstimate, NtpTimestamp, ReflectParams, ReflectorPacket, SenderPacket, BASE_LEN,
};

/// Size of the value table (a power of two, so indexing is a mask).
const N: usize = 4096;

/// RTT-like values in ns from a fixed xorshift sequence: the same table on every run.
fn rtt_like_values() -> Vec<u64> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..N)
        .map(|_| {
            let r = next();
            match r % 1000 {
                0 => 100_000 + next() % 3_000_000,  // 0.1 %: 0.1–3.1 ms
                1..=10 => 10_000 + next() % 90_000, // 1 %: 10–100 µs
                _ => 3_000 + next() % 3_000,        // the body: 3–6 µs
            }
        })
        .collect()
}

fn record(c: &mut Criterion) {
    let values = rtt_like_values();
    let mut g = c.benchmark_group("record");

    let mut h = new_histogram();
    g.bench_function("record_ns/same value", |b| {
        b.iter(|| record_ns(&mut h, black_box(3_817)))
    });

    let mut h = new_histogram();
    let mut i = 0usize;
    g.bench_function("record_ns/rtt-like values", |b| {
        b.iter(|| {
            i = (i + 1) & (N - 1);
            record_ns(&mut h, black_box(values[i]))
        })
    });

    let mut h = new_histogram();
    let mut i = 0usize;
    g.bench_function(
        "Histogram::record (hdrhistogram, no clamp)/rtt-like values",
        |b| {
            b.iter(|| {
                i = (i + 1) & (N - 1);
                black_box(h.record(black_box(values[i]))).ok()
            })
        },
    );

    // A recorder's interval outlasts the benchmark, so no interval closes inside the loop.
    let mut r = LatencyRecorder::new(Duration::from_secs(3600));
    let mut i = 0usize;
    g.bench_function("LatencyRecorder::record/rtt-like values", |b| {
        b.iter(|| {
            i = (i + 1) & (N - 1);
            r.record(black_box(values[i]))
        })
    });

    // What `tick` costs on the probe's loop when no interval is due (it runs every 256 turns).
    let mut r = LatencyRecorder::new(Duration::from_secs(3600));
    g.bench_function("LatencyRecorder::tick (nothing due)", |b| {
        b.iter(|| r.tick(black_box(1_000_000)))
    });
    g.finish();
}

fn stamp_codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("stamp");
    let now = 1_764_000_000_123_456_789u64; // a wall-clock time in ns since 1970

    g.bench_function("NtpTimestamp::from_unix_ns", |b| {
        b.iter(|| NtpTimestamp::from_unix_ns(black_box(now)))
    });

    let mut tx = [0u8; BASE_LEN];
    let mut pkt = SenderPacket {
        seq: 0,
        timestamp: NtpTimestamp::default(),
        error_estimate: ErrorEstimate::from_seconds(1e-6, false),
        ssid: 1,
    };
    pkt.encode(&mut tx).expect("44-byte buffer");
    g.bench_function("SenderPacket::encode_header", |b| {
        b.iter(|| {
            pkt.seq = pkt.seq.wrapping_add(1);
            pkt.timestamp = NtpTimestamp::from_bits(black_box(0xE8A1_B2C3_8000_0000));
            pkt.encode_header(black_box(&mut tx));
        })
    });
    g.bench_function("SenderPacket::encode_header + from_unix_ns", |b| {
        b.iter(|| {
            pkt.seq = pkt.seq.wrapping_add(1);
            pkt.timestamp = NtpTimestamp::from_unix_ns(black_box(now));
            pkt.encode_header(black_box(&mut tx));
        })
    });
    g.bench_function("SenderPacket::decode", |b| {
        b.iter(|| SenderPacket::decode(black_box(&tx)))
    });

    let params = ReflectParams {
        receive_timestamp: NtpTimestamp::from_unix_ns(now),
        error_estimate: ErrorEstimate::from_seconds(1e-7, false),
        sender_ttl: 64,
        reflector_seq: None,
    };
    let mut reply = [0u8; BASE_LEN];
    g.bench_function("reflect (44 B, fixed t3)", |b| {
        b.iter(|| {
            stamp::reflect(black_box(&tx), black_box(&mut reply), &params, || {
                NtpTimestamp::from_unix_ns(black_box(now + 40))
            })
        })
    });
    g.bench_function("ReflectorPacket::decode", |b| {
        b.iter(|| ReflectorPacket::decode(black_box(&reply)))
    });
    g.finish();
}

fn hot_path(c: &mut Criterion) {
    let clock = Clock::best();
    let values = rtt_like_values();
    let ticks: Vec<u64> = values.iter().map(|&ns| clock.ns_to_ticks(ns)).collect();
    let mut tx = [0u8; BASE_LEN];
    SenderPacket {
        seq: 7,
        timestamp: NtpTimestamp::from_unix_ns(1_764_000_000_000_000_000),
        error_estimate: ErrorEstimate::from_seconds(1e-6, false),
        ssid: 1,
    }
    .encode(&mut tx)
    .expect("44-byte buffer");
    let params = ReflectParams {
        receive_timestamp: NtpTimestamp::from_unix_ns(1_764_000_000_000_001_000),
        error_estimate: ErrorEstimate::from_seconds(1e-7, false),
        sender_ttl: 64,
        reflector_seq: None,
    };
    let mut reply = [0u8; BASE_LEN];
    stamp::reflect(&tx, &mut reply, &params, || {
        NtpTimestamp::from_unix_ns(1_764_000_000_000_001_040)
    })
    .expect("valid request");

    let mut r = LatencyRecorder::new(Duration::from_secs(3600));
    let mut i = 0usize;
    c.bench_function("hot_path/probe reply: decode + delta_ns + record", |b| {
        b.iter(|| {
            i = (i + 1) & (N - 1);
            let p = ReflectorPacket::decode(black_box(&reply)).expect("44 bytes");
            r.record(clock.delta_ns(black_box(ticks[i])));
            p.sender_seq
        })
    });
}

fn config() -> Criterion {
    // Short windows: the VM is shared and each function is a few ns; criterion's confidence
    // intervals say how stable the result was.
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = record, stamp_codec, hot_path
}
criterion_main!(benches);
