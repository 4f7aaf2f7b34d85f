//! Distribution fitting: parameters recovered from seeded samples of known distributions,
//! the right family chosen by AIC, reported standard errors against asymptotic theory, and
//! clear errors on unusable input.

use latlab_queueing::fit::special::{integrate, trigamma, Complex};
use latlab_queueing::fit::{
    fit_family, fit_samples, fit_tail, fit_weighted, Empirical, Family, Fit, FitError, FitOptions,
    FitReport, ServiceDist,
};
use latlab_queueing::stats::WeightedSamples;
use rand::SeedableRng;
use rand_pcg::Pcg64;

const N: usize = 100_000;
/// Parameter estimates must lie within this many standard errors of the truth.
const Z: f64 = 4.0;

fn draw(dist: &ServiceDist, n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Pcg64::seed_from_u64(seed);
    (0..n).map(|_| dist.sample(&mut rng)).collect()
}

fn param(fit: &Fit, name: &str) -> (f64, f64) {
    let p = fit
        .params
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{:?} has no parameter {name}", fit.family));
    (p.value, p.std_err.expect("standard error"))
}

/// |estimate − truth| ≤ Z·se, and the reported se within 15 % of the asymptotic one.
fn check_param(fit: &Fit, name: &str, truth: f64, theory_se: f64) {
    let (v, se) = param(fit, name);
    assert!(
        (v - truth).abs() <= Z * theory_se,
        "{:?} {name}: {v} vs truth {truth} (se {theory_se})",
        fit.family
    );
    assert!(
        (se / theory_se - 1.0).abs() < 0.15,
        "{:?} {name}: reported se {se} vs asymptotic {theory_se}",
        fit.family
    );
}

fn report(dist: &ServiceDist, seed: u64) -> FitReport {
    fit_samples(&draw(dist, N, seed), &FitOptions::default()).expect("fit")
}

/// The chosen family beats every listed alternative by at least `margin` AIC units.
fn assert_beats(r: &FitReport, others: &[Family], margin: f64) {
    let best = r.best();
    for &o in others {
        if let Some(f) = r.get(o) {
            assert!(
                f.aic > best.aic + margin,
                "{:?} (AIC {}) not clearly worse than {:?} (AIC {})",
                o,
                f.aic,
                best.family,
                best.aic
            );
        }
    }
}

#[test]
fn lognormal_is_recovered() {
    let (mu, sigma) = (20_000f64.ln(), 0.5);
    let r = report(
        &ServiceDist::LogNormal {
            shift: 0.0,
            mu,
            sigma,
        },
        1,
    );
    let best = r.best();
    assert!(
        matches!(best.family, Family::LogNormal | Family::ShiftedLogNormal),
        "{:?}",
        best.family
    );
    let ln = r.get(Family::LogNormal).unwrap();
    let n = N as f64;
    check_param(ln, "mu", mu, sigma / n.sqrt());
    check_param(ln, "sigma", sigma, sigma / (2.0 * n).sqrt());
    assert_beats(
        &r,
        &[
            Family::Gamma,
            Family::Weibull,
            Family::ShiftedExponential,
            Family::HyperExponential,
        ],
        10.0,
    );
    assert!(ln.ks < 0.01 && ln.anderson_darling < 5.0, "{ln:?}");
}

#[test]
fn shifted_lognormal_is_recovered() {
    let truth = ServiceDist::LogNormal {
        shift: 8_000.0,
        mu: 9.0,
        sigma: 0.6,
    };
    let r = report(&truth, 2);
    assert_eq!(r.best().family, Family::ShiftedLogNormal);
    let f = r.get(Family::ShiftedLogNormal).unwrap();
    let (shift, se_shift) = param(f, "shift");
    let (m, se_m) = param(f, "mu");
    let (s, se_s) = param(f, "sigma");
    assert!(
        (shift - 8_000.0).abs() <= Z * se_shift,
        "shift {shift} ± {se_shift}"
    );
    assert!((m - 9.0).abs() <= Z * se_m, "mu {m} ± {se_m}");
    assert!((s - 0.6).abs() <= Z * se_s, "sigma {s} ± {se_s}");
    // And the profile is sharp enough to matter: within 2 % of the truth.
    assert!((shift / 8_000.0 - 1.0).abs() < 0.02, "{shift}");
    assert_beats(
        &r,
        &[Family::LogNormal, Family::Gamma, Family::Weibull],
        10.0,
    );
}

