//! Numerical inversion of Laplace transforms (Abate–Whitt EULER algorithm) and the quantile
//! search built on it.
//!
//! Given f̂(s) = ∫₀^∞ e^{−st} f(t) dt, the Bromwich integral discretised by the trapezoidal rule
//! with step π/t on the line Re s = A/(2t) gives the Fourier series (Abate & Whitt 1992,
//! Queueing Systems 10, "The Fourier-series method for inverting transforms of probability
//! distributions"; Abate & Whitt 1995, ORSA J. Computing 7(1), "Numerical inversion of Laplace
//! transforms of probability distributions", algorithm EULER):
//!
//! sₙ(t) = (e^{A/2}/2t)·Re f̂(A/2t) + (e^{A/2}/t) Σ_{k=1}^{n} (−1)ᵏ Re f̂((A + 2kπi)/2t),
//!
//! whose limit differs from f(t) by the aliasing error Σ_{j≥1} e^{−jA} f((2j + 1)t) ≈ e^{−A}
//! (A = 18.4 ⇒ ~1e-8 for a probability). The series converges slowly, so it is summed by
//! Euler (binomial) averaging of the partial sums, E(m, n) = Σ_{k=0}^{m} C(m, k) 2^{−m} sₙ₊ₖ.
//! Round-off is amplified only by e^{A/2} ≈ 1e4, which makes the method tolerant of transforms
//! that are themselves computed by quadrature.
//!
//! Two settings ([`Euler`]): [`Euler::SMOOTH`] (n = 38, m = 11: 50 transform evaluations) for
//! functions that are smooth for t > 0, and [`Euler::ROUGH`] (n = 500, m = 30) for functions
//! with kinks — e.g. the M/D/1 waiting-time CDF, whose derivative jumps at every multiple of
//! the service time — where the short series stalls at ~3e-4 but the long one reaches ~5e-7.
//! At a jump of f (an atom of the distribution) every Fourier method converges to the mid-point
//! and oscillates nearby (Gibbs); the models use closed forms or exact decompositions there.

use crate::fit::special::Complex;
use crate::fit::ServiceDist;

/// Parameters of the EULER inversion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Euler {
    /// Number of series terms n before averaging.
    pub terms: usize,
    /// Number of partial sums averaged, m.
    pub average: usize,
    /// Damping A (aliasing error ≈ e^{−A}).
    pub a: f64,
}

impl Euler {
    /// For transforms of functions that are smooth on t > 0 (50 evaluations).
    pub const SMOOTH: Euler = Euler {
        terms: 38,
        average: 11,
        a: 18.4,
    };

    /// For functions with kinks (531 evaluations).
    pub const ROUGH: Euler = Euler {
        terms: 500,
        average: 30,
        a: 18.4,
    };

    /// The setting suited to queueing delays with service times from `service`: ROUGH when the
    /// service law has atoms or a density jump (deterministic, shifted exponential, empirical
    /// with at most 256 distinct values, empirical body with GPD tail), SMOOTH otherwise
    /// (many-valued empirical laws have only tiny kinks, and their transform is costly).
    pub fn for_service(service: &ServiceDist) -> Euler {
        match service {
            ServiceDist::Deterministic(_) | ServiceDist::ShiftedExponential { .. } => Euler::ROUGH,
            ServiceDist::Empirical(e) if e.values().len() <= 256 => Euler::ROUGH,
            ServiceDist::EmpiricalGpdTail { body, .. } if body.values().len() <= 256 => {
                Euler::ROUGH
            }
            _ => Euler::SMOOTH,
        }
    }

    /// f(t) from its Laplace transform f̂ (t > 0; NaN otherwise).
    pub fn invert(&self, mut fhat: impl FnMut(Complex) -> Complex, t: f64) -> f64 {
        if t.is_nan() || t <= 0.0 || !t.is_finite() {
            return f64::NAN;
        }
        let re = self.a / (2.0 * t);
        let e = (0.5 * self.a).exp() / t;
        let mut partial = 0.5 * e * fhat(Complex::real(re)).re;
        let mut sums = Vec::with_capacity(self.average + 1);
        let last = self.terms + self.average;
        if self.terms == 0 {
            sums.push(partial);
        }
        for k in 1..=last {
            let v = fhat(Complex::new(re, k as f64 * std::f64::consts::PI / t)).re;
            if k % 2 == 0 {
                partial += e * v;
            } else {
                partial -= e * v;
            }
            if k >= self.terms {
                sums.push(partial);
            }
        }
        let mut binom = 1.0;
        let mut acc = 0.0;
        for (k, s) in sums.iter().enumerate() {
            if k > 0 {
                binom = binom * (self.average + 1 - k) as f64 / k as f64;
            }
            acc += binom * s;
        }
        acc / 2f64.powi(self.average as i32)
    }
}

