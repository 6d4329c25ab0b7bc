//! Files named by a manifest: resolved relative to the manifest's directory, never outside it.

use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::error::FieldError;

/// Resolves `written` (as it appears in the manifest) against `dir`, the manifest's directory.
///
/// The check is lexical: absolute paths are refused, and `..` may only climb back out of
/// directories the path itself entered. Symbolic links are checked when the file is opened
/// ([`open_inside`]).
pub(crate) fn resolve(dir: &Path, written: &str) -> Result<PathBuf, FieldError> {
    if written.is_empty() {
        return Err(FieldError::Invalid("the path is empty".to_owned()));
    }
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in Path::new(written).components() {
        match component {
            Component::Prefix(_) | Component::RootDir => {
                return Err(FieldError::AbsolutePath {
                    path: written.to_owned(),
                });
            }
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(FieldError::PathEscapes {
                        path: written.to_owned(),
                    });
                }
            }
            Component::Normal(part) => parts.push(part),
        }
    }
    if parts.is_empty() {
        return Err(FieldError::Invalid(format!(
            "path {written:?} names the manifest's directory, not a file"
        )));
    }
    Ok(parts
        .iter()
        .fold(dir.to_path_buf(), |path, part| path.join(part)))
}

/// Opens the regular file at `path` (from [`resolve`]) after checking that, with symbolic
/// links followed, it still lies inside `dir` and is at most `max` bytes. Returns the file and
/// its size. `kind` (`component`, `policy`) labels the not-found error.
pub(crate) fn open_inside(
    dir: &Path,
    path: &Path,
    written: &str,
    kind: &'static str,
    max: u64,
) -> Result<(File, u64), FieldError> {
    let unreadable = |reason: String| FieldError::Unreadable {
        path: path.to_path_buf(),
        reason,
    };
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(FieldError::NotFound {
                kind,
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(unreadable(e.to_string())),
    };
    let real_dir = dir.canonicalize().map_err(|e| unreadable(e.to_string()))?;
    let real_path = path.canonicalize().map_err(|e| unreadable(e.to_string()))?;
    if !real_path.starts_with(&real_dir) {
        return Err(FieldError::PathEscapes {
            path: written.to_owned(),
        });
    }
    open_regular(&real_path, path, meta.is_file(), max)
}

/// Opens `real_path` (reported as `path`), which must be a regular file of at most `max`
/// bytes. `looks_regular` is what an earlier `metadata` call said, so that special files
/// (FIFOs, devices) are refused before opening them can block.
fn open_regular(
    real_path: &Path,
    path: &Path,
    looks_regular: bool,
    max: u64,
) -> Result<(File, u64), FieldError> {
    let unreadable = |reason: String| FieldError::Unreadable {
        path: path.to_path_buf(),
        reason,
    };
    if !looks_regular {
        return Err(unreadable("not a regular file".to_owned()));
    }
    let file = File::open(real_path).map_err(|e| unreadable(e.to_string()))?;
    let meta = file.metadata().map_err(|e| unreadable(e.to_string()))?;
    if !meta.is_file() {
        return Err(unreadable("not a regular file".to_owned()));
    }
    if meta.len() > max {
        return Err(FieldError::TooLarge {
            path: path.to_path_buf(),
            size: meta.len(),
            max,
        });
    }
    Ok((file, meta.len()))
}

/// Opens the regular file at `path` (no containment check) if it is at most `max` bytes.
pub(crate) fn open_file(
    path: &Path,
    kind: &'static str,
    max: u64,
) -> Result<(File, u64), FieldError> {
    match std::fs::metadata(path) {
        Ok(meta) => open_regular(path, path, meta.is_file(), max),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(FieldError::NotFound {
            kind,
            path: path.to_path_buf(),
        }),
        Err(e) => Err(FieldError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
    }
}

/// Reads all of `file`, refusing more than `max` bytes even if the file grew since it was
/// opened.
pub(crate) fn read_capped(file: File, path: &Path, max: u64) -> Result<Vec<u8>, FieldError> {
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| FieldError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let size = bytes.len() as u64;
    if size > max {
        return Err(FieldError::TooLarge {
            path: path.to_path_buf(),
            size,
            max,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_rules() {
        let dir = Path::new("/img");
        assert_eq!(resolve(dir, "a.wasm").unwrap(), Path::new("/img/a.wasm"));
        assert_eq!(
            resolve(dir, "./x/../b/c.wasm").unwrap(),
            Path::new("/img/b/c.wasm")
        );
        assert!(matches!(
            resolve(dir, "../a.wasm"),
            Err(FieldError::PathEscapes { .. })
        ));
        assert!(matches!(
            resolve(dir, "x/../../a.wasm"),
            Err(FieldError::PathEscapes { .. })
        ));
        assert!(matches!(
            resolve(dir, "/etc/passwd"),
            Err(FieldError::AbsolutePath { .. })
        ));
        assert!(matches!(resolve(dir, ""), Err(FieldError::Invalid(_))));
        assert!(matches!(resolve(dir, "x/.."), Err(FieldError::Invalid(_))));
    }
}
