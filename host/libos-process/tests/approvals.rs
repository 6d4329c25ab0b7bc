//! The human in the loop, end to end inside a kernel: a write the policy asks about becomes
//! a persisted request with a diff; a person approves or denies it from another handle (as
//! `libos approve|deny` does from another terminal); the waiting process continues; the grant
//! covers exactly the approved write, once.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use libos_human::{HumanQueue, RequestKind, RuleEffect, Scope};
use libos_image::ImageStore;
use serde_json::{Value, json};

const ASK_WRITES: &str = r#"
@id("reads")
permit (principal, action == Action::"fs.read", resource);
@id("writes-need-a-person")
@decision("ask")
permit (principal, action == Action::"fs.write", resource);
@id("questions")
permit (principal, action == Action::"human.ask", resource);
@id("processes")
permit (principal, action in Action::"process", resource);
"#;

/// Builds image `writer` (the script agent, `fs.*` and `human.ask`, writes asked about).
fn writer_image(world: &common::World) -> anyhow::Result<()> {
    let dir = world.images.path().join("writer");
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(libos_guests::AGENT_SCRIPT, dir.join("agent.wasm"))?;
    std::fs::write(dir.join("policy.cedar"), ASK_WRITES)?;
    std::fs::write(
        dir.join("image.toml"),
        "name = \"writer\"\nversion = \"1\"\nagent = \"agent.wasm\"\n\
         policy = \"policy.cedar\"\n\
         capabilities = [\"fs.*:**\", \"human.ask:*\", \"process.spawn:writer\"]\n",
    )?;
    ImageStore::open(world.state.path())?.build(&dir)?;
    Ok(())
}

/// The human queue as another terminal opens it.
fn terminal(world: &common::World) -> anyhow::Result<HumanQueue> {
    Ok(HumanQueue::open(world.state.path().join("libos.db"))?)
}

/// Waits until `pid` ended and returns its steps' results.
async fn results_of(kernel: &libos_process::Kernel, pid: u64) -> anyhow::Result<Vec<Value>> {
    match kernel.wait(pid).await? {
        libos_process::ExitStatus::Exited(out) => {
            let out: Value = serde_json::from_str(&out)?;
            Ok(out["results"].as_array().cloned().unwrap_or_default())
        }
        other => anyhow::bail!("ended {other:?}"),
    }
}

