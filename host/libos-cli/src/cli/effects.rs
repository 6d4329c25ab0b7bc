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
    /// Delete what the journal still holds of processes that have ended (their settled and
    /// in-doubt effects; the audit log keeps every question and answer), instead of listing.
    #[arg(long, conflicts_with_all = ["state", "json"])]
    pub prune: bool,
}

/// Lists the effects (see [`EffectsArgs`]).
pub fn run(args: EffectsArgs, state_dir: Option<&Path>) -> Result<(), Failure> {
    let state = StateDir::open(state_dir)?;
    let journal =
        Journal::open(&state.db_path()).map_err(|e| Failure::new(Code::Error, e.to_string()))?;
    if args.prune {
        return prune(&journal, &state, state_dir);
    }
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
        // The host's question ends so (the preview earlier in it is guest text).
        let marker = format!("(journal entry {}). Did it happen?", e.seq);
        let question = pending
            .iter()
            .find(|r| {
                r.pid == e.pid
                    && matches!(&r.kind, libos_human::RequestKind::Question { question, .. } if question.ends_with(&marker))
            })
            .map(|r| r.id.clone());
        rows.push(serde_json::json!({
            "pid": e.pid,
            "seq": e.seq,
            "call": format!("{}.{}", e.interface.rsplit('/').next().unwrap_or(&e.interface), e.function),
            "state": e.state.as_str(),
            "preview": libos_process::intent_preview(&e.intent),
            "grant": e.grant,
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
            "{:>6} {:>6}  {:<9} {:<22} {}{}{}",
            row["pid"].as_u64().unwrap_or_default(),
            row["seq"].as_u64().unwrap_or_default(),
            text("state"),
            text("call"),
            text("preview"),
            row["grant"]
                .as_u64()
                .map(|g| format!(" [approved: grant {g}]"))
                .unwrap_or_default(),
            row["question"]
                .as_str()
                .map(|id| format!("   (answer: libos answer {} ...)", clean(id)))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// `libos effects --prune`: forgets the entries left of every ended process (each audited as
/// `journal.prune` on `process/PID` before it is deleted).
fn prune(journal: &Journal, state: &StateDir, state_dir: Option<&Path>) -> Result<(), Failure> {
    let error = |e: &dyn std::fmt::Display| Failure::new(Code::Error, e.to_string());
    let table = libos_proctable::ProcessTable::open(state.db_path()).map_err(|e| error(&e))?;
    let all = [
        EffectState::Prepared,
        EffectState::Unknown,
        EffectState::Done,
        EffectState::Retried,
        EffectState::Failed,
    ];
    let mut pids: Vec<u64> = journal
        .in_states(&all)
        .map_err(|e| error(&e))?
        .iter()
        .map(|e| e.pid)
        .collect();
    pids.dedup();
    let (mut processes, mut entries) = (0usize, 0usize);
    for pid in pids {
        // Only a process whose row says it ended (a live one, or one a host may still
        // resume, keeps everything).
        if !table.get(pid).is_ok_and(|r| r.state.is_ended()) {
            continue;
        }
        super::operator::record(
            state_dir,
            "journal.prune",
            &format!("process/{pid}"),
            "operator: libos effects --prune",
        )?;
        entries += journal.forget(pid).map_err(|e| error(&e))?;
        processes += 1;
    }
    println!("pruned {entries} journal entries of {processes} ended processes");
    Ok(())
}
