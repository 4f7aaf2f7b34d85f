//! # latlab-queueing
//!
//! The middle of latlab's pipeline: measured latency in, a model that predicts latency under
//! load out. Everything here is a pure function of its inputs — no sockets, no files, no system
//! clock — so every result is repeatable and testable without a network.
//!
//! This crate is filled by the queueing issue (analytical models M/M/1, M/D/1, M/G/1, G/G/1,
//! M/M/c; distribution fitting; a discrete-event simulator with FIFO, RED, CoDel and PIE).
//! Its place in the dependency graph is fixed now: it depends on nothing else in latlab, and
//! `latlab-kernels` / `latlab-probes` are never imported from here.
#![forbid(unsafe_code)]
