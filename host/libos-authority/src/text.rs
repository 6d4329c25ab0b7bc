//! Rendering caller-provided strings inside human-readable reasons.

use std::borrow::Cow;

/// Longest rendering, in bytes, of one caller-provided string inside a reason.
pub(crate) const MAX_SHOWN: usize = 200;

/// `s` as it appears in a reason: unchanged when short and printable; otherwise control
/// characters are escaped (so a reason is always one line) and the text is cut at
/// [`MAX_SHOWN`] bytes with a trailing `…`. The empty string renders as `""`.
pub(crate) fn shown(s: &str) -> Cow<'_, str> {
    if s.is_empty() {
        return Cow::Borrowed("\"\"");
    }
    if s.len() <= MAX_SHOWN && !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(MAX_SHOWN + 4);
    for c in s.chars() {
        if out.len() >= MAX_SHOWN {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `names` joined as `` `a`, `b` ``.
pub(crate) fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{}`", shown(n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `"policy"` or `"policies"` for `n` items.
pub(crate) fn policies_word(n: usize) -> &'static str {
    if n == 1 { "policy" } else { "policies" }
}
