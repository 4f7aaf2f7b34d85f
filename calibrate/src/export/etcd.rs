//! etcd: command-line flags and the YAML config file.
//!
//! etcd takes `--heartbeat-interval` and `--election-timeout` in whole milliseconds and
//! refuses a config where `5 × heartbeat > election`, `election > 50000`, or either is 0.
//! It counts the election timeout in heartbeat ticks (`ElectionTicks = ElectionMs / TickMs`,
//! integer division), so a timeout that is not a whole number of heartbeats would silently
//! shrink: that is refused too.

use super::{header, rate_text, ExportError, Exporter};
use crate::raft::{MAX_ELECTION_MS, MIN_ELECTION_HEARTBEATS};
use crate::CalibrationResult;

/// Validated etcd timing: (heartbeat ms, election ms).
fn etcd_timing(format: &'static str, r: &CalibrationResult) -> Result<(u64, u64), ExportError> {
    let raft = r.raft.as_ref().ok_or(ExportError::Missing {
        format,
        what: "raft timing",
        hint: "calibrate with --for etcd",
    })?;
    let (h, e) = (raft.heartbeat_interval_ms, raft.election_timeout_ms);
    let reject = |reason: String| Err(ExportError::Rejected { format, reason });
    if h == 0 || e == 0 {
        return reject(format!(
            "heartbeat-interval ({h} ms) and election-timeout ({e} ms) must be positive"
        ));
    }
    if MIN_ELECTION_HEARTBEATS.saturating_mul(h) > e {
        return reject(format!(
            "election-timeout ({e} ms) must be at least 5 × heartbeat-interval ({h} ms)"
        ));
    }
    if e > MAX_ELECTION_MS {
        return reject(format!(
            "election-timeout ({e} ms) is over etcd's maximum of {MAX_ELECTION_MS} ms"
        ));
    }
    if e % h != 0 {
        return reject(format!(
            "etcd counts the election timeout in whole heartbeats and would cut {e} ms to {} ms; calibrate with --for etcd",
            e / h * h
        ));
    }
    Ok((h, e))
}

fn prediction(r: &CalibrationResult) -> String {
    match &r.raft {
        Some(raft) => format!(
            "predicted spurious elections {} (worst case), {} (expected); mean failover {:.1} ms",
            rate_text(raft.spurious_elections_per_hour),
            rate_text(raft.spurious_elections_per_hour_expected),
            raft.expected_failover_ns / 1e6
        ),
        None => String::new(),
    }
}

/// `--heartbeat-interval=H --election-timeout=E`, and nothing else: the output splices into a
/// command line (`etcd $(latlab calibrate RUN --for etcd --export etcd-flags -o -)`). Its
/// provenance and prediction are in `calibration-etcd.json` and the YAML export.
#[derive(Debug, Clone, Copy, Default)]
pub struct EtcdFlags;

impl Exporter for EtcdFlags {
    fn name(&self) -> &'static str {
        "etcd-flags"
    }

    fn render(&self, r: &CalibrationResult) -> Result<String, ExportError> {
        let (h, e) = etcd_timing(self.name(), r)?;
        Ok(format!("--heartbeat-interval={h} --election-timeout={e}\n"))
    }
}

/// `heartbeat-interval: H` / `election-timeout: E` for etcd's `--config-file`.
#[derive(Debug, Clone, Copy, Default)]
pub struct EtcdYaml;

impl Exporter for EtcdYaml {
    fn name(&self) -> &'static str {
        "etcd-yaml"
    }

    fn render(&self, r: &CalibrationResult) -> Result<String, ExportError> {
        let (h, e) = etcd_timing(self.name(), r)?;
        Ok(format!(
            "{}# {}\nheartbeat-interval: {h}\nelection-timeout: {e}\n",
            header("#", r, "etcd config file"),
            prediction(r)
        ))
    }
}
