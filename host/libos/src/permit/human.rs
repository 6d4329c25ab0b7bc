//! Consulting a process's human queue when the policy asks (see `approval.rs` for the rules):
//! a standing rule, a grant covering exactly this call (one use taken), or a new request.

use std::sync::Arc;

use libos_authority::{Request, Verdict};
use libos_human::{Call, Grant, NewApproval, RuleEffect};

use crate::approval::{Asking, Describe};
use crate::bindings::RuntimeError;
use crate::call::CallCtx;

impl CallCtx {
    /// Decides a call the policy asked about (see `approval.rs`). `Ok` lets it through, with
    /// the grant whose use was taken for it, if one was (the [`super::Permit`] settles it).
    pub(super) fn consult_human(
        &mut self,
        (action, resource): (&str, &str),
        args_digest: Option<&[u8; 32]>,
        asking: Asking,
        describe: &dyn Describe,
    ) -> Result<Option<Box<Grant>>, RuntimeError> {
        let Asking {
            request_id: new_id,
            reason: asked_because,
            decisions,
        } = asking;
        let Some(link) = self.human.clone() else {
            // Nobody to ask (a call outside a process): the id tells the caller it needs
            // approval, and the record names it as the one that was not made.
            self.record_asks(decisions, Some(&new_id));
            return Err(RuntimeError::NeedsApproval(new_id));
        };
        let subject = Arc::clone(&self.subject);
        let request = Request {
            subject: &subject,
            action,
            resource,
            args_digest,
            detail: None,
        };
        let store = |e: libos_human::HumanError| match e {
            libos_human::HumanError::TooManyWaiting { .. } => RuntimeError::Denied(e.to_string()),
            other => RuntimeError::Io(format!("human queue: {other}")),
        };
        let rule = match link
            .queue
            .rule_for(&link.image, action, &describe.rule_resource(resource))
        {
            Ok(rule) => rule,
            Err(e) => {
                self.record_asks(decisions, None);
                return Err(store(e));
            }
        };
        // A rule is obeyed only while the record of a person making it exists: a row written
        // into the rules table by other means (or edited since) is not.
        let rule = rule.filter(|rule| {
            let vouched = vouched(&self.state_root.join("libos.db"), rule);
            if !vouched {
                tracing::warn!(
                    rule = rule.id,
                    "a standing rule has no record of a person making it; not obeyed"
                );
            }
            vouched
        });
        if let Some(rule) = rule {
            self.record_asks(decisions, rule.request_id.as_deref());
            let reason = format!(
                "standing rule {} of {}: {} {action} on {} for {}",
                rule.id,
                rule.decided_by.as_deref().unwrap_or("a person"),
                match rule.effect {
                    RuleEffect::Always => "always",
                    RuleEffect::Never => "never",
                },
                rule.resource,
                rule.image
            );
            return match rule.effect {
                RuleEffect::Always => {
                    self.authority
                        .record_human(&request, Verdict::Allow, &reason, rule.request_id);
                    Ok(None)
                }
                RuleEffect::Never => {
                    self.authority
                        .record_human(&request, Verdict::Deny, &reason, rule.request_id);
                    Err(RuntimeError::Denied(reason))
                }
            };
        }
        let version = describe.version(self, resource);
        let digest = args_digest.map(hex::encode);
        let call = Call {
            pid: link.pid,
            action,
            resource,
            args_digest: digest.as_deref(),
            target_version: version.as_deref(),
        };
        let taken = match link.queue.take(&call) {
            Ok(taken) => taken,
            Err(e) => {
                self.record_asks(decisions, None);
                return Err(store(e));
            }
        };
        // Likewise a grant is used only while the record of the approval that minted it exists.
        let taken = taken.filter(|grant| {
            let vouched = vouched_digest(
                &self.state_root.join("libos.db"),
                &grant.digest(),
                std::time::Duration::from_secs(2),
            );
            if !vouched {
                tracing::warn!(
                    grant = grant.id,
                    "a grant has no record of the approval that minted it; not used"
                );
                if grant.uses_left.is_some() {
                    let _ = link.queue.give_back(grant.id);
                }
            }
            vouched
        });
        if let Some(grant) = taken {
            // Which grant let the effect through is stored before the effect; if it cannot
            // be, the effect does not happen.
            if let (Some(entry), Some(noter)) = (self.effect_entry, link.grants_used.as_ref())
                && let Err(e) = noter.note(entry, grant.id)
            {
                if grant.uses_left.is_some() {
                    let _ = link.queue.give_back(grant.id);
                }
                self.record_asks(decisions, None);
                return Err(RuntimeError::Io(format!(
                    "the journal could not note grant {}: {e}",
                    grant.id
                )));
            }
            self.record_asks(decisions, Some(&grant.request_id));
            let reason = format!(
                "approved by a person: grant {} ({}) of {}",
                grant.id, grant.scope, grant.request_id
            );
            self.authority.record_human(
                &request,
                Verdict::Allow,
                &reason,
                Some(grant.request_id.clone()),
            );
            return Ok(Some(Box::new(grant)));
        }
        let asked = link.queue.request(
            Some(new_id),
            NewApproval {
                pid: link.pid,
                image: link.image.to_string(),
                action: action.to_owned(),
                resource: resource.to_owned(),
                args_digest: digest,
                target_version: version,
                preview: describe.preview(self, resource),
                asked_because: asked_because.to_string(),
            },
        );
        let asked = match asked {
            Ok(asked) => asked,
            Err(e) => {
                self.record_asks(decisions, None);
                return Err(store(e));
            }
        };
        // A new request, or the one the same effect already waits on.
        let id = asked.request().id.clone();
        self.record_asks(decisions, Some(&id));
        Err(RuntimeError::NeedsApproval(id))
    }
}

/// Whether the audit log holds the record of a person making `rule`. The person's `libos`
/// commits the rule, then its record: a rule made in the last seconds may be waited for
/// briefly (its record follows within milliseconds); an older one is answered at once.
fn vouched(db: &std::path::Path, rule: &libos_human::Rule) -> bool {
    const RECENT_NS: u64 = 10_000_000_000;
    let now = u64::try_from(libos_audit::clock::now_ns()).unwrap_or(0);
    let wait = if now.saturating_sub(rule.created_ns) < RECENT_NS {
        std::time::Duration::from_secs(2)
    } else {
        std::time::Duration::ZERO
    };
    vouched_digest(db, &rule.digest(), wait)
}

/// Whether the audit log holds a person's answer carrying `digest`, waiting up to `wait` for
/// it (the answer's record follows what it made within milliseconds).
fn vouched_digest(db: &std::path::Path, digest: &str, wait: std::time::Duration) -> bool {
    // Once found, a record stays (removing it breaks the chain `audit verify` checks): what
    // was found vouched is remembered, so a grant used on every call costs a hash, not a
    // query.
    static FOUND: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<String>>> =
        std::sync::OnceLock::new();
    const KEPT: usize = 65_536;
    let found = FOUND.get_or_init(Default::default);
    let key = format!("{}\n{digest}", db.display());
    if found
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .contains(&key)
    {
        return true;
    }
    let deadline = std::time::Instant::now() + wait;
    loop {
        if libos_audit::vouches(db, digest).unwrap_or(false) {
            let mut found = found
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if found.len() >= KEPT {
                found.clear();
            }
            found.insert(key);
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