fn read(work: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(work.join(name)).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approved_once_then_the_same_write_asks_again() -> anyhow::Result<()> {
    let world = common::World::new()?;
    writer_image(&world)?;
    std::fs::write(world.work.path().join("notes.txt"), "old line\n")?;
    let kernel = common::kernel(world.state.path())?;
    let steps = json!({"steps": [
        {"op": "write", "path": "notes.txt", "text": "new line\n", "wait_approval_ms": 0},
        {"op": "write", "path": "other.txt", "text": "x"},
    ]});
    let pid = common::start(&kernel, "writer", &steps.to_string(), world.work.path()).await?;
    let person = terminal(&world)?;
    let id = common::pending_of(&person, pid).await?;

    // What the person sees: the file, the sizes, the diff, and which rule asked.
    let request = person.get(&id)?;
    let RequestKind::Approval {
        preview,
        action,
        resource,
        target_version,
        ..
    } = &request.kind
    else {
        anyhow::bail!("not an approval: {request:?}");
    };
    assert_eq!(
        (action.as_str(), resource.as_str()),
        ("fs.write", "notes.txt")
    );
    assert!(
        preview.contains("-old line") && preview.contains("+new line"),
        "{preview}"
    );
    assert!(
        target_version
            .as_deref()
            .is_some_and(|v| v.starts_with("sha256:"))
    );
    assert!(
        request.asked_because.contains("writes-need-a-person"),
        "{}",
        request.asked_because
    );
    assert_eq!(
        read(world.work.path(), "notes.txt").as_deref(),
        Some("old line\n"),
        "not yet"
    );
    // The request is recorded before the process starts waiting on it: it parks soon after.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let state = kernel.table().get(pid)?.state;
        if state.name() == "blocked" {
            assert!(
                state.to_string().contains(&id),
                "parked on this request: {state}"
            );
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "never parked: {state}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    common::vouch_grant(
        world.state.path(),
        person.approve(&id, Scope::Once, Some("fine"), "alice")?,
    )?;
    let results = results_of(&kernel, pid).await?;
    assert_eq!(results[0]["ok"], json!({"approved": id}), "{results:?}");
    assert_eq!(
        read(world.work.path(), "notes.txt").as_deref(),
        Some("new line\n")
    );
    // A write the person never saw asks on its own.
    assert_eq!(results[1]["err"]["kind"], "needs-approval", "{results:?}");
    assert!(read(world.work.path(), "other.txt").is_none());

    // The grant was used by the write: the same write again, in a new process or this one
    // (the file now holds it), is not covered.
    let grants = person.grants(pid)?;
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].uses_left, Some(0));
    // What the ended process left asking was closed with it, and audited.
    let left = results[1]["err"]["message"].as_str().unwrap_or_default();
    assert_eq!(person.get(left)?.state, libos_human::RequestState::Expired);
    assert!(person.pending()?.is_empty());
    kernel.host().flush_audit()?;
    let audit = libos_audit::read_records(&world.state.path().join("libos.db"), None)?;
    assert!(
        audit
            .iter()
            .any(|r| r.record.decided.action.as_ref() == "human.expire"
                && r.record.request_id.as_deref() == Some(left))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_covers_only_the_approved_arguments_and_target() -> anyhow::Result<()> {
    let world = common::World::new()?;
    writer_image(&world)?;
    let kernel = common::kernel(world.state.path())?;
    // Step 0 asks; step 1 waits for the decision; step 2 writes other text (other arguments);
    // step 3 is the approved write, but the file changed meanwhile (see below); step 4 asks
    // again (the write made the earlier question moot).
    let steps = json!({"steps": [
        {"op": "write", "path": "a.txt", "text": "approved"},
        {"op": "await_approval", "id": "$0"},
        {"op": "write", "path": "a.txt", "text": "something else"},
        {"op": "await_approval", "id": "$0"},
        {"op": "write", "path": "a.txt", "text": "approved"},
    ]});
    let pid = common::start(&kernel, "writer", &steps.to_string(), world.work.path()).await?;
    let person = terminal(&world)?;
    let id = common::pending_of(&person, pid).await?;
    // Someone changes the file between the approval and the write (before the approval's
    // record is stored, which the write waits for).
    let decided = person.approve(&id, Scope::Once, None, "alice")?;
    std::fs::write(world.work.path().join("a.txt"), "changed by someone else")?;
    common::vouch_grant(world.state.path(), decided)?;
    let results = results_of(&kernel, pid).await?;
    assert_eq!(
        results[2]["err"]["kind"], "needs-approval",
        "other text: {results:?}"
    );
    assert_eq!(
        results[4]["err"]["kind"], "needs-approval",
        "file changed: {results:?}"
    );
    assert_eq!(
        read(world.work.path(), "a.txt").as_deref(),
        Some("changed by someone else"),
        "neither write happened"
    );
    assert_eq!(
        person.grants(pid)?[0].uses_left,
        Some(1),
        "the grant was not used"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_while_parked_the_process_gets_denied_and_the_file_is_untouched()
-> anyhow::Result<()> {
    let world = common::World::new()?;
    writer_image(&world)?;
    std::fs::write(world.work.path().join("keep.txt"), "keep")?;
    let kernel = common::kernel(world.state.path())?;
    let steps = json!({"steps": [
        {"op": "write", "path": "keep.txt", "text": "overwrite", "wait_approval_ms": 0},
    ]});
    let pid = common::start(&kernel, "writer", &steps.to_string(), world.work.path()).await?;
    let person = terminal(&world)?;
    let id = common::pending_of(&person, pid).await?;
    let decided = Instant::now();
    person.deny(&id, Some("not today"), "alice")?;
    let results = results_of(&kernel, pid).await?;
    let waited = decided.elapsed();
    assert_eq!(results[0]["err"]["kind"], "denied", "{results:?}");
    assert!(
        results[0]["err"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not today"))
    );
    assert_eq!(read(world.work.path(), "keep.txt").as_deref(), Some("keep"));
    assert!(person.grants(pid)?.is_empty());
    // Generous bound for a loaded test machine; the benchmark measures the real latency.
    assert!(waited < Duration::from_secs(5), "resumed after {waited:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_and_never_rules_answer_without_asking_again() -> anyhow::Result<()> {
    let world = common::World::new()?;
    writer_image(&world)?;
    std::fs::create_dir(world.work.path().join("logs"))?;
    let kernel = common::kernel(world.state.path())?;
    let first = json!({"steps": [
        {"op": "write", "path": "logs/a.txt", "text": "1", "wait_approval_ms": 0},
        {"op": "write", "path": "secret.txt", "text": "s", "wait_approval_ms": 0},
    ]});
    let pid = common::start(&kernel, "writer", &first.to_string(), world.work.path()).await?;
    let person = terminal(&world)?;
    let id = common::pending_of(&person, pid).await?;
    let (_, always) = person.always(&id, Some("logs/**"), None, "alice")?;
    common::vouch(world.state.path(), &always)?;
    let id = common::pending_of(&person, pid).await?;
    let (_, never) = person.never(&id, None, Some("never that"), "alice")?;
    common::vouch(world.state.path(), &never)?;
    assert_eq!(
        (always.effect, never.effect),
        (RuleEffect::Always, RuleEffect::Never)
    );
    let results = results_of(&kernel, pid).await?;
    assert!(results[0]["ok"].is_object(), "{results:?}");
    assert_eq!(results[1]["err"]["kind"], "denied", "{results:?}");

    // Another process of the same image: answered by the rules, nobody asked.
    let second = json!({"steps": [
        {"op": "write", "path": "logs/b.txt", "text": "2"},
        {"op": "write", "path": "secret.txt", "text": "s"},
        {"op": "write", "path": "elsewhere.txt", "text": "e"},
    ]});
    let pid = common::start(&kernel, "writer", &second.to_string(), world.work.path()).await?;
    let results = results_of(&kernel, pid).await?;
    assert_eq!(results[0]["ok"], Value::Null, "{results:?}");
    assert_eq!(results[1]["err"]["kind"], "denied");
    assert_eq!(
        results[2]["err"]["kind"], "needs-approval",
        "outside the rule's pattern"
    );
    assert_eq!(read(world.work.path(), "logs/b.txt").as_deref(), Some("2"));
    assert!(read(world.work.path(), "secret.txt").is_none());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn questions_are_answered_and_other_requests_are_not_a_process_business() -> anyhow::Result<()>
{
    let world = common::World::new()?;
    writer_image(&world)?;
    let kernel = common::kernel(world.state.path())?;
    let steps = json!({"steps": [
        {"op": "ask", "question": "Which branch?", "choices": ["main", "dev"]},
        {"op": "await_approval", "id": "req-00000000-0000-0000-0000-000000000000"},
        {"op": "ask", "question": "", "choices": []},
        {"op": "ask", "question": "Still there?", "timeout_ms": 30},
    ]});
    let pid = common::start(&kernel, "writer", &steps.to_string(), world.work.path()).await?;
    let person = terminal(&world)?;
    let id = common::pending_of(&person, pid).await?;
    person.answer(&id, "dev", "alice")?;
    let results = results_of(&kernel, pid).await?;
    assert_eq!(results[0]["ok"], "dev", "{results:?}");
    assert_eq!(
        results[1]["err"]["kind"], "invalid",
        "not its request: {results:?}"
    );
    assert_eq!(results[2]["err"]["kind"], "invalid");
    assert_eq!(
        results[3]["err"],
        json!({"kind": "limit-exceeded", "message": "time"})
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_effect_keeps_its_approval_and_a_child_never_inherits_one() -> anyhow::Result<()> {
    let world = common::World::new()?;
    writer_image(&world)?;
    std::fs::create_dir(world.work.path().join("sub"))?;
    let kernel = common::kernel(world.state.path())?;
    let child = json!({"steps": [{"op": "write", "path": "shared.txt", "text": "same"}]});
    let steps = json!({"steps": [
        // Approved, then fails (a directory is in the way): the use comes back.
        {"op": "write", "path": "sub", "text": "x", "wait_approval_ms": 0},
        // Approved for the rest of this process's life...
        {"op": "write", "path": "shared.txt", "text": "same", "wait_approval_ms": 0},
        {"op": "write", "path": "shared.txt", "text": "same"},
        // ...but a child doing exactly the same is asked on its own.
        {"op": "spawn", "image": "writer", "input": child, "caps": ["fs.*:**"]},
        {"op": "wait", "pid": "$3"},
    ]});
    let pid = common::start(&kernel, "writer", &steps.to_string(), world.work.path()).await?;
    let person = terminal(&world)?;
    let id = common::pending_of(&person, pid).await?;
    common::vouch_grant(
        world.state.path(),
        person.approve(&id, Scope::Uses(1), None, "alice")?,
    )?;
    let session = loop {
        let next = common::pending_of(&person, pid).await?;
        if next != id {
            break next;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    common::vouch_grant(
        world.state.path(),
        person.approve(&session, Scope::Session, None, "alice")?,
    )?;
    let results = results_of(&kernel, pid).await?;
    assert_eq!(results[0]["err"]["kind"], "invalid", "{results:?}");
    let grants = person.grants(pid)?;
    let first = grants.iter().find(|g| g.request_id == id);
    assert_eq!(
        first.and_then(|g| g.uses_left),
        Some(1),
        "the failed write used nothing"
    );
    assert!(
        results[1]["ok"].is_object() && results[2]["ok"].is_null(),
        "{results:?}"
    );
    let child_results = &results[4]["ok"];
    assert!(
        child_results.to_string().contains("needs-approval"),
        "the child was not covered: {results:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_spawn_covers_only_the_input_it_showed() -> anyhow::Result<()> {
    let world = common::World::new()?;
    writer_image(&world)?;
    let dir = world.images.path().join("spawner");
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(libos_guests::AGENT_SCRIPT, dir.join("agent.wasm"))?;
    std::fs::write(
        dir.join("policy.cedar"),
        r#"@id("spawns-need-a-person") @decision("ask")
           permit (principal, action == Action::"process.spawn", resource);
           @id("rest") permit (principal, action in Action::"process", resource)
           unless { action == Action::"process.spawn" };"#,
    )?;
    std::fs::write(
        dir.join("image.toml"),
        "name = \"spawner\"\nversion = \"1\"\nagent = \"agent.wasm\"\npolicy = \"policy.cedar\"\n\
         capabilities = [\"process.spawn:writer\"]\n",
    )?;
    ImageStore::open(world.state.path())?.build(&dir)?;
    let kernel = common::kernel(world.state.path())?;
    let shown = json!({"steps": []});
    let other = json!({"steps": [{"op": "write", "path": "x.txt", "text": "sneaky"}]});
    let steps = json!({"steps": [
        {"op": "spawn", "image": "writer", "input": shown},
        {"op": "await_approval", "id": "$0"},
        {"op": "spawn", "image": "writer", "input": shown},
        {"op": "spawn", "image": "writer", "input": other},
        // Approved once, then failing (no such version): the approval is given back.
        {"op": "spawn", "image": "writer:9", "input": shown},
        {"op": "await_approval", "id": "$4"},
        {"op": "spawn", "image": "writer:9", "input": shown},
    ]});
    let pid = common::start(&kernel, "spawner", &steps.to_string(), world.work.path()).await?;
    let person = terminal(&world)?;
    let id = common::pending_of(&person, pid).await?;
    common::vouch_grant(
        world.state.path(),
        person.approve(&id, Scope::Session, None, "alice")?,
    )?;
    // Step 3 leaves a request (other input, not waited for); step 4's is the newest.
    let deadline = Instant::now() + Duration::from_secs(20);
    let failing = loop {
        let mine: Vec<String> = person
            .pending()?
            .into_iter()
            .filter(|r| r.pid == pid)
            .map(|r| r.id)
            .collect();
        if mine.len() >= 2 {
            break mine[mine.len() - 1].clone();
        }
        anyhow::ensure!(Instant::now() < deadline, "step 4 never asked");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    common::vouch_grant(
        world.state.path(),
        person.approve(&failing, Scope::Once, None, "alice")?,
    )?;
    let results = results_of(&kernel, pid).await?;
    assert!(results[6]["err"].is_object(), "no writer:9: {results:?}");
    let given_back = person
        .grants(pid)?
        .into_iter()
        .find(|g| g.request_id == failing);
    assert_eq!(
        given_back.and_then(|g| g.uses_left),
        Some(1),
        "the failed spawn used nothing"
    );
    assert_eq!(results[0]["err"]["kind"], "needs-approval", "{results:?}");
    assert!(
        results[2]["ok"].is_u64(),
        "the spawn shown is covered: {results:?}"
    );
    assert_eq!(
        results[3]["err"]["kind"], "needs-approval",
        "other input: {results:?}"
    );
    // Only the covered spawn started a process; the refused and the failed ones left none.
    assert_eq!(kernel.table().children(pid)?.len(), 1);
    assert!(!world.work.path().join("x.txt").exists());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_memory_write_that_fails_gives_its_approval_back() -> anyhow::Result<()> {
    let world = common::World::new()?;
    let dir = world.images.path().join("notes");
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(libos_guests::AGENT_SCRIPT, dir.join("agent.wasm"))?;
    std::fs::write(
        dir.join("policy.cedar"),
        "@decision(\"ask\") permit (principal, action == Action::\"memory.write\", resource);",
    )?;
    std::fs::write(
        dir.join("image.toml"),
        "name = \"notes\"\nversion = \"1\"\nagent = \"agent.wasm\"\npolicy = \"policy.cedar\"\n\
         capabilities = [\"memory.write:self/**\"]\n\n[budget]\nobjects = 0\n",
    )?;
    ImageStore::open(world.state.path())?.build(&dir)?;
    let kernel = common::kernel(world.state.path())?;
    let put = json!({"op": "put", "kind": "note", "key": "a", "value": 1});
    let steps = json!({"steps": [put, {"op": "await_approval", "id": "$0"}, put]});
    let pid = common::start(&kernel, "notes", &steps.to_string(), world.work.path()).await?;
    let person = terminal(&world)?;
    let id = common::pending_of(&person, pid).await?;
    common::vouch_grant(
        world.state.path(),
        person.approve(&id, Scope::Uses(1), None, "alice")?,
    )?;
    let results = results_of(&kernel, pid).await?;
    assert_eq!(results[0]["err"]["kind"], "needs-approval", "{results:?}");
    // Approved, then refused by the budget after its permit: nothing was created...
    assert_eq!(results[2]["err"]["kind"], "limit-exceeded", "{results:?}");
    let store = libos_memory::ObjectStore::open(world.state.path().join("libos.db"))?;
    assert_eq!(store.usage(&format!("pid:{pid}"))?.objects, 0);
    // ...and the approval's use came back with the dropped permit.
    let grants = person.grants(pid)?;
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(
        grants[0].uses_left,
        Some(1),
        "the failed write used nothing"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standing_rule_does_not_outlive_a_rebuild_of_its_image() -> anyhow::Result<()> {
    let world = common::World::new()?;
    writer_image(&world)?;
    std::fs::create_dir(world.work.path().join("logs"))?;
    let write = |file: &str| {
        json!({"steps": [{"op": "write", "path": format!("logs/{file}"), "text": "1"}]}).to_string()
    };
    let kernel = common::kernel(world.state.path())?;
    let waits = json!({"steps": [
        {"op": "write", "path": "logs/a.txt", "text": "1", "wait_approval_ms": 0},
    ]});
    let pid = common::start(&kernel, "writer", &waits.to_string(), world.work.path()).await?;
    let person = terminal(&world)?;
    let id = common::pending_of(&person, pid).await?;
    let (_, rule) = person.always(&id, Some("logs/**"), None, "alice")?;
    common::vouch(world.state.path(), &rule)?;
    assert!(results_of(&kernel, pid).await?[0]["ok"].is_object());
    let pid = common::start(&kernel, "writer", &write("b.txt"), world.work.path()).await?;
    assert_eq!(results_of(&kernel, pid).await?[0]["ok"], Value::Null);
    drop(kernel);

    // The same name and version, rebuilt with more capabilities: another image.
    let dir = world.images.path().join("writer");
    let manifest = std::fs::read_to_string(dir.join("image.toml"))?.replace(
        "\"process.spawn:writer\"",
        "\"process.spawn:writer\", \"shell.exec:**\"",
    );
    std::fs::write(dir.join("image.toml"), manifest)?;
    ImageStore::open(world.state.path())?.build(&dir)?;
    let kernel = common::kernel(world.state.path())?;
    let pid = common::start(&kernel, "writer", &write("c.txt"), world.work.path()).await?;
    let results = results_of(&kernel, pid).await?;
    assert_eq!(results[0]["err"]["kind"], "needs-approval", "{results:?}");
    assert!(read(world.work.path(), "logs/c.txt").is_none());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ask_record_names_a_request_that_exists() -> anyhow::Result<()> {
    let world = common::World::new()?;
    writer_image(&world)?;
    let kernel = common::kernel(world.state.path())?;
    // Asked, approved for two uses, then covered by the grant; then asked again while the
    // same effect already waits.
    let steps = json!({"steps": [
        {"op": "write", "path": "a.txt", "text": "1", "wait_approval_ms": 0},
        {"op": "write", "path": "a.txt", "text": "1"},
        {"op": "write", "path": "b.txt", "text": "2"},
        {"op": "write", "path": "b.txt", "text": "2"},
    ]});
    let pid = common::start(&kernel, "writer", &steps.to_string(), world.work.path()).await?;
    let person = terminal(&world)?;
    let id = common::pending_of(&person, pid).await?;
    common::vouch_grant(
        world.state.path(),
        person.approve(&id, "uses=2".parse()?, None, "alice")?,
    )?;
    let results = results_of(&kernel, pid).await?;
    assert!(
        results[1]["ok"].is_null(),
        "covered by the grant: {results:?}"
    );
    assert_eq!(results[2]["err"]["kind"], "needs-approval", "{results:?}");
    assert_eq!(results[3]["err"]["kind"], results[2]["err"]["kind"]);
    kernel.host().flush_audit()?;
    let asks: Vec<String> = libos_audit::read_records(&world.state.path().join("libos.db"), None)?
        .into_iter()
        .filter(|r| {
            &*r.record.decided.action == "fs.write"
                && r.record.decided.verdict == libos_audit::Verdict::Ask
        })
        .filter_map(|r| r.record.request_id.clone())
        .collect();
    // The first write asked, then (approved) asked again and was covered, the second was
    // covered, the third asked anew, the fourth found it waiting.
    assert_eq!(asks.len(), 5, "{asks:?}");
    for id in &asks {
        assert!(person.get(id).is_ok(), "{id} names no request");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_written_into_the_table_without_its_record_is_not_obeyed() -> anyhow::Result<()> {
    let world = common::World::new()?;
    writer_image(&world)?;
    std::fs::create_dir(world.work.path().join("logs"))?;
    let kernel = common::kernel(world.state.path())?;
    let write = json!({"steps": [{"op": "write", "path": "logs/a.txt", "text": "1"}]});
    let pid = common::start(&kernel, "writer", &write.to_string(), world.work.path()).await?;
    assert_eq!(
        results_of(&kernel, pid).await?[0]["err"]["kind"],
        "needs-approval"
    );
    // A row inserted straight into the table, as by a command that reached the database.
    let image = libos_image::ImageStore::open(world.state.path())?
        .get("writer")?
        .exact();
    let conn = rusqlite::Connection::open(world.state.path().join("libos.db"))?;
    conn.execute(
        "INSERT INTO human_rules (image, action, resource, effect, request_id, decided_by, \
         created_ns) VALUES (?1, 'fs.write', '**', 'always', NULL, 'alice', 1)",
        [&image],
    )?;
    drop(conn);
    let pid = common::start(&kernel, "writer", &write.to_string(), world.work.path()).await?;
    let results = results_of(&kernel, pid).await?;
    assert_eq!(results[0]["err"]["kind"], "needs-approval", "{results:?}");
    assert!(read(world.work.path(), "logs/a.txt").is_none());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_without_the_record_of_its_approval_is_not_used() -> anyhow::Result<()> {
    let world = common::World::new()?;
    writer_image(&world)?;
    let kernel = common::kernel(world.state.path())?;
    let steps = json!({"steps": [
        {"op": "write", "path": "a.txt", "text": "1", "wait_approval_ms": 0},
    ]});
    let pid = common::start(&kernel, "writer", &steps.to_string(), world.work.path()).await?;
    let person = terminal(&world)?;
    let id = common::pending_of(&person, pid).await?;
    // Approved in the table, as by something that reached the database, with no record.
    person.approve(&id, Scope::Once, None, "alice")?;
    let results = results_of(&kernel, pid).await?;
    assert_eq!(results[0]["err"]["kind"], "needs-approval", "{results:?}");
    assert!(read(world.work.path(), "a.txt").is_none());
    Ok(())
}

/// A process killed while it waits for a person (by this host, or from another terminal, which
/// the host sees at its next look at the table) leaves no request pending: its task is
/// aborted, so the host closes them with the kill, audited as `human.expire`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_while_it_asks_leaves_no_request_pending() -> anyhow::Result<()> {
    let world = common::World::new()?;
    writer_image(&world)?;
    let kernel = common::kernel(world.state.path())?;
    let other_terminal = common::kernel(world.state.path())?;
    let person = terminal(&world)?;
    let asks =
        json!({"steps": [{"op": "ask", "question": "Which branch?", "choices": ["a", "b"]}]});
    let mut closed = Vec::new();
    for from_elsewhere in [false, true] {
        let pid = common::start(&kernel, "writer", &asks.to_string(), world.work.path()).await?;
        let id = common::pending_of(&person, pid).await?;
        if from_elsewhere {
            // Another terminal sees what this host committed (as `libos ps` shows it).
            kernel.flush()?;
            other_terminal.kill(pid)?;
        } else {
            kernel.kill(pid)?;
        }
        assert!(matches!(
            kernel.wait(pid).await?,
            libos_process::ExitStatus::Killed
        ));
        let deadline = Instant::now() + Duration::from_secs(10);
        while person.get(&id)?.state == libos_human::RequestState::Pending {
            anyhow::ensure!(
                Instant::now() < deadline,
                "{id} still pending after the kill"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(person.get(&id)?.state, libos_human::RequestState::Expired);
        // Nobody can answer it any more.
        assert!(person.answer(&id, "a", "alice").is_err());
        closed.push(id);
    }
    assert!(person.pending()?.is_empty());
    kernel.host().flush_audit()?;
    let audit = libos_audit::read_records(&world.state.path().join("libos.db"), None)?;
    for id in &closed {
        assert!(
            audit
                .iter()
                .any(|r| r.record.decided.action.as_ref() == "human.expire"
                    && r.record.request_id.as_deref() == Some(id.as_str())
                    && r.record.decided.reason.contains("killed")),
            "no human.expire record for {id}"
        );
    }
    Ok(())
}
