//! Decoding `images` rows back into verified [`Image`]s.

use rusqlite::Row;

use crate::digest::Digest;
use crate::error::ImageError;
use crate::image::{Image, ImageRecord, RECORD_FORMAT};

/// One `images` row as stored.
pub(crate) struct StoredRow {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) digest: String,
    pub(crate) created_ns: i64,
    pub(crate) record: String,
}

/// Decodes the columns of [`crate::schema::IMAGE_COLUMNS`].
pub(crate) fn decode_row(row: &Row<'_>) -> rusqlite::Result<StoredRow> {
    Ok(StoredRow {
        name: row.get(0)?,
        version: row.get(1)?,
        digest: row.get(2)?,
        created_ns: row.get(3)?,
        record: row.get(4)?,
    })
}

impl StoredRow {
    /// Verifies the record against its digest and decodes it.
    pub(crate) fn into_image(self) -> Result<Image, ImageError> {
        let corrupt = |reason: String| ImageError::CorruptRecord {
            name: self.name.clone(),
            version: self.version.clone(),
            reason,
        };
        let digest = parse_stored_digest(&self.name, &self.version, &self.digest)?;
        let actual = Digest::of(self.record.as_bytes());
        if actual != digest {
            return Err(corrupt(format!(
                "the record hashes to sha256:{actual}, not sha256:{digest}"
            )));
        }
        let record: ImageRecord = serde_json::from_str(&self.record)
            .map_err(|e| corrupt(format!("cannot decode the record: {e}")))?;
        if record.format != RECORD_FORMAT {
            return Err(corrupt(format!(
                "unsupported record format {:?}",
                record.format
            )));
        }
        if record.name != self.name || record.version != self.version {
            return Err(corrupt(format!(
                "the record describes {}:{}",
                record.name, record.version
            )));
        }
        Ok(record.into_image(digest, u64::try_from(self.created_ns).unwrap_or(0)))
    }
}

/// Parses a digest column, reporting a bad one as a corrupt record.
pub(crate) fn parse_stored_digest(
    name: &str,
    version: &str,
    digest: &str,
) -> Result<Digest, ImageError> {
    digest.parse().map_err(|_| ImageError::CorruptRecord {
        name: name.to_owned(),
        version: version.to_owned(),
        reason: format!("stored digest {digest:?} is not a digest"),
    })
}
