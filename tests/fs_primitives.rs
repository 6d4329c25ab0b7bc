//! Allow, deny and ask for every fs primitive, each denial checked to have left no effect,
//! and every path escape refused without touching anything.

use crate::common;

use common::{Env, call, load, ok_json, rt};
use libos::CallFailure;
use libos::host::ToolHost;
use libos_guests::FS_PROBE;
use serde_json::{Value, json};

const ASK_ALL_FS: &str = r#"
@id("ask-fs") @decision("ask") permit(principal, action in Action::"fs", resource);
"#;

/// Runs one fs op through the probe; returns `Ok(value)` or `Err((kind, message))`.
fn probe(
    env: &Env,
    host: &ToolHost,
    caps: &[&str],
    policy: Option<&str>,
    input: Value,
) -> Result<Value, (String, String)> {
    rt().block_on(async {
        let tool = load(host, FS_PROBE).await;
        let report = call(host, &tool, &input.to_string(), &env.options(caps, policy)).await;
        let out = ok_json(&report);
        if let Some(v) = out.get("ok") {
            Ok(v.clone())
        } else {
            let e = &out["error"];
            Err((
                e["kind"].as_str().unwrap_or_default().to_string(),
                e["message"].as_str().unwrap_or_default().to_string(),
            ))
        }
    })
}

fn tree(env: &Env) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for entry in walk(env.work.path()) {
        let rel = entry
            .strip_prefix(env.work.path())
            .unwrap()
            .display()
            .to_string();
        let content = std::fs::read_to_string(&entry).ok();
        out.push((rel, content));
    }
    out.sort();
    out
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push(p.clone());
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        }
    }
    out
}

#[test]
fn read_allow_deny_ask() {
    let env = Env::new();
    env.write("notes/a.txt", "alpha");
    let host = env.host();
    let read = json!({"op": "read", "path": "notes/a.txt"});

    let ok = probe(&env, &host, &["fs.read:notes/**"], None, read.clone()).unwrap();
    assert_eq!(ok["content"], "alpha");

    let denied = probe(&env, &host, &["fs.read:other/**"], None, read.clone()).unwrap_err();
    assert_eq!(denied.0, "denied");
    assert!(
        denied
            .1
            .contains("no capability grants fs.read on notes/a.txt"),
        "{}",
        denied.1
    );

    let ask = probe(&env, &host, &["fs.read:**"], Some(ASK_ALL_FS), read).unwrap_err();
    assert_eq!(ask.0, "needs-approval");
    assert!(ask.1.starts_with("req-"), "{}", ask.1);

    let audit = env.audit(&host);
    let reads: Vec<_> = audit.iter().filter(|r| r.1 == "fs.read").collect();
    assert_eq!(
        reads.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ["allow", "deny", "ask"]
    );
}

