//! `wasi:filesystem`, clocks and stdio of an ordinary `wasm32-wasip2` tool decided per
//! operation, like the runtime's own primitives: each refusal checked to have left no effect.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::{Env, call, load, ok_json, rt};
use libos::host::{CallOptions, ToolHost};
use libos_guests::WASI_PROBE;
use serde_json::{Value, json};

const FORBID_SECRETS: &str = r#"permit(principal, action, resource);
    @id("no-secrets") forbid(principal, action, resource) when { resource.path like "secrets/*" };"#;

/// Runs `ops` through the WASI probe; returns each op's result.
fn ops(host: &ToolHost, opts: &CallOptions, ops: Value) -> Vec<Value> {
    rt().block_on(async {
        let tool = load(host, WASI_PROBE).await;
        let input = json!({ "ops": ops }).to_string();
        let out = ok_json(&call(host, &tool, &input, opts).await);
        out["ops"].as_array().expect("ops").clone()
    })
}

fn ok(v: &Value) -> &Value {
    assert!(v.get("error").is_none(), "expected success: {v}");
    &v["ok"]
}

fn refused(v: &Value) {
    assert!(v["error"].is_string(), "expected a refusal: {v}");
}

fn denied_in_audit(env: &Env, host: &ToolHost, action: &str, resource: &str) -> bool {
    env.audit(host)
        .iter()
        .any(|(verdict, a, r)| verdict == "deny" && a == action && r == resource)
}

#[test]
fn a_forbidden_file_is_refused_to_wasi_and_the_denial_audited() {
    let env = Env::new();
    env.write("src/a", "source");
    env.write("secrets/key", "hunter2");
    std::fs::create_dir_all(env.work_path("pub")).unwrap();
    std::os::unix::fs::symlink("../secrets/key", env.work_path("pub/link")).unwrap();
    let host = env.host();
    let opts = env.options(&["fs.read:**"], Some(FORBID_SECRETS));
    let out = ops(
        &host,
        &opts,
        json!([
            {"op": "read", "path": "src/a"},
            {"op": "read", "path": "secrets/key"},
            {"op": "read", "path": "pub/link"},
            {"op": "read", "path": "./src/../secrets/key"},
            {"op": "list", "path": "secrets"},
        ]),
    );
    assert_eq!(ok(&out[0]), "source");
    for refusal in &out[1..] {
        refused(refusal);
        assert_eq!(refusal["kind"], "PermissionDenied", "{refusal}");
    }
    assert!(denied_in_audit(&env, &host, "fs.read", "secrets/key"));
}

#[test]
fn a_glob_capability_lets_wasi_read_only_what_it_matches() {
    let env = Env::new();
    env.write("src/x.py", "print(1)");
    env.write("src/x.rs", "fn main() {}");
    let host = env.host();
    let opts = env.options(&["fs.read:src/*.py"], None);
    let out = ops(
        &host,
        &opts,
        json!([
            {"op": "read", "path": "src/x.py"},
            {"op": "read", "path": "src/x.rs"},
            {"op": "write", "path": "src/x.py", "data": "changed"},
        ]),
    );
    assert_eq!(ok(&out[0]), "print(1)");
    refused(&out[1]);
    refused(&out[2]);
    assert_eq!(env.read("src/x.py").as_deref(), Some("print(1)"));
}

