//! `write_file`: creates or replaces one text file in the caller's working directory.

use libos_sdk::{Tool, ToolError, ToolInfo, cap, fs, info, json, output, parse_input};

#[derive(serde::Deserialize)]
struct Input {
    path: String,
    content: String,
}

struct WriteFile;

impl Tool for WriteFile {
    fn describe() -> ToolInfo {
        let schema = json!({
            "type": "object",
            "properties": {
                "path": { "type": "string", "description": "File path, relative to the working directory" },
                "content": { "type": "string", "description": "The complete new contents" }
            },
            "required": ["path", "content"],
            "additionalProperties": false
        });
        info("write_file", "Creates or replaces a text file in the working directory.", schema, &[cap("fs.write", "**")])
    }

    fn invoke(input: String) -> Result<String, ToolError> {
        let input: Input = parse_input(&input)?;
        fs::write(&input.path, input.content.as_bytes())?;
        output(&json!({ "path": input.path, "bytes_written": input.content.len() }))
    }
}

libos_sdk::export_tool!(WriteFile);
