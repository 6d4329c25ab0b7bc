//! One frame for paths: a child's `cwd` changes where its relative paths start, never what it
//! may touch. Capabilities, policy and audit records name paths from the root of the process
//! tree's working directory, for the fs primitive, WASI-free tools and the shell alike.

use crate::common;

use serde_json::{Value, json};

use common::{World, results, script_image};

/// A tree root holding `a.txt` and `secrets/key.txt`.
fn world() -> anyhow::Result<World> {
    let world = World::new()?;
    std::fs::write(world.work().join("a.txt"), "public\n")?;
    std::fs::create_dir_all(world.work().join("secrets/inner"))?;
    std::fs::write(world.work().join("secrets/key.txt"), "SECRET\n")?;
    Ok(world)
}

/// A parent step list: spawn `child` with `caps` in `cwd` running `steps`, then wait for it.
fn spawn_and_wait(child: &str, caps: &[&str], cwd: &str, steps: Value) -> String {
    json!({ "steps": [
        { "op": "spawn", "image": child, "caps": caps, "cwd": cwd,
          "input": { "steps": steps } },
        { "op": "wait", "pid": "$0" },
    ]})
    .to_string()
}

/// The step results of the child the parent waited for.
fn child_results(parent: &Value) -> Vec<Value> {
    results(&results(parent)[1]["ok"]["output"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_below_a_directory_holds_the_parents_globs_from_the_root() -> anyhow::Result<()> {
    let world = world()?;
    script_image(
        &world,
        "parent",
        &["process.spawn:**", "fs.read:*.txt"],
        None,
    )?;
    script_image(&world, "child", &[], None)?;
    let kernel = common::kernel(world.state.path())?;
    let input = spawn_and_wait(
        "child",
        &["fs.read:*.txt"],
        "secrets",
        json!([
            { "op": "read", "path": "key.txt" },
            { "op": "read", "path": "../a.txt" },
            { "op": "self" },
        ]),
    );
    let out = common::run_to_exit(&kernel, "parent", &input, world.work()).await?;
    let steps = child_results(&out);
    assert_eq!(steps[0]["err"]["kind"], "denied", "{out}");
    assert_eq!(steps[1]["ok"], "public\n", "{out}");
    assert_eq!(steps[2]["ok"]["cwd"], "/secrets", "{out}");
    kernel.host().flush_audit()?;
    let reads = common::records_of(world.state.path(), "fs.read")?;
    assert!(
        reads.contains(&("deny".into(), "secrets/key.txt".into())),
        "the record names the path from the root: {reads:?}"
    );
    assert!(
        reads.iter().all(|(_, r)| r != "key.txt"),
        "no record names a path from the child's cwd: {reads:?}"
    );
    assert!(
        reads.contains(&("allow".into(), "a.txt".into())),
        "{reads:?}"
    );
    Ok(())
}

const FORBID_SECRETS: &str = r#"permit(principal, action, resource);
@id("no-secrets") forbid(principal, action, resource) when { resource.path like "secrets/*" };"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbid_holds_for_a_child_started_inside_what_it_forbids() -> anyhow::Result<()> {
    let world = world()?;
    script_image(
        &world,
        "parent",
        &["process.spawn:**", "fs.read:**", "shell.exec:**"],
        Some(FORBID_SECRETS),
    )?;
    script_image(&world, "child", &[], Some(FORBID_SECRETS))?;
    let kernel = common::kernel(world.state.path())?;
    let input = spawn_and_wait(
        "child",
        &["fs.read:**", "shell.exec:**"],
        "secrets",
        json!([
            { "op": "read", "path": "key.txt" },
            { "op": "shell", "argv": ["cat", "key.txt"] },
            { "op": "shell", "argv": ["cat", "../a.txt"] },
        ]),
    );
    let out = common::run_to_exit(&kernel, "parent", &input, world.work()).await?;
    let steps = child_results(&out);
    assert_eq!(steps[0]["err"]["kind"], "denied", "{out}");
    assert_ne!(steps[1]["ok"]["exit_code"], 0, "{out}");
    assert!(
        !steps[1]["ok"]["stdout"]
            .as_str()
            .unwrap_or_default()
            .contains("SECRET"),
        "{out}"
    );
    assert_eq!(steps[2]["ok"]["stdout"], "public\n", "{out}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cwd_is_a_directory_of_the_tree_reached_without_links() -> anyhow::Result<()> {
    let world = world()?;
    std::os::unix::fs::symlink("secrets", world.work().join("link"))?;
    script_image(&world, "parent", &["process.spawn:**"], None)?;
    script_image(&world, "child", &[], None)?;
    let kernel = common::kernel(world.state.path())?;
    let spawn = |cwd: &str| json!({ "op": "spawn", "image": "child", "cwd": cwd, "input": { "steps": [] } });
    let input = json!({ "steps": [
        spawn("link"),
        spawn(".."),
        spawn("a.txt"),
        spawn("/secrets/inner"),
        spawn("secrets/../secrets/inner/.."),
    ]});
    let out = common::run_to_exit(&kernel, "parent", &input.to_string(), world.work()).await?;
    let steps = results(&out);
    assert_eq!(steps[0]["err"]["kind"], "denied", "{out}");
    assert_eq!(steps[1]["err"]["kind"], "invalid", "{out}");
    assert_eq!(steps[2]["err"]["kind"], "invalid", "{out}");
    for (i, cwd) in [(3, "/secrets/inner"), (4, "/secrets")] {
        let pid = steps[i]["ok"].as_u64().unwrap_or_default();
        assert_eq!(kernel.table().get(pid)?.cwd, cwd, "{out}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_called_from_a_cwd_reads_from_there_and_is_recorded_for_its_process()
-> anyhow::Result<()> {
    let world = world()?;
    std::fs::create_dir_all(world.work().join("docs"))?;
    std::fs::write(world.work().join("docs/a.txt"), "in docs\n")?;
    let dir = world.images.path().join("reader");
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(libos_guests::AGENT_SCRIPT, dir.join("agent.wasm"))?;
    std::fs::copy(libos_guests::READ_FILE, dir.join("read_file.wasm"))?;
    std::fs::write(
        dir.join("image.toml"),
        "name = \"reader\"\nversion = \"1\"\nagent = \"agent.wasm\"\n\
         capabilities = [\"process.spawn:reader\", \"fs.read:**\"]\n\n\
         [tools]\nread_file = \"read_file.wasm\"\n",
    )?;
    libos_image::ImageStore::open(world.state.path())?.build(&dir)?;
    let kernel = common::kernel(world.state.path())?;
    let input = spawn_and_wait(
        "reader",
        &["fs.read:**"],
        "docs",
        json!([{ "op": "tool", "name": "read_file", "input": { "path": "a.txt" } }]),
    );
    let out = common::run_to_exit(&kernel, "reader", &input, world.work()).await?;
    let steps = child_results(&out);
    assert_eq!(steps[0]["ok"]["content"], "in docs\n", "{out}");
    let child = results(&out)[0]["ok"].as_u64().unwrap_or_default();
    kernel.host().flush_audit()?;
    let all = libos_audit::read_records(&world.state.path().join("libos.db"), None)?;
    let read = all
        .iter()
        .find(|r| &*r.record.decided.action == "fs.read")
        .map(|r| {
            (
                r.record.decided.subject.to_string(),
                r.record.decided.resource.to_string(),
            )
        });
    assert_eq!(
        read,
        Some((
            format!("pid:{child}/tool:read_file"),
            "docs/a.txt".to_owned()
        ))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_child_starts_in_the_state_directory() -> anyhow::Result<()> {
    // The state directory inside the tree's working directory.
    let work = tempfile::tempdir()?;
    let state = tempfile::Builder::new()
        .prefix("st")
        .tempdir_in(work.path())?;
    let name = state
        .path()
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let world = World {
        state,
        images: tempfile::tempdir()?,
        work,
    };
    script_image(&world, "parent", &["process.spawn:**"], None)?;
    script_image(&world, "child", &[], None)?;
    let kernel = common::kernel(world.state.path())?;
    let spawn = |cwd: String| json!({ "op": "spawn", "image": "child", "cwd": cwd, "input": { "steps": [] } });
    let input = json!({ "steps": [spawn(name.clone()), spawn(format!("/{name}/images")), spawn(".".into())] });
    let out = common::run_to_exit(&kernel, "parent", &input.to_string(), world.work()).await?;
    let steps = results(&out);
    assert_eq!(steps[0]["err"]["kind"], "denied", "{out}");
    assert_eq!(steps[1]["err"]["kind"], "denied", "{out}");
    assert!(
        steps[2]["ok"].as_u64().is_some(),
        "the root itself is fine: {out}"
    );
    // The refused spawns started nothing: the parent and the one child are all there is.
    let all = kernel.table().list(libos_proctable::ProcessFilter::All)?;
    assert_eq!(all.len(), 2, "{all:?}");
    Ok(())
}