#[test]
fn write_allow_deny_ask_and_denials_leave_no_effect() {
    let env = Env::new();
    env.write("out/keep.txt", "original");
    let host = env.host();
    let before = tree(&env);

    // Denied: no capability for the path.
    let e = probe(
        &env,
        &host,
        &["fs.write:elsewhere/**"],
        None,
        json!({"op": "write", "path": "out/new.txt", "content": "x"}),
    )
    .unwrap_err();
    assert_eq!(e.0, "denied");
    // Denied by policy although the capability is held: forbid wins.
    let forbid = r#"permit(principal, action, resource);
        @id("no-out") forbid(principal, action == Action::"fs.write", resource) when { resource.path like "out/*" };"#;
    let e = probe(
        &env,
        &host,
        &["fs.write:**"],
        Some(forbid),
        json!({"op": "write", "path": "out/keep.txt", "content": "changed"}),
    )
    .unwrap_err();
    assert_eq!(e.0, "denied");
    assert!(e.1.contains("no-out"), "{}", e.1);
    // Ask: nothing written yet.
    let e = probe(
        &env,
        &host,
        &["fs.write:**"],
        Some(ASK_ALL_FS),
        json!({"op": "write", "path": "out/keep.txt", "content": "changed"}),
    )
    .unwrap_err();
    assert_eq!(e.0, "needs-approval");
    assert_eq!(
        tree(&env),
        before,
        "a refused write changed the working directory"
    );

    // Allowed: the write happens, atomically replacing the file.
    probe(
        &env,
        &host,
        &["fs.write:out/**"],
        None,
        json!({"op": "write", "path": "out/keep.txt", "content": "changed"}),
    )
    .unwrap();
    assert_eq!(env.read("out/keep.txt").as_deref(), Some("changed"));
    probe(
        &env,
        &host,
        &["fs.write:out/**"],
        None,
        json!({"op": "write", "path": "out/new.txt", "content": "fresh"}),
    )
    .unwrap();
    assert_eq!(env.read("out/new.txt").as_deref(), Some("fresh"));
    // No temporary files left behind.
    let names: Vec<_> = std::fs::read_dir(env.work_path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn delete_allow_deny_ask() {
    let env = Env::new();
    env.write("tmp/a.txt", "a");
    env.write("tmp/b.txt", "b");
    let host = env.host();
    let del = |p: &str| json!({"op": "delete", "path": p});

    let e = probe(
        &env,
        &host,
        &["fs.read:**", "fs.write:**"],
        None,
        del("tmp/a.txt"),
    )
    .unwrap_err();
    assert_eq!(e.0, "denied");
    assert!(env.work_path("tmp/a.txt").exists());
    let e = probe(
        &env,
        &host,
        &["fs.delete:**"],
        Some(ASK_ALL_FS),
        del("tmp/a.txt"),
    )
    .unwrap_err();
    assert_eq!(e.0, "needs-approval");
    assert!(env.work_path("tmp/a.txt").exists());

    probe(
        &env,
        &host,
        &["fs.delete:tmp/*.txt"],
        None,
        del("tmp/a.txt"),
    )
    .unwrap();
    assert!(!env.work_path("tmp/a.txt").exists());
    assert!(env.work_path("tmp/b.txt").exists());
    // A non-empty directory is not deleted.
    let e = probe(&env, &host, &["fs.delete:**"], None, del("tmp")).unwrap_err();
    assert_eq!(e.0, "invalid");
    assert!(env.work_path("tmp/b.txt").exists());
}

#[test]
fn list_and_stat_allow_deny_ask() {
    let env = Env::new();
    env.write("d/one.txt", "1");
    env.write("d/two.txt", "22");
    let host = env.host();

    let ok = probe(
        &env,
        &host,
        &["fs.read:**"],
        None,
        json!({"op": "list", "path": "d"}),
    )
    .unwrap();
    assert_eq!(ok["count"], 2);
    let ok = probe(
        &env,
        &host,
        &["fs.read:d/*"],
        None,
        json!({"op": "stat", "path": "d/two.txt"}),
    )
    .unwrap();
    assert_eq!(ok["size"], 2);

    for op in ["list", "stat"] {
        let e = probe(
            &env,
            &host,
            &["fs.write:**"],
            None,
            json!({"op": op, "path": "d"}),
        )
        .unwrap_err();
        assert_eq!(e.0, "denied", "{op}");
        let e = probe(
            &env,
            &host,
            &["fs.read:**"],
            Some(ASK_ALL_FS),
            json!({"op": op, "path": "d"}),
        )
        .unwrap_err();
        assert_eq!(e.0, "needs-approval", "{op}");
    }
    let e = probe(
        &env,
        &host,
        &["fs.read:**"],
        None,
        json!({"op": "stat", "path": "d/missing"}),
    )
    .unwrap_err();
    assert_eq!(e.0, "not-found");
}

#[test]
fn escapes_are_refused_and_touch_nothing() {
    let env = Env::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "top secret").unwrap();
    let link = env.work_path("link");
    std::os::unix::fs::symlink(outside.path(), &link).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        env.work_path("file-link"),
    )
    .unwrap();
    let host = env.host();
    let all = ["fs.read:**", "fs.write:**", "fs.delete:**"];
    let rel_outside = format!(
        "../{}/secret.txt",
        outside.path().file_name().unwrap().to_string_lossy()
    );
    let abs_outside = outside.path().join("secret.txt").display().to_string();

    for path in [
        rel_outside.as_str(),
        abs_outside.as_str(),
        "link/secret.txt",
        "a/../../x",
        "/etc/passwd",
    ] {
        for op in ["read", "write", "delete", "stat", "list"] {
            let e = probe(
                &env,
                &host,
                &all,
                None,
                json!({"op": op, "path": path, "content": "pwned"}),
            )
            .unwrap_err();
            assert_eq!(e.0, "denied", "{op} {path}: {e:?}");
        }
    }
    // A final symlink leading out is refused wherever it would be followed.
    for op in ["read", "write", "list"] {
        let e = probe(
            &env,
            &host,
            &all,
            None,
            json!({"op": op, "path": "file-link", "content": "pwned"}),
        )
        .unwrap_err();
        assert_eq!(e.0, "denied", "{op} file-link: {e:?}");
    }
    assert_eq!(
        std::fs::read_to_string(outside.path().join("secret.txt")).unwrap(),
        "top secret"
    );
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
    assert!(!std::path::Path::new("/x").exists());
    let denials = env.audit(&host).iter().filter(|r| r.0 == "deny").count();
    assert!(
        denials >= 20,
        "escape attempts are audited as denials ({denials})"
    );
}

