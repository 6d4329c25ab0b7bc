//! JIT tools: registering a tool and calling it, against running the same logic as a fresh
//! `node` or `python3` subprocess (how JIT tools run when each is its own interpreter).
//!
//! The tool is `slugify` (`guest-tools/tools/slugify`, Rust, 125 KiB); the subprocesses run
//! the same rules written in JavaScript and Python (`-e`/`-c`, no files, no packages).
//!
//! * `register_first_call/warm`: a new process registers the component (decision, audit
//!   record stored, blob stored, validation, row) and calls it once; the host has compiled
//!   those bytes before (another process registered them).
//! * `register_first_call/cold`: the same with bytes the host has never seen (a custom
//!   section carries the iteration number), so each registration compiles the component.
//! * `repeat_call/libos`: one call of the registered tool from its process (`tools.call`:
//!   decision, lookup of the registration, fresh instance, input checked against the
//!   schema, result), timed by the process over a loop of calls.
//! * `repeat_call/raw`: the fastest plain-wasmtime way to make the same call (a bare store
//!   of the same engine, instantiate, `invoke`).
//! * `*/node`, `*/python3`: one subprocess each.
//! * `schema_check/libos`: checking one call's input against the compiled schema of the
//!   tool; `schema_check/parse` is what every call pays anyway (parsing the input JSON).
//!
//! 1,000 processes are parked in the host throughout (the scale a user reaches). The host
//! is built as `libos run` builds it (`HostOptions::serving`).
//!
//! Run: `cargo bench -p libos-process --bench jit_tools`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use criterion::Criterion;
use libos_process::{ExitStatus, Kernel};
use serde_json::{Value, json};

const PARKED: u32 = 1_000;
const TEXT: &str = "Hello, World! JIT tools — 2026";
const SLUG: &str = "hello-world-jit-tools-2026";

const JS: &str = r#"const t = process.argv[1];
const s = t.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
console.log(JSON.stringify({slug: s}));"#;
const PY: &str = r#"import json, re, sys
s = re.sub(r"[^a-z0-9]+", "-", sys.argv[1].lower()).strip("-")
print(json.dumps({"slug": s}))"#;

async fn script(kernel: &Kernel, work: &Path, steps: Value) -> Value {
    let pid = kernel
        .start(common::start(
            "jit",
            &json!({ "stop_on_error": true, "steps": steps }).to_string(),
            work,
        ))
        .await
        .expect("start");
    match kernel.wait(pid).await.expect("wait") {
        ExitStatus::Exited(out) => serde_json::from_str(&out).expect("JSON"),
        other => panic!("jit agent did not exit: {other:?}"),
    }
}

fn register(file: &str) -> Value {
    json!({"op": "register", "file": file, "name": "slugify", "caps": []})
}

fn call() -> Value {
    json!({"op": "tool", "name": "slugify", "input": {"text": TEXT}})
}

/// Registers `file` and calls it once; checks the slug.
async fn register_and_call(kernel: &Kernel, work: &Path, file: &str) {
    let out = script(kernel, work, json!([register(file), call()])).await;
    assert_eq!(out["results"][1]["ok"]["slug"], SLUG, "{out}");
}

/// `bytes` with a custom section naming `n` appended: another component, same behaviour.
fn variant(bytes: &[u8], n: u64) -> Vec<u8> {
    let name = b"jit-bench";
    let payload = n.to_le_bytes();
    let mut out = bytes.to_vec();
    out.push(0);
    out.push((1 + name.len() + payload.len()) as u8);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(&payload);
    out
}

fn subprocess(program: &str, flag: &str, source: &str) {
    let out = Command::new(program)
        .args([flag, source, TEXT])
        .output()
        .expect("subprocess");
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["slug"], SLUG, "{program}");
}

/// `slugify` pre-instantiated on a bare linker of the same engine: the fastest plain-wasmtime
/// way to run one call of it.
fn raw_slugify(engine: &wasmtime::Engine) -> wasmtime::component::InstancePre<()> {
    use wasmtime::component::{Component, Linker};
    let component = Component::from_file(engine, libos_guests::SLUGIFY).expect("compile");
    let mut linker: Linker<()> = Linker::new(engine);
    linker
        .define_unknown_imports_as_traps(&component)
        .expect("stub imports");
    linker.instantiate_pre(&component).expect("pre")
}

/// One raw call: a bare store, instantiate, `invoke`.
async fn raw_call(engine: &wasmtime::Engine, pre: &wasmtime::component::InstancePre<()>) {
    use wasmtime::component::Val;
    let mut store = wasmtime::Store::new(engine, ());
    store.set_fuel(u64::MAX / 2).expect("fuel");
    store.set_epoch_deadline(u64::MAX / 2);
    let instance = pre
        .instantiate_async(&mut store)
        .await
        .expect("instantiate");
    let invoke = instance.get_func(&mut store, "invoke").expect("invoke");
    let input = json!({"text": TEXT}).to_string();
    let mut out = [Val::Bool(false)];
    invoke
        .call_async(&mut store, &[Val::String(input)], &mut out)
        .await
        .expect("call");
    assert!(matches!(&out[0], Val::Result(Ok(_))));
}

