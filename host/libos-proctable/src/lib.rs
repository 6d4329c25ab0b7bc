//! The process table: the lifecycle of AgentProcesses and its durable record.
//!
//! [`State`] and [`lifecycle::check`] define which state changes are allowed;
//! [`ProcessTable`] stores processes, their tree and every state change in the shared SQLite
//! database, enforcing the lifecycle inside each transaction.

mod deferred;
mod error;
pub mod events;
pub mod hosts;
pub mod lifecycle;
mod logs;
pub mod mailbox;
mod pids;
mod read;
mod record;
mod resume;
mod schema;
mod sql;
mod state;
mod table;
pub mod tools;
mod usage;
mod write;

pub use deferred::EndDone;
pub use error::{KernelError, Result};
pub use events::Event;
pub use hosts::{HostLease, Recovered};
pub use lifecycle::{TransitionError, check};
pub use logs::{LogRecord, MAX_LINES as MAX_LOG_LINES};
pub use mailbox::{Message, MessageBody};
pub use record::{
    NewProcess, ProcessFilter, ProcessQuery, ProcessRecord, Stopped, TransitionRecord,
};
pub use resume::Resume;
pub use sql::now_ns;
pub use state::{BlockedOn, LIVE_STATE_NAMES, State};
pub use table::ProcessTable;
pub use tools::RegisteredTool;
pub use usage::Usage;
