//! # latlab-queueing
//!
//! The middle of latlab's pipeline: measured latency in, a model that predicts latency under
//! load out. Everything here is a pure function of its inputs — no sockets, no files, no system
//! clock — so every result is repeatable and testable without a network.
//!
//! * [`models`] — analytical queues: M/M/1, M/M/c (Erlang C), M/D/1, M/G/1
//!   (Pollaczek–Khinchine), G/G/1 approximations (Kingman, Allen–Cunneen), M/M/1/K.
//! * [`fit`] — fitting service/latency distributions to samples by maximum likelihood, with
//!   goodness of fit (KS, Anderson–Darling) and AIC.
//! * [`stats`] — estimators on weighted samples: moments, SCV, quantiles, the Hill tail index,
//!   Hurst exponents.
//! * [`sim`] — a seeded discrete-event simulator of a bottleneck (servers or a link) fed by
//!   Poisson, constant, on-off or trace arrivals.
//! * [`aqm`] — queue disciplines for the simulator: drop-tail, RED, CoDel, PIE, FQ-CoDel,
//!   in their RFC forms and with the Linux kernel's arithmetic.
//!
//! This crate depends on nothing else in latlab; `latlab-kernels` and `latlab-probes` are
//! never imported from here.
#![forbid(unsafe_code)]

pub mod aqm;
pub mod fit;
pub mod models;
pub mod sim;
pub mod stats;
