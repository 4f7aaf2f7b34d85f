//! Generic JSON: the derived parameters as one flat object ([`GenericParameters`]), with
//! `generator` and `source_run` fields in place of a comment.

use super::{ExportError, Exporter, GenericParameters};
use crate::CalibrationResult;

/// Pretty-printed JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct GenericJson;

impl Exporter for GenericJson {
    fn name(&self) -> &'static str {
        "json"
    }

    fn render(&self, r: &CalibrationResult) -> Result<String, ExportError> {
        let mut s =
            serde_json::to_string_pretty(&GenericParameters::from_result(r)).map_err(|e| {
                ExportError::Serialize {
                    format: "json",
                    message: e.to_string(),
                }
            })?;
        s.push('\n');
        Ok(s)
    }
}
