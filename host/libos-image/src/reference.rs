//! Image references: `name`, `name:version` or `sha256:<digest prefix>`.

use crate::error::ImageError;
use crate::names;

/// The shortest digest prefix a reference may use, in hex digits.
pub const MIN_DIGEST_PREFIX: usize = 12;

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reference {
    /// The most recently stored version of the named image.
    Name(String),
    /// One exact version.
    Version { name: String, version: String },
    /// The image whose digest starts with these lowercase hex digits.
    DigestPrefix(String),
}

/// Checks that `text` is a well-formed image reference (`NAME`, `NAME:VERSION` or
/// `sha256:PREFIX`) without looking it up, e.g. before deciding or auditing anything about it.
///
/// # Errors
///
/// [`ImageError::InvalidReference`] saying what is wrong (the reference in it is cut to its
/// first 80 characters).
pub fn check_reference(text: &str) -> Result<(), ImageError> {
    Reference::parse(text).map(|_| ())
}

/// `text` cut to at most 80 characters (an ellipsis marks a cut), for error messages.
fn clip(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

impl Reference {
    /// Parses a reference. Anything starting with `sha256:` is a digest reference.
    pub(crate) fn parse(text: &str) -> Result<Reference, ImageError> {
        let invalid = |reason: String| ImageError::InvalidReference {
            reference: clip(text),
            reason,
        };
        if let Some(prefix) = text.strip_prefix("sha256:") {
            if prefix.len() < MIN_DIGEST_PREFIX
                || prefix.len() > 64
                || !prefix.chars().all(|c| c.is_ascii_hexdigit())
            {
                return Err(invalid(format!(
                    "expected sha256: followed by {MIN_DIGEST_PREFIX} to 64 hex digits"
                )));
            }
            return Ok(Reference::DigestPrefix(prefix.to_ascii_lowercase()));
        }
        match text.split_once(':') {
            Some((name, version)) => {
                names::check_image_name(name).map_err(invalid)?;
                names::check_version(version).map_err(invalid)?;
                Ok(Reference::Version {
                    name: name.to_owned(),
                    version: version.to_owned(),
                })
            }
            None => {
                names::check_image_name(text).map_err(invalid)?;
                Ok(Reference::Name(text.to_owned()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            Reference::parse("agent").unwrap(),
            Reference::Name("agent".into())
        );
        assert_eq!(
            Reference::parse("agent:1.0:x").unwrap(),
            Reference::Version {
                name: "agent".into(),
                version: "1.0:x".into()
            }
        );
        assert_eq!(
            Reference::parse("sha256:ABCDEF012345").unwrap(),
            Reference::DigestPrefix("abcdef012345".into())
        );
        assert!(Reference::parse("sha256:abc").is_err());
        assert!(Reference::parse("sha256:abcdefg12345").is_err());
        assert!(Reference::parse("Agent").is_err());
        assert!(Reference::parse("agent:").is_err());
        assert!(Reference::parse("").is_err());
    }
}
