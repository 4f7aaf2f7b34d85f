//! Akka: the `akka.cluster.failure-detector` block in HOCON.
//!
//! Akka requires a positive threshold, heartbeat interval and minimum standard deviation, and
//! a non-negative acceptable pause.

use super::{fmt_threshold, header, rate_text, ExportError, Exporter};
use crate::CalibrationResult;

/// `akka.cluster.failure-detector { … }`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AkkaHocon;

impl Exporter for AkkaHocon {
    fn name(&self) -> &'static str {
        "akka"
    }

    fn render(&self, r: &CalibrationResult) -> Result<String, ExportError> {
        let format = self.name();
        let a = r.akka.as_ref().ok_or(ExportError::Missing {
            format,
            what: "akka threshold",
            hint: "calibrate with --for akka",
        })?;
        let s = a.settings;
        if !crate::positive(a.threshold)
            || s.heartbeat_interval_ms == 0
            || s.min_std_deviation_ms == 0
        {
            return Err(ExportError::Rejected {
                format,
                reason: format!(
                    "threshold ({}), heartbeat-interval ({} ms) and min-std-deviation ({} ms) must be positive",
                    a.threshold, s.heartbeat_interval_ms, s.min_std_deviation_ms
                ),
            });
        }
        Ok(format!(
            "{}# predicted false suspicions {}; mean detection {:.0} ms\n\
             akka.cluster.failure-detector {{\n  threshold = {}\n  heartbeat-interval = {} ms\n  \
             acceptable-heartbeat-pause = {} ms\n  min-std-deviation = {} ms\n}}\n",
            header("#", r, "akka cluster failure detector, HOCON"),
            rate_text(a.false_suspicions_per_hour),
            a.detection_ns / 1e6,
            fmt_threshold(a.threshold),
            s.heartbeat_interval_ms,
            s.acceptable_heartbeat_pause_ms,
            s.min_std_deviation_ms
        ))
    }
}
