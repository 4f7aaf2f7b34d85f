//! # latlab-calibrate
//!
//! The end of latlab's pipeline: from a latency distribution (and a queueing model) to the
//! timing parameters a distributed system needs — heartbeat and election timeouts, φ-accrual
//! thresholds, RPC timeouts and hedging delays, leases and commit-wait — each with the
//! false-positive rate it predicts, and exporters for etcd, hashicorp/raft, TiKV, CockroachDB,
//! Cassandra and Akka.
//!
//! Like `latlab-queueing`, this crate does no I/O and reads no clock: distributions in,
//! parameters out. It may depend on `latlab-queueing`, never on the probes or datapaths.
#![forbid(unsafe_code)]
