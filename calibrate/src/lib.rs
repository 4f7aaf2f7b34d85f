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
//!
//! ## Layout
//!
//! | module | holds |
//! |---|---|
//! | [`delay`] | weighted points → [`EmpiricalDelay`] (ccdf, quantiles, sampling) with a peaks-over-threshold tail model |
//! | [`gap`] | the heartbeat-silence model every detector here reduces to |
//! | [`raft`] | heartbeat interval and election timeout (Raft §5.2, etcd's tuning rules) |
//! | [`phi`] | φ-accrual: Akka's and Cassandra's φ, thresholds from a false-suspicion budget |
//! | [`rpc`] | RFC 6298 RTO, percentile timeouts, hedged requests |
//! | [`clock`] | clock uncertainty ε, TrueTime, commit-wait, leases |
//! | [`montecarlo`] | virtual-clock detector simulation that checks the predicted rates |
//! | [`derivation`] | the record each derivation leaves: measured inputs, model, formula, prediction, evidence |
//! | [`export`] | one [`export::Exporter`] per config format |
//! | [`stats`] | special functions (incomplete gamma, normal tail, Poisson intervals) |
//!
//! ## Entry point
//!
//! [`calibrate`] takes a [`CalibrationInput`] (the measurement), a [`Target`] (the system to
//! tune) and [`Options`] (budget, cluster size, assumptions) and returns a
//! [`CalibrationResult`]: every derived parameter with its [`derivation::Derivation`]. An
//! exporter renders it for the target; the result is also `serde`-serialisable as is.
//!
//! ```
//! use latlab_calibrate::{calibrate, CalibrationInput, Options, Target, WeightedPoint};
//! use latlab_calibrate::export::{exporter, Exporter};
//!
//! // A round-trip histogram: 500–899 µs, 250 samples per 1 µs bucket (100 000 samples).
//! let rtt: Vec<WeightedPoint> = (500..900)
//!     .map(|us| WeightedPoint::new(us as f64 * 1000.0, 250))
//!     .collect();
//! let input = CalibrationInput {
//!     source_run: "results/lab-2024-05-01".into(),
//!     rtt: Some(rtt),
//!     loss_probability: 1e-3,
//!     ..CalibrationInput::default()
//! };
//! let result = calibrate(&input, Target::Etcd, &Options::default()).unwrap();
//! let raft = result.raft.as_ref().unwrap();
//! assert!(raft.spurious_elections_per_hour <= 1e-4);
//! let flags = exporter("etcd-flags").unwrap().render(&result).unwrap();
//! assert!(flags.contains("--election-timeout="));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod clock;
pub mod delay;
pub mod derivation;
pub mod error;
pub mod export;
pub mod gap;
pub mod montecarlo;
pub mod phi;
pub mod raft;
pub mod rpc;
pub mod stats;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use crate::clock::{ClockBounds, ClockOffsetSummary, ClockOptions, Lease, OffsetBound};
pub use crate::delay::{DelayModel, EmpiricalDelay, IidSum, TailFit, TailModel, WeightedPoint};
pub use crate::derivation::{Derivation, Evidence, Quantity};
pub use crate::error::CalibrateError;
pub use crate::phi::{AkkaPhi, AkkaSettings, CassandraPhi};
pub use crate::raft::{HeartbeatRule, RaftSpec, RaftTiming};
pub use crate::rpc::{RpcOptions, RpcTimeouts, RtoEstimator, RtoParams};

/// True for a finite number above zero (false for NaN).
pub(crate) fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// True for a finite number at or above zero (false for NaN).
pub(crate) fn non_negative(x: f64) -> bool {
    x.is_finite() && x >= 0.0
}

/// latlab's version, written into every export.
pub const LATLAB_VERSION: &str = env!("CARGO_PKG_VERSION");

const NS_PER_MS: f64 = 1e6;

