//! Policy follows the process tree: a child is decided by its own image's policy and by every
//! ancestor's; an `exec` adds the new image's policy to the one in force. A `forbid`
//! anywhere wins, an `ask` anywhere asks.

use crate::common;

use serde_json::json;

use common::{World, results, script_image};

const FORBID_SECRETS: &str = r#"permit(principal, action, resource);
@id("no-secrets") forbid(principal, action, resource) when { resource.path like "secrets/*" };"#;

const ASK_WRITES: &str = r#"@id("others") permit(principal, action, resource) unless { action == Action::"fs.write" };
@id("ask-writes") @decision("ask") permit(principal, action == Action::"fs.write", resource);"#;

const PERMIT_ALL: &str = r#"@id("everything") permit(principal, action, resource);"#;

fn world() -> anyhow::Result<World> {
    let world = World::new()?;
    std::fs::create_dir_all(world.work().join("secrets"))?;
    std::fs::write(world.work().join("secrets/key.txt"), "SECRET\n")?;
    std::fs::write(world.work().join("a.txt"), "public\n")?;
    Ok(world)
}

/// The parent's steps: spawn `child` holding `caps` with `steps`, and wait for it.
fn spawn_and_wait(child: &str, caps: &[&str], steps: serde_json::Value) -> String {
    json!({ "steps": [
        { "op": "spawn", "image": child, "caps": caps, "input": { "steps": steps } },
        { "op": "wait", "pid": "$0" },
    ]})
    .to_string()
}

fn child_results(parent: &serde_json::Value) -> Vec<serde_json::Value> {
    results(&results(parent)[1]["ok"]["output"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawned_permissive_image_keeps_its_parents_forbid() -> anyhow::Result<()> {
    let world = world()?;
    script_image(
        &world,
        "parent",
        &["process.spawn:**", "fs.*:**", "shell.*:**"],
        Some(FORBID_SECRETS),
    )?;
    script_image(&world, "lax", &[], Some(PERMIT_ALL))?;
    let kernel = common::kernel(world.state.path())?;
    let input = spawn_and_wait(
        "lax",
        &["fs.read:**", "fs.write:**", "shell.exec:**"],
        json!([
            { "op": "read", "path": "secrets/key.txt" },
            { "op": "write", "path": "secrets/new.txt", "text": "x" },
            { "op": "shell", "argv": ["cat", "secrets/key.txt"] },
            { "op": "read", "path": "a.txt" },
        ]),
    );
    let out = common::run_to_exit(&kernel, "parent", &input, world.work()).await?;
    let steps = child_results(&out);
    assert_eq!(steps[0]["err"]["kind"], "denied", "{out}");
    assert!(
        steps[0]["err"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no-secrets"),
        "{out}"
    );
    assert_eq!(steps[1]["err"]["kind"], "denied", "{out}");
    assert!(!world.work().join("secrets/new.txt").exists());
    assert!(
        !steps[2]["ok"]["stdout"]
            .as_str()
            .unwrap_or_default()
            .contains("SECRET"),
        "{out}"
    );
    assert_eq!(steps[3]["ok"], "public\n", "{out}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grandchild_is_held_by_every_generation() -> anyhow::Result<()> {
    let world = world()?;
    script_image(
        &world,
        "root",
        &["process.spawn:**", "fs.*:**"],
        Some(FORBID_SECRETS),
    )?;
    script_image(&world, "middle", &[], Some(PERMIT_ALL))?;
    script_image(&world, "leaf", &[], None)?;
    let kernel = common::kernel(world.state.path())?;
    let leaf_steps = json!([{ "op": "read", "path": "secrets/key.txt" }]);
    let middle_steps = json!([
        { "op": "spawn", "image": "leaf", "caps": ["fs.read:**"], "input": { "steps": leaf_steps } },
        { "op": "wait", "pid": "$0" },
    ]);
    let input = spawn_and_wait("middle", &["process.spawn:**", "fs.read:**"], middle_steps);
    let out = common::run_to_exit(&kernel, "root", &input, world.work()).await?;
    let middle = child_results(&out);
    let leaf = results(&middle[1]["ok"]["output"]);
    assert_eq!(leaf[0]["err"]["kind"], "denied", "{out}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ancestors_ask_asks_for_its_descendants() -> anyhow::Result<()> {
    let world = world()?;
    script_image(
        &world,
        "parent",
        &["process.spawn:**", "fs.*:**"],
        Some(ASK_WRITES),
    )?;
    script_image(&world, "lax", &[], Some(PERMIT_ALL))?;
    let kernel = common::kernel(world.state.path())?;
    let input = spawn_and_wait(
        "lax",
        &["fs.write:**"],
        json!([{ "op": "write", "path": "out.txt", "text": "x" }]),
    );
    let out = common::run_to_exit(&kernel, "parent", &input, world.work()).await?;
    let steps = child_results(&out);
    assert_eq!(steps[0]["err"]["kind"], "needs-approval", "{out}");
    assert!(!world.work().join("out.txt").exists());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_into_a_permissive_image_sheds_no_forbid_and_adds_the_new_rules() -> anyhow::Result<()>
{
    let world = world()?;
    script_image(
        &world,
        "start",
        &["process.exec:**", "fs.*:**"],
        Some(FORBID_SECRETS),
    )?;
    script_image(&world, "lax", &["fs.*:**"], Some(ASK_WRITES))?;
    let kernel = common::kernel(world.state.path())?;
    let after = json!({ "steps": [
        { "op": "read", "path": "secrets/key.txt" },
        { "op": "write", "path": "out.txt", "text": "x" },
        { "op": "read", "path": "a.txt" },
    ]});
    let input = json!({ "steps": [{ "op": "exec", "image": "lax", "input": after }] });
    let out = common::run_to_exit(&kernel, "start", &input.to_string(), world.work()).await?;
    let steps = results(&out);
    assert_eq!(steps[0]["err"]["kind"], "denied", "{out}");
    assert_eq!(steps[1]["err"]["kind"], "needs-approval", "{out}");
    assert_eq!(steps[2]["ok"], "public\n", "{out}");
    Ok(())
}
