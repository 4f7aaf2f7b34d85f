//! M/G/1 and M/D/1: Poisson arrivals, general service, one FIFO server.
//!
//! # Means (exact)
//!
//! Pollaczek–Khinchine: E\[W\] = λE\[S²\]/(2(1 − ρ)) = ρ(1 + c_s²)/(2(1 − ρ))·E\[S\], ρ = λE\[S\] < 1;
//! E\[T\] = E\[W\] + E\[S\]; P(W > 0) = ρ. (Pollaczek 1930, Khinchine 1932; Kleinrock vol. 1 §5.6.)
//!
//! # Distributions
//!
//! The P-K transform of the wait is W*(s) = (1 − ρ)s/(s − λ(1 − S*(s))). Writing
//! ψ(s) = S*(s) − 1 + sE\[S\] (second-order remainder, computed without cancellation by
//! [`ServiceDist::laplace_parts`]) the transforms of the survival functions become
//!
//! * wait: ∫e^{−st}P(W > t)dt = λψ(s) / (s·(s(1 − ρ) + λψ(s)));
//! * sojourn T = W + S: ∫e^{−st}P(T > t)dt = (λψ(s) + (1 − ρ)s(1 − S*(s))) / (s·(s(1 − ρ) + λψ(s))),
//!
//! which stay well conditioned as s → 0 and as ρ → 1. They are inverted numerically by the
//! Abate–Whitt Euler algorithm ([`super::laplace`]), [`Method::LaplaceInversion`].
//! Exponential service uses the M/M/1 closed forms and deterministic service the exact M/D/1
//! results below ([`Method::Exact`]).
//!
//! # M/D/1 (exact)
//!
//! Erlang (1909) / Crommelin (1932):
//! P(W ≤ t) = (1 − ρ) Σ_{k=0}^{⌊t/D⌋} \[λ(kD − t)\]ᵏ/k! · e^{−λ(kD − t)}.
//! The terms alternate in sign and grow like e^{λt}, so in floating point the sum loses about
//! 2λt·log₁₀e digits: [`Md1::wait_cdf_crommelin`] evaluates it with a running bound on the
//! round-off (4ε(k + 2)Σ|terms|) and refuses when the bound exceeds 1e-10 (about λt ≲ 8 at
//! ρ = 0.8).
//!
//! [`Md1::wait_cdf`] uses an equivalent form with positive terms only, valid for all t
//! (Franx 2001, ORL 29, "A simple solution for the M/D/c waiting time distribution", for
//! c = 1): for t = kD + u, 0 ≤ u < D, s = D − u,
//! P(W ≤ t) = e^{−λs} Σ_{a=0}^{k} (λs)ᵃ/a! · Q_{k+1−a},
//! with Qₙ = P(N ≤ n) the number in system. (Derivation: the arrival waits at most kD + u iff
//! the customers present at time −s plus the arrivals in (−s, 0) number at most k + 1, minus
//! the case of an idle server at −s with exactly k + 1 arrivals.) The πₙ come from the
//! embedded-chain level-crossing recursion, again with positive terms only:
//! πⱼa₀ = π₀āⱼ₋₁ + Σ_{i=1}^{j−1} πᵢāⱼ₋ᵢ, π₀ = 1 − ρ, aⱼ = e^{−ρ}ρʲ/j!, āₙ = Σ_{m>n} aₘ.

use super::laplace::{quantile_from_sf, Euler};
use super::mm1::Mm1;
use super::{check_probability, check_rate, Method, Model, ModelError, Prediction};
use crate::fit::special::{gamma_p, ln_gamma, Complex};
use crate::fit::ServiceDist;

/// The M/D/1 queue (deterministic service time D).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Md1 {
    lambda: f64,
    d: f64,
}

/// Poisson(ρ) pmf aⱼ and tails āₙ = P(> n), truncated where aⱼ underflows.
fn poisson_table(rho: f64) -> (Vec<f64>, Vec<f64>) {
    let mut a = Vec::new();
    let mut j = 0usize;
    loop {
        let v = if rho == 0.0 {
            if j == 0 {
                1.0
            } else {
                0.0
            }
        } else {
            (-rho + j as f64 * rho.ln() - ln_gamma(j as f64 + 1.0)).exp()
        };
        a.push(v);
        if (j > 0 && v < 1e-300) || j > 400 {
            break;
        }
        j += 1;
    }
    let mut abar = vec![0.0; a.len()];
    for n in (0..a.len() - 1).rev() {
        abar[n] = abar[n + 1] + a[n + 1];
    }
    (a, abar)
}

