//! Import validation with real components, and the WASI baseline served to ordinary programs.

use crate::common;

use std::path::Path;

use common::{Env, call, load, ok_json, rt};
use libos::LoadError;
use libos::wasm::validate::ImportClass;
use libos_guests as guests;

#[test]
fn our_tools_import_only_libos_runtime() {
    let env = Env::new();
    let host = env.host();
    for path in [
        guests::READ_FILE,
        guests::WRITE_FILE,
        guests::LIST_DIR,
        guests::WORD_COUNT,
    ] {
        let tool = rt().block_on(load(&host, path));
        assert!(!tool.imports.is_empty(), "{path}");
        for import in &tool.imports {
            assert!(
                import.name.starts_with("libos:runtime/") && import.name.ends_with("@0.1.0"),
                "{path} imports {}",
                import.name
            );
            assert_eq!(import.class, ImportClass::Runtime);
        }
        assert_eq!(
            tool.exports,
            vec!["describe".to_string(), "invoke".to_string()]
        );
    }
}

#[test]
fn imports_the_host_cannot_serve_refuse_the_component_by_name() {
    let env = Env::new();
    let host = env.host();
    for (import, why) in [
        ("libos:runtimex/fs@0.1.0", "which no capability grants"),
        (
            "libos:runtime/fs@0.2.0",
            "this host serves libos:runtime@0.1.0",
        ),
        (
            "libos:runtime/net@0.1.0",
            "is not an interface of libos:runtime@0.1.0",
        ),
        (
            "wasi:sockets/tcp@0.3.0",
            "is not a WASI 0.2 version this host serves",
        ),
        (
            "wasi:http/incoming-handler@0.2.6",
            "which no capability grants",
        ),
        ("wasi:socketsx/tcp@0.2.6", "which no capability grants"),
        ("evil:pkg/backdoor@1.0.0", "which no capability grants"),
    ] {
        // The refused import comes after served ones: it is still found and named.
        let path = common::component_importing(
            env.work.path(),
            "c.wasm",
            &["wasi:sockets/tcp@0.2.6", "wasi:cli/stdout@0.2.6", import],
        );
        let err = rt().block_on(host.load(&path)).err().expect("refused");
        let msg = err.to_string();
        assert!(matches!(err, LoadError::Refused { .. }), "{msg}");
        assert!(
            msg.starts_with(&format!("refused: imports {import}")),
            "{msg}"
        );
        assert!(msg.contains(why), "{import}: {msg}");
    }
}

#[test]
fn network_imports_load_and_strict_imports_refuse_them() {
    let env = Env::new();
    let tool = rt().block_on(load(&env.host(), guests::SOCKETS));
    let net: Vec<_> = tool
        .imports
        .iter()
        .filter(|i| matches!(i.class, ImportClass::WasiNetwork(_)))
        .map(|i| i.name.as_str())
        .collect();
    assert!(
        net.iter().any(|n| n.starts_with("wasi:sockets/tcp@")),
        "{net:?}"
    );
    assert!(
        net.iter()
            .any(|n| n.starts_with("wasi:http/outgoing-handler@")),
        "{net:?}"
    );

    let strict = libos::host::ToolHost::new(libos::host::HostOptions {
        state_dir: Some(env.state_path().to_path_buf()),
        strict_imports: libos::wasm::validate::Strictness::Strict,
        ..Default::default()
    })
    .unwrap();
    let err = rt()
        .block_on(strict.load(Path::new(guests::SOCKETS)))
        .err()
        .expect("refused");
    assert!(err.to_string().contains("--strict-imports"), "{err}");
    // What does not reach the network still loads.
    rt().block_on(load(&strict, guests::WASI_PROBE));
}

