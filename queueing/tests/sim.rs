//! The simulator against queueing theory, exact sample paths, and itself.

use latlab_queueing::aqm::{
    CodelConfig, CodelVariant, DisciplineConfig, FqCodelConfig, Limit, PieConfig, PieVariant,
    RedConfig,
};
use latlab_queueing::fit::ServiceDist;
use latlab_queueing::sim::{
    simulate, ArrivalProcess, EngineChoice, EngineKind, OutputConfig, Scenario, Service,
    ServiceSpec, SimError, SizeSpec, Source, Stop,
};
use proptest::prelude::*;
use rand_pcg::Pcg64Mcg;

fn mg1(service: ServiceSpec, customers: u64, seed: u64) -> Scenario {
    Scenario::new(
        vec![Source::poisson(0.8)],
        Service::Servers {
            count: 1,
            time: service,
        },
        Stop::Customers(customers),
    )
    .with_seed(seed)
    .with_warmup(10_000)
}

/// M/M/1 with λ = 0.8, μ = 1: mean sojourn 1/(μ − λ) = 5 lies in the 99 % interval, and the
/// interval is narrow enough to mean something.
#[test]
fn mm1_mean_sojourn_within_ci() {
    let r = simulate(
        &Scenario::mm1(0.8, 1.0, 2_000_000)
            .with_seed(1)
            .with_warmup(10_000),
    )
    .unwrap();
    assert_eq!(r.engine, EngineKind::Lindley);
    assert!(r.sojourn.contains(5.0), "{:?}", r.sojourn);
    assert!(r.sojourn.half_width < 0.25, "{:?}", r.sojourn);
    assert!(r.wait.contains(4.0), "{:?}", r.wait);
    assert!((r.utilisation - 0.8).abs() < 0.01, "{}", r.utilisation);
    assert!((r.throughput - 0.8).abs() < 0.01, "{}", r.throughput);
    // Median of an exponential sojourn of mean 5: 5 ln 2 = 3.466.
    assert!(
        (r.sojourn_quantiles.p50 - 5.0 * 2f64.ln()).abs() < 0.1,
        "{:?}",
        r.sojourn_quantiles
    );
    assert!(r.sojourn.batches >= 32 && r.sojourn.batches < 64);
}

/// Over 200 independent short runs (120 000 customers each) the 99 % batch-means interval
/// covers the true mean in about 99 % of them (98.7 % over 3000 such runs in a release build).
#[test]
fn mm1_ci_coverage_over_seeds() {
    let runs = 200;
    let mut covered = 0;
    for seed in 0..runs {
        let r = simulate(
            &Scenario::mm1(0.8, 1.0, 120_000)
                .with_seed(1000 + seed)
                .with_warmup(2_000),
        )
        .unwrap();
        if r.sojourn.contains(5.0) {
            covered += 1;
        }
    }
    let coverage = f64::from(covered) / f64::from(runs as u32);
    assert!((0.96..=1.0).contains(&coverage), "coverage {coverage}");
}

/// M/G/1 with ρ = 0.8 and E[S] = 1: Pollaczek–Khinchine mean wait ρ(1 + c²)/(2(1 − ρ)) is 2
/// for deterministic service (c² = 0), 4 for exponential (c² = 1) and 10 for a balanced
/// two-phase hyperexponential with c² = 4.
#[test]
fn mg1_mean_wait_matches_pollaczek_khinchine() {
    for (service, want, n) in [
        (ServiceSpec::Deterministic { value: 1.0 }, 2.0, 1_000_000),
        (ServiceSpec::Exponential { mean: 1.0 }, 4.0, 1_000_000),
        (
            ServiceSpec::hyperexponential_balanced(1.0, 4.0),
            10.0,
            4_000_000,
        ),
    ] {
        let r = simulate(&mg1(service.clone(), n, 2)).unwrap();
        assert!(r.wait.contains(want), "{service:?}: {:?}", r.wait);
        assert!(r.wait.half_width < 0.1 * want, "{service:?}: {:?}", r.wait);
    }
}

