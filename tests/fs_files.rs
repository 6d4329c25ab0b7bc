//! Files stay what they were: a write keeps the file's mode, a file with several hard links is
//! neither read nor written, a listing shows only what the caller may read, and a write leaves
//! no temporary file behind.

use crate::common;

use std::os::unix::fs::PermissionsExt as _;

use common::{Env, call, load, ok_json, rt};
use libos::host::ToolHost;
use libos_guests::FS_PROBE;
use serde_json::{Value, json};

/// Runs one fs op through the probe with `caps` under `policy`: the probe's `ok` or `error`.
fn probe(env: &Env, host: &ToolHost, caps: &[&str], policy: Option<&str>, input: Value) -> Value {
    rt().block_on(async {
        let tool = load(host, FS_PROBE).await;
        let report = call(host, &tool, &input.to_string(), &env.options(caps, policy)).await;
        ok_json(&report)
    })
}

fn mode(env: &Env, rel: &str) -> u32 {
    std::fs::metadata(env.work_path(rel))
        .expect("stat")
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn a_write_keeps_the_files_mode_and_leaves_no_temporary_file() {
    let env = Env::new();
    let host = env.host();
    for (file, m) in [("private.txt", 0o600), ("tool.sh", 0o755)] {
        env.write(file, "before");
        std::fs::set_permissions(env.work_path(file), std::fs::Permissions::from_mode(m))
            .expect("chmod");
        let out = probe(
            &env,
            &host,
            &["fs.write:**"],
            None,
            json!({"op": "write", "path": file, "content": "after"}),
        );
        assert!(out.get("ok").is_some(), "{out}");
        assert_eq!(env.read(file).as_deref(), Some("after"));
        assert_eq!(mode(&env, file), m, "{file}");
    }
    let names: Vec<String> = std::fs::read_dir(env.work.path())
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("libos-tmp")), "{names:?}");
}

#[test]
fn a_file_with_several_hard_links_is_neither_read_nor_written() {
    let env = Env::new();
    let host = env.host();
    env.write("secrets/key.txt", "SECRET");
    std::fs::create_dir_all(env.work_path("out")).expect("mkdir");
    std::fs::hard_link(
        env.work_path("secrets/key.txt"),
        env.work_path("out/link.txt"),
    )
    .expect("link");
    let caps = ["fs.read:out/**", "fs.write:out/**"];
    let read = probe(
        &env,
        &host,
        &caps,
        None,
        json!({"op": "read", "path": "out/link.txt"}),
    );
    assert_eq!(read["error"]["kind"], "invalid", "{read}");
    assert!(!read.to_string().contains("SECRET"), "{read}");
    let write = probe(
        &env,
        &host,
        &caps,
        None,
        json!({"op": "write", "path": "out/link.txt", "content": "x"}),
    );
    assert_eq!(write["error"]["kind"], "invalid", "{write}");
    assert_eq!(env.read("secrets/key.txt").as_deref(), Some("SECRET"));
    assert_eq!(env.read("out/link.txt").as_deref(), Some("SECRET"));
}

#[test]
fn a_fifo_or_a_socket_is_not_replaced_by_a_written_file() {
    use std::os::unix::fs::FileTypeExt as _;
    let env = Env::new();
    let host = env.host();
    let fifo =
        std::ffi::CString::new(env.work_path("pipe").to_string_lossy().as_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a node.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0, "mkfifo");
    let _socket = std::os::unix::net::UnixListener::bind(env.work_path("app.sock")).expect("bind");
    for file in ["pipe", "app.sock"] {
        let write = probe(
            &env,
            &host,
            &["fs.write:**"],
            None,
            json!({"op": "write", "path": file, "content": "x"}),
        );
        assert_eq!(write["error"]["kind"], "invalid", "{file}: {write}");
    }
    let kind = |rel: &str| {
        std::fs::symlink_metadata(env.work_path(rel))
            .expect("stat")
            .file_type()
    };
    assert!(kind("pipe").is_fifo(), "the FIFO is still there");
    assert!(kind("app.sock").is_socket(), "the socket is still there");
}

const FORBID_SECRETS: &str = r#"permit(principal, action, resource);
@id("no-secrets") forbid(principal, action, resource) when { resource.path like "secrets/*" };"#;

