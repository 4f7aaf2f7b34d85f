//! Calibration of a distribution that summarises 10⁸ samples as 10⁴ weighted points — what a
//! long probe run's HdrHistogram decodes to.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

use latlab_calibrate::{
    calibrate, CalibrationInput, ClockOffsetSummary, Options, Target, WeightedPoint,
};

/// 10⁴ log-spaced buckets from 50 µs to 50 ms with lognormal weights (median 400 µs,
/// σ = 0.6), 10⁸ samples in all.
fn histogram() -> Vec<WeightedPoint> {
    let n = 10_000;
    let (lo, hi) = (50e3f64.ln(), 50e6f64.ln());
    let (mu, sigma) = (400e3f64.ln(), 0.6);
    let dens: Vec<f64> = (0..n)
        .map(|i| {
            let x = lo + (hi - lo) * (i as f64 + 0.5) / n as f64;
            (-(x - mu).powi(2) / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let total: f64 = dens.iter().sum();
    (0..n)
        .map(|i| {
            let x = lo + (hi - lo) * (i as f64 + 0.5) / n as f64;
            WeightedPoint::new(x.exp().round(), (dens[i] / total * 1e8).round() as u64 + 1)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let input = CalibrationInput {
        source_run: "bench".into(),
        rtt: Some(histogram()),
        loss_probability: 1e-4,
        clock_offset: Some(ClockOffsetSummary {
            mean_ns: 2_000.0,
            stddev_ns: 5_000.0,
            min_ns: -20_000.0,
            max_ns: 30_000.0,
            count: 100_000,
        }),
        sample_duration_s: Some(10_000.0),
        ..CalibrationInput::default()
    };
    let opts = Options::default();
    let mut g = c.benchmark_group("calibrate 1e8 samples as 1e4 points");
    g.sample_size(10);
    for target in [Target::Etcd, Target::HashicorpRaft, Target::Generic] {
        g.bench_function(target.name(), |b| {
            b.iter(|| calibrate(black_box(&input), target, &opts).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
