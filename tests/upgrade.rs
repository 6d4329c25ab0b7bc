//! `libos upgrade PID IMAGE`: a live process goes on with another image only when asked; the
//! new image replays the journal (nothing runs again), keeps only the capabilities it also
//! requests; one whose agent makes other calls fails the process naming the entry.

use serde_json::json;

use crate::checkpoints::{allowed_writes, output_of, wait_blocked};
use crate::common::Env;

/// Builds version `version` of image `up` from `component` requesting `caps`.
fn version(env: &Env, version: &str, component: &str, caps: &[&str]) {
    let dir = env.state_path().join(format!("up-{version}"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(component, dir.join("agent.wasm")).expect("copy");
    let caps: Vec<String> = caps.iter().map(|c| format!("{c:?}")).collect();
    std::fs::write(
        dir.join("image.toml"),
        format!(
            "name = \"up\"\nversion = {version:?}\nagent = \"agent.wasm\"\n\
             capabilities = [{}]\n\n[limits]\nwall_clock = \"120s\"\n",
            caps.join(", ")
        ),
    )
    .expect("manifest");
    env.image_build(&dir);
}

fn input() -> String {
    json!({ "steps": [
        { "op": "write", "path": "a.txt", "text": "once" },
        { "op": "wait_event", "topic": "go" },
        { "op": "self" },
        { "op": "write", "path": "b.txt", "text": "after" },
    ]})
    .to_string()
}

fn upgrade(env: &Env, pid: u64, image: &str) -> std::process::Output {
    env.libos()
        .args(["upgrade", &pid.to_string(), image])
        .output()
        .expect("upgrade")
}

#[test]
fn an_upgrade_replays_the_journal_with_the_new_image_and_only_narrows_authority() {
    let env = Env::new();
    version(&env, "1", libos_guests::AGENT_SCRIPT, &["fs.*", "events.*"]);
    version(
        &env,
        "2",
        libos_guests::AGENT_SCRIPT,
        &["fs.read:**", "events.*", "shell.*"],
    );
    let pid = env.run_detached("up:1", Some(&input()));
    wait_blocked(&env, pid);

    // The same image, an unknown one, an ended process: refused, nothing asked.
    assert!(!upgrade(&env, pid, "up:1").status.success());
    assert!(!upgrade(&env, pid, "up:9").status.success());
    assert!(!upgrade(&env, 999, "up:2").status.success());
    let image_of = |env: &Env| {
        env.ps_json()
            .into_iter()
            .find(|p| p["pid"] == pid)
            .map(|p| p["image"].clone())
    };
    assert_eq!(image_of(&env), Some(json!("up:1")));
    assert!(
        !env.audit_json()
            .iter()
            .any(|r| r["action"] == "process.upgrade"),
        "a refused upgrade is not recorded as one"
    );

    let out = upgrade(&env, pid, "up:2");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("now runs up:2"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // It replayed to the same wait, having done nothing again.
    wait_blocked(&env, pid);
    assert_eq!(allowed_writes(&env, "a.txt"), 1);
    env.libos().args(["emit", "go", "1"]).assert().success();
    let output = output_of(&env, pid);
    let me = &output["results"][2]["ok"];
    assert_eq!(me["image"], "up:2", "{output}");
    // Kept: what it held that the new image requests; never shell, which it never held.
    let mut caps: Vec<&str> = me["capabilities"]
        .as_array()
        .map(|c| c.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    caps.sort_unstable();
    assert_eq!(caps, vec!["events.*:**", "fs.read:**"], "{output}");
    assert_eq!(output["results"][3]["err"]["kind"], "denied", "{output}");
    assert!(env.read("b.txt").is_none());
    assert_eq!(allowed_writes(&env, "a.txt"), 1);
    let records = env.audit_json();
    assert!(
        records.iter().any(|r| r["action"] == "process.upgrade"
            && r["resource"] == format!("process/{pid}").as_str()
            && r["subject"]
                .as_str()
                .is_some_and(|s| s.starts_with("human:"))),
        "no record of the upgrade"
    );
}

#[test]
fn an_upgrade_to_an_agent_that_makes_other_calls_fails_the_process_naming_the_entry() {
    let env = Env::new();
    version(&env, "1", libos_guests::AGENT_SCRIPT, &["fs.*", "events.*"]);
    // Returns its input at once: the journal holds calls it never makes.
    version(
        &env,
        "3",
        libos_guests::AGENT_MINIMAL,
        &["fs.*", "events.*"],
    );
    let pid = env.run_detached("up:1", Some(&input()));
    wait_blocked(&env, pid);
    let out = upgrade(&env, pid, "up:3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env
        .libos()
        .args(["wait", &pid.to_string()])
        .output()
        .expect("wait");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("journal divergence at entry 1") && said.contains("fs.write"),
        "{said}"
    );
    assert_eq!(allowed_writes(&env, "a.txt"), 1);
}

#[test]
fn a_process_whose_host_died_is_upgraded_by_the_host_that_adopts_it() {
    let env = Env::new();
    version(&env, "1", libos_guests::AGENT_SCRIPT, &["fs.*", "events.*"]);
    version(&env, "2", libos_guests::AGENT_SCRIPT, &["fs.*", "events.*"]);
    let pid = env.run_detached("up:1", Some(&input()));
    wait_blocked(&env, pid);
    env.kill_host_of(pid);
    let out = upgrade(&env, pid, "up:2");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("when a host resumes it"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let mut host = crate::crash::serve(&env);
    wait_blocked(&env, pid);
    env.libos().args(["emit", "go", "1"]).assert().success();
    let output = output_of(&env, pid);
    let _ = host.kill();
    let _ = host.wait();
    assert_eq!(output["results"][2]["ok"]["image"], "up:2", "{output}");
    assert!(output["results"][3].get("ok").is_some(), "{output}");
    assert_eq!(allowed_writes(&env, "a.txt"), 1);
}
