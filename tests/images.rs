//! `libos image build | ls | inspect` from the command line, on real components.

use crate::common;

use common::Env;
use predicates::prelude::*;

/// Writes an image directory `images/<name>` into the work directory: `word_count` as the
/// agent component (any component passes `image build`; running it is the kernel's job),
/// `read_file` as a tool, and a policy.
fn image_dir(env: &Env, name: &str, version: &str, extra: &str) -> std::path::PathBuf {
    let dir = env.work_path(&format!("images/{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(libos_guests::WORD_COUNT, dir.join("agent.wasm")).unwrap();
    std::fs::copy(libos_guests::READ_FILE, dir.join("read_file.wasm")).unwrap();
    std::fs::write(
        dir.join("policy.cedar"),
        r#"@id("default") permit(principal, action, resource);"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("image.toml"),
        format!(
            r#"name = "{name}"
version = "{version}"
description = "test image"
agent = "agent.wasm"
capabilities = ["fs.read:**"]
policy = "policy.cedar"
{extra}
[tools]
read_file = "read_file.wasm"

[limits]
max_children = 2
memory = "32MiB"
"#
        ),
    )
    .unwrap();
    dir
}

#[test]
fn build_list_inspect_round_trip() {
    let env = Env::new();
    let dir = image_dir(&env, "demo", "0.1.0", "");

    env.libos()
        .args(["image", "build"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicate::str::starts_with("built demo:0.1.0 sha256:"));
    // The same content again changes nothing.
    env.libos()
        .args(["image", "build"])
        .arg(dir.join("image.toml"))
        .assert()
        .success()
        .stdout(predicate::str::starts_with("unchanged demo:0.1.0"));

    let out = env
        .libos()
        .args(["image", "ls", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["name"], "demo");
    assert_eq!(list[0]["tools"], 1);

    let out = env
        .libos()
        .args(["image", "inspect", "demo", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let image: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(image["version"], "0.1.0");
    assert_eq!(image["capabilities"][0], "fs.read:**");
    assert_eq!(image["limits"]["max_children"], 2);
    assert!(image["tools"]["read_file"]["digest"].is_string());
    // Components are stored by content hash under the state directory.
    let agent_digest = image["agent"]["digest"].as_str().unwrap();
    assert!(
        env.state
            .path()
            .join("images/sha256")
            .join(agent_digest)
            .is_file()
    );

    let digest = image["digest"].as_str().unwrap();
    env.libos()
        .args(["image", "inspect", &format!("sha256:{}", &digest[..12])])
        .assert()
        .success()
        .stdout(predicate::str::contains("image       demo:0.1.0"))
        .stdout(predicate::str::contains("tool        read_file"));
}

#[test]
fn unknown_reference_is_not_found() {
    let env = Env::new();
    env.libos()
        .args(["image", "inspect", "nope:1.0"])
        .assert()
        .code(10)
        .stderr(predicate::str::contains("nope:1.0"));
}

#[test]
fn manifest_errors_name_the_file_and_the_field() {
    let env = Env::new();
    let dir = image_dir(&env, "bad", "0.1.0", "colour = \"blue\"\n");
    let manifest = dir.join("image.toml");
    env.libos()
        .args(["image", "build"])
        .arg(&dir)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(manifest.display().to_string()))
        .stderr(predicate::str::contains("colour"));

    // A core module where a component is expected.
    let dir = image_dir(&env, "core", "0.1.0", "");
    std::fs::copy(libos_guests::WORD_COUNT_CORE, dir.join("read_file.wasm")).unwrap();
    env.libos()
        .args(["image", "build"])
        .arg(&dir)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("tools.read_file"));
    // Nothing was recorded by the failed builds.
    let out = env
        .libos()
        .args(["image", "ls", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );
}

/// The example images shipped in `guest-tools/images/` build as they are.
#[test]
fn example_images_build() {
    let env = Env::new();
    let images = std::path::Path::new(libos_guests::IMAGES);
    for (name, tools) in [("coding-agent", 1), ("log-parser", 0)] {
        env.libos()
            .args(["image", "build"])
            .arg(images.join(name))
            .assert()
            .success()
            .stdout(predicate::str::starts_with(format!("built {name}:")));
        let out = env
            .libos()
            .args(["image", "inspect", name, "--json"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let image: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            image["tools"].as_object().map(|t| t.len()),
            Some(tools),
            "{image}"
        );
        assert!(
            image["policy"]
                .as_str()
                .is_some_and(|p| p.contains("no-secrets"))
        );
    }
}
