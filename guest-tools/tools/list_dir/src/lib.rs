//! `list_dir`: lists one directory of the caller's working directory.

use libos_sdk::fs::EntryKind;
use libos_sdk::{Tool, ToolError, ToolInfo, cap, fs, info, json, output, parse_input};

#[derive(serde::Deserialize)]
struct Input {
    #[serde(default)]
    path: String,
}

struct ListDir;

impl Tool for ListDir {
    fn describe() -> ToolInfo {
        let schema = json!({
            "type": "object",
            "properties": { "path": { "type": "string", "description": "Directory, relative to the working directory; empty for the working directory itself" } },
            "additionalProperties": false
        });
        info("list_dir", "Lists the entries of a directory in the working directory.", schema, &[cap("fs.read", "**")])
    }

    fn invoke(input: String) -> Result<String, ToolError> {
        let input: Input = parse_input(&input)?;
        let entries: Vec<_> = fs::list(&input.path)?
            .into_iter()
            .map(|e| {
                let kind = match e.kind {
                    EntryKind::File => "file",
                    EntryKind::Directory => "directory",
                    EntryKind::Symlink => "symlink",
                    EntryKind::Other => "other",
                };
                json!({ "name": e.name, "kind": kind })
            })
            .collect();
        output(&json!({ "path": input.path, "entries": entries }))
    }
}

libos_sdk::export_tool!(ListDir);