#[test]
fn a_symlink_inside_is_checked_where_it_leads() {
    let env = Env::new();
    env.write("secrets/key.txt", "k");
    std::os::unix::fs::symlink("secrets/key.txt", env.work_path("innocent.txt")).unwrap();
    let host = env.host();
    // Capability for the link's name only: the target is not covered.
    let e = probe(
        &env,
        &host,
        &["fs.read:innocent.txt"],
        None,
        json!({"op": "read", "path": "innocent.txt"}),
    )
    .unwrap_err();
    assert_eq!(e.0, "denied");
    assert!(e.1.contains("secrets/key.txt"), "{}", e.1);
    let ok = probe(
        &env,
        &host,
        &["fs.read:**"],
        None,
        json!({"op": "read", "path": "innocent.txt"}),
    )
    .unwrap();
    assert_eq!(ok["content"], "k");
}

#[test]
fn hostile_paths_never_panic_the_host() {
    let env = Env::new();
    let host = env.host();
    let long = "a/".repeat(5000);
    for path in [
        "",
        ".",
        "\u{0}",
        "a\u{0}b",
        long.as_str(),
        "💥/../💥",
        "\\..\\..\\etc",
        "a//b///c",
    ] {
        for op in ["read", "write", "delete", "stat", "list"] {
            // Any typed answer is fine; the host must keep answering.
            let _ = probe(
                &env,
                &host,
                &["fs.read:**", "fs.write:**", "fs.delete:**"],
                None,
                json!({"op": op, "path": path}),
            );
        }
    }
    let ok = probe(
        &env,
        &host,
        &["fs.read:**"],
        None,
        json!({"op": "list", "path": ""}),
    )
    .unwrap();
    assert!(ok["count"].is_number());
}

#[test]
fn a_tool_gets_no_more_than_it_declares() {
    // read_file declares fs.read only: a caller's fs.write does not reach it, and its own
    // result is just the file.
    let env = Env::new();
    env.write("a.txt", "hello");
    let host = env.host();
    let report = rt().block_on(async {
        let tool = load(&host, libos_guests::READ_FILE).await;
        assert_eq!(tool.info.capabilities, vec!["fs.read:**".to_string()]);
        call(
            &host,
            &tool,
            r#"{"path":"a.txt"}"#,
            &env.options(&["fs.read:**", "fs.write:**"], None),
        )
        .await
    });
    assert_eq!(ok_json(&report)["content"], "hello");
    // `overreach` declares fs.read only and tries to write: the caller's fs.write does not
    // reach it.
    let report = rt().block_on(async {
        let tool = load(&host, libos_guests::OVERREACH).await;
        call(
            &host,
            &tool,
            r#"{"path":"a.txt"}"#,
            &env.options(&["fs.read:**", "fs.write:**"], None),
        )
        .await
    });
    assert!(
        matches!(&report.result, Err(CallFailure::Denied(m)) if m.contains("fs.write")),
        "{:?}",
        report.result
    );
    assert_eq!(env.read("a.txt").as_deref(), Some("hello"));
}

#[test]
fn special_files_are_refused_without_blocking() {
    let env = Env::new();
    let status = std::process::Command::new("mkfifo")
        .arg(env.work_path("pipe"))
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    std::fs::create_dir(env.work_path("dir")).unwrap();
    let host = env.host();
    for path in ["pipe", "dir"] {
        let e = probe(
            &env,
            &host,
            &["fs.read:**"],
            None,
            json!({"op": "read", "path": path}),
        )
        .unwrap_err();
        assert_eq!(e.0, "invalid", "{path}: {e:?}");
    }
}
