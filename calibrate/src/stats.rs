//! Poisson tails and the exact (Garwood 1936) Poisson confidence interval, on top of the
//! regularized incomplete gamma functions of `latlab_queueing::fit::special` (re-exported with
//! `ln Γ` and the normal tail).
//!
//! * Poisson: `P(X ≤ n; λ) = Q(n + 1, λ)`, `P(X ≥ n; λ) = P(n, λ)`.
//! * Garwood's interval for a count `n` at confidence `1 − α`: `[L, U]` with
//!   `P(X ≥ n; L) = α/2` and `P(X ≤ n; U) = α/2` (`L = 0` when `n = 0`), solved by bisection.

// The special functions themselves live in the queueing crate (which this crate builds on);
// they are re-exported here so callers of `latlab_calibrate::stats` keep one import.
pub use latlab_queueing::fit::special::{gamma_p, gamma_q, ln_gamma, normal_sf};

/// `P(X ≤ n)` for `X ~ Poisson(λ)`.
pub fn poisson_cdf(n: u64, lambda: f64) -> f64 {
    if lambda <= 0.0 {
        return 1.0;
    }
    gamma_q(n as f64 + 1.0, lambda)
}

/// `P(X ≥ n)` for `X ~ Poisson(λ)`.
pub fn poisson_sf_inclusive(n: u64, lambda: f64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    if lambda <= 0.0 {
        return 0.0;
    }
    gamma_p(n as f64, lambda)
}

/// Garwood's exact confidence interval for the mean of a Poisson count `n` at `confidence`
/// (e.g. 0.99).
pub fn poisson_ci(n: u64, confidence: f64) -> (f64, f64) {
    let half = (1.0 - confidence.clamp(0.0, 1.0 - 1e-12)) / 2.0;
    let nf = n as f64;
    // Upper: P(X ≤ n; U) = half, decreasing in U.
    let mut hi = nf + 10.0 * nf.sqrt() + 20.0;
    while poisson_cdf(n, hi) > half {
        hi *= 2.0;
    }
    let mut lo = nf;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if poisson_cdf(n, mid) > half {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let upper = 0.5 * (lo + hi);
    if n == 0 {
        return (0.0, upper);
    }
    // Lower: P(X ≥ n; L) = half, increasing in L.
    let (mut lo, mut hi) = (0.0, nf);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if poisson_sf_inclusive(n, mid) < half {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (0.5 * (lo + hi), upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_at_integers_and_half() {
        assert!(ln_gamma(1.0).abs() < 1e-14);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-13);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
        // ln 100! = 363.739375555563…
        assert!((ln_gamma(101.0) - 363.739_375_555_563_5).abs() < 1e-9);
    }

    #[test]
    fn normal_tail_values() {
        assert!((normal_sf(0.0) - 0.5).abs() < 1e-15);
        assert!((normal_sf(1.0) - 0.158_655_253_931_457).abs() < 1e-12);
        assert!((normal_sf(3.0) - 1.349_898_031_630_095e-3).abs() < 1e-14);
        assert!((normal_sf(-2.0) - 0.977_249_868_051_821).abs() < 1e-12);
        assert!((normal_sf(8.0) / 6.220_960_574_271_785e-16 - 1.0).abs() < 1e-9);
    }

    #[test]
    fn poisson_tails_by_direct_sum() {
        for &lambda in &[0.5f64, 3.0, 20.0, 150.0] {
            let mut term = (-lambda).exp();
            let mut cdf = term;
            for n in 0..60u64 {
                if n > 0 {
                    term *= lambda / n as f64;
                    cdf += term;
                }
                assert!(
                    (poisson_cdf(n, lambda) - cdf).abs() < 1e-12,
                    "λ {lambda} n {n}"
                );
                let sf = 1.0 - (cdf - term);
                assert!((poisson_sf_inclusive(n, lambda) - sf).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn garwood_reference_values() {
        // 95 % intervals from Garwood's table (also scipy chi2.ppf/2).
        let (l, u) = poisson_ci(0, 0.95);
        assert_eq!(l, 0.0);
        assert!((u - 3.688_879_454).abs() < 1e-6);
        let (l, u) = poisson_ci(10, 0.95);
        assert!((l - 4.795_389_9).abs() < 1e-5, "{l}");
        assert!((u - 18.390_358_9).abs() < 1e-5, "{u}");
        // 99 %, n = 100: χ²(0.005; 200)/2 ≈ 76.12, χ²(0.995; 202)/2 ≈ 128.8.
        let (l, u) = poisson_ci(100, 0.99);
        assert!(
            (l - 76.12).abs() < 0.05 && (u - 128.76).abs() < 0.05,
            "{l} {u}"
        );
    }
}
