//! Black-box tests of the `libos` binary and the in-process host, one module per concern,
//! linked into one test binary (each binary links the whole runtime; one keeps builds small).

mod common;

mod approvals;
mod audit_tamper;
mod checkpoints;
mod cli;
mod clock_log;
mod conform;
mod crash;
mod events;
mod fs_files;
mod fs_primitives;
mod fs_race;
mod hostile;
mod images;
mod imports;
mod limits;
mod net;
mod policy_chain;
mod polyglot;
mod process_control;
mod processes;
mod record_first;
mod scale;
mod state_dir;
mod upgrade;
mod wasi_fs;
mod wit_json;
