//! `libos run | ps | wait | kill` as a user runs them, from more than one terminal.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::Env;

const LOG: &str = "\
tests/test_math.py::test_add PASSED
tests/test_math.py::test_div FAILED
FAILED tests/test_math.py::test_div - ZeroDivisionError: division by zero
========================= 1 failed, 1 passed in 0.12s ==========================
";

fn build_image(env: &Env, dir: &Path) {
    env.libos()
        .args(["image", "build"])
        .arg(dir)
        .assert()
        .success();
}

/// An image directory for the spinner fixture, which never returns.
fn spinner_image(env: &Env) -> std::path::PathBuf {
    env.agent_image(
        "spinner",
        libos_guests::AGENT_SPINNER,
        "wall_clock = \"60s\"",
    )
}

/// `libos run IMAGE --input INPUT` in the environment's working directory; must succeed and
/// print JSON.
fn run_ok(env: &Env, image: &str, input: &str) -> serde_json::Value {
    let out = env
        .libos()
        .args(["run", image, "--input", input, "--workdir"])
        .arg(env.work.path())
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("output is JSON")
}

/// What `libos ps --tree` prints.
fn ps_tree(env: &Env) -> String {
    let out = env
        .libos()
        .args(["ps", "--tree"])
        .output()
        .expect("ps --tree");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn run_prints_the_output_and_ps_shows_the_ended_process() {
    let env = Env::new();
    env.write("pytest.log", LOG);
    build_image(&env, &Path::new(libos_guests::IMAGES).join("log-parser"));
    let report = run_ok(&env, "log-parser", r#"{"log":"pytest.log"}"#);
    assert_eq!(report["failed_count"], 1, "{report}");

    let procs = env.ps_json();
    assert_eq!(procs.len(), 1, "{procs:?}");
    assert_eq!(procs[0]["image"], "log-parser:0.1.0");
    assert!(procs[0]["state"].get("exited").is_some(), "{procs:?}");
    let pid = procs[0]["pid"].as_u64().expect("pid");

    let text = ps_tree(&env);
    assert!(text.contains("log-parser:0.1.0"), "{text}");
    assert!(text.contains("exited"), "{text}");

    // `wait` on an ended process answers at once, with the same output.
    let waited = env
        .libos()
        .args(["wait", &pid.to_string()])
        .output()
        .expect("wait");
    assert!(waited.status.success());
    let again: serde_json::Value = serde_json::from_slice(&waited.stdout).expect("JSON");
    assert_eq!(again, report);
}

#[test]
fn run_of_a_missing_image_or_a_failing_process_has_its_exit_code() {
    let env = Env::new();
    env.libos().args(["run", "no-such-image"]).assert().code(10);
    build_image(&env, &Path::new(libos_guests::IMAGES).join("log-parser"));
    // The log does not exist: the agent's run returns an error.
    env.libos()
        .args([
            "run",
            "log-parser",
            "--input",
            r#"{"log":"missing.log"}"#,
            "--workdir",
        ])
        .arg(env.work.path())
        .assert()
        .code(11);
    env.libos().args(["wait", "999"]).assert().code(10);
    env.libos().args(["kill", "999"]).assert().code(10);
}

#[test]
fn kill_from_another_terminal_stops_a_running_process() {
    let env = Env::new();
    build_image(&env, &spinner_image(&env));
    let mut host = std::process::Command::new(env!("CARGO_BIN_EXE_libos"))
        .arg("--state-dir")
        .arg(env.state.path())
        .args(["run", "spinner", "--workdir"])
        .arg(env.work.path())
        .env_remove("LIBOS_STATE_DIR")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the host");
    let deadline = Instant::now() + Duration::from_secs(30);
    let pid = loop {
        let running = env
            .ps_json()
            .into_iter()
            .find(|p| p["state"] == "running")
            .and_then(|p| p["pid"].as_u64());
        if let Some(pid) = running {
            break pid;
        }
        assert!(Instant::now() < deadline, "the spinner never ran");
        std::thread::sleep(Duration::from_millis(50));
    };
    env.libos()
        .args(["kill", &pid.to_string()])
        .assert()
        .success();
    let status = loop {
        if let Some(status) = host.try_wait().expect("poll the host") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the host did not stop the killed process"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(12), "the host reports the kill");
    let procs = env.ps_json();
    assert_eq!(procs[0]["state"], "killed", "{procs:?}");
}

#[test]
fn the_coding_agent_example_runs_its_log_parser_child_and_shows_as_a_tree() {
    let env = Env::new();
    let images = Path::new(libos_guests::IMAGES);
    for entry in std::fs::read_dir(images.join("workspace")).expect("workspace") {
        let entry = entry.expect("entry");
        let to = env.work_path(&entry.file_name().to_string_lossy());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&to).expect("mkdir");
            for file in std::fs::read_dir(entry.path()).expect("dir") {
                let file = file.expect("file");
                std::fs::copy(file.path(), to.join(file.file_name())).expect("copy");
            }
        } else {
            std::fs::copy(entry.path(), to).expect("copy");
        }
    }
    build_image(&env, &images.join("log-parser"));
    build_image(&env, &images.join("coding-agent"));
    let result = run_ok(
        &env,
        "coding-agent",
        r#"{"log":"pytest.log","source":"src/calc.py"}"#,
    );
    assert_eq!(result["child_status"]["state"], "exited", "{result}");
    assert!(
        result["trace_objects"].as_u64().unwrap_or(0) >= 1,
        "{result}"
    );
    let child = result["child"].as_u64().expect("child pid");

    let procs = env.ps_json();
    let parent = procs
        .iter()
        .find(|p| p["image"] == "coding-agent:0.1.0")
        .expect("the parent");
    let kid = procs.iter().find(|p| p["pid"] == child).expect("the child");
    assert_eq!(kid["parent"], parent["pid"]);
    assert_eq!(kid["image"], "log-parser:0.1.0");
    // The child holds exactly the one read its parent asked for.
    assert_eq!(
        kid["capabilities"],
        serde_json::json!(["fs.read:pytest.log"])
    );

    let text = ps_tree(&env);
    let parent_line = text.lines().position(|l| l.contains("coding-agent:0.1.0"));
    let child_line = text.lines().position(|l| l.contains("  log-parser:0.1.0"));
    assert!(
        matches!((parent_line, child_line), (Some(p), Some(c)) if c == p + 1),
        "{text}"
    );
}
