//! The human queue: where the runtime asks a person, and what the person's answers allow.
//!
//! When the policy says `ask`, a primitive records an **approval request** here (who asks,
//! for which action on which resource, bound to the call's argument digest and the target's
//! version, with a readable preview and the rule that asked). A process can also put a
//! **question** to a person (`human.ask`). Requests live in the state directory's database
//! (`libos.db`), so they survive a host restart and can be decided from another terminal.
//!
//! A person approves ([`HumanQueue::approve`], with a [`Scope`]), denies, or answers. An
//! approval mints a **grant** bound to exactly what was asked: the process, the action, the
//! resource, the argument digest and the target's version. A call is covered only by a grant
//! that matches all of them ([`HumanQueue::covering`]); using one is reserved before the
//! effect and given back if the effect fails, so a `once` grant is consumed by the first
//! *successful* matching call and never by two. A person can instead answer `always` or
//! `never`, which stores a **rule** for the image, action and a resource pattern
//! ([`HumanQueue::rule_for`]), listed and removed with [`HumanQueue::rules`] and
//! [`HumanQueue::remove_rule`].
//!
//! Nothing here decides on its own: the primitives consult the queue after the policy asked,
//! and only the CLI (a person) decides requests. The process side has no way to approve,
//! widen or replay a request: it can only read the state of its own.

mod error;
mod grants;
mod queue;
mod request;
mod rules;
mod schema;
mod scope;
mod sql;

pub use error::{HumanError, Result};
pub use grants::{Call, Grant, stored as stored_grants};
pub use queue::{DEFAULT_REQUEST_TTL, HumanQueue, MAX_WAITING};
pub use request::{Asked, Asker, NewApproval, NewQuestion, Request, RequestKind, RequestState};
pub use rules::{Rule, RuleEffect, command_line, stored as stored_rules};
pub use scope::Scope;