#[test]
fn wasi_mutations_need_fs_write_and_refused_ones_leave_nothing() {
    let env = Env::new();
    env.write("d/a", "A");
    env.write("d/b", "B");
    std::fs::create_dir_all(env.work_path("d/empty")).unwrap();
    let host = env.host();
    let batch = json!([
        {"op": "write", "path": "d/a", "data": "new"},
        {"op": "create", "path": "d/c"},
        {"op": "rename", "from": "d/b", "to": "d/renamed"},
        {"op": "unlink", "path": "d/a"},
        {"op": "mkdir", "path": "d/sub"},
        {"op": "rmdir", "path": "d/empty"},
        {"op": "append", "path": "d/b", "data": "+"},
        {"op": "hard_link", "from": "d/b", "to": "d/b2"},
    ]);

    let read_only = env.options(&["fs.read:**"], None);
    for refusal in ops(&host, &read_only, batch.clone()) {
        refused(&refusal);
    }
    assert_eq!(env.read("d/a").as_deref(), Some("A"));
    assert_eq!(env.read("d/b").as_deref(), Some("B"));
    for absent in ["d/c", "d/renamed", "d/sub", "d/b2"] {
        assert!(!env.work_path(absent).exists(), "{absent}");
    }
    assert!(env.work_path("d/empty").is_dir());
    assert!(denied_in_audit(&env, &host, "fs.write", "d/a"));

    // Removing a name is `fs.delete`, as for `libos:runtime/fs.delete`: writing is not enough.
    let write_only = env.options(&["fs.read:**", "fs.write:**"], None);
    let removals = json!([
        {"op": "unlink", "path": "d/a"},
        {"op": "rmdir", "path": "d/empty"},
        {"op": "rename", "from": "d/b", "to": "d/renamed"},
    ]);
    for refusal in ops(&host, &write_only, removals) {
        refused(&refusal);
    }
    assert_eq!(env.read("d/a").as_deref(), Some("A"));
    assert_eq!(env.read("d/b").as_deref(), Some("B"));
    assert!(env.work_path("d/empty").is_dir() && !env.work_path("d/renamed").exists());
    assert!(denied_in_audit(&env, &host, "fs.delete", "d/a"));

    let read_write = env.options(&["fs.read:**", "fs.write:**", "fs.delete:**"], None);
    let out = ops(
        &host,
        &read_write,
        json!([
            {"op": "write", "path": "d/a", "data": "new"},
            {"op": "create", "path": "d/c"},
            {"op": "rename", "from": "d/b", "to": "d/renamed"},
            {"op": "append", "path": "d/renamed", "data": "+"},
            {"op": "hard_link", "from": "d/renamed", "to": "d/b2"},
            {"op": "mkdir", "path": "d/sub"},
            {"op": "rmdir", "path": "d/empty"},
            {"op": "unlink", "path": "d/c"},
            {"op": "list", "path": "d"},
        ]),
    );
    for (i, done) in out.iter().enumerate() {
        assert!(done.get("error").is_none(), "op {i}: {done}");
    }
    assert_eq!(env.read("d/a").as_deref(), Some("new"));
    assert_eq!(env.read("d/renamed").as_deref(), Some("B+"));
    assert_eq!(env.read("d/b2").as_deref(), Some("B+"));
    assert!(!env.work_path("d/b").exists());
    assert!(!env.work_path("d/c").exists());
    assert!(env.work_path("d/sub").is_dir());
    assert!(!env.work_path("d/empty").exists());
    assert_eq!(ok(&out[8]), &json!(["a", "b2", "renamed", "sub"]));
}

/// A budget of bytes written, charged for real.
struct Budget(AtomicU64);

impl libos::meter::Meter for Budget {
    fn charge(&self, kind: libos::error::LimitKind, n: u64) -> Result<(), libos::error::LimitKind> {
        self.0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(n)
            })
            .map(|_| ())
            .map_err(|_| kind)
    }
}

#[test]
fn a_bytes_written_budget_stops_a_wasi_write_past_it() {
    let env = Env::new();
    env.write("out/log", "start;");
    let host = env.host();
    let mut opts = env.options(&["fs.read:**", "fs.write:**"], None);
    opts.meter = Some(Arc::new(Budget(AtomicU64::new(100))));
    let big = "x".repeat(200);
    let out = ops(
        &host,
        &opts,
        json!([
            {"op": "append", "path": "out/log", "data": "small;"},
            {"op": "append", "path": "out/log", "data": big},
            {"op": "read", "path": "out/log"},
        ]),
    );
    ok(&out[0]);
    // `insufficient-space` from a write, or the stream's error from a write through a stream.
    refused(&out[1]);
    assert_eq!(ok(&out[2]), "start;small;");
    assert_eq!(env.read("out/log").as_deref(), Some("start;small;"));
}