#[test]
fn gamma_is_recovered() {
    let (k, theta) = (3.0, 5_000.0);
    let r = report(
        &ServiceDist::Gamma {
            shape: k,
            scale: theta,
        },
        3,
    );
    assert_eq!(r.best().family, Family::Gamma);
    let g = r.get(Family::Gamma).unwrap();
    let n = N as f64;
    // Inverse Fisher information: Var k̂ = k/(n(kψ′(k) − 1)), Var θ̂ = θ²ψ′(k)/(n(kψ′(k) − 1)).
    let d = k * trigamma(k) - 1.0;
    check_param(g, "shape", k, (k / (n * d)).sqrt());
    check_param(
        g,
        "scale",
        theta,
        (theta * theta * trigamma(k) / (n * d)).sqrt(),
    );
    assert_beats(&r, &[Family::LogNormal, Family::Weibull], 10.0);
}

#[test]
fn weibull_is_recovered() {
    let (k, lambda) = (1.5, 10_000.0);
    let r = report(
        &ServiceDist::Weibull {
            shape: k,
            scale: lambda,
        },
        4,
    );
    assert_eq!(r.best().family, Family::Weibull);
    let w = r.get(Family::Weibull).unwrap();
    let n = N as f64;
    // Asymptotic variances (Cohen 1965): Var k̂ = 0.6079 k²/n, Var λ̂ = 1.1087 λ²/(k² n).
    check_param(w, "shape", k, (0.6079 * k * k / n).sqrt());
    check_param(
        w,
        "scale",
        lambda,
        (1.1087 * lambda * lambda / (k * k * n)).sqrt(),
    );
    assert_beats(&r, &[Family::Gamma, Family::LogNormal], 10.0);
}

#[test]
fn shifted_exponential_is_recovered() {
    let (shift, scale) = (5_000.0, 2_000.0);
    let r = report(&ServiceDist::ShiftedExponential { shift, scale }, 5);
    assert_eq!(r.best().family, Family::ShiftedExponential);
    let f = r.get(Family::ShiftedExponential).unwrap();
    let n = N as f64;
    check_param(f, "scale", scale, scale / n.sqrt());
    // The minimum overshoots the shift by Exp(scale/n).
    let (s, _) = param(f, "shift");
    assert!(s >= shift && s - shift < 10.0 * scale / n, "{s}");
    assert_beats(
        &r,
        &[Family::Gamma, Family::LogNormal, Family::Weibull],
        10.0,
    );
}

#[test]
fn hyperexponential_is_recovered() {
    let (p, m1, m2) = (0.3, 1_000.0, 20_000.0);
    let truth = ServiceDist::HyperExponential {
        p,
        mean1: m1,
        mean2: m2,
    };
    let r = report(&truth, 6);
    assert_eq!(r.best().family, Family::HyperExponential);
    let h = r.get(Family::HyperExponential).unwrap();
    for (name, t) in [("p", p), ("mean1", m1), ("mean2", m2)] {
        let (v, se) = param(h, name);
        assert!((v - t).abs() <= Z * se, "{name}: {v} ± {se} vs {t}");
        assert!(se < 0.05 * t, "{name}: se {se} is implausibly large");
    }
    assert_beats(
        &r,
        &[
            Family::Gamma,
            Family::LogNormal,
            Family::Weibull,
            Family::ShiftedExponential,
        ],
        10.0,
    );
}

