//! `libos policy explain --pid` decides as the process does: by the whole chain of policies
//! that binds it (its ancestors' too), and says which policy of the chain decided.

use crate::common;

use common::Env;
use serde_json::{Value, json};

/// Builds image `name`: the script agent holding `caps`, under `policy` if given.
fn image(env: &Env, name: &str, caps: &[&str], policy: Option<&str>) {
    let dir = env.agent_image(name, libos_guests::AGENT_SCRIPT, "wall_clock = \"60s\"");
    let mut extra = format!("capabilities = {}\n", json!(caps));
    if let Some(policy) = policy {
        std::fs::write(dir.join("policy.cedar"), policy).expect("policy");
        extra.push_str("policy = \"policy.cedar\"\n");
    }
    let manifest = std::fs::read_to_string(dir.join("image.toml")).expect("manifest");
    std::fs::write(
        dir.join("image.toml"),
        manifest.replace(
            "agent = \"agent.wasm\"\n",
            &format!("agent = \"agent.wasm\"\n{extra}"),
        ),
    )
    .expect("manifest");
    env.libos()
        .args(["image", "build"])
        .arg(&dir)
        .assert()
        .success();
}

fn explain(env: &Env, args: &[&str]) -> (Option<i32>, String) {
    let out = env
        .libos()
        .args(["policy", "explain"])
        .args(args)
        .output()
        .expect("explain");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn explain_by_pid_shows_the_inherited_forbid_that_decides() {
    let env = Env::new();
    env.write("secrets/key.txt", "SECRET");
    image(
        &env,
        "guarded",
        &["process.spawn:**", "process.wait:**", "fs.read:**"],
        Some(
            "@id(\"all\") permit (principal, action, resource);\n\
             @id(\"no-secrets\") forbid (principal, action, resource) when { resource.path like \"secrets/*\" };\n",
        ),
    );
    image(&env, "open", &["fs.read:**"], None);
    let input = json!({"steps": [
        {"op": "spawn", "image": "open", "caps": ["fs.read:**"],
         "input": {"steps": [{"op": "read", "path": "secrets/key.txt"}]}},
        {"op": "wait", "pid": "$0"},
    ]});
    let out = env
        .libos()
        .args(["run", "guarded", "--input", &input.to_string()])
        .arg("--workdir")
        .arg(env.work.path())
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let results: Value = serde_json::from_str(&text).expect("JSON output");
    let child = results["results"][0]["ok"].as_u64().expect("child pid");
    assert!(
        !text.contains("SECRET"),
        "the child read the secret: {text}"
    );
    let child = child.to_string();

    // The child's own image permits everything; the parent's forbid decides.
    let (code, alone) = explain(
        &env,
        &[
            "--image",
            "open",
            "--action",
            "fs.read",
            "--resource",
            "secrets/key.txt",
        ],
    );
    assert_eq!(code, Some(0), "{alone}");
    assert!(alone.contains(": allow"), "{alone}");
    let (code, chained) = explain(
        &env,
        &[
            "--pid",
            &child,
            "--action",
            "fs.read",
            "--resource",
            "secrets/key.txt",
        ],
    );
    assert_eq!(code, Some(0), "{chained}");
    assert!(chained.contains(": deny"), "{chained}");
    assert!(
        chained.contains("guarded/policy.cedar#no-secrets"),
        "the deciding policy is named: {chained}"
    );
    assert!(
        chained.contains("then guarded:0.1.0"),
        "the chain is shown: {chained}"
    );
    // What the chain allows, it allows.
    let (_, public) = explain(
        &env,
        &[
            "--pid",
            &child,
            "--action",
            "fs.read",
            "--resource",
            "notes.txt",
        ],
    );
    assert!(public.contains(": allow"), "{public}");
    // An unknown pid is named.
    let (code, missing) = explain(
        &env,
        &["--pid", "999", "--action", "fs.read", "--resource", "x"],
    );
    assert_ne!(code, Some(0), "{missing}");
}
