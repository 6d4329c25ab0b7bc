//! What a person sees before approving a file write, and the version its grant is bound to.
//!
//! The version of a file is `sha256:<hex>` of its content, or `absent` when there is none:
//! a grant for a write covers the file only as it was when the person looked (or as the
//! covered write left it). The preview names the path and the sizes, and shows a unified
//! diff of the change when both sides are text of reasonable size.

use std::io::Read;

use sha2::{Digest, Sha256};

use crate::approval::Describe;
use crate::call::CallCtx;

/// Largest file (before or after) a preview diffs; past it the preview gives sizes and
/// digests only.
pub const MAX_DIFFED: usize = 256 << 10;

/// Longest a preview's diff may take; past it the diff shown is coarser (still correct).
const DIFF_TIME: std::time::Duration = std::time::Duration::from_millis(200);

/// The version of content `bytes`.
pub(crate) fn version_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// What is at `target` now: its version, its length, and its content if small enough to
/// diff. `None` if there is no regular file.
fn current(ctx: &CallCtx, target: &str) -> Option<(String, u64, Option<Vec<u8>>)> {
    let dir = ctx.workdir.as_deref()?;
    // Looked at before opening: opening a FIFO would block the host.
    if !dir.metadata(target).ok()?.is_file() {
        return None;
    }
    let mut file = dir.open(target).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let (mut hasher, mut kept, mut len) = (Sha256::new(), Vec::new(), 0u64);
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = file.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        hasher.update(&chunk[..n]);
        len += u64::try_from(n).unwrap_or(0);
        if kept.len() <= MAX_DIFFED {
            kept.extend_from_slice(&chunk[..n]);
        }
    }
    let small = (kept.len() <= MAX_DIFFED).then_some(kept);
    Some((
        format!("sha256:{}", hex::encode(hasher.finalize())),
        len,
        small,
    ))
}

/// Writing these bytes: what a person sees, and the file version its grant is bound to.
pub(crate) struct WriteOf<'a>(pub &'a [u8]);

impl Describe for WriteOf<'_> {
    fn version(&self, ctx: &CallCtx, target: &str) -> Option<String> {
        Some(current(ctx, target).map_or_else(|| "absent".to_owned(), |(version, _, _)| version))
    }

    fn preview(&self, ctx: &CallCtx, target: &str) -> String {
        preview(ctx, target, self.0)
    }
}

/// The preview of writing `contents` to `target` (relative to the working directory).
fn preview(ctx: &CallCtx, target: &str, contents: &[u8]) -> String {
    let now = current(ctx, target);
    let mut preview = match &now {
        Some((version, len, _)) => format!(
            "write {target}: {} bytes (now {len} bytes, {version})\n",
            contents.len()
        ),
        None => format!("write {target}: {} bytes (new file)\n", contents.len()),
    };
    let old: Option<&[u8]> = match &now {
        Some((_, _, small)) => small.as_deref(),
        None => Some(&[]),
    };
    let texts = old
        .filter(|_| contents.len() <= MAX_DIFFED)
        .and_then(|old| {
            Some((
                std::str::from_utf8(old).ok()?,
                std::str::from_utf8(contents).ok()?,
            ))
        });
    match texts {
        Some((old_text, new_text)) => {
            // Bounded: a diff of two large files that differ everywhere is quadratic.
            let diff = similar::TextDiff::configure()
                .timeout(DIFF_TIME)
                .diff_lines(old_text, new_text);
            let unified = diff
                .unified_diff()
                .context_radius(3)
                .header(&format!("a/{target}"), &format!("b/{target}"))
                .to_string();
            if unified.is_empty() {
                preview.push_str("(no change to the content)\n");
            } else {
                preview.push_str(&unified);
            }
        }
        None => preview.push_str(&format!(
            "(not shown: binary, or larger than {MAX_DIFFED} bytes; new content {})\n",
            version_of(contents)
        )),
    }
    preview
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_name_the_content() {
        assert_eq!(version_of(b"a"), version_of(b"a"));
        assert_ne!(version_of(b"a"), version_of(b"b"));
        assert!(version_of(b"").starts_with("sha256:"));
    }
}
