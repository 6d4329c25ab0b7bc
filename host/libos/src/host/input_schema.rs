//! A tool's input checked against its JSON Schema by the host, before the call.
//!
//! The schema is a tool's `describe()` answer (or, for a plain component's function, the one
//! derived from its WIT types), compiled once at load: one that does not compile (not a JSON
//! Schema, a `$ref` outside itself: nothing is fetched) refuses the tool. Patterns use the
//! `regex` crate's engine, linear in the input, so a hostile schema cannot make a check take
//! exponential time. Formats are annotations only (the default of draft 2020-12).

use serde_json::Value;

/// Largest schema a tool may declare, in bytes of JSON.
pub const MAX_SCHEMA_BYTES: usize = 256 << 10;

/// Errors reported for one input, at most (the rest are counted).
const SHOWN_ERRORS: usize = 5;

/// A compiled input schema.
pub struct InputSchema {
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for InputSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InputSchema")
    }
}

impl InputSchema {
    /// Compiles `schema`; `Err` says why it is not a usable JSON Schema.
    pub fn compile(schema: &Value) -> Result<InputSchema, String> {
        let validator = jsonschema::options()
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .build(schema)
            .map_err(|e| format!("not a usable JSON Schema: {e}"))?;
        Ok(InputSchema { validator })
    }

    /// Checks `input`; `Err` lists where and how it does not match (the first few).
    pub fn check(&self, input: &Value) -> Result<(), String> {
        let mut shown = Vec::new();
        let mut more = 0usize;
        for error in self.validator.iter_errors(input) {
            if shown.len() < SHOWN_ERRORS {
                let at = error.instance_path().to_string();
                let at = if at.is_empty() { "/".to_string() } else { at };
                shown.push(format!("at {at}: {error}"));
            } else {
                more += 1;
            }
        }
        if shown.is_empty() {
            return Ok(());
        }
        let mut message = format!("does not match the input schema: {}", shown.join("; "));
        if more > 0 {
            message.push_str(&format!(" (and {more} more)"));
        }
        Err(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inputs_are_checked_and_errors_say_where() {
        let schema = InputSchema::compile(&json!({
            "type": "object",
            "properties": {"text": {"type": "string", "maxLength": 3}, "n": {"type": "integer"}},
            "required": ["text"],
            "additionalProperties": false,
        }))
        .unwrap();
        assert!(schema.check(&json!({"text": "abc"})).is_ok());
        let e = schema.check(&json!({"text": 5})).unwrap_err();
        assert!(e.contains("at /text"), "{e}");
        let e = schema.check(&json!({"n": 1})).unwrap_err();
        assert!(e.contains("text"), "{e}");
        assert!(schema.check(&json!({"text": "a", "x": 1})).is_err());
        assert!(schema.check(&json!({"text": "abcd"})).is_err());
    }

    #[test]
    fn a_schema_that_does_not_compile_or_reaches_outside_is_refused() {
        assert!(InputSchema::compile(&json!({"type": "nonsense"})).is_err());
        assert!(InputSchema::compile(&json!({"$ref": "https://example.com/schema.json"})).is_err());
        assert!(InputSchema::compile(&json!({"$ref": "file:///etc/passwd"})).is_err());
        assert!(InputSchema::compile(&json!({"pattern": "(a"})).is_err());
    }

    #[test]
    fn a_catastrophic_pattern_is_checked_in_linear_time() {
        // Exponential for a backtracking engine on this input; linear with `regex`.
        let schema =
            InputSchema::compile(&json!({"type": "string", "pattern": "^(a+)+$"})).unwrap();
        let input = json!(format!("{}b", "a".repeat(10_000)));
        assert!(schema.check(&input).is_err());
    }
}
