//! Pure extraction of traceback sections from a pytest log (unit-tested on the host).
//!
//! The contract, kept deliberately simple:
//!
//! * A *section* starts at a line `=== FAILURES ===` or `=== ERRORS ===` (any number of `=`,
//!   at least three) and ends before the next line that starts and ends with `===` (e.g.
//!   `=== short test summary info ===`) or at the end of the log.
//! * Inside a section, a *header* is a line that starts and ends with `___` and has a name
//!   between the underscores: `_____ test_div _____` (name `test_div`),
//!   `____ ERROR at setup of test_q ____`. pytest's `_ _ _ _` separators are not headers.
//! * Each header starts one trace: the lines after it up to the next header or the end of the
//!   section, with leading and trailing blank lines dropped.
//! * A section without any header becomes one trace named `log` holding the whole section.
//! * Names are unique keys: a repeated name gets a suffix `#2`, `#3`, …; names are cut to
//!   [`MAX_KEY_BYTES`] bytes and control characters are replaced by spaces. Trace text is cut
//!   to [`MAX_TRACE_BYTES`] bytes (`truncated` says so) to stay below the object size limit.

/// Longest key stored (object-memory keys are at most 512 bytes; room is left for `#N`).
pub const MAX_KEY_BYTES: usize = 500;
/// Longest trace text stored per object.
pub const MAX_TRACE_BYTES: usize = 16 * 1024;

/// One traceback section of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// The test name from the header, or `log` for a section without headers; unique.
    pub key: String,
    /// The traceback text.
    pub text: String,
    /// Whether `text` was cut to [`MAX_TRACE_BYTES`].
    pub truncated: bool,
}

/// Extracts every trace of the log, in log order.
pub fn extract(log: &str) -> Vec<Trace> {
    let mut raw: Vec<(String, Vec<&str>)> = Vec::new();
    let mut in_section = false;
    let mut section_has_header = false;
    for line in log.lines().map(|l| l.trim_end_matches('\r')) {
        if is_rule(line) {
            in_section = matches!(rule_title(line), "FAILURES" | "ERRORS");
            if in_section {
                section_has_header = false;
                raw.push(("log".to_owned(), Vec::new()));
            }
            continue;
        }
        if !in_section {
            continue;
        }
        if let Some(name) = header_name(line) {
            if !section_has_header {
                // Text before the first header of a section is dropped.
                raw.pop();
                section_has_header = true;
            }
            raw.push((name.to_owned(), Vec::new()));
        } else if let Some((_, lines)) = raw.last_mut() {
            lines.push(line);
        }
    }
    let mut traces: Vec<Trace> = Vec::new();
    for (name, lines) in raw {
        let (text, truncated) = cut(trim_blank(&lines).join("\n"), MAX_TRACE_BYTES);
        if text.is_empty() && name == "log" {
            continue;
        }
        let key = unique_key(&clean_name(&name), &traces);
        traces.push(Trace {
            key,
            text,
            truncated,
        });
    }
    traces
}

/// A `===` rule line: starts and ends with three `=`.
fn is_rule(line: &str) -> bool {
    let line = line.trim();
    line.len() >= 6 && line.starts_with("===") && line.ends_with("===")
}

/// The title of a rule line: `=== FAILURES ===` → `FAILURES`.
fn rule_title(line: &str) -> &str {
    line.trim().trim_matches('=').trim()
}

/// The name of a `___ name ___` header, if `line` is one.
fn header_name(line: &str) -> Option<&str> {
    let line = line.trim();
    if !(line.starts_with("___") && line.ends_with("___")) {
        return None;
    }
    let name = line.trim_matches('_').trim();
    (!name.is_empty()).then_some(name)
}

/// Drops leading and trailing blank lines.
fn trim_blank<'a>(lines: &'a [&'a str]) -> &'a [&'a str] {
    let start = lines
        .iter()
        .position(|l| !l.trim().is_empty())
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(start, |i| i + 1);
    lines.get(start..end).unwrap_or(&[])
}

/// Cuts `text` to at most `max` bytes on a character boundary.
fn cut(mut text: String, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut at = max;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text.truncate(at);
    (text, true)
}

/// A name usable as an object key: no control characters, not empty, not too long.
fn clean_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let (cleaned, _) = cut(cleaned.trim().to_owned(), MAX_KEY_BYTES);
    if cleaned.is_empty() {
        "log".to_owned()
    } else {
        cleaned
    }
}

/// `name`, or `name#N` with the smallest N ≥ 2 not taken yet.
fn unique_key(name: &str, taken: &[Trace]) -> String {
    let free = |key: &str| !taken.iter().any(|t| t.key == key);
    if free(name) {
        return name.to_owned();
    }
    let mut n = 2usize;
    loop {
        let key = format!("{name}#{n}");
        if free(&key) {
            return key;
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests;
