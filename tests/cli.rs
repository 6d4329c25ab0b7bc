//! The `libos` command as a user runs it: inspect, call, exit codes, state directory, cache,
//! policy explain.

use crate::common;

use common::Env;
use libos_guests as guests;
use predicates::prelude::*;

#[test]
fn inspect_shows_imports_exports_description_and_schema() {
    let env = Env::new();
    let out = env
        .libos()
        .args(["tool", "inspect", guests::READ_FILE])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("name       read_file"), "{text}");
    assert!(text.contains("libos:runtime/fs@0.1.0"), "{text}");
    assert!(text.contains("allowed (libos runtime)"), "{text}");
    assert!(text.contains("exports    describe, invoke"), "{text}");
    assert!(text.contains("\"path\""), "{text}");

    // A component the host refuses is shown whole (each import with its verdict) and the
    // command fails by the first refused import.
    let refused_one = common::component_importing(
        env.work.path(),
        "lookalike.wasm",
        &[
            "wasi:sockets/tcp@0.2.6",
            "libos:runtimex/fs@0.1.0",
            "evil:pkg/x@1.0.0",
        ],
    );
    let out = env
        .libos()
        .args(["tool", "inspect", "--json"])
        .arg(&refused_one)
        .assert()
        .code(5);
    let shown: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(shown["loads"], false, "{shown}");
    let class_of = |name: &str| {
        shown["imports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .map(|i| i["class"].clone())
    };
    assert_eq!(
        class_of("libos:runtimex/fs@0.1.0").unwrap(),
        "refused",
        "{shown}"
    );
    assert_eq!(class_of("evil:pkg/x@1.0.0").unwrap(), "refused", "{shown}");
    assert_eq!(
        class_of("wasi:sockets/tcp@0.2.6").unwrap(),
        "wasi-network",
        "{shown}"
    );
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        err.starts_with("error: refused: imports libos:runtimex/fs@0.1.0"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line, no backtrace: {err}");

    // The network is served, denied until granted, and named so; --strict-imports refuses it.
    let out = env
        .libos()
        .args(["tool", "inspect", guests::SOCKETS])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        text.contains("served, denied until granted (each use decided: net.connect, net.bind)"),
        "{text}"
    );
    assert!(text.contains("(each use decided: http.request)"), "{text}");
    env.libos()
        .args(["--strict-imports", "tool", "inspect", guests::SOCKETS])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("--strict-imports"));

    let out = env
        .libos()
        .args(["tool", "inspect", "--json", guests::WORD_COUNT])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["describe"]["name"], "word_count");
    assert_eq!(v["describe"]["input_schema"]["required"][0], "text");
    assert_eq!(v["exports"], serde_json::json!(["describe", "invoke"]));
}

