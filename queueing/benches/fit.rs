//! Fitting cost at scale: 10⁷ latency samples, as an HdrHistogram-style weighted histogram
//! (the intended path: cost grows with distinct values, not samples) and as raw samples
//! (radix sort + run-length counting first).

use criterion::{criterion_group, criterion_main, Criterion};
use latlab_queueing::fit::{fit_samples, fit_weighted, FitOptions, ServiceDist};
use latlab_queueing::stats::WeightedSamples;
use rand::SeedableRng;
use rand_pcg::Pcg64;
use std::hint::black_box;

const N: usize = 10_000_000;

fn bench_fit(c: &mut Criterion) {
    // Integer-nanosecond latencies: lognormal, median 20 µs, σ = 0.5, plus a 2 µs floor.
    let dist = ServiceDist::LogNormal {
        shift: 2_000.0,
        mu: 18_000f64.ln(),
        sigma: 0.5,
    };
    let mut rng = Pcg64::seed_from_u64(42);
    let raw: Vec<f64> = (0..N).map(|_| dist.sample(&mut rng).round()).collect();
    // 4 significant digits: the resolution of an HdrHistogram with 3 significant digits.
    let hist: Vec<(f64, u64)> = WeightedSamples::from_samples(&raw)
        .expect("finite samples")
        .quantize(4)
        .iter()
        .collect();
    let opts = FitOptions::default();
    let mut group = c.benchmark_group("fit");
    group.sample_size(10);
    group.bench_function(
        format!("weighted_1e7_samples_{}_buckets", hist.len()),
        |b| b.iter(|| fit_weighted(black_box(&hist), &opts).expect("fit")),
    );
    group.bench_function("raw_1e7_samples", |b| {
        b.iter(|| fit_samples(black_box(&raw), &opts).expect("fit"))
    });
    group.finish();
}

criterion_group!(benches, bench_fit);
criterion_main!(benches);
