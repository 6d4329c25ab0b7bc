//! The process runtime's tests, one module per concern, linked into one test binary (each
//! binary links the whole runtime; one binary keeps builds small). `shell_old_kernel` stays
//! its own binary: it lowers the Landlock ABI for the whole process.

mod common;

mod approvals;
mod budget;
mod capacity;
mod events;
mod hostile;
mod inherited_policy;
mod ipc;
mod jit_tools;
mod journal_size;
mod log_lines;
mod path_frame;
mod resume;
mod resume_limits;
mod resume_wasi;
mod run;
mod shell;
mod shell_confined;
mod snapshots;
mod surface;
mod wall_clock;
