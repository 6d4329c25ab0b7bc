//! Removing or renaming what holds other paths.
//!
//! Policy and capabilities name paths, so an effect that changes the name of many paths at
//! once must be decided on all of them. Removing or renaming a directory that holds the state
//! directory is refused outright (it would move the state directory out of its reserved
//! name). Renaming a directory moves every entry under it: each must be one the caller could
//! read and delete where it is and write where it lands (a held capability, no `forbid`),
//! otherwise a guest could rename `secrets` to `s2` and read what a `forbid` on `secrets/*`
//! protects. The walk is bounded; a tree larger than [`MAX_MOVED`] entries is refused.

use std::fs::File;

use crate::bindings::RuntimeError;
use crate::call::CallCtx;
use crate::primitives::beneath;
use crate::primitives::shell::grants::Grants;

/// Most entries a directory rename checks before it is refused as too large to decide.
pub const MAX_MOVED: usize = 4096;

impl CallCtx {
    /// Refuses (audited) removing or renaming `path` (normalized, relative) when the state
    /// directory lies beneath it.
    pub(crate) fn refuse_above_reserved(
        &mut self,
        action: &str,
        path: &str,
    ) -> Result<(), RuntimeError> {
        if !self.reserved.is_above(path) {
            return Ok(());
        }
        let reason = format!(
            "{action} {path:?}: it holds the runtime's state directory, which no primitive may \
             move or remove"
        );
        Err(self.refuse(action, path, reason))
    }

    /// Refuses (audited, naming the first entry that may not move) renaming the directory
    /// `from` to `to` unless every entry under it may be read and deleted where it is and
    /// written where it lands. A `from` that is not a directory has nothing under it.
    pub(crate) fn check_moved_tree(&mut self, from: &str, to: &str) -> Result<(), RuntimeError> {
        let root = self.root_fd()?;
        let Ok(top) = beneath::open_dir(root, from) else {
            return Ok(());
        };
        let mut entries = Vec::new();
        let mut pending = vec![(top, String::new())];
        while let Some((fd, rel)) = pending.pop() {
            let dir = cap_std::fs::Dir::from_std_file(File::from(fd));
            let listed = dir
                .entries()
                .map_err(|e| RuntimeError::Io(format!("listing {from}/{rel}: {e}")))?;
            for entry in listed.flatten() {
                let Ok(name) = entry.file_name().into_string() else {
                    return Err(self.refuse(
                        "fs.delete",
                        from,
                        format!("rename of {from:?}: an entry's name is not UTF-8"),
                    ));
                };
                let sub = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                if entries.len() >= MAX_MOVED {
                    return Err(self.refuse(
                        "fs.delete",
                        from,
                        format!(
                            "rename of {from:?}: more than {MAX_MOVED} entries to decide; move \
                             its contents in smaller steps"
                        ),
                    ));
                }
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                if is_dir && let Ok(fd) = beneath::open_dir(root, &format!("{from}/{sub}")) {
                    pending.push((fd, sub.clone()));
                }
                entries.push(sub);
            }
        }
        let refusal = {
            let grants = Grants::new(self.authority.authority(), &self.subject);
            entries.iter().find_map(|sub| {
                let (old, new) = (format!("{from}/{sub}"), format!("{to}/{sub}"));
                [("fs.read", &old), ("fs.delete", &old), ("fs.write", &new)]
                    .into_iter()
                    .find(|(action, path)| {
                        !grants.permits(action, path) || self.reserved.covers(path)
                    })
                    .map(|(action, path)| (action, path.clone()))
            })
        };
        match refusal {
            None => Ok(()),
            Some((action, path)) => Err(self.refuse(
                action,
                &path,
                format!(
                    "rename of {from:?} to {to:?} would move {path:?}, on which {action} is \
                     not granted"
                ),
            )),
        }
    }
}