/// The p-quantile of a distribution on [`lo`, ∞) given its survival function: the smallest
/// t ≥ lo with sf(t) ≤ 1 − p. `scale` is a rough size of the distribution (e.g. its mean),
/// used to start the bracket. Returns `lo` when the atom at `lo` already covers p.
///
/// The root of ln sf(t) = ln(1 − p) is bracketed by doubling, then found by the Illinois
/// (modified regula falsi) method, which converges superlinearly on the nearly linear
/// log-survival of queueing delays; it falls back to bisection on non-finite values.
pub(crate) fn quantile_from_sf(mut sf: impl FnMut(f64) -> f64, p: f64, lo: f64, scale: f64) -> f64 {
    if p <= 0.0 {
        return lo;
    }
    let target = (1.0 - p).ln();
    let mut g = |t: f64| {
        let v = sf(t);
        if v > 0.0 {
            v.min(1.0).ln() - target
        } else {
            -800.0 - target.abs()
        }
    };
    let g_lo = g(lo);
    if g_lo <= 0.0 {
        return lo;
    }
    let scale = if scale > 0.0 && scale.is_finite() {
        scale
    } else {
        1.0
    };
    let (mut a, mut ga) = (lo, g_lo);
    let mut b = lo + scale;
    let mut gb = g(b);
    let mut guard = 0;
    while gb > 0.0 {
        a = b;
        ga = gb;
        b = lo + (b - lo) * 2.0;
        gb = g(b);
        guard += 1;
        if guard > 1100 {
            return f64::INFINITY;
        }
    }
    // Illinois on [a, b] with g(a) > 0 ≥ g(b).
    let mut side = 0;
    for _ in 0..200 {
        if (b - a) <= 1e-12 * b.abs().max(1e-300) {
            break;
        }
        let mut c = b - gb * (b - a) / (gb - ga);
        if !(c > a && c < b) {
            c = 0.5 * (a + b);
        }
        let gc = g(c);
        if gc > 0.0 {
            a = c;
            ga = gc;
            if side == 1 {
                gb *= 0.5;
            }
            side = 1;
        } else {
            b = c;
            gb = gc;
            if side == -1 {
                ga *= 0.5;
            }
            side = -1;
        }
        if gc.abs() < 1e-14 {
            return c;
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euler_inverts_known_transforms() {
        // 1/(s+1) → e^{−t};  1/s² → t;  1/(s² + 1) → sin t
        for inv in [Euler::SMOOTH, Euler::ROUGH] {
            for &t in &[0.1, 1.0, 3.0, 10.0] {
                let f = inv.invert(|s| (s + 1.0).recip(), t);
                assert!((f - (-t).exp()).abs() < 1e-7, "t={t} {f}");
                let g = inv.invert(|s| (s * s).recip(), t);
                assert!((g - t).abs() < 1e-7 * t.max(1.0), "t={t} {g}");
                let h = inv.invert(|s| (s * s + 1.0).recip(), t);
                assert!((h - t.sin()).abs() < 1e-6, "t={t} {h}");
            }
        }
        // A kink: f(t) = (t − 1)⁺ has transform e^{−s}/s².
        let k = |s: Complex| (-s).exp() / (s * s);
        let rough = Euler::ROUGH.invert(k, 1.5);
        assert!((rough - 0.5).abs() < 1e-5, "{rough}");
        assert!(Euler::SMOOTH.invert(k, 0.0).is_nan());
    }

    #[test]
    fn quantile_search_finds_exponential_quantiles() {
        let q = quantile_from_sf(|t| (-t).exp(), 0.99, 0.0, 1.0);
        assert!((q - 100f64.ln()).abs() < 1e-10);
        // Atom at 0 of mass 0.3: quantiles below 0.3 are 0.
        let sf = |t: f64| 0.7 * (-t).exp();
        assert_eq!(quantile_from_sf(sf, 0.25, 0.0, 1.0), 0.0);
        let q2 = quantile_from_sf(sf, 0.9, 0.0, 1.0);
        assert!((0.7 * (-q2).exp() - 0.1).abs() < 1e-12);
    }
}
