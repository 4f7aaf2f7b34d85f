//! Simulator throughput: Lindley's recursion in customers per second, the event engine in
//! events per second (M/M/1, and a 100 Mb/s link under 10 % overload managed by CoDel, PIE or
//! FQ-CoDel).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use latlab_queueing::aqm::{
    CodelConfig, CodelVariant, DisciplineConfig, FqCodelConfig, PieConfig, PieVariant,
};
use latlab_queueing::sim::{
    simulate, ArrivalProcess, EngineChoice, Scenario, Service, ServiceSpec, SizeSpec, Source, Stop,
};
use std::hint::black_box;

fn lindley(c: &mut Criterion) {
    let n = 2_000_000u64;
    let mut g = c.benchmark_group("lindley");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n));
    let sc = Scenario::mm1(0.8, 1.0, n).with_seed(1);
    assert!(sc.uses_lindley());
    g.bench_function("mm1_customers", |b| {
        b.iter(|| black_box(simulate(black_box(&sc)).unwrap().sojourn.mean))
    });
    let det = Scenario::new(
        vec![Source::poisson(0.8)],
        Service::Servers {
            count: 1,
            time: ServiceSpec::Deterministic { value: 1.0 },
        },
        Stop::Customers(n),
    );
    g.bench_function("md1_customers", |b| {
        b.iter(|| black_box(simulate(black_box(&det)).unwrap().sojourn.mean))
    });
    g.finish();
}

fn bottleneck(d: DisciplineConfig, flows: u32) -> Scenario {
    // 100 Mb/s, 1500-byte packets: 8333 packets/s; offered 110 % of that.
    let cap = 100e6 / (1500.0 * 8.0);
    let sources = (0..flows)
        .map(|f| {
            Source::new(ArrivalProcess::Poisson {
                rate: 1.1 * cap / f64::from(flows),
            })
            .with_flow(f)
            .with_size(SizeSpec::Fixed(1500))
        })
        .collect();
    Scenario::new(
        sources,
        Service::Link { rate_bps: 100e6 },
        Stop::Duration(60.0),
    )
    .with_discipline(d)
    .with_seed(3)
}

fn engine(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine");
    g.sample_size(10);
    let n = 1_000_000u64;
    let mm1 = Scenario::mm1(0.8, 1.0, n)
        .with_seed(1)
        .with_engine(EngineChoice::EventList);
    let cases: Vec<(&str, Scenario)> = vec![
        ("mm1", mm1),
        (
            "codel_rfc",
            bottleneck(DisciplineConfig::Codel(CodelConfig::default()), 1),
        ),
        (
            "codel_linux",
            bottleneck(
                DisciplineConfig::Codel(CodelConfig::with_variant(CodelVariant::Linux)),
                1,
            ),
        ),
        (
            "pie_rfc",
            bottleneck(DisciplineConfig::Pie(PieConfig::default()), 1),
        ),
        (
            "pie_linux",
            bottleneck(
                DisciplineConfig::Pie(PieConfig::with_variant(PieVariant::Linux)),
                1,
            ),
        ),
        (
            "fq_codel_8flows",
            bottleneck(DisciplineConfig::FqCodel(FqCodelConfig::default()), 8),
        ),
    ];
    for (name, sc) in cases {
        let events = simulate(&sc).unwrap().events;
        g.throughput(Throughput::Elements(events));
        g.bench_with_input(BenchmarkId::new("events", name), &sc, |b, sc| {
            b.iter(|| black_box(simulate(black_box(sc)).unwrap().events))
        });
    }
    g.finish();
}

criterion_group!(benches, lindley, engine);
criterion_main!(benches);
