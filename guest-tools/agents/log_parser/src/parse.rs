//! Pure parsing of a pytest log: no primitives, so it is unit-tested on the host.
//!
//! Recognised lines (ANSI colour codes are removed first, `\r\n` endings are accepted):
//!
//! * Short-summary lines `FAILED <node id> - <message>` and `ERROR <node id> - <message>`
//!   at the start of a line. The node id must contain `::` or end in `.py` (so captured log
//!   lines such as `ERROR    root:app.py:3 boom` are not taken); a ` - ` inside the brackets
//!   of a parametrised id (`test_x[a - b]`) is part of the id. Without ` - ` the message is
//!   empty.
//! * The final summary, with or without its `=` decoration: `2 failed, 5 passed in 0.31s`,
//!   `1 error in 0.05s`, `5 passed, 1 skipped, 2 warnings in 1.02s (0:00:01)`,
//!   `no tests ran in 0.01s`, `3 passed in 0.5 seconds`. Every comma-separated item must be
//!   `<count> <outcome>` with a known outcome, otherwise the line is not a summary. The last
//!   summary line of the log wins.
//!
//! Without a summary line, the counts of failures and errors are the number of `FAILED` and
//! `ERROR` lines, `passed` and `skipped` are 0 and `duration_s` is `null`.

use serde::Serialize;

/// One failed (or errored) test from a short-summary line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestFailure {
    /// The pytest node id, e.g. `tests/test_math.py::test_div`.
    pub test: String,
    /// The message after ` - `, e.g. `ZeroDivisionError: division by zero` (may be empty).
    pub error: String,
}

/// What a pytest log says. Serialised as the output of the `log_parser` agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `FAILED` lines, in log order.
    pub failed: Vec<TestFailure>,
    /// `ERROR` lines (errors in setup, teardown or collection), in log order.
    pub errors: Vec<TestFailure>,
    /// Passed tests, from the summary (0 without one).
    pub passed: u64,
    /// Failed tests: from the summary, else the number of `FAILED` lines.
    pub failed_count: u64,
    /// Errors: from the summary, else the number of `ERROR` lines.
    pub error_count: u64,
    /// Skipped tests, from the summary (0 without one).
    pub skipped: u64,
    /// The run's duration in seconds, from the summary (`null` without one).
    pub duration_s: Option<f64>,
    /// Whether a summary line was found.
    pub summary_found: bool,
}

/// Counts read from a summary line.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Summary {
    passed: u64,
    failed: u64,
    errors: u64,
    skipped: u64,
    duration_s: f64,
}

/// Parses a whole log. Never fails: unrecognised lines are ignored.
pub fn parse(log: &str) -> Report {
    let mut failed = Vec::new();
    let mut errors = Vec::new();
    let mut summary = None;
    for raw in log.lines() {
        let line = strip_ansi(raw.trim_end_matches('\r'));
        if let Some(f) = line.strip_prefix("FAILED ").and_then(test_failure) {
            failed.push(f);
            continue;
        }
        if let Some(f) = line.strip_prefix("ERROR ").and_then(test_failure) {
            errors.push(f);
            continue;
        }
        if let Some(s) = summary_line(&line) {
            summary = Some(s);
        }
    }
    let count = |v: &Vec<TestFailure>| u64::try_from(v.len()).unwrap_or(u64::MAX);
    match summary {
        Some(s) => Report {
            passed: s.passed,
            failed_count: s.failed,
            error_count: s.errors,
            skipped: s.skipped,
            duration_s: Some(s.duration_s),
            summary_found: true,
            failed,
            errors,
        },
        None => Report {
            passed: 0,
            failed_count: count(&failed),
            error_count: count(&errors),
            skipped: 0,
            duration_s: None,
            summary_found: false,
            failed,
            errors,
        },
    }
}

/// Splits `<node id> - <message>` (the text after `FAILED ` or `ERROR `).
fn test_failure(rest: &str) -> Option<TestFailure> {
    // The id may hold ` - ` inside its parameter brackets: search after the closing one.
    let search_from = match (rest.find('['), rest.find(" - ")) {
        (Some(open), Some(dash)) if open < dash => closing_bracket(rest, open).unwrap_or(open),
        _ => 0,
    };
    let (test, error) = match rest.get(search_from..).and_then(|tail| tail.find(" - ")) {
        Some(at) => {
            let split = search_from + at;
            (rest.get(..split)?, rest.get(split + 3..)?)
        }
        None => (rest, ""),
    };
    let test = test.trim();
    let looks_like_node = test.contains("::") || test.ends_with(".py");
    let stray_space = test.contains(char::is_whitespace) && !test.contains('[');
    if test.is_empty() || stray_space || !looks_like_node {
        return None;
    }
    Some(TestFailure {
        test: test.to_owned(),
        error: error.trim().to_owned(),
    })
}

/// Byte index of the `]` closing the `[` at `open`, counting nested brackets.
fn closing_bracket(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices().skip_while(|(i, _)| *i < open) {
        match c {
            '[' => depth += 1,
            ']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Reads a final summary line, decorated with `=` or not.
fn summary_line(line: &str) -> Option<Summary> {
    let inner = line.trim().trim_matches('=').trim();
    let at = inner.rfind(" in ")?;
    let (counts, duration) = (inner.get(..at)?, inner.get(at + 4..)?);
    let mut summary = Summary {
        duration_s: duration_seconds(duration)?,
        ..Summary::default()
    };
    if counts == "no tests ran" {
        return Some(summary);
    }
    for item in counts.split(',') {
        let (n, outcome) = item.trim().split_once(' ')?;
        let n: u64 = n.parse().ok()?;
        match outcome {
            "passed" => summary.passed = n,
            "failed" => summary.failed = n,
            "error" | "errors" => summary.errors = n,
            "skipped" => summary.skipped = n,
            "deselected" | "xfailed" | "xpassed" | "warning" | "warnings" | "rerun" | "reruns" => {}
            _ => return None,
        }
    }
    Some(summary)
}

/// `0.31s`, `65.12s (0:01:05)` or `0.5 seconds` as seconds.
fn duration_seconds(text: &str) -> Option<f64> {
    let mut words = text.split_whitespace();
    let first = words.next()?;
    let number = match first.strip_suffix('s') {
        Some(n) => n,
        None if words.next() == Some("seconds") => first,
        None => return None,
    };
    let value: f64 = number.parse().ok()?;
    (value.is_finite() && value >= 0.0).then_some(value)
}

/// Removes ANSI escape sequences (`ESC [ ... <final byte>`) and lone escapes.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
