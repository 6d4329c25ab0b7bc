//! Parsing and validating `image.toml`.

mod common;

use std::time::Duration;

use common::{COMPONENT, ImageDir, MODULE, minimal};
use libos_image::{FieldError, ImageBudget, ImageLimits, Manifest, ManifestError};

const POLICY: &str =
    "@id(\"reads\")\npermit(principal, action == Action::\"fs.read\", resource);\n";

fn full_image() -> ImageDir {
    let dir = ImageDir::new();
    dir.file("coding_agent.wasm", COMPONENT)
        .file("tools/read_file.wasm", COMPONENT)
        .file("tools/write_file.wasm", COMPONENT)
        .file("policy.cedar", POLICY.as_bytes())
        .toml(
            r#"
name = "coding-agent"
version = "0.1.0"
description = "writes code"
agent = "coding_agent.wasm"
capabilities = ["fs.read:**", "memory.write:self/**", "clock.now"]
policy = "policy.cedar"

[tools]
read_file = "tools/read_file.wasm"
write_file = "./tools/../tools/write_file.wasm"

[limits]
fuel_per_slice = 5_000
memory = "32MiB"
wall_clock = "1h 30m"
max_children = 2
max_descendants = 40
max_objects = 7
max_object_bytes = 1000
max_namespace_bytes = "1MB"
events_per_second = 25

[budget]
tool_calls = 9
fuel = 1_000_000_000
bytes_written = "1MiB"
children = 3
"#,
        );
    dir
}

#[test]
fn parses_a_full_manifest() {
    let dir = full_image();
    let m = Manifest::from_file(dir.path()).unwrap();
    assert_eq!(m.name, "coding-agent");
    assert_eq!(m.version, "0.1.0");
    assert_eq!(m.description.as_deref(), Some("writes code"));
    assert_eq!(m.path, dir.manifest());
    assert_eq!(m.agent.path, dir.path().join("coding_agent.wasm"));
    assert_eq!(m.agent.field, "agent");
    assert_eq!(m.agent.size, 8);
    assert_eq!(
        m.tools.keys().collect::<Vec<_>>(),
        ["read_file", "write_file"]
    );
    assert_eq!(
        m.tools["write_file"].path,
        dir.path().join("tools/write_file.wasm")
    );
    assert_eq!(m.tools["read_file"].field, "tools.read_file");
    let caps: Vec<String> = m.capabilities.iter().map(ToString::to_string).collect();
    assert_eq!(caps, ["fs.read:**", "memory.write:self/**", "clock.now:**"]);
    let policy = m.policy.unwrap();
    assert_eq!(policy.text, POLICY);
    assert_eq!(policy.path, dir.path().join("policy.cedar"));
    assert_eq!(
        m.limits,
        ImageLimits {
            fuel_per_slice: 5_000,
            memory: 32 << 20,
            wall_clock: Duration::from_secs(90 * 60),
            max_children: 2,
            max_descendants: 40,
            max_objects: 7,
            max_object_bytes: 1000,
            max_namespace_bytes: 1_000_000,
            events_per_second: 25,
            max_log_bytes: 16 << 20,
            max_journal_bytes: 256 << 20,
        }
    );
    assert_eq!(
        m.budget,
        ImageBudget {
            tool_calls: Some(9),
            fuel: Some(1_000_000_000),
            bytes_written: Some(1 << 20),
            objects: None,
            children: Some(3),
        }
    );
}

#[test]
fn from_file_accepts_the_file_or_its_directory() {
    let dir = minimal("a", "1", "");
    let by_dir = Manifest::from_file(dir.path()).unwrap();
    let by_file = Manifest::from_file(&dir.manifest()).unwrap();
    assert_eq!(by_dir.path, by_file.path);
}

#[test]
fn defaults() {
    let dir = minimal("a", "1", "");
    let m = Manifest::from_file(dir.path()).unwrap();
    assert_eq!(m.description, None);
    assert!(m.tools.is_empty());
    assert!(m.capabilities.is_empty());
    assert!(m.policy.is_none());
    assert_eq!(m.limits, ImageLimits::default());
    let d = ImageLimits::default();
    assert_eq!(d.fuel_per_slice, 10_000_000);
    assert_eq!(d.memory, 64 * 1024 * 1024);
    assert_eq!(d.wall_clock, Duration::from_secs(600));
    assert_eq!(d.max_children, 16);
    assert_eq!(d.max_objects, 10_000);
    assert_eq!(d.max_object_bytes, 64 * 1024);
    assert_eq!(d.max_namespace_bytes, 16 * 1024 * 1024);
    assert_eq!(d.events_per_second, 1_000);
    assert!(m.budget.is_empty());

    // An empty [limits] table also means defaults; partial tables keep the other defaults.
    let dir = minimal("a", "1", "[limits]\nmemory = 1048576\n");
    let m = Manifest::from_file(dir.path()).unwrap();
    assert_eq!(m.limits.memory, 1 << 20);
    assert_eq!(m.limits.wall_clock, d.wall_clock);
}

