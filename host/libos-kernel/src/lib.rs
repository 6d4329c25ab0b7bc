//! The process kernel: the lifecycle of AgentProcesses and the durable process table.
//!
//! [`State`] and [`lifecycle::check`] define which state changes are allowed;
//! [`ProcessTable`] stores processes, their tree and every state change in the shared SQLite
//! database, enforcing the lifecycle inside each transaction.

mod error;
pub mod lifecycle;
mod read;
mod record;
mod schema;
mod sql;
mod state;
mod table;
mod write;

pub use error::{KernelError, Result};
pub use lifecycle::{TransitionError, check};
pub use record::{NewProcess, ProcessFilter, ProcessRecord, TransitionRecord};
pub use state::{BlockedOn, LIVE_STATE_NAMES, State};
pub use table::ProcessTable;