/// A fitted distribution from `fit` drives the servers directly: M/G/1 with Gamma(shape 2,
/// scale 0.5) service (mean 1, c² = 1/2) at ρ = 0.8 waits 0.8 · 1.5 / 0.4 = 3 on average.
#[test]
fn fitted_service_dist_plugs_in() {
    let sc = Scenario::with_service_time(
        vec![Source::poisson(0.8)],
        Service::Servers {
            count: 1,
            time: ServiceDist::Gamma {
                shape: 2.0,
                scale: 0.5,
            },
        },
        Stop::Customers(1_000_000),
    )
    .with_seed(2)
    .with_warmup(10_000);
    let r = simulate(&sc).unwrap();
    assert!(r.wait.contains(3.0), "{:?}", r.wait);
    assert!(r.wait.half_width < 0.3, "{:?}", r.wait);
    let bad = Scenario::with_service_time(
        vec![Source::poisson(0.8)],
        Service::Servers {
            count: 1,
            time: ServiceDist::Exponential(-1.0),
        },
        Stop::Customers(10),
    );
    assert!(matches!(simulate(&bad), Err(SimError::InvalidService(_))));
}

/// M/M/2 through the event engine: λ = 1.6, μ = 1 (ρ = 0.8). Erlang C:
/// P(wait) = (1.6²/(2 · 0.2)) / (1 + 1.6 + 6.4) = 6.4/9 = 0.7111,
/// W_q = P(wait)/(2 − 1.6) = 1.7778, W = 2.7778.
#[test]
fn mm2_matches_erlang_c() {
    let sc = Scenario::new(
        vec![Source::poisson(1.6)],
        Service::Servers {
            count: 2,
            time: ServiceSpec::Exponential { mean: 1.0 },
        },
        Stop::Customers(1_000_000),
    )
    .with_seed(3)
    .with_warmup(10_000);
    let r = simulate(&sc).unwrap();
    assert_eq!(r.engine, EngineKind::EventList);
    let want = 6.4 / 9.0 / 0.4 + 1.0;
    assert!(r.sojourn.contains(want), "{:?} vs {want}", r.sojourn);
    assert!(r.sojourn.half_width < 0.1, "{:?}", r.sojourn);
    assert!((r.utilisation - 0.8).abs() < 0.01);
}

/// Lindley's recursion and the event engine run the same customers through the same
/// arithmetic, so for the same seed they agree exactly: sojourn statistics, histogram, queue
/// samples, events. Tried on M/M/1 (customer stop) and on a link fed by bursty (MMPP)
/// arrivals with mixed packet sizes (duration stop, customers left in the system).
#[test]
fn lindley_and_event_engine_agree_exactly() {
    let link = Scenario::new(
        vec![Source::new(ArrivalProcess::Mmpp {
            rates: [2000.0, 200.0],
            mean_sojourn: [0.05, 0.2],
        })
        .with_size(SizeSpec::Weighted(vec![(64, 7.0), (576, 4.0), (1500, 1.0)]))],
        Service::Link { rate_bps: 4e6 },
        Stop::Duration(50.0),
    )
    .with_seed(9);
    for sc in [Scenario::mm1(0.9, 1.0, 300_000).with_seed(4), link] {
        let fast = simulate(&sc).unwrap();
        let slow = simulate(&sc.clone().with_engine(EngineChoice::EventList)).unwrap();
        assert_eq!(fast.engine, EngineKind::Lindley);
        assert_eq!(slow.engine, EngineKind::EventList);
        assert_eq!(fast.sojourn, slow.sojourn);
        assert_eq!(fast.wait, slow.wait);
        assert_eq!(fast.sojourn_histogram, slow.sojourn_histogram);
        assert_eq!(fast.queue, slow.queue);
        assert_eq!(fast.events, slow.events);
        assert_eq!(fast.arrived, slow.arrived);
        assert_eq!(fast.served, slow.served);
        assert_eq!(fast.in_system_at_end, slow.in_system_at_end);
        assert_eq!(fast.end_time, slow.end_time);
        let rel = |a: f64, b: f64| (a - b).abs() / a.abs().max(1e-300);
        assert!(rel(fast.little.area, slow.little.area) < 1e-9);
        assert!(rel(fast.utilisation, slow.utilisation) < 1e-9);
    }
}