/// The measurement to calibrate from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CalibrationInput {
    /// Names the source run (a run directory, a file); written into every export.
    pub source_run: String,
    /// Round-trip time histogram, as weighted points (ns, count).
    pub rtt: Option<Vec<WeightedPoint>>,
    /// One-way delay histogram, when one was measured (needs synchronised clocks).
    pub one_way: Option<Vec<WeightedPoint>>,
    /// Probability that a message is lost, in `[0, 1)`.
    pub loss_probability: f64,
    /// Clock-offset summary, when the run measured offsets.
    pub clock_offset: Option<ClockOffsetSummary>,
    /// How long the measurement ran, s (turns "need N more samples" into seconds).
    pub sample_duration_s: Option<f64>,
}

/// The system to tune.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// etcd: `--heartbeat-interval`, `--election-timeout` (tick = heartbeat).
    Etcd,
    /// hashicorp/raft `Config` (Consul, Nomad, Vault).
    HashicorpRaft,
    /// TiKV raftstore.
    Tikv,
    /// CockroachDB.
    Cockroachdb,
    /// Cassandra `phi_convict_threshold`.
    Cassandra,
    /// Akka cluster failure detector.
    Akka,
    /// Everything, with no implementation's constraints.
    Generic,
}

impl Target {
    /// All targets.
    pub const ALL: [Target; 7] = [
        Target::Etcd,
        Target::HashicorpRaft,
        Target::Tikv,
        Target::Cockroachdb,
        Target::Cassandra,
        Target::Akka,
        Target::Generic,
    ];

