//! JIT tools (`tools.register`): a process registers a component it was handed as a new
//! tool; the registration is decided, validated and attenuated, stored content-addressed
//! with the process, and seen by children only when the manifest says so.

use crate::common;

use common::{Fixture, fixture, records_of, results, run_to_exit, start};
use libos_proctable::ProcessTable;
use serde_json::{Value, json};

fn host(caps: &[&str]) -> anyhow::Result<Fixture> {
    let f = fixture(
        "script",
        libos_guests::AGENT_SCRIPT,
        caps,
        "max_children = 4\nwall_clock = \"30s\"",
    )?;
    let work = f.work.path();
    std::fs::create_dir_all(work.join("handed"))?;
    std::fs::create_dir_all(work.join("docs"))?;
    std::fs::copy(libos_guests::READ_FILE, work.join("handed/reader.wasm"))?;
    std::fs::copy(libos_guests::AGENT_SCRIPT, work.join("handed/agent.wasm"))?;
    std::fs::write(work.join("handed/junk.wasm"), b"\0asm\x0d\x00\x01\x00junk")?;
    std::fs::write(work.join("docs/a.txt"), "public words")?;
    std::fs::write(work.join("secret.txt"), "secret words")?;
    Ok(f)
}

fn ok(result: &Value) -> &Value {
    assert!(result.get("err").is_none(), "step failed: {result}");
    &result["ok"]
}

fn err(result: &Value) -> String {
    format!(
        "{}: {}",
        result["err"]["kind"].as_str().unwrap_or("(no error)"),
        result["err"]["message"]
    )
}

fn register(name: &str, file: &str, caps: &[&str], inherit: bool) -> Value {
    json!({"op": "register", "file": file, "name": name, "caps": caps, "inherit": inherit})
}

fn read(tool: &str, path: &str) -> Value {
    json!({"op": "tool", "name": tool, "input": {"path": path}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_tool_runs_attenuated_to_its_manifest() -> anyhow::Result<()> {
    let f = host(&["tool.register:*", "fs.read:**"])?;
    let script = json!({ "steps": [
        register("reader", "handed/reader.wasm", &["fs.read:docs/**"], false),
        read("reader", "docs/a.txt"),
        // The registrar can read the secret; the tool it granted docs/** cannot.
        { "op": "read", "path": "secret.txt" },
        read("reader", "secret.txt"),
        { "op": "tools" },
        { "op": "self" },
    ]});
    let out = run_to_exit(&f.kernel, "script", &script.to_string(), f.work.path()).await?;
    let steps = results(&out);
    let id = ok(&steps[0]).as_str().unwrap_or_default().to_owned();
    let bytes = std::fs::read(libos_guests::READ_FILE)?;
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    assert_eq!(id, format!("sha256:{digest}"));
    assert!(ok(&steps[1]).to_string().contains("public words"), "{out}");
    assert_eq!(ok(&steps[2]), "secret words");
    assert!(err(&steps[3]).contains("denied"), "{out}");
    assert!(
        ok(&steps[4])
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "reader"),
        "{out}"
    );

    // Decided and audited, stored content-addressed, recorded with the process: a new
    // host on the state directory finds the registration and the intact blob.
    let pid = ok(&steps[5])["pid"].as_u64().unwrap_or_default();
    assert_eq!(
        records_of(f.state.path(), "tool.register")?,
        vec![("allow".to_string(), "reader".to_string())]
    );
    // Its calls are recorded under its registered name, never an image tool's subject.
    f.kernel.host().flush_audit()?;
    let subjects: Vec<String> = libos_audit::read_records(&f.state.path().join("libos.db"), None)?
        .iter()
        .filter(|r| {
            &*r.record.decided.action == "fs.read" && &*r.record.decided.resource == "secret.txt"
        })
        .map(|r| r.record.decided.subject.to_string())
        .collect();
    assert!(
        subjects.contains(&format!("pid:{pid}/tool:jit:reader")),
        "{subjects:?}"
    );
    drop(f.kernel);
    let table = ProcessTable::open(f.world.state.path().join("libos.db"))?;
    let rows = table.registered_tools(pid)?;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].name.as_str(), rows[0].digest.as_str()),
        ("reader", digest.as_str())
    );
    assert_eq!(rows[0].capabilities, vec!["fs.read:docs/**".to_string()]);
    let blob = std::fs::read(f.world.state.path().join("images/sha256").join(&digest))?;
    assert_eq!(blob, bytes);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_beyond_the_registrar_or_of_refused_components_fail_and_leave_nothing()
