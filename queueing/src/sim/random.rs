//! Random streams and the few variates the simulator draws itself.
//!
//! Exponential variates come from a ziggurat (Marsaglia & Tsang, "The Ziggurat Method for
//! Generating Random Variables", J. Stat. Softw. 5(8), 2000): the density `e^{-x}` is covered
//! by 256 horizontal layers of equal area; a layer is picked with 8 random bits and a point
//! drawn uniformly across its width. About 99 % of draws fall inside the curve and cost one
//! 64-bit random number and a multiplication; the rest are checked against the density, and
//! draws from the base layer beyond the last boundary `r` use the exponential's memorylessness
//! (`r + Exp(1)`). The layer boundaries are computed once, at first use.

use rand::{RngCore, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::sync::OnceLock;

/// Stream numbers: one generator per purpose, so that changing the discipline does not change
/// the arrivals or the service times (common random numbers across scenarios).
pub(crate) const STREAM_SERVICE: u64 = 1;
pub(crate) const STREAM_DISCIPLINE: u64 = 2;
pub(crate) const STREAM_SOURCE_BASE: u64 = 16;

#[inline]
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of stream `stream` of a run seeded with `seed`.
pub(crate) fn stream_seed(seed: u64, stream: u64) -> u64 {
    splitmix64(seed ^ splitmix64(stream))
}

/// The generator of stream `stream` of a run seeded with `seed`.
pub(crate) fn stream(seed: u64, stream: u64) -> Pcg64Mcg {
    Pcg64Mcg::seed_from_u64(stream_seed(seed, stream))
}

const SCALE53: f64 = 1.0 / (1u64 << 53) as f64;

/// Uniform on `(0, 1]` (never 0, so its logarithm is finite).
#[inline]
pub fn uniform_open0(rng: &mut Pcg64Mcg) -> f64 {
    ((rng.next_u64() >> 11) + 1) as f64 * SCALE53
}

/// Uniform on `[0, 1)`.
#[inline]
pub fn uniform(rng: &mut Pcg64Mcg) -> f64 {
    (rng.next_u64() >> 11) as f64 * SCALE53
}

const LAYERS: usize = 256;
/// Right edge of the top of the base layer.
const ZIG_R: f64 = 7.697_117_470_131_05;
/// Area of each layer.
const ZIG_V: f64 = 0.003_949_659_822_581_557;

pub(crate) struct Ziggurat {
    /// `x[i]`: width of layer `i` (x[0] is the base layer's equivalent width), x[256] = 0.
    x: [f64; LAYERS + 1],
    /// `f[i] = e^{-x[i]}`.
    f: [f64; LAYERS + 1],
}

#[inline]
pub(crate) fn ziggurat() -> &'static Ziggurat {
    static TABLES: OnceLock<Ziggurat> = OnceLock::new();
    // The check inlines into every draw; building the tables does not.
    match TABLES.get() {
        Some(z) => z,
        None => build_ziggurat(&TABLES),
    }
}

#[cold]
#[inline(never)]
fn build_ziggurat(tables: &'static OnceLock<Ziggurat>) -> &'static Ziggurat {
    tables.get_or_init(|| {
        let mut x = [0.0; LAYERS + 1];
        let mut f = [0.0; LAYERS + 1];
        x[0] = ZIG_V / (-ZIG_R).exp();
        x[1] = ZIG_R;
        for i in 1..LAYERS - 1 {
            // Layer i spans heights f(x[i]) .. f(x[i+1]) over width x[i], with area ZIG_V.
            x[i + 1] = -(ZIG_V / x[i] + (-x[i]).exp()).ln();
        }
        x[LAYERS] = 0.0;
        for i in 0..=LAYERS {
            f[i] = (-x[i]).exp();
        }
        Ziggurat { x, f }
    })
}

/// Exponential with mean 1.
#[inline]
pub fn exp1(rng: &mut Pcg64Mcg) -> f64 {
    exp1_with(ziggurat(), rng)
}

/// [`exp1`] with the tables already at hand (a loop of draws looks them up once).
#[inline]
pub(crate) fn exp1_with(z: &Ziggurat, rng: &mut Pcg64Mcg) -> f64 {
    loop {
        let bits = rng.next_u64();
        let i = (bits & 0xFF) as usize;
        let u = (bits >> 11) as f64 * SCALE53;
        let x = u * z.x[i];
        if x < z.x[i + 1] {
            return x;
        }
        if i == 0 {
            return ZIG_R - uniform_open0(rng).ln();
        }
        let y = z.f[i] + uniform(rng) * (z.f[i + 1] - z.f[i]);
        if y < (-x).exp() {
            return x;
        }
    }
}

/// Standard normal (Box–Muller, one of the pair).
#[inline]
pub fn std_normal(rng: &mut Pcg64Mcg) -> f64 {
    let r = (-2.0 * uniform_open0(rng).ln()).sqrt();
    r * (std::f64::consts::TAU * uniform(rng)).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ziggurat_layers_close() {
        let z = ziggurat();
        // Every layer has the same area, and the recursion closes at the top of the density:
        // the last layer, from f(x[255]) up to f(0) = 1, has that area too.
        for i in 1..LAYERS - 1 {
            let area = z.x[i] * (z.f[i + 1] - z.f[i]);
            assert!((area - ZIG_V).abs() < 1e-12, "layer {i}: {area}");
        }
        let top = z.x[LAYERS - 1] * (1.0 - z.f[LAYERS - 1]);
        assert!((top - ZIG_V).abs() < 1e-9, "top layer {top}");
        // Base layer: rectangle up to r plus the tail, total area v.
        let base = ZIG_R * (-ZIG_R).exp() + (-ZIG_R).exp();
        assert!((base - ZIG_V).abs() < 1e-12);
    }

    #[test]
    fn exponential_distribution() {
        let mut rng = stream(1, 99);
        let n = 2_000_000;
        let pts = [0.01, 0.1, 0.5, 1.0, 2.0, 4.0, 7.0, 8.0, 12.0];
        let mut below = [0u64; 9];
        let (mut s, mut s2) = (0.0, 0.0);
        for _ in 0..n {
            let x = exp1(&mut rng);
            assert!(x >= 0.0 && x.is_finite());
            s += x;
            s2 += x * x;
            for (k, p) in pts.iter().enumerate() {
                if x < *p {
                    below[k] += 1;
                }
            }
        }
        let nf = n as f64;
        assert!((s / nf - 1.0).abs() < 0.004, "mean {}", s / nf);
        assert!((s2 / nf - 2.0).abs() < 0.02, "second moment {}", s2 / nf);
        for (k, p) in pts.iter().enumerate() {
            let want = 1.0 - (-p).exp();
            let sd = (want * (1.0 - want) / nf).sqrt();
            let got = below[k] as f64 / nf;
            assert!(
                (got - want).abs() < 5.0 * sd + 1e-9,
                "P(X < {p}) = {got}, want {want}"
            );
        }
    }
}
