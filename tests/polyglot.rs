//! The same tool, `slugify`, written in Rust (`guest-tools/tools/slugify`), JavaScript and
//! Python (`examples/polyglot/`), each built from source (`scripts/polyglot.sh` for the last
//! two), gives the same answers through `libos tool call`; and the JavaScript and Python
//! `fetch` components, built with their toolchains' default options, are valid components
//! importing `wasi:http`; and a JavaScript agent (importing WASI) whose host is killed is
//! resumed with the random number and the time it drew before, repeating no effect.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use libos_guests as guests;
use serde_json::{Value, json};

/// Where `scripts/polyglot.sh` builds, and the state directory the tests share.
struct Built {
    dir: PathBuf,
    state: PathBuf,
}

/// Runs `scripts/polyglot.sh` once per test binary (it skips what is up to date and waits for
/// a concurrent run), then loads the three `slugify` once (`tool inspect`), so that their
/// compiled code is cached in the shared state directory before the tests call them. (A
/// component of 12 to 18 MB takes a debug build of the host some 10 s to compile.)
fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let built = Built {
            dir: tmp.join("polyglot"),
            state: tmp.join("polyglot-state"),
        };
        let run = Command::new("bash")
            .arg(root.join("scripts/polyglot.sh"))
            .arg(&built.dir)
            .output()
            .expect("running scripts/polyglot.sh");
        assert!(
            run.status.success(),
            "scripts/polyglot.sh failed:\n{}",
            String::from_utf8_lossy(&run.stderr)
        );
        for (lang, path) in slugifies(&built.dir) {
            let out = libos(&built.state, &["tool", "inspect", &path]);
            assert!(out.status.success(), "{lang}: {out:?}");
        }
        built
    })
}

/// `libos --state-dir STATE ARGS…`.
fn libos(state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_libos"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .env_remove("LIBOS_STATE_DIR")
        .output()
        .expect("running libos")
}

/// `libos ARGS…` on the shared state directory, once the components are built.
fn run(args: &[&str]) -> Output {
    libos(&built().state, args)
}

fn component(name: &str) -> String {
    built().dir.join(name).to_string_lossy().into_owned()
}

