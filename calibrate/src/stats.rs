//! Small special functions: log-gamma, the regularized incomplete gamma functions, the normal
//! tail, Poisson tails and the exact (Garwood 1936) Poisson confidence interval.
//!
//! * `ln Γ` by the Lanczos approximation (g = 7, 9 terms; relative error ≈ 1e-15).
//! * `P(a, x)` by its power series when `x < a + 1`, `Q(a, x)` by Lentz's continued fraction
//!   otherwise (Press et al., *Numerical Recipes*, §6.2).
//! * Normal tail `Φc(x) = ½ Q(½, x²/2)` for `x ≥ 0`.
//! * Poisson: `P(X ≤ n; λ) = Q(n + 1, λ)`, `P(X ≥ n; λ) = P(n, λ)`.
//! * Garwood's interval for a count `n` at confidence `1 − α`: `[L, U]` with
//!   `P(X ≥ n; L) = α/2` and `P(X ≤ n; U) = α/2` (`L = 0` when `n = 0`), solved by bisection.

const EPS: f64 = 1e-15;
const FPMIN: f64 = 1e-300;

/// `ln Γ(x)` for `x > 0`.
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1 − x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).abs().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularized lower incomplete gamma `P(a, x)`.
pub fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x < a + 1.0 {
        gamma_series(a, x)
    } else {
        1.0 - gamma_cf(a, x)
    }
}

/// Regularized upper incomplete gamma `Q(a, x) = 1 − P(a, x)`.
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if x < a + 1.0 {
        1.0 - gamma_series(a, x)
    } else {
        gamma_cf(a, x)
    }
}

fn gamma_series(a: f64, x: f64) -> f64 {
    let mut ap = a;
    let mut del = 1.0 / a;
    let mut sum = del;
    for _ in 0..100_000 {
        ap += 1.0;
        del *= x / ap;
        sum += del;
        if del.abs() < sum.abs() * EPS {
            break;
        }
    }
    sum * (-x + a * x.ln() - ln_gamma(a)).exp()
}

fn gamma_cf(a: f64, x: f64) -> f64 {
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / FPMIN;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..100_000 {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < FPMIN {
            d = FPMIN;
        }
        c = b + an / c;
        if c.abs() < FPMIN {
            c = FPMIN;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < EPS {
            break;
        }
    }
    (-x + a * x.ln() - ln_gamma(a)).exp() * h
}

/// Standard normal tail `P(Z > x)`.
pub fn normal_sf(x: f64) -> f64 {
    if x >= 0.0 {
        0.5 * gamma_q(0.5, 0.5 * x * x)
    } else {
        1.0 - 0.5 * gamma_q(0.5, 0.5 * x * x)
    }
}

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
