//! The crash test: the real `libos` binary runs the script agent through rounds of file
//! writes, object writes, events, shell commands, sleeps, an approved write and a snapshot
//! per round (every other process is its `wasm32-wasip2` build, without snapshots, which
//! also reads WASI randomness, saving what it got, prints to stdout and sleeps through WASI),
//! while the host is killed with SIGKILL at random moments (at least [`KILLS`] times; the
//! seed is printed, and
//! `LIBOS_CRASH_SEED=N` replays a run) and a new host (`libos serve`) resumes the processes
//! each time. A person (this test) answers what the processes ask: the approval, and each
//! effect found in doubt, by looking at what really happened.
//!
//! At the end: every effect happened exactly once (each file and directory is there, each
//! object is at version 1, each event was stored once) or was settled by the person; the
//! approval was asked once per process and honored; no effect is left in doubt; `libos audit
//! verify` is ok; and every process's output is the output of a run that was never
//! interrupted, but for the calls the person failed after being asked (and for the random
//! values a WASI process read, which must be the ones it saved; its stdout holds each line
//! once).

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::Env;

/// Kills of a host the test makes at least.
const KILLS: usize = 30;
/// Rounds of effects in one process's script.
const ROUNDS: u64 = 12;

const POLICY: &str = r#"
@id("everything") permit (principal, action, resource);
@id("approved-by-a-person") @decision("ask")
permit (principal, action == Action::"fs.write", resource) when { resource.path like "*approved.txt" };
"#;

/// A small deterministic generator (xorshift64*), so a seed replays the same kills.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low)
    }
}

fn seed() -> u64 {
    std::env::var("LIBOS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        })
}

/// Whether process `run` runs the WASI build of the script agent.
fn wasi(run: u64) -> bool {
    run % 2 == 1
}

/// The script of process `run`: [`ROUNDS`] rounds of effects, the approved write halfway.
fn script(run: u64) -> String {
    let mut steps = Vec::new();
    for i in 0..ROUNDS {
        if wasi(run) {
            steps.push(json!({ "op": "wasi_random", "save": format!("r{run}-rand{i}.txt") }));
            steps.push(json!({ "op": "wasi_print", "text": format!("round {i}") }));
            steps.push(json!({ "op": "wasi_sleep", "ms": 10 }));
        }
        steps.push(
            json!({ "op": "write", "path": format!("r{run}-f{i}.txt"), "text": format!("v{i}") }),
        );
        steps.push(json!({ "op": "put", "kind": "k", "key": format!("{i}"), "value": i }));
        steps.push(json!({ "op": "emit", "topic": "crash", "payload": { "run": run, "i": i } }));
        steps.push(json!({ "op": "shell", "argv": ["mkdir", format!("r{run}-d{i}")] }));
        steps.push(json!({
            "op": "spawn", "image": "crashy", "caps": ["fs.*"],
            "input": { "steps": [
                { "op": "write", "path": format!("r{run}-c{i}.txt"), "text": format!("c{i}") },
            ]},
        }));
        let spawned = steps.len() - 1;
        steps.push(json!({ "op": "wait", "pid": format!("${spawned}") }));
        steps.push(json!({ "op": "sleep", "ms": 25 }));
        if i == ROUNDS / 2 {
            steps.push(json!({
                "op": "write", "path": format!("r{run}-approved.txt"), "text": "yes",
                "wait_approval_ms": 0
            }));
        }
        // The native build keeps snapshots: its journal is compacted every round.
        if !wasi(run) {
            steps.push(json!({ "op": "snapshot" }));
        }
    }
    json!({ "steps": steps }).to_string()
}

/// The image process `run` runs.
fn image_of(run: u64) -> &'static str {
    if wasi(run) { "crashy-wasi" } else { "crashy" }
}

/// Builds both images: `crashy` and `crashy-wasi`.
fn images(env: &Env) {
    image(env, "crashy", libos_guests::AGENT_SCRIPT);
    image(env, "crashy-wasi", libos_guests::AGENT_SCRIPT_WASI);
}

