//! The agent world's own interfaces, implemented on [`crate::ProcessCtx`]: one module each.
//! Every function is decided through the process's session (`CallCtx::permit`) and audited.

mod events;

pub(crate) mod exec;
pub(crate) mod human;
pub(crate) mod memory;
mod messages;
mod process;
mod register;
mod tools;

pub(crate) use events::EXIT_TOPIC;
