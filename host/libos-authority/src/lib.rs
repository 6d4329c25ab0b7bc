//! The one authority choke point of Agent libOS.
//!
//! Every runtime primitive (`fs.read`, `fs.write`, …) is decided by [`Authority::check`] from
//! two layers, and every decision is appended to the audit log:
//!
//! 1. **Capabilities** ([`Capability`], [`CapabilitySet`]): explicit grants held by the
//!    caller, written `ACTION[:RESOURCE]` (`fs.read:docs/**`, `fs.write:out/*.txt`, `fs.*`).
//!    Nothing is allowed without one.
//! 2. **Policy** ([`Policy`]): a Cedar policy set. `forbid` beats everything, a `permit`
//!    annotated `@decision("ask")` turns the outcome into [`Decision::Ask`], and when no
//!    permit matches the request is denied. Without a policy file, [`Policy::permit_all`]
//!    lets capabilities alone decide.
//!
//! # Entity model
//!
//! Policies are evaluated (without a schema) against this model:
//!
//! * principal: `Subject::"<subject>"`, e.g. `Subject::"tool:word_count"`;
//! * action: `Action::"<action>"`, e.g. `Action::"fs.read"`, a member of its family
//!   `Action::"fs"` (the text before the first `.`), so `action in Action::"fs"` works;
//! * resource: `Resource::"<resource>"` with attributes `path` (the resource string) and
//!   `kind` (the action family, e.g. `"fs"`);
//! * context: `{ "subject": "<subject>", "action": "<action>", "digest": "<hex or empty>" }`,
//!   where `digest` is the hex SHA-256 of the call's arguments.
//!
//! Policy ids reported in decisions and audit records are the `@id("…")` annotations, else
//! Cedar's generated `policy0`, `policy1`, ….
//!
//! ```cedar
//! @id("no-secrets")
//! forbid(principal, action, resource) when { resource.path like "secrets/*" };
//!
//! @id("ask-writes") @decision("ask")
//! permit(principal, action == Action::"fs.write", resource);
//!
//! @id("reads")
//! permit(principal, action in Action::"fs", resource) when { action != Action::"fs.write" };
//! ```

pub mod attenuate;
mod authority;
mod cache;
mod capability;
mod decision;
mod entities;
mod error;
mod evaluate;
mod explain;
mod policy;
mod session;
mod text;

pub use authority::new_request_id;
pub use authority::{Authority, Request};
pub use cache::{DEFAULT_CAPACITY, MAX_CACHED_KEY_LEN};
pub use capability::{ANY_RESOURCE, Capability, CapabilitySet};
pub use decision::{Decision, Refusal};
pub use entities::{ACTION_TYPE, RESOURCE_TYPE, SUBJECT_TYPE, action_family};
pub use error::AuthorityError;
pub use explain::Explanation;
pub use libos_audit::Verdict;
pub use policy::{DECISION_ANNOTATION, DECISION_ASK, DEFAULT_PERMIT_ID, ID_ANNOTATION, Policy};
pub use session::{AskedDecision, Deferral, SESSION_BATCH, Session};
