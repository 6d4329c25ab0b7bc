//! Resuming processes on another host: the journal answers the calls already made (no effect
//! runs twice), a durable sleep keeps its wake time, an effect caught mid-way goes to a person,
//! and a journal that does not match fails the process naming the entry.
//!
//! A host "dies" here by shutting its tokio runtime down: its tasks stop where they are and its
//! lease is released, with nothing recorded about them (the crash test in the CLI suite kills a
//! real host with SIGKILL).

use std::sync::Arc;
use std::time::Duration;

use libos::host::HostOptions;
use libos::providers::ManualClock;
use libos_journal::{EffectState, Journal};
use libos_process::{ExitStatus, Kernel};
use libos_proctable::{BlockedOn, State};
use serde_json::{Value, json};

use crate::common::{self, World};

/// A kernel on `world`'s state directory with `clock`, in a runtime of its own.
pub(crate) fn host(
    world: &World,
    clock: Arc<ManualClock>,
) -> anyhow::Result<(tokio::runtime::Runtime, Kernel)> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let kernel = runtime.block_on(async {
        Kernel::new(HostOptions {
            state_dir: Some(world.state.path().to_path_buf()),
            clock,
            ..HostOptions::default()
        })
    })?;
    Ok((runtime, kernel))
}

/// Stops `runtime` where its tasks are (nothing about them is recorded), drops `kernel`, and
/// waits until its lease is released.
pub(crate) fn die(
    world: &World,
    runtime: tokio::runtime::Runtime,
    kernel: Kernel,
) -> anyhow::Result<()> {
    let id = kernel.host_id().to_owned();
    drop(runtime);
    drop(kernel);
    let hosts = world.state.path().join("hosts");
    for _ in 0..500 {
        if !libos_proctable::hosts::is_alive(&hosts, &id) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    anyhow::bail!("host {id} still holds its lease")
}

/// Waits (up to 20 s) until `pid`'s row satisfies `done`.
pub(crate) fn until(
    kernel: &Kernel,
    pid: u64,
    what: &str,
    done: impl Fn(&State) -> bool,
) -> anyhow::Result<()> {
    for _ in 0..2000 {
        kernel.flush()?;
        if done(&kernel.table().get(pid)?.state) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    anyhow::bail!(
        "pid {pid} never {what}: {:?}",
        kernel.table().get(pid)?.state
    )
}

/// Moves `clock` three hours on, checking that `woke` (written once the sleeper wakes) is
/// not there until the very last second.
pub(crate) fn wake_in_three_hours(clock: &ManualClock, woke: &std::path::Path) {
    std::thread::sleep(Duration::from_millis(300));
    assert!(!woke.exists(), "woke early");
    clock.advance(Duration::from_secs(3 * 3600 - 1));
    std::thread::sleep(Duration::from_millis(300));
    assert!(!woke.exists(), "woke a second early");
    clock.advance(Duration::from_secs(1));
}

/// Why `pid` failed once a new host (with `clock`) adopted it.
pub(crate) fn failure_on_resume(
    world: &World,
    clock: Arc<ManualClock>,
    pid: u64,
) -> anyhow::Result<String> {
    let (runtime, kernel) = host(world, clock)?;
    runtime.block_on(kernel.adopt_orphans())?;
    let status = runtime.block_on(kernel.wait(pid))?;
    let ExitStatus::Failed(reason) = status else {
        anyhow::bail!("not failed: {status:?}");
    };
    Ok(reason)
}

/// Starts `input` on image `name` and kills its host while its shell command is under way
/// (its entry `prepared`); returns its pid.
fn killed_during_a_command(
    world: &World,
    clock: &Arc<ManualClock>,
    name: &str,
    input: &str,
) -> anyhow::Result<u64> {
    let (runtime, kernel) = host(world, Arc::clone(clock))?;
    let pid = runtime.block_on(common::start(&kernel, name, input, world.work()))?;
    let journal = Journal::open(&world.state.path().join("libos.db"))?;
    let mut caught = false;
    for _ in 0..2000 {
        let prepared = journal.in_states(&[EffectState::Prepared])?;
        if prepared.iter().any(|e| e.pid == pid && e.function == "run") {
            caught = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(caught, "the shell command was never under way");
    die(world, runtime, kernel)?;
    Ok(pid)
}

fn script(world: &World, name: &str) -> anyhow::Result<()> {
    script_of(world, name, libos_guests::AGENT_SCRIPT)
}

/// Builds image `name` of the script agent `component`, with the capabilities its steps use.
pub(crate) fn script_of(world: &World, name: &str, component: &str) -> anyhow::Result<()> {
    let dir = world.images.path().join(name);
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(component, dir.join("agent.wasm"))?;
    std::fs::write(
        dir.join("image.toml"),
        format!(
            "name = {name:?}\nversion = \"1\"\nagent = \"agent.wasm\"\n\
             capabilities = [\"fs.*\", \"memory.*\", \"events.*\", \"shell.*\"]\n\n\
             [limits]\nwall_clock = \"8h\"\n"
        ),
    )?;
    libos_image::ImageStore::open(world.state.path())?.build(&dir)?;
    Ok(())
}

fn results(output: &Value) -> Vec<Value> {
    output["results"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_six_hour_sleep_survives_its_host_wakes_on_time_and_repeats_nothing() -> anyhow::Result<()> {
    let world = World::new()?;
    script(&world, "sleeper")?;
    let start = Duration::from_secs(1_900_000_000);
    let clock = Arc::new(ManualClock::new(start));
    let six_hours: u64 = 6 * 3600 * 1000;
    let input = json!({ "steps": [
        { "op": "write", "path": "before.txt", "text": "once" },
        { "op": "put", "kind": "k", "key": "a", "value": 1 },
        { "op": "emit", "topic": "t", "payload": 1 },
        { "op": "now" },
        { "op": "sleep", "ms": six_hours },
        { "op": "now" },
        { "op": "write", "path": "after.txt", "text": "woke" },
    ]})
    .to_string();

    let (runtime, kernel) = host(&world, Arc::clone(&clock))?;
    let pid = runtime.block_on(common::start(&kernel, "sleeper", &input, world.work()))?;
    until(&kernel, pid, "slept", |s| {
        *s == State::Blocked(BlockedOn::Sleep)
    })?;
    die(&world, runtime, kernel)?;
    assert_eq!(
        std::fs::read_to_string(world.work().join("before.txt"))?,
        "once"
    );
    assert!(!world.work().join("after.txt").exists());

    // Three hours later a new host adopts it: it sleeps on, to the time first fixed.
    clock.advance(Duration::from_secs(3 * 3600));
    let (runtime, kernel) = host(&world, Arc::clone(&clock))?;
    let adopted = runtime.block_on(kernel.adopt_orphans())?;
    assert_eq!(adopted.resumed, vec![pid], "{adopted:?}");
    until(&kernel, pid, "slept again", |s| {
        *s == State::Blocked(BlockedOn::Sleep)
    })?;
    wake_in_three_hours(&clock, &world.work().join("after.txt"));
    let output = runtime.block_on(common::exit_of(&kernel, pid))?;
    let steps = results(&output);
    assert!(steps.iter().all(|s| s.get("ok").is_some()), "{output}");
    // The first `now` is the journal's (the time before the sleep), the second the wake.
    assert_eq!(steps[3]["ok"], json!(start.as_secs()));
    assert_eq!(steps[5]["ok"], json!(start.as_secs() + six_hours / 1000));
    assert_eq!(
        std::fs::read_to_string(world.work().join("after.txt"))?,
        "woke"
    );

    // Every effect before the crash happened once: one decision each, version 1, one event.
    let writes = common::records_of(world.state.path(), "fs.write")?;
    let before: Vec<_> = writes.iter().filter(|(_, r)| r == "before.txt").collect();
    assert_eq!(before.len(), 1, "{writes:?}");
    let object = libos_memory::ObjectStore::open(world.state.path().join("libos.db"))?
        .get(&format!("pid:{pid}"), "k", "a")?
        .ok_or_else(|| anyhow::anyhow!("object gone"))?;
    assert_eq!(object.version, 1);
    assert_eq!(kernel.table().events(Some("t"), 0, 100)?.len(), 1);
    // The process ended: its journal is gone.
    kernel.flush()?;
    runtime.block_on(async { tokio::time::sleep(Duration::from_millis(100)).await });
    let journal = Journal::open(&world.state.path().join("libos.db"))?;
    assert!(
        journal.entries(pid)?.is_empty(),
        "{:?}",
        journal.entries(pid)?
    );
    Ok(())
}

#[test]
fn an_effect_caught_mid_way_is_a_question_and_never_a_guess() -> anyhow::Result<()> {
    let world = World::new()?;
    script(&world, "worker")?;
    let clock = Arc::new(ManualClock::new(Duration::from_secs(1_900_000_000)));
    let input = json!({ "steps": [
        { "op": "write", "path": "a.txt", "text": "a" },
        { "op": "shell", "argv": ["sleep", "3"] },
        { "op": "write", "path": "b.txt", "text": "b" },
    ]})
    .to_string();
    let pid = killed_during_a_command(&world, &clock, "worker", &input)?;
    let journal = Journal::open(&world.state.path().join("libos.db"))?;

    let (runtime, kernel) = host(&world, Arc::clone(&clock))?;
    runtime.block_on(kernel.adopt_orphans())?;
    // The process waits for a person; the entry is unknown until they answer.
    until(&kernel, pid, "asked", |s| {
        matches!(s, State::Blocked(BlockedOn::Human(_)))
    })?;
    let unknown = journal.in_states(&[EffectState::Unknown])?;
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    let human = libos_human::HumanQueue::open(world.state.path().join("libos.db"))?;
    let question = human
        .pending()?
        .into_iter()
        .find(|r| r.pid == pid)
        .ok_or_else(|| anyhow::anyhow!("no question"))?;
    let libos_human::RequestKind::Question {
        question: text,
        choices,
    } = &question.kind
    else {
        anyhow::bail!("not a question: {question:?}");
    };
    assert!(
        text.contains("shell.run") && text.contains("sleep 3"),
        "{text}"
    );
    // A shell command's output is not known: "it happened" is not offered.
    assert_eq!(
        choices,
        &vec!["run it again".to_owned(), "fail the call".to_owned()]
    );
    assert!(
        common::records_of(world.state.path(), "effect.in-doubt")?.len() == 1,
        "the host's question is audited"
    );
    human.answer(&question.id, "fail the call", "human:test")?;
    let output = runtime.block_on(common::exit_of(&kernel, pid))?;
    let steps = results(&output);
    assert!(steps[0].get("ok").is_some(), "{output}");
    let err = steps[1]["err"]["message"].as_str().unwrap_or_default();
    assert!(err.contains("in doubt"), "{output}");
    assert!(steps[2].get("ok").is_some(), "{output}");
    // Settled by the person, kept for `libos effects`; a.txt was written once.
    assert_eq!(journal.in_states(&[EffectState::Failed])?.len(), 1);
    let writes = common::records_of(world.state.path(), "fs.write")?;
    assert_eq!(
        writes.iter().filter(|(_, r)| r == "a.txt").count(),
        1,
        "{writes:?}"
    );
    Ok(())
}

#[test]
fn a_run_again_answered_while_no_host_ran_runs_it_once_and_asks_nothing_more() -> anyhow::Result<()>
{
    let world = World::new()?;
    script(&world, "rerun")?;
    let clock = Arc::new(ManualClock::new(Duration::from_secs(1_900_000_000)));
    let input = json!({ "steps": [
        { "op": "shell", "argv": ["sleep", "2"] },
        { "op": "write", "path": "b.txt", "text": "b" },
    ]})
    .to_string();
    let pid = killed_during_a_command(&world, &clock, "rerun", &input)?;
    // The next host asks, and stops before anyone answers.
    let (runtime, kernel) = host(&world, Arc::clone(&clock))?;
    runtime.block_on(kernel.adopt_orphans())?;
    until(&kernel, pid, "asked", |s| {
        matches!(s, State::Blocked(BlockedOn::Human(_)))
    })?;
    die(&world, runtime, kernel)?;
    // Answered while no host runs.
    let human = libos_human::HumanQueue::open(world.state.path().join("libos.db"))?;
    let question = human
        .pending()?
        .into_iter()
        .find(|r| r.pid == pid)
        .ok_or_else(|| anyhow::anyhow!("no question"))?;
    human.answer(&question.id, "run it again", "human:test")?;
    let (runtime, kernel) = host(&world, clock)?;
    runtime.block_on(kernel.adopt_orphans())?;
    let output = runtime.block_on(common::exit_of(&kernel, pid))?;
    assert!(
        results(&output).iter().all(|s| s.get("ok").is_some()),
        "{output}"
    );
    // Asked once; the command was decided twice: its first run and the one asked for.
    assert_eq!(
        common::records_of(world.state.path(), "effect.in-doubt")?.len(),
        1
    );
    assert_eq!(
        common::records_of(world.state.path(), "shell.exec")?.len(),
        2
    );
    Ok(())
}

#[test]
fn a_journal_that_does_not_match_fails_the_process_naming_the_entry() -> anyhow::Result<()> {
    let world = World::new()?;
    script(&world, "forged")?;
    let clock = Arc::new(ManualClock::new(Duration::from_secs(1_900_000_000)));
    let input = json!({ "steps": [
        { "op": "write", "path": "a.txt", "text": "a" },
        { "op": "wait_event", "topic": "never" },
        { "op": "write", "path": "b.txt", "text": "b" },
    ]})
    .to_string();
    let (runtime, kernel) = host(&world, Arc::clone(&clock))?;
    let pid = runtime.block_on(common::start(&kernel, "forged", &input, world.work()))?;
    until(&kernel, pid, "waited", |s| {
        matches!(s, State::Blocked(BlockedOn::Event(_)))
    })?;
    die(&world, runtime, kernel)?;
    // Someone who can write the database changes what the first call was.
    let db = rusqlite::Connection::open(world.state.path().join("libos.db"))?;
    let changed = db.execute(
        "UPDATE journal SET args_digest = zeroblob(32) WHERE pid = ?1 AND seq = 1",
        [pid as i64],
    )?;
    assert_eq!(changed, 1);
    std::fs::remove_file(world.work().join("a.txt"))?;

    let reason = failure_on_resume(&world, clock, pid)?;
    assert!(
        reason.contains("divergence at entry 1") && reason.contains("fs.write"),
        "{reason}"
    );
    // Nothing was executed: the write is not made again.
    assert!(!world.work().join("a.txt").exists());
    assert!(!world.work().join("b.txt").exists());
    Ok(())
}

#[test]
fn an_approved_effect_in_doubt_names_the_grant_that_let_it_through() -> anyhow::Result<()> {
    let world = World::new()?;
    common::script_image(
        &world,
        "asker",
        &["shell.*", "human.*"],
        Some(
            r#"
permit (principal, action == Action::"shell.run", resource);
@decision("ask")
permit (principal, action == Action::"shell.exec", resource);
permit (principal, action in Action::"human", resource);
"#,
        ),
    )?;
    let clock = Arc::new(ManualClock::new(Duration::from_secs(1_900_000_000)));
    let input = json!({ "steps": [
        { "op": "shell", "argv": ["sleep", "3"], "wait_approval_ms": 0 },
    ]})
    .to_string();
    let (runtime, kernel) = host(&world, Arc::clone(&clock))?;
    let pid = runtime.block_on(common::start(&kernel, "asker", &input, world.work()))?;
    let human = libos_human::HumanQueue::open(world.state.path().join("libos.db"))?;
    let id = match runtime.block_on(common::pending_of(&human, pid)) {
        Ok(id) => id,
        Err(e) => anyhow::bail!("{e}: {:?}", kernel.table().get(pid)?.state),
    };
    let grant = common::vouch_grant(
        world.state.path(),
        human.approve(&id, libos_human::Scope::Once, None, "alice")?,
    )?;
    let journal = Journal::open(&world.state.path().join("libos.db"))?;
    let mut under_way = None;
    for _ in 0..4000 {
        under_way = journal
            .in_states(&[EffectState::Prepared])?
            .into_iter()
            .find(|e| e.pid == pid && e.function == "run" && e.grant.is_some());
        if under_way.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let entry = under_way.ok_or_else(|| anyhow::anyhow!("the approved command never ran"))?;
    // The grant was noted on the entry before the command ran.
    assert_eq!(entry.grant, Some(grant.id));
    die(&world, runtime, kernel)?;

    let (runtime, kernel) = host(&world, clock)?;
    runtime.block_on(kernel.adopt_orphans())?;
    until(&kernel, pid, "asked", |s| {
        matches!(s, State::Blocked(BlockedOn::Human(_)))
    })?;
    let unknown = journal.in_states(&[EffectState::Unknown])?;
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert_eq!(unknown[0].grant, Some(grant.id));
    let question = human
        .pending()?
        .into_iter()
        .find(|r| r.pid == pid)
        .ok_or_else(|| anyhow::anyhow!("no question"))?;
    let libos_human::RequestKind::Question { question: text, .. } = &question.kind else {
        anyhow::bail!("not a question: {question:?}");
    };
    assert!(
        text.contains(&format!("approved by a person's grant {}", grant.id)),
        "{text}"
    );
    human.answer(&question.id, "fail the call", "human:test")?;
    let output = runtime.block_on(common::exit_of(&kernel, pid))?;
    assert!(
        results(&output)[0]["err"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("in doubt")),
        "{output}"
    );
    Ok(())
}

#[test]
fn a_question_answered_while_no_host_ran_is_found_not_asked_again() -> anyhow::Result<()> {
    let world = World::new()?;
    common::script_image(
        &world,
        "asking",
        &["human.*", "fs.*"],
        Some("permit (principal, action, resource);"),
    )?;
    let clock = Arc::new(ManualClock::new(Duration::from_secs(1_900_000_000)));
    let input = json!({ "steps": [
        { "op": "ask", "question": "deploy?", "choices": ["yes", "no"] },
        { "op": "write", "path": "after.txt", "text": "x" },
    ]})
    .to_string();
    let (runtime, kernel) = host(&world, Arc::clone(&clock))?;
    let pid = runtime.block_on(common::start(&kernel, "asking", &input, world.work()))?;
    let human = libos_human::HumanQueue::open(world.state.path().join("libos.db"))?;
    let id = runtime.block_on(common::pending_of(&human, pid))?;
    die(&world, runtime, kernel)?;
    // Answered while no host runs.
    human.answer(&id, "yes", "human:test")?;

    let (runtime, kernel) = host(&world, clock)?;
    runtime.block_on(kernel.adopt_orphans())?;
    let output = runtime.block_on(common::exit_of(&kernel, pid))?;
    assert_eq!(results(&output)[0]["ok"], json!("yes"), "{output}");
    // Nothing else was asked, and the host asked nothing in doubt.
    assert!(human.pending()?.is_empty());
    assert!(common::records_of(world.state.path(), "effect.in-doubt")?.is_empty());
    assert!(world.work().join("after.txt").exists());
    Ok(())
}

#[test]
fn a_resumed_process_keeps_what_its_budget_was_charged() -> anyhow::Result<()> {
    // Charged again entry by entry, or at once from a snapshot that replaced the entries.
    for snapshot in [false, true] {
        budget_kept_across_a_resume(snapshot)?;
    }
    Ok(())
}

fn budget_kept_across_a_resume(snapshot: bool) -> anyhow::Result<()> {
    let world = World::new()?;
    let dir = world.images.path().join("frugal");
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(libos_guests::AGENT_SCRIPT, dir.join("agent.wasm"))?;
    std::fs::write(
        dir.join("image.toml"),
        "name = \"frugal\"\nversion = \"1\"\nagent = \"agent.wasm\"\n\
         capabilities = [\"fs.*\", \"events.*\"]\n\n[budget]\nbytes_written = \"25B\"\n",
    )?;
    libos_image::ImageStore::open(world.state.path())?.build(&dir)?;
    let clock = Arc::new(ManualClock::new(Duration::from_secs(1_900_000_000)));
    let middle = if snapshot {
        json!({ "op": "snapshot" })
    } else {
        json!({ "op": "now" })
    };
    let input = json!({ "steps": [
        { "op": "write", "path": "r1", "text": "0123456789" },
        { "op": "write", "path": "r2", "text": "0123456789" },
        middle,
        { "op": "wait_event", "topic": "go" },
        { "op": "write", "path": "r3", "text": "0123456789" },
    ]})
    .to_string();
    let (runtime, kernel) = host(&world, Arc::clone(&clock))?;
    let pid = runtime.block_on(common::start(&kernel, "frugal", &input, world.work()))?;
    until(&kernel, pid, "waited", |s| {
        matches!(s, State::Blocked(BlockedOn::Event(_)))
    })?;
    die(&world, runtime, kernel)?;

    let (runtime, kernel) = host(&world, clock)?;
    runtime.block_on(kernel.adopt_orphans())?;
    until(&kernel, pid, "waited again", |s| {
        matches!(s, State::Blocked(BlockedOn::Event(_)))
    })?;
    kernel.emit("go", &json!({}))?;
    let output = runtime.block_on(common::exit_of(&kernel, pid))?;
    // 20 bytes were spent before the host died: 10 more do not fit in 25.
    let results = results(&output);
    assert!(results[2].get("ok").is_some(), "{output}");
    assert!(
        results[4]["err"]["kind"].as_str() == Some("limit-exceeded"),
        "{output}"
    );
    assert!(!world.work().join("r3").exists());
    assert_eq!(kernel.table().usage()?[&pid].bytes_written, 20);
    Ok(())
}

#[test]
fn a_child_whose_spawn_the_journal_lost_never_runs_and_is_not_the_answer() -> anyhow::Result<()> {
    let world = World::new()?;
    common::script_image(&world, "family", &["fs.*", "events.*", "process.*"], None)?;
    std::fs::write(world.work().join("a.txt"), "a")?;
    let clock = Arc::new(ManualClock::new(Duration::from_secs(1_900_000_000)));
    let child = json!({ "steps": [{ "op": "wait_event", "topic": "never" }] });
    let input = json!({ "steps": [
        { "op": "read", "path": "a.txt" },
        { "op": "spawn", "image": "family", "input": child, "caps": ["events.*"] },
        { "op": "wait_event", "topic": "go" },
    ]})
    .to_string();
    let (runtime, kernel) = host(&world, Arc::clone(&clock))?;
    let pid = runtime.block_on(common::start(&kernel, "family", &input, world.work()))?;
    until(&kernel, pid, "waited", |s| {
        matches!(s, State::Blocked(BlockedOn::Event(_)))
    })?;
    let first = kernel
        .table()
        .children(pid)?
        .first()
        .map(|c| c.pid)
        .ok_or_else(|| anyhow::anyhow!("no child"))?;
    until(&kernel, first, "waited", |s| {
        matches!(s, State::Blocked(BlockedOn::Event(_)))
    })?;
    die(&world, runtime, kernel)?;
    // The host lost what the parent was told before the spawn (and all after).
    let db = rusqlite::Connection::open(world.state.path().join("libos.db"))?;
    db.execute("DELETE FROM journal WHERE pid = ?1", [pid as i64])?;
    db.execute("DELETE FROM journal WHERE pid = ?1", [first as i64])?;

    let (runtime, kernel) = host(&world, clock)?;
    let adopted = runtime.block_on(kernel.adopt_orphans())?;
    assert!(
        adopted
            .failed
            .iter()
            .any(|(p, why)| *p == first && why.contains("never ran")),
        "{adopted:?}"
    );
    until(&kernel, pid, "waited again", |s| {
        matches!(s, State::Blocked(BlockedOn::Event(_)))
    })?;
    // The parent's spawn, run live again, started a child of its own.
    let children: Vec<u64> = kernel
        .table()
        .children(pid)?
        .iter()
        .map(|c| c.pid)
        .collect();
    assert_eq!(children.len(), 2, "{children:?}");
    assert!(children.iter().any(|c| *c != first));
    Ok(())
}