/// A deterministic trace worked by hand. Arrivals at 1, 2, ..., 10 (inter-arrival 1), service
/// 1.5: departures at 2.5, 4, 5.5, ..., 16 (each 1.5 after the previous), so the k-th customer
/// (from 0) stays 1.5 + 0.5 k: mean sojourn 1.5 + 0.5 · 4.5 = 3.75, mean wait 2.25, busy 15 of
/// 16 time units. Sampled every time unit (state just before τ):
///
/// ```text
/// τ          0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16
/// arrived<τ  0 0 1 2 3 4 5 6 7 8  9 10 10 10 10 10 10
/// left<τ     0 0 0 1 1 2 3 3 4 5  5  6  7  7  8  9  9
/// in system  0 0 1 1 2 2 2 3 3 3  4  4  3  3  2  1  1
/// ```
#[test]
fn deterministic_trace_by_hand() {
    for engine in [EngineChoice::Auto, EngineChoice::EventList] {
        let sc = Scenario::new(
            vec![Source::new(ArrivalProcess::Trace {
                interarrivals: vec![1.0],
                repeat: true,
            })],
            Service::Servers {
                count: 1,
                time: ServiceSpec::Deterministic { value: 1.5 },
            },
            Stop::Customers(10),
        )
        .with_engine(engine)
        .with_output(OutputConfig {
            queue_sample_interval: Some(1.0),
            ..OutputConfig::default()
        });
        let r = simulate(&sc).unwrap();
        assert_eq!(r.sojourn.mean, 3.75);
        assert_eq!(r.wait.mean, 2.25);
        assert_eq!(r.end_time, 16.0);
        assert_eq!(r.utilisation, 15.0 / 16.0);
        assert_eq!(r.events, 20);
        // The histogram keeps 3 significant digits.
        assert!((r.sojourn_quantiles.max - 6.0).abs() < 6.0 * 1e-3);
        assert_eq!(
            r.queue.in_system,
            vec![0, 0, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 3, 3, 2, 1, 1]
        );
        assert_eq!(
            r.queue.in_queue,
            vec![0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 2, 2, 1, 0, 0]
        );
        // Little: ∫N dt = Σ sojourns = 37.5.
        assert_eq!(r.little.area, 37.5);
        assert_eq!(r.little.residence, 37.5);

        // Stopped at t = 9 instead: 9 arrived, the 5 that left by then (2.5 ... 8.5) count.
        let r = simulate(&sc.clone().with_stop(Stop::Duration(9.0))).unwrap();
        assert_eq!((r.arrived, r.served, r.in_system_at_end), (9, 5, 4));
        assert_eq!(r.sojourn.mean, (1.5 + 2.0 + 2.5 + 3.0 + 3.5) / 5.0);
        assert_eq!(r.end_time, 9.0);
        assert_eq!(r.queue.in_system.len(), 10);
        assert_eq!(r.utilisation, 8.0 / 9.0);
    }
}

/// The queue series stays bounded: 4 samples kept at most, the interval doubling as needed.
#[test]
fn queue_series_is_bounded() {
    let sc = Scenario::mm1(0.5, 1.0, 100_000).with_output(OutputConfig {
        queue_sample_interval: Some(0.5),
        max_queue_samples: 4,
        ..OutputConfig::default()
    });
    let r = simulate(&sc).unwrap();
    assert!(r.queue.len() <= 4);
    assert!(r.queue.interval >= r.end_time / 4.0);
    assert!(r.queue.time_of(r.queue.len() - 1) <= r.end_time);
}

