//! The `libos:runtime` primitives: one module per WIT interface. Each primitive validates
//! its arguments, obtains a [`crate::permit::Permit`] ([`crate::call::CallCtx::permit`]: the
//! one decision) and only then acts.

pub mod beneath;
pub mod clock;
pub mod fs;
pub mod log;
pub mod moves;
pub mod path;
pub mod shell;
pub(crate) mod write_preview;
