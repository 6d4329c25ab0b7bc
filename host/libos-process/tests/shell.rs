//! The shell primitive under each policy level, with every bypass class: allowed commands
//! run (argv only, empty environment, no stdin, timeout, output cap, in the working
//! directory); everything else is refused or routed to a person, and leaves no effect.

use crate::common;

use std::time::{Duration, Instant};

use libos_human::{HumanQueue, Scope};
use libos_image::ImageStore;
use serde_json::{Value, json};

const DENY_ALL: &str = include_str!("../../../docs/policies/shell-deny-all.cedar");
const ALLOWLIST_ONLY: &str = include_str!("../../../docs/policies/shell-allowlist-only.cedar");
const ALLOWLIST_ELSE_ASK: &str =
    include_str!("../../../docs/policies/shell-allowlist-else-ask.cedar");
const ASK_ALL: &str = include_str!("../../../docs/policies/shell-ask-all.cedar");

/// Builds image `name` (the script agent with every shell and fs capability) with `policy`.
fn image(world: &common::World, name: &str, policy: &str) -> anyhow::Result<()> {
    let dir = world.images.path().join(name);
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(libos_guests::AGENT_SCRIPT, dir.join("agent.wasm"))?;
    std::fs::write(dir.join("policy.cedar"), policy)?;
    std::fs::write(
        dir.join("image.toml"),
        format!(
            "name = {name:?}\nversion = \"1\"\nagent = \"agent.wasm\"\npolicy = \"policy.cedar\"\n\
             capabilities = [\"shell.*:**\", \"human.ask:*\", \"fs.read:**\", \"fs.write:**\"]\n\n[limits]\nwall_clock = \"60s\"\n"
        ),
    )?;
    ImageStore::open(world.state.path())?.build(&dir)?;
    Ok(())
}

fn step(argv: &[&str]) -> Value {
    json!({"op": "shell", "argv": argv})
}

/// Runs `steps` in a process of `image` and returns each step's result.
async fn run(world: &common::World, image: &str, steps: Vec<Value>) -> anyhow::Result<Vec<Value>> {
    let kernel = common::kernel(world.state.path())?;
    let out = common::run_to_exit(
        &kernel,
        image,
        &json!({ "steps": steps }).to_string(),
        world.work.path(),
    )
    .await?;
    Ok(out["results"].as_array().cloned().unwrap_or_default())
}

/// Every way to delete `victim.txt` (or reach the network, or hide an effect) that the
/// classifier must see through: none may run without a person.
fn bypasses() -> Vec<Vec<&'static str>> {
    vec![
        vec!["rm", "victim.txt"],
        vec!["/bin/rm", "victim.txt"],
        vec!["env", "rm", "victim.txt"],
        vec!["env", "FOO=1", "/usr/bin/env", "rm", "victim.txt"],
        vec!["timeout", "5", "rm", "victim.txt"],
        vec!["nice", "-n", "5", "rm", "victim.txt"],
        vec!["busybox", "rm", "victim.txt"],
        vec!["find", ".", "-name", "victim.txt", "-delete"],
        vec!["find", ".", "-name", "victim.txt", "-exec", "rm", "{}", ";"],
        vec!["xargs", "rm"],
        vec!["sh", "-c", "rm victim.txt"],
        vec!["bash", "-c", "rm victim.txt"],
        vec!["python3", "-c", "import os; os.remove('victim.txt')"],
        vec!["perl", "-e", "unlink 'victim.txt'"],
        vec!["node", "-e", "require('fs').unlinkSync('victim.txt')"],
        vec!["dd", "if=/dev/null", "of=victim.txt"],
        vec!["chmod", "000", "victim.txt"],
        vec!["truncate", "-s", "0", "victim.txt"],
        vec!["curl", "http://127.0.0.1:9/"],
        vec!["wget", "http://127.0.0.1:9/"],
        vec!["nc", "127.0.0.1", "9"],
        vec!["ssh", "localhost", "rm", "victim.txt"],
        // `rm` copied into the working directory under an allowlisted name.
        vec!["./ls", "victim.txt"],
        vec!["env", "./ls", "victim.txt"],
        vec!["git", "-c", "alias.x=!rm victim.txt", "x"],
    ]
}

