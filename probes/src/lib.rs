//! # latlab-probes
//!
//! What is measured, and how it is kept.
//!
//! * [`clock`] — the probe's clock (invariant TSC calibrated against CLOCK_MONOTONIC_RAW, or
//!   CLOCK_MONOTONIC_RAW), with its read cost and resolution measured at start.
//! * [`stamp`] — the STAMP wire format (RFC 8762, RFC 8972 SSID): encode, decode, reflect.
//! * [`reflector`] — the STAMP reflector and the TCP echo reflector, pinned and busy-polling.
//! * [`rtt`] — the round-trip probe: closed and open loop over any
//!   [`Datapath`](latlab_kernels::Datapath), loss, reordering and duplicates by sequence number,
//!   latency from the intended send time.
//! * [`record`] — HdrHistograms, interval snapshots and `.hlog` interval logs.
//! * [`rundir`] and [`manifest`] — the run directory, its manifest and summary, written
//!   atomically.
//! * [`scripted`] — an in-memory datapath with scripted loss, reordering and duplication, for
//!   testing the statistics without a network.
//!
//! Data flows one way: datapaths (`latlab-kernels`) and placement (`latlab-topology`) in,
//! histograms and JSON out. The queueing and calibration crates read what this crate writes
//! and never call into it.
#![deny(unsafe_code)]

pub mod clock;
pub mod manifest;
pub mod record;
pub mod reflector;
pub mod rtt;
pub mod rundir;
pub mod scripted;
pub mod stamp;
mod sys;

pub use clock::{Clock, ClockInfo, ClockSource};
pub use rundir::{RunDir, RunStatus};
