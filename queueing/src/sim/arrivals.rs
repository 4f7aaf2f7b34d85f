//! Arrival processes and packet sizes.

use super::random::{exp1, exp1_with, uniform, ziggurat};
use rand::Rng;
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

/// When customers arrive.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ArrivalProcess {
    /// Poisson: exponential inter-arrival times of mean `1/rate`.
    Poisson {
        /// Arrivals per second.
        rate: f64,
    },
    /// Deterministic: the n-th arrival (from 1) at `n / rate`.
    Constant {
        /// Arrivals per second.
        rate: f64,
    },
    /// Two-state Markov-modulated Poisson process: Poisson at `rates[i]` while in state `i`,
    /// staying in state `i` for an exponential time of mean `mean_sojourn[i]`. A rate of zero
    /// gives an on-off source. The initial state is drawn from the stationary distribution.
    Mmpp {
        /// Arrival rate in each state, per second.
        rates: [f64; 2],
        /// Mean time in each state, seconds.
        mean_sojourn: [f64; 2],
    },
    /// Replay of a list of inter-arrival times (seconds): the first arrival at
    /// `interarrivals[0]`, and so on; with `repeat`, the list starts over when exhausted.
    Trace {
        /// Inter-arrival times.
        interarrivals: Vec<f64>,
        /// Loop over the list.
        repeat: bool,
    },
}

impl ArrivalProcess {
    /// An on-off source: Poisson at `on_rate` during on periods of mean `mean_on`, silent
    /// during off periods of mean `mean_off`.
    pub fn on_off(on_rate: f64, mean_on: f64, mean_off: f64) -> Self {
        ArrivalProcess::Mmpp {
            rates: [on_rate, 0.0],
            mean_sojourn: [mean_on, mean_off],
        }
    }