/// Same seed, same result to the bit; another seed, another result. For every discipline.
#[test]
fn reproducible_for_a_seed() {
    let cap = 10e6 / (1000.0 * 8.0);
    for d in disciplines() {
        let sc = Scenario::new(
            vec![
                Source::new(ArrivalProcess::Poisson { rate: 0.7 * cap })
                    .with_size(SizeSpec::Uniform { min: 64, max: 1500 }),
                Source::new(ArrivalProcess::on_off(1.0 * cap, 0.05, 0.2)).with_flow(7),
            ],
            Service::Link { rate_bps: 10e6 },
            Stop::Duration(20.0),
        )
        .with_discipline(d.clone());
        let a = simulate(&sc.clone().with_seed(5)).unwrap();
        let b = simulate(&sc.clone().with_seed(5)).unwrap();
        let c = simulate(&sc.clone().with_seed(6)).unwrap();
        assert_eq!(a.sojourn, b.sojourn, "{d:?}");
        assert_eq!(a.sojourn_histogram, b.sojourn_histogram);
        assert_eq!(a.drops, b.drops);
        assert_eq!(a.queue, b.queue);
        assert_eq!(a.flows, b.flows);
        assert_ne!(a.sojourn.mean, c.sojourn.mean, "{d:?}");
        assert_ne!(a.arrived, c.arrived, "{d:?}");
    }
}

/// The arrivals and service times do not depend on the discipline (common random numbers):
/// with an unlimited FIFO and with a drop-tail queue that never fills, the runs are identical.
#[test]
fn common_random_numbers_across_disciplines() {
    let base = Scenario::new(
        vec![Source::poisson(1000.0)],
        Service::Link { rate_bps: 8e6 },
        Stop::Customers(50_000),
    )
    .with_seed(8)
    .with_engine(EngineChoice::EventList);
    let a = simulate(&base).unwrap();
    let b = simulate(&base.clone().with_discipline(DisciplineConfig::DropTail {
        limit: Limit::Packets(1_000_000),
    }))
    .unwrap();
    assert_eq!(a.sojourn, b.sojourn);
    assert_eq!(a.dropped, 0);
}

/// A service-time closure plugs in like a built-in distribution.
#[test]
fn closure_service_times() {
    let closure = |_: &mut Pcg64Mcg| 0.75;
    let custom = Scenario::with_service_time(
        vec![Source::poisson(1.0)],
        Service::Servers {
            count: 1,
            time: closure,
        },
        Stop::Customers(10_000),
    );
    let builtin = Scenario::new(
        vec![Source::poisson(1.0)],
        Service::Servers {
            count: 1,
            time: ServiceSpec::Deterministic { value: 0.75 },
        },
        Stop::Customers(10_000),
    );
    assert_eq!(
        simulate(&custom).unwrap().sojourn,
        simulate(&builtin).unwrap().sojourn
    );
    let bad = Scenario::with_service_time(
        vec![Source::poisson(1.0)],
        Service::Servers {
            count: 1,
            time: |_: &mut Pcg64Mcg| -1.0,
        },
        Stop::Customers(10),
    );
    assert!(matches!(
        simulate(&bad),
        Err(SimError::BadServiceTime { .. })
    ));
}

/// Bursty arrivals wait longer than Poisson ones at the same mean rate.
#[test]
fn bursty_arrivals_wait_longer() {
    let run = |arrivals| {
        simulate(
            &Scenario::new(
                vec![Source::new(arrivals)],
                Service::Servers {
                    count: 1,
                    time: ServiceSpec::Exponential { mean: 1.0 },
                },
                Stop::Customers(400_000),
            )
            .with_seed(12),
        )
        .unwrap()
    };
    let poisson = run(ArrivalProcess::Poisson { rate: 0.5 });
    // On 1/3 of the time at rate 1.5: mean rate 0.5.
    let bursty = run(ArrivalProcess::on_off(1.5, 50.0, 100.0));
    assert!(
        (bursty.throughput - 0.5).abs() < 0.05,
        "{}",
        bursty.throughput
    );
    assert!(
        bursty.wait.low > 3.0 * poisson.wait.high,
        "{:?} vs {:?}",
        bursty.wait,
        poisson.wait
    );
}

