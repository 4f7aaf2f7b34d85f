//! TiKV `[raftstore]` TOML.
//!
//! TiKV counts Raft time in ticks of `raft-base-tick-interval`. The heartbeat is one tick; the
//! election timeout is a whole number of ticks. TiKV's `validate` refuses heartbeat ticks of 0,
//! election ticks not above heartbeat ticks, a `raft-store-max-leader-lease` above the election
//! timeout minus one tick, and an election timeout over half of
//! `peer-stale-state-check-interval` (5 min by default); so does this exporter.

use super::{header, rate_text, ExportError, Exporter};
use crate::CalibrationResult;

/// TiKV's default `peer-stale-state-check-interval`, ms.
const PEER_STALE_STATE_CHECK_MS: u64 = 300_000;

/// `raft-base-tick-interval`, `raft-heartbeat-ticks`, `raft-election-timeout-ticks`,
/// `raft-store-max-leader-lease`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TikvToml;

impl Exporter for TikvToml {
    fn name(&self) -> &'static str {
        "tikv"
    }

    fn render(&self, r: &CalibrationResult) -> Result<String, ExportError> {
        let format = self.name();
        let raft = r.raft.as_ref().ok_or(ExportError::Missing {
            format,
            what: "raft timing",
            hint: "calibrate with --for tikv",
        })?;
        let reject = |reason: String| Err(ExportError::Rejected { format, reason });
        let tick = raft.heartbeat_interval_ms;
        let e = raft.election_timeout_ms;
        if tick == 0 {
            return reject("raft-base-tick-interval must be positive".into());
        }
        if e % tick != 0 {
            return reject(format!(
                "the election timeout ({e} ms) is not a whole number of {tick} ms ticks; calibrate with --for tikv"
            ));
        }
        let heartbeat_ticks = 1u64;
        let election_ticks = e / tick;
        if election_ticks <= heartbeat_ticks {
            return reject(format!(
                "election tick ({election_ticks}) must be greater than heartbeat tick ({heartbeat_ticks})"
            ));
        }
        if e.saturating_mul(2) > PEER_STALE_STATE_CHECK_MS {
            return reject(format!(
                "an election timeout of {e} ms is over half of peer-stale-state-check-interval (5 min)"
            ));
        }
        let max_lease = e - tick;
        let lease = match &r.lease {
            Some(l) => ((l.holder_stops_at_ns / 1e6).floor() as u64).min(max_lease),
            None => max_lease,
        };
        if lease == 0 {
            return reject("raft-store-max-leader-lease would be 0 ms".into());
        }
        Ok(format!(
            "{}# predicted spurious elections {} (worst case), {} (expected); mean failover {:.1} ms\n\
             [raftstore]\nraft-base-tick-interval = \"{tick}ms\"\nraft-heartbeat-ticks = {heartbeat_ticks}\n\
             raft-election-timeout-ticks = {election_ticks}\nraft-store-max-leader-lease = \"{lease}ms\"\n",
            header("#", r, "tikv config, [raftstore]"),
            rate_text(raft.spurious_elections_per_hour),
            rate_text(raft.spurious_elections_per_hour_expected),
            raft.expected_failover_ns / 1e6
        ))
    }
}
