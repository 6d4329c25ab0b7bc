//! `libos policy explain`: what decides a call, before anyone is asked to approve it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Subcommand;
use libos::host::AMBIENT_CAPABILITIES;
use libos::primitives::shell::{self, classify, confine, grants::Grants};
use libos::state::StateDir;
use libos_audit::{AuditRecord, AuditSink};
use libos_authority::{Authority, Capability, CapabilitySet, Policy};
use libos_human::{HumanQueue, RequestKind, RuleEffect};
use libos_image::ImageStore;

use super::exit::{Code, Failure};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Show the decision for one action on one resource, and what decided it: the
    /// capability, the Cedar policies (which one asks, and why), and a person's standing rule
    /// for the image if one answers instead. Nothing is audited.
    Explain {
        /// Cedar policy file. Without one (and without --image), capabilities alone decide.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["image", "request"])]
        policy: Option<PathBuf>,
        /// Decide as a process of this stored image does (its policy and capabilities).
        #[arg(long, value_name = "IMAGE")]
        image: Option<String>,
        /// Explain a request waiting in `libos approvals` (its image, action and resource).
        #[arg(long, value_name = "ID", conflicts_with_all = ["action", "resource", "command"])]
        request: Option<String>,
        /// The action, e.g. fs.write.
        #[arg(long, requires = "resource")]
        action: Option<String>,
        /// The resource, e.g. notes/todo.txt.
        #[arg(long, requires = "action")]
        resource: Option<String>,
        /// A capability the caller holds, as ACTION[:RESOURCE]. Repeatable.
        #[arg(long = "allow", value_name = "CAP")]
        allow: Vec<Capability>,
        /// A shell command (its argv, after `--`): explained as the `shell.<class>` call it
        /// is, e.g. `libos policy explain --image IMG -- env LANG=C rm -rf build`.
        #[arg(last = true, value_name = "ARGV", conflicts_with_all = ["action", "resource"])]
        command: Vec<String>,
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

fn error(e: impl std::fmt::Display) -> Failure {
    Failure::new(Code::Error, e.to_string())
}

pub fn run(cmd: PolicyCommand, state_dir: Option<&Path>) -> Result<(), Failure> {
    let PolicyCommand::Explain {
        policy,
        mut image,
        request,
        action,
        resource,
        allow,
        command,
        json,
    } = cmd;
    let mut notes: Vec<String> = Vec::new();
    let (action, resource) = if let Some(id) = &request {
        let state = StateDir::open(state_dir)?;
        let queue = HumanQueue::open(state.db_path()).map_err(error)?;
        let found = queue
            .get(id)
            .map_err(|e| Failure::new(Code::NotFound, e.to_string()))?;
        let RequestKind::Approval {
            action, resource, ..
        } = found.kind
        else {
            return Err(error(format!("{id} is a question: no policy decided it")));
        };
        notes.push(format!(
            "request {id} of pid {} ({}), {}: asked because {}",
            found.pid,
            found.image,
            found.state.name(),
            found.asked_because
        ));
        image.get_or_insert(found.image);
        (action, resource)
    } else if !command.is_empty() {
        let decided = classify::classify(&command);
        if let Some((i, syntax)) = classify::syntax_of(&command) {
            notes.push(format!(
                "argument {i} is shell syntax (`{syntax}`): the shell primitive refuses the command"
            ));
        }
        notes.push(format!(
            "the command is decided as {} on {:?}{}",
            decided.class.action(),
            decided.program,
            if decided.through.is_empty() {
                String::new()
            } else {
                format!(" (looked through {})", decided.through.join(", "))
            }
        ));
        (decided.class.action().to_owned(), decided.program)
    } else {
        match (action, resource) {
            (Some(a), Some(r)) => (a, r),
            _ => {
                return Err(error(
                    "say what to explain: --action and --resource, -- ARGV (a shell command), or --request ID",
                ));
            }
        }
    };
    let (policy, mut caps) = match &image {
        Some(reference) => {
            let state = StateDir::open(state_dir)?;
            // A request names its image exactly (`name:version@sha256:DIGEST`): by digest.
            let lookup = reference
                .split_once('@')
                .map_or(reference.as_str(), |(_, d)| d);
            let stored = ImageStore::open(state.root())
                .and_then(|s| s.get(lookup))
                .map_err(|e| Failure::new(Code::NotFound, e.to_string()))?;
            let policy = match &stored.policy {
                Some(text) => {
                    Policy::parse(text, &format!("{}/policy.cedar", stored.name)).map_err(error)?
                }
                None => Policy::permit_all(),
            };
            let caps: Vec<Capability> = stored
                .capabilities
                .iter()
                .map(String::as_str)
                .chain(libos_process::PROCESS_AMBIENT.iter().copied())
                .filter_map(|c| c.parse().ok())
                .collect();
            // The image's name as its rules know it.
            image = Some(stored.exact());
            (policy, caps)
        }
        None => (
            match &policy {
                Some(p) => libos::policy::load(p)?,
                None => Policy::permit_all(),
            },
            Vec::new(),
        ),
    };
    caps.extend(allow);
    caps.extend(AMBIENT_CAPABILITIES.iter().filter_map(|c| c.parse().ok()));
    let caps = CapabilitySet::new(caps).map_err(error)?;
    let authority = Authority::new(caps, Arc::new(policy), Arc::new(Discard));
    let explanation = authority.explain(&action, &resource);
    if !command.is_empty() {
        notes.push(format!(
            "the command would run {}",
            confinement_case(&authority, &resource)
        ));
    }
    // A standing rule for a shell action matches the command line, not the program.
    let rule_resource = if command.is_empty() {
        resource.clone()
    } else {
        libos_human::command_line(&command)
    };
    if let Some(reference) = &image {
        let state = StateDir::open(state_dir)?;
        let queue = HumanQueue::open(state.db_path()).map_err(error)?;
        if let Some(rule) = queue
            .rule_for(reference, &action, &rule_resource)
            .map_err(error)?
        {
            notes.push(format!(
                "if the policy asks, a person's standing rule {} answers {} ({} on {} for {}; remove it with `libos rules rm {}`)",
                rule.id,
                match rule.effect {
                    RuleEffect::Always => "always",
                    RuleEffect::Never => "never",
                },
                rule.action,
                rule.resource,
                rule.image,
                rule.id
            ));
        }
    }
    if json {
        let mut value = serde_json::to_value(&explanation).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.insert("notes".into(), serde_json::json!(notes));
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        println!("{explanation}");
        for note in notes {
            println!("note: {note}");
        }
    }
    Ok(())
}

/// How the shell primitive would run a command acting as `program` on this kernel: confined
/// under Landlock ABI N, unconfined by `shell.unconfined`, or refused.
fn confinement_case(authority: &Authority, program: &str) -> confine::Case {
    let grants = Grants::new(authority, "");
    confine::case(
        confine::kernel_abi(),
        grants.permits(shell::NETWORK, program),
        grants.allows_explicitly(shell::UNCONFINED, program),
    )
}
