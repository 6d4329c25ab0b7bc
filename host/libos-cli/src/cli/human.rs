//! `libos approvals | approve | deny | answer | rules`: a person deciding what processes
//! asked, from any terminal.
//!
//! Requests live in the state directory's human queue (`libos-human`); a process waiting on
//! one resumes within a few milliseconds of the decision (its host watches the queue while
//! someone waits). Every decision, rule change and expiry noticed here is appended to the
//! audit log as the person (`human:$USER`) who made it.

use std::path::Path;

use clap::{Args, Subcommand};
use libos::state::StateDir;
use libos_audit::{AuditLog, AuditRecord, AuditSink, Verdict};
use libos_human::{HumanError, HumanQueue, Request, RequestKind, Rule, Scope};

use super::exit::{Code, Failure};
use super::process::open_table;
use super::text::clean;

#[derive(Debug, Args)]
pub struct ApprovalsArgs {
    /// Print one JSON object per line instead.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The request id (from `libos approvals`).
    pub id: String,
    /// How far the approval reaches: `once` (the first successful matching call), `uses=N`,
    /// `ttl=DURATION` (e.g. `10m`), `session` (the rest of the process's life), or `always`
    /// (a standing rule for the image: see `--pattern`, `libos rules`).
    #[arg(long, default_value = "once", value_name = "SCOPE")]
    pub scope: String,
    /// With `--scope always`: the resource pattern the rule covers (default: exactly the
    /// resource asked about), e.g. `logs/**`; for a shell command, a glob over the command
    /// line naming its program, e.g. `'git rev-parse *'` (default: exactly the argv asked
    /// about).
    #[arg(long, value_name = "GLOB")]
    pub pattern: Option<String>,
    /// A note kept with the decision.
    #[arg(long)]
    pub note: Option<String>,
}

#[derive(Debug, Args)]
pub struct DenyArgs {
    /// The request id (from `libos approvals`).
    pub id: String,
    /// Why; the waiting process receives it in its `denied` error.
    #[arg(long)]
    pub reason: Option<String>,
    /// Also deny the same action on matching resources for the image from now on (a
    /// standing rule: see `--pattern`, `libos rules`).
    #[arg(long)]
    pub never: bool,
    /// With `--never`: the resource pattern the rule covers (default: exactly the resource
    /// asked about; for a shell command, exactly its argv, or a glob over the command line).
    #[arg(long, value_name = "GLOB")]
    pub pattern: Option<String>,
}

#[derive(Debug, Args)]
pub struct AnswerArgs {
    /// The question's id (from `libos approvals`).
    pub id: String,
    /// The answer: one of the question's choices, if it offers any.
    pub answer: String,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// List the standing `always` / `never` answers.
    Ls {
        /// Print one JSON object per line instead.
        #[arg(long)]
        json: bool,
    },
    /// Remove a standing answer; the question is asked again from then on.
    Rm {
        /// The rule id (from `libos rules ls`).
        id: u64,
    },
}

/// The queue and the audit log of a state directory, and who is deciding.
struct Desk {
    queue: HumanQueue,
    audit: AuditLog,
    who: String,
}

impl Desk {
    fn open(state_dir: Option<&Path>) -> Result<Desk, Failure> {
        let state = StateDir::open(state_dir)?;
        let queue = HumanQueue::open(state.db_path())
            .map_err(|e| Failure::new(Code::Error, e.to_string()))?;
        let audit = AuditLog::open(&state.db_path())
            .map_err(|e| Failure::new(Code::Error, format!("audit log: {e}")))?;
        let user = super::operator::name();
        let desk = Desk {
            queue,
            audit,
            who: user,
        };
        // Whatever expired meanwhile is recorded (and audited) before anything is decided.
        desk.expire()?;
        Ok(desk)
    }

    /// Appends the record of a person's decision on `request` (or a rule change).
    fn record(
        &self,
        action: &str,
        request: Option<&Request>,
        resource: &str,
        verdict: Verdict,
        reason: String,
    ) {
        self.record_vouching(action, request, resource, verdict, reason, None);
    }

    /// [`Desk::record`] of an answer that made a standing rule or a grant: the record
    /// carries its digest (`Rule::digest`, `Grant::digest`), which is what lets the host
    /// use it.
    fn record_vouching(
        &self,
        action: &str,
        request: Option<&Request>,
        resource: &str,
        verdict: Verdict,
        reason: String,
        vouched: Option<String>,
    ) {
        let mut record = AuditRecord::decided_now(
            (&format!("human:{}", self.who), action, resource),
            verdict,
            &reason,
            request.map(|r| r.id.clone()),
        );
        record.args_digest = vouched;
        self.audit.append(record);
    }