    /// The name used on the command line and in serialised results.
    pub fn name(self) -> &'static str {
        match self {
            Target::Etcd => "etcd",
            Target::HashicorpRaft => "hashicorp-raft",
            Target::Tikv => "tikv",
            Target::Cockroachdb => "cockroachdb",
            Target::Cassandra => "cassandra",
            Target::Akka => "akka",
            Target::Generic => "generic",
        }
    }

    fn is_raft(self) -> bool {
        matches!(
            self,
            Target::Etcd
                | Target::HashicorpRaft
                | Target::Tikv
                | Target::Cockroachdb
                | Target::Generic
        )
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A target name that is not one of [`Target::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown target {0:?}: use one of etcd, hashicorp-raft, tikv, cockroachdb, cassandra, akka, generic")]
pub struct UnknownTarget(pub String);

impl FromStr for Target {
    type Err = UnknownTarget;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Target::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| UnknownTarget(s.to_string()))
    }
}

/// Budget, cluster shape and assumptions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// False positives allowed per hour, whole cluster (spurious elections, false suspicions).
    pub budget_per_hour: f64,
    /// Nodes in the cluster (≥ 2): Raft followers = n − 1; Cassandra monitors n(n − 1) pairs;
    /// Akka n·min(9, n − 1) (each member is watched by up to `monitored-by-nr-of-members` = 9).
    pub cluster_size: u32,
    /// Fix the heartbeat interval, ms (else `max(1 ms, ⌈RTT p99.9⌉)`).
    pub heartbeat_ms: Option<u64>,
    /// One-way delay as a fraction of RTT when no one-way histogram is given (0.5: each leg
    /// carries half the round trip and half its variation; 1.0 assumes all variation can fall
    /// on one leg, the conservative reading).
    pub one_way_fraction: f64,
    /// Tail model for the distributions.
    pub tail_fit: TailFit,
    /// Refuse (rather than extrapolate and flag) when the samples are too few for the budget.
    pub require_evidence: bool,
    /// RPC timeout options.
    pub rpc: RpcOptions,
    /// Akka's detector settings taken as given.
    pub akka: AkkaSettings,
    /// Cassandra's gossip interval, ms (fixed at 1000 in Cassandra).
    pub cassandra_gossip_interval_ms: u64,
    /// Clock assumptions.
    pub clock: ClockOptions,
    /// Lease duration, ms (else, for Raft targets, the shortest election timeout).
    pub lease_ms: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            budget_per_hour: 1e-4,
            cluster_size: 3,
            heartbeat_ms: None,
            one_way_fraction: 0.5,
            tail_fit: TailFit::GeneralizedPareto,
            require_evidence: false,
            rpc: RpcOptions::default(),
            akka: AkkaSettings::default(),
            cassandra_gossip_interval_ms: 1000,
            clock: ClockOptions::default(),
            lease_ms: None,
        }
    }
}

/// hashicorp/raft's fields beyond the two timeouts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HashicorpExtras {
    /// `LeaderLeaseTimeout`, ms.
    pub leader_lease_timeout_ms: u64,
    /// `CommitTimeout`, ms.
    pub commit_timeout_ms: u64,
    /// Predicted spurious leader step-downs per hour.
    pub step_downs_per_hour: f64,
    /// How it was derived.
    pub derivation: Derivation,
}

/// CockroachDB's `--max-offset`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CockroachOffset {
    /// `--max-offset`, ms.
    pub max_offset_ms: u64,
    /// How it was derived.
    pub derivation: Derivation,
}

/// Everything [`calibrate`] derived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationResult {
    /// latlab's version.
    pub latlab_version: String,
    /// The source run named in the input.
    pub source_run: String,
    /// The target.
    pub target: Target,
    /// The budget, false positives per hour.
    pub budget_per_hour: f64,
    /// Raft heartbeat and election timeout (Raft targets and generic).
    pub raft: Option<RaftTiming>,
    /// hashicorp/raft extras.
    pub hashicorp: Option<HashicorpExtras>,
    /// Akka threshold (Akka and generic).
    pub akka: Option<AkkaPhi>,
    /// Cassandra threshold (Cassandra and generic).
    pub cassandra: Option<CassandraPhi>,
    /// RPC timeouts.
    pub rpc: RpcTimeouts,
    /// Clock uncertainty and commit-wait (when offsets were measured).
    pub clock: Option<ClockBounds>,
    /// Lease with the holder's early stop (when a lease applies).
    pub lease: Option<Lease>,
    /// CockroachDB `--max-offset` (CockroachDB, when offsets were measured).
    pub cockroach: Option<CockroachOffset>,
    /// Sentences the user should read (evidence shortfalls, clamps).
    pub warnings: Vec<String>,
}

impl CalibrationResult {
    /// Every derivation, in a stable order.
    pub fn derivations(&self) -> Vec<&Derivation> {
        let mut v = Vec::new();
        if let Some(r) = &self.raft {
            v.push(&r.derivation);
        }
        if let Some(h) = &self.hashicorp {
            v.push(&h.derivation);
        }
        if let Some(a) = &self.akka {
            v.push(&a.derivation);
        }
        if let Some(c) = &self.cassandra {
            v.push(&c.derivation);
        }
        v.push(&self.rpc.rto.derivation);
        v.push(&self.rpc.percentile.derivation);
        v.push(&self.rpc.hedge.derivation);
        if let Some(c) = &self.clock {
            v.push(&c.derivation);
        }
        if let Some(l) = &self.lease {
            v.push(&l.derivation);
        }
        if let Some(c) = &self.cockroach {
            v.push(&c.derivation);
        }
        v
    }
}

fn check_options(input: &CalibrationInput, opts: &Options) -> Result<(), CalibrateError> {
    let bad = |what, value: String, hint| Err(CalibrateError::InvalidInput { what, value, hint });
    if !(0.0..1.0).contains(&input.loss_probability) {
        return bad(
            "loss probability",
            input.loss_probability.to_string(),
            "give a probability in [0, 1)",
        );
    }
    if !positive(opts.budget_per_hour) {
        return bad(
            "budget",
            opts.budget_per_hour.to_string(),
            "give a positive number of false positives per hour (1e-4 is one in about 1.1 years)",
        );
    }
    if opts.cluster_size < 2 {
        return bad(
            "cluster size",
            opts.cluster_size.to_string(),
            "failure detection needs at least 2 nodes",
        );
    }
    if !(opts.one_way_fraction > 0.0 && opts.one_way_fraction <= 1.0) {
        return bad(
            "one-way fraction",
            opts.one_way_fraction.to_string(),
            "give a fraction of the rtt in (0, 1] (0.5 by default)",
        );
    }
    if let Some(d) = input.sample_duration_s {
        if !positive(d) {
            return bad(
                "sample duration",
                d.to_string(),
                "give the measurement's duration in seconds, or none",
            );
        }
    }
    Ok(())
}

/// Derives every parameter `target` needs from `input`. See the crate docs for an example.
pub fn calibrate(
    input: &CalibrationInput,
    target: Target,
    opts: &Options,
) -> Result<CalibrationResult, CalibrateError> {
    check_options(input, opts)?;
    let rtt_emp = match &input.rtt {
        Some(p) => Some(EmpiricalDelay::new(p, opts.tail_fit)?),
        None => None,
    };
    let one_way = match (&input.one_way, &rtt_emp) {
        (Some(p), _) => EmpiricalDelay::new(p, opts.tail_fit)?,
        (None, Some(r)) => r.scaled(opts.one_way_fraction),
        (None, None) => return Err(CalibrateError::NoDistribution),
    };
    let sum;
    let rtt: &dyn DelayModel = match &rtt_emp {
        Some(r) => r,
        None => {
            sum = IidSum { one: &one_way };
            &sum
        }
    };
    let loss = input.loss_probability;
    let n = opts.cluster_size as f64;
    let duration = input.sample_duration_s;
    let mut warnings = Vec::new();

    let raft = if target.is_raft() {
        let heartbeat = match (target, opts.heartbeat_ms) {
            (Target::HashicorpRaft, _) => HeartbeatRule::FractionOfTimeout(5),
            (_, Some(ms)) => HeartbeatRule::FixedMs(ms),
            (_, None) => HeartbeatRule::RttP999,
        };
        if target == Target::HashicorpRaft && opts.heartbeat_ms.is_some() {
            warnings.push(
                "hashicorp/raft derives its heartbeat from HeartbeatTimeout (every HeartbeatTimeout/10 to /5); the fixed heartbeat was ignored"
                    .to_string(),
            );
        }
        let spec = RaftSpec {
            followers: opts.cluster_size - 1,
            budget_per_hour: opts.budget_per_hour,
            heartbeat,
            tick_based: matches!(target, Target::Etcd | Target::Tikv | Target::Cockroachdb),
            min_election_ms: if target == Target::HashicorpRaft {
                5
            } else {
                1
            },
            max_election_ms: raft::MAX_ELECTION_MS,
            min_election_rtts: raft::ELECTION_RTT_FACTOR,
        };
        Some(raft::derive(
            &one_way,
            rtt,
            loss,
            &spec,
            duration,
            opts.require_evidence,
        )?)
    } else {
        None
    };

    let hashicorp = match (&raft, target) {
        (Some(r), Target::HashicorpRaft) => {
            Some(hashicorp_extras(r, rtt_emp.as_ref(), &one_way, loss, opts)?)
        }
        _ => None,
    };

    let phi_ctx = |pairs: f64| phi::PhiContext {
        one_way: &one_way,
        loss,
        pairs,
        budget_per_hour: opts.budget_per_hour,
        duration_s: duration,
        require_evidence: opts.require_evidence,
    };
    let akka = if matches!(target, Target::Akka | Target::Generic) {
        let pairs = n * (n - 1.0).min(9.0);
        Some(phi::derive_akka(&phi_ctx(pairs), opts.akka)?)
    } else {
        None
    };
    let cassandra = if matches!(target, Target::Cassandra | Target::Generic) {
        let pairs = n * (n - 1.0);
        Some(phi::derive_cassandra(
            &phi_ctx(pairs),
            opts.cassandra_gossip_interval_ms,
            target == Target::Cassandra,
        )?)
    } else {
        None
    };

    let rpc = rpc::derive(rtt, &opts.rpc, duration)?;

    let clock = match &input.clock_offset {
        Some(o) => Some(clock::derive_clock(o, Some(rtt.min()), &opts.clock)?),
        None => None,
    };

    let lease = match (opts.lease_ms, &raft) {
        (Some(ms), _) => {
            let (basis, note) = match &clock {
                Some(c) => (clock::LeaseClock::Shared(c), None),
                None => (
                    clock::LeaseClock::Local {
                        drift_ppm: opts.clock.drift_ppm,
                    },
                    Some("no clock-offset measurement: the margin covers drift only, which suffices only if the holder times the lease on its own clock"),
                ),
            };
            let mut l = clock::derive_lease(ms, basis, "given")?;
            l.derivation.notes.extend(note.map(String::from));
            Some(l)
        }
        (None, Some(r)) => Some(clock::derive_lease(
            r.election_timeout_ms - r.tick_ms,
            clock::LeaseClock::Local {
                drift_ppm: opts.clock.drift_ppm,
            },
            "raft leader lease: the shortest time before a follower can time out, E − tick",
        )?),
        (None, None) => None,
    };

    let cockroach = match (target, &clock) {
        (Target::Cockroachdb, Some(c)) => Some(cockroach_offset(c)),
        _ => None,
    };

    let mut result = CalibrationResult {
        latlab_version: LATLAB_VERSION.to_string(),
        source_run: input.source_run.clone(),
        target,
        budget_per_hour: opts.budget_per_hour,
        raft,
        hashicorp,
        akka,
        cassandra,
        rpc,
        clock,
        lease,
        cockroach,
        warnings: Vec::new(),
    };
    for d in result.derivations() {
        if let Some(m) = d.evidence.as_ref().and_then(|e| e.message.as_ref()) {
            let w = format!("{}: {m}", d.parameter);
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
    }
    result.warnings = warnings;
    Ok(result)
}

/// CockroachDB shuts a node down when its offset from a majority exceeds 80 % of
/// `--max-offset`, so `max-offset ≥ ε / 0.8`, in whole ms.
fn cockroach_offset(c: &ClockBounds) -> CockroachOffset {
    let ms = ((c.epsilon_ns / 0.8) / NS_PER_MS).ceil().max(1.0) as u64;
    CockroachOffset {
        max_offset_ms: ms,
        derivation: Derivation {
            parameter: "cockroachdb --max-offset".into(),
            measured: vec![Quantity::new("epsilon", c.epsilon_ns, "ns")],
            model: "a node self-terminates when its clock offset from a majority exceeds 80 % of --max-offset".into(),
            target: "no self-termination while offsets stay within ε".into(),
            formula: "max-offset = ⌈ε / 0.8⌉ ms".into(),
            result: vec![Quantity::new("max-offset", ms as f64, "ms")],
            false_positive_rate_per_hour: None,
            false_positive_probability: Some(c.exceed_probability),
            detection_latency_ns: None,
            evidence: None,
            notes: vec![],
        },
    }
}

/// hashicorp/raft: LeaderLeaseTimeout from the leader's view of follower contact (heartbeat
/// responses, a round trip after each heartbeat), CommitTimeout from its documented default.
fn hashicorp_extras(
    r: &RaftTiming,
    rtt_emp: Option<&EmpiricalDelay>,
    one_way: &EmpiricalDelay,
    loss: f64,
    opts: &Options,
) -> Result<HashicorpExtras, CalibrateError> {
    let doubled;
    let contact: &EmpiricalDelay = match rtt_emp {
        Some(r) => r,
        None => {
            doubled = one_way.scaled(2.0);
            &doubled
        }
    };
    let followers = (opts.cluster_size - 1) as f64;
    let ht = r.election_timeout_ms;
    // A heartbeat's response is lost if either leg is.
    let contact_loss = 1.0 - (1.0 - loss) * (1.0 - loss);
    let stream = gap::HeartbeatStream {
        delay: contact,
        interval_ns: r.heartbeat_interval_ns,
        loss: contact_loss,
    };
    let rate = |ms: u64| followers * stream.silences_per_hour(ms as f64 * NS_PER_MS);
    let lo = 5u64.min(ht);
    let mut notes = Vec::new();
    // Smallest L in [lo, ht] meeting the budget; the rate is non-increasing in L.
    let found = if rate(ht) > opts.budget_per_hour {
        None
    } else if rate(lo) <= opts.budget_per_hour {
        Some(lo)
    } else {
        let (mut a, mut b) = (lo, ht);
        while b - a > 1 {
            let mid = a + (b - a) / 2;
            if rate(mid) <= opts.budget_per_hour {
                b = mid;
            } else {
                a = mid;
            }
        }
        Some(b)
    };
    let llt = match found {
        Some(ms) => ms,
        None => {
            notes.push(format!(
                "no LeaderLeaseTimeout up to HeartbeatTimeout ({ht} ms) meets the budget; set to HeartbeatTimeout, the most hashicorp/raft allows"
            ));
            ht
        }
    };
    let step_downs = rate(llt);
    let commit = (ht / 10).clamp(1, 50);
    notes.push(format!(
        "CommitTimeout = min(50 ms, HeartbeatTimeout/10) = {commit} ms: hashicorp's default, kept well below HeartbeatTimeout as its docs ask"
    ));
    notes.push("step-downs counted per follower losing contact; a majority must lose contact at once, so this over-counts".into());
    let derivation = Derivation {
        parameter: "hashicorp/raft LeaderLeaseTimeout and CommitTimeout".into(),
        measured: vec![
            Quantity::new("rtt p99.9", contact.quantile(0.999), "ns"),
            Quantity::new("loss probability (each way)", loss, ""),
        ],
        model: "the leader refreshes a follower's last contact on each heartbeat response; heartbeats every h, responses a round trip later, lost if either leg is".into(),
        target: format!("at most {:e} spurious step-downs per hour, 5 ms ≤ LeaderLeaseTimeout ≤ HeartbeatTimeout", opts.budget_per_hour),
        formula: "LeaderLeaseTimeout = min{L ≥ 5 ms : F·(1−p_c)·(3600 s/h)·P_silence,rtt(L) ≤ budget}, p_c = 1 − (1−p)²".into(),
        result: vec![
            Quantity::new("LeaderLeaseTimeout", llt as f64, "ms"),
            Quantity::new("CommitTimeout", commit as f64, "ms"),
            Quantity::new("step-downs", step_downs, "1/h"),
        ],
        false_positive_rate_per_hour: Some(step_downs),
        false_positive_probability: None,
        detection_latency_ns: None,
        evidence: None,
        notes,
    };
    Ok(HashicorpExtras {
        leader_lease_timeout_ms: llt,
        commit_timeout_ms: commit,
        step_downs_per_hour: step_downs,
        derivation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> CalibrationInput {
        let rtt: Vec<WeightedPoint> = (500..900)
            .map(|us| WeightedPoint::new(us as f64 * 1000.0, 250))
            .collect();
        CalibrationInput {
            source_run: "unit".into(),
            rtt: Some(rtt),
            loss_probability: 1e-3,
            clock_offset: Some(ClockOffsetSummary {
                mean_ns: 1000.0,
                stddev_ns: 2000.0,
                min_ns: -5000.0,
                max_ns: 9000.0,
                count: 1000,
            }),
            sample_duration_s: Some(100.0),
            ..CalibrationInput::default()
        }
    }

    #[test]
    fn target_names_round_trip() {
        for t in Target::ALL {
            assert_eq!(t.name().parse::<Target>().unwrap(), t);
            let j = serde_json::to_string(&t).unwrap();
            assert_eq!(j, format!("\"{}\"", t.name()));
        }
        assert!("zookeeper".parse::<Target>().is_err());
    }

    #[test]
    fn every_target_calibrates() {
        for t in Target::ALL {
            let r = calibrate(&input(), t, &Options::default()).unwrap();
            assert_eq!(r.target, t);
            assert_eq!(r.raft.is_some(), t.is_raft(), "{t}");
            assert!(!r.derivations().is_empty());
            // The run is short: the budget needs more samples than it has.
            assert!(!r.warnings.is_empty(), "{t}");
            let json = serde_json::to_string(&r).unwrap();
            let back: CalibrationResult = serde_json::from_str(&json).unwrap();
            assert_eq!(back.target, t);
        }
    }

    #[test]
    fn etcd_timeouts_are_whole_heartbeats() {
        let r = calibrate(&input(), Target::Etcd, &Options::default()).unwrap();
        let raft = r.raft.unwrap();
        assert_eq!(raft.heartbeat_interval_ms, 1);
        assert_eq!(raft.tick_ms, 1);
        assert_eq!(raft.election_timeout_ms % raft.heartbeat_interval_ms, 0);
        assert!(raft.election_timeout_ms >= 5);
        let lease = r.lease.unwrap();
        assert_eq!(lease.duration_ms, raft.election_timeout_ms - 1);
    }

    #[test]
    fn cockroach_max_offset_and_hashicorp_extras() {
        let r = calibrate(&input(), Target::Cockroachdb, &Options::default()).unwrap();
        let c = r.cockroach.unwrap();
        let eps = r.clock.unwrap().epsilon_ns;
        assert_eq!(c.max_offset_ms, (eps / 0.8 / 1e6).ceil() as u64);
        let h = calibrate(&input(), Target::HashicorpRaft, &Options::default()).unwrap();
        let x = h.hashicorp.unwrap();
        let raft = h.raft.unwrap();
        assert!(x.leader_lease_timeout_ms >= 5);
        assert!(x.leader_lease_timeout_ms <= raft.election_timeout_ms);
        assert!(x.commit_timeout_ms >= 1);
    }

    #[test]
    fn bad_options_are_refused() {
        let o = Options {
            cluster_size: 1,
            ..Options::default()
        };
        assert!(calibrate(&input(), Target::Etcd, &o).is_err());
        let mut i = input();
        i.loss_probability = 1.0;
        assert!(calibrate(&i, Target::Etcd, &Options::default()).is_err());
        let mut i = input();
        i.rtt = None;
        assert!(matches!(
            calibrate(&i, Target::Etcd, &Options::default()),
            Err(CalibrateError::NoDistribution)
        ));
    }

    #[test]
    fn extreme_inputs_are_refused_not_panicked_on() {
        let o = Options {
            heartbeat_ms: Some(u64::MAX),
            ..Options::default()
        };
        let err = calibrate(&input(), Target::Etcd, &o).unwrap_err();
        assert!(err.to_string().contains("over the limit"), "{err}");
        let mut i = input();
        i.loss_probability = 0.999;
        for t in [Target::Etcd, Target::Cassandra] {
            let err = calibrate(&i, t, &Options::default()).unwrap_err();
            assert!(
                matches!(err, CalibrateError::BudgetUnreachable { .. }),
                "{t}: {err}"
            );
        }
        let mut i = input();
        i.rtt = Some(vec![
            WeightedPoint::new(1e15, 100),
            WeightedPoint::new(2e15, 100),
        ]);
        assert!(calibrate(&i, Target::Etcd, &Options::default()).is_err());
        let o = Options {
            lease_ms: Some(0),
            ..Options::default()
        };
        assert!(matches!(
            calibrate(&input(), Target::Generic, &o),
            Err(CalibrateError::LeaseTooShort { .. })
        ));
    }

    #[test]
    fn one_way_only_input_builds_rtt_from_two_legs() {
        let mut i = input();
        i.one_way = i.rtt.take().map(|v| {
            v.into_iter()
                .map(|p| WeightedPoint::new(p.value_ns / 2.0, p.count))
                .collect()
        });
        let r = calibrate(&i, Target::Generic, &Options::default()).unwrap();
        // RTT p99.9 of the sum of two legs is below 2 × the leg's max (≈ 1 ms).
        assert_eq!(r.raft.unwrap().heartbeat_interval_ms, 1);
    }
}
