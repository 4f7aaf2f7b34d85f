//! Generic TOML: the derived parameters ([`GenericParameters`]) after a comment header.

use super::{header, ExportError, Exporter, GenericParameters};
use crate::CalibrationResult;

/// TOML.
#[derive(Debug, Clone, Copy, Default)]
pub struct GenericToml;

impl Exporter for GenericToml {
    fn name(&self) -> &'static str {
        "toml"
    }

    fn render(&self, r: &CalibrationResult) -> Result<String, ExportError> {
        let body = toml::to_string(&GenericParameters::from_result(r)).map_err(|e| {
            ExportError::Serialize {
                format: "toml",
                message: e.to_string(),
            }
        })?;
        Ok(format!("{}{body}", header("#", r, "latlab parameters")))
    }
}
