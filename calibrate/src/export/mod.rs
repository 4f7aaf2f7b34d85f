//! Exporters: one [`Exporter`] per config format, one file each.
//!
//! Every output starts by naming the source run and latlab's version (a comment, or the
//! `generator` and `source_run` fields in JSON). Each exporter applies the target's own
//! validation rules and refuses — with the rule that failed — rather than print a config the
//! target would reject or silently reinterpret:
//!
//! | format | target's rules applied |
//! |---|---|
//! | `etcd-flags`, `etcd-yaml` | heartbeat > 0, election > 0, 5 × heartbeat ≤ election ≤ 50 000 ms, whole ms; election a whole number of heartbeats (etcd counts `ElectionMs / TickMs` ticks) |
//! | `hashicorp-raft` | `ValidateConfig`: HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout ≥ 5 ms, CommitTimeout ≥ 1 ms, LeaderLeaseTimeout ≤ HeartbeatTimeout ≤ ElectionTimeout |
//! | `tikv` | heartbeat ticks > 0, election ticks > heartbeat ticks, max leader lease ≤ election timeout − 1 tick, 2 × election timeout ≤ peer-stale-state-check-interval (5 min) |
//! | `cockroachdb` | tick > 0, election ticks > heartbeat ticks (raft), `--max-offset` ≥ 1 ms |
//! | `cassandra` | 5 ≤ `phi_convict_threshold` ≤ 16 (`DatabaseDescriptor`), gossip interval 1000 ms |
//! | `akka` | threshold > 0, heartbeat-interval > 0, min-std-deviation > 0 |
//! | `json`, `toml` | none (generic parameters) |

mod akka;
mod cassandra;
mod cockroachdb;
mod etcd;
mod generic_json;
mod generic_toml;
mod hashicorp;
mod tikv;

pub use akka::AkkaHocon;
pub use cassandra::CassandraYaml;
pub use cockroachdb::CockroachEnv;
pub use etcd::{EtcdFlags, EtcdYaml};
pub use generic_json::GenericJson;
pub use generic_toml::GenericToml;
pub use hashicorp::HashicorpRaftConfig;
pub use tikv::TikvToml;

use serde::Serialize;
use thiserror::Error;

use crate::{CalibrationResult, Target};

/// Why an exporter refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The result lacks what the format needs.
    #[error("{format}: the calibration has no {what}; {hint}")]
    Missing {
        /// The format.
        format: &'static str,
        /// What is missing.
        what: &'static str,
        /// How to get it.
        hint: &'static str,
    },
    /// The values would be rejected (or reinterpreted) by the target.
    #[error("{format}: refusing to export a config the target would reject: {reason}")]
    Rejected {
        /// The format.
        format: &'static str,
        /// The rule that failed, with the values.
        reason: String,
    },
    /// Serialisation failed.
    #[error("{format}: cannot serialise the result: {message}")]
    Serialize {
        /// The format.
        format: &'static str,
        /// The serialiser's message.
        message: String,
    },
}

/// Renders a [`CalibrationResult`] in one config format.
pub trait Exporter {
    /// The format's name (`etcd-flags`, `json`, …).
    fn name(&self) -> &'static str;
    /// The config text, ending in a newline.
    fn render(&self, result: &CalibrationResult) -> Result<String, ExportError>;
}

/// Every exporter.
pub fn exporters() -> Vec<Box<dyn Exporter>> {
    vec![
        Box::new(EtcdFlags),
        Box::new(EtcdYaml),
        Box::new(HashicorpRaftConfig),
        Box::new(TikvToml),
        Box::new(CockroachEnv),
        Box::new(CassandraYaml),
        Box::new(AkkaHocon),
        Box::new(GenericJson),
        Box::new(GenericToml),
    ]
}

/// The exporter with this name.
pub fn exporter(name: &str) -> Option<Box<dyn Exporter>> {
    exporters().into_iter().find(|e| e.name() == name)
}

/// The natural format for a target.
pub fn default_exporter(target: Target) -> Box<dyn Exporter> {
    match target {
        Target::Etcd => Box::new(EtcdYaml),
        Target::HashicorpRaft => Box::new(HashicorpRaftConfig),
        Target::Tikv => Box::new(TikvToml),
        Target::Cockroachdb => Box::new(CockroachEnv),
        Target::Cassandra => Box::new(CassandraYaml),
        Target::Akka => Box::new(AkkaHocon),
        Target::Generic => Box::new(GenericToml),
    }
}

/// The source run with control characters replaced, safe inside a one-line comment.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The first line(s) of every commented format.
fn header(comment: &str, result: &CalibrationResult, what: &str) -> String {
    format!(
        "{comment} latlab {} calibration; source run: {}\n{comment} {what}; budget {:e} false positives per hour\n",
        crate::LATLAB_VERSION,
        one_line(&result.source_run),
        result.budget_per_hour
    )
}

