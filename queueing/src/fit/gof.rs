//! Goodness of fit on weighted data: Kolmogorov–Smirnov and Anderson–Darling statistics.
//!
//! Both compare the empirical CDF F̂ (a step function with jumps wᵢ/n at the distinct values
//! xᵢ) with a continuous model CDF F.
//!
//! * KS: D = supₓ |F̂(x) − F(x)| = maxᵢ max(|Cᵢ/n − F(xᵢ)|, |Cᵢ₋₁/n − F(xᵢ)|), Cᵢ the
//!   cumulative counts.
//! * AD: A² = n ∫ (F̂ − F)² / (F(1 − F)) dF. With u = F(x), F̂ is constant (= c) between
//!   consecutive data points, and ∫ₐᵇ (c − u)²/(u(1 − u)) du =
//!   c² ln(b/a) − (1 − c)² ln((1 − b)/(1 − a)) − (b − a), so A² is computed exactly, with ties
//!   and weights, in O(distinct values). For n distinct samples this equals the textbook
//!   A² = −n − (1/n) Σ (2i − 1)\[ln uᵢ + ln(1 − uₙ₊₁₋ᵢ)\] (Anderson & Darling 1954); the upper
//!   tail 1 − F is taken from the model's survival function so it keeps its precision.
//!
//! With parameters estimated from the same data the usual critical values do not apply (they
//! are conservative); use the statistics to rank families and to spot a bad fit, not as tests.

use super::dist::ServiceDist;
use crate::stats::WeightedSamples;

/// KS statistic D and Anderson–Darling A² of `data` against `dist`.
pub(crate) fn ks_ad(data: &WeightedSamples, dist: &ServiceDist) -> (f64, f64) {
    let n = data.total() as f64;
    let mut ks: f64 = 0.0;
    let mut ad = 0.0;
    // Left end of the current panel: u = F, ubar = 1 − F, c = F̂ on the panel.
    let (mut a, mut abar, mut c) = (0.0_f64, 1.0_f64, 0.0_f64);
    let cum = data.cumulative();
    for (i, &x) in data.values().iter().enumerate() {
        // One tail function per point: the CDF below the median, the survival function above
        // it (each keeps its relative precision where it is small).
        let b = dist.cdf(x).clamp(0.0, 1.0);
        let bbar = if b < 0.5 {
            1.0 - b
        } else {
            dist.sf(x).clamp(0.0, 1.0)
        };
        let b = if b < 0.5 { b } else { 1.0 - bbar };
        let c_next = cum[i] as f64 / n;
        ks = ks.max((c_next - b).abs()).max((c - b).abs());
        ad += panel(c, a, abar, b, bbar);
        a = b;
        abar = bbar;
        c = c_next;
    }
    ad += panel(1.0, a, abar, 1.0, 0.0);
    (ks, n * ad)
}

/// ∫ₐᵇ (c − u)²/(u(1 − u)) du with abar = 1 − a, bbar = 1 − b given separately.
fn panel(c: f64, a: f64, abar: f64, b: f64, bbar: f64) -> f64 {
    let d = if a > 0.5 { abar - bbar } else { b - a };
    if d <= 0.0 {
        return 0.0;
    }
    let lower = if c == 0.0 {
        0.0
    } else if a == 0.0 {
        f64::INFINITY
    } else {
        c * c * (d / a).ln_1p()
    };
    let upper = if c == 1.0 {
        0.0
    } else if bbar == 0.0 {
        f64::INFINITY
    } else {
        // −(1 − c)² ln(bbar/abar)
        -(1.0 - c) * (1.0 - c) * (-d / abar).ln_1p()
    };
    lower + upper - d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_textbook_formulas_for_distinct_samples() {
        let xs = [0.1, 0.4, 0.45, 1.3, 2.2, 0.05, 3.7, 0.9];
        let dist = ServiceDist::Exponential(1.0);
        let data = WeightedSamples::from_samples(&xs).unwrap();
        let (ks, ad) = ks_ad(&data, &dist);
        let mut s = xs.to_vec();
        s.sort_by(|a, b| a.total_cmp(b));
        let n = s.len() as f64;
        let u: Vec<f64> = s.iter().map(|&x| dist.cdf(x)).collect();
        let mut d: f64 = 0.0;
        let mut sum = 0.0;
        for i in 0..s.len() {
            d = d.max((i as f64 + 1.0) / n - u[i]).max(u[i] - i as f64 / n);
            let j = s.len() - 1 - i;
            sum += (2.0 * i as f64 + 1.0) * (u[i].ln() + (1.0 - u[j]).ln());
        }
        let a2 = -n - sum / n;
        assert!((ks - d).abs() < 1e-15, "{ks} {d}");
        assert!((ad - a2).abs() < 1e-12, "{ad} {a2}");
    }

    #[test]
    fn weights_equal_repetition() {
        let dist = ServiceDist::Gamma {
            shape: 2.0,
            scale: 1.0,
        };
        let w = WeightedSamples::from_weighted(&[(1.0, 3), (2.5, 2), (0.3, 1)]).unwrap();
        let r = WeightedSamples::from_samples(&[1.0, 1.0, 1.0, 2.5, 2.5, 0.3]).unwrap();
        assert_eq!(ks_ad(&w, &dist), ks_ad(&r, &dist));
        // A perfect fit of a large, well spread sample gives small statistics; a wrong model
        // gives large ones.
        let n = 10_000;
        let grid: Vec<f64> = (0..n)
            .map(|i| dist.quantile((i as f64 + 0.5) / n as f64))
            .collect();
        let g = WeightedSamples::from_samples(&grid).unwrap();
        let (ks, ad) = ks_ad(&g, &dist);
        assert!(ks < 1e-3 && ad < 0.01, "{ks} {ad}");
        let (ks2, ad2) = ks_ad(&g, &ServiceDist::Exponential(2.0));
        assert!(ks2 > 0.05 && ad2 > 100.0, "{ks2} {ad2}");
    }
}
