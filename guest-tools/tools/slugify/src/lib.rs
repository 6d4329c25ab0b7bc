//! `slugify`: turns a text into a URL slug. Pure: no primitives. The same tool is written in
//! JavaScript and Python in `examples/polyglot/`; all three give the same slug.
//!
//! ASCII letters and digits are kept (uppercase lowercased); every run of other characters,
//! non-ASCII included, becomes one `-`; no `-` at either end.

use libos_sdk::{Tool, ToolError, ToolInfo, info, json, output, parse_input};

#[derive(serde::Deserialize)]
struct Input {
    text: String,
}

fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.chars() {
        if !c.is_ascii_alphanumeric() {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push('-');
        }
        gap = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

struct Slugify;

impl Tool for Slugify {
    fn describe() -> ToolInfo {
        let schema = json!({
            "type": "object",
            "properties": { "text": { "type": "string" } },
            "required": ["text"],
            "additionalProperties": false
        });
        info(
            "slugify",
            "Turns a text into a URL slug: lowercase ASCII letters and digits joined by single dashes.",
            schema,
            &[],
        )
    }

    fn invoke(input: String) -> Result<String, ToolError> {
        let input: Input = parse_input(&input)?;
        output(&json!({ "slug": slugify(&input.text) }))
    }
}

libos_sdk::export_tool!(Slugify);