/// The three builds of `slugify`: (language, component path).
fn slugifies(dir: &Path) -> [(&'static str, String); 3] {
    let built = |name: &str| dir.join(name).to_string_lossy().into_owned();
    [
        ("rust", guests::SLUGIFY.to_owned()),
        ("javascript", built("slugify-js.wasm")),
        ("python", built("slugify-py.wasm")),
    ]
}

/// Inputs and their slugs, written from the rules: ASCII letters and digits kept (uppercase
/// lowercased), each run of anything else one `-`, no `-` at either end.
const CASES: &[(&str, &str)] = &[
    ("hello world", "hello-world"),
    ("Hello, World!", "hello-world"),
    ("MiXeD CaSe 42", "mixed-case-42"),
    ("a--b__c  d...e", "a-b-c-d-e"),
    ("  --leading, trailing--  ", "leading-trailing"),
    ("Crème Brûlée — 2024!", "cr-me-br-l-e-2024"),
    ("", ""),
    ("!@#$%^&*()", ""),
    ("ÀÉÎ øß", ""),
    ("2024-06-01", "2024-06-01"),
    ("007 Agents", "007-agents"),
    ("already-a-slug", "already-a-slug"),
    ("tab\there\nnew line", "tab-here-new-line"),
    ("emoji 🎉 party", "emoji-party"),
    ("日本語 text", "text"),
    // Non-ASCII letters whose Unicode lowercase is ASCII are still not letters here.
    ("İstanbul \u{212A}elvin", "stanbul-elvin"),
];

#[test]
fn slugify_gives_the_same_slug_in_rust_javascript_and_python() {
    for (text, expected) in CASES {
        let input = json!({ "text": text }).to_string();
        let mut outputs = Vec::new();
        for (lang, path) in slugifies(&built().dir) {
            let out = run(&["tool", "call", &path, "--input", &input]);
            assert!(
                out.status.success(),
                "{lang} on {input}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
            let value: Value = serde_json::from_str(&stdout).expect("JSON output");
            assert_eq!(value, json!({ "slug": expected }), "{lang} on {input}");
            outputs.push((lang, stdout));
        }
        let (first_lang, first) = &outputs[0];
        for (lang, out) in &outputs[1..] {
            assert_eq!(out, first, "{lang} and {first_lang} differ on {input}");
        }
    }
}

#[test]
fn the_three_slugify_describe_the_same_tool_and_import_no_wasi() {
    let schema = json!({
        "type": "object",
        "properties": { "text": { "type": "string" } },
        "required": ["text"],
        "additionalProperties": false
    });
    for (lang, path) in slugifies(&built().dir) {
        let out = run(&["tool", "inspect", "--json", &path]);
        assert!(out.status.success(), "{lang}: {out:?}");
        let shown: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(shown["loads"], true, "{lang}: {shown}");
        assert_eq!(shown["describe"]["name"], "slugify", "{lang}");
        assert_eq!(shown["describe"]["input_schema"], schema, "{lang}");
        assert_eq!(shown["describe"]["capabilities"], json!([]), "{lang}");
        // The tool world's own interfaces only (JavaScript and Python import all five of
        // them, Rust only the types); nothing from WASI.
        let imports = shown["imports"].as_array().expect("imports");
        assert!(!imports.is_empty(), "{lang}: {shown}");
        for import in imports {
            let name = import["name"].as_str().unwrap_or_default();
            assert!(name.starts_with("libos:runtime/"), "{lang} imports {name}");
            assert_eq!(import["class"], "runtime", "{lang}: {import}");
        }
    }
}

#[test]
fn the_three_slugify_conform() {
    for (lang, path) in slugifies(&built().dir) {
        let out = run(&["conform", "--json", &path]);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        assert_eq!(out.status.code(), Some(0), "{lang}: {report}");
        assert_eq!(report["verdict"], "pass", "{lang}: {report}");
        assert_eq!(report["kind"], "tool", "{lang}: {report}");
    }
}

/// The imports `libos tool inspect --json` lists for `path`, whether or not the host serves
/// them all (exit 0 or 5; never 8, "not a usable component").
fn imports_of(path: &str) -> (Value, Vec<String>) {
    let out = run(&["tool", "inspect", "--json", path]);
    assert!(
        matches!(out.status.code(), Some(0 | 5)),
        "{path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let names = shown["imports"]
        .as_array()
        .expect("imports")
        .iter()
        .filter_map(|i| i["name"].as_str().map(str::to_owned))
        .collect();
    (shown, names)
}

#[test]
fn the_fetch_components_are_components_importing_wasi_http() {
    let has = |imports: &[String], prefix: &str| imports.iter().any(|i| i.starts_with(prefix));
    for name in ["fetch-js.wasm", "fetch-py.wasm"] {
        let (shown, imports) = imports_of(&component(name));
        assert!(
            has(&imports, "wasi:http/outgoing-handler@0.2."),
            "{name}: {imports:?}"
        );
        assert_eq!(
            has(&imports, "wasi:sockets/"),
            name == "fetch-py.wasm",
            "only componentize-py's default build imports sockets: {name}: {imports:?}"
        );
        assert!(
            shown["exports"]
                .as_array()
                .is_some_and(|e| e.iter().any(|x| x == "get")),
            "{name}: {shown}"
        );
    }
}

/// An HTTP/1.1 answer saying which path was asked for.
fn served(request: &str) -> String {
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let body = format!("served {path}");
    format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn default_builds_load_and_their_requests_are_denied_until_granted() {
    let server = crate::common::server::Server::start(served);
    let port = server.port;
    let url = format!("http://127.0.0.1:{port}/hello");
    let input = json!({ "url": url }).to_string();
    let grant = format!("http.request:GET:127.0.0.1:{port}/hello");
    for name in ["fetch-js.wasm", "fetch-py.wasm"] {
        let path = component(name);
        let out = run(&["tool", "inspect", "--json", &path]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let shown: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(shown["loads"], true, "{name}: {shown}");

        // Not granted: refused (the guest sees its typed error), recorded, nothing sent.
        let before = server.hits();
        let out = run(&[
            "tool",
            "call",
            &path,
            "--function",
            "get",
            "--input",
            &input,
        ]);
        let shown: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert!(shown["err"].as_str().is_some(), "{name}: {shown}");
        assert_eq!(server.hits(), before, "{name}: a refused request was sent");

        // Granted: it reaches the server.
        let out = run(&[
            "tool",
            "call",
            &path,
            "--function",
            "get",
            "--allow",
            &grant,
            "--input",
            &input,
        ]);
        let shown: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(shown["ok"]["status"], 200, "{name}: {shown}");
        assert_eq!(shown["ok"]["body"], "served /hello", "{name}: {shown}");
        assert_eq!(server.hits(), before + 1, "{name}");
    }
    let out = run(&["audit", "show"]);
    let audit = String::from_utf8_lossy(&out.stdout);
    let resource = format!("http.request GET:127.0.0.1:{port}/hello");
    let decided = |verdict: &str| {
        audit
            .lines()
            .filter(|l| l.contains(&resource) && l.contains(&format!(" {verdict} ")))
            .count()
    };
    assert_eq!((decided("deny"), decided("allow")), (2, 2), "{audit}");
}

#[test]
fn a_javascript_agent_resumed_after_its_host_is_killed_draws_nothing_again() {
    let env = crate::common::Env::new();
    let dir = env.agent_image(
        "js-agent",
        &component("agent-js.wasm"),
        "wall_clock = \"120s\"",
    );
    let manifest = std::fs::read_to_string(dir.join("image.toml")).expect("manifest");
    let manifest = manifest.replacen(
        "agent = \"agent.wasm\"\n",
        "agent = \"agent.wasm\"\ncapabilities = [\"fs.*\"]\n",
        1,
    );
    std::fs::write(dir.join("image.toml"), manifest).expect("manifest");
    env.image_build(&dir);
    let input = json!({ "sleep_ms": 4000, "path": "drawn.json" }).to_string();
    let pid = env.run_detached("js-agent", Some(&input));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let drawn = loop {
        if let Some(text) = env.read("drawn.json") {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "drawn.json never written"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    // Killed while it sleeps; a new host resumes it.
    env.kill_host_of(pid);
    let mut host = crate::crash::serve(&env);
    let out = env
        .libos()
        .args(["wait", &pid.to_string()])
        .output()
        .expect("wait");
    let _ = host.kill();
    let _ = host.wait();
    assert!(out.status.success(), "{out:?}");
    let output: Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    let drawn: Value = serde_json::from_str(&drawn).expect("JSON drawn");
    assert_eq!(output["random"], drawn["random"], "{output} / {drawn}");
    assert_eq!(output["time"], drawn["time"], "{output} / {drawn}");
    let writes = env
        .audit_json()
        .iter()
        .filter(|r| r["action"] == "fs.write" && r["resource"] == "drawn.json")
        .count();
    assert_eq!(writes, 1);
    let logs = env
        .libos()
        .args(["logs", &pid.to_string()])
        .output()
        .expect("logs");
    let printed = String::from_utf8_lossy(&logs.stdout)
        .matches("drew ")
        .count();
    assert_eq!(printed, 1, "{}", String::from_utf8_lossy(&logs.stdout));
}
