//! A process's wall-clock limit keeps counting while it waits: on a person, a message, an
//! event or a child. At the limit it ends, and the requests it left open are closed with the
//! reason.

use crate::common;

use std::time::{Duration, Instant};

use libos_image::ImageStore;
use libos_process::ExitStatus;
use serde_json::json;

const ASK_WRITES: &str = r#"@id("ask-writes") @decision("ask")
permit (principal, action == Action::"fs.write", resource);
@id("others") permit (principal, action, resource) unless { action == Action::"fs.write" };"#;

/// Builds `waiter`: the script agent with a one-second wall clock, writes asked about.
fn waiter(world: &common::World) -> anyhow::Result<()> {
    let dir = world.images.path().join("waiter");
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(libos_guests::AGENT_SCRIPT, dir.join("agent.wasm"))?;
    std::fs::write(dir.join("policy.cedar"), ASK_WRITES)?;
    std::fs::write(
        dir.join("image.toml"),
        "name = \"waiter\"\nversion = \"1\"\nagent = \"agent.wasm\"\npolicy = \"policy.cedar\"\n\
         capabilities = [\"fs.*:**\", \"events.wait:*\", \"process.spawn:sleeper\"]\n\n[limits]\nwall_clock = \"1s\"\n",
    )?;
    ImageStore::open(world.state.path())?.build(&dir)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wall_clock_ends_a_process_that_waits() -> anyhow::Result<()> {
    let world = common::World::new()?;
    waiter(&world)?;
    common::script_image(&world, "sleeper", &[], None)?;
    let kernel = common::kernel(world.state.path())?;
    let waits = [
        json!({ "op": "write", "path": "a.txt", "text": "x", "wait_approval_ms": 0 }),
        json!({ "op": "recv" }),
        json!({ "op": "wait_event", "topic": "never" }),
        // A child with a wall clock of a minute.
        json!({ "op": "spawn", "image": "sleeper", "input": { "steps": [{ "op": "recv" }] } }),
    ];
    for wait in waits {
        let mut steps = vec![wait.clone()];
        if wait["op"] == "spawn" {
            steps.push(json!({ "op": "wait", "pid": "$0" }));
        }
        let input = json!({ "steps": steps }).to_string();
        let started = Instant::now();
        let pid = common::start(&kernel, "waiter", &input, world.work()).await?;
        let status = tokio::time::timeout(Duration::from_secs(20), kernel.wait(pid)).await??;
        let took = started.elapsed();
        assert!(
            matches!(&status, ExitStatus::Failed(r) if r.contains("time")),
            "{wait}: {status:?}"
        );
        assert!(
            took < Duration::from_secs(10),
            "{wait}: ended after {took:?}"
        );
    }
    // The request the first one left open is closed, saying why.
    let queue = libos_human::HumanQueue::open(world.state.path().join("libos.db"))?;
    assert!(queue.pending()?.is_empty());
    assert!(!world.work().join("a.txt").exists());
    kernel.host().flush_audit()?;
    let closed = libos_audit::read_records(&world.state.path().join("libos.db"), None)?
        .into_iter()
        .any(|r| {
            &*r.record.decided.action == "human.expire" && r.record.decided.reason.contains("time")
        });
    assert!(closed, "the open request was closed with the reason");
    Ok(())
}
