//! Analytic models against closed forms, published reference values and each other.

use latlab_queueing::fit::special::{integrate, Complex};
use latlab_queueing::fit::ServiceDist;
use latlab_queueing::models::laplace::Euler;
use latlab_queueing::models::{
    allen_cunneen_mean_wait, erlang_b, erlang_c, kingman_mean_wait, Ggc, Md1, Method, Mg1, Mm1,
    Mm1k, Mmc, Model, ModelError, QueueSpec,
};
use proptest::prelude::*;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn mm1_reference_values() {
    let q = Mm1::new(0.8, 1.0).unwrap();
    assert!(close(q.mean_sojourn(), 5.0, 1e-12));
    assert!(close(q.mean_wait(), 4.0, 1e-12));
    let p = q.predict().unwrap();
    assert_eq!(p.model, Model::MM1);
    assert_eq!(p.method, Method::Exact);
    assert!(close(p.sojourn.p50, 3.466, 1e-3), "{}", p.sojourn.p50);
    assert!(close(p.sojourn.p90, 11.513, 1e-3));
    assert!(close(p.sojourn.p99, 23.026, 1e-3));
    assert!(close(p.sojourn.p999, 34.539, 1e-3));
    assert!(close(p.sojourn.p9999, 46.052, 1e-3));
    // wait: atom 0.2 at zero; p50 = ln(0.8/0.5)/0.2
    assert!(close(p.wait.p50, (0.8f64 / 0.5).ln() / 0.2, 1e-12));
    assert!(close(q.wait_quantile(0.1).unwrap(), 0.0, 0.0));
    assert!(close(p.mean_in_system, 4.0, 1e-12));
}

#[test]
fn pollaczek_khinchine_mean_waits() {
    let lambda = 0.8;
    let det = Mg1::new(lambda, ServiceDist::Deterministic(1.0)).unwrap();
    assert!(close(det.mean_wait(), 2.0, 1e-12));
    let exp = Mg1::new(lambda, ServiceDist::Exponential(1.0)).unwrap();
    assert!(close(exp.mean_wait(), 4.0, 1e-12));
    let g = ServiceDist::gamma_with_mean_scv(1.0, 4.0).unwrap();
    assert!(close(Mg1::new(lambda, g).unwrap().mean_wait(), 10.0, 1e-12));
    let h = ServiceDist::hyperexponential_with_mean_scv(1.0, 4.0).unwrap();
    assert!(close(Mg1::new(lambda, h).unwrap().mean_wait(), 10.0, 1e-12));
    let md1 = Md1::new(lambda, 1.0).unwrap();
    assert!(close(md1.mean_wait(), 2.0, 1e-12));
    // Kingman is exact for M/G/1 means.
    assert!(close(kingman_mean_wait(0.8, 1.0, 4.0, 1.0), 10.0, 1e-12));
}

#[test]
fn erlang_c_reference_values() {
    let q = Mmc::new(0.2, 0.1, 3).unwrap();
    assert!(close(q.prob_wait(), 0.4444, 1e-4));
    assert!(close(q.prob_wait(), 4.0 / 9.0, 1e-12));
    assert!(close(q.mean_wait(), 4.444, 1e-3));
    assert!(
        close(erlang_c(10, 8.0), 0.40918, 1e-5),
        "{}",
        erlang_c(10, 8.0)
    );
    // Erlang B(1, a) = a/(1 + a); B(2, 1) = 1/5.
    assert!(close(erlang_b(1, 3.0), 0.75, 1e-15));
    assert!(close(erlang_b(2, 1.0), 0.2, 1e-15));
    // Large systems do not overflow: c = 1000 at 95 % load.
    let big = erlang_c(1000, 950.0);
    assert!(big > 0.0 && big < 1.0);
    // Allen–Cunneen with c_a² = c_s² = 1 is the M/M/c mean.
    assert!(close(
        allen_cunneen_mean_wait(3, 0.2, 10.0, 1.0, 1.0),
        q.mean_wait(),
        1e-12
    ));
}

