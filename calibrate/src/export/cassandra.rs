//! Cassandra: the `phi_convict_threshold` line of cassandra.yaml.
//!
//! Cassandra refuses thresholds outside [5, 16] (`DatabaseDescriptor`) and gossips every
//! 1000 ms (not configurable); a threshold derived for another interval is refused.

use super::{fmt_threshold, header, rate_text, ExportError, Exporter};
use crate::phi::CASSANDRA_PHI_RANGE;
use crate::CalibrationResult;

/// `phi_convict_threshold: X`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CassandraYaml;

impl Exporter for CassandraYaml {
    fn name(&self) -> &'static str {
        "cassandra"
    }

    fn render(&self, r: &CalibrationResult) -> Result<String, ExportError> {
        let format = self.name();
        let c = r.cassandra.as_ref().ok_or(ExportError::Missing {
            format,
            what: "cassandra threshold",
            hint: "calibrate with --for cassandra",
        })?;
        let (lo, hi) = CASSANDRA_PHI_RANGE;
        let phi = c.phi_convict_threshold;
        if !(lo..=hi).contains(&phi) {
            return Err(ExportError::Rejected {
                format,
                reason: format!(
                    "phi_convict_threshold must be between {lo} and {hi}, but was {phi}"
                ),
            });
        }
        if c.gossip_interval_ms != 1000 {
            return Err(ExportError::Rejected {
                format,
                reason: format!(
                    "cassandra gossips every 1000 ms, but the threshold was derived for {} ms",
                    c.gossip_interval_ms
                ),
            });
        }
        Ok(format!(
            "{}# predicted false convictions {}; mean detection {:.0} ms\nphi_convict_threshold: {}\n",
            header("#", r, "cassandra.yaml"),
            rate_text(c.false_suspicions_per_hour),
            c.detection_ns / 1e6,
            fmt_threshold(phi)
        ))
    }
}