/// A threshold with at least one decimal: 8 → "8.0", 2.15 → "2.15".
fn fmt_threshold(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

/// A whole number of milliseconds as Go's `time.Duration.String()` prints it.
fn go_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let h = ms / 3_600_000;
    let m = (ms / 60_000) % 60;
    let s_ms = ms % 60_000;
    let mut s = format!("{}", s_ms / 1000);
    if s_ms % 1000 != 0 {
        let frac = format!("{:03}", s_ms % 1000);
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// A predicted rate in a comment.
fn rate_text(per_hour: f64) -> String {
    format!("{per_hour:.3e}/h")
}

/// The generic parameter set the JSON and TOML exporters write.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenericParameters {
    /// "latlab X.Y.Z".
    pub generator: String,
    /// The source run.
    pub source_run: String,
    /// The target calibrated for.
    pub target: Target,
    /// The budget, false positives per hour.
    pub budget_per_hour: f64,
    /// Raft heartbeat interval, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_interval_ms: Option<u64>,
    /// Raft election timeout, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub election_timeout_ms: Option<u64>,
    /// Predicted spurious elections per hour (worst case).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spurious_elections_per_hour: Option<f64>,
    /// Predicted mean failover, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_failover_ms: Option<f64>,
    /// Akka φ threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub akka_threshold: Option<f64>,
    /// Cassandra `phi_convict_threshold`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cassandra_phi_convict_threshold: Option<f64>,
    /// Steady-state RFC 6298 RTO, ms.
    pub rto_ms: f64,
    /// Percentile RPC timeout, ms.
    pub rpc_timeout_ms: f64,
    /// Hedging delay, ms.
    pub hedge_delay_ms: f64,
    /// Extra load from hedging (fraction of requests).
    pub hedge_extra_load: f64,
    /// Clock uncertainty ε, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_epsilon_ms: Option<f64>,
    /// Worst-case commit wait, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_wait_ms: Option<f64>,
    /// Lease duration, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_ms: Option<u64>,
    /// When the holder stops acting, ms after the grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_holder_stop_ms: Option<f64>,
    /// Warnings from the derivations.
    pub warnings: Vec<String>,
}

impl GenericParameters {
    /// The parameter set of a result.
    pub fn from_result(r: &CalibrationResult) -> Self {
        const MS: f64 = 1e6;
        GenericParameters {
            generator: format!("latlab {}", crate::LATLAB_VERSION),
            source_run: r.source_run.clone(),
            target: r.target,
            budget_per_hour: r.budget_per_hour,
            heartbeat_interval_ms: r.raft.as_ref().map(|x| x.heartbeat_interval_ms),
            election_timeout_ms: r.raft.as_ref().map(|x| x.election_timeout_ms),
            spurious_elections_per_hour: r.raft.as_ref().map(|x| x.spurious_elections_per_hour),
            expected_failover_ms: r.raft.as_ref().map(|x| x.expected_failover_ns / MS),
            akka_threshold: r.akka.as_ref().map(|x| x.threshold),
            cassandra_phi_convict_threshold: r.cassandra.as_ref().map(|x| x.phi_convict_threshold),
            rto_ms: r.rpc.rto.rto_ns / MS,
            rpc_timeout_ms: r.rpc.percentile.timeout_ns / MS,
            hedge_delay_ms: r.rpc.hedge.delay_ns / MS,
            hedge_extra_load: r.rpc.hedge.extra_load,
            clock_epsilon_ms: r.clock.as_ref().map(|c| c.epsilon_ns / MS),
            commit_wait_ms: r.clock.as_ref().map(|c| c.commit_wait_ns / MS),
            lease_ms: r.lease.as_ref().map(|l| l.duration_ms),
            lease_holder_stop_ms: r.lease.as_ref().map(|l| l.holder_stops_at_ns / MS),
            warnings: r.warnings.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(5), "5ms");
        assert_eq!(go_duration(999), "999ms");
        assert_eq!(go_duration(1000), "1s");
        assert_eq!(go_duration(1500), "1.5s");
        assert_eq!(go_duration(1050), "1.05s");
        assert_eq!(go_duration(60_000), "1m0s");
        assert_eq!(go_duration(61_500), "1m1.5s");
        assert_eq!(go_duration(3_600_000), "1h0m0s");
        assert_eq!(go_duration(3_723_004), "1h2m3.004s");
    }

    #[test]
    fn thresholds_and_comments() {
        assert_eq!(fmt_threshold(8.0), "8.0");
        assert_eq!(fmt_threshold(2.15), "2.15");
        assert_eq!(one_line("a\nb\rc"), "a b c");
    }

    #[test]
    fn names_are_unique_and_found() {
        let all = exporters();
        for (i, e) in all.iter().enumerate() {
            assert!(all.iter().skip(i + 1).all(|f| f.name() != e.name()));
            assert_eq!(exporter(e.name()).unwrap().name(), e.name());
        }
        assert!(exporter("zookeeper").is_none());
    }
}
