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
use super::text::clean;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Show the decision for one action on one resource, and what decided it: the
    /// capability, the Cedar policies (which one asks, and why), and a person's standing rule
    /// for the image if one answers instead. Nothing is audited.
    Explain {
        /// Cedar policy file. Without one (and without --image), capabilities alone decide.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["image", "request", "pid"])]
        policy: Option<PathBuf>,
        /// Decide as process PID does: its capabilities and the whole chain of policies that
        /// binds it (its image's, its ancestors', the images it `exec`ed away from).
        #[arg(long, value_name = "PID", conflicts_with_all = ["image", "request"])]
        pid: Option<u64>,
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
        mut pid,
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
        // Decided by the chain of the process that asked, where it is known.
        let table = libos_proctable::ProcessTable::open(state.db_path()).map_err(error)?;
        if matches!(table.policy_chain(found.pid), Ok(Some(_))) {
            pid = Some(found.pid);
        }
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
    let (policy, mut caps) = match (pid, &image) {
        (Some(pid), _) => {
            let (policy, caps, exact) = process_policy(state_dir, pid, &mut notes)?;
            image = Some(exact);
            (policy, caps)
        }
        (None, Some(reference)) => {
            let state = StateDir::open(state_dir)?;
            // A request names its image exactly (`name:version@sha256:DIGEST`): by digest.
            let lookup = reference
                .split_once('@')
                .map_or(reference.as_str(), |(_, d)| d);
            let stored = ImageStore::open(state.root())
                .and_then(|s| s.get(lookup))
                .map_err(|e| Failure::new(Code::NotFound, e.to_string()))?;
            let policy = libos_process::policy_of(&stored).map_err(error)?;
            let caps = process_capabilities(&stored.capabilities);
            // The image's name as its rules know it.
            image = Some(stored.exact());
            (policy, caps)
        }
        (None, None) => (
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

/// The policy that decides for process `pid` (its chain: its image's policy, then each
/// inherited one, as the kernel built it), its capabilities with the ambient ones, and its
/// image's exact reference (what its standing rules are keyed by). Says in `notes` which
/// policies the chain holds.
fn process_policy(
    state_dir: Option<&Path>,
    pid: u64,
    notes: &mut Vec<String>,
) -> Result<(Policy, Vec<Capability>, String), Failure> {
    let state = StateDir::open(state_dir)?;
    let table = libos_proctable::ProcessTable::open(state.db_path()).map_err(error)?;
    let record = table
        .get(pid)
        .map_err(|e| Failure::new(Code::NotFound, e.to_string()))?;
    let chain = match table.policy_chain(pid).map_err(error)? {
        Some(chain) if !chain.is_empty() => chain,
        _ => {
            notes.push(format!(
                "no policy chain is recorded for pid {pid} (it ran before chains were kept): \
                 only its own image's policy is shown, not those it inherited"
            ));
            vec![record.image_digest.clone()]
        }
    };
    let store = ImageStore::open(state.root()).map_err(error)?;
    // The table keeps bare hex digests; the store is asked by `sha256:HEX`.
    let by_digest = |digest: &str| {
        if digest.starts_with("sha256:") {
            store.get(digest)
        } else {
            store.get(&format!("sha256:{digest}"))
        }
    };
    let mut layers = Vec::with_capacity(chain.len());
    for digest in &chain {
        let stored = by_digest(digest).map_err(|e| {
            Failure::new(
                Code::NotFound,
                format!("image {digest} of pid {pid}'s policy chain: {e}"),
            )
        })?;
        layers.push((
            stored.exact(),
            libos_process::policy_of(&stored).map_err(error)?,
        ));
    }
    let shown: Vec<String> = layers.iter().map(|(exact, _)| clean(exact)).collect();
    notes.push(format!(
        "pid {pid} is decided by the policies of {} (its own first; a forbid in any wins, an ask in any asks)",
        shown.join(", then ")
    ));
    // The kernel builds a chain from the outermost ancestor in: each image's own policy
    // inheriting what was in force where it started.
    let mut layers = layers.into_iter().rev();
    let Some((_, mut policy)) = layers.next() else {
        return Err(error(format!("pid {pid} has an empty policy chain")));
    };
    for (_, own) in layers {
        policy = own.inheriting(&policy);
    }
    let own =
        by_digest(&record.image_digest).map_err(|e| Failure::new(Code::NotFound, e.to_string()))?;
    Ok((
        policy,
        process_capabilities(&record.capabilities),
        own.exact(),
    ))
}

/// The capabilities a process holding `granted` decides with: those, and the ones every
/// process holds.
fn process_capabilities(granted: &[String]) -> Vec<Capability> {
    granted
        .iter()
        .map(String::as_str)
        .chain(libos_process::PROCESS_AMBIENT.iter().copied())
        .filter_map(|c| c.parse().ok())
        .collect()
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
