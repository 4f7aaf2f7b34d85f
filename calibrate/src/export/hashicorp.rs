//! hashicorp/raft `Config` timing fields as Go duration strings (`time.ParseDuration`
//! syntax), the form Consul, Nomad and Vault accept in their own configs.
//!
//! hashicorp/raft's `ValidateConfig` rejects HeartbeatTimeout, ElectionTimeout or
//! LeaderLeaseTimeout below 5 ms, CommitTimeout below 1 ms, LeaderLeaseTimeout above
//! HeartbeatTimeout, and ElectionTimeout below HeartbeatTimeout; so does this exporter.

use super::{go_duration, header, rate_text, ExportError, Exporter};
use crate::CalibrationResult;

/// `HeartbeatTimeout`, `ElectionTimeout`, `LeaderLeaseTimeout`, `CommitTimeout`.
#[derive(Debug, Clone, Copy, Default)]
pub struct HashicorpRaftConfig;

impl Exporter for HashicorpRaftConfig {
    fn name(&self) -> &'static str {
        "hashicorp-raft"
    }

    fn render(&self, r: &CalibrationResult) -> Result<String, ExportError> {
        let format = self.name();
        let missing = ExportError::Missing {
            format,
            what: "hashicorp/raft timing",
            hint: "calibrate with --for hashicorp-raft",
        };
        let raft = r.raft.as_ref().ok_or(missing.clone())?;
        let extra = r.hashicorp.as_ref().ok_or(missing)?;
        let ht = raft.election_timeout_ms;
        let et = ht;
        let llt = extra.leader_lease_timeout_ms;
        let ct = extra.commit_timeout_ms;
        let reject = |reason: String| Err(ExportError::Rejected { format, reason });
        for (name, v) in [
            ("HeartbeatTimeout", ht),
            ("ElectionTimeout", et),
            ("LeaderLeaseTimeout", llt),
        ] {
            if v < 5 {
                return reject(format!("{name} ({v} ms) is under the minimum of 5 ms"));
            }
        }
        if ct < 1 {
            return reject(format!(
                "CommitTimeout ({ct} ms) is under the minimum of 1 ms"
            ));
        }
        if llt > ht {
            return reject(format!(
                "LeaderLeaseTimeout ({llt} ms) cannot be larger than HeartbeatTimeout ({ht} ms)"
            ));
        }
        if et < ht {
            return reject(format!(
                "ElectionTimeout ({et} ms) must be equal or greater than HeartbeatTimeout ({ht} ms)"
            ));
        }
        Ok(format!(
            "{}// predicted spurious elections {} (worst case), {} (expected); leader step-downs {}\n\
             HeartbeatTimeout = \"{}\"\nElectionTimeout = \"{}\"\nLeaderLeaseTimeout = \"{}\"\nCommitTimeout = \"{}\"\n",
            header("//", r, "hashicorp/raft Config, Go duration strings"),
            rate_text(raft.spurious_elections_per_hour),
            rate_text(raft.spurious_elections_per_hour_expected),
            rate_text(extra.step_downs_per_hour),
            go_duration(ht),
            go_duration(et),
            go_duration(llt),
            go_duration(ct)
        ))
    }
}
