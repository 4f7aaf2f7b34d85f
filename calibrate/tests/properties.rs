//! Property tests for the invariants the derivations rest on.

use latlab_calibrate::delay::{EmpiricalDelay, TailFit, WeightedPoint};
use latlab_calibrate::export::exporter;
use latlab_calibrate::gap::HeartbeatStream;
use latlab_calibrate::phi::{akka_time_to_phi, phi_akka};
use latlab_calibrate::raft::{self, HeartbeatRule, RaftSpec};
use latlab_calibrate::rpc::{RtoEstimator, RtoParams};
use latlab_calibrate::stats::poisson_ci;
use latlab_calibrate::{calibrate, CalibrationInput, IidSum, Options, Target};
use proptest::prelude::*;

fn points() -> impl Strategy<Value = Vec<WeightedPoint>> {
    prop::collection::vec((1.0f64..5e6, 1u64..500), 3..60).prop_map(|v| {
        let mut pts: Vec<WeightedPoint> = v
            .into_iter()
            .map(|(x, c)| WeightedPoint::new(x.round(), c))
            .collect();
        // Make sure there are at least 100 samples.
        pts.push(WeightedPoint::new(1000.0, 100));
        pts
    })
}

fn fit() -> impl Strategy<Value = TailFit> {
    prop_oneof![
        Just(TailFit::GeneralizedPareto),
        Just(TailFit::Exponential),
        Just(TailFit::None)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ccdf_is_a_survival_function(pts in points(), fit in fit(), xs in prop::collection::vec(0.0f64..2e7, 2..20)) {
        let d = EmpiricalDelay::new(&pts, fit).unwrap();
        let mut xs = xs;
        xs.sort_by(f64::total_cmp);
        let mut prev = 1.0;
        for x in xs {
            let s = d.ccdf(x);
            prop_assert!((0.0..=1.0).contains(&s));
            prop_assert!(s <= prev + 1e-12, "ccdf rose at {x}: {s} > {prev}");
            prev = s;
        }
    }

    #[test]
    fn quantile_is_the_generalised_inverse(pts in points(), fit in fit(), q in 0.0f64..0.999_999) {
        let d = EmpiricalDelay::new(&pts, fit).unwrap();
        let x = d.quantile(q);
        // P(X ≤ x) ≥ q, and nothing observed below x already reaches q.
        prop_assert!(1.0 - d.ccdf(x) >= q - 1e-9);
        prop_assert!(x >= d.min());
    }

    #[test]
    fn silences_shrink_as_the_window_grows(pts in points(), fit in fit(), loss in 0.0f64..0.5, h in 1e3f64..5e6) {
        let d = EmpiricalDelay::new(&pts, fit).unwrap();
        let s = HeartbeatStream { delay: &d, interval_ns: h, loss };
        let mut prev = 1.0;
        for k in 1..12 {
            let p = s.silence_probability(k as f64 * h * 0.7);
            prop_assert!((0.0..=1.0).contains(&p));
            prop_assert!(p <= prev * (1.0 + 1e-9) + 1e-15, "window {k}: {p} > {prev}");
            prev = p;
        }
    }

    #[test]
    fn akka_phi_is_monotone_and_invertible(mean in 1e6f64..1e10, std in 1e5f64..1e9, th in 0.01f64..40.0) {
        let t = akka_time_to_phi(th, mean, std);
        prop_assert!((phi_akka(t, mean, std) - th).abs() <= 1e-6 * th.max(1.0));
        prop_assert!(phi_akka(t + std * 0.01, mean, std) >= phi_akka(t, mean, std));
    }

    #[test]
    fn rto_settles_on_a_constant_rtt(c in 1e3f64..1e9, n in 40usize..200) {
        let mut e = RtoEstimator::new(RtoParams::default());
        let mut prev = f64::INFINITY;
        for _ in 0..n {
            let rto = e.observe(c);
            prop_assert!(rto >= c);
            prop_assert!(rto <= prev);
            prev = rto;
        }
        // RTTVAR decays by (3/4)^(n−1) from c/2.
        let want = c + 4.0 * 0.5 * c * 0.75f64.powi(n as i32 - 1);
        prop_assert!((prev - want).abs() <= 1e-9 * c);
    }

    #[test]
    fn poisson_interval_brackets_the_count(n in 0u64..5000, conf in 0.5f64..0.999) {
        let (lo, hi) = poisson_ci(n, conf);
        prop_assert!(lo <= n as f64 && n as f64 <= hi);
        prop_assert!(lo >= 0.0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn election_timeout_is_the_smallest_that_meets_the_budget(
        loss in 0.0f64..0.3, h_ms in 1u64..20, spread in 1e4f64..3e6, budget_exp in -6i32..1
    ) {
        let pts: Vec<WeightedPoint> = (0..200)
            .map(|i| WeightedPoint::new(1e5 + spread * i as f64 / 200.0, 10))
            .collect();
        let d = EmpiricalDelay::new(&pts, TailFit::GeneralizedPareto).unwrap();
        let budget = 10f64.powi(budget_exp);
        let spec = RaftSpec {
            followers: 2,
            budget_per_hour: budget,
            heartbeat: HeartbeatRule::FixedMs(h_ms),
            tick_based: true,
            min_election_ms: 1,
            max_election_ms: raft::MAX_ELECTION_MS,
            min_election_rtts: 0.0,
        };
        let rtt = IidSum { one: &d };
        if let Ok(t) = raft::derive(&d, &rtt, loss, &spec, None, false) {
            prop_assert!(t.spurious_elections_per_hour <= budget);
            prop_assert_eq!(t.election_timeout_ms % h_ms, 0);
            prop_assert!(t.election_timeout_ms >= 5 * h_ms);
            if t.election_timeout_ms > 5 * h_ms {
                let e = (t.election_timeout_ms - h_ms) as f64 * 1e6;
                let s = HeartbeatStream { delay: &d, interval_ns: h_ms as f64 * 1e6, loss };
                prop_assert!(2.0 * s.silences_per_hour(e - h_ms as f64 * 1e6) > budget);
            }
        }
    }

    #[test]
    fn etcd_yaml_round_trips(lo_us in 50u64..5000, width_us in 10u64..5000, loss in 0.0f64..0.05) {
        let rtt: Vec<WeightedPoint> = (0..100)
            .map(|i| WeightedPoint::new((lo_us + width_us * i / 100) as f64 * 1e3, 10))
            .collect();
        let input = CalibrationInput {
            source_run: "prop".into(),
            rtt: Some(rtt),
            loss_probability: loss,
            ..CalibrationInput::default()
        };
        let r = calibrate(&input, Target::Etcd, &Options::default()).unwrap();
        let raft = r.raft.as_ref().unwrap();
        let yaml = exporter("etcd-yaml").unwrap().render(&r).unwrap();
        let get = |key: &str| -> u64 {
            yaml.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().parse().ok())
                .unwrap()
        };
        prop_assert_eq!(get("heartbeat-interval:"), raft.heartbeat_interval_ms);
        prop_assert_eq!(get("election-timeout:"), raft.election_timeout_ms);
    }
}