#[test]
fn call_prints_the_result_and_exit_codes_tell_failures_apart() {
    let env = Env::new();
    env.write("hello.txt", "hello world\n");
    let work = env.work.path().to_str().unwrap();

    env.libos()
        .args([
            "tool",
            "call",
            guests::WORD_COUNT,
            "--input",
            r#"{"text":"a b c"}"#,
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(r#""words":3"#));

    env.libos()
        .args([
            "tool",
            "call",
            guests::READ_FILE,
            "--workdir",
            work,
            "--allow",
            "fs.read:*.txt",
        ])
        .args(["--input", r#"{"path":"hello.txt"}"#])
        .assert()
        .success()
        .stdout(predicate::str::contains("hello world"));

    // Denied: exit 3, one line, file untouched.
    env.libos()
        .args(["tool", "call", guests::WRITE_FILE, "--workdir", work])
        .args(["--input", r#"{"path":"hello.txt","content":"pwned"}"#])
        .assert()
        .code(3)
        .stderr(predicate::str::starts_with(
            "error: denied: no capability grants fs.write on hello.txt",
        ));
    assert_eq!(env.read("hello.txt").as_deref(), Some("hello world\n"));

    // Needs approval: exit 4, file untouched.
    let policy = env.work_path("ask.cedar");
    std::fs::write(&policy, "@id(\"ask-writes\") @decision(\"ask\") permit(principal, action == Action::\"fs.write\", resource);").unwrap();
    env.libos()
        .args([
            "tool",
            "call",
            guests::WRITE_FILE,
            "--workdir",
            work,
            "--allow",
            "fs.write",
        ])
        .args(["--policy", policy.to_str().unwrap()])
        .args(["--input", r#"{"path":"hello.txt","content":"pwned"}"#])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("needs approval: request req-"));
    assert_eq!(env.read("hello.txt").as_deref(), Some("hello world\n"));

    // Limit exceeded: exit 6. Tool error: exit 7. Not a component: exit 8.
    env.libos()
        .args(["tool", "call", guests::SPIN, "--timeout", "200ms"])
        .assert()
        .code(6)
        .stderr("error: limit exceeded: time\n");
    env.libos()
        .args(["tool", "call", guests::WORD_COUNT, "--input", "not json"])
        .assert()
        .code(7);
    env.libos()
        .args(["tool", "call", guests::WORD_COUNT_CORE])
        .assert()
        .code(8)
        .stderr(predicate::str::contains("core WebAssembly module"));
    // A bad capability is a usage error with a clear message.
    env.libos()
        .args(["tool", "call", guests::WORD_COUNT, "--allow", ""])
        .assert()
        .code(2);
}

#[test]
fn state_dir_is_a_global_flag_and_an_environment_variable() {
    let other = tempfile::tempdir().unwrap();
    // After the subcommand.
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_libos"))
        .args([
            "tool",
            "call",
            guests::WORD_COUNT,
            "--input",
            r#"{"text":"x"}"#,
            "--state-dir",
        ])
        .arg(other.path())
        .assert()
        .success();
    assert!(other.path().join("libos.db").exists());
    // From the environment.
    let third = tempfile::tempdir().unwrap();
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_libos"))
        .env("LIBOS_STATE_DIR", third.path())
        .args(["audit", "verify"])
        .assert()
        .success()
        .stdout("ok: 0 records\n");
}

#[test]
fn the_second_call_does_not_recompile() {
    let env = Env::new();
    let first = env
        .libos()
        .args([
            "-v",
            "tool",
            "call",
            guests::WORD_COUNT,
            "--input",
            r#"{"text":"x"}"#,
        ])
        .assert()
        .success();
    let err = String::from_utf8(first.get_output().stderr.clone()).unwrap();
    assert!(err.contains("cache miss"), "{err}");
    let second = env
        .libos()
        .args([
            "tool",
            "call",
            guests::WORD_COUNT,
            "--input",
            r#"{"text":"x"}"#,
            "-v",
        ])
        .assert()
        .success();
    let err = String::from_utf8(second.get_output().stderr.clone()).unwrap();
    assert!(err.contains("cache hit"), "{err}");
    assert!(!err.contains("cache miss"), "{err}");
}

#[test]
fn policy_explain_names_the_deciding_rules() {
    let env = Env::new();
    let policy = env.work_path("p.cedar");
    std::fs::write(
        &policy,
        r#"@id("reads") permit(principal, action == Action::"fs.read", resource);
@id("no-secrets") forbid(principal, action, resource) when { resource.path like "secrets/*" };
@id("ask-writes") @decision("ask") permit(principal, action == Action::"fs.write", resource);"#,
    )
    .unwrap();
    let p = policy.to_str().unwrap();
    let explain = |action: &str, resource: &str, allow: &[&str]| {
        let mut cmd = env.libos();
        cmd.args([
            "policy",
            "explain",
            "--policy",
            p,
            "--action",
            action,
            "--resource",
            resource,
        ]);
        for a in allow {
            cmd.args(["--allow", a]);
        }
        let out = cmd.assert().success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    };
    let out = explain("fs.read", "docs/a.txt", &["fs.read"]);
    assert!(
        out.to_lowercase().contains("allow") && out.contains("reads"),
        "{out}"
    );
    let out = explain("fs.read", "secrets/k", &["fs.read"]);
    assert!(
        out.to_lowercase().contains("deny") && out.contains("no-secrets"),
        "{out}"
    );
    let out = explain("fs.write", "docs/a.txt", &["fs.write"]);
    assert!(
        out.to_lowercase().contains("ask") && out.contains("ask-writes"),
        "{out}"
    );
    let out = explain("fs.write", "docs/a.txt", &[]);
    assert!(
        out.contains("no capability grants fs.write on docs/a.txt"),
        "{out}"
    );
    // Explaining writes no audit records.
    env.libos()
        .args(["audit", "verify"])
        .assert()
        .success()
        .stdout("ok: 0 records\n");
}

#[test]
fn guest_text_cannot_forge_or_restyle_a_line_of_audit_show() {
    let env = Env::new();
    let path = "x\n#999 2026-01-01T00:00:00.000Z allow human:root fake\u{1b}[2J\u{202e}";
    let input = serde_json::json!({ "path": path }).to_string();
    env.libos()
        .args([
            "tool",
            "call",
            guests::READ_FILE,
            "--allow",
            "fs.read",
            "--input",
            &input,
        ])
        .arg("--workdir")
        .arg(env.work.path())
        .assert()
        .failure();
    let out = env.libos().args(["audit", "show"]).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    // One line per record, and no control or bidi character reaches the terminal.
    let records = env.audit_json().len();
    assert_eq!(text.lines().count(), records, "{text}");
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202e}'),
        "{text}"
    );
    assert!(
        text.contains("\\u{a}#999"),
        "the path is shown, escaped: {text}"
    );
}

#[test]
fn inspect_refuses_a_device_or_a_fifo_before_reading_it() {
    let env = Env::new();
    let fifo = env.work_path("pipe.wasm");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    for path in [std::path::Path::new("/dev/zero"), fifo.as_path()] {
        let out = env
            .libos()
            .args(["tool", "inspect"])
            .arg(path)
            .timeout(std::time::Duration::from_secs(20))
            .assert()
            .failure();
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(
            err.contains("not a regular file"),
            "{}: {err}",
            path.display()
        );
    }
}

#[test]
fn a_reader_that_goes_away_ends_a_command_quietly() {
    let env = Env::new();
    // Enough output that the write after the reader is gone fails.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_libos"))
        .arg("--state-dir")
        .arg(env.state_path())
        .args(["tool", "inspect", "--json", guests::WORD_COUNT])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("libos");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn guest_text_cannot_forge_a_line_of_ps_or_image_inspect() {
    let env = Env::new();
    let forged = "x\n    99      1  running  forged\u{1b}[2J\u{202e}";
    std::fs::create_dir(env.work_path(forged)).expect("mkdir");
    let dir = env.agent_image("spawner", guests::AGENT_SCRIPT, "wall_clock = \"60s\"");
    let manifest = std::fs::read_to_string(dir.join("image.toml")).expect("manifest");
    let manifest = manifest.replacen(
        "agent = \"agent.wasm\"\n",
        "agent = \"agent.wasm\"\ndescription = \"line\\nimage       forged\\u001b[2J\"\ncapabilities = [\"process.spawn:**\"]\n",
        1,
    );
    std::fs::write(dir.join("image.toml"), manifest).expect("manifest");
    env.libos()
        .args(["image", "build"])
        .arg(&dir)
        .assert()
        .success();
    let input = serde_json::json!({ "steps": [
        { "op": "spawn", "image": "spawner", "cwd": forged, "input": { "steps": [] } },
        { "op": "wait", "pid": "$0" },
    ]});
    env.libos()
        .args(["run", "spawner", "--input", &input.to_string()])
        .arg("--workdir")
        .arg(env.work.path())
        .assert()
        .success();
    let clean = |text: &str| !text.contains('\u{1b}') && !text.contains('\u{202e}');
    let ps = env.libos().args(["ps"]).assert().success();
    let text = String::from_utf8(ps.get_output().stdout.clone()).unwrap();
    // A header and two processes.
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(clean(&text), "{text}");
    let inspect = env
        .libos()
        .args(["image", "inspect", "spawner"])
        .assert()
        .success();
    let text = String::from_utf8(inspect.get_output().stdout.clone()).unwrap();
    assert_eq!(
        text.matches("\nimage ").count() + usize::from(text.starts_with("image ")),
        1,
        "{text}"
    );
    assert!(clean(&text), "{text}");
}

#[test]
fn a_tools_output_is_escaped_on_a_terminal_and_exact_in_a_pipe() {
    let env = Env::new();
    env.write("note.txt", "A\u{202e}B\u{2028}C");
    let args = |cmd: &mut std::process::Command| {
        cmd.arg("--state-dir")
            .arg(env.state_path())
            .args(["tool", "call", guests::READ_FILE, "--allow", "fs.read"])
            .args(["--input", r#"{"path":"note.txt"}"#])
            .arg("--workdir")
            .arg(env.work.path());
    };
    // In a pipe: the output exactly as the tool produced it.
    let mut piped = std::process::Command::new(env!("CARGO_BIN_EXE_libos"));
    args(&mut piped);
    let out = piped.output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains('\u{202e}'), "{text}");
    // On a terminal (a pseudo-terminal from `script`): escaped.
    let mut inner = std::process::Command::new(env!("CARGO_BIN_EXE_libos"));
    args(&mut inner);
    let line: Vec<String> = std::iter::once(inner.get_program())
        .chain(inner.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', "'\\''")))
        .collect();
    let out = std::process::Command::new("script")
        .args(["-qec", &line.join(" "), "/dev/null"])
        .output()
        .expect("script runs");
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(shown.contains("\\u{202e}"), "{shown}");
    assert!(
        !shown.contains('\u{202e}') && !shown.contains('\u{2028}'),
        "{shown}"
    );
}

/// A component that is not a tool: `inspect` lists its functions with their schemas, and
/// `call --function` runs one with a JSON object of its arguments (by its full name or a bare
/// name found once), refusing arguments that do not fit and functions with no JSON form.
#[test]
fn any_component_is_a_tool_per_exported_function() {
    let env = Env::new();
    let out = env
        .libos()
        .args(["tool", "inspect", "--json", guests::ZOO])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["tool"], false, "{v}");
    assert_eq!(v["describe"], serde_json::Value::Null);
    let functions = v["functions"].as_array().unwrap();
    let add = functions
        .iter()
        .find(|f| f["name"] == "zoo.add-u8")
        .unwrap();
    assert_eq!(
        add["input_schema"]["properties"]["a"],
        serde_json::json!({"type": "integer", "minimum": 0, "maximum": 255}),
        "{add}"
    );
    // The WIT doc comment, from the component's package-docs section.
    assert_eq!(add["description"], "Adds two bytes, wrapping.", "{add}");
    assert_eq!(
        add["input_schema"]["description"], "Adds two bytes, wrapping.",
        "{add}"
    );
    let hello = functions.iter().find(|f| f["name"] == "hello").unwrap();
    assert!(hello["description"].is_string(), "{hello}");
    let read_counter = functions
        .iter()
        .find(|f| f["name"] == "zoo.read-counter")
        .unwrap();
    assert_eq!(
        read_counter["not_callable"],
        "resource at c has no JSON form"
    );

    let call = |function: &str, input: &str| {
        env.libos()
            .args([
                "tool",
                "call",
                guests::ZOO,
                "--function",
                function,
                "--input",
                input,
            ])
            .assert()
    };
    call("zoo.add-u8", r#"{"a": 250, "b": 10}"#)
        .success()
        .stdout("4\n");
    call("add-u8", r#"{"a": 1, "b": 2}"#)
        .success()
        .stdout("3\n");
    call("hello", r#"{"name": "you"}"#)
        .success()
        .stdout("\"hello, you\"\n");
    call("divide", r#"{"a": 7, "b": 0}"#)
        .success()
        .stdout("{\"err\":\"cannot divide 7 by 0\"}\n");
    call("zoo.add-u8", r#"{"a": 256, "b": 10}"#)
        .code(7)
        .stderr(predicate::str::contains(
            "at /a: 256 is greater than the maximum of 255",
        ));
    call("zoo.move-point", r#"{"p": {"x": 1}, "by": [1, 1]}"#)
        .code(7)
        .stderr(predicate::str::contains(
            r#"at /p: "y" is a required property"#,
        ));
    call("read-counter", "{}")
        .code(7)
        .stderr(predicate::str::contains("resource at c has no JSON form"));
    call("no-such", "{}")
        .failure()
        .stderr(predicate::str::contains("no function \"no-such\""));
    // A tool is called as one: --function would skip its schema check and its name.
    env.libos()
        .args([
            "tool",
            "call",
            guests::READ_FILE,
            "--function",
            "invoke",
            "--input",
            "{}",
        ])
        .assert()
        .code(8)
        .stderr(predicate::str::contains("is a libos tool; call it as one"));
    // Without --function a plain component is not a tool: the error lists what to call.
    env.libos()
        .args(["tool", "call", guests::ZOO])
        .assert()
        .code(5)
        .stderr(
            predicate::str::contains("--function NAME").and(predicate::str::contains("zoo.add-u8")),
        );
}

/// The host checks a tool's input against the schema its `describe()` declared before the
/// tool runs: a mismatch is `invalid input` naming where, and the tool never ran (no fuel).
#[test]
fn a_tools_input_is_checked_against_its_schema_by_the_host() {
    let env = Env::new();
    let out = env
        .libos()
        .args([
            "tool",
            "call",
            guests::WORD_COUNT,
            "--json",
            "--input",
            r#"{"text": 5}"#,
        ])
        .assert()
        .code(7);
    let report: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let message = report["failure"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(r#"at /text: 5 is not of type "string""#),
        "{report}"
    );
    assert_eq!(report["fuel_used"], 0, "the tool did not run: {report}");
    env.libos()
        .args([
            "tool",
            "call",
            guests::WORD_COUNT,
            "--input",
            r#"{"text": "a", "extra": 1}"#,
        ])
        .assert()
        .code(7)
        .stderr(predicate::str::contains("does not match the input schema"));
    env.libos()
        .args(["tool", "call", guests::WORD_COUNT, "--input", "not json"])
        .assert()
        .code(7)
        .stderr(predicate::str::contains("the input is not JSON"));
}

/// A duplicate key cannot carry a value past the schema check: the tool gets the checked
/// value written anew (here the last `text`, which the check saw), not the raw text.
#[test]
fn a_tool_gets_the_input_the_host_checked() {
    let env = Env::new();
    env.libos()
        .args([
            "tool",
            "call",
            guests::WORD_COUNT,
            "--input",
            r#"{"text": 5, "text": "a b"}"#,
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(r#""words":2"#));
}
