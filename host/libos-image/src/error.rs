//! The errors manifests and the image store report.

use std::path::PathBuf;

use libos_authority::AuthorityError;

/// Why an `image.toml` manifest was rejected.
///
/// Every variant names the manifest file; [`ManifestError::Field`] also names the offending
/// field as a dotted path (`limits.memory`, `tools.read_file`, `capabilities[2]`).
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The manifest file could not be read (missing, unreadable, not UTF-8, too large).
    #[error("{}: cannot read manifest: {reason}", path.display())]
    Read {
        /// The manifest file.
        path: PathBuf,
        /// What went wrong, e.g. the I/O error.
        reason: String,
    },
    /// The text is not valid TOML; `message` is toml's report, with line and column.
    #[error("{}: invalid TOML: {message}", path.display())]
    Syntax {
        /// The manifest file.
        path: PathBuf,
        /// toml's message, including `line N, column M` and the offending line.
        message: String,
    },
    /// One field is missing, unknown, of the wrong type or has an unacceptable value.
    #[error("{}: field {field}: {problem}", path.display())]
    Field {
        /// The manifest file.
        path: PathBuf,
        /// Dotted path of the field, e.g. `limits.memory` or `tools.read_file`.
        field: String,
        /// What is wrong with it.
        #[source]
        problem: FieldError,
    },
}

impl ManifestError {
    /// The field this error is about, if it is about one field.
    pub fn field(&self) -> Option<&str> {
        match self {
            ManifestError::Field { field, .. } => Some(field),
            _ => None,
        }
    }

    /// What is wrong with the field, if this error is about one field.
    pub fn problem(&self) -> Option<&FieldError> {
        match self {
            ManifestError::Field { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

/// What is wrong with one manifest field.
#[derive(Debug, thiserror::Error)]
pub enum FieldError {
    /// A required field is absent.
    #[error("missing (required)")]
    Missing,
    /// The key is not part of the manifest format.
    #[error("unknown field; expected one of: {expected}")]
    Unknown {
        /// The keys allowed at this level, comma-separated.
        expected: String,
    },
    /// The value has the wrong TOML type.
    #[error("expected {expected}, got {got}")]
    WrongType {
        /// What was expected, e.g. `a string`.
        expected: &'static str,
        /// The TOML type found, e.g. `integer`.
        got: &'static str,
    },
    /// The value has the right type but is not acceptable (bad name, out of range, ...).
    #[error("{0}")]
    Invalid(String),
    /// A size field is not a size.
    #[error("expected a size like \"64MiB\", got {got}")]
    BadSize {
        /// The value as written (strings quoted).
        got: String,
    },
    /// A duration field is not a humantime duration.
    #[error("expected a duration like \"10m\", got {got}: {reason}")]
    BadDuration {
        /// The value as written (strings quoted).
        got: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A capability entry does not parse.
    #[error("{0}")]
    Capability(#[source] AuthorityError),
    /// The policy file does not compile.
    #[error("{0}")]
    Policy(#[source] AuthorityError),
    /// A path is absolute; manifest paths are relative to the manifest's directory.
    #[error("path {path:?} is absolute; paths must be relative to the manifest's directory")]
    AbsolutePath {
        /// The path as written.
        path: String,
    },
    /// A path leaves the manifest's directory (through `..` or a symbolic link).
    #[error("path {path:?} leads outside the manifest's directory")]
    PathEscapes {
        /// The path as written.
        path: String,
    },
    /// The referenced file does not exist.
    #[error("{kind} file {} not found", path.display())]
    NotFound {
        /// `component` or `policy`.
        kind: &'static str,
        /// The resolved path.
        path: PathBuf,
    },
    /// The referenced file exists but could not be read, or is not a regular file.
    #[error("cannot read {}: {reason}", path.display())]
    Unreadable {
        /// The resolved path.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The referenced file is larger than allowed.
    #[error("{} is {size} bytes, more than the maximum of {max} bytes", path.display())]
    TooLarge {
        /// The resolved path.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The referenced file is not a WebAssembly component (a core module, or not WebAssembly).
    #[error("{} is not a WebAssembly component: {reason}", path.display())]
    NotAComponent {
        /// The resolved path.
        path: PathBuf,
        /// Why, e.g. `it is a core WebAssembly module`.
        reason: String,
    },
}

/// Why an image-store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The manifest (or a file it names) was rejected.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// SQLite refused an operation (locked past the busy timeout, disk full, ...).
    #[error("image database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// The state directory's database cannot be used (e.g. it refuses WAL journaling).
    #[error("image database cannot be used: {0}")]
    Unusable(String),
    /// A file-system operation in the state directory failed.
    #[error("image store I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A reference is syntactically invalid (bad name, digest prefix too short, ...).
    #[error("invalid image reference `{reference}`: {reason}")]
    InvalidReference {
        /// The reference as given (its first 80 characters).
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No image matches the reference.
    #[error("no image matches `{reference}`")]
    NotFound {
        /// The reference as given.
        reference: String,
    },
    /// A digest prefix matches more than one image.
    #[error("image reference `{reference}` is ambiguous; it matches {}", matches.join(", "))]
    Ambiguous {
        /// The reference as given.
        reference: String,
        /// The matching images, as `name:version (sha256:<digest>)`.
        matches: Vec<String>,
    },
    /// A string is not a SHA-256 digest (64 hex digits).
    #[error("invalid digest `{0}`: expected 64 hex digits")]
    InvalidDigest(String),
    /// No blob with this digest is stored.
    #[error("component blob sha256:{digest} is missing ({})", path.display())]
    BlobMissing {
        /// The digest asked for.
        digest: String,
        /// Where the blob should be.
        path: PathBuf,
    },
    /// A stored blob's content no longer hashes to its name.
    #[error("component blob sha256:{digest} is corrupt: its content hashes to sha256:{actual}")]
    BlobCorrupt {
        /// The digest the blob is stored under.
        digest: String,
        /// The digest of its current content.
        actual: String,
    },
    /// Bytes given as a component are not one.
    #[error("not a component: {0}")]
    NotAComponent(String),
    /// A stored image record cannot be decoded or does not hash to its digest.
    #[error("image record {name}:{version} is corrupt: {reason}")]
    CorruptRecord {
        /// Image name.
        name: String,
        /// Image version.
        version: String,
        /// What is wrong.
        reason: String,
    },
}

impl ImageError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ImageError::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<libos_db::OpenError> for ImageError {
    fn from(err: libos_db::OpenError) -> Self {
        match err {
            libos_db::OpenError::Sqlite(e) => ImageError::Database(e),
            other => ImageError::Unusable(other.to_string()),
        }
    }
}
