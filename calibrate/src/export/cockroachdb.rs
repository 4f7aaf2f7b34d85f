//! CockroachDB: Raft timing through its environment variables, clock offset through
//! `--max-offset`.
//!
//! `COCKROACH_RAFT_TICK_INTERVAL` (a Go duration) sets the tick; the heartbeat is one tick
//! (`COCKROACH_RAFT_HEARTBEAT_INTERVAL_TICKS`), the election timeout a whole number of ticks
//! (`COCKROACH_RAFT_ELECTION_TIMEOUT_TICKS`) with as many jitter ticks on top
//! (`COCKROACH_RAFT_ELECTION_TIMEOUT_JITTER_TICKS`, newer releases; older ones multiply by a
//! random 1–2), which is the `[E, 2E)` the derivation assumed. Raft itself requires election
//! ticks above heartbeat ticks.

use super::{go_duration, header, rate_text, ExportError, Exporter};
use crate::CalibrationResult;

/// Shell `export` lines and the `--max-offset` flag.
#[derive(Debug, Clone, Copy, Default)]
pub struct CockroachEnv;

impl Exporter for CockroachEnv {
    fn name(&self) -> &'static str {
        "cockroachdb"
    }

    fn render(&self, r: &CalibrationResult) -> Result<String, ExportError> {
        let format = self.name();
        let raft = r.raft.as_ref().ok_or(ExportError::Missing {
            format,
            what: "raft timing",
            hint: "calibrate with --for cockroachdb",
        })?;
        let reject = |reason: String| Err(ExportError::Rejected { format, reason });
        let tick = raft.heartbeat_interval_ms;
        let e = raft.election_timeout_ms;
        if tick == 0 {
            return reject("COCKROACH_RAFT_TICK_INTERVAL must be positive".into());
        }
        if e % tick != 0 {
            return reject(format!(
                "the election timeout ({e} ms) is not a whole number of {tick} ms ticks; calibrate with --for cockroachdb"
            ));
        }
        let election_ticks = e / tick;
        if election_ticks <= 1 {
            return reject(format!(
                "election ticks ({election_ticks}) must be greater than heartbeat ticks (1)"
            ));
        }
        let offset = match &r.cockroach {
            Some(c) if c.max_offset_ms >= 1 => format!(
                "# clock uncertainty ε = {:.3} ms; nodes stop when offset exceeds 80 % of --max-offset\n# cockroach start ... --max-offset={}\n",
                r.clock.as_ref().map(|c| c.epsilon_ns / 1e6).unwrap_or(f64::NAN),
                go_duration(c.max_offset_ms)
            ),
            Some(c) => return reject(format!("--max-offset of {} ms", c.max_offset_ms)),
            None => "# --max-offset not derived: the run measured no clock offsets\n".to_string(),
        };
        Ok(format!(
            "{}# predicted spurious elections {} (worst case), {} (expected); mean failover {:.1} ms\n\
             export COCKROACH_RAFT_TICK_INTERVAL={}\nexport COCKROACH_RAFT_HEARTBEAT_INTERVAL_TICKS=1\n\
             export COCKROACH_RAFT_ELECTION_TIMEOUT_TICKS={election_ticks}\n\
             export COCKROACH_RAFT_ELECTION_TIMEOUT_JITTER_TICKS={election_ticks}\n{offset}",
            header("#", r, "cockroachdb environment"),
            rate_text(raft.spurious_elections_per_hour),
            rate_text(raft.spurious_elections_per_hour_expected),
            raft.expected_failover_ns / 1e6,
            go_duration(tick)
        ))
    }
}
