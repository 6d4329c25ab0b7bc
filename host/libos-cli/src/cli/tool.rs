//! `libos tool inspect` and `libos tool call`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use libos::host::{CallOptions, HostOptions, LoadedTool, ToolHost};
use libos::wasm::cache::CacheOutcome;
use libos::wasm::validate::Strictness;
use libos::{CallReport, Limits};
use libos_authority::{Capability, Policy};
use serde_json::json;

use super::exit::{Code, Failure};
use super::parse;

#[derive(Debug, Subcommand)]
pub enum ToolCommand {
    /// Show any component's imports (each served or refused, and why), its exported functions
    /// with the JSON Schema of their arguments, and a tool's description.
    Inspect {
        /// The component file.
        component: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Call a tool once and print its JSON result; with --function, call one exported
    /// function of any component with a JSON object of its arguments.
    Call(CallArgs),
}

#[derive(Debug, Args)]
pub struct CallArgs {
    /// The component file.
    component: PathBuf,
    /// JSON input of the tool (with --function: an object of the function's arguments).
    #[arg(long, default_value = "{}")]
    input: String,
    /// Call this exported function of a component that is not a tool (`name`, or
    /// `interface.name` for an exported interface's; a bare name found once also works).
    #[arg(long, value_name = "NAME")]
    function: Option<String>,
    /// A capability the call holds, as ACTION[:RESOURCE] (e.g. fs.read:docs/**). Repeatable.
    #[arg(long = "allow", value_name = "CAP")]
    allow: Vec<Capability>,
    /// Cedar policy file. Without one, capabilities alone decide.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Working directory the tool's file primitives are confined to.
    #[arg(long, value_name = "DIR", default_value = ".")]
    workdir: PathBuf,
    /// Fuel budget.
    #[arg(long, default_value_t = Limits::default().fuel)]
    fuel: u64,
    /// Wall-clock limit (e.g. 500ms, 10s).
    #[arg(long, value_parser = parse::duration, default_value = "10s")]
    timeout: Duration,
    /// Memory cap (e.g. 64M).
    #[arg(long, value_parser = parse::size, default_value = "256M")]
    max_memory: usize,
    /// Cap on the result size (e.g. 1M).
    #[arg(long, value_parser = parse::size, default_value = "1M")]
    max_output: usize,
    /// Seed of the tool's randomness (fixed seeds give deterministic runs).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print the whole call report (result, log, stdout, stderr, fuel) as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(
    cmd: ToolCommand,
    state_dir: Option<&Path>,
    strict_imports: Strictness,
) -> Result<(), Failure> {
    let runtime = super::runtime()?;
    let host = ToolHost::new(HostOptions {
        state_dir: state_dir.map(Path::to_path_buf),
        strict_imports,
        ..HostOptions::default()
    })?;
    let result = runtime.block_on(async {
        match cmd {
            ToolCommand::Inspect { component, json } => inspect(&host, &component, json).await,
            ToolCommand::Call(args) => call(&host, args).await,
        }
    });
    // Every decision is durable before the command reports anything final.
    host.flush_audit()?;
    result
}

async fn inspect(host: &ToolHost, path: &Path, as_json: bool) -> Result<(), Failure> {
    let seen = host.inspect(path).await?;
    // A tool whose imports are all served also describes itself.
    let verdict = libos::wasm::validate::ensure_allowed_under(&seen.imports, host.strict_imports());
    let refused = verdict.is_err();
    let tool = if seen.is_tool && !refused {
        Some(host.load(path).await?)
    } else {
        None
    };
    if as_json {
        let out = json!({
            "path": seen.path,
            "digest": seen.digest,
            "imports": seen.imports,
            "exports": seen.exports,
            "functions": seen.functions,
            "tool": seen.is_tool,
            "loads": !refused,
            "describe": tool.as_ref().map(|t| &t.info),
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        print_inspection(&seen, tool.as_ref());
    }
    // Shown whole, and still refused: the exit code and message say by which import.
    verdict.map_err(Failure::from)
}

fn print_inspection(seen: &libos::host::Inspection, tool: Option<&LoadedTool>) {
    println!(
        "component  {}",
        super::text::for_stdout(&seen.path.display().to_string())
    );
    println!("sha256     {}", seen.digest);
    match tool {
        Some(tool) => print_description(tool),
        None if seen.is_tool => {
            println!("kind       tool, refused here (see the imports marked REFUSED)")
        }
        None => println!("kind       plain component: one tool per exported function"),
    }
    println!("imports");
    for i in &seen.imports {
        let verdict = if libos::wasm::validate::is_agent_only(&i.name) {
            "allowed to agent processes only (a tool importing it is refused)".to_string()
        } else {
            import_verdict(&i.class)
        };
        println!("  {:<40} {verdict}", super::text::for_stdout(&i.name));
    }
    println!("exports    {}", join_or_none(&seen.exports));
    println!("functions");
    for f in &seen.functions {
        match &f.schema {
            Ok(schema) => {
                match &f.description {
                    // One line: a guest's text never starts a line of its own here.
                    Some(d) => println!(
                        "  {}  — {}",
                        super::text::for_stdout(&f.name),
                        super::text::for_stdout(
                            &d.split_whitespace().collect::<Vec<_>>().join(" ")
                        )
                    ),
                    None => println!("  {}", super::text::for_stdout(&f.name)),
                }
                let text = serde_json::to_string_pretty(schema).unwrap_or_default();
                for line in text.lines() {
                    println!("      {}", super::text::for_stdout(line));
                }
            }
            Err(why) => println!(
                "  {}  (not callable: {})",
                super::text::for_stdout(&f.name),
                super::text::for_stdout(why)
            ),
        }
    }
}

fn import_verdict(class: &libos::wasm::validate::ImportClass) -> String {
    use libos::wasm::validate::ImportClass;
    match class {
        ImportClass::Runtime => "allowed (libos runtime)".to_string(),
        ImportClass::WasiBaseline => "allowed (WASI baseline, served empty)".to_string(),
        ImportClass::WasiFilesystem => {
            "allowed (WASI filesystem, only directories the caller's fs capabilities grant)"
                .to_string()
        }
        ImportClass::WasiNetwork(grants) => {
            format!("served, denied until granted (each use decided: {grants})")
        }
        ImportClass::Refused(why) => format!("REFUSED: {}", super::text::for_stdout(why)),
    }
}

fn print_description(tool: &LoadedTool) {
    println!("kind       tool");
    println!("name       {}", tool.info.name);
    println!(
        "about      {}",
        super::text::for_stdout(&tool.info.description)
    );
    println!("needs      {}", join_or_none(&tool.info.capabilities));
    println!("input schema");
    let schema = serde_json::to_string_pretty(&tool.info.input_schema).unwrap_or_default();
    for line in schema.lines() {
        println!("  {}", super::text::for_stdout(line));
    }
}

fn join_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(", ")
    }
}

async fn call(host: &ToolHost, args: CallArgs) -> Result<(), Failure> {
    let policy = match &args.policy {
        Some(p) => libos::policy::load(p)?,
        None => Policy::permit_all(),
    };
    if let Some(function) = &args.function {
        return call_function(host, &args, function, policy).await;
    }
    let tool = match host.load(&args.component).await {
        Ok(tool) => tool,
        Err(libos::LoadError::NotATool { path, message }) => {
            let functions = host
                .inspect(&path)
                .await
                .map(|seen| {
                    seen.functions
                        .into_iter()
                        .map(|f| f.name)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            return Err(Failure::new(
                Code::Refused,
                format!(
                    "{}: not a libos tool ({message}); call one of its functions with \
                     --function NAME: {}",
                    path.display(),
                    join_or_none(&functions)
                ),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if tool.cache == CacheOutcome::Miss {
        tracing::info!("compiled {} (stored in the cache)", tool.path.display());
    }
    let options = call_options(&args, policy);
    let report = host.call(&tool, &args.input, &options).await;
    report_call(host, &args, &tool.info.name, report)
}

/// The options of a one-shot call made with `args`.
fn call_options(args: &CallArgs, policy: Policy) -> CallOptions {
    let limits = Limits {
        fuel: args.fuel,
        timeout: args.timeout,
        max_memory: args.max_memory.min(libos::wasm::engine::MAX_MEMORY_CEILING),
        max_output: args.max_output,
        ..Limits::default()
    };
    CallOptions {
        on_behalf_of: None,
        cwd: String::new(),
        capabilities: args.allow.clone(),
        policy: Arc::new(policy),
        workdir: Some(args.workdir.clone()),
        limits,
        seed: libos::host::Seed::Fixed(args.seed),
        meter: None,
        human: None,
    }
}

/// `tool call --function`: one exported function of a plain component.
async fn call_function(
    host: &ToolHost,
    args: &CallArgs,
    function: &str,
    policy: Policy,
) -> Result<(), Failure> {
    let plain = host.load_plain(&args.component).await?;
    let name = plain.function(function)?.name.clone();
    let options = call_options(args, policy);
    let report = host
        .call_function(&plain, &name, &args.input, &options)
        .await;
    report_call(host, args, &name, report)
}

/// Prints a call's result (or its report as JSON) once its records are stored.
fn report_call(
    host: &ToolHost,
    args: &CallArgs,
    name: &str,
    report: CallReport,
) -> Result<(), Failure> {
    // Nothing is reported as done before its record is stored: if the records cannot be, the
    // call's result is not printed (what it did is then unrecorded, and the error says so).
    host.flush_audit().map_err(|e| {
        Failure::new(
            Code::Error,
            format!("the audit records of this call could not be stored ({e}); its result is not reported"),
        )
    })?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report_json(&report)).unwrap_or_default()
        );
    } else {
        print_side_channels(name, &report);
        if let Ok(out) = &report.result {
            println!("{}", super::text::for_stdout(out));
        }
    }
    report.result.map(|_| ()).map_err(Failure::from)
}

fn report_json(report: &CallReport) -> serde_json::Value {
    let (result, error) = match &report.result {
        Ok(out) => (
            serde_json::from_str(out).unwrap_or(serde_json::Value::String(out.clone())),
            serde_json::Value::Null,
        ),
        Err(e) => (
            serde_json::Value::Null,
            json!({ "error": e, "message": e.to_string() }),
        ),
    };
    json!({
        "result": result,
        "failure": error,
        "log": report.log,
        "log_dropped": report.log_dropped,
        "stdout": report.stdout,
        "stdout_dropped": report.stdout_dropped,
        "stderr": report.stderr,
        "stderr_dropped": report.stderr_dropped,
        "fuel_used": report.fuel_used,
        "elapsed_us": report.elapsed.as_micros() as u64,
    })
}

fn print_side_channels(name: &str, report: &CallReport) {
    for line in &report.log {
        eprintln!("[{name} {}] {}", line.level, line.message);
    }
    print_capped(name, "log", "", report.log_dropped);
    print_capped(name, "stdout", &report.stdout, report.stdout_dropped);
    print_capped(name, "stderr", &report.stderr, report.stderr_dropped);
}

/// Prints captured output line by line, then how much the cap dropped.
fn print_capped(name: &str, stream: &str, text: &str, dropped: u64) {
    for line in text.lines() {
        eprintln!("[{name} {stream}] {line}");
    }
    if dropped > 0 {
        eprintln!("[{name}] {stream} capped: {dropped} bytes dropped");
    }
}
