//! The errors the audit log reports.

/// Why an audit operation failed.
///
/// Every failure to persist a record surfaces here (through [`crate::AuditLog::flush`]); none
/// is swallowed, and none is turned into a panic.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// SQLite refused an operation (locked past the busy timeout, disk full, bad schema, ...).
    #[error("audit database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database cannot be used as the audit log (e.g. it refuses WAL journaling).
    #[error("audit database cannot be used: {0}")]
    Unusable(String),
    /// A file-system operation on the database path, or spawning the writer thread, failed.
    #[error("audit I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A record could not be serialised for storage.
    #[error("audit record could not be encoded: {0}")]
    Json(#[from] serde_json::Error),
    /// The writer thread is no longer running, so records appended since cannot be written.
    #[error("the audit writer thread is gone; {lost} record(s) could not be queued")]
    WriterGone {
        /// How many appended records were dropped because the writer was gone.
        lost: u64,
    },
    /// One or more batches failed to commit since the last flush; their records are not in
    /// the log.
    #[error("{lost} audit record(s) could not be written: {source}")]
    WriteFailed {
        /// How many records were in the failed batches.
        lost: u64,
        /// The first failure.
        #[source]
        source: Box<AuditError>,
    },
    /// A failure told to several waiters (each waiter of a failed batch is told the same).
    #[error("{0}")]
    Reported(String),
    /// Stored data could not be decoded (wrong type, NULL, bad JSON or hex, unknown verdict),
    /// or the chain tail is inconsistent so that it cannot be safely extended.
    #[error("audit log is corrupt: {0}")]
    Corrupt(String),
}

impl From<libos_db::OpenError> for AuditError {
    fn from(err: libos_db::OpenError) -> Self {
        match err {
            libos_db::OpenError::Sqlite(e) => AuditError::Sqlite(e),
            other => AuditError::Unusable(other.to_string()),
        }
    }
}

impl AuditError {
    /// Whether this says the log's content is damaged (a corrupt or foreign file, a record
    /// that cannot be decoded), as opposed to the log not being readable at all here
    /// (permissions, I/O, a lock held past the timeout).
    pub fn is_damage(&self) -> bool {
        use rusqlite::ErrorCode;
        match self {
            AuditError::Corrupt(_) | AuditError::Json(_) => true,
            AuditError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                matches!(e.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
            }
            AuditError::Sqlite(
                rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::FromSqlConversionFailure(..),
            ) => true,
            _ => false,
        }
    }
}