#[test]
fn limits_round_trip_through_json() {
    let limits = Manifest::from_file(full_image().path()).unwrap().limits;
    let json = serde_json::to_string(&limits).unwrap();
    assert!(json.contains("\"wall_clock\":\"1h 30m\""), "{json}");
    assert!(json.contains("\"memory\":33554432"), "{json}");
    let back: ImageLimits = serde_json::from_str(&json).unwrap();
    assert_eq!(back, limits);
    let partial: ImageLimits = serde_json::from_str(r#"{"memory":"2MiB"}"#).unwrap();
    assert_eq!(partial.memory, 2 << 20);
    assert_eq!(partial.max_children, 16);
    assert!(serde_json::from_str::<ImageLimits>(r#"{"memroy":1}"#).is_err());
    assert!(serde_json::from_str::<ImageLimits>(r#"{"memory":"lots"}"#).is_err());
    assert!(serde_json::from_str::<ImageLimits>(r#"{"memory":"2GiB"}"#).is_err());
}

/// Parses `dir`'s manifest, expecting an error about `field` that names the manifest file.
fn field_error(dir: &ImageDir, field: &str) -> ManifestError {
    let err = Manifest::from_file(dir.path()).expect_err("manifest should be rejected");
    let text = err.to_string();
    let prefix = format!("{}: field {field}: ", dir.manifest().display());
    assert!(
        text.starts_with(&prefix),
        "expected `{prefix}...`, got `{text}`"
    );
    assert_eq!(err.field(), Some(field));
    err
}

#[test]
fn unknown_keys_name_the_field() {
    let err = field_error(&minimal("a", "1", "colour = \"red\"\n"), "colour");
    assert!(matches!(err.problem(), Some(FieldError::Unknown { .. })));
    assert!(
        err.to_string().contains("expected one of: name, version"),
        "{err}"
    );

    let err = field_error(
        &minimal("a", "1", "[limits]\nmemroy = 5\n"),
        "limits.memroy",
    );
    assert!(matches!(err.problem(), Some(FieldError::Unknown { .. })));
    field_error(&minimal("a", "1", "[limits.sub]\nx = 1\n"), "limits.sub");
    // Budgets are their own table, with their own keys and types.
    field_error(
        &minimal("a", "1", "[limits]\nmax_tool_calls = 5\n"),
        "limits.max_tool_calls",
    );
    field_error(&minimal("a", "1", "[budget]\ntools = 5\n"), "budget.tools");
    field_error(&minimal("a", "1", "[budget]\nfuel = -1\n"), "budget.fuel");
    field_error(
        &minimal("a", "1", "[budget]\nbytes_written = \"lots\"\n"),
        "budget.bytes_written",
    );
    field_error(&minimal("a", "1", "\"odd key\" = 1\n"), "\"odd key\"");
}

#[test]
fn missing_and_mistyped_fields() {
    let dir = ImageDir::new();
    dir.file("agent.wasm", COMPONENT)
        .toml("version = \"1\"\nagent = \"agent.wasm\"\n");
    let err = field_error(&dir, "name");
    assert!(matches!(err.problem(), Some(FieldError::Missing)));

    let dir = ImageDir::new();
    dir.toml("name = \"a\"\nversion = \"1\"\n");
    field_error(&dir, "agent");

    let err = field_error(&minimal("a", "1", "description = 5\n"), "description");
    assert!(
        err.to_string().ends_with("expected a string, got integer"),
        "{err}"
    );
    field_error(
        &minimal("a", "1", "capabilities = \"fs.read\"\n"),
        "capabilities",
    );
    field_error(
        &minimal("a", "1", "capabilities = [\"fs.read\", 3]\n"),
        "capabilities[1]",
    );
    field_error(&minimal("a", "1", "tools = 3\n"), "tools");
    field_error(&minimal("a", "1", "[tools]\nx = 3\n"), "tools.x");
    field_error(
        &minimal("a", "1", "[limits]\nmax_children = \"3\"\n"),
        "limits.max_children",
    );
    field_error(
        &minimal("a", "1", "[limits]\nmax_objects = -1\n"),
        "limits.max_objects",
    );
    field_error(
        &minimal("a", "1", "[limits]\nfuel_per_slice = 0\n"),
        "limits.fuel_per_slice",
    );
    field_error(
        &minimal("a", "1", "[limits]\nmax_children = 5000000000\n"),
        "limits.max_children",
    );
}

#[test]
fn bad_sizes_name_the_field() {
    let err = field_error(
        &minimal("a", "1", "[limits]\nmemory = \"lots\"\n"),
        "limits.memory",
    );
    assert!(
        err.to_string()
            .ends_with("expected a size like \"64MiB\", got \"lots\""),
        "{err}"
    );
    field_error(
        &minimal("a", "1", "[limits]\nmemory = \"2GiB\"\n"),
        "limits.memory",
    );
    field_error(
        &minimal("a", "1", "[limits]\nmemory = 0\n"),
        "limits.memory",
    );
    field_error(
        &minimal("a", "1", "[limits]\nmemory = 1.5\n"),
        "limits.memory",
    );
    field_error(
        &minimal("a", "1", "[limits]\nmax_object_bytes = \"1.5KiB\"\n"),
        "limits.max_object_bytes",
    );
    field_error(
        &minimal("a", "1", "[limits]\nmax_namespace_bytes = 2147483648\n"),
        "limits.max_namespace_bytes",
    );
}

#[test]
fn bad_durations_name_the_field() {
    let err = field_error(
        &minimal("a", "1", "[limits]\nwall_clock = \"soon\"\n"),
        "limits.wall_clock",
    );
    assert!(matches!(
        err.problem(),
        Some(FieldError::BadDuration { .. })
    ));
    field_error(
        &minimal("a", "1", "[limits]\nwall_clock = \"0s\"\n"),
        "limits.wall_clock",
    );
    field_error(
        &minimal("a", "1", "[limits]\nwall_clock = 600\n"),
        "limits.wall_clock",
    );
}

#[test]
fn bad_capabilities_name_the_entry() {
    let err = field_error(
        &minimal("a", "1", "capabilities = [\"fs.read:**\", \"fs re ad\"]\n"),
        "capabilities[1]",
    );
    assert!(matches!(err.problem(), Some(FieldError::Capability(_))));
    assert!(err.to_string().contains("fs re ad"), "{err}");
    field_error(
        &minimal("a", "1", "capabilities = [\"fs.read:\"]\n"),
        "capabilities[0]",
    );
}

#[test]
fn bad_policies_name_the_field() {
    let dir = minimal("a", "1", "policy = \"policy.cedar\"\n");
    dir.file("policy.cedar", b"permit(principal, action resource);");
    let err = field_error(&dir, "policy");
    assert!(matches!(err.problem(), Some(FieldError::Policy(_))));
    assert!(err.to_string().contains("policy.cedar"), "{err}");

    let dir = minimal("a", "1", "policy = \"missing.cedar\"\n");
    let err = field_error(&dir, "policy");
    assert!(matches!(err.problem(), Some(FieldError::NotFound { .. })));

    let dir = minimal("a", "1", "policy = \"../policy.cedar\"\n");
    field_error(&dir, "policy");
}

#[test]
fn missing_components_name_the_field() {
    let dir = minimal("a", "1", "[tools]\nread_file = \"read_file.wasm\"\n");
    let err = field_error(&dir, "tools.read_file");
    let expected = format!(
        "component file {} not found",
        dir.path().join("read_file.wasm").display()
    );
    assert!(err.to_string().ends_with(&expected), "{err}");

    let dir = ImageDir::new();
    dir.toml("name = \"a\"\nversion = \"1\"\nagent = \"agent.wasm\"\n");
    field_error(&dir, "agent");
}

#[test]
fn non_components_name_the_field() {
    let dir = minimal("a", "1", "[tools]\nt = \"t.wasm\"\n");
    dir.file("t.wasm", MODULE);
    let err = field_error(&dir, "tools.t");
    assert!(matches!(
        err.problem(),
        Some(FieldError::NotAComponent { .. })
    ));
    assert!(err.to_string().contains("core WebAssembly module"), "{err}");

    let dir = minimal("a", "1", "");
    dir.file("agent.wasm", b"#!/bin/sh\necho hi\n");
    field_error(&dir, "agent");

    let dir = minimal("a", "1", "");
    dir.file("agent.wasm", b"\0asm");
    field_error(&dir, "agent");

    let dir = minimal("a", "1", "");
    std::fs::remove_file(dir.path().join("agent.wasm")).unwrap();
    std::fs::create_dir(dir.path().join("agent.wasm")).unwrap();
    let err = field_error(&dir, "agent");
    assert!(matches!(err.problem(), Some(FieldError::Unreadable { .. })));
}

#[test]
fn oversized_components_are_refused() {
    let dir = minimal("a", "1", "");
    let file = std::fs::File::options()
        .append(true)
        .open(dir.path().join("agent.wasm"))
        .unwrap();
    file.set_len(libos_image::MAX_COMPONENT_SIZE + 1).unwrap();
    let err = field_error(&dir, "agent");
    assert!(matches!(err.problem(), Some(FieldError::TooLarge { .. })));
}

#[test]
fn escaping_paths_name_the_field() {
    let outer = ImageDir::new();
    outer.file("outside.wasm", COMPONENT);
    outer.file("img/agent.wasm", COMPONENT);
    let manifest = outer.path().join("img/image.toml");

    let write = |agent: &str| {
        std::fs::write(
            &manifest,
            format!("name = \"a\"\nversion = \"1\"\nagent = {agent:?}\n"),
        )
        .unwrap();
        Manifest::from_file(&manifest).unwrap_err()
    };

    let err = write("../outside.wasm");
    assert_eq!(err.field(), Some("agent"));
    assert!(matches!(
        err.problem(),
        Some(FieldError::PathEscapes { .. })
    ));
    assert!(
        err.to_string()
            .starts_with(&format!("{}: field agent: ", manifest.display()))
    );

    let err = write("sub/../../outside.wasm");
    assert!(matches!(
        err.problem(),
        Some(FieldError::PathEscapes { .. })
    ));

    let absolute = outer.path().join("outside.wasm");
    let err = write(absolute.to_str().unwrap());
    assert_eq!(err.field(), Some("agent"));
    assert!(matches!(
        err.problem(),
        Some(FieldError::AbsolutePath { .. })
    ));

    // A symbolic link inside the directory that points out of it is refused too.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(
            outer.path().join("outside.wasm"),
            outer.path().join("img/link.wasm"),
        )
        .unwrap();
        let err = write("link.wasm");
        assert!(
            matches!(err.problem(), Some(FieldError::PathEscapes { .. })),
            "{err}"
        );
    }
}

#[test]
fn bad_names_and_versions_name_the_field() {
    for name in ["Coding", "-x", "", "a b", "sha256", &"a".repeat(64)] {
        let err = field_error(&minimal(name, "1", ""), "name");
        assert!(matches!(err.problem(), Some(FieldError::Invalid(_))));
    }
    for version in ["", "1 0", &"1".repeat(65)] {
        field_error(&minimal("a", version, ""), "version");
    }
    field_error(
        &minimal("a", "1", "[tools]\n\"Bad Tool\" = \"agent.wasm\"\n"),
        "tools.\"Bad Tool\"",
    );
}

#[test]
fn syntax_errors_carry_line_and_column() {
    let dir = minimal("a", "1", "limits = [\n");
    let err = Manifest::from_file(dir.path()).unwrap_err();
    assert!(matches!(err, ManifestError::Syntax { .. }));
    let text = err.to_string();
    assert!(text.starts_with(&format!("{}: invalid TOML: ", dir.manifest().display())));
    assert!(text.contains("TOML parse error at line "), "{text}");
}

#[test]
fn missing_manifest_is_a_read_error() {
    let dir = ImageDir::new();
    let err = Manifest::from_file(dir.path()).unwrap_err();
    assert!(matches!(err, ManifestError::Read { .. }));
    assert!(err.to_string().starts_with(&format!(
        "{}: cannot read manifest",
        dir.manifest().display()
    )));
}

#[test]
fn parse_resolves_against_the_origin() {
    let dir = ImageDir::new();
    dir.file("agent.wasm", COMPONENT);
    let text = "name = \"a\"\nversion = \"1\"\nagent = \"agent.wasm\"\n";
    let m = Manifest::parse(text, &dir.path().join("custom.toml")).unwrap();
    assert_eq!(m.agent.path, dir.path().join("agent.wasm"));
    assert_eq!(m.dir(), dir.path());
}