-> anyhow::Result<()> {
    let f = host(&["tool.register:*", "fs.read:**"])?;
    let script = json!({ "steps": [
        register("wide", "handed/reader.wasm", &["fs.write:**"], false),
        register("agent", "handed/agent.wasm", &[], false),
        register("junk", "handed/junk.wasm", &[], false),
        register("Bad Name", "handed/reader.wasm", &[], false),
        register("reader", "handed/reader.wasm", &["fs.read:**"], false),
        register("reader", "handed/reader.wasm", &["fs.read:**"], false),
        read("wide", "docs/a.txt"),
        read("agent", "docs/a.txt"),
        { "op": "self" },
    ]});
    let out = run_to_exit(&f.kernel, "script", &script.to_string(), f.work.path()).await?;
    let steps = results(&out);
    let wide = err(&steps[0]);
    assert!(
        wide.starts_with("denied") && wide.contains("fs.write:**"),
        "{wide}"
    );
    let agent = err(&steps[1]);
    assert!(!agent.contains("images/sha256"), "{agent}");
    assert!(
        agent.starts_with("invalid") && agent.contains("agent processes only"),
        "{agent}"
    );
    assert!(!agent.contains(f.state.path().to_str().unwrap()), "{agent}");
    assert!(err(&steps[2]).starts_with("invalid"), "{out}");
    assert!(err(&steps[3]).starts_with("invalid"), "{out}");
    ok(&steps[4]);
    assert!(err(&steps[5]).contains("already"), "{out}");
    assert!(err(&steps[6]).starts_with("not-found"), "{out}");
    assert!(err(&steps[7]).starts_with("not-found"), "{out}");
    let pid = ok(&steps[8])["pid"].as_u64().unwrap_or_default();
    let names: Vec<String> = f
        .kernel
        .table()
        .registered_tools(pid)?
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, vec!["reader".to_string()]);
    let records = records_of(f.state.path(), "tool.register")?;
    assert!(
        records.contains(&("deny".to_string(), "wide".to_string())),
        "{records:?}"
    );

    // Without the capability nothing is registered.
    let g = host(&["fs.read:**"])?;
    let script = json!({ "steps": [
        register("reader", "handed/reader.wasm", &[], false),
        read("reader", "docs/a.txt"),
        { "op": "self" },
    ]});
    let out = run_to_exit(&g.kernel, "script", &script.to_string(), g.work.path()).await?;
    let steps = results(&out);
    assert!(err(&steps[0]).starts_with("denied"), "{out}");
    assert!(err(&steps[1]).starts_with("not-found"), "{out}");
    let pid = ok(&steps[2])["pid"].as_u64().unwrap_or_default();
    assert!(g.kernel.table().registered_tools(pid)?.is_empty());
    let blobs = std::fs::read_dir(g.state.path().join("images/sha256"))?.count();
    assert_eq!(blobs, 1, "only the image's agent is stored");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_see_a_registered_tool_only_when_the_manifest_says_so() -> anyhow::Result<()> {
    let f = host(&["tool.register:*", "fs.read:**", "process.spawn:script"])?;
    let child = json!({ "steps": [read("shared", "docs/a.txt"), read("private", "docs/a.txt")] });
    let script = json!({ "stop_on_error": true, "steps": [
        register("shared", "handed/reader.wasm", &["fs.read:docs/**"], true),
        register("private", "handed/reader.wasm", &["fs.read:docs/**"], false),
        { "op": "spawn", "image": "script", "input": child, "caps": ["fs.read:docs/**"] },
        { "op": "wait", "pid": "$2" },
    ]});
    let pid = start(&f.kernel, "script", &script.to_string(), f.work.path()).await?;
    let out = common::exit_of(&f.kernel, pid).await?;
    let steps = results(&out);
    let child_out = ok(&steps[3])["output"].clone();
    let child_steps = results(&child_out);
    assert!(
        ok(&child_steps[0]).to_string().contains("public words"),
        "{child_out}"
    );
    assert!(err(&child_steps[1]).starts_with("not-found"), "{child_out}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_registration_stores_is_charged_to_the_bytes_written_budget() -> anyhow::Result<()> {
    let f = fixture(
        "script",
        libos_guests::AGENT_SCRIPT,
        &["tool.register:*", "fs.read:**"],
        "wall_clock = \"30s\"\n\n[budget]\nbytes_written = 1000",
    )?;
    std::fs::copy(libos_guests::READ_FILE, f.work.path().join("reader.wasm"))?;
    let script =
        json!({ "steps": [register("reader", "reader.wasm", &[], false), { "op": "self" }] });
    let out = run_to_exit(&f.kernel, "script", &script.to_string(), f.work.path()).await?;
    let steps = results(&out);
    assert!(err(&steps[0]).starts_with("limit-exceeded"), "{out}");
    let pid = ok(&steps[1])["pid"].as_u64().unwrap_or_default();
    assert!(f.kernel.table().registered_tools(pid)?.is_empty());
    let blobs = std::fs::read_dir(f.state.path().join("images/sha256"))?.count();
    // Only the image's own agent blob is stored.
    assert_eq!(blobs, 1, "a refused registration stored its component");
    Ok(())
}