#[test]
fn exponential_data_pick_an_exponential_shaped_fit() {
    let r = report(&ServiceDist::Exponential(1_000.0), 7);
    // Shifted exponential, gamma(k≈1), Weibull(k≈1) and H₂ all contain the exponential; AIC
    // may pick any of them, but the choice must describe an exponential.
    let best = r.best();
    assert!(
        !matches!(best.family, Family::LogNormal | Family::ShiftedLogNormal),
        "{:?}",
        best.family
    );
    assert!((best.mean / 1_000.0 - 1.0).abs() < 0.02);
    assert!((best.scv - 1.0).abs() < 0.05, "scv {}", best.scv);
    let g = r.get(Family::Gamma).unwrap();
    check_param(
        g,
        "shape",
        1.0,
        (1.0 / (N as f64 * (trigamma(1.0) - 1.0))).sqrt(),
    );
    assert_beats(&r, &[Family::LogNormal], 100.0);
}

#[test]
fn gpd_tail_is_recovered() {
    // GPD(location σ/ξ, σ, ξ) is exactly Pareto with α = 1/ξ = 4 and minimum σ/ξ, and
    // threshold-stable: excesses over u are GPD(σ + ξ(u − location), ξ).
    let (sigma, xi) = (1_000.0, 0.25);
    let location = sigma / xi;
    let truth = ServiceDist::GeneralizedPareto {
        location,
        scale: sigma,
        shape: xi,
    };
    let data = WeightedSamples::from_samples(&draw(&truth, 400_000, 8)).unwrap();
    let t = fit_tail(&data, 0.9, 50).unwrap();
    let k = t.exceedances as f64;
    assert!((k / 40_000.0 - 1.0).abs() < 0.01);
    let se_xi = (1.0 + xi) / k.sqrt();
    assert!(
        (t.shape - xi).abs() <= Z * se_xi,
        "xi {} ± {se_xi}",
        t.shape
    );
    let sigma_u = sigma + xi * (t.threshold - location);
    let se_sigma = sigma_u * (2.0 * (1.0 + xi) / k).sqrt();
    assert!(
        (t.scale - sigma_u).abs() <= Z * se_sigma,
        "sigma {} vs {sigma_u}",
        t.scale
    );
    assert!((t.params[0].std_err.unwrap() / se_xi - 1.0).abs() < 0.05);
    // Hill on an exact Pareto tail: α̂ within 4 standard errors (α/√k) of 1/ξ.
    let alpha = t.hill_alpha.unwrap();
    assert!((alpha - 4.0).abs() <= Z * 4.0 / k.sqrt(), "hill {alpha}");
    // The spliced distribution reproduces the data's upper quantiles.
    let q999 = data.quantile(0.999).unwrap();
    assert!((t.dist.quantile(0.999) / q999 - 1.0).abs() < 0.05);

    // Exponential tails give ξ ≈ 0.
    let e = WeightedSamples::from_samples(&draw(&ServiceDist::Exponential(1.0), N, 9)).unwrap();
    let te = fit_tail(&e, 0.95, 50).unwrap();
    let se = 1.0 / (te.exceedances as f64).sqrt();
    assert!(te.shape.abs() <= Z * se, "xi {}", te.shape);
    assert!((te.scale - 1.0).abs() < Z * (2.0 / te.exceedances as f64).sqrt());
    // Too few exceedances is an error that says what to do.
    let small = WeightedSamples::from_samples(&draw(&truth, 200, 10)).unwrap();
    let err = fit_tail(&small, 0.95, 50).unwrap_err();
    assert!(
        matches!(err, FitError::TooFewExceedances { got: 10, .. }),
        "{err}"
    );
}

