//! The state directory, seen from a working directory: out of reach of every primitive.
//!
//! The state directory holds what the host trusts (the database with grants, rules and the
//! audit log; compiled components; image blobs). Nothing a process or tool does may read or
//! write it, even when a user places it inside the working directory. A working directory
//! knows where the state directory lies relative to it (computed once, on canonical paths, when
//! the host opens the directory): not inside it, at a relative path inside it, or around it
//! (the working directory is itself inside the state directory, so nothing in it is reachable).

use std::path::{Component, Path};

/// Where the state directory lies relative to one working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    /// Not inside the working directory: no path of it is reserved.
    Elsewhere,
    /// At this normalized relative path (`/`-separated) inside the working directory.
    At(String),
    /// The working directory lies inside the state directory: every path is reserved.
    Everything,
}

impl Reserved {
    /// Where `state` (canonical) lies relative to `workdir` (canonical).
    pub fn between(workdir: &Path, state: &Path) -> Reserved {
        if workdir.starts_with(state) {
            return Reserved::Everything;
        }
        let Ok(rest) = state.strip_prefix(workdir) else {
            return Reserved::Elsewhere;
        };
        let mut parts = Vec::new();
        for c in rest.components() {
            match c {
                Component::Normal(s) => match s.to_str() {
                    Some(s) => parts.push(s),
                    // Not UTF-8: no guest path can name it, nothing to reserve.
                    None => return Reserved::Elsewhere,
                },
                _ => return Reserved::Everything,
            }
        }
        if parts.is_empty() {
            Reserved::Everything
        } else {
            Reserved::At(parts.join("/"))
        }
    }

    /// Whether the normalized relative `path` (`""`: the working directory itself) is the
    /// state directory, inside it, or (for `contains_any`) holds it.
    pub fn covers(&self, path: &str) -> bool {
        match self {
            Reserved::Elsewhere => false,
            Reserved::Everything => true,
            Reserved::At(at) => {
                path == at
                    || path
                        .strip_prefix(at.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            }
        }
    }

    /// Whether `path` is an ancestor of the state directory (the directory itself excluded):
    /// listing it shows the state directory's name, removing or renaming it would move it.
    pub fn is_above(&self, path: &str) -> bool {
        match self {
            Reserved::Elsewhere | Reserved::Everything => false,
            Reserved::At(at) => {
                path.is_empty()
                    || at
                        .strip_prefix(path)
                        .is_some_and(|rest| rest.starts_with('/'))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_the_state_directory_lies() {
        let r = Reserved::between(Path::new("/w"), Path::new("/w/.libos-state"));
        assert_eq!(r, Reserved::At(".libos-state".into()));
        assert!(r.covers(".libos-state") && r.covers(".libos-state/libos.db"));
        assert!(!r.covers(".libos-state2") && !r.covers("") && !r.covers("src/a"));
        assert!(r.is_above("") && !r.is_above(".libos-state") && !r.is_above("src"));

        let deep = Reserved::between(Path::new("/w"), Path::new("/w/a/b"));
        assert!(deep.covers("a/b/c") && !deep.covers("a") && deep.is_above("a"));
        assert!(!deep.is_above("ab"));

        assert_eq!(
            Reserved::between(Path::new("/w"), Path::new("/s")),
            Reserved::Elsewhere
        );
        assert_eq!(
            Reserved::between(Path::new("/s/w"), Path::new("/s")),
            Reserved::Everything
        );
        assert_eq!(
            Reserved::between(Path::new("/s"), Path::new("/s")),
            Reserved::Everything
        );
        assert!(Reserved::Everything.covers("") && Reserved::Everything.covers("x"));
    }
}
