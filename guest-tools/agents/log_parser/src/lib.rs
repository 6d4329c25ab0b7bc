//! Agent `log_parser`: reads a pytest log and returns its failures and counts.
//!
//! Input: `{"log": "<path>"}` (relative to the working directory; needs `fs.read` on it).
//!
//! Output: the [`parse::Report`] of the log, e.g.
//! `{"failed": [{"test": "tests/test_math.py::test_div", "error": "ZeroDivisionError: division
//! by zero"}], "errors": [], "passed": 5, "failed_count": 2, "error_count": 0, "skipped": 0,
//! "duration_s": 0.31, "summary_found": true}`.
//!
//! Errors (the `err` string): `{"kind": "invalid-input", ...}` for a bad input, otherwise the
//! kind of the `fs.read` error (`not-found`, `denied`, `invalid`, `limit-exceeded`, …) with a
//! message naming the path.

pub mod parse;

use libos_agent_sdk::{Agent, Context, Failure, fs, run_json, text};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    log: String,
}

struct LogParser;

impl Agent for LogParser {
    fn run(input: String) -> Result<String, String> {
        run_json(&input, |input: Input| -> Result<parse::Report, Failure> {
            let bytes = fs::read(&input.log).during(&format!("fs.read `{}`", input.log))?;
            Ok(parse::parse(&text(bytes)))
        })
    }
}

libos_agent_sdk::export_agent!(LogParser);