#[test]
fn histogram_input_equals_raw_samples() {
    // Integer-nanosecond latencies: many ties, so the histogram is much smaller.
    let raw: Vec<f64> = draw(
        &ServiceDist::Gamma {
            shape: 4.0,
            scale: 250.0,
        },
        50_000,
        10,
    )
    .into_iter()
    .map(f64::round)
    .collect();
    let data = WeightedSamples::from_samples(&raw).unwrap();
    let points: Vec<(f64, u64)> = data.iter().collect();
    assert!(points.len() < raw.len() / 5);
    let a = fit_samples(&raw, &FitOptions::default()).unwrap();
    let b = fit_weighted(&points, &FitOptions::default()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.data.count, 50_000);
}

#[test]
fn unusable_input_gives_clear_errors() {
    let opts = FitOptions::default();
    assert_eq!(
        fit_samples(&[1.0; 9], &opts),
        Err(FitError::TooFew { needed: 10, got: 9 })
    );
    let mut v = vec![5.0; 20];
    v[3] = 6.0;
    v[7] = f64::NAN;
    assert!(matches!(
        fit_samples(&v, &opts),
        Err(FitError::NonFinite { index: 7, .. })
    ));
    v[7] = f64::INFINITY;
    assert!(matches!(
        fit_samples(&v, &opts),
        Err(FitError::NonFinite { index: 7, .. })
    ));
    v[7] = -1.0;
    let neg = fit_samples(&v, &opts).unwrap_err();
    assert!(matches!(neg, FitError::Negative { index: 7, .. }));
    assert!(neg.to_string().contains("cannot be negative"));
    // All equal: an error that says so and offers the deterministic distribution.
    let eq = fit_samples(&[42.0; 100], &opts).unwrap_err();
    assert_eq!(
        eq,
        FitError::AllEqual {
            value: 42.0,
            count: 100
        }
    );
    assert_eq!(eq.deterministic(), Some(ServiceDist::Deterministic(42.0)));
    assert!(eq.to_string().contains("deterministic"), "{eq}");
    assert!(fit_weighted(&[(3.0, 1_000_000)], &opts).is_err());
    assert!(matches!(
        fit_weighted(&[(1.0, 3), (2.0, 4)], &opts),
        Err(FitError::TooFew { got: 7, .. })
    ));
    assert!(matches!(
        fit_weighted(&[(1.0, 30), (f64::NAN, 4)], &opts),
        Err(FitError::NonFinite { index: 1, .. })
    ));
    // Zeros: families needing x > 0 are skipped with the reason; others still fit.
    let mut z = draw(&ServiceDist::Exponential(10.0), 1_000, 11);
    z[0] = 0.0;
    let r = fit_samples(&z, &opts).unwrap();
    assert!(r.get(Family::ShiftedExponential).is_some());
    assert!(r.get(Family::Gamma).is_none());
    assert!(r.skipped.iter().any(|s| s.family == Some(Family::Gamma)
        && matches!(s.error, FitError::NotPositive { zeros: 1, .. })));
    // Two distinct values: degenerate but not a crash.
    let two: Vec<f64> = (0..50)
        .map(|i| if i % 2 == 0 { 1.0 } else { 2.0 })
        .collect();
    let r2 = fit_samples(&two, &opts).unwrap();
    assert!(!r2.fits.is_empty());
    // A bad option.
    let bad = FitOptions {
        tail_level: Some(1.5),
        ..FitOptions::default()
    };
    let r3 = fit_samples(&z, &bad).unwrap();
    assert!(r3.tail.is_none());
    assert!(r3
        .skipped
        .iter()
        .any(|s| matches!(s.error, FitError::InvalidOption { .. })));
    let data = WeightedSamples::from_samples(&z).unwrap();
    assert!(fit_family(&data, Family::Weibull).is_err());
}