#[test]
fn core_modules_malformed_and_oversized_files_are_clear_errors() {
    let env = Env::new();
    let host = env.host();
    let err = rt()
        .block_on(host.load(Path::new(guests::WORD_COUNT_CORE)))
        .err()
        .unwrap();
    assert!(matches!(err, LoadError::CoreModule { .. }), "{err}");

    let junk = env.work_path("junk.wasm");
    std::fs::write(&junk, b"\0asm\x0d\x00\x01\x00garbage garbage garbage").unwrap();
    let err = rt().block_on(host.load(&junk)).err().unwrap();
    assert!(matches!(err, LoadError::Malformed { .. }), "{err}");

    let text = env.work_path("text.wasm");
    std::fs::write(&text, b"hello, I am not wasm").unwrap();
    let err = rt().block_on(host.load(&text)).err().unwrap();
    assert!(matches!(err, LoadError::Malformed { .. }), "{err}");

    // Truncated real component.
    let bytes = std::fs::read(guests::WORD_COUNT).unwrap();
    let cut = env.work_path("cut.wasm");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = rt().block_on(host.load(&cut)).err().unwrap();
    assert!(matches!(err, LoadError::Malformed { .. }), "{err}");

    let small_host = libos::host::ToolHost::new(libos::host::HostOptions {
        state_dir: Some(env.state.path().to_path_buf()),
        max_component_bytes: 1024,
        ..Default::default()
    })
    .unwrap();
    let err = rt()
        .block_on(small_host.load(Path::new(guests::WORD_COUNT)))
        .err()
        .unwrap();
    assert!(matches!(err, LoadError::TooLarge { .. }), "{err}");

    let missing = rt()
        .block_on(host.load(Path::new("/no/such/file.wasm")))
        .err()
        .unwrap();
    assert!(matches!(missing, LoadError::Read { .. }), "{missing}");
}

#[test]
fn wasi_baseline_is_served_empty_and_captured() {
    let env = Env::new();
    let host = env.host();
    let tool = rt().block_on(load(&host, guests::WASI_PROBE));
    assert!(
        tool.imports
            .iter()
            .any(|i| i.class == ImportClass::WasiBaseline)
    );
    let report = rt().block_on(call(&host, &tool, "{}", &env.options(&[], None)));
    let out = ok_json(&report);
    assert_eq!(out["env"], 0, "no host environment variables");
    assert_eq!(out["args"], 0, "no host arguments");
    assert!(
        report.stdout.contains("hello from wasi_probe"),
        "{:?}",
        report.stdout
    );
    assert!(
        report.stderr.contains("a line on stderr"),
        "{:?}",
        report.stderr
    );

    // Flooding stdout is capped, not fatal.
    let report = rt().block_on(call(
        &host,
        &tool,
        r#"{"stdout_bytes": 1000000}"#,
        &env.options(&[], None),
    ));
    ok_json(&report);
    assert_eq!(report.stdout.len(), libos::Limits::default().max_log);
    assert!(report.stdout_dropped > 900_000);
}

#[test]
fn wasi_filesystem_sees_only_what_capabilities_grant() {
    let env = Env::new();
    env.write("docs/readme.txt", "docs text");
    env.write("private/key.txt", "secret");
    let host = env.host();
    let tool = rt().block_on(load(&host, guests::WASI_PROBE));

    // No capability: no filesystem at all.
    let out = ok_json(&rt().block_on(call(
        &host,
        &tool,
        r#"{"read":"docs/readme.txt"}"#,
        &env.options(&[], None),
    )));
    assert!(out["read"]["error"].is_string(), "{out}");

    // Read-only on docs/: reading works, writing and other directories do not.
    let opts = env.options(&["fs.read:docs/**"], None);
    let out = ok_json(&rt().block_on(call(
        &host,
        &tool,
        r#"{"read":"docs/readme.txt","write":"docs/new.txt"}"#,
        &opts,
    )));
    assert_eq!(out["read"]["ok"], "docs text", "{out}");
    assert!(out["write"]["error"].is_string(), "{out}");
    assert!(!env.work_path("docs/new.txt").exists());
    let out = ok_json(&rt().block_on(call(&host, &tool, r#"{"read":"private/key.txt"}"#, &opts)));
    assert!(out["read"]["error"].is_string(), "{out}");

    // Read and write on docs/: writing works there.
    let opts = env.options(&["fs.read:docs/**", "fs.write:docs/**"], None);
    let out = ok_json(&rt().block_on(call(&host, &tool, r#"{"write":"docs/new.txt"}"#, &opts)));
    assert_eq!(out["write"]["ok"], true, "{out}");
    assert_eq!(
        env.read("docs/new.txt").as_deref(),
        Some("written by wasi_probe")
    );
}
