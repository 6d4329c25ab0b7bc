//! `word_count`: counts lines, words, characters and bytes of a text. Pure: no primitives.

use libos_sdk::{Tool, ToolError, ToolInfo, info, json, output, parse_input};

#[derive(serde::Deserialize)]
struct Input {
    text: String,
}

struct WordCount;

impl Tool for WordCount {
    fn describe() -> ToolInfo {
        let schema = json!({
            "type": "object",
            "properties": { "text": { "type": "string" } },
            "required": ["text"],
            "additionalProperties": false
        });
        info("word_count", "Counts the lines, words, characters and bytes of a text.", schema, &[])
    }

    fn invoke(input: String) -> Result<String, ToolError> {
        let input: Input = parse_input(&input)?;
        let t = &input.text;
        output(&json!({
            "lines": t.lines().count(),
            "words": t.split_whitespace().count(),
            "chars": t.chars().count(),
            "bytes": t.len(),
        }))
    }
}

libos_sdk::export_tool!(WordCount);