fn all_dists() -> Vec<ServiceDist> {
    vec![
        ServiceDist::Deterministic(3.0),
        ServiceDist::Exponential(2.0),
        ServiceDist::ShiftedExponential {
            shift: 1.0,
            scale: 2.0,
        },
        ServiceDist::LogNormal {
            shift: 0.5,
            mu: 0.3,
            sigma: 0.7,
        },
        ServiceDist::Gamma {
            shape: 0.6,
            scale: 3.0,
        },
        ServiceDist::Weibull {
            shape: 0.8,
            scale: 2.0,
        },
        ServiceDist::HyperExponential {
            p: 0.2,
            mean1: 0.5,
            mean2: 4.0,
        },
        ServiceDist::GeneralizedPareto {
            location: 1.0,
            scale: 1.0,
            shape: 0.2,
        },
        ServiceDist::Empirical(Empirical::new(&[(1.0, 3), (2.0, 5), (7.5, 2)]).unwrap()),
        ServiceDist::EmpiricalGpdTail {
            body: Empirical::new(&[(1.0, 3), (2.0, 5), (3.0, 2)]).unwrap(),
            threshold: 3.0,
            tail_prob: 0.1,
            scale: 2.0,
            shape: 0.1,
        },
    ]
}

#[test]
fn service_dist_moments_quantiles_and_samplers_agree() {
    for d in all_dists() {
        d.validate().unwrap();
        let xs = draw(&d, 400_000, 12);
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let m2 = xs.iter().map(|x| x * x).sum::<f64>() / n;
        let sd = (d.second_moment() - d.mean().powi(2)).max(0.0).sqrt();
        assert!(
            (mean - d.mean()).abs() <= 5.0 * sd / n.sqrt() + 1e-12,
            "{}: sample mean {mean} vs {}",
            d.name(),
            d.mean()
        );
        assert!(
            (m2 / d.second_moment() - 1.0).abs() < 0.05,
            "{}: E[X²] {m2} vs {}",
            d.name(),
            d.second_moment()
        );
        assert!((d.variance() - sd * sd).abs() <= 1e-9 * d.second_moment());
        // KS of the sampler against the CDF (discrete families: compare at atoms).
        let data = WeightedSamples::from_samples(&xs).unwrap();
        let mut dmax: f64 = 0.0;
        for &x in data.values().iter().step_by(97) {
            dmax = dmax.max((data.cdf(x) - d.cdf(x)).abs());
        }
        assert!(dmax < 0.005, "{}: sampler KS {dmax}", d.name());
        for &p in &[0.01, 0.3, 0.5, 0.9, 0.999] {
            let q = d.quantile(p);
            assert!(
                d.cdf(q) >= p - 1e-9,
                "{} p={p} q={q} F={}",
                d.name(),
                d.cdf(q)
            );
            assert!(
                (d.cdf(q) + d.sf(q) - 1.0).abs() < 1e-12,
                "{}: cdf + sf at {q}",
                d.name()
            );
            // Nothing smaller reaches p (for continuous laws: F(q) = p).
            let below = q - 1e-7 * q.max(1.0);
            assert!(d.cdf(below) <= p + 1e-9, "{} p={p}", d.name());
        }
        assert!(d.quantile(1.5).is_nan());
    }
}

