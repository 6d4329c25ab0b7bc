//! Byte sizes as written in manifests: `65536`, `"64KiB"`, `"16 MiB"`, `"2GB"`.
//!
//! Accepted units: `B`, binary `KiB`/`MiB`/`GiB` (powers of 1024) and decimal `KB`/`MB`/`GB`
//! (powers of 1000); a bare number is bytes. Sizes are at most [`MAX_SIZE`]. Sizes serialise
//! as an integer number of bytes.

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// The largest size any limit may have: 1 GiB.
pub const MAX_SIZE: u64 = 1 << 30;

const UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
];

/// Why a value is not an acceptable size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SizeError {
    /// Not of the form `<integer>[unit]`.
    Malformed,
    /// Well-formed but larger than [`MAX_SIZE`] (or negative).
    OutOfRange(String),
}

/// Parses `<integer>[ ][unit]`.
pub(crate) fn parse_size(text: &str) -> Result<u64, SizeError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(SizeError::Malformed);
    }
    let unit = unit.trim_start();
    let multiplier = if unit.is_empty() {
        1
    } else {
        UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, m)| *m)
            .ok_or(SizeError::Malformed)?
    };
    let too_big = || SizeError::OutOfRange(format!("{text} is more than the maximum of 1GiB"));
    let number: u64 = number.parse().map_err(|_| too_big())?;
    let bytes = number.checked_mul(multiplier).ok_or_else(too_big)?;
    check_size(bytes)
}

/// Checks an integer number of bytes against the range `0..=MAX_SIZE`.
pub(crate) fn check_size(bytes: u64) -> Result<u64, SizeError> {
    if bytes > MAX_SIZE {
        return Err(SizeError::OutOfRange(format!(
            "{bytes} bytes is more than the maximum of 1GiB ({MAX_SIZE} bytes)"
        )));
    }
    Ok(bytes)
}

/// Serialises a size as an integer number of bytes.
pub(crate) fn serialize<S: Serializer>(bytes: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(*bytes)
}

/// Deserialises a size from an integer number of bytes or a size string.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserializer.deserialize_any(SizeVisitor)
}

struct SizeVisitor;

impl SizeVisitor {
    fn finish<E: de::Error>(result: Result<u64, SizeError>, got: &str) -> Result<u64, E> {
        result.map_err(|e| match e {
            SizeError::Malformed => E::custom(format!("expected a size like \"64MiB\", got {got}")),
            SizeError::OutOfRange(reason) => E::custom(reason),
        })
    }
}

impl Visitor<'_> for SizeVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a size in bytes or a string like \"64MiB\"")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Self::finish(check_size(v), &v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        let checked =
            u64::try_from(v).map_err(|_| SizeError::OutOfRange(format!("{v} is negative")));
        Self::finish(checked.and_then(check_size), &v.to_string())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        Self::finish(parse_size(v), &format!("{v:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64 KiB"), Ok(64 << 10));
        assert_eq!(parse_size("10KB"), Ok(10_000));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("7B"), Ok(7));
    }

    #[test]
    fn rejects() {
        assert_eq!(parse_size("lots"), Err(SizeError::Malformed));
        assert_eq!(parse_size("MiB"), Err(SizeError::Malformed));
        assert_eq!(parse_size("1.5MiB"), Err(SizeError::Malformed));
        assert_eq!(parse_size("64mib"), Err(SizeError::Malformed));
        assert_eq!(parse_size("-1"), Err(SizeError::Malformed));
        assert!(matches!(parse_size("2GiB"), Err(SizeError::OutOfRange(_))));
        assert!(matches!(
            parse_size("99999999999999999999999GiB"),
            Err(SizeError::OutOfRange(_))
        ));
    }
}
