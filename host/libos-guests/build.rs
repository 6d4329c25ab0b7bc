//! Builds every guest crate in `guest-tools/` from source and turns it into a component.
//!
//! Guests for `wasm32-unknown-unknown` are core modules whose only imports are the
//! `libos:runtime` interfaces; `wit-component` wraps them into components. Guests for
//! `wasm32-wasip2` (the fixtures that stand for ordinary WASI programs) come out of rustc as
//! components already. The guest build gets its own target directory: the outer build holds
//! the lock on the workspace's.
//!
//! Agents (`libos:runtime/agent` world) are built and wrapped exactly like tools. The image
//! directories of `guest-tools/images/` are then assembled into `<OUT_DIR>/images/` with the
//! built components copied in (see `build/images.rs`).

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

#[path = "build/images.rs"]
mod images;

/// Guest crates built for `wasm32-unknown-unknown` (imports: `libos:runtime` only).
const NATIVE: &[&str] = &[
    "read_file",
    "write_file",
    "list_dir",
    "word_count",
    "slugify",
    "fs_probe",
    "overreach",
    "bench_loop",
    "spin",
    "membomb",
    "big_output",
    "trap",
    "log_parser",
    "coding_agent",
    "agent_spinner",
    "agent_ticker",
    "agent_spawn_loop",
    "agent_object_flood",
    "agent_event_flood",
    "agent_kill_foreign",
    "agent_escalate",
    "agent_minimal",
    "agent_waiter",
    "agent_script",
    "zoo",
];

/// Guest crates built for `wasm32-wasip2` (ordinary WASI programs), with the name each
/// component gets (`agent_script` is built for both targets).
const WASIP2: &[(&str, &str)] = &[
    ("sockets", "sockets"),
    ("wasi_probe", "wasi_probe"),
    ("agent_script", "agent_script_wasi"),
];

fn main() {
    if let Err(e) = run() {
        // One readable message instead of a backtrace.
        eprintln!("error: building the guest components failed: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir
        .parent()
        .and_then(Path::parent)
        .context("locating the workspace root")?
        .to_path_buf();
    let guests = root.join("guest-tools");
    let wit = root.join("wit");
    println!("cargo:rerun-if-changed={}", guests.display());
    println!("cargo:rerun-if-changed={}", wit.display());

    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out: share one guest build across profiles.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .map(|t| t.join("guest-tools"))
        .unwrap_or_else(|| out_dir.join("guest-tools"));
    let components = out_dir.join("components");
    fs::create_dir_all(&components)?;

    cargo_build(&guests, &target_dir, "wasm32-unknown-unknown", NATIVE)?;
    let wasip2: Vec<&str> = WASIP2.iter().map(|(krate, _)| *krate).collect();
    cargo_build(&guests, &target_dir, "wasm32-wasip2", &wasip2)?;

    let mut consts = String::new();
    for name in NATIVE {
        let core = target_dir
            .join("wasm32-unknown-unknown/release")
            .join(format!("{name}.wasm"));
        let module = fs::read(&core).with_context(|| format!("reading {}", core.display()))?;
        let component = wit_component::ComponentEncoder::default()
            .module(&module)
            .with_context(|| format!("{name}: reading the component type section"))?
            .validate(true)
            .encode()
            .with_context(|| format!("{name}: encoding the component"))?;
        let component = with_package_docs(&guests, name, component)?;
        let path = components.join(format!("{name}.wasm"));
        fs::write(&path, component)?;
        writeln!(consts, "{}", constant(name, &path))?;
        if *name == "word_count" {
            // The bare core module, kept as a fixture: the host must reject it clearly.
            let core_copy = components.join("word_count.core.wasm");
            fs::write(&core_copy, &module)?;
            writeln!(consts, "{}", constant("word_count_core", &core_copy))?;
        }
    }
    for (krate, name) in WASIP2 {
        let built = target_dir
            .join("wasm32-wasip2/release")
            .join(format!("{krate}.wasm"));
        let path = components.join(format!("{name}.wasm"));
        fs::copy(&built, &path).with_context(|| format!("copying {}", built.display()))?;
        writeln!(consts, "{}", constant(name, &path))?;
    }
    writeln!(
        consts,
        "/// The directory holding every built component.\npub const DIR: &str = {:?};",
        components.display().to_string()
    )?;

    let images = out_dir.join("images");
    images::assemble(&guests.join("images"), &components, &images)?;
    writeln!(
        consts,
        "/// The directory holding the assembled image directories (`<name>/image.toml` with its \
         policy and components) and the demo `workspace/`.\npub const IMAGES: &str = {:?};",
        images.display().to_string()
    )?;
    fs::write(out_dir.join("guests.rs"), consts)?;
    Ok(())
}

fn constant(name: &str, path: &Path) -> String {
    format!(
        "/// Path of the built `{name}` component.\npub const {}: &str = {:?};",
        name.to_uppercase(),
        path.display().to_string()
    )
}

fn cargo_build(guests: &Path, target_dir: &Path, target: &str, crates: &[&str]) -> Result<()> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(guests)
        .args(["build", "--release", "--target", target])
        .arg("--target-dir")
        .arg(target_dir);
    for c in crates {
        cmd.args(["-p", c]);
    }
    // Flags meant for the host build must not leak into the guest build.
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key == "RUSTFLAGS"
            || key == "CARGO_ENCODED_RUSTFLAGS"
            || key == "CARGO_TARGET_DIR"
            || key == "CARGO_BUILD_TARGET"
            || key == "RUSTC_WORKSPACE_WRAPPER"
            || key.starts_with("CARGO_PROFILE_")
            || key.starts_with("CARGO_BUILD_")
        {
            cmd.env_remove(&key);
        }
    }
    let status = cmd.status().context("running cargo for the guests")?;
    if !status.success() {
        bail!(
            "cargo build --target {target} failed in {} (is the target installed? \
             `rustup target add {target}`)",
            guests.display()
        );
    }
    Ok(())
}

/// `component` with a `package-docs` custom section (the WIT doc comments of its own
/// package, as wit-component's WIT encoding writes them) when the guest `name` has a WIT
/// package of its own (`<guest dir>/wit`): the host turns them into descriptions.
fn with_package_docs(guests: &Path, name: &str, mut component: Vec<u8>) -> Result<Vec<u8>> {
    let Some(wit) = ["tools", "fixtures", "agents", "agents/fixtures"]
        .iter()
        .map(|group| guests.join(group).join(name).join("wit"))
        .find(|dir| dir.is_dir())
    else {
        return Ok(component);
    };
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve
        .push_dir(&wit)
        .with_context(|| format!("{name}: reading {}", wit.display()))?;
    let docs = wit_parser::PackageMetadata::extract(&resolve, package).encode()?;
    let section_name = wit_parser::PackageMetadata::SECTION_NAME.as_bytes();
    let mut body = Vec::new();
    leb128(&mut body, section_name.len());
    body.extend_from_slice(section_name);
    body.extend_from_slice(&docs);
    component.push(0); // a custom section
    leb128(&mut component, body.len());
    component.extend_from_slice(&body);
    Ok(component)
}

/// Appends `n` as unsigned LEB128.
fn leb128(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}