#[test]
fn the_state_directory_inside_the_working_directory_is_refused_through_wasi() {
    let env = Env::new();
    let state = env.work_path(".libos");
    let host = ToolHost::new(libos::host::HostOptions {
        state_dir: Some(state.clone()),
        ..Default::default()
    })
    .expect("host");
    env.write("a.txt", "plain");
    let opts = env.options(&["fs.read:**", "fs.write:**"], None);
    let out = ops(
        &host,
        &opts,
        json!([
            {"op": "read", "path": "a.txt"},
            {"op": "read", "path": ".libos/libos.db"},
            {"op": "write", "path": ".libos/planted", "data": "x"},
            {"op": "list", "path": ".libos"},
            {"op": "rename", "from": "a.txt", "to": ".libos/a.txt"},
        ]),
    );
    assert_eq!(ok(&out[0]), "plain");
    for refusal in &out[1..] {
        refused(refusal);
    }
    assert!(!state.join("planted").exists());
    assert!(!state.join("a.txt").exists());
    assert_eq!(env.read("a.txt").as_deref(), Some("plain"));
}

#[test]
fn a_forbidden_clock_read_gives_wasi_no_time() {
    let env = Env::new();
    let host = env.host();
    let allowed = ops(&host, &env.options(&[], None), json!([{"op": "now"}]));
    assert!(ok(&allowed[0]).as_u64().unwrap_or(0) > 0);

    let forbid = r#"permit(principal, action, resource);
        @id("no-clock") forbid(principal, action == Action::"clock.read", resource);"#;
    let refused_clock = ops(
        &host,
        &env.options(&[], Some(forbid)),
        json!([{"op": "now"}]),
    );
    assert_eq!(ok(&refused_clock[0]), 0);
    assert!(denied_in_audit(&env, &host, "clock.read", "wall"));
}

#[test]
fn a_forbidden_log_write_silences_wasi_stdout() {
    let env = Env::new();
    let host = env.host();
    let forbid = r#"permit(principal, action, resource);
        @id("no-log") forbid(principal, action == Action::"log.write", resource);"#;
    let report = rt().block_on(async {
        let tool = load(&host, WASI_PROBE).await;
        call(&host, &tool, "{}", &env.options(&[], Some(forbid))).await
    });
    ok_json(&report);
    assert!(report.stdout.is_empty(), "{:?}", report.stdout);
    assert!(report.stderr.is_empty(), "{:?}", report.stderr);
    assert!(denied_in_audit(&env, &host, "log.write", "stdout"));
}

/// The decisions the surface table says `function` makes per call.
fn decisions_of(function: &str) -> usize {
    match libos_process::surface::entry(function).map(|e| e.governed) {
        Some(libos_process::surface::Governed::Decided { decisions, .. }) => usize::from(decisions),
        Some(libos_process::surface::Governed::Ambient(_)) => 0,
        None => panic!("{function} is not in the surface table"),
    }
}