    /// Records the expiry of every request past its time (noticed now).
    fn expire(&self) -> Result<(), Failure> {
        for request in self.queue.expire_due().map_err(store)? {
            self.audit.append(AuditRecord::decided_now(
                ("host", "human.expire", &request.subject_line()),
                Verdict::Deny,
                &format!("no decision before {}", when(request.expires_ns)),
                Some(request.id.clone()),
            ));
        }
        Ok(())
    }

    fn close(self) -> Result<(), Failure> {
        self.audit
            .flush()
            .map_err(|e| Failure::new(Code::Error, format!("audit log: {e}")))
    }
}

fn store(e: HumanError) -> Failure {
    let code = match e {
        HumanError::NoSuchRequest(_) | HumanError::NoSuchRule(_) => Code::NotFound,
        _ => Code::Error,
    };
    Failure::new(code, e.to_string())
}

fn when(ns: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Warns when the asking process has ended (a host restart ends its processes): the
/// decision is recorded, but a grant is bound to that process, so nothing will use it.
fn warn_if_ended(state_dir: Option<&Path>, request: &Request) -> Result<(), Failure> {
    let table = open_table(state_dir)?;
    if let Ok(record) = table.get(request.pid)
        && record.state.is_ended()
    {
        eprintln!(
            "note: process {} has ended ({}); the approval is recorded, but only that \
             process could have used it",
            request.pid,
            record.state.name()
        );
    }
    Ok(())
}

/// `libos approvals`: the pending requests, oldest first, with what each would do and why it
/// was asked.
pub fn approvals(args: ApprovalsArgs, state_dir: Option<&Path>) -> Result<(), Failure> {
    // Requests of processes whose host died are closed first: nothing can use a decision.
    open_table(state_dir)?;
    let desk = Desk::open(state_dir)?;
    let pending = desk.queue.pending().map_err(store)?;
    print_all(&pending, args.json, "no pending requests", print_request);
    desk.close()
}

fn print_request(r: &Request) {
    match &r.kind {
        RequestKind::Approval {
            action,
            resource,
            args_digest,
            target_version,
            preview,
        } => {
            println!(
                "{}  pid {} ({})  {action} {}",
                r.id,
                r.pid,
                clean(&r.image),
                clean(resource)
            );
            println!("  asked because: {}", clean(&r.asked_because));
            if let Some(version) = target_version {
                println!("  target version: {}", clean(version));
            }
            if let Some(digest) = args_digest {
                println!("  arguments: sha256 {digest}");
            }
            println!("  expires: {}", when(r.expires_ns));
            for line in preview.lines() {
                println!("  | {}", clean(line));
            }
        }
        RequestKind::Question { question, choices } => {
            println!("{}  pid {} ({})  question", r.id, r.pid, clean(&r.image));
            for line in question.lines() {
                println!("  ? {}", clean(line));
            }
            if !choices.is_empty() {
                let shown: Vec<String> = choices.iter().map(|c| clean(c)).collect();
                println!("  choices: {}", shown.join(" | "));
            }
            println!("  expires: {}", when(r.expires_ns));
        }
    }
    println!();
}

/// One rule of `libos rules ls`.
fn print_rule(r: &Rule) {
    println!(
        "{:>4}  {:<6} {} on {} for {}  (by {}, {}{})",
        r.id,
        format!("{:?}", r.effect).to_lowercase(),
        r.action,
        r.resource,
        r.image,
        r.decided_by.as_deref().unwrap_or("?"),
        when(r.created_ns),
        r.request_id
            .as_deref()
            .map(|id| format!(", on {id}"))
            .unwrap_or_default()
    );
}

/// Prints `items` one JSON object per line, or each with `print` (or `empty` if none).
fn print_all<T: serde::Serialize>(items: &[T], json: bool, empty: &str, print: fn(&T)) {
    if json {
        for item in items {
            println!("{}", serde_json::to_string(item).unwrap_or_default());
        }
    } else if items.is_empty() {
        println!("{empty}");
    } else {
        items.iter().for_each(print);
    }
}

/// `libos approve`.
pub fn approve(args: ApproveArgs, state_dir: Option<&Path>) -> Result<(), Failure> {
    let desk = Desk::open(state_dir)?;
    let request = desk.queue.get(&args.id).map_err(store)?;
    if request.state == libos_human::RequestState::Pending {
        warn_if_ended(state_dir, &request)?;
    }
    let interpreter = matches!(
        &request.kind,
        libos_human::RequestKind::Approval { action, .. } if action == "shell.interpreter"
    );
    if args.scope != "once" && interpreter {
        eprintln!(
            "note: this approval goes beyond one run of an interpreter: it covers the command \
             line while the files it names keep their contents, but not the files those read \
             in turn (a script sourcing another, a module it imports); `--scope once` \
             approves this run only"
        );
    }
    if args.scope == "always" {
        let decided = desk.queue.always(
            &args.id,
            args.pattern.as_deref(),
            args.note.as_deref(),
            &desk.who,
        );
        let (request, rule) = decided.map_err(store)?;
        desk.record_vouching(
            "human.approve",
            Some(&request),
            &request.subject_line(),
            Verdict::Allow,
            format!(
                "always: rule {} ({} on {} for {})",
                rule.id, rule.action, rule.resource, rule.image
            ),
            Some(rule.digest()),
        );
        println!(
            "approved {} (always: rule {} covers {} on {} for {})",
            request.id, rule.id, rule.action, rule.resource, rule.image
        );
        return desk.close();
    }
    if args.pattern.is_some() {
        return Err(Failure::new(
            Code::Error,
            "--pattern goes with --scope always",
        ));
    }
    let scope: Scope = args
        .scope
        .parse()
        .map_err(|e: HumanError| Failure::new(Code::Error, e.to_string()))?;
    let (request, grant) = desk
        .queue
        .approve(&args.id, scope, args.note.as_deref(), &desk.who)
        .map_err(store)?;
    desk.record_vouching(
        "human.approve",
        Some(&request),
        &request.subject_line(),
        Verdict::Allow,
        format!(
            "{scope}: grant {} for pid {}{}",
            grant.id,
            grant.pid,
            args.note
                .map(|n| format!("; note: {n}"))
                .unwrap_or_default()
        ),
        Some(grant.digest()),
    );
    println!(
        "approved {} ({scope}: grant {} for pid {})",
        request.id, grant.id, grant.pid
    );
    desk.close()
}

/// `libos deny`.
pub fn deny(args: DenyArgs, state_dir: Option<&Path>) -> Result<(), Failure> {
    let desk = Desk::open(state_dir)?;
    if args.pattern.is_some() && !args.never {
        return Err(Failure::new(Code::Error, "--pattern goes with --never"));
    }
    let (request, rule) = if args.never {
        let (r, rule) = desk
            .queue
            .never(
                &args.id,
                args.pattern.as_deref(),
                args.reason.as_deref(),
                &desk.who,
            )
            .map_err(store)?;
        (r, Some(rule))
    } else {
        let r = desk
            .queue
            .deny(&args.id, args.reason.as_deref(), &desk.who)
            .map_err(store)?;
        (r, None)
    };
    let rule_text = rule
        .as_ref()
        .map(|r: &Rule| {
            format!(
                " (never: rule {} covers {} on {} for {})",
                r.id, r.action, r.resource, r.image
            )
        })
        .unwrap_or_default();
    desk.record_vouching(
        "human.deny",
        Some(&request),
        &request.subject_line(),
        Verdict::Deny,
        format!("{}{rule_text}", args.reason.as_deref().unwrap_or("denied")),
        rule.as_ref().map(Rule::digest),
    );
    println!("denied {}{rule_text}", request.id);
    desk.close()
}

/// `libos answer`.
pub fn answer(args: AnswerArgs, state_dir: Option<&Path>) -> Result<(), Failure> {
    let desk = Desk::open(state_dir)?;
    let answered = desk
        .queue
        .answer(&args.id, &args.answer, &desk.who)
        .map_err(store)?;
    desk.record(
        "human.answer",
        Some(&answered),
        "question",
        Verdict::Allow,
        format!("answered {:?}", args.answer),
    );
    println!("answered {}", answered.id);
    desk.close()
}

/// `libos rules ls | rm`.
pub fn rules(cmd: RulesCommand, state_dir: Option<&Path>) -> Result<(), Failure> {
    let desk = Desk::open(state_dir)?;
    match cmd {
        RulesCommand::Ls { json } => {
            let rules = desk.queue.rules().map_err(store)?;
            print_all(&rules, json, "no rules", print_rule);
        }
        RulesCommand::Rm { id } => {
            let rule = desk.queue.remove_rule(id).map_err(store)?;
            desk.record(
                "human.rule-remove",
                None,
                &format!("{} {}", rule.action, rule.resource),
                Verdict::Allow,
                format!(
                    "removed rule {} ({:?} for {})",
                    rule.id, rule.effect, rule.image
                )
                .to_lowercase(),
            );
            println!("removed rule {id}");
        }
    }
    desk.close()
}
