//! No effect without its record: a file an agent wrote is on disk only if the audit record
//! that allowed it was committed first, whether the host is killed with `kill -9` in the
//! middle of writing or the state directory's disk fills up under it (then every later
//! effect fails closed, as a typed error, and nothing is done unrecorded).

use crate::common;

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::Env;
use serde_json::json;

/// Builds image `writer`: the script agent with `fs.*` on everything, under a policy that
/// permits it all.
fn writer_image(env: &Env, image_dir: &Path) {
    std::fs::create_dir_all(image_dir).expect("mkdir");
    std::fs::copy(libos_guests::AGENT_SCRIPT, image_dir.join("agent.wasm")).expect("copy");
    std::fs::write(
        image_dir.join("policy.cedar"),
        "@id(\"all\") permit (principal, action, resource);\n",
    )
    .expect("policy");
    std::fs::write(
        image_dir.join("image.toml"),
        "name = \"writer\"\nversion = \"0.1.0\"\nagent = \"agent.wasm\"\n\
         policy = \"policy.cedar\"\ncapabilities = [\"fs.*:**\"]\n\n\
         [limits]\nwall_clock = \"300s\"\n",
    )
    .expect("manifest");
    env.libos()
        .args(["image", "build"])
        .arg(image_dir)
        .assert()
        .success();
}

/// The input of a process that writes `dir/f0`, `dir/f1`, … until a write fails.
fn writes_into(dir: &str) -> String {
    json!({"steps": [{"op": "repeat", "times": 1_000_000,
        "step": {"op": "write", "path": format!("{dir}/f{{i}}"), "text": "x"}}]})
    .to_string()
}

