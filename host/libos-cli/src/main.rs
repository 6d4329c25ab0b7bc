//! The `libos` command: inspect and call tool components, explain policy, verify the audit log.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