/// A copy of `rm` named `ls` in the working directory: a name on every allowlist.
fn disguised_rm(world: &common::World) -> anyhow::Result<()> {
    let ls = world.work.path().join("ls");
    std::fs::copy("/bin/rm", &ls)?;
    Ok(())
}

/// Shell syntax smuggled in arguments: refused under every level, nothing created.
fn syntax() -> Vec<Vec<&'static str>> {
    vec![
        vec!["echo", "gone", ">", "victim.txt"],
        vec!["echo", "x", ">created.txt"],
        vec!["echo", "x", "|", "rm", "victim.txt"],
        vec!["echo", "x", ";", "rm", "victim.txt"],
        vec!["echo", "x", "&&", "rm", "victim.txt"],
        vec!["echo", "$(rm victim.txt)"],
        vec!["echo", "`rm victim.txt`"],
    ]
}

fn assert_untouched(world: &common::World) {
    assert_eq!(
        std::fs::read_to_string(world.work.path().join("victim.txt"))
            .ok()
            .as_deref(),
        Some("precious"),
        "victim.txt changed"
    );
    assert!(!world.work.path().join("created.txt").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowlisted_commands_run_in_a_bare_environment() -> anyhow::Result<()> {
    let world = common::World::new()?;
    image(&world, "sh-allow", ALLOWLIST_ELSE_ASK)?;
    std::fs::write(world.work.path().join("victim.txt"), "precious")?;
    let results = run(
        &world,
        "sh-allow",
        vec![
            step(&["echo", "hello", "world"]),
            step(&["cat", "victim.txt"]),
            step(&["pwd"]),
            step(&["false"]),
            step(&["cat"]),
            json!({"op": "shell", "argv": ["cat", "/dev/zero"], "timeout_ms": 300}),
            step(&["head", "-c", "3000000", "/dev/zero"]),
            step(&["ls", "/nonexistent-dir"]),
            step(&["no-such-program-xyz"]),
            step(&[]),
            step(&["echo", "nul\u{0}byte"]),
        ],
    )
    .await?;
    let ok = |i: usize| &results[i]["ok"];
    assert_eq!(ok(0)["stdout"], "hello world\n", "{results:?}");
    assert_eq!(ok(0)["exit_code"], 0);
    assert_eq!(ok(1)["stdout"], "precious", "runs in the working directory");
    let pwd = ok(2)["stdout"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert_eq!(
        std::fs::canonicalize(&pwd)?,
        std::fs::canonicalize(world.work.path())?
    );
    assert_eq!(ok(3)["exit_code"], 1);
    assert_eq!(ok(4)["stdout"], "", "no stdin: cat ends at once");
    assert_eq!(ok(5)["timed_out"], true, "{:?}", results[5]);
    assert_eq!(ok(5)["exit_code"], Value::Null);
    assert_eq!(ok(6)["truncated"], true);
    assert!(ok(6)["stdout"].as_str().is_some_and(|s| s.len() <= 1 << 20));
    assert_ne!(ok(7)["exit_code"], 0);
    assert!(!ok(7)["stderr"].as_str().unwrap_or_default().is_empty());
    assert_eq!(
        results[8]["err"]["kind"], "needs-approval",
        "an unknown program is not on the list"
    );
    assert_eq!(results[9]["err"]["kind"], "invalid");
    assert_eq!(results[10]["err"]["kind"], "invalid");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_is_empty_but_for_path() -> anyhow::Result<()> {
    let world = common::World::new()?;
    image(&world, "sh-ask", ASK_ALL)?;
    let kernel = common::kernel(world.state.path())?;
    let steps = json!({"steps": [{"op": "shell", "argv": ["env"], "wait_approval_ms": 0}]});
    let pid = common::start(&kernel, "sh-ask", &steps.to_string(), world.work.path()).await?;
    let person = HumanQueue::open(world.state.path().join("libos.db"))?;
    let id = common::pending_of(&person, pid).await?;
    common::vouch_grant(
        world.state.path(),
        person.approve(&id, Scope::Once, None, "alice")?,
    )?;
    let libos_process::ExitStatus::Exited(out) = kernel.wait(pid).await? else {
        anyhow::bail!("did not exit");
    };
    let out: Value = serde_json::from_str(&out)?;
    let env = out["results"][0]["ok"]["stdout"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        env.trim(),
        format!("PATH={}", libos::primitives::shell::PATH)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowlist_else_ask_routes_every_bypass_to_a_person() -> anyhow::Result<()> {
    let world = common::World::new()?;
    image(&world, "sh-allow", ALLOWLIST_ELSE_ASK)?;
    std::fs::write(world.work.path().join("victim.txt"), "precious")?;
    disguised_rm(&world)?;
    let mut steps: Vec<Value> = bypasses().iter().map(|a| step(a)).collect();
    let asked = steps.len();
    steps.extend(syntax().iter().map(|a| step(a)));
    let results = run(&world, "sh-allow", steps).await?;
    for (i, r) in results.iter().enumerate() {
        let want = if i < asked {
            "needs-approval"
        } else {
            "denied"
        };
        assert_eq!(r["err"]["kind"], want, "step {i}: {r}");
    }
    assert_untouched(&world);
    // Each went to the queue as what it really is (closed since: the process ended).
    let queue = HumanQueue::open(world.state.path().join("libos.db"))?;
    let mut actions: Vec<String> = Vec::new();
    for r in &results[..asked] {
        let id = r["err"]["message"].as_str().unwrap_or_default();
        if let libos_human::RequestKind::Approval {
            action, resource, ..
        } = queue.get(id)?.kind
        {
            actions.push(format!("{action} {resource}"));
        }
    }
    for expected in [
        "shell.destructive rm",
        "shell.destructive find",
        "shell.interpreter sh",
        "shell.interpreter python3",
        "shell.network curl",
        "shell.network ssh",
        "shell.interpreter ./ls",
        "shell.interpreter git",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} not in {actions:?}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowlist_only_and_deny_all_refuse_and_ask_nobody() -> anyhow::Result<()> {
    let world = common::World::new()?;
    image(&world, "sh-only", ALLOWLIST_ONLY)?;
    image(&world, "sh-none", DENY_ALL)?;
    std::fs::write(world.work.path().join("victim.txt"), "precious")?;
    disguised_rm(&world)?;
    let mut steps: Vec<Value> = bypasses().iter().map(|a| step(a)).collect();
    steps.extend(syntax().iter().map(|a| step(a)));
    steps.push(step(&["echo", "allowed"]));
    let last = steps.len() - 1;
    let only = run(&world, "sh-only", steps.clone()).await?;
    let none = run(&world, "sh-none", steps).await?;
    for (i, r) in only.iter().enumerate().take(last) {
        assert_eq!(r["err"]["kind"], "denied", "allowlist-only step {i}: {r}");
    }
    assert_eq!(only[last]["ok"]["stdout"], "allowed\n");
    for (i, r) in none.iter().enumerate() {
        assert_eq!(r["err"]["kind"], "denied", "deny-all step {i}: {r}");
    }
    assert_untouched(&world);
    let queue = HumanQueue::open(world.state.path().join("libos.db"))?;
    assert!(queue.pending()?.is_empty(), "nobody was asked");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_command_runs_once_with_exactly_its_arguments() -> anyhow::Result<()> {
    let world = common::World::new()?;
    image(&world, "sh-allow", ALLOWLIST_ELSE_ASK)?;
    std::fs::write(world.work.path().join("victim.txt"), "precious")?;
    std::fs::write(world.work.path().join("old.txt"), "old")?;
    let kernel = common::kernel(world.state.path())?;
    let steps = json!({"steps": [
        {"op": "shell", "argv": ["rm", "old.txt"], "wait_approval_ms": 0},
        {"op": "shell", "argv": ["rm", "victim.txt"]},
        {"op": "shell", "argv": ["rm", "old.txt"]},
    ]});
    let pid = common::start(&kernel, "sh-allow", &steps.to_string(), world.work.path()).await?;
    let person = HumanQueue::open(world.state.path().join("libos.db"))?;
    let request = person.get(&common::pending_of(&person, pid).await?)?;
    let libos_human::RequestKind::Approval { preview, .. } = &request.kind else {
        anyhow::bail!("not an approval");
    };
    assert!(preview.contains(r#"["rm","old.txt"]"#), "{preview}");
    common::vouch_grant(
        world.state.path(),
        person.approve(&request.id, Scope::Once, None, "alice")?,
    )?;
    let libos_process::ExitStatus::Exited(out) = kernel.wait(pid).await? else {
        anyhow::bail!("did not exit");
    };
    let out: Value = serde_json::from_str(&out)?;
    let results = out["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results[0]["ok"]["exit_code"], 0, "{results:?}");
    assert!(!world.work.path().join("old.txt").exists());
    assert_eq!(
        results[1]["err"]["kind"], "needs-approval",
        "other arguments"
    );
    assert_eq!(results[2]["err"]["kind"], "needs-approval", "used once");
    assert_untouched(&world);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_command_is_bound_to_the_files_it_names() -> anyhow::Result<()> {
    let world = common::World::new()?;
    let policy = format!(
        "{ASK_ALL}\n@id(\"questions\") permit (principal, action == Action::\"human.ask\", resource);"
    );
    image(&world, "sh-ask", &policy)?;
    std::fs::write(world.work.path().join("data.txt"), "approved content")?;
    let kernel = common::kernel(world.state.path())?;
    let steps = json!({"steps": [
        {"op": "shell", "argv": ["cat", "data.txt"], "wait_approval_ms": 0},
        {"op": "shell", "argv": ["cat", "data.txt"]},
        {"op": "ask", "question": "go on?"},
        {"op": "shell", "argv": ["cat", "data.txt"]},
    ]});
    let pid = common::start(&kernel, "sh-ask", &steps.to_string(), world.work.path()).await?;
    let person = HumanQueue::open(world.state.path().join("libos.db"))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut approved = false;
    loop {
        anyhow::ensure!(Instant::now() < deadline, "stuck");
        if let Some(r) = person.pending()?.into_iter().find(|r| r.pid == pid) {
            if !approved {
                common::vouch_grant(
                    world.state.path(),
                    person.approve(&r.id, Scope::Session, None, "alice")?,
                )?;
                approved = true;
            } else if let libos_human::RequestKind::Question { .. } = r.kind {
                // The file changes between the approval and the next run.
                std::fs::write(world.work.path().join("data.txt"), "swapped")?;
                person.answer(&r.id, "yes", "alice")?;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let libos_process::ExitStatus::Exited(out) = kernel.wait(pid).await? else {
        anyhow::bail!("did not exit");
    };
    let out: Value = serde_json::from_str(&out)?;
    let results = out["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        results[0]["ok"]["stdout"], "approved content",
        "{results:?}"
    );
    assert_eq!(
        results[1]["ok"]["stdout"], "approved content",
        "session: covered again"
    );
    assert_eq!(
        results[3]["err"]["kind"], "needs-approval",
        "the file changed: {results:?}"
    );
    Ok(())
}

/// Waits (up to 20 s) until `pid` has a pending request whose preview shows `argv`.
async fn pending_for(
    person: &HumanQueue,
    pid: u64,
    argv: &[&str],
) -> anyhow::Result<libos_human::Request> {
    let shown = serde_json::to_string(argv)?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = person.pending()?.into_iter().find(|r| {
            r.pid == pid
                && matches!(&r.kind, libos_human::RequestKind::Approval { preview, .. }
                    if preview.contains(&shown))
        });
        if let Some(r) = found {
            return Ok(r);
        }
        anyhow::ensure!(Instant::now() < deadline, "no request for {shown}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standing_answer_covers_its_command_line_not_the_program() -> anyhow::Result<()> {
    let world = common::World::new()?;
    image(&world, "sh-ask", ASK_ALL)?;
    for d in ["a", "b"] {
        std::fs::create_dir(world.work.path().join(d))?;
        std::fs::write(world.work.path().join(d).join("in.txt"), "x")?;
    }
    let kernel = common::kernel(world.state.path())?;
    let steps = json!({"steps": [
        {"op": "shell", "argv": ["ls", "a"], "wait_approval_ms": 0},
        {"op": "shell", "argv": ["ls", "a"]},
        {"op": "shell", "argv": ["ls", "/etc"]},
        {"op": "shell", "argv": ["ls", "b"]},
        {"op": "shell", "argv": ["ls", "-l", "a"], "wait_approval_ms": 0},
        {"op": "shell", "argv": ["ls", "-l", "b"]},
        {"op": "shell", "argv": ["ls", "-la", "a"]},
        {"op": "shell", "argv": ["rm", "a/in.txt"], "wait_approval_ms": 0},
        {"op": "shell", "argv": ["rm", "b/in.txt"]},
    ]});
    let pid = common::start(&kernel, "sh-ask", &steps.to_string(), world.work.path()).await?;
    let person = HumanQueue::open(world.state.path().join("libos.db"))?;
    // No pattern: the rule is bound to this argv.
    let first = pending_for(&person, pid, &["ls", "a"]).await?;
    let (_, rule) = person.always(&first.id, None, None, "alice")?;
    common::vouch(world.state.path(), &rule)?;
    assert_eq!(rule.resource, "ls a");
    // A pattern over the command line, naming the program.
    let typed = pending_for(&person, pid, &["ls", "-l", "a"]).await?;
    assert!(
        person
            .always(&typed.id, Some("rm *"), None, "alice")
            .is_err()
    );
    let (_, rule) = person.always(&typed.id, Some("ls -l *"), None, "alice")?;
    common::vouch(world.state.path(), &rule)?;
    // `never` without a pattern refuses that argv only.
    let rm = pending_for(&person, pid, &["rm", "a/in.txt"]).await?;
    let (_, rule) = person.never(&rm.id, None, None, "alice")?;
    common::vouch(world.state.path(), &rule)?;
    let libos_process::ExitStatus::Exited(out) = kernel.wait(pid).await? else {
        anyhow::bail!("did not exit");
    };
    let out: Value = serde_json::from_str(&out)?;
    let results = common::results(&out);
    assert_eq!(results[0]["ok"]["stdout"], "in.txt\n", "{results:?}");
    assert_eq!(
        results[1]["ok"]["stdout"], "in.txt\n",
        "the same argv: covered"
    );
    assert_eq!(
        results[2]["err"]["kind"], "needs-approval",
        "ls /etc: not covered"
    );
    assert_eq!(
        results[3]["err"]["kind"], "needs-approval",
        "ls b: not covered"
    );
    assert_eq!(results[4]["ok"]["exit_code"], 0, "{:?}", results[4]);
    assert_eq!(
        results[5]["ok"]["exit_code"], 0,
        "ls -l b: the pattern covers it"
    );
    assert_eq!(
        results[6]["err"]["kind"], "needs-approval",
        "ls -la a: not covered"
    );
    assert_eq!(results[7]["err"]["kind"], "denied");
    assert_eq!(
        results[8]["err"]["kind"], "needs-approval",
        "never covers one argv"
    );
    assert!(world.work.path().join("a/in.txt").exists());
    assert!(world.work.path().join("b/in.txt").exists());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_record_carries_its_whole_argv_cut_at_the_cap() -> anyhow::Result<()> {
    let world = common::World::new()?;
    image(&world, "sh-record", ALLOWLIST_ELSE_ASK)?;
    std::fs::write(world.work.path().join("notes.txt"), "n")?;
    let hostile = "a\nb\u{1b}[2Jc";
    // Within the primitive's limits (each argument at most 4 KiB), far past the record's cap.
    let long = "y".repeat(4000);
    let mut echo = vec!["echo"];
    echo.extend(std::iter::repeat_n(long.as_str(), 3));
    let results = run(
        &world,
        "sh-record",
        vec![step(&["cat", "notes.txt", "--", hostile]), step(&echo)],
    )
    .await?;
    assert!(results[1]["ok"]["exit_code"] == 0, "{results:?}");
    let records = libos_audit::read_records(&world.state.path().join("libos.db"), None)?;
    let details: Vec<&str> = records
        .iter()
        .filter(|r| r.record.decided.action.starts_with("shell."))
        .filter_map(|r| r.record.detail.as_deref())
        .collect();
    // The program is the resource (what is decided); the record keeps every argument, as
    // JSON, cut at the cap with a note.
    let exact = serde_json::to_string(&["cat", "notes.txt", "--", hostile])?;
    assert!(details.contains(&exact.as_str()), "{details:?}");
    let cut = details
        .iter()
        .find(|d| d.starts_with("[\"echo\""))
        .ok_or_else(|| anyhow::anyhow!("no record of echo: {details:?}"))?;
    assert!(cut.len() <= libos_audit::MAX_DETAIL, "{}", cut.len());
    assert!(cut.ends_with("bytes in all)"), "{cut}");
    Ok(())
}
