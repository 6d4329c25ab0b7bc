//! Nothing acts without the check: every function of every `libos:runtime` interface the agent
//! and tool worlds import is listed in `libos_process::surface` as decided or ambient (with a
//! reason), and calling each one leaves exactly the decisions the table says in the audit log
//! under the caller's subject: one per call of a decided function, none for an ambient one.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{World, kernel, results};
use libos_image::ImageStore;
use libos_process::surface::{self, Governed};
use libos_process::{ExitStatus, Kernel};
use serde_json::{Value, json};

/// `package/interface.function` of every function the `tool` and `agent` worlds import.
fn imported_functions() -> anyhow::Result<BTreeSet<String>> {
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit");
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve.push_dir(&wit)?;
    let mut out = BTreeSet::new();
    for name in ["tool", "agent"] {
        let world = resolve.select_world(&[package], Some(name))?;
        for item in resolve.worlds[world].imports.values() {
            let wit_parser::WorldItem::Interface { id, .. } = item else {
                continue;
            };
            let interface = &resolve.interfaces[*id];
            let Some(iface_name) = &interface.name else {
                continue;
            };
            let pkg = interface
                .package
                .map(|p| resolve.packages[p].name.clone())
                .ok_or_else(|| anyhow::anyhow!("interface {iface_name} has no package"))?;
            for function in interface.functions.keys() {
                out.insert(format!(
                    "{}:{}/{iface_name}.{function}",
                    pkg.namespace, pkg.name
                ));
            }
        }
    }
    Ok(out)
}

#[test]
fn every_imported_function_is_listed_decided_or_ambient_with_a_reason() -> anyhow::Result<()> {
    let imported = imported_functions()?;
    assert!(imported.len() >= 25, "{imported:?}");
    let listed: BTreeSet<String> = surface::RUNTIME
        .iter()
        .map(|e| e.function.to_owned())
        .collect();
    let unlisted: Vec<_> = imported.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "not governed by the table: {unlisted:?}"
    );
    let stale: Vec<_> = listed.difference(&imported).collect();
    assert!(
        stale.is_empty(),
        "listed but imported by no world: {stale:?}"
    );
    for e in surface::RUNTIME {
        if let Governed::Ambient(why) = e.governed {
            assert!(
                why.len() > 20,
                "{}: give the reason it is ambient",
                e.function
            );
        }
    }
    // The architecture document shows the same table.
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/ARCHITECTURE.md"),
    )?;
    for e in surface::RUNTIME {
        let short = e.function.trim_start_matches("libos:runtime/");
        assert!(
            doc.contains(&format!("`{short}`")),
            "ARCHITECTURE.md does not list {short}"
        );
    }
    Ok(())
}

/// The WIT directory (`dir` inside the crate) of `krate` as this workspace builds against it
/// (the version in `Cargo.lock`, from cargo's registry sources, where building it unpacked
/// it).
fn crate_wit(krate: &str, dir: &str) -> anyhow::Result<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let lock = std::fs::read_to_string(root.join("Cargo.lock"))?;
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains(&format!("name = \"{krate}\"\n")))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .and_then(|v| v.strip_suffix('"'))
        .ok_or_else(|| anyhow::anyhow!("{krate} is not in Cargo.lock"))?;
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .ok_or_else(|| anyhow::anyhow!("no CARGO_HOME or HOME"))?;
    for index in std::fs::read_dir(home.join("registry/src"))? {
        let wit = index?.path().join(format!("{krate}-{version}/{dir}"));
        if wit.is_dir() {
            return Ok(wit);
        }
    }
    anyhow::bail!("the sources of {krate} {version} are not in cargo's registry")
}

#[test]
fn every_linked_wasi_function_is_listed_decided_or_ambient_with_a_reason() -> anyhow::Result<()> {
    let mut linked = BTreeSet::new();
    // wasi:http comes from wasmtime-wasi-http, everything else from wasmtime-wasi.
    for (krate, dir) in [
        ("wasmtime-wasi", "src/p2/wit"),
        ("wasmtime-wasi-http", "wit"),
    ] {
        let mut resolve = wit_parser::Resolve::default();
        resolve.push_dir(crate_wit(krate, dir)?)?;
        for (_, interface) in resolve.interfaces.iter() {
            let (Some(name), Some(pkg)) = (&interface.name, interface.package) else {
                continue;
            };
            let pkg = &resolve.packages[pkg].name;
            let qualified = format!("{}:{}/{name}", pkg.namespace, pkg.name);
            if !surface::wasi_interfaces().any(|i| i == qualified) {
                continue;
            }
            for function in interface.functions.keys() {
                linked.insert(format!("{qualified}.{function}"));
            }
        }
    }
    assert!(linked.len() >= 160, "{linked:?}");
    let listed: BTreeSet<String> = surface::WASI
        .iter()
        .map(|e| e.function.to_owned())
        .collect();
    let unlisted: Vec<_> = linked.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "linked but not governed by the table: {unlisted:?}"
    );
    let stale: Vec<_> = listed.difference(&linked).collect();
    assert!(stale.is_empty(), "listed but not linked: {stale:?}");
    for e in surface::WASI {
        if let Governed::Ambient(why) = e.governed {
            assert!(
                why.len() > 20,
                "{}: give the reason it is ambient",
                e.function
            );
        }
    }
    Ok(())
}

