//! Validation of namespaces, kinds and keys.
//!
//! Each check returns [`MemoryError::Invalid`] with a message naming the offending part
//! (never echoing the untrusted text itself, which may be huge or contain control characters).

use crate::error::{MemoryError, Result};

/// Longest namespace accepted, in bytes of UTF-8.
pub const MAX_NAMESPACE_BYTES: usize = 128;
/// Longest kind accepted, in characters (kinds are ASCII, so also bytes).
pub const MAX_KIND_CHARS: usize = 64;
/// Longest key accepted, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 512;

/// Checks a namespace: 1..=[`MAX_NAMESPACE_BYTES`] bytes, no control characters.
///
/// # Errors
/// [`MemoryError::Invalid`] if the namespace is empty, too long or contains a control
/// character.
pub fn validate_namespace(namespace: &str) -> Result<()> {
    check_text("namespace", namespace, MAX_NAMESPACE_BYTES)
}

/// Checks a key: 1..=[`MAX_KEY_BYTES`] bytes of UTF-8, no control characters.
///
/// # Errors
/// [`MemoryError::Invalid`] if the key is empty, too long or contains a control character.
pub fn validate_key(key: &str) -> Result<()> {
    check_text("key", key, MAX_KEY_BYTES)
}

/// Checks a kind: 1..=[`MAX_KIND_CHARS`] characters from `[a-z0-9._-]`, starting with a
/// lowercase ASCII letter.
///
/// # Errors
/// [`MemoryError::Invalid`] if the kind is empty, too long, does not start with a letter or
/// contains any other character.
pub fn validate_kind(kind: &str) -> Result<()> {
    if kind.is_empty() {
        return Err(invalid("kind is empty"));
    }
    if kind.len() > MAX_KIND_CHARS {
        return Err(invalid(format!(
            "kind is {} bytes, at most {MAX_KIND_CHARS} allowed",
            kind.len()
        )));
    }
    if !kind.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(invalid("kind must start with a lowercase ASCII letter"));
    }
    let allowed =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-');
    if let Some((index, _)) = kind.char_indices().find(|&(_, c)| !allowed(c)) {
        return Err(invalid(format!(
            "kind has a character outside [a-z0-9._-] at byte {index}"
        )));
    }
    Ok(())
}

fn check_text(what: &str, text: &str, max_bytes: usize) -> Result<()> {
    if text.is_empty() {
        return Err(invalid(format!("{what} is empty")));
    }
    if text.len() > max_bytes {
        return Err(invalid(format!(
            "{what} is {} bytes, at most {max_bytes} allowed",
            text.len()
        )));
    }
    if let Some((index, _)) = text.char_indices().find(|&(_, c)| c.is_control()) {
        return Err(invalid(format!(
            "{what} contains a control character at byte {index}"
        )));
    }
    Ok(())
}

fn invalid(message: impl Into<String>) -> MemoryError {
    MemoryError::Invalid(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        for ok in ["a", "note", "a.b_c-d9", &"k".repeat(MAX_KIND_CHARS)] {
            assert!(validate_kind(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "9a",
            "_a",
            "Note",
            "a b",
            "a/b",
            "é",
            &"k".repeat(MAX_KIND_CHARS + 1),
        ] {
            assert!(validate_kind(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_and_namespaces() {
        assert!(validate_key("any thing / ü ✓").is_ok());
        assert!(validate_key(&"x".repeat(MAX_KEY_BYTES)).is_ok());
        assert!(validate_key(&"x".repeat(MAX_KEY_BYTES + 1)).is_err());
        assert!(validate_key("a\u{0}b").is_err());
        assert!(validate_key("a\u{7f}").is_err());
        assert!(validate_key("a\u{85}").is_err());
        assert!(validate_namespace("pid:7").is_ok());
        assert!(validate_namespace("").is_err());
        assert!(validate_namespace("a\nb").is_err());
        assert!(validate_namespace(&"n".repeat(MAX_NAMESPACE_BYTES + 1)).is_err());
    }
}
