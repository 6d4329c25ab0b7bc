//! Durations as written in manifests: humantime strings such as `"10m"`, `"1h 30m"`, `"500ms"`.
//!
//! Durations serialise back to humantime strings (`"10m"`), which parse to the same value.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Parses a humantime duration that must be greater than zero.
pub(crate) fn parse_positive(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text.trim()).map_err(|e| e.to_string())?;
    if duration.is_zero() {
        return Err("the duration must be greater than zero".to_owned());
    }
    Ok(duration)
}

/// Serialises a duration as a humantime string.
pub(crate) fn serialize<S: Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&humantime::format_duration(*duration).to_string())
}

/// Deserialises a positive duration from a humantime string.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_positive(&text).map_err(|reason| {
        serde::de::Error::custom(format!(
            "expected a duration like \"10m\", got {text:?}: {reason}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for text in ["10m", "1h 30m", "500ms", "1s 1ns", "3days"] {
            let d = parse_positive(text).unwrap();
            let back = humantime::format_duration(d).to_string();
            assert_eq!(parse_positive(&back).unwrap(), d, "{text} -> {back}");
        }
        assert!(parse_positive("0s").is_err());
        assert!(parse_positive("soon").is_err());
    }
}