#[test]
fn laplace_transforms_agree_with_direct_integration() {
    let points = [
        Complex::real(0.3),
        Complex::new(0.7, 2.0),
        Complex::new(0.05, 9.0),
        Complex::new(3.0, -1.0),
    ];
    for d in all_dists() {
        for &s in &points {
            let parts = d.laplace_parts(s);
            // Independent path: E[e^{−sX}] = ∫₀¹ e^{−s Q(u)} du (midpoint-free GL quadrature in u),
            // or the finite sum for discrete laws.
            let direct = match &d {
                ServiceDist::Deterministic(v) => (-(s * *v)).exp(),
                ServiceDist::Empirical(e) => {
                    let n = e.total() as f64;
                    e.points().iter().fold(Complex::ZERO, |acc, &(x, c)| {
                        acc + (-(s * x)).exp() * (c as f64 / n)
                    })
                }
                _ => {
                    let f = |u: f64| [(-(s * d.quantile(u))).exp()];
                    let body = integrate(f, 0.0, 0.999, 1e-12)[0];
                    // tail in w = −ln(1 − u)
                    let g = |w: f64| {
                        let u = -(-w).exp_m1();
                        [(-(s * d.quantile(u))).exp() * (-w).exp()]
                    };
                    body + integrate(g, 1000f64.ln(), 35.0, 1e-13)[0]
                }
            };
            let tol = if matches!(d, ServiceDist::EmpiricalGpdTail { .. }) {
                1e-6
            } else {
                1e-8
            };
            assert!(
                (parts.lst - direct).abs() < tol,
                "{} at {s:?}: {:?} vs {direct:?}",
                d.name(),
                parts.lst
            );
            // The remainders are consistent with the transform.
            assert!((parts.lst + parts.one_minus - Complex::ONE).abs() < 1e-12);
            let rem2 = parts.lst - 1.0 + s * d.mean();
            assert!((parts.rem2 - rem2).abs() < 1e-10 * (1.0 + (s * d.mean()).abs()));
        }
        assert!((d.laplace(0.0) - 1.0).abs() < 1e-12, "{}", d.name());
    }
    // Small |s|: the second-order remainder keeps its relative precision (≈ s²E[X²]/2).
    let g = ServiceDist::Gamma {
        shape: 2.0,
        scale: 1.5,
    };
    let s = Complex::real(1e-7);
    let r = g.laplace_parts(s).rem2.re;
    let expect = 0.5 * 1e-14 * g.second_moment();
    assert!((r / expect - 1.0).abs() < 1e-5, "{r} vs {expect}");
}

#[test]
fn report_serialises_for_the_cli() {
    let r = report(
        &ServiceDist::Gamma {
            shape: 2.0,
            scale: 10.0,
        },
        13,
    );
    let v: serde_json::Value = serde_json::to_value(&r).unwrap();
    assert_eq!(v["fits"][0]["family"], "gamma");
    assert!(v["fits"][0]["aic"].as_f64().unwrap() == r.best().aic);
    assert_eq!(
        v["tail"]["exceedances"].as_u64().unwrap(),
        r.tail.as_ref().unwrap().exceedances
    );
    assert_eq!(v["data"]["count"].as_u64().unwrap(), N as u64);
    assert_eq!(v["empirical"]["family"], "empirical");
}

#[test]
fn service_dist_serde_round_trip() {
    for d in all_dists() {
        let json = serde_json::to_string(&d).unwrap();
        let back: ServiceDist = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d, "{json}");
    }
    let bad = r#"{"family":"empirical","params":[[-1.0, 3]]}"#;
    assert!(serde_json::from_str::<ServiceDist>(bad).is_err());
    let j = serde_json::to_string(&ServiceDist::Gamma {
        shape: 2.0,
        scale: 3.0,
    })
    .unwrap();
    assert_eq!(
        j,
        r#"{"family":"gamma","params":{"shape":2.0,"scale":3.0}}"#
    );
}

#[test]
fn invalid_parameters_are_rejected() {
    assert!(ServiceDist::exponential(0.0).is_err());
    assert!(ServiceDist::deterministic(-1.0).is_err());
    assert!(ServiceDist::gamma_with_mean_scv(1.0, f64::NAN).is_err());
    assert!(ServiceDist::hyperexponential_with_mean_scv(1.0, 0.5).is_err());
    assert!(ServiceDist::Weibull {
        shape: -1.0,
        scale: 1.0
    }
    .validate()
    .is_err());
    assert!(Empirical::new(&[]).is_err());
    assert!(Empirical::new(&[(1.0, 0)]).is_err());
    assert!(Empirical::from_samples(&[1.0, -2.0]).is_err());
    let msg = ServiceDist::exponential(-3.0).unwrap_err().to_string();
    assert!(msg.contains("must be finite and > 0"), "{msg}");
}
