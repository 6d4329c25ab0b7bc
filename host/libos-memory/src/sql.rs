//! Conversions between the store's unsigned integers and SQLite's signed 64-bit integers.

use crate::error::{MemoryError, Result};

/// Converts a stored integer back to `u64`; a negative value means the row is corrupt.
pub(crate) fn to_u64(value: i64, column: &str) -> Result<u64> {
    u64::try_from(value)
        .map_err(|_| MemoryError::Store(format!("stored {column} is negative ({value})")))
}

/// Converts an integer for storage; values beyond `i64::MAX` cannot be stored.
pub(crate) fn to_i64(value: u64, what: &str) -> Result<i64> {
    i64::try_from(value)
        .map_err(|_| MemoryError::Store(format!("{what} {value} is too large to store")))
}
