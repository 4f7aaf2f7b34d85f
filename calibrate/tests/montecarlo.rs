//! Monte Carlo validation: the predicted false-positive rates against a virtual-clock
//! simulation of the same heartbeat stream and detector, judged by the exact Poisson 99 %
//! interval. Each test also holds a deliberately wrong prediction against the same count and
//! requires it to be rejected, so the check can fail.

use latlab_calibrate::delay::{EmpiricalDelay, TailFit, WeightedPoint};
use latlab_calibrate::gap::HeartbeatStream;
use latlab_calibrate::montecarlo::{judge, simulate, SimConfig, SimDetector};
use latlab_calibrate::phi::{derive_akka, derive_cassandra, AkkaSettings, PhiContext};
use latlab_calibrate::raft::{self, HeartbeatRule, RaftSpec};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

const H: f64 = 1e6; // 1 ms heartbeats
const HEARTBEATS: f64 = 2e6;
const HOURS: f64 = HEARTBEATS * H / 3.6e12;
const CONFIDENCE: f64 = 0.99;

/// Samples bucketed to 1 µs, as an HdrHistogram with µs resolution would keep them.
fn bucketed(samples: &[f64]) -> EmpiricalDelay {
    let mut v: Vec<u64> = samples.iter().map(|s| (s / 1e3).round() as u64).collect();
    v.sort_unstable();
    let mut pts: Vec<WeightedPoint> = Vec::new();
    for us in v {
        match pts.last_mut() {
            Some(p) if p.value_ns == us as f64 * 1e3 => p.count += 1,
            _ => pts.push(WeightedPoint::new(us as f64 * 1e3, 1)),
        }
    }
    EmpiricalDelay::new(&pts, TailFit::GeneralizedPareto).unwrap()
}

/// Lognormal one-way delay: median 0.3 ms, σ = 0.8 (p99 ≈ 1.9 ms: jitter comparable to h).
fn lognormal() -> EmpiricalDelay {
    let mut rng = Pcg64Mcg::seed_from_u64(1);
    let s: Vec<f64> = (0..100_000)
        .map(|_| {
            let u1: f64 = 1.0 - rng.random::<f64>();
            let u2: f64 = rng.random::<f64>();
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            0.3e6 * (0.8 * z).exp()
        })
        .collect();
    bucketed(&s)
}

/// Pareto one-way delay: x_m = 0.1 ms, α = 1.5 (infinite variance).
fn pareto() -> EmpiricalDelay {
    let mut rng = Pcg64Mcg::seed_from_u64(2);
    let s: Vec<f64> = (0..100_000)
        .map(|_| 0.1e6 * (1.0 - rng.random::<f64>()).powf(-1.0 / 1.5))
        .collect();
    bucketed(&s)
}

/// The wrong model: the gap is (k+1)h + D, ignoring that the previous heartbeat was late too.
fn only_d_per_hour(d: &EmpiricalDelay, loss: f64, t: f64) -> f64 {
    let mut p = 0.0;
    let mut pk = 1.0 - loss;
    for k in 0..200 {
        p += pk * d.ccdf(t - (k as f64 + 1.0) * H);
        pk *= loss;
    }
    (1.0 - loss) * 3.6e12 / H * p
}

fn run(
    d: &EmpiricalDelay,
    loss: f64,
    seed: u64,
    detector: SimDetector,
) -> latlab_calibrate::montecarlo::SimCount {
    let t0 = std::time::Instant::now();
    let c = simulate(
        d,
        &SimConfig {
            interval_ns: H,
            loss,
            hours: HOURS,
            seed,
            detector,
        },
    )
    .unwrap();
    eprintln!(
        "{detector:?}: {} false suspicions in {:.3} h ({} heartbeats, {:?})",
        c.false_suspicions,
        c.simulated_hours,
        c.heartbeats_sent,
        t0.elapsed()
    );
    c
}

fn check_timeout(d: &EmpiricalDelay, loss: f64, t: f64, seed: u64) {
    let stream = HeartbeatStream {
        delay: d,
        interval_ns: H,
        loss,
    };
    let predicted = stream.silences_per_hour(t);
    let c = run(d, loss, seed, SimDetector::Timeout { timeout_ns: t });
    let v = judge(c, predicted, CONFIDENCE);
    eprintln!(
        "predicted {:.1}, 99 % interval [{:.1}, {:.1}]",
        v.predicted, v.ci_low, v.ci_high
    );
    assert!(
        (10.0..=1000.0).contains(&v.predicted),
        "not decisive: predicted {}",
        v.predicted
    );
    assert!(v.consistent, "{v:?}");
    let wrong = judge(c, only_d_per_hour(d, loss, t), CONFIDENCE);
    assert!(
        !wrong.consistent,
        "ignoring D' − D was not rejected: {wrong:?}"
    );
    let fp = judge(
        c,
        stream.first_passage_probability(t) * stream.arrivals_per_hour(),
        CONFIDENCE,
    );
    assert!(
        !fp.consistent,
        "the first-passage shortcut was not rejected: {fp:?}"
    );
}

#[test]
fn light_tailed_lognormal_timeout() {
    check_timeout(&lognormal(), 0.02, 3.5e6, 11);
}

