//! On a kernel that cannot confine a command (simulated: this test binary lowers the
//! Landlock ABI the probe reports), the shell primitive refuses to run it, an audited
//! denial that says why, unless the process holds `shell.unconfined`.

mod common;

use libos::primitives::shell::confine;
use serde_json::{Value, json};

async fn run(world: &common::World, image: &str, argv: &[&str]) -> anyhow::Result<Value> {
    let kernel = common::kernel(world.state.path())?;
    let input = json!({"steps": [{"op": "shell", "argv": argv}]});
    let out = common::run_to_exit(&kernel, image, &input.to_string(), world.work()).await?;
    kernel.host().flush_audit()?;
    Ok(out["results"][0].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_kernel_refuses_unless_shell_unconfined_is_held() -> anyhow::Result<()> {
    // Every test of this binary runs as on a kernel without Landlock.
    confine::limit_abi(0);
    let world = common::World::new()?;
    let image = |name: &str, caps: &[&str]| {
        world.image(
            name,
            libos_guests::AGENT_SCRIPT,
            caps,
            "wall_clock = \"60s\"",
        )
    };
    image("confined-only", &["shell.*:**", "fs.*:**"])?;
    image(
        "may-run-unconfined",
        &["shell.*:**", "fs.*:**", "shell.unconfined"],
    )?;
    std::fs::write(world.work().join("a.txt"), "alpha")?;

    let refused = run(&world, "confined-only", &["cp", "a.txt", "b.txt"]).await?;
    assert_eq!(refused["err"]["kind"], "denied", "{refused}");
    let message = refused["err"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("no Landlock") && message.contains("shell.unconfined"),
        "{message}"
    );
    assert!(!world.work().join("b.txt").exists(), "nothing ran");
    let audit = libos_audit::read_records(&world.state.path().join("libos.db"), None)?;
    let denied = audit.iter().any(|r| {
        r.record.decided.action.as_ref() == "shell.unconfined"
            && r.record.decided.reason.contains("no Landlock")
    });
    assert!(denied, "the refusal is audited");

    let ran = run(&world, "may-run-unconfined", &["cp", "a.txt", "b.txt"]).await?;
    assert_eq!(ran["ok"]["exit_code"], 0, "{ran}");
    assert_eq!(
        std::fs::read_to_string(world.work().join("b.txt"))?,
        "alpha"
    );
    Ok(())
}