impl Md1 {
    /// Arrival rate λ ≥ 0, service time D > 0, λD < 1.
    pub fn new(lambda: f64, d: f64) -> Result<Self, ModelError> {
        check_rate("lambda", lambda, true)?;
        check_rate("d", d, false)?;
        let rho = lambda * d;
        if rho >= 1.0 {
            return Err(ModelError::Unstable {
                utilization: rho,
                capacity: 1.0 / d,
            });
        }
        Ok(Md1 { lambda, d })
    }

    /// Utilisation ρ = λD.
    pub fn utilization(&self) -> f64 {
        self.lambda * self.d
    }

    /// E\[W\] = ρD/(2(1 − ρ)).
    pub fn mean_wait(&self) -> f64 {
        let r = self.utilization();
        r * self.d / (2.0 * (1.0 - r))
    }

    /// E\[T\] = E\[W\] + D.
    pub fn mean_sojourn(&self) -> f64 {
        self.mean_wait() + self.d
    }

    /// π₀ … π_{n_max}: the stationary number in system (positive-term recursion).
    pub fn number_in_system_pmf(&self, n_max: usize) -> Vec<f64> {
        self.pmf_while(|j, _| j <= n_max)
    }

    /// π₀, π₁, … for as long as `keep(j, πⱼ)` holds.
    fn pmf_while(&self, mut keep: impl FnMut(usize, f64) -> bool) -> Vec<f64> {
        let rho = self.utilization();
        let (a, abar) = poisson_table(rho);
        let jmax = abar.len();
        let mut pi = vec![1.0 - rho];
        for j in 1.. {
            let tail = |n: usize| if n < jmax { abar[n] } else { 0.0 };
            let mut acc = pi[0] * tail(j - 1);
            let start = if j > jmax { j - jmax } else { 1 };
            for (i, p) in pi.iter().enumerate().take(j).skip(start) {
                acc += p * tail(j - i);
            }
            let pj = acc / a[0];
            if !keep(j, pj) {
                break;
            }
            pi.push(pj);
        }
        pi
    }

    /// L = Σ nπₙ from the state distribution (summed until nπₙ < 1e-18 past the mode).
    pub fn mean_in_system(&self) -> f64 {
        let mut prev = 0.0;
        let pi = self.pmf_while(|j, p| {
            let go = j < 8 || p >= prev || (j as f64) * p > 1e-18;
            prev = p;
            go && j < 1 << 24
        });
        pi.iter().enumerate().map(|(n, p)| n as f64 * p).sum()
    }

    /// (P(W ≤ t), P(W > t)) by the positive-term form.
    fn wait_cdf_sf(&self, t: f64) -> (f64, f64) {
        if t < 0.0 {
            return (0.0, 1.0);
        }
        let k = (t / self.d).floor();
        let u = t - k * self.d;
        let k = k as usize;
        let s = self.d - u;
        let x = self.lambda * s;
        let pi = self.number_in_system_pmf(k + 1);
        let mut q = Vec::with_capacity(k + 2);
        let mut acc = 0.0;
        for p in &pi {
            acc += p;
            q.push(acc.min(1.0));
        }
        let (mut cdf, mut sf) = (0.0, 0.0);
        let lx = if x > 0.0 { x.ln() } else { f64::NEG_INFINITY };
        for a in 0..=k {
            let pa = if x == 0.0 {
                if a == 0 {
                    1.0
                } else {
                    0.0
                }
            } else {
                (-x + a as f64 * lx - ln_gamma(a as f64 + 1.0)).exp()
            };
            if pa == 0.0 && a as f64 > x {
                break;
            }
            cdf += pa * q[k + 1 - a];
            sf += pa * (1.0 - q[k + 1 - a]);
        }
        // P(A > k) for A ~ Poisson(x) is the regularised P(k + 1, x).
        sf += if x == 0.0 {
            0.0
        } else {
            gamma_p(k as f64 + 1.0, x)
        };
        (cdf, sf)
    }

    /// P(W ≤ t), exact for all t (positive-term form).
    pub fn wait_cdf(&self, t: f64) -> f64 {
        self.wait_cdf_sf(t).0
    }

    /// P(W > t), exact for all t, accurate in the tail.
    pub fn wait_sf(&self, t: f64) -> f64 {
        self.wait_cdf_sf(t).1
    }

    /// P(T > t) = P(W > t − D).
    pub fn sojourn_sf(&self, t: f64) -> f64 {
        if t < self.d {
            1.0
        } else {
            self.wait_sf(t - self.d)
        }
    }