#[test]
fn heavy_tailed_pareto_timeout() {
    check_timeout(&pareto(), 0.0, 3.0e6, 12);
}

#[test]
fn raft_derivation_holds_under_simulation() {
    // One follower, 30 % loss, generic timers (no ticks): E comes out a few heartbeats long.
    let d = lognormal();
    let loss = 0.3;
    let budget = 2000.0;
    let spec = RaftSpec {
        followers: 1,
        budget_per_hour: budget,
        heartbeat: HeartbeatRule::FixedMs(1),
        tick_based: false,
        min_election_ms: 1,
        max_election_ms: raft::MAX_ELECTION_MS,
        min_election_rtts: 0.0,
    };
    let rtt = latlab_calibrate::delay::IidSum { one: &d };
    let t = raft::derive(&d, &rtt, loss, &spec, None, false).unwrap();
    let e = t.election_timeout_ms as f64 * 1e6;
    eprintln!(
        "E = {} ms, worst {:.1}/h, expected {:.1}/h",
        t.election_timeout_ms,
        t.spurious_elections_per_hour,
        t.spurious_elections_per_hour_expected
    );
    assert!(t.spurious_elections_per_hour <= budget);

    let c = run(&d, loss, 21, SimDetector::Timeout { timeout_ns: e });
    let v = judge(c, t.spurious_elections_per_hour, CONFIDENCE);
    assert!(v.predicted >= 10.0, "not decisive: {v:?}");
    assert!(v.consistent, "worst case: {v:?}");

    let c = run(
        &d,
        loss,
        22,
        SimDetector::RandomizedTimeout {
            min_ns: e,
            max_ns: 2.0 * e,
        },
    );
    let v = judge(c, t.spurious_elections_per_hour_expected, CONFIDENCE);
    assert!(v.predicted >= 10.0, "not decisive: {v:?}");
    assert!(v.consistent, "randomised: {v:?}");
    // Predicting the randomised count with the worst case is wrong, and is caught.
    assert!(!judge(c, t.spurious_elections_per_hour, CONFIDENCE).consistent);
}

#[test]
fn phi_derivations_hold_under_simulation() {
    let d = lognormal();
    let loss = 0.02;
    // Budgets in events per simulated hour for one pair, so the runs are decisive.
    let ctx = PhiContext {
        one_way: &d,
        loss,
        pairs: 1.0,
        budget_per_hour: 300.0,
        duration_s: None,
        require_evidence: false,
    };
    // Akka with min-std above the jitter (so the window's std does not matter) and no pause.
    let settings = AkkaSettings {
        heartbeat_interval_ms: 1,
        acceptable_heartbeat_pause_ms: 0,
        min_std_deviation_ms: 2,
    };
    let a = derive_akka(&ctx, settings).unwrap();
    eprintln!(
        "akka threshold {} suspect after {:.3} ms, {:.1}/h",
        a.threshold,
        a.suspect_after_ns / 1e6,
        a.false_suspicions_per_hour
    );
    let c = run(
        &d,
        loss,
        31,
        SimDetector::PhiAkka {
            threshold: a.threshold,
            acceptable_pause_ns: 0.0,
            min_std_ns: 2e6,
            window: 1000,
        },
    );
    let v = judge(c, a.false_suspicions_per_hour, CONFIDENCE);
    assert!(v.predicted >= 10.0, "not decisive: {v:?}");
    assert!(v.consistent, "akka: {v:?}");
    assert!(!judge(c, only_d_per_hour(&d, loss, a.suspect_after_ns), CONFIDENCE).consistent);

    let cs = derive_cassandra(&ctx, 1, false).unwrap();
    eprintln!(
        "cassandra threshold {} convict after {:.3} ms, {:.1}/h",
        cs.phi_convict_threshold,
        cs.convict_after_ns / 1e6,
        cs.false_suspicions_per_hour
    );
    let c = run(
        &d,
        loss,
        32,
        SimDetector::PhiCassandra {
            threshold: cs.phi_convict_threshold,
            window: 1000,
        },
    );
    let v = judge(c, cs.false_suspicions_per_hour, CONFIDENCE);
    assert!(v.predicted >= 10.0, "not decisive: {v:?}");
    assert!(v.consistent, "cassandra: {v:?}");
    assert!(
        !judge(
            c,
            only_d_per_hour(&d, loss, cs.convict_after_ns),
            CONFIDENCE
        )
        .consistent
    );
}

#[test]
fn simulation_is_repeatable_and_seed_sensitive() {
    let d = pareto();
    let cfg = SimConfig {
        interval_ns: H,
        loss: 0.1,
        hours: 0.05,
        seed: 5,
        detector: SimDetector::Timeout { timeout_ns: 2.5e6 },
    };
    let a = simulate(&d, &cfg).unwrap();
    let b = simulate(&d, &cfg).unwrap();
    assert_eq!(a, b);
    let c = simulate(&d, &SimConfig { seed: 6, ..cfg }).unwrap();
    assert_ne!(
        (a.arrivals, a.false_suspicions),
        (c.arrivals, c.false_suspicions)
    );
    assert_eq!(a.heartbeats_sent, 180_000);
    assert!(simulate(&d, &SimConfig { hours: 1e9, ..cfg }).is_err());
}
