//! Budgets: what a process and its descendants may spend over their life, charged up the
//! ancestor chain, refused with `limit-exceeded` and shown in the process table.

use crate::common;

use common::{World, fixture, kernel, results, run_to_exit, start};
use libos_image::ImageStore;
use libos_process::ExitStatus;
use serde_json::{Value, json};

fn limit(kind: &str) -> Value {
    json!({ "kind": "limit-exceeded", "message": kind })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_never_spends_more_objects_than_its_parent_has_left() -> anyhow::Result<()> {
    let f = fixture(
        "script",
        libos_guests::AGENT_SCRIPT,
        &["process.spawn:script", "memory.write:self/**"],
        "wall_clock = \"20s\"\n\n[budget]\nobjects = 3\nchildren = 2",
    )?;
    let (kernel, work) = (&f.kernel, &f.work);
    let flood = json!({ "steps": [{ "op": "repeat", "times": 10,
        "step": { "op": "put", "kind": "note", "key": "k{i}", "value": 1 } }] });
    let parent = json!({ "steps": [
        { "op": "put", "kind": "note", "key": "mine", "value": 1 },
        // Rewriting an existing object creates nothing and costs nothing.
        { "op": "put", "kind": "note", "key": "mine", "value": 2 },
        { "op": "spawn", "image": "script", "input": flood, "caps": ["memory.write:self/**"] },
        { "op": "wait", "pid": "$2" },
        { "op": "put", "kind": "note", "key": "late", "value": 1 },
        { "op": "spawn", "image": "script", "input": { "steps": [] } },
        { "op": "spawn", "image": "script", "input": { "steps": [] } },
    ]});
    let pid = start(kernel, "script", &parent.to_string(), work.path()).await?;
    let ExitStatus::Exited(out) = kernel.wait(pid).await? else {
        anyhow::bail!("the parent did not exit");
    };
    let out: Value = serde_json::from_str(&out)?;
    let steps = results(&out);
    assert_eq!(steps[1]["ok"], 2, "{out}");
    // The child has its own unlimited budget, but the parent had two objects left.
    let child = &results(&steps[3]["ok"]["output"])[0]["ok"];
    assert_eq!(child["done"], 2, "{out}");
    assert_eq!(child["error"], limit("objects"), "{out}");
    assert_eq!(steps[4]["err"], limit("objects"), "{out}");
    // Two children in all: the second spawn here is the third.
    assert!(steps[5].get("ok").is_some(), "{out}");
    assert_eq!(steps[6]["err"], limit("children"), "{out}");

    // Only the two objects the child could afford exist in its namespace.
    let child_pid = steps[2]["ok"].as_u64().unwrap_or_default();
    let store = libos_memory::ObjectStore::open(kernel.host().state().db_path())?;
    assert_eq!(store.usage(&format!("pid:{child_pid}"))?.objects, 2);
    assert_eq!(store.usage(&format!("pid:{pid}"))?.objects, 1);
    let kept = kernel.table().usage()?;
    assert_eq!(kept.get(&child_pid).map(|u| u.objects), Some(2));
    assert_eq!(
        kernel.table().children(pid)?.len(),
        2,
        "a refused spawn started a process"
    );
    let parent_usage = kept.get(&pid).copied().unwrap_or_default();
    assert_eq!((parent_usage.objects, parent_usage.children), (3, 2));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_write_budget_refuses_the_write_and_leaves_no_file() -> anyhow::Result<()> {
    let f = fixture(
        "script",
        libos_guests::AGENT_SCRIPT,
        &["fs.write:**"],
        "wall_clock = \"20s\"\n\n[budget]\nbytes_written = 10",
    )?;
    let (kernel, work) = (&f.kernel, &f.work);
    let script = json!({ "steps": [
        { "op": "write", "path": "a.txt", "text": "123456" },
        { "op": "write", "path": "b.txt", "text": "123456" },
        { "op": "write", "path": "c.txt", "text": "1234" },
    ]});
    let out = run_to_exit(kernel, "script", &script.to_string(), work.path()).await?;
    let steps = results(&out);
    assert_eq!(steps[0]["ok"], Value::Null, "{out}");
    assert_eq!(steps[1]["err"], limit("bytes-written"), "{out}");
    assert_eq!(steps[2]["ok"], Value::Null, "{out}");
    assert!(work.path().join("a.txt").exists());
    assert!(
        !work.path().join("b.txt").exists(),
        "a refused write left a file"
    );
    assert_eq!(std::fs::read_to_string(work.path().join("c.txt"))?, "1234");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fuel_budget_ends_a_busy_process_and_its_usage_is_recorded() -> anyhow::Result<()> {
    let f = fixture(
        "spinner",
        libos_guests::AGENT_SPINNER,
        &[],
        "wall_clock = \"60s\"\nfuel_per_slice = 1000000\n\n[budget]\nfuel = 50000000",
    )?;
    let (kernel, work) = (&f.kernel, &f.work);
    let pid = start(kernel, "spinner", "{}", work.path()).await?;
    let status = kernel.wait(pid).await?;
    assert_eq!(
        status,
        ExitStatus::Failed("limit exceeded: fuel".into()),
        "{status:?}"
    );
    let usage = kernel
        .table()
        .usage()?
        .get(&pid)
        .copied()
        .unwrap_or_default();
    assert!(usage.fuel >= 50_000_000, "{usage:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_of_a_child_count_against_its_parent() -> anyhow::Result<()> {
    let w = World::new()?;
    let dir = w.images.path().join("caller");
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(libos_guests::AGENT_SCRIPT, dir.join("agent.wasm"))?;
    std::fs::copy(libos_guests::WORD_COUNT, dir.join("word_count.wasm"))?;
    std::fs::write(
        dir.join("image.toml"),
        "name = \"caller\"\nversion = \"1\"\nagent = \"agent.wasm\"\n\
         capabilities = [\"process.spawn:caller\"]\n\n\
         [tools]\nword_count = \"word_count.wasm\"\n\n[budget]\ntool_calls = 3\n",
    )?;
    ImageStore::open(w.state.path())?.build(&dir)?;
    let kernel = kernel(w.state.path())?;
    let call = json!({ "op": "tool", "name": "word_count", "input": { "text": "a b c" } });
    let child = json!({ "steps": [{ "op": "repeat", "times": 10, "step": call }] });
    let parent = json!({ "steps": [
        call,
        { "op": "spawn", "image": "caller", "input": child },
        { "op": "wait", "pid": "$1" },
        call,
    ]});
    let out = run_to_exit(&kernel, "caller", &parent.to_string(), w.work()).await?;
    let steps = results(&out);
    assert_eq!(steps[0]["ok"]["words"], 3, "{out}");
    // The child's own budget is 3, but its parent had only 2 left.
    let repeat = &results(&steps[2]["ok"]["output"])[0]["ok"];
    assert_eq!(repeat["done"], 2, "{out}");
    assert_eq!(repeat["error"], limit("tool-calls"), "{out}");
    assert_eq!(steps[3]["err"], limit("tool-calls"), "{out}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_by_compare_and_swap_is_charged_like_a_put() -> anyhow::Result<()> {
    let f = fixture(
        "script",
        libos_guests::AGENT_SCRIPT,
        &["memory.write:self/**"],
        "wall_clock = \"20s\"\n\n[budget]\nobjects = 2",
    )?;
    let (kernel, work) = (&f.kernel, &f.work);
    let script = json!({ "steps": [
        { "op": "cas", "kind": "note", "key": "a", "expected": 0, "value": 1 },
        // A conflict creates nothing and costs nothing.
        { "op": "cas", "kind": "note", "key": "a", "expected": 0, "value": 2 },
        // Swapping an existing object creates nothing either.
        { "op": "cas", "kind": "note", "key": "a", "expected": 1, "value": 3 },
        { "op": "cas", "kind": "note", "key": "b", "expected": 0, "value": 1 },
        { "op": "cas", "kind": "note", "key": "c", "expected": 0, "value": 1 },
        { "op": "put", "kind": "note", "key": "d", "value": 1 },
    ]});
    let pid = start(kernel, "script", &script.to_string(), work.path()).await?;
    let ExitStatus::Exited(out) = kernel.wait(pid).await? else {
        anyhow::bail!("the process did not exit");
    };
    let out: Value = serde_json::from_str(&out)?;
    let steps = results(&out);
    assert_eq!(steps[0]["ok"], json!({ "swapped": 1 }), "{out}");
    assert_eq!(steps[1]["ok"], json!({ "conflict": 1 }), "{out}");
    assert_eq!(steps[2]["ok"], json!({ "swapped": 2 }), "{out}");
    assert_eq!(steps[3]["ok"], json!({ "swapped": 1 }), "{out}");
    assert_eq!(steps[4]["err"], limit("objects"), "{out}");
    assert_eq!(steps[5]["err"], limit("objects"), "{out}");
    // Refused creations left no object.
    let store = libos_memory::ObjectStore::open(kernel.host().state().db_path())?;
    assert_eq!(store.usage(&format!("pid:{pid}"))?.objects, 2);
    let usage = kernel
        .table()
        .usage()?
        .get(&pid)
        .copied()
        .unwrap_or_default();
    assert_eq!(usage.objects, 2, "{usage:?}");
    Ok(())
}