#[test]
fn each_decided_wasi_function_leaves_the_decisions_the_table_says() {
    let env = Env::new();
    let host = env.host();
    let opts = env.options(&["fs.*:**"], None);
    let fs_records = || {
        env.audit(&host)
            .iter()
            .filter(|(_, action, _)| action.starts_with("fs.") || action.starts_with("clock."))
            .count()
    };
    // What the probe decides on its own, with no op.
    let before = fs_records();
    ops(&host, &opts, json!([]));
    let baseline = fs_records() - before;
    let t = |f: &str| format!("wasi:filesystem/types.[method]descriptor.{f}");
    // Each op, and the WASI functions std calls for it that name a path (what it does through
    // an opened descriptor is ambient by the table). `std::fs::metadata` is left out: its
    // WASI library stats the path twice, which says nothing of the table.
    let cases: Vec<(Value, Vec<String>)> = vec![
        (json!({"op": "create", "path": "c"}), vec![t("open-at")]),
        (json!({"op": "read", "path": "c"}), vec![t("open-at")]),
        (
            json!({"op": "mkdir", "path": "d"}),
            vec![t("create-directory-at")],
        ),
        (
            json!({"op": "list", "path": "d"}),
            vec![t("open-at"), t("read-directory")],
        ),
        (
            json!({"op": "rmdir", "path": "d"}),
            vec![t("remove-directory-at")],
        ),
        (
            json!({"op": "rename", "from": "c", "to": "e"}),
            vec![t("rename-at")],
        ),
        (
            json!({"op": "hard_link", "from": "e", "to": "f"}),
            vec![t("link-at")],
        ),
        (
            json!({"op": "unlink", "path": "f"}),
            vec![t("unlink-file-at")],
        ),
        (
            json!({"op": "readlink", "path": "link"}),
            vec![t("readlink-at")],
        ),
        (
            json!({"op": "now"}),
            vec!["wasi:clocks/wall-clock.now".to_owned()],
        ),
    ];
    std::os::unix::fs::symlink("e", env.work_path("link")).expect("symlink");
    for (op, functions) in cases {
        let before = fs_records();
        let out = ops(&host, &opts, json!([op]));
        ok(&out[0]);
        let made = fs_records() - before - baseline;
        let expected: usize = functions.iter().map(|f| decisions_of(f)).sum();
        assert_eq!(made, expected, "{op}: {functions:?}");
    }
}

#[test]
fn nothing_holding_the_state_directory_is_renamed_or_removed_through_wasi() {
    let env = Env::new();
    let state = env.work_path("sub/st");
    let host = ToolHost::new(libos::host::HostOptions {
        state_dir: Some(state.clone()),
        ..Default::default()
    })
    .expect("host");
    env.write("sub/other.txt", "mine");
    env.write("free/a.txt", "free");
    let db = std::fs::read(state.join("libos.db")).expect("db");
    let opts = env.options(&["fs.*:**"], None);
    let out = ops(
        &host,
        &opts,
        json!([
            {"op": "rename", "from": "sub", "to": "sub2"},
            {"op": "read", "path": "sub2/st/libos.db"},
            {"op": "rmdir", "path": "sub"},
            {"op": "rename", "from": "free", "to": "sub"},
            // The allowed twins: what lies beside the state directory, and elsewhere.
            {"op": "rename", "from": "sub/other.txt", "to": "sub/moved.txt"},
            {"op": "rename", "from": "free", "to": "free2"},
        ]),
    );
    for refusal in &out[..4] {
        refused(refusal);
    }
    ok(&out[4]);
    ok(&out[5]);
    assert!(state.join("libos.db").exists() && !env.work_path("sub2").exists());
    assert!(
        std::fs::read(state.join("libos.db"))
            .expect("db")
            .starts_with(&db[..100])
    );
    assert_eq!(env.read("sub/moved.txt").as_deref(), Some("mine"));
    assert_eq!(env.read("free2/a.txt").as_deref(), Some("free"));
}

#[test]
fn a_rename_cannot_move_what_a_forbid_or_a_capability_protects_into_reach() {
    let env = Env::new();
    env.write("data/secrets/key", "TOPSECRET");
    env.write("data/notes/n", "note");
    env.write("secrets/key", "hunter2");
    let host = env.host();
    let policy = r#"permit(principal, action, resource);
        forbid(principal, action, resource) when { resource.path like "data/secrets*" };"#;
    let opts = env.options(&["fs.*:**"], Some(policy));
    let out = ops(
        &host,
        &opts,
        json!([
            {"op": "rename", "from": "data", "to": "d2"},
            {"op": "read", "path": "d2/secrets/key"},
            {"op": "rename", "from": "data/notes", "to": "notes2"},
        ]),
    );
    refused(&out[0]);
    refused(&out[1]);
    assert_eq!(env.read("data/secrets/key").as_deref(), Some("TOPSECRET"));
    assert!(!env.work_path("d2").exists());
    // The allowed twin: a directory holding nothing protected moves.
    ok(&out[2]);
    assert_eq!(env.read("notes2/n").as_deref(), Some("note"));

    // Capabilities: deleting anywhere and writing to `pub/` does not let a guest move a file
    // it may not read into `pub/`.
    let caps = env.options(&["fs.read:pub/**", "fs.write:pub/**", "fs.delete:**"], None);
    let out = ops(
        &host,
        &caps,
        json!([
            {"op": "rename", "from": "secrets/key", "to": "pub/key"},
            {"op": "rename", "from": "secrets", "to": "pub/s"},
            {"op": "read", "path": "pub/key"},
            {"op": "read", "path": "pub/s/key"},
        ]),
    );
    for refusal in &out {
        refused(refusal);
    }
    assert_eq!(env.read("secrets/key").as_deref(), Some("hunter2"));
    assert!(!env.work_path("pub/key").exists() && !env.work_path("pub/s").exists());
}

