//! A process's journal is bounded (`max_journal_bytes`): once it holds that much, a call fails
//! with `limit-exceeded(storage)` instead of running (a read reads nothing, an effect does
//! nothing); the process and the host go on.

use serde_json::json;

use crate::common::{self, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_journal_refuses_calls_with_a_typed_error() -> anyhow::Result<()> {
    let world = World::new()?;
    let dir = world.images.path().join("reader");
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(libos_guests::AGENT_SCRIPT, dir.join("agent.wasm"))?;
    std::fs::write(
        dir.join("image.toml"),
        "name = \"reader\"\nversion = \"1\"\nagent = \"agent.wasm\"\n\
         capabilities = [\"fs.*\"]\n\n[limits]\nmax_journal_bytes = \"8KiB\"\n",
    )?;
    libos_image::ImageStore::open(world.state.path())?.build(&dir)?;
    std::fs::write(world.work().join("big.txt"), "x".repeat(6000))?;
    let kernel = common::kernel(world.state.path())?;
    let input = json!({ "steps": [
        { "op": "read", "path": "big.txt" },
        { "op": "read", "path": "big.txt" },
        { "op": "read", "path": "big.txt" },
        { "op": "write", "path": "done.txt", "text": "written" },
    ]})
    .to_string();
    let pid = common::start(&kernel, "reader", &input, world.work()).await?;
    let output = common::exit_of(&kernel, pid).await?;
    let steps = output["results"].as_array().cloned().unwrap_or_default();
    // The first two reads fit under 8 KiB when they start; the third starts past it.
    assert!(steps[0].get("ok").is_some(), "{output}");
    assert!(steps[1].get("ok").is_some(), "{output}");
    assert_eq!(steps[2]["err"]["kind"], json!("limit-exceeded"), "{output}");
    assert!(
        steps[2]["err"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("storage")),
        "{output}"
    );
    // An effect is refused the same way, and nothing is written.
    assert_eq!(steps[3]["err"]["kind"], json!("limit-exceeded"), "{output}");
    assert!(!world.work().join("done.txt").exists());
    Ok(())
}
