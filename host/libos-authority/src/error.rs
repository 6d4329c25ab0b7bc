//! Errors raised while building the authority: bad capabilities, bad policies, unreadable files.
//!
//! Denials are never errors: a refused request is a [`crate::Decision::Deny`] value.

use std::path::PathBuf;

/// Everything that can go wrong while compiling capabilities or loading a policy.
#[derive(Debug, thiserror::Error)]
pub enum AuthorityError {
    /// A capability string or pattern is malformed. `capability` is the offending grant as the
    /// user wrote it; `reason` says what is wrong with it.
    #[error("invalid capability `{capability}`: {reason}")]
    InvalidCapability {
        /// The grant as written, e.g. `fs.read:docs/[`.
        capability: String,
        /// What is wrong, e.g. `empty resource pattern`.
        reason: String,
    },
    /// A policy source failed to parse or is not acceptable. `origin` is the file name (or other
    /// label) the source came from; `message` lists every problem, with `line:column` when known.
    #[error("invalid policy in {origin}: {message}")]
    PolicyParse {
        /// Where the policy text came from, e.g. `policy.cedar`.
        origin: String,
        /// One line per problem.
        message: String,
    },
    /// A policy file could not be read.
    #[error("cannot read policy file {}: {source}", path.display())]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
}
