//! The state directory is out of reach, and nothing read back from it is trusted unchecked:
//! no primitive reaches it even inside the working directory; a compiled artifact swapped in
//! the cache is recompiled, not run; an altered image blob is refused.

use crate::common;

use std::path::Path;

use common::Env;
use libos_guests as guests;

/// `libos` with the state directory at `state` (inside the working directory here).
fn libos_at(state: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_libos"));
    cmd.arg("--state-dir").arg(state);
    cmd.env_remove("LIBOS_STATE_DIR");
    cmd
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn no_file_primitive_reaches_the_state_directory_inside_the_working_directory() {
    let env = Env::new();
    let work = env.work.path();
    let state = work.join(".libos-state");
    std::fs::write(work.join("notes.txt"), "mine").unwrap();
    std::os::unix::fs::symlink(".libos-state", work.join("st")).unwrap();
    let call = |tool: &str, allow: &str, input: &str| {
        libos_at(&state)
            .args(["tool", "call", tool, "--workdir"])
            .arg(work)
            .args(["--allow", allow, "--input", input])
            .output()
            .unwrap()
    };
    // The allowed twin: the same capability reads an ordinary file.
    let ok = call(guests::READ_FILE, "fs.read", r#"{"path":"notes.txt"}"#);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("mine"));

    let db = std::fs::read(state.join("libos.db")).unwrap();
    for path in [
        ".libos-state/libos.db",
        "./.libos-state/../.libos-state/libos.db",
        "st/libos.db",
    ] {
        let out = call(
            guests::READ_FILE,
            "fs.read",
            &format!(r#"{{"path":"{path}"}}"#),
        );
        assert_eq!(out.status.code(), Some(3), "{path}: {}", stderr(&out));
        assert!(stderr(&out).contains("state directory"), "{}", stderr(&out));
        assert!(!String::from_utf8_lossy(&out.stdout).contains("SQLite"));
    }
    for path in [
        ".libos-state/libos.db",
        ".libos-state/planted",
        "st/planted",
    ] {
        let input = format!(r#"{{"path":"{path}","content":"forged"}}"#);
        let out = call(guests::WRITE_FILE, "fs.write", &input);
        assert_eq!(out.status.code(), Some(3), "{path}: {}", stderr(&out));
    }
    assert!(
        !state.join("planted").exists(),
        "a refused write left a file"
    );
    // The database only grew (audit records), it was not replaced by the guest's bytes.
    assert!(
        std::fs::read(state.join("libos.db"))
            .unwrap()
            .starts_with(&db[..16])
    );

    // Every refusal is in the audit log, by name.
    let shown = libos_at(&state)
        .args(["audit", "show", "--json"])
        .output()
        .unwrap();
    let records: Vec<serde_json::Value> = serde_json::from_slice(&shown.stdout).unwrap();
    let refusals = records
        .iter()
        .filter(|r| {
            r["verdict"] == "deny"
                && r["reason"]
                    .as_str()
                    .is_some_and(|s| s.contains("state directory"))
        })
        .count();
    assert!(refusals >= 6, "{records:?}");
}

/// The one artifact in the cache directory whose name starts with `digest`.
fn artifact_of(state: &Path, component: &str) -> std::path::PathBuf {
    let digest = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(std::fs::read(component).unwrap()))
    };
    std::fs::read_dir(state.join("cache/components"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&digest) && n.ends_with(".cwasm"))
        })
        .expect("the compiled artifact is cached")
}

#[test]
fn a_cached_artifact_swapped_for_another_is_recompiled_not_run() {
    let env = Env::new();
    let call = |tool: &str, input: &str| {
        env.libos()
            .args(["-v", "tool", "call", tool, "--input", input])
            .output()
            .unwrap()
    };
    let first = call(guests::WORD_COUNT, r#"{"text":"a b c"}"#);
    assert!(first.status.success(), "{}", stderr(&first));
    let trap = call(guests::TRAP, "{}");
    assert!(stderr(&trap).contains("cache miss"), "{}", stderr(&trap));

    // Put the trapping tool's native code where word_count's is expected.
    let victim = artifact_of(env.state.path(), guests::WORD_COUNT);
    let other = artifact_of(env.state.path(), guests::TRAP);
    std::fs::copy(&other, &victim).unwrap();

    let again = call(guests::WORD_COUNT, r#"{"text":"a b c"}"#);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("\"words\":3"),
        "word_count ran as itself: {}",
        String::from_utf8_lossy(&again.stdout)
    );
    let err = stderr(&again);
    assert!(
        err.contains("does not match") && err.contains("cache miss"),
        "{err}"
    );
    // Recompiled and recorded again: the next call is a verified hit.
    let third = call(guests::WORD_COUNT, r#"{"text":"a b c"}"#);
    assert!(stderr(&third).contains("cache hit"), "{}", stderr(&third));
}

#[test]
fn an_altered_image_blob_is_refused() {
    let env = Env::new();
    let dir = env.work_path("img");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(guests::AGENT_SCRIPT, dir.join("agent.wasm")).unwrap();
    std::fs::write(
        dir.join("image.toml"),
        "name = \"scripted\"\nversion = \"1\"\nagent = \"agent.wasm\"\ncapabilities = [\"fs.write:**\"]\n",
    )
    .unwrap();
    let built = env
        .libos()
        .args(["image", "build"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", stderr(&built));
    let input = r#"{"steps":[{"op":"write","path":"ran.txt","text":"x"}]}"#;
    let run = |work: &Path| {
        env.libos()
            .args(["run", "scripted", "--input", input, "--workdir"])
            .arg(work)
            .output()
            .unwrap()
    };
    // The allowed twin: the stored blob as built runs.
    let ok = run(env.work.path());
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(env.work_path("ran.txt").exists());

    // Another agent put in the blob's place is refused, not run.
    let blobs = env.state.path().join("images/sha256");
    let blob = std::fs::read_dir(&blobs)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .next()
        .expect("one stored blob");
    std::fs::copy(guests::AGENT_MINIMAL, &blob).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let refused = run(fresh.path());
    assert_eq!(refused.status.code(), Some(8), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("altered"), "{}", stderr(&refused));
    assert!(!fresh.path().join("ran.txt").exists());
}
