//! Every function a process can import, and how each is governed.
//!
//! The runtime's promise is that nothing acts without the check: each imported function
//! either makes exactly one decision per call (capabilities, then policy, then the human
//! queue), recorded in the audit log under the caller's subject, or is ambient for a reason
//! written here. This table is the list; `tests/surface.rs` walks every function of every
//! interface the agent and tool worlds import, fails if one is missing here, and calls each
//! decided one to count its audit records, so a new primitive cannot skip the check unnoticed.

/// How one imported function is governed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Governed {
    /// One decision per call, audited: `action` on `resource` (a description of the
    /// resource the call names).
    Decided {
        action: &'static str,
        resource: &'static str,
    },
    /// No decision: what the function reaches needs none, for this reason.
    Ambient(&'static str),
}

/// One imported function: `package/interface.function`, how it is governed, and where the
/// decision is made.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub function: &'static str,
    pub governed: Governed,
    pub decided_in: &'static str,
}

const fn decided(
    function: &'static str,
    action: &'static str,
    resource: &'static str,
    decided_in: &'static str,
) -> Entry {
    Entry {
        function,
        governed: Governed::Decided { action, resource },
        decided_in,
    }
}

const fn ambient(function: &'static str, why: &'static str, decided_in: &'static str) -> Entry {
    Entry {
        function,
        governed: Governed::Ambient(why),
        decided_in,
    }
}

/// Every function of `libos:runtime@0.1.0` a process or tool imports.
pub const RUNTIME: &[Entry] = &[
    decided(
        "libos:runtime/fs.read",
        "fs.read",
        "path",
        "libos primitives/fs.rs",
    ),
    decided(
        "libos:runtime/fs.write",
        "fs.write",
        "path",
        "libos primitives/fs.rs",
    ),
    decided(
        "libos:runtime/fs.list",
        "fs.read",
        "path",
        "libos primitives/fs.rs",
    ),
    decided(
        "libos:runtime/fs.delete",
        "fs.delete",
        "path",
        "libos primitives/fs.rs",
    ),
    decided(
        "libos:runtime/fs.stat",
        "fs.read",
        "path",
        "libos primitives/fs.rs",
    ),
    decided(
        "libos:runtime/clock.now",
        "clock.read",
        "wall",
        "libos primitives/clock.rs",
    ),
    decided(
        "libos:runtime/clock.monotonic",
        "clock.read",
        "monotonic",
        "libos primitives/clock.rs",
    ),
    decided(
        "libos:runtime/log.log",
        "log.write",
        "call",
        "libos primitives/log.rs",
    ),
    decided(
        "libos:runtime/shell.run",
        "shell.exec|destructive|network|interpreter",
        "the acting program",
        "libos primitives/shell/mod.rs",
    ),
    decided(
        "libos:runtime/process.spawn",
        "process.spawn",
        "image name",
        "primitives/process.rs",
    ),
    decided(
        "libos:runtime/process.wait",
        "process.wait",
        "children/PID",
        "primitives/process.rs",
    ),
    decided(
        "libos:runtime/process.kill",
        "process.kill",
        "descendants/PID",
        "primitives/process.rs",
    ),
    decided(
        "libos:runtime/process.signal",
        "process.signal",
        "descendants/PID",
        "primitives/process.rs",
    ),
    decided(
        "libos:runtime/process.exec",
        "process.exec",
        "image name",
        "primitives/exec.rs",
    ),
    ambient(
        "libos:runtime/process.self-info",
        "returns what the process already holds: its own pid, parent, image, cwd and \
         capabilities",
        "primitives/process.rs",
    ),
    decided(
        "libos:runtime/process.send",
        "process.send",
        "parent/PID, children/PID or process/PID",
        "primitives/messages.rs",
    ),
    decided(
        "libos:runtime/process.recv",
        "process.recv",
        "self",
        "primitives/messages.rs",
    ),
    ambient(
        "libos:runtime/tools.list",
        "describes the process's own tool table (its image), reaching nothing else",
        "primitives/tools.rs",
    ),
    decided(
        "libos:runtime/tools.call",
        "tools.call",
        "tool name",
        "primitives/tools.rs",
    ),
    decided(
        "libos:runtime/memory.put",
        "memory.write",
        "self/KIND/KEY or NAMESPACE/KIND/KEY",
        "primitives/memory.rs",
    ),
    decided(
        "libos:runtime/memory.get",
        "memory.read",
        "self/KIND/KEY or NAMESPACE/KIND/KEY",
        "primitives/memory.rs",
    ),
    decided(
        "libos:runtime/memory.list",
        "memory.read",
        "self/KIND or NAMESPACE/KIND",
        "primitives/memory.rs",
    ),
    decided(
        "libos:runtime/memory.compare-and-swap",
        "memory.write",
        "self/KIND/KEY or NAMESPACE/KIND/KEY",
        "primitives/memory.rs",
    ),
    decided(
        "libos:runtime/memory.delete",
        "memory.write",
        "self/KIND/KEY or NAMESPACE/KIND/KEY",
        "primitives/memory.rs",
    ),
    decided(
        "libos:runtime/events.emit",
        "events.emit",
        "topic",
        "primitives/events.rs",
    ),
    decided(
        "libos:runtime/events.wait",
        "events.wait",
        "topic (`process.exit`: undecided, a process sees only its own children's ends)",
        "primitives/events.rs",
    ),
    ambient(
        "libos:runtime/human.request-approval",
        "waits for a person's decision on one of the process's own requests (any other id \
         reads as unknown); the request was decided and audited when it was made, and the \
         person's decision is audited as that person",
        "primitives/human.rs",
    ),
    decided(
        "libos:runtime/human.ask",
        "human.ask",
        "question",
        "primitives/human.rs",
    ),
];

/// The entry of `function` (`package/interface.function`), if the table lists it.
pub fn entry(function: &str) -> Option<&'static Entry> {
    RUNTIME.iter().find(|e| e.function == function)
}