fn image(env: &Env, name: &str, component: &str) {
    let dir = env.agent_image(name, component, "wall_clock = \"10m\"");
    std::fs::write(dir.join("policy.cedar"), POLICY).expect("policy");
    let manifest = std::fs::read_to_string(dir.join("image.toml")).expect("manifest");
    let manifest = manifest.replacen(
        "agent = \"agent.wasm\"\n",
        "agent = \"agent.wasm\"\npolicy = \"policy.cedar\"\n\
         capabilities = [\"fs.*\", \"memory.*\", \"events.*\", \"shell.*\", \"process.spawn:*\"]\n",
        1,
    );
    std::fs::write(dir.join("image.toml"), manifest).expect("manifest");
    env.libos()
        .args(["image", "build"])
        .arg(&dir)
        .assert()
        .success();
}

/// What the person did.
#[derive(Default)]
struct Person {
    /// Approval requests approved, by id.
    approved: HashSet<String>,
    /// Questions answered, by id.
    answered: HashSet<String>,
    /// Calls the person failed: (pid, the call's description).
    failed: Vec<(u64, String)>,
    /// Calls the person said happened or asked to run again.
    settled: usize,
}

impl Person {
    /// Answers everything pending in `env`, by looking at what really happened.
    fn attend(&mut self, env: &Env) {
        let out = env
            .libos()
            .args(["approvals", "--json"])
            .output()
            .expect("approvals");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Ok(request) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let id = request["id"].as_str().unwrap_or_default().to_owned();
            let kind = if request["kind"].is_object() {
                &request["kind"]
            } else {
                &request
            };
            match kind["kind"].as_str() {
                Some("approval") if !self.approved.contains(&id) => {
                    let ok = env
                        .libos()
                        .args(["approve", &id])
                        .output()
                        .expect("approve");
                    if ok.status.success() {
                        self.approved.insert(id);
                    }
                }
                Some("question") if !self.answered.contains(&id) => {
                    let question = kind["question"].as_str().unwrap_or_default();
                    let pid = request["pid"].as_u64().unwrap_or(0);
                    let answer = self.truth(env, pid, question);
                    let ok = env
                        .libos()
                        .args(["answer", &id, answer])
                        .output()
                        .expect("answer");
                    if ok.status.success() {
                        self.answered.insert(id);
                        if answer == "fail the call" {
                            self.failed.push((pid, question.to_owned()));
                        } else {
                            self.settled += 1;
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Whether the effect `question` describes happened, as the answer to give.
    fn truth(&self, env: &Env, pid: u64, question: &str) -> &'static str {
        let what = question
            .split_once(" (")
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        let happened = if question.contains("fs.write") {
            let path = what.split(" (").next().unwrap_or_default();
            env.work.path().join(path).exists()
        } else if question.contains("shell.run") {
            let dir = what
                .strip_prefix("mkdir ")
                .and_then(|d| d.split(')').next())
                .unwrap_or_default();
            env.work.path().join(dir).exists()
        } else if question.contains("memory.put") {
            let key = what
                .strip_prefix("put k/")
                .and_then(|k| k.split(')').next())
                .unwrap_or_default();
            object_version(env, pid, key).is_some()
        } else if question.contains("events.emit") {
            let payload = what
                .strip_prefix("emit on crash: ")
                .and_then(|p| p.rsplit_once(") when").map(|(p, _)| p))
                .unwrap_or_default();
            events_with(env, payload) > 0
        } else {
            false
        };
        match (
            happened,
            question.contains("fs.write") || question.contains("events.emit"),
        ) {
            (true, true) => "it happened",
            // Its result is not known: the call is failed, and it stays done once.
            (true, false) => "fail the call",
            (false, _) => "run it again",
        }
    }
}

/// The lines `pid` wrote to stdout, as its log holds them.
fn stdout_of(env: &Env, pid: u64) -> Vec<String> {
    let conn = db(env);
    let Ok(mut stmt) = conn.prepare(
        "SELECT message FROM process_logs WHERE pid = ?1 AND level = 'stdout' ORDER BY seq",
    ) else {
        return Vec::new();
    };
    stmt.query_map([pid as i64], |r| r.get::<_, String>(0))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

fn db(env: &Env) -> rusqlite::Connection {
    rusqlite::Connection::open(env.state.path().join("libos.db")).expect("db")
}

fn object_version(env: &Env, pid: u64, key: &str) -> Option<i64> {
    db(env)
        .query_row(
            "SELECT version FROM memory_objects WHERE namespace = ?1 AND kind = 'k' AND key = ?2",
            rusqlite::params![format!("pid:{pid}"), key],
            |r| r.get(0),
        )
        .ok()
}

/// How many events on topic `crash` carry `payload` (JSON, compared as values).
fn events_with(env: &Env, payload: &str) -> usize {
    let Ok(wanted) = serde_json::from_str::<Value>(payload) else {
        return 0;
    };
    let conn = db(env);
    let Ok(mut stmt) = conn.prepare("SELECT payload FROM process_events WHERE topic = 'crash'")
    else {
        return 0;
    };
    let Ok(rows) = stmt.query_map([], |r| r.get::<_, String>(0)) else {
        return 0;
    };
    rows.filter_map(Result::ok)
        .filter(|p| serde_json::from_str::<Value>(p).is_ok_and(|v| v == wanted))
        .count()
}

fn state_of(env: &Env, pid: u64) -> Value {
    env.ps_json()
        .into_iter()
        .find(|p| p["pid"] == pid)
        .map(|p| p["state"].clone())
        .unwrap_or(Value::Null)
}

fn ended(state: &Value) -> bool {
    ["exited", "failed", "killed"]
        .iter()
        .any(|s| state.get(s).is_some() || state == s)
}

pub(crate) fn serve(env: &Env) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(env.state.path().join("serve.log"))
        .expect("serve log");
    Command::new(env!("CARGO_BIN_EXE_libos"))
        .arg("--state-dir")
        .arg(env.state.path())
        .arg("serve")
        .env_remove("LIBOS_STATE_DIR")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("libos serve")
}

/// Whether two step results are the same but for the ids of approval requests (made fresh
/// in each run).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            x == y || (x.starts_with("req-") && y.starts_with("req-"))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
        }
        _ => a == b,
    }
}

/// The output of `pid` (`libos wait`).
fn output_of(env: &Env, pid: u64) -> Value {
    let out = env
        .libos()
        .args(["wait", &pid.to_string()])
        .output()
        .expect("wait");
    assert!(
        out.status.success(),
        "process {pid}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("output is JSON")
}

/// Runs `env`'s process `run` without interruption (the person approving) to its output.
fn uninterrupted(env: &Env, run: u64) -> Value {
    let pid = env.run_detached(image_of(run), Some(&script(run)));
    let mut person = Person::default();
    let deadline = Instant::now() + Duration::from_secs(300);
    while !ended(&state_of(env, pid)) {
        assert!(
            Instant::now() < deadline,
            "the uninterrupted run never ended"
        );
        person.attend(env);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        person.answered.is_empty(),
        "nothing is in doubt without a crash"
    );
    output_of(env, pid)
}

#[test]
fn killed_hosts_lose_nothing_and_repeat_no_effect() {
    let seed = seed();
    eprintln!("crash test seed: {seed} (replay with LIBOS_CRASH_SEED={seed})");
    let mut rng = Rng(seed);

    let reference_env = Env::new();
    images(&reference_env);
    let reference = [
        uninterrupted(&reference_env, 0),
        uninterrupted(&reference_env, 1),
    ];

    let env = Env::new();
    images(&env);
    let mut person = Person::default();
    let mut kills = 0;
    let mut pids = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(900);
    while kills < KILLS {
        let run = pids.len() as u64;
        let pid = env.run_detached(image_of(run), Some(&script(run)));
        pids.push((run, pid));
        // The host of the moment: `None` is the `run --detach` host.
        let mut host: Option<Child> = None;
        loop {
            assert!(
                Instant::now() < deadline,
                "seed {seed}: the test ran too long"
            );
            let until = Instant::now() + Duration::from_millis(rng.between(20, 600));
            while Instant::now() < until {
                person.attend(&env);
                std::thread::sleep(Duration::from_millis(15));
            }
            if ended(&state_of(&env, pid)) {
                break;
            }
            match host.take() {
                Some(mut child) => {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                None => {
                    env.kill_host_of(pid);
                }
            }
            kills += 1;
            host = Some(serve(&env));
        }
        if let Some(mut child) = host {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    eprintln!(
        "seed {seed}: {kills} kills over {} processes; {} effects settled by the person, {} failed",
        pids.len(),
        person.settled,
        person.failed.len()
    );

    for &(run, pid) in &pids {
        let output = output_of(&env, pid);
        let got = output["results"].as_array().cloned().unwrap_or_default();
        let want = reference[usize::from(wasi(run))]["results"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(got.len(), want.len(), "seed {seed}: pid {pid}: {output}");
        let failed_here = person.failed.iter().filter(|(p, _)| *p == pid).count();
        let mut differing = 0;
        let mut saved = (0..ROUNDS).map(|i| env.read(&format!("r{run}-rand{i}.txt")));
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            // A spawn returns the child's pid, which differs from run to run.
            let both_pids = g["ok"].is_u64() && w["ok"].is_u64();
            // The random values a WASI process read are its own: the ones it saved.
            if g["ok"].is_array() && w["ok"].is_array() {
                let saved = saved.next().flatten();
                assert_eq!(
                    Some(g["ok"].to_string()),
                    saved,
                    "seed {seed}: pid {pid} step {i}: what it read is not what it saved"
                );
                continue;
            }
            if same(g, w) || both_pids {
                continue;
            }
            // Only a call the person failed may differ, and only as that failure.
            let message = g["err"]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains("in doubt"),
                "seed {seed}: pid {pid} step {i}: {g} where an uninterrupted run gave {w}"
            );
            differing += 1;
        }
        assert_eq!(differing, failed_here, "seed {seed}: pid {pid}");
        for i in 0..ROUNDS {
            assert_eq!(
                env.read(&format!("r{run}-f{i}.txt")).as_deref(),
                Some(format!("v{i}").as_str()),
                "seed {seed}"
            );
            assert!(
                env.work_path(&format!("r{run}-d{i}")).is_dir(),
                "seed {seed}"
            );
            assert_eq!(
                object_version(&env, pid, &i.to_string()),
                Some(1),
                "seed {seed}: pid {pid} object {i}"
            );
            let payload = json!({ "run": run, "i": i }).to_string();
            assert_eq!(
                events_with(&env, &payload),
                1,
                "seed {seed}: event {payload}"
            );
        }
        assert_eq!(
            env.read(&format!("r{run}-approved.txt")).as_deref(),
            Some("yes")
        );
        if wasi(run) {
            let printed: Vec<String> = (0..ROUNDS).map(|i| format!("round {i}")).collect();
            assert_eq!(stdout_of(&env, pid), printed, "seed {seed}: pid {pid}");
        }
    }
    // One approval per process, each honored; nothing left in doubt; the log verifies.
    assert_eq!(person.approved.len(), pids.len(), "seed {seed}");
    let doubt = env
        .libos()
        .args(["effects", "--state", "unknown", "--json"])
        .output()
        .expect("effects");
    let doubt: Value = serde_json::from_slice(&doubt.stdout).expect("effects --json");
    assert_eq!(doubt, json!([]), "seed {seed}");
    // What the person settled stays listed until pruned; every process has ended.
    let listed = |env: &Env| -> Vec<Value> {
        let out = env
            .libos()
            .args(["effects", "--json"])
            .output()
            .expect("effects");
        serde_json::from_slice(&out.stdout).expect("effects --json")
    };
    let settled = listed(&env).len();
    let out = env
        .libos()
        .args(["effects", "--prune"])
        .output()
        .expect("prune");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with(&format!("pruned {settled} journal")),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(listed(&env).is_empty(), "seed {seed}");
    env.libos().args(["audit", "verify"]).assert().success();
}