fn main() {
    let rt = common::runtime();
    let state = tempfile::tempdir().expect("state");
    let images = tempfile::tempdir().expect("images");
    let work = tempfile::tempdir().expect("work");
    let w = work.path();
    std::fs::create_dir_all(w.join("handed")).expect("mkdir");
    let slugify = std::fs::read(libos_guests::SLUGIFY).expect("slugify");
    std::fs::write(w.join("handed/slugify.wasm"), &slugify).expect("write");
    common::image(
        state.path(),
        images.path(),
        "jit",
        libos_guests::AGENT_SCRIPT,
        "capabilities = [\"tool.register:*\", \"fs.read:handed/**\"]\n[limits]\nwall_clock = \"1h\"\n",
    );
    common::image(
        state.path(),
        images.path(),
        "waiter",
        libos_guests::AGENT_WAITER,
        "capabilities = [\"events.wait:never\"]\n",
    );
    let (kernel, engine, _pre) = common::serving(&rt, state.path(), PARKED + 100);
    let raw = raw_slugify(&engine);
    rt.block_on(async {
        for _ in 0..PARKED {
            kernel
                .start(common::start(
                    "waiter",
                    &json!({"topic": "never"}).to_string(),
                    w,
                ))
                .await
                .expect("waiter");
        }
        register_and_call(&kernel, w, "handed/slugify.wasm").await;
    });
    let have_node = Command::new("node").arg("--version").output().is_ok();
    let have_python = Command::new("python3").arg("--version").output().is_ok();

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    let mut g = c.benchmark_group("register_first_call");
    g.bench_function("warm", |b| {
        b.to_async(&rt)
            .iter(|| register_and_call(&kernel, w, "handed/slugify.wasm"))
    });
    let mut n = 0u64;
    g.bench_function("cold", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                let file = format!("handed/v{n}.wasm");
                std::fs::write(w.join(&file), variant(&slugify, n)).expect("variant");
                let t = std::time::Instant::now();
                rt.block_on(register_and_call(&kernel, w, &file));
                total += t.elapsed();
            }
            total
        })
    });
    if have_node {
        g.bench_function("node", |b| b.iter(|| subprocess("node", "-e", JS)));
    }
    if have_python {
        g.bench_function("python3", |b| b.iter(|| subprocess("python3", "-c", PY)));
    }
    g.finish();

    let mut g = c.benchmark_group("repeat_call");
    g.bench_function("raw", |b| b.to_async(&rt).iter(|| raw_call(&engine, &raw)));
    g.bench_function("libos", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let kernel = &kernel;
            async move {
                let steps = json!([register("handed/slugify.wasm"),
                    {"op": "repeat", "times": iters, "step": call()}]);
                let out = script(kernel, w, steps).await;
                assert_eq!(out["results"][1]["ok"]["done"], iters, "{out}");
                Duration::from_nanos(out["results"][1]["ok"]["elapsed_ns"].as_u64().unwrap_or(0))
            }
        })
    });
    if have_node {
        g.bench_function("node", |b| b.iter(|| subprocess("node", "-e", JS)));
    }
    if have_python {
        g.bench_function("python3", |b| b.iter(|| subprocess("python3", "-c", PY)));
    }
    g.finish();

    let schema = json!({"type": "object", "properties": {"text": {"type": "string"}},
        "required": ["text"], "additionalProperties": false});
    let check = libos::host::InputSchema::compile(&schema).expect("schema");
    let input = json!({"text": TEXT}).to_string();
    let mut g = c.benchmark_group("schema_check");
    g.bench_function("parse", |b| {
        b.iter(|| serde_json::from_str::<Value>(std::hint::black_box(&input)).expect("JSON"))
    });
    g.bench_function("libos", |b| {
        let value: Value = serde_json::from_str(&input).expect("JSON");
        b.iter(|| check.check(std::hint::black_box(&value)).expect("valid"))
    });
    g.finish();
    kernel.host().flush_audit().expect("flush");
    c.final_summary();

    println!("\nsummary (medians; {PARKED} processes parked throughout)");
    for base in ["node", "python3"] {
        if let Some((sub, warm)) = common::medians("register_first_call", base, "warm") {
            let cold = common::medians("register_first_call", base, "cold").map_or(0.0, |m| m.1);
            println!(
                "  register + first call: warm {:>8.1} us, cold {:>8.1} ms; {base} subprocess {:>6.1} ms: {:>6.0}x / {:>5.1}x",
                warm / 1e3,
                cold / 1e6,
                sub / 1e6,
                sub / warm,
                sub / cold
            );
        }
        if let Some((sub, ours)) = common::medians("repeat_call", base, "libos") {
            println!(
                "  repeat call: libos {:>7.1} us; {base} subprocess {:>6.1} ms: {:>6.0}x",
                ours / 1e3,
                sub / 1e6,
                sub / ours
            );
        }
    }
    if let Some((raw, ours)) = common::medians("repeat_call", "raw", "libos") {
        println!(
            "  repeat call: raw wasmtime {:>6.1} us, libos {:>6.1} us: ratio {:>5.2}",
            raw / 1e3,
            ours / 1e3,
            ours / raw
        );
    }
    if let Some((parse, ours)) = common::medians("schema_check", "parse", "libos") {
        println!(
            "  schema check per call: {:>6.0} ns (parsing the input: {parse:>6.0} ns)",
            ours
        );
    }
}
