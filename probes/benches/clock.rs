//! What reading the time costs the probe.
//!
//! Every probe reads its clock at least twice per round trip (send, receive) and the STAMP
//! timestamps read `CLOCK_REALTIME` once more on each side, so these numbers are a floor under
//! every RTT latlab reports. The groups:
//!
//! * `clock/read` — one reading: latlab's [`Clock::best`] (the TSC where it is invariant),
//!   latlab's `CLOCK_MONOTONIC_RAW` clock, [`std::time::Instant::now`] (`CLOCK_MONOTONIC`
//!   through the vDSO) and [`wall_ns`] (`CLOCK_REALTIME`, what STAMP carries).
//! * `clock/interval` — what a probe pays per measured interval: two readings and the
//!   tick→ns conversion, with and without the conversion.
//! * `clock/convert` — the tick→ns conversion alone ([`Clock::delta_ns`], a 64×64→128-bit
//!   multiply and shift) and its inverse, used for deadlines.
//!
//! Run with `cargo bench -p latlab-probes --bench clock`; docs/PERFORMANCE.md records results.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use latlab_probes::clock::{wall_ns, Clock};

fn reads(c: &mut Criterion) {
    let best = Clock::best();
    let raw = Clock::monotonic_raw();
    let mut g = c.benchmark_group("clock/read");
    g.bench_function(format!("best ({:?})", best.source()), |b| {
        b.iter(|| black_box(&best).now())
    });
    g.bench_function("monotonic_raw", |b| b.iter(|| black_box(&raw).now()));
    g.bench_function("std Instant::now", |b| b.iter(Instant::now));
    g.bench_function("wall_ns (CLOCK_REALTIME)", |b| b.iter(wall_ns));
    g.finish();
}

fn intervals(c: &mut Criterion) {
    let clock = Clock::best();
    let mut g = c.benchmark_group("clock/interval");
    // Two dependent readings, as around a send/receive: the second cannot be hoisted.
    g.bench_function("two reads", |b| {
        b.iter(|| {
            let t0 = black_box(&clock).now();
            let t1 = black_box(&clock).now();
            black_box(t1.wrapping_sub(t0))
        })
    });
    g.bench_function("two reads + elapsed_ns", |b| {
        b.iter(|| {
            let t0 = black_box(&clock).now();
            let t1 = black_box(&clock).now();
            black_box(clock.elapsed_ns(t0, t1))
        })
    });
    g.bench_function("std Instant pair + as_nanos", |b| {
        b.iter(|| {
            let t0 = Instant::now();
            black_box(t0.elapsed().as_nanos() as u64)
        })
    });
    g.finish();
}

fn conversions(c: &mut Criterion) {
    let clock = Clock::best();
    // A typical loopback RTT in ticks, and a second in ns.
    let ticks = clock.ns_to_ticks(3_800);
    let mut g = c.benchmark_group("clock/convert");
    g.bench_function("delta_ns", |b| b.iter(|| clock.delta_ns(black_box(ticks))));
    g.bench_function("ns_to_ticks", |b| {
        b.iter(|| clock.ns_to_ticks(black_box(1_000_000_000)))
    });
    g.bench_function("unix_ns", |b| b.iter(|| clock.unix_ns(black_box(ticks))));
    g.finish();
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
    targets = reads, intervals, conversions
}
criterion_main!(benches);
