//! `libos policy explain`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Subcommand;
use libos::host::AMBIENT_CAPABILITIES;
use libos_audit::{AuditRecord, AuditSink};
use libos_authority::{Authority, Capability, CapabilitySet, Policy};

use super::exit::{Code, Failure};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Show the decision for one action on one resource, and what decided it. Nothing is
    /// audited.
    Explain {
        /// Cedar policy file. Without one, capabilities alone decide.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// The action, e.g. fs.write.
        #[arg(long)]
        action: String,
        /// The resource, e.g. notes/todo.txt.
        #[arg(long)]
        resource: String,
        /// A capability the caller holds, as ACTION[:RESOURCE]. Repeatable.
        #[arg(long = "allow", value_name = "CAP")]
        allow: Vec<Capability>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Explaining never writes audit records.
struct Discard;

impl AuditSink for Discard {
    fn append(&self, _record: AuditRecord) {}
}

pub fn run(cmd: PolicyCommand) -> Result<(), Failure> {
    let PolicyCommand::Explain {
        policy,
        action,
        resource,
        allow,
        json,
    } = cmd;
    let policy = match &policy {
        Some(p) => libos::policy::load(p)?,
        None => Policy::permit_all(),
    };
    let caps: Vec<Capability> = allow
        .into_iter()
        .chain(AMBIENT_CAPABILITIES.iter().filter_map(|c| c.parse().ok()))
        .collect();
    let caps = CapabilitySet::new(caps).map_err(|e| Failure::new(Code::Error, e.to_string()))?;
    let authority = Authority::new(caps, Arc::new(policy), Arc::new(Discard));
    let explanation = authority.explain(&action, &resource);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&explanation).unwrap_or_default()
        );
    } else {
        println!("{explanation}");
    }
    Ok(())
}