    /// P(W ≤ t) by the classic Erlang–Crommelin alternating sum; refuses with
    /// [`ModelError::Cancellation`] where round-off could exceed 1e-10.
    pub fn wait_cdf_crommelin(&self, t: f64) -> Result<f64, ModelError> {
        if t < 0.0 {
            return Ok(0.0);
        }
        let rho = self.utilization();
        let kmax = (t / self.d).floor() as usize;
        let mut sum = 0.0;
        let mut abs_sum = 0.0;
        for k in 0..=kmax {
            let y = self.lambda * (t - k as f64 * self.d); // ≥ 0
            let mag = if k == 0 {
                y.exp()
            } else if y == 0.0 {
                0.0
            } else {
                (k as f64 * y.ln() - ln_gamma(k as f64 + 1.0) + y).exp()
            };
            let term = if k % 2 == 0 { mag } else { -mag };
            sum += term;
            abs_sum += mag;
        }
        let bound = 4.0 * f64::EPSILON * (kmax as f64 + 2.0) * abs_sum * (1.0 - rho);
        if bound > 1e-10 || !bound.is_finite() {
            return Err(ModelError::Cancellation {
                t,
                error_bound: bound,
            });
        }
        Ok((1.0 - rho) * sum)
    }

    /// The p-quantile of the wait.
    pub fn wait_quantile(&self, p: f64) -> Result<f64, ModelError> {
        check_probability(p)?;
        Ok(quantile_from_sf(
            |t| self.wait_sf(t),
            p,
            0.0,
            self.mean_wait().max(self.d),
        ))
    }

    /// The p-quantile of the sojourn (D + wait quantile).
    pub fn sojourn_quantile(&self, p: f64) -> Result<f64, ModelError> {
        Ok(self.d + self.wait_quantile(p)?)
    }

    /// Means and percentiles.
    pub fn predict(&self) -> Result<Prediction, ModelError> {
        Prediction::build(
            Model::MD1,
            Method::Exact,
            self.lambda,
            self.utilization(),
            0.0,
            self.utilization(),
            self.mean_wait(),
            self.mean_sojourn(),
            self.mean_in_system(),
            |p| self.wait_quantile(p),
            |p| self.sojourn_quantile(p),
        )
    }
}

/// The M/G/1 queue for any [`ServiceDist`].
///
/// Cost: each distribution point takes 50 (smooth service laws) or 531 (laws with atoms or
/// kinks, see [`Euler::for_service`]) transform evaluations, and a percentile about 15 points.
/// Closed-form transforms make this sub-millisecond; lognormal and Weibull transforms use
/// quadrature (a prediction takes about 0.5 s); an empirical law costs O(distinct values) per
/// transform evaluation, so coarsen large ones first (e.g.
/// [`WeightedSamples::quantize`](crate::stats::WeightedSamples::quantize) to 3 digits) for
/// interactive use.
#[derive(Debug, Clone, PartialEq)]
pub struct Mg1 {
    lambda: f64,
    service: ServiceDist,
    euler: Euler,
}

impl Mg1 {
    /// Arrival rate λ ≥ 0 and a valid service distribution with λE\[S\] < 1.
    pub fn new(lambda: f64, service: ServiceDist) -> Result<Self, ModelError> {
        check_rate("lambda", lambda, true)?;
        service.validate()?;
        let mean = service.mean();
        if !mean.is_finite() {
            return Err(ModelError::InfiniteMean);
        }
        let rho = lambda * mean;
        if rho >= 1.0 {
            return Err(ModelError::Unstable {
                utilization: rho,
                capacity: 1.0 / mean,
            });
        }
        Ok(Mg1 {
            lambda,
            euler: Euler::for_service(&service),
            service,
        })
    }

    /// Uses these EULER parameters for the Laplace inversions (default:
    /// [`Euler::for_service`]).
    pub fn with_inversion(mut self, euler: Euler) -> Self {
        self.euler = euler;
        self
    }

    /// The service distribution.
    pub fn service(&self) -> &ServiceDist {
        &self.service
    }

    /// Utilisation ρ = λE\[S\].
    pub fn utilization(&self) -> f64 {
        self.lambda * self.service.mean()
    }

    /// E\[W\] by Pollaczek–Khinchine (∞ if E\[S²\] is infinite).
    pub fn mean_wait(&self) -> f64 {
        let r = self.utilization();
        self.lambda * self.service.second_moment() / (2.0 * (1.0 - r))
    }

    /// E\[T\] = E\[W\] + E\[S\].
    pub fn mean_sojourn(&self) -> f64 {
        self.mean_wait() + self.service.mean()
    }

    /// How the distributions are computed for this service distribution.
    pub fn method(&self) -> Method {
        match self.service {
            ServiceDist::Exponential(_) | ServiceDist::Deterministic(_) => Method::Exact,
            _ => Method::LaplaceInversion,
        }
    }