#[test]
fn mm1_through_the_mg1_laplace_path_matches_closed_form() {
    let q = Mg1::new(0.8, ServiceDist::Exponential(1.0)).unwrap();
    let mm1 = Mm1::new(0.8, 1.0).unwrap();
    for i in 1..=60 {
        let t = i as f64 * 1.0;
        assert!(
            close(q.wait_sf_laplace(t), mm1.wait_sf(t), 1e-6),
            "wait t={t}: {} vs {}",
            q.wait_sf_laplace(t),
            mm1.wait_sf(t)
        );
        assert!(
            close(q.sojourn_sf_laplace(t), mm1.sojourn_sf(t), 1e-6),
            "sojourn t={t}"
        );
    }
    // Also as a different service type whose exact path is not taken: H2 with p = 1.
    let h = ServiceDist::HyperExponential {
        p: 1.0,
        mean1: 1.0,
        mean2: 3.0,
    };
    let qh = Mg1::new(0.8, h).unwrap();
    assert_eq!(qh.method(), Method::LaplaceInversion);
    for &p in &[0.5, 0.9, 0.99, 0.999] {
        let a = qh.sojourn_quantile(p).unwrap();
        let b = mm1.sojourn_quantile(p).unwrap();
        assert!(close(a, b, 1e-6 * b), "p={p}: {a} vs {b}");
    }
}

#[test]
fn md1_crommelin_stable_form_and_laplace_agree() {
    let md1 = Md1::new(0.8, 1.0).unwrap();
    let mg1 = Mg1::new(0.8, ServiceDist::Deterministic(1.0)).unwrap();
    let mut crommelin_points = 0;
    for i in 0..=240 {
        let t = 0.05 + i as f64 * 0.125;
        let stable = md1.wait_cdf(t);
        let laplace = 1.0 - mg1.wait_sf_laplace(t);
        assert!(
            close(stable, laplace, 1e-6),
            "t={t}: stable {stable} laplace {laplace}"
        );
        assert!(close(md1.wait_cdf(t) + md1.wait_sf(t), 1.0, 1e-13));
        if let Ok(c) = md1.wait_cdf_crommelin(t) {
            crommelin_points += 1;
            assert!(
                close(c, laplace, 1e-6),
                "t={t}: crommelin {c} laplace {laplace}"
            );
            assert!(
                close(c, stable, 1e-9),
                "t={t}: crommelin {c} stable {stable}"
            );
        } else {
            assert!(t > 8.0, "crommelin refused at small t = {t}");
        }
    }
    assert!(crommelin_points > 60, "{crommelin_points}");
    // Far out, Crommelin refuses rather than returning garbage.
    assert!(matches!(
        md1.wait_cdf_crommelin(60.0),
        Err(ModelError::Cancellation { .. })
    ));
    // Known values: P(W = 0) = 1 − ρ, P(W ≤ D) = (1 − ρ)e^{ρ}.
    assert!(close(md1.wait_cdf(0.0), 0.2, 1e-15));
    assert!(close(md1.wait_cdf(1.0), 0.2 * 0.8f64.exp(), 1e-13));
}

#[test]
fn md1_sojourn_from_laplace_matches_shifted_wait() {
    let mg1 = Mg1::new(0.5, ServiceDist::Deterministic(1.0)).unwrap();
    let md1 = Md1::new(0.5, 1.0).unwrap();
    // The sojourn CDF jumps by 1 − ρ at t = D, where any Fourier inversion rings (Gibbs);
    // away from the jump the inversion is accurate.
    for &(t, tol) in &[(2.5, 1e-5), (3.3, 1e-6), (5.5, 1e-6), (9.7, 1e-6)] {
        let a = mg1.sojourn_sf_laplace(t);
        let b = md1.sojourn_sf(t);
        assert!(close(a, b, tol), "t={t}: {a} vs {b}");
    }
    // An empirical service law with one atom takes the exact decomposition Σ wᵢP(W > t − xᵢ).
    let one = latlab_queueing::fit::Empirical::new(&[(1.0, 7)]).unwrap();
    let emp = Mg1::new(0.5, ServiceDist::Empirical(one)).unwrap();
    for &t in &[1.2, 1.7, 2.5, 4.0] {
        let a = emp.sojourn_sf(t);
        let b = md1.sojourn_sf(t);
        assert!(close(a, b, 1e-6), "empirical t={t}: {a} vs {b}");
    }
    // Percentiles: sojourn = D + wait.
    let p = md1.predict().unwrap();
    for (w, s) in p.wait.values().iter().zip(p.sojourn.values()) {
        assert!(close(s - w, 1.0, 1e-12));
    }
}

