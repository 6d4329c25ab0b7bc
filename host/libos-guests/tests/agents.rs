//! The agent components: each imports only `libos:runtime` interfaces and exports `run`; the
//! assembled image directories hold every file their manifests name.

use std::path::Path;

use wasmparser::{Parser, Payload};

/// Every agent component built by this crate, with its name for messages.
const AGENTS: &[(&str, &str)] = &[
    ("log_parser", libos_guests::LOG_PARSER),
    ("coding_agent", libos_guests::CODING_AGENT),
    ("agent_spinner", libos_guests::AGENT_SPINNER),
    ("agent_ticker", libos_guests::AGENT_TICKER),
    ("agent_spawn_loop", libos_guests::AGENT_SPAWN_LOOP),
    ("agent_object_flood", libos_guests::AGENT_OBJECT_FLOOD),
    ("agent_event_flood", libos_guests::AGENT_EVENT_FLOOD),
    ("agent_kill_foreign", libos_guests::AGENT_KILL_FOREIGN),
    ("agent_escalate", libos_guests::AGENT_ESCALATE),
    ("agent_minimal", libos_guests::AGENT_MINIMAL),
    ("agent_waiter", libos_guests::AGENT_WAITER),
    ("agent_script", libos_guests::AGENT_SCRIPT),
];

/// The top-level import and export names of a component.
fn top_level_names(bytes: &[u8]) -> (Vec<String>, Vec<String>) {
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    // Nested modules and components report their own sections: only depth 0 counts.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.expect("a valid component") {
            Payload::Version { encoding, .. } if depth == 0 => {
                assert_eq!(encoding, wasmparser::Encoding::Component, "not a component");
            }
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    imports.push(import.expect("an import").name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 0 => {
                for export in reader {
                    exports.push(export.expect("an export").name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    (imports, exports)
}

#[test]
fn agents_import_only_libos_runtime_and_export_run() {
    for (name, path) in AGENTS {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{name}: reading {path}: {e}"));
        let (imports, exports) = top_level_names(&bytes);
        // Agents that call no primitive (agent_spinner, agent_minimal) import nothing.
        for import in &imports {
            assert!(
                import.starts_with("libos:runtime/"),
                "{name}: imports `{import}`, outside libos:runtime"
            );
        }
        assert!(
            exports.iter().any(|e| e == "run"),
            "{name}: exports {exports:?}, no `run`"
        );
        assert!(
            !exports.iter().any(|e| e == "invoke" || e == "describe"),
            "{name}: exports the tool world"
        );
    }
}

#[test]
fn coding_agent_imports_what_it_uses() {
    let bytes = std::fs::read(libos_guests::CODING_AGENT).expect("coding_agent component");
    let (imports, _) = top_level_names(&bytes);
    for interface in ["fs", "log", "process", "tools", "memory", "events"] {
        let wanted = format!("libos:runtime/{interface}@0.1.0");
        assert!(
            imports.contains(&wanted),
            "coding_agent does not import {wanted}: {imports:?}"
        );
    }
}

#[test]
fn image_directories_are_complete() {
    let images = Path::new(libos_guests::IMAGES);
    for image in ["coding-agent", "log-parser"] {
        let dir = images.join(image);
        let text = std::fs::read_to_string(dir.join("image.toml")).expect("image.toml");
        let manifest: toml::Table = toml::from_str(&text).expect("a TOML manifest");
        assert_eq!(manifest["name"].as_str(), Some(image));
        let mut files = vec![manifest["agent"].as_str().expect("agent").to_owned()];
        if let Some(tools) = manifest.get("tools").and_then(|t| t.as_table()) {
            files.extend(tools.values().filter_map(|v| v.as_str().map(str::to_owned)));
        }
        files.push(manifest["policy"].as_str().expect("policy").to_owned());
        for file in files {
            assert!(dir.join(&file).is_file(), "{image}: `{file}` missing");
        }
    }
    let workspace = images.join("workspace");
    assert!(workspace.join("pytest.log").is_file());
    assert!(workspace.join("src/calc.py").is_file());
}
