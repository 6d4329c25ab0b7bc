//! Resuming a third-party (`wasm32-wasip2`) agent: its WASI clocks, randomness, sleeps and
//! output are journaled like its `libos:runtime` calls, so a new host replays it exactly; its
//! first use of WASI files (not journaled) is journaled as such, and a replay that reaches it
//! fails the process with that reason instead of running on.

use std::sync::Arc;
use std::time::Duration;

use libos::providers::ManualClock;
use libos_proctable::State;
use serde_json::{Value, json};

use crate::common::{self, World};
use crate::resume::{die, failure_on_resume, host, script_of, until, wake_in_three_hours};

/// An image of the WASI build of `agent_script` named `name`.
fn wasi_script(world: &World, name: &str) -> anyhow::Result<()> {
    script_of(world, name, libos_guests::AGENT_SCRIPT_WASI)
}

/// Waits (up to 20 s) until `path` exists.
fn until_file(path: &std::path::Path) -> anyhow::Result<String> {
    for _ in 0..2000 {
        if let Ok(text) = std::fs::read_to_string(path) {
            return Ok(text);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    anyhow::bail!("{} never written", path.display())
}

fn ok(step: &Value) -> anyhow::Result<&Value> {
    step.get("ok")
        .ok_or_else(|| anyhow::anyhow!("step failed: {step}"))
}

#[test]
fn a_wasi_agent_resumes_with_its_clocks_randomness_and_sleep_from_the_journal() -> anyhow::Result<()>
{
    let world = World::new()?;
    wasi_script(&world, "wasi-sleeper")?;
    let start = Duration::from_secs(1_900_000_000);
    let clock = Arc::new(ManualClock::new(start));
    let six_hours: u64 = 6 * 3600 * 1000;
    let input = json!({ "steps": [
        { "op": "wasi_now", "save": "now.txt" },
        { "op": "wasi_random", "save": "order.txt" },
        { "op": "wasi_bytes", "n": 32, "save": "bytes.txt" },
        { "op": "wasi_monotonic" },
        { "op": "wasi_print", "text": "before the sleep" },
        { "op": "wasi_sleep", "ms": six_hours, "save": "slept.txt" },
        { "op": "wasi_now" },
        { "op": "wasi_monotonic" },
        { "op": "wasi_print", "text": "after the sleep" },
        { "op": "wasi_bytes", "n": 32 },
    ]})
    .to_string();

    let (runtime, kernel) = host(&world, Arc::clone(&clock))?;
    let pid = runtime.block_on(common::start(&kernel, "wasi-sleeper", &input, world.work()))?;
    until_file(&world.work().join("bytes.txt"))?;
    let order_before = until_file(&world.work().join("order.txt"))?;
    let now_before = std::fs::read_to_string(world.work().join("now.txt"))?;
    // Let it reach the sleep.
    std::thread::sleep(Duration::from_millis(300));
    die(&world, runtime, kernel)?;
    assert!(!world.work().join("slept.txt").exists());

    // Three hours later a new host adopts it: it sleeps on, to the time first fixed.
    clock.advance(Duration::from_secs(3 * 3600));
    let (runtime, kernel) = host(&world, Arc::clone(&clock))?;
    let adopted = runtime.block_on(kernel.adopt_orphans())?;
    assert_eq!(adopted.resumed, vec![pid], "{adopted:?}");
    until(&kernel, pid, "ran again", |s| *s == State::Running)?;
    wake_in_three_hours(&clock, &world.work().join("slept.txt"));
    let output = runtime.block_on(common::exit_of(&kernel, pid))?;
    let steps = common::results(&output);
    assert_eq!(steps.len(), 10, "{output}");

    // The replay was given what the first run was: the time, the random order.
    assert_eq!(ok(&steps[0])?.to_string(), now_before);
    assert_eq!(ok(&steps[0])?, &json!(start.as_nanos() as u64));
    assert_eq!(ok(&steps[1])?.to_string(), order_before);
    let bytes_before = std::fs::read_to_string(world.work().join("bytes.txt"))?;
    assert_eq!(ok(&steps[2])?.to_string(), bytes_before);
    // What it draws after the resume is new: not a replay of what it drew before.
    assert_ne!(ok(&steps[9])?, ok(&steps[2])?, "{output}");
    let woke = start + Duration::from_millis(six_hours);
    assert_eq!(ok(&steps[6])?, &json!(woke.as_nanos() as u64));
    let (m0, m1) = (ok(&steps[3])?.as_u64(), ok(&steps[7])?.as_u64());
    assert!(
        m0.is_some() && m1 >= Some(six_hours * 1_000_000),
        "{m0:?} {m1:?}"
    );

    // Each effect of the first run happened once; the output is in the log once.
    for file in ["now.txt", "order.txt"] {
        let writes = common::records_of(world.state.path(), "fs.write")?;
        let made: Vec<_> = writes.iter().filter(|(_, r)| r == file).collect();
        assert_eq!(made.len(), 1, "{file}: {writes:?}");
    }
    let lines: Vec<String> = kernel
        .table()
        .logs(pid, 0)?
        .into_iter()
        .filter(|l| l.level == "stdout")
        .map(|l| l.message)
        .collect();
    assert_eq!(lines, vec!["before the sleep", "after the sleep"]);
    Ok(())
}

#[test]
fn a_wasi_agent_that_reached_for_the_network_fails_on_resume_naming_the_call() -> anyhow::Result<()>
{
    let world = World::new()?;
    wasi_script(&world, "wasi-dialer")?;
    let clock = Arc::new(ManualClock::new(Duration::from_secs(1_900_000_000)));
    let input = json!({ "steps": [
        { "op": "wasi_now", "save": "first.txt" },
        // Refused (no `net.connect`), but the network was reached for: not journaled.
        { "op": "wasi_connect", "addr": "127.0.0.1:9" },
        { "op": "wasi_now", "save": "second.txt" },
        { "op": "wasi_sleep", "ms": 3_600_000, "save": "slept.txt" },
    ]})
    .to_string();
    let (runtime, kernel) = host(&world, Arc::clone(&clock))?;
    let pid = runtime.block_on(common::start(&kernel, "wasi-dialer", &input, world.work()))?;
    until_file(&world.work().join("second.txt"))?;
    std::thread::sleep(Duration::from_millis(300));
    die(&world, runtime, kernel)?;
    std::fs::remove_file(world.work().join("first.txt"))?;
    std::fs::remove_file(world.work().join("second.txt"))?;

    let reason = failure_on_resume(&world, clock, pid)?;
    assert!(
        reason.contains("cannot be resumed")
            && reason.contains("wasi:sockets/instance-network.instance-network"),
        "{reason}"
    );
    // The replay stopped there: what came before was answered, nothing was run again.
    assert!(!world.work().join("first.txt").exists());
    assert!(!world.work().join("second.txt").exists());
    assert!(!world.work().join("slept.txt").exists());
    Ok(())
}