/// ∫₀^∞ P(W > t) dt must equal the Pollaczek–Khinchine mean: an independent check of the
/// inverted distribution for service laws without a closed-form waiting time.
#[test]
fn laplace_wait_distribution_integrates_to_pk_mean() {
    let services = [
        ServiceDist::gamma_with_mean_scv(1.0, 0.5).unwrap(),
        ServiceDist::gamma_with_mean_scv(1.0, 4.0).unwrap(),
        ServiceDist::lognormal_with_mean_scv(1.0, 1.5).unwrap(),
        ServiceDist::Weibull {
            shape: 1.5,
            scale: 1.0,
        },
        ServiceDist::hyperexponential_with_mean_scv(1.0, 3.0).unwrap(),
        ServiceDist::ShiftedExponential {
            shift: 0.4,
            scale: 0.6,
        },
    ];
    for s in services {
        let lambda = 0.7 / s.mean();
        let q = Mg1::new(lambda, s.clone()).unwrap();
        let pk = q.mean_wait();
        // Integrate in u = t/(1 + t/τ) style: split [0, 40·E[W]] and an exponential tail.
        let upper = 60.0 * pk.max(s.mean());
        let body: f64 = integrate(|t| q.wait_sf_laplace(t.max(1e-9)), 0.0, upper, 1e-6 * pk);
        assert!(
            close(body, pk, 2e-5 * pk),
            "{}: ∫sf = {body}, P-K = {pk}",
            s.name()
        );
        // Sojourn integrates to E[T].
        let soj: f64 = integrate(|t| q.sojourn_sf_laplace(t.max(1e-9)), 0.0, upper, 1e-7 * pk);
        assert!(
            close(soj, q.mean_sojourn(), 2e-5 * q.mean_sojourn()),
            "{}: ∫sf = {soj}, E[T] = {}",
            s.name(),
            q.mean_sojourn()
        );
    }
}

#[test]
fn mmc_sojourn_matches_transform_inversion() {
    for &(lambda, mu, c) in &[(0.2, 0.1, 3u32), (2.7, 1.0, 3), (8.0, 1.0, 10)] {
        let q = Mmc::new(lambda, mu, c).unwrap();
        let cw = q.prob_wait();
        let theta = c as f64 * mu - lambda;
        // T* = [(1 − C) + Cθ/(θ + s)]·μ/(μ + s); invert (1 − T*)/s.
        for &t in &[0.5, 2.0, 7.0, 20.0, 45.0] {
            let inv = Euler::SMOOTH.invert(
                |s: Complex| {
                    let w = Complex::real(1.0 - cw) + (s + theta).recip() * (cw * theta);
                    let tstar = w * (s + mu).recip() * mu;
                    (Complex::ONE - tstar) / s
                },
                t,
            );
            assert!(close(q.sojourn_sf(t), inv, 1e-7), "c={c} t={t}");
        }
    }
    // θ = μ exactly (Erlang-2 conditional sojourn) is continuous with its neighbours.
    let exact = Mmc::new(1.0, 1.0, 2).unwrap(); // θ = 2 − 1 = μ
    let near = Mmc::new(1.0 + 1e-9, 1.0, 2).unwrap();
    for &t in &[0.5, 3.0, 12.0] {
        assert!(close(exact.sojourn_sf(t), near.sojourn_sf(t), 1e-8));
    }
}

#[test]
fn mmc_state_probabilities_sum_to_one() {
    let q = Mmc::new(7.5, 1.0, 10).unwrap();
    let total: f64 = (0..2000).map(|n| q.state_probability(n)).sum();
    assert!(close(total, 1.0, 1e-12));
    let wait: f64 = (10..2000).map(|n| q.state_probability(n)).sum();
    assert!(close(wait, q.prob_wait(), 1e-12));
}

