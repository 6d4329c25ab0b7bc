//! `libos audit verify` and `libos audit show`.

use std::path::Path;

use clap::Subcommand;
use libos::state::StateDir;

use super::exit::{Code, Failure};
use super::text::clean;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain (and the head kept outside the database); prints `ok: N records,
    /// head HASH` or names the first bad record.
    Verify {
        /// A head printed by an earlier `verify` (or written down): the log must still hold
        /// that record.
        #[arg(long, value_name = "HASH")]
        head: Option<String>,
    },
    /// Print the audit records, oldest first.
    Show {
        /// Print JSON (one array) instead of text.
        #[arg(long)]
        json: bool,
        /// Only the newest N records.
        #[arg(long)]
        limit: Option<usize>,
    },
}

pub fn run(cmd: AuditCommand, state_dir: Option<&Path>) -> Result<(), Failure> {
    let state = StateDir::open(state_dir)?;
    let db = state.db_path();
    match cmd {
        AuditCommand::Verify { head } => {
            let report = libos_audit::verify_against(&db, head.as_deref()).map_err(|e| {
                if e.is_damage() {
                    Failure::new(Code::AuditBroken, format!("audit log: {e}"))
                } else {
                    Failure::new(
                        Code::AuditUnreadable,
                        format!("audit log could not be read, so it was not checked: {e}"),
                    )
                }
            })?;
            // Standing rules with no record of a person making them (written into the table
            // by other means, or edited since): the host does not obey them; say so here.
            if report.first_bad.is_none() {
                let rules = libos_human::stored_rules(&db).map_err(|e| {
                    Failure::new(
                        Code::AuditUnreadable,
                        format!("standing rules could not be read, so they were not checked: {e}"),
                    )
                })?;
                let grants = libos_human::stored_grants(&db).map_err(|e| {
                    Failure::new(
                        Code::AuditUnreadable,
                        format!("grants could not be read, so they were not checked: {e}"),
                    )
                })?;
                // Each with the digest its approval's record carries, and what to say if none
                // does.
                let claims = grants
                    .iter()
                    .map(|grant| {
                        (
                            grant.digest(),
                            format!(
                                "grant {} ({} on {} for pid {}) has no record of the approval \
                                 that minted it (written into the database by other means?); \
                                 it is not used",
                                grant.id,
                                clean(&grant.action),
                                clean(&grant.resource),
                                grant.pid
                            ),
                        )
                    })
                    .chain(rules.iter().map(|rule| {
                        (
                            rule.digest(),
                            format!(
                                "standing rule {} ({} {} on {}) has no record of a person making \
                                 it (written into the database by other means?); it is not obeyed",
                                rule.id,
                                rule.effect.as_str(),
                                clean(&rule.action),
                                clean(&rule.resource)
                            ),
                        )
                    }));
                for (digest, unvouched) in claims {
                    let vouched = libos_audit::vouches(&db, &digest).map_err(|e| {
                        Failure::new(Code::AuditUnreadable, format!("audit log: {e}"))
                    })?;
                    if !vouched {
                        return Err(Failure::new(Code::AuditBroken, unvouched));
                    }
                }
            }
            if report.first_bad.is_none()
                && report.records > 0
                && !report.head_file
                && head.is_none()
            {
                return Err(Failure::new(
                    Code::AuditBroken,
                    format!(
                        "audit log: {} records but no head kept outside the database ({}): it \
                         was removed, or the log was last written by a libos from before it (the \
                         next recorded decision writes it); a cut tail cannot be ruled out \
                         without it (check against a head written down with --head HASH)",
                        report.records,
                        libos_audit::head_file::path_for(&db).display()
                    ),
                ));
            }
            match report.first_bad {
                None => {
                    match &report.head {
                        Some(head) => println!("ok: {} records, head {head}", report.records),
                        None => println!("ok: {} records", report.records),
                    }
                    Ok(())
                }
                Some(bad) => Err(Failure::new(
                    Code::AuditBroken,
                    format!("audit log tampered: {}", bad.reason),
                )),
            }
        }
        AuditCommand::Show { json, limit } => {
            let records = libos_audit::read_records(&db, limit)
                .map_err(|e| Failure::new(Code::Error, format!("audit log: {e}")))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&records).unwrap_or_default()
                );
                return Ok(());
            }
            for r in &records {
                let rec = &r.record;
                let when = humantime::format_rfc3339_millis(
                    std::time::UNIX_EPOCH
                        + std::time::Duration::from_nanos(rec.time_ns.max(0) as u64),
                );
                let mut line = format!(
                    "#{:<5} {when} {:<5} {} {} {}",
                    r.seq,
                    rec.decided.verdict.as_str(),
                    clean(&rec.decided.subject),
                    clean(&rec.decided.action),
                    clean(&rec.decided.resource)
                );
                if let Some(detail) = &rec.detail {
                    line.push_str(&format!(" {}", clean(detail)));
                }
                if !rec.decided.reason.is_empty() {
                    line.push_str(&format!(" — {}", clean(&rec.decided.reason)));
                }
                if !rec.decided.policy_ids.is_empty() {
                    let ids = clean(&rec.decided.policy_ids.join(", "));
                    line.push_str(&format!(" [policy: {ids}]"));
                }
                if let Some(id) = &rec.request_id {
                    line.push_str(&format!(" (request {})", clean(id)));
                }
                println!("{line}");
            }
            Ok(())
        }
    }
}
