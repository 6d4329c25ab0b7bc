//! `read_file`: returns the text of one file in the caller's working directory.

use libos_sdk::{Tool, ToolError, ToolInfo, cap, fs, info, json, output, parse_input, text};

#[derive(serde::Deserialize)]
struct Input {
    path: String,
}

struct ReadFile;

impl Tool for ReadFile {
    fn describe() -> ToolInfo {
        let schema = json!({
            "type": "object",
            "properties": { "path": { "type": "string", "description": "File path, relative to the working directory" } },
            "required": ["path"],
            "additionalProperties": false
        });
        info("read_file", "Reads a text file from the working directory.", schema, &[cap("fs.read", "**")])
    }

    fn invoke(input: String) -> Result<String, ToolError> {
        let input: Input = parse_input(&input)?;
        let bytes = fs::read(&input.path)?;
        let size = bytes.len();
        output(&json!({ "path": input.path, "size": size, "content": text(bytes) }))
    }
}

libos_sdk::export_tool!(ReadFile);