#[test]
fn mm1k_limits() {
    // K = 1: Erlang loss with one server, blocking λ/(λ + μ).
    let k1 = Mm1k::new(2.0, 1.0, 1).unwrap();
    assert!(close(k1.blocking_probability(), 2.0 / 3.0, 1e-15));
    assert!(close(k1.mean_sojourn(), 1.0, 1e-15));
    // ρ = 1: uniform states.
    let flat = Mm1k::new(1.0, 1.0, 4).unwrap();
    for p in flat.state_probabilities() {
        assert!(close(*p, 0.2, 1e-15));
    }
    // Large K, ρ < 1: M/M/1.
    let big = Mm1k::new(0.8, 1.0, 400).unwrap();
    let mm1 = Mm1::new(0.8, 1.0).unwrap();
    assert!(big.blocking_probability() < 1e-30);
    assert!(close(big.mean_sojourn(), mm1.mean_sojourn(), 1e-9));
    assert!(close(
        big.sojourn_quantile(0.99).unwrap(),
        mm1.sojourn_quantile(0.99).unwrap(),
        1e-6
    ));
    assert!(close(
        big.wait_quantile(0.99).unwrap(),
        mm1.wait_quantile(0.99).unwrap(),
        1e-6
    ));
    // Overload is fine with a finite buffer.
    let over = Mm1k::new(3.0, 1.0, 10).unwrap();
    let p = over.predict().unwrap();
    assert!(p.blocking > 0.6 && p.throughput < 1.0);
    assert_eq!(p.model.to_string(), "M/M/1/10");
}

#[test]
fn approximations_reduce_to_exact_markovian_models() {
    let exp = ServiceDist::Exponential(1.0);
    let g1 = Ggc::new(0.8, 1.0, exp.clone(), 1).unwrap();
    let mm1 = Mm1::new(0.8, 1.0).unwrap().predict().unwrap();
    let p = g1.predict().unwrap();
    assert_eq!(p.method, Method::Approximation { name: "kingman" });
    assert!(close(p.mean_wait, mm1.mean_wait, 1e-12));
    for (a, b) in p.sojourn.values().iter().zip(mm1.sojourn.values()) {
        assert!(close(*a, b, 1e-8 * b), "{a} vs {b}");
    }
    let g3 = Ggc::new(2.7, 1.0, exp, 3).unwrap();
    let mm3 = Mmc::new(2.7, 1.0, 3).unwrap().predict().unwrap();
    let p3 = g3.predict().unwrap();
    assert!(close(p3.mean_wait, mm3.mean_wait, 1e-12));
    for (a, b) in p3.sojourn.values().iter().zip(mm3.sojourn.values()) {
        assert!(close(*a, b, 1e-8 * b), "{a} vs {b}");
    }
    // Variability raises the G/G/1 wait linearly in (c_a² + c_s²).
    let bursty = Ggc::new(0.8, 3.0, ServiceDist::Deterministic(1.0), 1).unwrap();
    assert!(close(bursty.mean_wait(), 4.0 * 1.5, 1e-12));
    assert_eq!(bursty.predict().unwrap().model, Model::GG1);
    // Numerical sojourn convolution (lognormal) integrates to its mean.
    let ln = Ggc::new(
        0.6,
        2.0,
        ServiceDist::lognormal_with_mean_scv(1.0, 0.8).unwrap(),
        1,
    )
    .unwrap();
    let m: f64 = integrate(|t| ln.sojourn_sf(t), 0.0, 200.0, 1e-6);
    assert!(
        close(m, ln.mean_sojourn(), 1e-5),
        "{m} vs {}",
        ln.mean_sojourn()
    );
}

