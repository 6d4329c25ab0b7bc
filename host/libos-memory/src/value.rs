//! Validation of object values.

use crate::error::{MemoryError, Result};

/// Checks that `value` is one complete JSON text (surrounding whitespace allowed).
///
/// The check is `serde_json`'s full parse, so a value accepted here can later be parsed by any
/// `serde_json` reader: nesting deeper than 128 levels, numbers out of `f64` range and lone
/// UTF-16 surrogate escapes are rejected too. The store keeps accepted values byte for byte as
/// given; it never normalizes them.
///
/// # Errors
/// [`MemoryError::Invalid`] naming the line and column of the first problem.
pub fn validate_json(value: &str) -> Result<()> {
    match serde_json::from_str::<serde_json::Value>(value) {
        Ok(_) => Ok(()),
        Err(err) => Err(MemoryError::Invalid(format!(
            "value is not valid JSON: {err}"
        ))),
    }
}
