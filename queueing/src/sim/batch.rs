//! Batch means with a bounded number of batches, and the Student-t quantile it needs.
//!
//! Successive sojourn times are correlated, so the sample variance of individual values says
//! nothing about the error of their mean. The batch-means method splits the output sequence
//! into `b` contiguous batches of `m` values; for `m` much longer than the correlation length
//! the batch means are nearly independent and nearly normal, and
//!
//! ```text
//! mean ± t_{b-1, 1-(1-c)/2} · s_b / sqrt(b)
//! ```
//!
//! with `s_b` the standard deviation of the batch means is a confidence interval of level `c`.
//! The run length is not known in advance (a run may stop on virtual time), so the batch size
//! is adapted as the run goes (Fishman's and Yeh & Schmeiser's *dynamic batch means*): start
//! with batches of one value; whenever `2k` batches are complete, merge neighbours pairwise into
//! `k` batches of twice the size. At any time there are between `k` and `2k - 1` complete
//! batches (once `k` values have been seen), memory is `O(k)`, and the batch size grows in
//! proportion to the run. The partial last batch is left out of the variance; the point
//! estimate is the mean of every value.

/// A running batch-means accumulator for `K` series observed together (the simulator
/// tracks sojourn and wait with the same batches).
#[derive(Clone, Debug)]
pub(crate) struct BatchMeans<const K: usize> {
    k: usize,
    batch_size: u64,
    cur_sum: [f64; K],
    cur_n: u64,
    sums: Vec<[f64; K]>,
    total: [f64; K],
    n: u64,
}

impl<const K: usize> BatchMeans<K> {
    pub(crate) fn new(k: usize) -> Self {
        let k = k.max(2);
        Self {
            k,
            batch_size: 1,
            cur_sum: [0.0; K],
            cur_n: 0,
            sums: Vec::with_capacity(2 * k),
            total: [0.0; K],
            n: 0,
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, x: [f64; K]) {
        for ((t, c), v) in self.total.iter_mut().zip(&mut self.cur_sum).zip(x) {
            *t += v;
            *c += v;
        }
        self.n += 1;
        self.cur_n += 1;
        if self.cur_n == self.batch_size {
            self.close_batch();
        }
    }

    /// Values pushed so far.
    pub(crate) fn count(&self) -> u64 {
        self.n
    }

    /// Sum of series `j`.
    pub(crate) fn total(&self, j: usize) -> f64 {
        self.total[j]
    }

    #[cold]
    fn close_batch(&mut self) {
        self.sums.push(self.cur_sum);
        self.cur_sum = [0.0; K];
        self.cur_n = 0;
        if self.sums.len() == 2 * self.k {
            for i in 0..self.k {
                for j in 0..K {
                    self.sums[i][j] = self.sums[2 * i][j] + self.sums[2 * i + 1][j];
                }
            }
            self.sums.truncate(self.k);
            self.batch_size *= 2;
        }
    }

    /// The interval for series `j`.
    pub(crate) fn finish(&self, j: usize, confidence: f64) -> MeanCi {
        let b = self.sums.len();
        let mean = if self.n > 0 {
            self.total[j] / self.n as f64
        } else {
            f64::NAN
        };
        let half_width = if b >= 2 {
            let m = self.batch_size as f64;
            let bm: f64 = self.sums.iter().map(|s| s[j]).sum::<f64>() / (b as f64 * m);
            let var = self
                .sums
                .iter()
                .map(|s| {
                    let d = s[j] / m - bm;
                    d * d
                })
                .sum::<f64>()
                / (b - 1) as f64;
            let t = student_t_quantile(0.5 + 0.5 * confidence, (b - 1) as f64);
            t * (var / b as f64).sqrt()
        } else {
            f64::INFINITY
        };
        MeanCi {
            n: self.n,
            mean,
            half_width,
            low: mean - half_width,
            high: mean + half_width,
            confidence,
            batches: b as u32,
            batch_size: self.batch_size,
        }
    }
}

/// A mean with its batch-means confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MeanCi {
    /// Values averaged.
    pub n: u64,
    /// Their mean.
    pub mean: f64,
    /// Half-width of the interval (infinite with fewer than two batches).
    pub half_width: f64,
    /// `mean - half_width`.
    pub low: f64,
    /// `mean + half_width`.
    pub high: f64,
    /// Confidence level (0.99).
    pub confidence: f64,
    /// Complete batches used.
    pub batches: u32,
    /// Values per batch.
    pub batch_size: u64,
}

impl MeanCi {
    /// Whether `x` lies in the interval.
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, n = 9).
fn ln_gamma(x: f64) -> f64 {
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
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Continued fraction of the incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..500 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// Regularised incomplete beta `I_x(a, b)`.
fn inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

/// CDF of Student's t with `df` degrees of freedom.
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    let x = df / (df + t * t);
    let tail = 0.5 * inc_beta(0.5 * df, 0.5, x);
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// Quantile of Student's t with `df` degrees of freedom, for `p` in `(0, 1)` (bisection on
/// the CDF to 1e-12).
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    if p == 0.5 {
        return 0.0;
    }
    if p < 0.5 {
        return -student_t_quantile(1.0 - p, df);
    }
    let mut hi = 1.0;
    while student_t_cdf(hi, df) < p {
        hi *= 2.0;
        if hi > 1e12 {
            return f64::INFINITY;
        }
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if student_t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-12 * hi.max(1.0) {
            break;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_tables() {
        // Two-sided 99 % critical values from standard tables.
        for (df, want) in [
            (1.0, 63.657),
            (5.0, 4.032),
            (10.0, 3.169),
            (31.0, 2.744),
            (60.0, 2.660),
            (1e6, 2.576),
        ] {
            let got = student_t_quantile(0.995, df);
            assert!((got - want).abs() < 1e-3, "df {df}: {got} vs {want}");
        }
        assert!((student_t_quantile(0.975, 20.0) - 2.086).abs() < 1e-3);
    }

    #[test]
    fn batches_stay_between_k_and_2k() {
        let mut b = BatchMeans::<1>::new(8);
        for i in 0..10_000u32 {
            b.push([f64::from(i % 7)]);
            if i >= 8 {
                assert!((8..16).contains(&b.sums.len()), "{}", b.sums.len());
            }
        }
        let ci = b.finish(0, 0.99);
        assert_eq!(ci.n, 10_000);
        assert!(ci.batch_size.is_power_of_two());
        assert!(ci.batches as u64 * ci.batch_size <= 10_000);
        assert!(ci.batches as u64 * ci.batch_size > 10_000 / 2);
    }

    #[test]
    fn iid_ci_width_is_about_right() {
        // For iid uniforms the batch-means half-width approaches t * sd / sqrt(n).
        let mut rng = crate::sim::random::stream(5, 0);
        let mut b = BatchMeans::<2>::new(32);
        let n = 1 << 20;
        for _ in 0..n {
            let u = crate::sim::random::uniform(&mut rng);
            b.push([u, 2.0 * u]);
        }
        let ci = b.finish(0, 0.99);
        let ci2 = b.finish(1, 0.99);
        assert!((ci2.half_width - 2.0 * ci.half_width).abs() < 1e-12);
        let ideal = 2.6 * (1.0f64 / 12.0).sqrt() / (n as f64).sqrt();
        assert!(
            ci.half_width > 0.5 * ideal && ci.half_width < 1.7 * ideal,
            "{ci:?} vs {ideal}"
        );
        assert!(ci.contains(0.5));
    }
}
