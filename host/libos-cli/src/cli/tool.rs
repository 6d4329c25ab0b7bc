//! `libos tool inspect` and `libos tool call`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use libos::host::{CallOptions, HostOptions, LoadedTool, ToolHost};
use libos::wasm::cache::CacheOutcome;
use libos::{CallReport, Limits};
use libos_authority::{Capability, Policy};
use serde_json::json;

use super::exit::{Code, Failure};
use super::parse;

#[derive(Debug, Subcommand)]
pub enum ToolCommand {
    /// Show a component's imports (allowed or refused), exports, description and input schema.
    Inspect {
        /// The component file.
        component: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Call a tool once and print its JSON result.
    Call(CallArgs),
}

#[derive(Debug, Args)]
pub struct CallArgs {
    /// The component file.
    component: PathBuf,
    /// JSON input of the tool.
    #[arg(long, default_value = "{}")]
    input: String,
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

pub fn run(cmd: ToolCommand, state_dir: Option<&Path>) -> Result<(), Failure> {
    let runtime = super::runtime()?;
    let host = ToolHost::new(HostOptions {
        state_dir: state_dir.map(Path::to_path_buf),
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
    let tool = match host.load(path).await {
        Ok(t) => t,
        Err(e) => return Err(e.into()),
    };
    if as_json {
        let out = json!({
            "path": tool.path,
            "digest": tool.digest,
            "imports": tool.imports,
            "exports": tool.exports,
            "describe": tool.info,
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(());
    }
    print_inspect(&tool);
    Ok(())
}

fn print_inspect(tool: &LoadedTool) {
    println!("component  {}", tool.path.display());
    println!("sha256     {}", tool.digest);
    println!("name       {}", tool.info.name);
    println!("about      {}", tool.info.description);
    println!("needs      {}", join_or_none(&tool.info.capabilities));
    println!("imports");
    for i in &tool.imports {
        let verdict = match &i.class {
            libos::wasm::validate::ImportClass::Runtime => "allowed (libos runtime)".to_string(),
            libos::wasm::validate::ImportClass::WasiBaseline => {
                "allowed (WASI baseline, served empty)".to_string()
            }
            libos::wasm::validate::ImportClass::WasiFilesystem => {
                "allowed (WASI filesystem, only directories the caller's fs capabilities grant)"
                    .to_string()
            }
            libos::wasm::validate::ImportClass::Refused(why) => format!("REFUSED: {why}"),
        };
        println!("  {:<40} {verdict}", i.name);
    }
    println!("exports    {}", join_or_none(&tool.exports));
    println!("input schema");
    let schema = serde_json::to_string_pretty(&tool.info.input_schema).unwrap_or_default();
    for line in schema.lines() {
        println!("  {line}");
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
    let tool = host.load(&args.component).await?;
    if tool.cache == CacheOutcome::Miss {
        tracing::info!("compiled {} (stored in the cache)", tool.path.display());
    }
    let limits = Limits {
        fuel: args.fuel,
        timeout: args.timeout,
        max_memory: args.max_memory.min(libos::wasm::engine::MAX_MEMORY_CEILING),
        max_output: args.max_output,
        ..Limits::default()
    };
    let options = CallOptions {
        on_behalf_of: None,
        cwd: String::new(),
        capabilities: args.allow.clone(),
        policy: Arc::new(policy),
        workdir: Some(args.workdir.clone()),
        limits,
        seed: args.seed,
        meter: None,
        human: None,
    };
    let report = host.call(&tool, &args.input, &options).await;
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
        print_side_channels(&tool.info.name, &report);
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