    /// Long-run arrivals per second.
    pub fn mean_rate(&self) -> f64 {
        match self {
            ArrivalProcess::Poisson { rate } | ArrivalProcess::Constant { rate } => *rate,
            ArrivalProcess::Mmpp {
                rates,
                mean_sojourn,
            } => {
                (rates[0] * mean_sojourn[0] + rates[1] * mean_sojourn[1])
                    / (mean_sojourn[0] + mean_sojourn[1])
            }
            ArrivalProcess::Trace { interarrivals, .. } => {
                let s: f64 = interarrivals.iter().sum();
                if s > 0.0 {
                    interarrivals.len() as f64 / s
                } else {
                    f64::INFINITY
                }
            }
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        let pos = |x: f64| x.is_finite() && x > 0.0;
        match self {
            ArrivalProcess::Poisson { rate } | ArrivalProcess::Constant { rate } if !pos(*rate) => {
                Err("rate must be a positive number of arrivals per second".into())
            }
            ArrivalProcess::Mmpp {
                rates,
                mean_sojourn,
            } => {
                if !rates.iter().all(|r| r.is_finite() && *r >= 0.0)
                    || rates.iter().all(|r| *r == 0.0)
                {
                    Err("mmpp: rates must be non-negative and not both zero".into())
                } else if !mean_sojourn.iter().all(|m| pos(*m)) {
                    Err("mmpp: mean sojourn times must be positive".into())
                } else {
                    Ok(())
                }
            }
            ArrivalProcess::Trace {
                interarrivals,
                repeat,
            } => {
                if interarrivals.is_empty() {
                    Err("trace: the list of inter-arrival times is empty".into())
                } else if !interarrivals.iter().all(|x| x.is_finite() && *x >= 0.0) {
                    Err("trace: inter-arrival times must be finite and non-negative".into())
                } else if *repeat && interarrivals.iter().sum::<f64>() <= 0.0 {
                    Err("trace: a repeated trace needs a positive total duration".into())
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }
}

/// Packet sizes of a source, bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeSpec {
    /// Every packet has this size.
    Fixed(u32),
    /// Uniform on `min ..= max`.
    Uniform {
        /// Smallest.
        min: u32,
        /// Largest.
        max: u32,
    },
    /// A discrete mix: `(size, weight)` pairs (weights need not sum to 1), e.g. IMIX.
    Weighted(Vec<(u32, f64)>),
}

impl Default for SizeSpec {
    fn default() -> Self {
        SizeSpec::Fixed(1500)
    }
}

impl SizeSpec {
    /// Mean size, bytes.
    pub fn mean(&self) -> f64 {
        match self {
            SizeSpec::Fixed(s) => f64::from(*s),
            SizeSpec::Uniform { min, max } => 0.5 * (f64::from(*min) + f64::from(*max)),
            SizeSpec::Weighted(w) => {
                let tot: f64 = w.iter().map(|x| x.1).sum();
                w.iter().map(|x| f64::from(x.0) * x.1).sum::<f64>() / tot
            }
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        match self {
            SizeSpec::Uniform { min, max } if min > max => Err("sizes: need min <= max".into()),
            SizeSpec::Weighted(w)
                if w.is_empty()
                    || !w.iter().all(|x| x.1.is_finite() && x.1 >= 0.0)
                    || w.iter().map(|x| x.1).sum::<f64>() <= 0.0 =>
            {
                Err("sizes: need at least one (size, weight) with non-negative weights summing above 0".into())
            }
            _ => Ok(()),
        }
    }
}

#[derive(Clone, Debug)]
enum Gen {
    Poisson {
        mean: f64,
        t: f64,
    },
    Constant {
        rate: f64,
    },
    Mmpp {
        rates: [f64; 2],
        mean_sojourn: [f64; 2],
        state: usize,
        t: f64,
        switch_at: f64,
    },
    Trace {
        ia: Vec<f64>,
        repeat: bool,
        i: usize,
        t: f64,
    },
}

#[derive(Clone, Debug)]
enum Sizes {
    Fixed(u32),
    Uniform(u32, u32),
    Weighted { sizes: Vec<u32>, cum: Vec<f64> },
}

/// Arrivals generated ahead, per source: the generator fills a block at a time in a tight
/// loop, and the engine takes them one by one. The source's random stream is consumed in
/// the same order as one arrival at a time, so the arrivals are the same.
const BLOCK: usize = 32;

/// Generates `(arrival time, size)` for one source from its own random stream.
#[derive(Clone, Debug)]
pub(crate) struct ArrivalGen {
    gen: Gen,
    sizes: Sizes,
    n: u64,
    rng: Pcg64Mcg,
    times: [f64; BLOCK],
    size_buf: [u32; BLOCK],
    pos: usize,
    len: usize,
}

impl ArrivalGen {
    pub(crate) fn new(p: &ArrivalProcess, s: &SizeSpec, mut rng: Pcg64Mcg) -> Self {
        let gen = match p {
            ArrivalProcess::Poisson { rate } => Gen::Poisson {
                mean: 1.0 / rate,
                t: 0.0,
            },
            ArrivalProcess::Constant { rate } => Gen::Constant { rate: *rate },
            ArrivalProcess::Mmpp {
                rates,
                mean_sojourn,
            } => {
                let p0 = mean_sojourn[0] / (mean_sojourn[0] + mean_sojourn[1]);
                let state = usize::from(uniform(&mut rng) >= p0);
                let switch_at = exp1(&mut rng) * mean_sojourn[state];
                Gen::Mmpp {
                    rates: *rates,
                    mean_sojourn: *mean_sojourn,
                    state,
                    t: 0.0,
                    switch_at,
                }
            }
            ArrivalProcess::Trace {
                interarrivals,
                repeat,
            } => Gen::Trace {
                ia: interarrivals.clone(),
                repeat: *repeat,
                i: 0,
                t: 0.0,
            },
        };
        let sizes = match s {
            SizeSpec::Fixed(x) => Sizes::Fixed(*x),
            SizeSpec::Uniform { min, max } => Sizes::Uniform(*min, *max),
            SizeSpec::Weighted(w) => {
                let tot: f64 = w.iter().map(|x| x.1).sum();
                let mut acc = 0.0;
                let cum = w
                    .iter()
                    .map(|x| {
                        acc += x.1 / tot;
                        acc
                    })
                    .collect();
                Sizes::Weighted {
                    sizes: w.iter().map(|x| x.0).collect(),
                    cum,
                }
            }
        };
        Self {
            gen,
            sizes,
            n: 0,
            rng,
            times: [0.0; BLOCK],
            size_buf: [0; BLOCK],
            pos: 0,
            len: 0,
        }
    }

    /// The next arrival, or `None` when a non-repeating trace is exhausted.
    #[inline]
    pub(crate) fn next_arrival(&mut self) -> Option<(f64, u32)> {
        if self.pos == self.len {
            self.refill();
            if self.len == 0 {
                return None;
            }
        }
        let i = self.pos;
        self.pos += 1;
        Some((self.times[i], self.size_buf[i]))
    }

    /// Generates the next block of arrivals (fewer, or none, at the end of a trace).
    #[inline(never)]
    fn refill(&mut self) {
        self.pos = 0;
        self.len = 0;
        if let (Gen::Poisson { mean, t }, Sizes::Fixed(s)) = (&mut self.gen, &self.sizes) {
            // The bottleneck scenarios' case: only the exponential draws.
            let z = ziggurat();
            for (ti, si) in self.times.iter_mut().zip(&mut self.size_buf) {
                *t += *mean * exp1_with(z, &mut self.rng);
                *ti = *t;
                *si = *s;
            }
            self.n += BLOCK as u64;
            self.len = BLOCK;
            return;
        }
        while self.len < BLOCK {
            let Some((t, s)) = self.generate() else {
                break;
            };
            self.times[self.len] = t;
            self.size_buf[self.len] = s;
            self.len += 1;
        }
    }

    /// One arrival straight from the process.
    #[inline]
    fn generate(&mut self) -> Option<(f64, u32)> {
        let t = match &mut self.gen {
            Gen::Poisson { mean, t } => {
                *t += *mean * exp1(&mut self.rng);
                *t
            }
            Gen::Constant { rate } => (self.n + 1) as f64 / *rate,
            Gen::Mmpp {
                rates,
                mean_sojourn,
                state,
                t,
                switch_at,
            } => loop {
                let r = rates[*state];
                let cand = if r > 0.0 {
                    *t + exp1(&mut self.rng) / r
                } else {
                    f64::INFINITY
                };
                if cand <= *switch_at {
                    *t = cand;
                    break cand;
                }
                *t = *switch_at;
                *state ^= 1;
                *switch_at = *t + exp1(&mut self.rng) * mean_sojourn[*state];
            },
            Gen::Trace { ia, repeat, i, t } => {
                if *i == ia.len() {
                    if !*repeat {
                        return None;
                    }
                    *i = 0;
                }
                *t += ia[*i];
                *i += 1;
                *t
            }
        };
        self.n += 1;
        let size = match &self.sizes {
            Sizes::Fixed(s) => *s,
            Sizes::Uniform(a, b) => self.rng.random_range(*a..=*b),
            Sizes::Weighted { sizes, cum } => {
                let u = uniform(&mut self.rng);
                let k = cum.partition_point(|c| *c <= u).min(sizes.len() - 1);
                sizes[k]
            }
        };
        Some((t, size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::random::stream;

    fn rate_of(p: ArrivalProcess, n: usize) -> f64 {
        let mut g = ArrivalGen::new(&p, &SizeSpec::Fixed(1), stream(9, 16));
        let mut t = 0.0;
        for _ in 0..n {
            t = g.next_arrival().unwrap().0;
        }
        n as f64 / t
    }

    #[test]
    fn long_run_rates() {
        let r = rate_of(ArrivalProcess::Poisson { rate: 3.0 }, 200_000);
        assert!((r - 3.0).abs() < 0.05, "{r}");
        assert_eq!(rate_of(ArrivalProcess::Constant { rate: 4.0 }, 1000), 4.0);
        let mmpp = ArrivalProcess::Mmpp {
            rates: [10.0, 1.0],
            mean_sojourn: [1.0, 3.0],
        };
        assert!((mmpp.mean_rate() - 3.25).abs() < 1e-12);
        let r = rate_of(mmpp, 400_000);
        assert!((r - 3.25).abs() < 0.1, "{r}");
    }

    #[test]
    fn trace_replays_and_ends() {
        let p = ArrivalProcess::Trace {
            interarrivals: vec![1.0, 0.5],
            repeat: false,
        };
        let mut g = ArrivalGen::new(&p, &SizeSpec::Fixed(10), stream(1, 16));
        assert_eq!(g.next_arrival(), Some((1.0, 10)));
        assert_eq!(g.next_arrival(), Some((1.5, 10)));
        assert_eq!(g.next_arrival(), None);
    }

    #[test]
    fn weighted_sizes() {
        let s = SizeSpec::Weighted(vec![(64, 7.0), (576, 4.0), (1500, 1.0)]);
        let mut g = ArrivalGen::new(&ArrivalProcess::Poisson { rate: 1.0 }, &s, stream(2, 16));
        let n = 120_000;
        let m: f64 = (0..n)
            .map(|_| f64::from(g.next_arrival().unwrap().1))
            .sum::<f64>()
            / n as f64;
        assert!((m - s.mean()).abs() < 5.0, "{m} vs {}", s.mean());
    }
}