#[test]
fn invalid_scenarios_are_refused_with_a_reason() {
    let mut sc = Scenario::mm1(0.8, 1.0, 10);
    sc.sources.clear();
    assert_eq!(simulate(&sc).unwrap_err(), SimError::NoSources);
    let sc = Scenario::mm1(-1.0, 1.0, 10);
    assert!(matches!(
        simulate(&sc),
        Err(SimError::InvalidSource { index: 0, .. })
    ));
    let sc = Scenario::mm1(0.8, 1.0, 10).with_discipline(DisciplineConfig::Red(RedConfig {
        min_th: 10.0,
        max_th: 5.0,
        ..RedConfig::default()
    }));
    let e = simulate(&sc).unwrap_err();
    assert!(matches!(e, SimError::Discipline(_)));
    assert!(e.to_string().contains("max_th"), "{e}");
}

fn disciplines() -> Vec<DisciplineConfig> {
    vec![
        DisciplineConfig::Fifo,
        DisciplineConfig::DropTail {
            limit: Limit::Packets(20),
        },
        DisciplineConfig::DropTail {
            limit: Limit::Bytes(30_000),
        },
        DisciplineConfig::Red(RedConfig::default()),
        DisciplineConfig::Codel(CodelConfig::with_variant(CodelVariant::Rfc8289)),
        DisciplineConfig::Codel(CodelConfig::with_variant(CodelVariant::Linux)),
        DisciplineConfig::Pie(PieConfig::with_variant(PieVariant::Rfc8033)),
        DisciplineConfig::Pie(PieConfig::with_variant(PieVariant::Linux)),
        DisciplineConfig::FqCodel(FqCodelConfig::default()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Little's law on the sample path: for a run that starts and ends empty, the area under
    /// the number in system equals the total time customers spent in it (served and dropped),
    /// and L = λ W with λ the arrival rate over the run.
    #[test]
    fn littles_law(
        load in 0.3f64..1.5,
        servers in 1u32..4,
        which in 0usize..9,
        seed in any::<u64>(),
    ) {
        let d = disciplines()[which].clone();
        let rate = load * f64::from(servers) * 1000.0;
        let sc = Scenario::new(
            vec![
                Source::new(ArrivalProcess::Poisson { rate: rate * 0.7 }).with_size(SizeSpec::Fixed(1000)),
                Source::new(ArrivalProcess::on_off(rate * 0.9, 0.01, 0.02)).with_flow(3).with_size(SizeSpec::Fixed(1000)),
            ],
            Service::Servers { count: servers, time: ServiceSpec::Exponential { mean: 1e-3 } },
            Stop::Customers(20_000),
        )
        .with_discipline(d)
        .with_seed(seed);
        let r = simulate(&sc).unwrap();
        prop_assert_eq!(r.served + r.dropped, r.arrived);
        prop_assert_eq!(r.in_system_at_end, 0);
        let rel = (r.little.area - r.little.residence).abs() / r.little.area;
        prop_assert!(rel < 1e-9, "area {} residence {}", r.little.area, r.little.residence);
        let lambda = r.arrived as f64 / r.end_time;
        let w = r.little.residence / r.arrived as f64;
        prop_assert!((r.mean_in_system - lambda * w).abs() <= 1e-9 * r.mean_in_system.max(1.0));
        let per_flow: u64 = r.flows.iter().map(|f| f.served + f.dropped).sum();
        prop_assert_eq!(per_flow, r.arrived);
    }
}