#[test]
fn a_hard_linked_file_is_neither_read_nor_written_through_wasi() {
    let env = Env::new();
    let host = env.host();
    env.write("secrets/key.txt", "SECRET");
    std::fs::create_dir_all(env.work_path("out")).expect("mkdir");
    std::fs::hard_link(
        env.work_path("secrets/key.txt"),
        env.work_path("out/link.txt"),
    )
    .expect("link");
    let out = ops(
        &host,
        &env.options(&["fs.read:out/**", "fs.write:out/**"], None),
        json!([
            {"op": "read", "path": "out/link.txt"},
            {"op": "write", "path": "out/link.txt", "data": "overwritten"},
            {"op": "append", "path": "out/link.txt", "data": "more"},
        ]),
    );
    for result in &out {
        refused(result);
        assert!(!result.to_string().contains("SECRET"), "{result}");
    }
    assert_eq!(env.read("secrets/key.txt").as_deref(), Some("SECRET"));
}

#[test]
fn a_file_held_open_is_not_written_while_the_audit_log_cannot_be() {
    use std::time::{Duration, Instant};
    let env = Env::new();
    let host = env.host();
    let opts = env.options(&["fs.read:**", "fs.write:**"], None);
    let db = env.state_path().join("libos.db");
    let work = env.work.path().to_path_buf();
    // Once the probe holds `held.txt` open for writing (its open decided and recorded), the
    // audit table moves away under the writer, then the probe is let go on.
    let breaker = std::thread::spawn(move || -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !work.join("held.txt").exists() {
            anyhow::ensure!(Instant::now() < deadline, "the probe never opened the file");
            std::thread::sleep(Duration::from_millis(5));
        }
        rusqlite::Connection::open(&db)?.execute_batch("ALTER TABLE audit RENAME TO audit_away")?;
        std::fs::write(work.join("go"), "")?;
        Ok(())
    });
    let results = ops(
        &host,
        &opts,
        json!([{"op": "write_after", "path": "held.txt", "data": "LATE",
                "wait_for": "go", "mkdir": "made"}]),
    );
    breaker.join().expect("breaker thread").expect("breaker");
    // The directory's record could not be stored, so it was not made; from then on the log is
    // failing and the write through the descriptor opened before is refused too.
    refused(&results[0]["mkdir"]);
    refused(&results[0]["write"]);
    assert!(!env.work_path("made").exists());
    assert_eq!(
        env.read("held.txt").as_deref(),
        Some(""),
        "nothing was written"
    );

    // Once the log can be written again, so can files.
    rusqlite::Connection::open(env.state_path().join("libos.db"))
        .expect("db")
        .execute_batch("ALTER TABLE audit_away RENAME TO audit")
        .expect("table back");
    // A refusal is still queued, so the next batch commits and the log stops failing.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let again = ops(
            &host,
            &opts,
            json!([{"op": "write", "path": "held.txt", "data": "NOW"}]),
        );
        if again[0].get("error").is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the log never recovered: {again:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(env.read("held.txt").as_deref(), Some("NOW"));
}
