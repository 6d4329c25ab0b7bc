//! `libos effects`: the external effects of processes as their journals hold them, in doubt or
//! settled by a person after a host stopped mid-effect (see `libos_process`'s journal).

use std::path::Path;

use clap::Args;
use libos::state::StateDir;
use libos_journal::{EffectState, Journal};

use super::exit::{Code, Failure};
use super::text::clean;

#[derive(Debug, Args)]
pub struct EffectsArgs {
    /// Only effects in this state: prepared (under way), unknown (in doubt: a person must
    /// say what happened), done, retried or failed (settled by a person). Default: all but
    /// the committed.
    #[arg(long, value_name = "STATE", value_parser = clap::builder::PossibleValuesParser::new(["prepared", "unknown", "done", "retried", "failed"]))]
    pub state: Option<String>,
    /// Print JSON (one array).
    #[arg(long)]
    pub json: bool,
}

/// Lists the effects (see [`EffectsArgs`]).
pub fn run(args: EffectsArgs, state_dir: Option<&Path>) -> Result<(), Failure> {
    let state = StateDir::open(state_dir)?;
    let journal =
        Journal::open(&state.db_path()).map_err(|e| Failure::new(Code::Error, e.to_string()))?;
    let states: Vec<EffectState> = args
        .state
        .as_deref()
        .and_then(EffectState::parse)
        .into_iter()
        .collect();
    let entries = journal
        .in_states(&states)
        .map_err(|e| Failure::new(Code::Error, e.to_string()))?;
    let human = libos_human::HumanQueue::open(state.db_path())
        .map_err(|e| Failure::new(Code::Error, e.to_string()))?;
    let pending = human
        .pending()
        .map_err(|e| Failure::new(Code::Error, e.to_string()))?;
    let mut rows = Vec::new();
    for e in &entries {
        let marker = format!("(journal entry {})", e.seq);
        let question = pending
            .iter()
            .find(|r| {
                r.pid == e.pid
                    && matches!(&r.kind, libos_human::RequestKind::Question { question, .. } if question.contains(&marker))
            })
            .map(|r| r.id.clone());
        rows.push(serde_json::json!({
            "pid": e.pid,
            "seq": e.seq,
            "call": format!("{}.{}", e.interface.rsplit('/').next().unwrap_or(&e.interface), e.function),
            "state": e.state.as_str(),
            "preview": libos_process::intent_preview(&e.intent),
            "question": question,
        }));
    }
    if args.json {
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    if rows.is_empty() {
        println!(
            "no effects{}",
            args.state
                .map(|s| format!(" in state {s}"))
                .unwrap_or_default()
        );
        return Ok(());
    }
    println!(
        "{:>6} {:>6}  {:<9} {:<22} WHAT",
        "PID", "ENTRY", "STATE", "CALL"
    );
    for row in rows {
        let text = |k: &str| clean(row[k].as_str().unwrap_or_default());
        println!(
            "{:>6} {:>6}  {:<9} {:<22} {}{}",
            row["pid"],
            row["seq"],
            text("state"),
            text("call"),
            text("preview"),
            row["question"]
                .as_str()
                .map(|id| format!("   (answer: libos answer {} ...)", clean(id)))
                .unwrap_or_default()
        );
    }
    Ok(())
}
