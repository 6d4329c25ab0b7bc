//! `libos conform`: the conformance report of a component (`libos::conform`).

use std::path::{Path, PathBuf};

use clap::Args;
use libos::conform::{Outcome, Report};
use libos::host::{HostOptions, ToolHost};

use super::exit::{Code, Failure};
use super::text::for_stdout;

#[derive(Debug, Args)]
pub struct ConformArgs {
    /// The component file.
    component: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(
    args: ConformArgs,
    state_dir: Option<&Path>,
    strict_imports: libos::wasm::validate::Strictness,
) -> Result<(), Failure> {
    let runtime = super::runtime()?;
    let host = ToolHost::new(HostOptions {
        state_dir: state_dir.map(Path::to_path_buf),
        strict_imports,
        ..HostOptions::default()
    })?;
    let report = runtime.block_on(libos::conform::run(&host, &args.component));
    host.flush_audit()?;
    let report = report?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print(&report);
    }
    match report.verdict {
        Outcome::Fail => Err(Failure::new(
            Code::NotConformant,
            format!(
                "{} does not conform: {} check(s) failed",
                report.path.display(),
                report
                    .checks
                    .iter()
                    .filter(|c| c.outcome == Outcome::Fail)
                    .count()
            ),
        )),
        Outcome::Pass | Outcome::Warn => Ok(()),
    }
}

fn print(report: &Report) {
    println!(
        "component  {}",
        for_stdout(&report.path.display().to_string())
    );
    println!("sha256     {}", report.digest);
    println!("kind       {}", report.kind);
    for c in &report.checks {
        let mark = match c.outcome {
            Outcome::Pass => "pass",
            Outcome::Warn => "WARN",
            Outcome::Fail => "FAIL",
        };
        println!(
            "  {mark}  {:<40} {}",
            for_stdout(&c.check),
            for_stdout(&c.detail)
        );
    }
    println!(
        "verdict    {}",
        match report.verdict {
            Outcome::Fail => "does not conform",
            Outcome::Pass | Outcome::Warn => "conforms",
        }
    );
}
