//! A process's log lines are its log, not audit records: `log.write` is decided and recorded
//! once per instance, the lines go to the process log (the newest kept), so a flood of lines
//! does not grow the audit log.

use crate::common;

use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_log_lines_leaves_one_decision() -> anyhow::Result<()> {
    let f = common::fixture(
        "logger",
        libos_guests::AGENT_SCRIPT,
        &[],
        "wall_clock = \"60s\"",
    )?;
    let step = json!({ "op": "log", "message": "line {i}" });
    let script = json!({ "steps": [{ "op": "repeat", "times": 2000, "step": step }] });
    let pid = common::start(&f.kernel, "logger", &script.to_string(), f.work()).await?;
    let status = f.kernel.wait(pid).await?;
    assert!(
        matches!(status, libos_process::ExitStatus::Exited(_)),
        "{status:?}"
    );
    f.kernel.flush()?;
    f.kernel.host().flush_audit()?;
    let lines = f.kernel.table().logs(pid, 0)?;
    assert!(lines.len() >= 1000, "{} lines kept", lines.len());
    let decisions = common::records_of(f.state.path(), "log.write")?;
    assert_eq!(decisions, [("allow".to_owned(), "call".to_owned())]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_log_drops_every_line_and_is_recorded_once() -> anyhow::Result<()> {
    let world = common::World::new()?;
    common::script_image(
        &world,
        "quiet",
        &[],
        Some(
            r#"permit(principal, action, resource);
@id("quiet") forbid(principal, action == Action::"log.write", resource);"#,
        ),
    )?;
    let kernel = common::kernel(world.state.path())?;
    let step = json!({ "op": "log", "message": "secret {i}" });
    let script = json!({ "steps": [{ "op": "repeat", "times": 50, "step": step }] });
    let pid = common::start(&kernel, "quiet", &script.to_string(), world.work()).await?;
    kernel.wait(pid).await?;
    kernel.flush()?;
    kernel.host().flush_audit()?;
    assert!(kernel.table().logs(pid, 0)?.is_empty());
    let decisions = common::records_of(world.state.path(), "log.write")?;
    assert_eq!(decisions, [("deny".to_owned(), "call".to_owned())]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_flood_stops_at_the_images_log_limit_with_one_note() -> anyhow::Result<()> {
    let f = common::fixture(
        "flooder",
        libos_guests::AGENT_SCRIPT,
        &[],
        "wall_clock = \"60s\"\nmax_log_bytes = 4096",
    )?;
    let message = "x".repeat(100);
    let step = json!({ "op": "log", "message": message });
    let script = json!({ "steps": [{ "op": "repeat", "times": 5000, "step": step }] });
    let pid = common::start(&f.kernel, "flooder", &script.to_string(), f.work()).await?;
    let status = f.kernel.wait(pid).await?;
    assert!(
        matches!(status, libos_process::ExitStatus::Exited(_)),
        "a spent log limit does not end the process: {status:?}"
    );
    f.kernel.flush()?;
    let lines = f.kernel.table().logs(pid, 0)?;
    let (note, kept) = lines.split_last().expect("lines were stored");
    assert!(
        note.message.contains("log limit of 4096 bytes reached"),
        "{note:?}"
    );
    let stored: usize = kept.iter().map(|l| l.message.len()).sum();
    assert!(stored <= 4096, "{stored} bytes stored past the limit");
    assert_eq!(kept.len(), 40, "every line that fits is kept");
    assert!(
        lines
            .iter()
            .filter(|l| l.message.contains("log limit"))
            .count()
            == 1,
        "noted once"
    );
    Ok(())
}