#[test]
fn a_listing_shows_only_what_the_caller_may_read() {
    let env = Env::new();
    let host = env.host();
    env.write("secrets/key.txt", "SECRET");
    env.write("secrets/also.txt", "SECRET");
    env.write("a.txt", "a");
    env.write("b.md", "b");
    std::fs::create_dir_all(env.work_path("src")).expect("mkdir");
    let list = |caps: &[&str], policy: Option<&str>, path: &str| {
        rt().block_on(async {
            let tool = load(&host, libos_guests::LIST_DIR).await;
            let input = json!({ "path": path }).to_string();
            let report = call(&host, &tool, &input, &env.options(caps, policy)).await;
            ok_json(&report)
        })
    };
    let names = |v: &Value| -> Vec<String> {
        v["entries"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let forbidden = list(&["fs.read:**"], Some(FORBID_SECRETS), "secrets");
    assert!(names(&forbidden).is_empty(), "{forbidden}");
    let top = list(&["fs.read:**"], Some(FORBID_SECRETS), ".");
    assert_eq!(names(&top), ["a.txt", "b.md", "secrets", "src"], "{top}");
    env.write("docs/a.txt", "a");
    env.write("docs/b.md", "b");
    std::fs::create_dir_all(env.work_path("docs/sub")).expect("mkdir");
    let globbed = list(&["fs.read:docs", "fs.read:docs/*.txt"], None, "docs");
    assert_eq!(names(&globbed), ["a.txt", "sub"], "{globbed}");
}

#[test]
fn a_malformed_path_is_refused_and_recorded_cut_short() {
    let env = Env::new();
    let host = env.host();
    let long = "a/".repeat(5000);
    for path in ["bad\0name", long.as_str()] {
        let out = probe(
            &env,
            &host,
            &["fs.read:**"],
            None,
            json!({"op": "read", "path": path}),
        );
        assert_eq!(out["error"]["kind"], "invalid", "{out}");
    }
    let denied: Vec<String> = env
        .audit(&host)
        .into_iter()
        .filter(|(verdict, action, _)| verdict == "deny" && action == "fs.read")
        .map(|(_, _, resource)| resource)
        .collect();
    assert_eq!(denied.len(), 2, "{denied:?}");
    assert_eq!(denied[0], "bad\\0name");
    assert!(
        denied[1].ends_with('…') && denied[1].len() < 100,
        "{}",
        denied[1]
    );
}

#[test]
fn a_replacement_leaves_nothing_and_what_a_killed_writer_left_is_swept() {
    let env = Env::new();
    // Left by writers that are gone (a finished process's pid), by this one (alive), and
    // things that only look alike.
    let gone = std::process::Command::new("true")
        .spawn()
        .and_then(|mut c| c.wait().map(|_| c.id()))
        .expect("a finished process");
    let stale = format!(".libos-tmp-{gone}-7");
    let live = format!(".libos-tmp-{}-7", std::process::id());
    env.write(&stale, "half a write");
    env.write(&live, "in flight");
    env.write(".libos-tmp-notapid", "not ours");
    let lookalike = format!(".libos-tmp-{gone}-thesis.txt");
    env.write(&lookalike, "a person's file");
    std::fs::create_dir(env.work_path(&format!(".libos-tmp-{gone}-8"))).expect("mkdir");
    env.write("keep.txt", "before");
    let host = env.host();
    let out = probe(
        &env,
        &host,
        &["fs.write:**", "fs.read:**"],
        None,
        json!({"op": "write", "path": "keep.txt", "content": "after"}),
    );
    assert!(out.get("ok").is_some(), "{out}");
    assert_eq!(env.read("keep.txt").as_deref(), Some("after"));
    assert!(
        !env.work_path(&stale).exists(),
        "a dead writer's temporary file is swept"
    );
    assert!(env.work_path(&live).exists(), "a live writer's is not");
    assert!(env.work_path(".libos-tmp-notapid").exists());
    assert!(
        env.work_path(&lookalike).exists(),
        "only the exact form is swept"
    );
    assert!(env.work_path(&format!(".libos-tmp-{gone}-8")).is_dir());
    // The replacement itself left no name behind, and a listing does not show ours.
    let names: Vec<String> = std::fs::read_dir(env.work.path())
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with(".libos-tmp-"))
            .count(),
        4,
        "{names:?}"
    );
    let listed = probe(
        &env,
        &host,
        &["fs.read:**"],
        None,
        json!({"op": "list", "path": "."}),
    );
    // keep.txt and the two look-alikes: names of the exact temporary form are not listed.
    assert_eq!(listed["ok"]["count"], 3, "{listed}");
}

#[test]
fn a_guest_cannot_take_a_temporary_name_of_the_runtime() {
    let env = Env::new();
    let host = env.host();
    for name in [".libos-tmp-999999-1", ".libos-tmp-1-1"] {
        let write = probe(
            &env,
            &host,
            &["fs.write:**", "fs.read:**"],
            None,
            json!({"op": "write", "path": name, "content": "covert"}),
        );
        assert_eq!(write["error"]["kind"], "denied", "{name}: {write}");
        assert!(!env.work_path(name).exists(), "{name} was created");
    }
    // A name that only looks alike is an ordinary file.
    let ordinary = probe(
        &env,
        &host,
        &["fs.write:**"],
        None,
        json!({"op": "write", "path": ".libos-tmp-notes", "content": "mine"}),
    );
    assert!(ordinary.get("ok").is_some(), "{ordinary}");
}