/// How to call a function from the script fixture: the steps that set it up (each calling
/// only decided functions, listed in `setup`), then the call itself.
struct Exercise {
    function: &'static str,
    setup: &'static [&'static str],
    steps: Value,
}

fn exercises() -> Vec<Exercise> {
    let minimal = json!({ "op": "spawn", "image": "minimal", "input": {} });
    let sleeper = json!({ "op": "spawn", "image": "walk",
        "input": { "steps": [{ "op": "recv", "timeout_ms": 30000 }] } });
    let put = json!({ "op": "put", "kind": "k", "key": "a", "value": 1 });
    let write = json!({ "op": "write", "path": "w.txt", "text": "x" });
    let ex = |function, setup: &'static [&'static str], steps: Value| Exercise {
        function,
        setup,
        steps,
    };
    vec![
        ex(
            "libos:runtime/fs.read",
            &[],
            json!([{ "op": "read", "path": "given.txt" }]),
        ),
        ex("libos:runtime/fs.write", &[], json!([write])),
        ex(
            "libos:runtime/fs.list",
            &[],
            json!([{ "op": "list", "path": "." }]),
        ),
        ex(
            "libos:runtime/fs.delete",
            &["libos:runtime/fs.write"],
            json!([write, { "op": "delete", "path": "w.txt" }]),
        ),
        ex(
            "libos:runtime/fs.stat",
            &[],
            json!([{ "op": "stat", "path": "given.txt" }]),
        ),
        ex("libos:runtime/clock.now", &[], json!([{ "op": "now" }])),
        ex(
            "libos:runtime/clock.monotonic",
            &[],
            json!([{ "op": "monotonic" }]),
        ),
        ex(
            "libos:runtime/log.log",
            &[],
            json!([{ "op": "log", "message": "hi" }]),
        ),
        ex(
            "libos:runtime/shell.run",
            &[],
            json!([{ "op": "shell", "argv": ["true"] }]),
        ),
        ex("libos:runtime/process.spawn", &[], json!([minimal])),
        ex(
            "libos:runtime/process.wait",
            &["libos:runtime/process.spawn"],
            json!([minimal, { "op": "wait", "pid": "$0" }]),
        ),
        ex(
            "libos:runtime/process.kill",
            &["libos:runtime/process.spawn"],
            json!([sleeper, { "op": "kill", "pid": "$0" }]),
        ),
        ex(
            "libos:runtime/process.signal",
            &["libos:runtime/process.spawn"],
            json!([sleeper, { "op": "signal", "pid": "$0", "kind": "terminate" }]),
        ),
        ex(
            "libos:runtime/process.exec",
            &[],
            json!([{ "op": "exec", "image": "minimal", "input": {} }]),
        ),
        ex(
            "libos:runtime/process.self-info",
            &[],
            json!([{ "op": "self" }]),
        ),
        ex(
            "libos:runtime/process.send",
            &["libos:runtime/process.spawn", "libos:runtime/process.kill"],
            json!([sleeper, { "op": "send", "to": "$0", "body": 1 }, { "op": "kill", "pid": "$0" }]),
        ),
        ex(
            "libos:runtime/process.recv",
            &[],
            json!([{ "op": "recv", "timeout_ms": 0 }]),
        ),
        ex(
            "libos:runtime/process.snapshot",
            &[],
            json!([{ "op": "snapshot" }]),
        ),
        ex("libos:runtime/tools.list", &[], json!([{ "op": "tools" }])),
        ex(
            "libos:runtime/tools.register",
            &["libos:runtime/fs.read"],
            json!([{ "op": "register", "file": "handed.wasm", "name": "counted", "caps": [] }]),
        ),
        ex(
            "libos:runtime/tools.call",
            &[],
            json!([{ "op": "tool", "name": "word_count", "input": { "text": "a b" } }]),
        ),
        ex("libos:runtime/memory.put", &[], json!([put])),
        ex(
            "libos:runtime/memory.get",
            &["libos:runtime/memory.put"],
            json!([put, { "op": "get", "kind": "k", "key": "a" }]),
        ),
        ex(
            "libos:runtime/memory.list",
            &["libos:runtime/memory.put"],
            json!([put, { "op": "mem_list", "kind": "k" }]),
        ),
        ex(
            "libos:runtime/memory.compare-and-swap",
            &[],
            json!([{ "op": "cas", "kind": "k", "key": "b", "expected": 0, "value": 1 }]),
        ),
        ex(
            "libos:runtime/memory.delete",
            &["libos:runtime/memory.put"],
            json!([put, { "op": "mem_delete", "kind": "k", "key": "a" }]),
        ),
        ex(
            "libos:runtime/events.emit",
            &[],
            json!([{ "op": "emit", "topic": "t", "payload": 1 }]),
        ),
        ex(
            "libos:runtime/events.wait",
            &[],
            json!([{ "op": "wait_event", "topic": "t", "timeout_ms": 0 }]),
        ),
        ex(
            "libos:runtime/human.request-approval",
            &[],
            json!([{ "op": "await_approval", "id": "req-not-mine", "timeout_ms": 0 }]),
        ),
        ex(
            "libos:runtime/human.ask",
            &[],
            json!([{ "op": "ask", "question": "ok?", "choices": [], "timeout_ms": 10 }]),
        ),
        ex(
            "libos:runtime/time.sleep",
            &[],
            json!([{ "op": "sleep", "ms": 1 }]),
        ),
        ex(
            "libos:runtime/time.sleep-until",
            &[],
            json!([{ "op": "sleep_until", "seconds": 1 }]),
        ),
    ]
}