    fn exact(&self) -> Option<Exact> {
        match self.service {
            ServiceDist::Exponential(m) => Mm1::new(self.lambda, 1.0 / m).ok().map(Exact::Mm1),
            ServiceDist::Deterministic(d) if d > 0.0 => {
                Md1::new(self.lambda, d).ok().map(Exact::Md1)
            }
            _ => None,
        }
    }

    fn denominators(&self, s: Complex) -> (Complex, Complex, Complex) {
        let parts = self.service.laplace_parts(s);
        let r = self.utilization();
        let lpsi = parts.rem2 * self.lambda;
        let den = s * (s * (1.0 - r) + lpsi);
        (lpsi, den, parts.one_minus * (1.0 - r) * s)
    }

    /// P(W > t) by Laplace inversion, whatever the service distribution.
    pub fn wait_sf_laplace(&self, t: f64) -> f64 {
        if t < 0.0 {
            return 1.0;
        }
        if t == 0.0 {
            return self.utilization();
        }
        self.euler.invert(
            |s| {
                let (lpsi, den, _) = self.denominators(s);
                lpsi / den
            },
            t,
        )
    }

    /// P(T > t) by Laplace inversion, whatever the service distribution.
    pub fn sojourn_sf_laplace(&self, t: f64) -> f64 {
        if t < 0.0 {
            return 1.0;
        }
        if t == 0.0 {
            return 1.0 - (1.0 - self.utilization()) * self.service.cdf(0.0);
        }
        if let ServiceDist::Empirical(e) = &self.service {
            if e.values().len() <= 32 {
                // Few atoms: T = W + S exactly as Σ wᵢ P(W > t − xᵢ), no Gibbs oscillation.
                let n = e.total() as f64;
                return e
                    .points()
                    .iter()
                    .map(|&(x, c)| c as f64 / n * self.wait_sf_laplace(t - x))
                    .sum();
            }
        }
        self.euler.invert(
            |s| {
                let (lpsi, den, other) = self.denominators(s);
                (lpsi + other) / den
            },
            t,
        )
    }

    /// P(W > t): closed form for exponential and deterministic service, else Laplace inversion.
    pub fn wait_sf(&self, t: f64) -> f64 {
        match self.exact() {
            Some(Exact::Mm1(m)) => m.wait_sf(t),
            Some(Exact::Md1(m)) => m.wait_sf(t),
            None => self.wait_sf_laplace(t),
        }
    }

    /// P(T > t): closed form for exponential and deterministic service, else Laplace inversion.
    pub fn sojourn_sf(&self, t: f64) -> f64 {
        match self.exact() {
            Some(Exact::Mm1(m)) => m.sojourn_sf(t),
            Some(Exact::Md1(m)) => m.sojourn_sf(t),
            None => self.sojourn_sf_laplace(t),
        }
    }

    /// The p-quantile of the wait.
    pub fn wait_quantile(&self, p: f64) -> Result<f64, ModelError> {
        check_probability(p)?;
        match self.exact() {
            Some(Exact::Mm1(m)) => m.wait_quantile(p),
            Some(Exact::Md1(m)) => m.wait_quantile(p),
            None => Ok(quantile_from_sf(
                |t| self.wait_sf_laplace(t),
                p,
                0.0,
                self.mean_wait().max(self.service.mean()),
            )),
        }
    }

    /// The p-quantile of the sojourn.
    pub fn sojourn_quantile(&self, p: f64) -> Result<f64, ModelError> {
        check_probability(p)?;
        match self.exact() {
            Some(Exact::Mm1(m)) => m.sojourn_quantile(p),
            Some(Exact::Md1(m)) => m.sojourn_quantile(p),
            None => Ok(quantile_from_sf(
                |t| self.sojourn_sf_laplace(t),
                p,
                0.0,
                self.mean_sojourn(),
            )),
        }
    }

    /// Means and percentiles.
    pub fn predict(&self) -> Result<Prediction, ModelError> {
        let model = match self.service {
            ServiceDist::Exponential(_) => Model::MM1,
            ServiceDist::Deterministic(_) => Model::MD1,
            _ => Model::MG1,
        };
        let r = self.utilization();
        Prediction::build(
            model,
            self.method(),
            self.lambda,
            r,
            0.0,
            r,
            self.mean_wait(),
            self.mean_sojourn(),
            self.lambda * self.mean_sojourn(),
            |p| self.wait_quantile(p),
            |p| self.sojourn_quantile(p),
        )
    }
}

enum Exact {
    Mm1(Mm1),
    Md1(Md1),
}
