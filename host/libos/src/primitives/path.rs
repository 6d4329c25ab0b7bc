//! Paths inside the working directory: lexical normalization and symlink resolution.
//!
//! A guest path is relative, `/`-separated, and may not leave the working directory by any
//! route: absolute paths, `..` past the top, and symbolic links pointing outside are all
//! refused before anything is touched. Authority is checked on the normalized path and, when
//! a symbolic link inside the directory redirects it, again on the path actually touched.

use std::io;
use std::path::{Component, Path, PathBuf};

use cap_std::fs::Dir;

/// Longest guest path accepted, in bytes.
pub const MAX_PATH: usize = 4096;

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path leaves the working directory (absolute, `..` past the top, or a symlink).
    #[error("path {0:?} leads outside the working directory")]
    Escapes(String),
    /// The path is malformed.
    #[error("invalid path: {0}")]
    Invalid(String),
    /// A directory on the way does not exist.
    #[error("not found")]
    NotFound,
    /// The host file system failed.
    #[error("{0}")]
    Io(String),
}

/// Normalizes a guest path lexically: drops `.` and empty segments, applies `..`.
/// Returns `""` for the working directory itself.
pub fn normalize(path: &str) -> Result<String, PathError> {
    if path.len() > MAX_PATH {
        return Err(PathError::Invalid(format!(
            "path is longer than {MAX_PATH} bytes"
        )));
    }
    if path.contains('\0') {
        return Err(PathError::Invalid("path contains a NUL byte".into()));
    }
    if path.starts_with('/') {
        return Err(PathError::Escapes(path.to_string()));
    }
    // Already normal (the common case): nothing to drop or apply.
    if path
        .split('/')
        .all(|segment| !matches!(segment, "" | "." | ".."))
    {
        return Ok(path.to_owned());
    }
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(PathError::Escapes(path.to_string()));
                }
            }
            s => parts.push(s),
        }
    }
    Ok(parts.join("/"))
}

/// Resolves a normalized path against `dir`: symbolic links in the parent directories are
/// followed (and must stay inside), and so is a final symbolic link when `follow_final`.
/// Returns the relative path actually touched.
pub fn resolve(dir: &Dir, normalized: &str, follow_final: bool) -> Result<String, PathError> {
    if normalized.is_empty() {
        return Ok(String::new());
    }
    let (parent, name) = match normalized.rsplit_once('/') {
        Some((p, n)) => (p, n),
        None => ("", normalized),
    };
    // A name directly in the working directory has no parent to resolve; unless its own
    // symbolic link is followed, it is the path touched.
    if parent.is_empty() && !follow_final {
        return Ok(normalized.to_owned());
    }
    let mut candidate = if parent.is_empty() {
        PathBuf::new()
    } else {
        dir.canonicalize(parent)
            .map_err(|e| map_resolve_error(e, normalized))?
    };
    candidate.push(name);
    if follow_final
        && let Ok(meta) = dir.symlink_metadata(&candidate)
        && meta.file_type().is_symlink()
    {
        candidate = dir
            .canonicalize(&candidate)
            .map_err(|e| map_resolve_error(e, normalized))?;
    }
    to_guest(&candidate)
}

/// Turns a relative host path back into the `/`-separated guest form.
fn to_guest(path: &Path) -> Result<String, PathError> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => parts.push(
                s.to_str()
                    .ok_or_else(|| PathError::Invalid("path is not UTF-8".into()))?,
            ),
            Component::CurDir => {}
            _ => return Err(PathError::Escapes(path.display().to_string())),
        }
    }
    Ok(parts.join("/"))
}

/// Whether an I/O error is cap-std's refusal of a path that leaves the directory.
pub fn is_escape(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::PermissionDenied
        && e.to_string().contains("outside of the filesystem")
}

fn map_resolve_error(e: io::Error, path: &str) -> PathError {
    if is_escape(&e) {
        return PathError::Escapes(path.to_string());
    }
    match e.kind() {
        io::ErrorKind::NotFound => PathError::NotFound,
        io::ErrorKind::NotADirectory => PathError::Invalid(format!("{path}: not a directory")),
        _ => PathError::Io(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_dots_and_slashes() {
        assert_eq!(normalize("a/./b//c/").unwrap(), "a/b/c");
        assert_eq!(normalize("a/b/../c").unwrap(), "a/c");
        assert_eq!(normalize("").unwrap(), "");
        assert_eq!(normalize(".").unwrap(), "");
        assert_eq!(normalize("a/..").unwrap(), "");
        // Already-normal paths come back unchanged, dots inside names included.
        assert_eq!(normalize("a/b.txt").unwrap(), "a/b.txt");
        assert_eq!(normalize("a/..b/c..").unwrap(), "a/..b/c..");
        assert_eq!(normalize("...").unwrap(), "...");
    }

    #[test]
    fn refuses_escapes_and_garbage() {
        for p in ["..", "../x", "a/../../x", "/etc/passwd", "//x", "a/../.."] {
            assert!(matches!(normalize(p), Err(PathError::Escapes(_))), "{p}");
        }
        assert!(matches!(normalize("a\0b"), Err(PathError::Invalid(_))));
        assert!(matches!(
            normalize(&"a/".repeat(3000)),
            Err(PathError::Invalid(_))
        ));
    }
}