#[test]
fn queue_spec_picks_models() {
    let mm1 = QueueSpec::poisson(ServiceDist::Exponential(1.0), 1).unwrap();
    assert_eq!(mm1.predict(0.5).unwrap().model, Model::MM1);
    let md1 = QueueSpec::poisson(ServiceDist::Deterministic(1.0), 1).unwrap();
    assert_eq!(md1.predict(0.5).unwrap().model, Model::MD1);
    let mg1 = QueueSpec::poisson(ServiceDist::gamma_with_mean_scv(1.0, 2.0).unwrap(), 1).unwrap();
    let p = mg1.predict(0.5).unwrap();
    assert_eq!((p.model, p.method), (Model::MG1, Method::LaplaceInversion));
    let mmc = QueueSpec::poisson(ServiceDist::Exponential(1.0), 4).unwrap();
    assert_eq!(mmc.predict(3.0).unwrap().model, Model::MMc { servers: 4 });
    let mgc = QueueSpec::poisson(ServiceDist::Deterministic(1.0), 4).unwrap();
    assert_eq!(mgc.predict(3.0).unwrap().model, Model::MGc { servers: 4 });
    let ggc = QueueSpec::new(ServiceDist::Exponential(1.0), 2, 2.0).unwrap();
    assert_eq!(ggc.predict(1.0).unwrap().model, Model::GGc { servers: 2 });
}

#[test]
fn knee_finds_the_load_that_meets_the_budget() {
    // M/M/1, μ = 1: p99 sojourn = ln(100)/(1 − λ) ⇒ λ* = 1 − ln(100)/budget.
    let spec = QueueSpec::poisson(ServiceDist::Exponential(1.0), 1).unwrap();
    let k = spec.knee(0.99, 23.025_850_929_940_457).unwrap();
    assert!(close(k.lambda, 0.8, 2e-6), "{}", k.lambda);
    assert!(k.sojourn_at_knee <= 23.025_850_929_940_457);
    assert_eq!(k.model, Model::MM1);
    // M/D/1: the percentile at the knee sits just under the budget.
    let det = QueueSpec::poisson(ServiceDist::Deterministic(1.0), 1).unwrap();
    let kd = det.knee(0.999, 10.0).unwrap();
    let above = det.sojourn_quantile(kd.lambda + 1e-4, 0.999).unwrap();
    assert!(kd.sojourn_at_knee <= 10.0 && above > 10.0, "{kd:?} {above}");
    // M/M/c via Erlang C.
    let c4 = QueueSpec::poisson(ServiceDist::Exponential(1.0), 4).unwrap();
    let kc = c4.knee(0.99, 6.0).unwrap();
    assert!(kc.utilization > 0.5 && kc.utilization < 1.0);
    assert!(close(
        Mmc::new(kc.lambda, 1.0, 4)
            .unwrap()
            .sojourn_quantile(0.99)
            .unwrap(),
        6.0,
        1e-3
    ));
    // General service through Laplace inversion.
    let gam = QueueSpec::poisson(ServiceDist::gamma_with_mean_scv(1.0, 0.5).unwrap(), 1).unwrap();
    let kg = gam.knee(0.99, 15.0).unwrap();
    assert_eq!(kg.method, Method::LaplaceInversion);
    assert!(
        kg.sojourn_at_knee <= 15.0 && kg.sojourn_at_knee > 14.9,
        "{kg:?}"
    );
    // Several non-exponential servers: Allen–Cunneen, monotone in load as well.
    let mdc = QueueSpec::poisson(ServiceDist::Deterministic(1.0), 4).unwrap();
    let kk = mdc.knee(0.99, 3.0).unwrap();
    assert_eq!(
        kk.method,
        Method::Approximation {
            name: "allen-cunneen"
        }
    );
    assert!(kk.sojourn_at_knee <= 3.0 && kk.utilization > 0.5 && kk.utilization < 1.0);
    assert!(mdc.sojourn_quantile(kk.lambda + 1e-3, 0.99).unwrap() > 3.0);
    // A budget below the bare service time cannot be met.
    let err = spec.knee(0.999, 4.0).unwrap_err();
    assert!(matches!(err, ModelError::BudgetBelowServiceTime { .. }));
    assert!(err.to_string().contains("p99.9 = 6.90"), "{err}");
}