/// Builds `walk` (the script fixture, with a tool, allowed what the exercises do) and
/// `minimal` in `world`.
fn images(world: &World) -> anyhow::Result<()> {
    world.image("minimal", libos_guests::AGENT_MINIMAL, &[], "")?;
    let dir = world.images.path().join("walk");
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(libos_guests::AGENT_SCRIPT, dir.join("agent.wasm"))?;
    std::fs::copy(libos_guests::WORD_COUNT, dir.join("word_count.wasm"))?;
    std::fs::write(
        dir.join("image.toml"),
        "name = \"walk\"\nversion = \"1\"\nagent = \"agent.wasm\"\n\
         capabilities = [\"fs.*\", \"memory.*\", \"events.*\", \"process.spawn:*\", \
         \"process.exec:*\", \"shell.*\", \"human.ask\", \"tool.register:*\"]\n\n\
         [tools]\nword_count = \"word_count.wasm\"\n\n[limits]\nwall_clock = \"60s\"\n",
    )?;
    ImageStore::open(world.state.path())?.build(&dir)?;
    Ok(())
}

/// Runs `steps` as a root process of `walk`; returns its pid and output.
async fn run(kernel: &Kernel, work: &Path, steps: &Value) -> anyhow::Result<(u64, Value)> {
    let input = json!({ "steps": steps }).to_string();
    let pid = common::start(kernel, "walk", &input, work).await?;
    let output = match kernel.wait(pid).await? {
        ExitStatus::Exited(out) => serde_json::from_str(&out)?,
        other => anyhow::bail!("{steps}: {other:?}"),
    };
    Ok((pid, output))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_decided_function_leaves_one_decision_and_each_ambient_one_none() -> anyhow::Result<()>
{
    let world = World::new()?;
    images(&world)?;
    std::fs::write(world.work().join("given.txt"), "given")?;
    std::fs::copy(libos_guests::WORD_COUNT, world.work().join("handed.wasm"))?;
    let kernel = kernel(world.state.path())?;
    let exercises = exercises();
    let covered: BTreeSet<&str> = exercises.iter().map(|e| e.function).collect();
    for e in surface::RUNTIME {
        assert!(
            covered.contains(e.function),
            "no exercise calls {}",
            e.function
        );
    }
    let db = world.state.path().join("libos.db");
    for exercise in &exercises {
        let (pid, output) = run(&kernel, world.work(), &exercise.steps).await?;
        // Every step did what it was asked (the exec'd image returns its own input).
        if exercise.function != "libos:runtime/process.exec" {
            for (i, step) in results(&output).iter().enumerate() {
                let refused = step.get("err").is_some()
                    && !matches!(
                        exercise.function,
                        "libos:runtime/human.request-approval" | "libos:runtime/human.ask"
                    );
                assert!(!refused, "{}: step {i}: {output}", exercise.function);
            }
        }
        let entry = surface::entry(exercise.function)
            .ok_or_else(|| anyhow::anyhow!("{} is not in the table", exercise.function))?;
        let own = match entry.governed {
            Governed::Decided { decisions, .. } => usize::from(decisions),
            Governed::Ambient(_) => 0,
        };
        let expected = own + exercise.setup.len();
        kernel.host().flush_audit()?;
        let subject = format!("pid:{pid}");
        let records: Vec<_> = libos_audit::read_records(&db, None)?
            .into_iter()
            .filter(|r| *r.record.decided.subject == *subject)
            .map(|r| format!("{} {}", r.record.decided.action, r.record.decided.resource))
            .collect();
        assert_eq!(
            records.len(),
            expected,
            "{}: {records:?} (output {output})",
            exercise.function
        );
        if let Governed::Decided { action, .. } = entry.governed {
            let prefix = action.split('|').next().unwrap_or(action);
            let prefix = prefix.split('.').next().unwrap_or(prefix);
            assert!(
                records.last().is_some_and(|r| r.starts_with(prefix)),
                "{}: the last decision is not its own: {records:?}",
                exercise.function
            );
        }
    }
    Ok(())
}