/// The resources of the committed `fs.write` allow records in the audit database of `state`.
fn recorded_writes(state: &Path) -> HashSet<String> {
    let conn = rusqlite::Connection::open(state.join("libos.db")).expect("open the audit db");
    let mut stmt = conn
        .prepare("SELECT resource FROM audit WHERE action = 'fs.write' AND verdict = 'allow'")
        .expect("query");
    stmt.query_map([], |row| row.get::<_, String>(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("resources")
}

/// The names in `dir` (relative to the working directory, as records name them), each
/// checked to be a written file, not a temporary left by an interrupted write.
fn files_in(work: &Path, dir: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(work.join(dir)) else {
        return Vec::new();
    };
    entries
        .map(|e| {
            let name = e.expect("entry").file_name().to_string_lossy().into_owned();
            assert!(name.starts_with('f'), "a stray file {dir}/{name}");
            format!("{dir}/{name}")
        })
        .collect()
}

#[test]
fn every_file_a_host_killed_hard_wrote_has_its_committed_record() {
    let env = Env::new();
    writer_image(&env, &env.state_path().join("writer-image"));
    let mut written = 0;
    for round in 0..5 {
        let dir = format!("round{round}");
        std::fs::create_dir(env.work_path(&dir)).expect("mkdir");
        let pid = env.run_detached("writer", Some(&writes_into(&dir)));
        // Kill at a different point of the batch each round.
        let wanted = 20 + round * 37;
        let deadline = Instant::now() + Duration::from_secs(60);
        while files_in(env.work.path(), &dir).len() < wanted {
            assert!(Instant::now() < deadline, "the writer made no progress");
            std::thread::sleep(Duration::from_millis(2));
        }
        env.kill_host_of(pid);

        let recorded = recorded_writes(env.state_path());
        let files = files_in(env.work.path(), &dir);
        assert!(files.len() >= wanted);
        for file in &files {
            assert!(
                recorded.contains(file),
                "round {round}: {file} is on disk without its record"
            );
        }
        written += files.len();
    }
    assert!(written >= 5 * 20);
    env.libos().args(["audit", "verify"]).assert().success();
}

/// Runs `script` as root of a new user and mount namespace (so it may mount a tmpfs without
/// privileges); returns its exit code, stdout and stderr.
fn in_mount_namespace(script: &str, vars: &[(&str, &Path)]) -> (Option<i32>, String, String) {
    let mut cmd = std::process::Command::new("unshare");
    cmd.args([
        "--user",
        "--map-root-user",
        "--mount",
        "bash",
        "-euo",
        "pipefail",
        "-c",
    ])
    .arg(script);
    for (name, value) in vars {
        cmd.env(name, value);
    }
    let out = cmd.output().expect("unshare runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_full_state_disk_stops_every_effect_and_leaves_none_unrecorded() {
    let env = Env::new();
    let outside = tempfile::tempdir().expect("tempdir");
    let image_dir = outside.path().join("writer-image");
    let report = outside.path().join("report");
    std::fs::create_dir_all(&report).expect("mkdir");
    std::fs::write(outside.path().join("input.json"), writes_into("out")).expect("input");
    std::fs::create_dir_all(&image_dir).expect("mkdir");
    std::fs::copy(libos_guests::AGENT_SCRIPT, image_dir.join("agent.wasm")).expect("copy");

    // Everything happens inside the namespace, where the state directory is a 16 MiB tmpfs:
    // build the image, start the writer, fill the disk once it has written 50 files, wait
    // for the writer to stop, then free the disk and read what the log holds.
    let script = r#"
        mount -t tmpfs -o size=16m libos-test "$STATE"
        libos() { "$LIBOS" --state-dir "$STATE" "$@"; }
        printf '%s\n' '@id("all") permit (principal, action, resource);' > "$IMAGE/policy.cedar"
        printf 'name = "writer"\nversion = "0.1.0"\nagent = "agent.wasm"\npolicy = "policy.cedar"\ncapabilities = ["fs.*:**"]\n\n[limits]\nwall_clock = "300s"\n' > "$IMAGE/image.toml"
        libos image build "$IMAGE" > /dev/null
        mkdir "$WORK/out"
        libos run writer --input "$(cat "$INPUT")" --workdir "$WORK" > "$REPORT/out" 2> "$REPORT/err" &
        run=$!
        for _ in $(seq 3000); do
            [ "$(ls "$WORK/out" 2>/dev/null | wc -l)" -ge 50 ] && break
            sleep 0.01
        done
        dd if=/dev/zero of="$STATE/filler" bs=64k 2> /dev/null || true
        code=0
        timeout 120 tail --pid="$run" -f /dev/null || code=124
        wait "$run" || code=$?
        echo "$code" > "$REPORT/code"
        rm "$STATE/filler"
        libos audit verify > "$REPORT/verify" 2>&1 || echo "verify failed: $?" >> "$REPORT/verify"
        cp "$STATE/libos.db" "$REPORT/libos.db"
        [ -e "$STATE/libos.db-wal" ] && cp "$STATE/libos.db-wal" "$REPORT/libos.db-wal"
        true
    "#;
    let (code, stdout, stderr) = in_mount_namespace(
        script,
        &[
            ("LIBOS", Path::new(env!("CARGO_BIN_EXE_libos"))),
            ("STATE", env.state_path()),
            ("WORK", env.work.path()),
            ("IMAGE", &image_dir),
            ("INPUT", &outside.path().join("input.json")),
            ("REPORT", &report),
        ],
    );
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let read = |name: &str| std::fs::read_to_string(report.join(name)).unwrap_or_default();
    let (run_out, run_err) = (read("out"), read("err"));
    assert_ne!(
        read("code").trim(),
        "124",
        "the writer never stopped: {run_err}"
    );

    let files = files_in(env.work.path(), "out");
    assert!(files.len() >= 50, "{} files; {run_err}", files.len());
    let recorded = recorded_writes(&report);
    for file in &files {
        assert!(
            recorded.contains(file),
            "{file} is on disk without its record"
        );
    }
    // The run stopped, saying why: the writes past the full disk failed closed (their records
    // could not be stored) and the host could not record the process's end either.
    assert_ne!(read("code").trim(), "0", "{run_out}");
    assert!(
        run_err.contains("database or disk is full"),
        "the run does not say why it stopped: {run_err}"
    );
    assert!(
        read("verify").starts_with("ok"),
        "the log is intact once the disk is free: {}",
        read("verify")
    );
}