#[test]
fn bad_parameters_are_errors_not_panics() {
    assert!(matches!(
        Mm1::new(1.0, 1.0),
        Err(ModelError::Unstable { .. })
    ));
    assert!(matches!(
        Mm1::new(f64::NAN, 1.0),
        Err(ModelError::InvalidParameter { .. })
    ));
    assert!(Mm1::new(-0.1, 1.0).is_err());
    assert!(Mmc::new(1.0, 1.0, 0).is_err());
    assert!(Mmc::new(3.0, 1.0, 3).is_err());
    assert!(Md1::new(0.5, 0.0).is_err());
    assert!(Mg1::new(0.5, ServiceDist::Exponential(-1.0)).is_err());
    let heavy = ServiceDist::GeneralizedPareto {
        location: 0.0,
        scale: 1.0,
        shape: 1.5,
    };
    assert!(matches!(
        Mg1::new(0.1, heavy),
        Err(ModelError::InfiniteMean)
    ));
    assert!(Mm1k::new(1.0, 1.0, 0).is_err());
    let q = Mm1::new(0.5, 1.0).unwrap();
    assert!(matches!(
        q.sojourn_quantile(1.0),
        Err(ModelError::InvalidProbability { .. })
    ));
    assert!(q.wait_quantile(f64::NAN).is_err());
    let spec = QueueSpec::poisson(ServiceDist::Exponential(1.0), 1).unwrap();
    assert!(spec.knee(0.99, -1.0).is_err());
    assert!(spec.predict(2.0).is_err());
    // Messages say what to do.
    let msg = Mm1::new(2.0, 1.0).unwrap_err().to_string();
    assert!(msg.contains("keep the arrival rate below 1"), "{msg}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Little's law L = λW with L and W computed independently (L from state probabilities).
    #[test]
    fn littles_law(rho in 0.01f64..0.97, mu in 0.1f64..10.0, c in 1u32..12, k in 1u32..60) {
        let lambda = rho * mu;
        let mm1 = Mm1::new(lambda, mu).unwrap();
        prop_assert!(close(mm1.mean_in_system(), lambda * mm1.mean_sojourn(), 1e-9 * mm1.mean_in_system().max(1.0)));

        let cl = rho * mu * c as f64;
        let mmc = Mmc::new(cl, mu, c).unwrap();
        let l = mmc.mean_in_system();
        prop_assert!(close(l, cl * mmc.mean_sojourn(), 1e-9 * l.max(1.0)), "M/M/c L={} λW={}", l, cl * mmc.mean_sojourn());

        let md1 = Md1::new(lambda, 1.0 / mu).unwrap();
        let ld = md1.mean_in_system();
        prop_assert!(close(ld, lambda * md1.mean_sojourn(), 1e-8 * ld.max(1.0)), "M/D/1 L={} λW={}", ld, lambda * md1.mean_sojourn());

        // M/M/1/K at any load, including overload.
        let kl = rho * 2.0 * mu;
        let mmk = Mm1k::new(kl, mu, k).unwrap();
        let lk = mmk.mean_in_system();
        prop_assert!(close(lk, mmk.throughput() * mmk.mean_sojourn(), 1e-9 * lk.max(1.0)));
    }

    /// Waiting grows with load.
    #[test]
    fn wait_is_monotone_in_load(r1 in 0.01f64..0.95, dr in 0.001f64..0.04, c in 1u32..8, scv in 0.1f64..5.0) {
        let (a, b) = (r1, r1 + dr);
        let w = |r: f64| Mm1::new(r, 1.0).unwrap().mean_wait();
        prop_assert!(w(a) < w(b));
        let wc = |r: f64| Mmc::new(r * c as f64, 1.0, c).unwrap().mean_wait();
        prop_assert!(wc(a) < wc(b));
        let g = ServiceDist::gamma_with_mean_scv(1.0, scv).unwrap();
        let wg = |r: f64| Mg1::new(r, g.clone()).unwrap().mean_wait();
        prop_assert!(wg(a) < wg(b));
        let wa = |r: f64| Ggc::new(r * c as f64, scv, g.clone(), c).unwrap().mean_wait();
        prop_assert!(wa(a) < wa(b));
        let sq = |r: f64| Md1::new(r, 1.0).unwrap().sojourn_quantile(0.99).unwrap();
        prop_assert!(sq(a) <= sq(b));
        let mq = |r: f64| Mmc::new(r * c as f64, 1.0, c).unwrap().sojourn_quantile(0.999).unwrap();
        prop_assert!(mq(a) <= mq(b));
    }
}
