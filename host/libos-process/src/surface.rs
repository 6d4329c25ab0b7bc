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
    /// `decisions` decisions per call (one, unless the call names several resources),
    /// audited: `action` on `resource` (a description of the resource the call names).
    Decided {
        action: &'static str,
        resource: &'static str,
        decisions: u8,
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
    decided_n(function, 1, action, resource, decided_in)
}

const fn decided_n(
    function: &'static str,
    decisions: u8,
    action: &'static str,
    resource: &'static str,
    decided_in: &'static str,
) -> Entry {
    Entry {
        function,
        governed: Governed::Decided {
            action,
            resource,
            decisions,
        },
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
        "libos:runtime/process.snapshot",
        "stores the process's own state in its own journal and deletes the entries of its \
         own that nobody needs any more (never one in doubt or settled by a person); it gives \
         the process nothing but that state back, in its own restore",
        "journal/snapshot.rs",
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
        "libos:runtime/tools.register",
        "tool.register",
        "tool name",
        "primitives/register.rs",
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
    ambient(
        "libos:runtime/time.sleep",
        "waits: nothing outside the process changes, and its image's wall-clock limit bounds \
         it; the wake time is journaled so the wait survives the host",
        "journal/calls.rs",
    ),
    ambient(
        "libos:runtime/time.sleep-until",
        "waits until a wall-clock time, as `sleep`",
        "journal/calls.rs",
    ),
];

/// The WASI 0.2 interfaces the host links: those import validation lets through
/// (`libos::wasm::validate`), the network among them (each use decided at call time).
pub fn wasi_interfaces() -> impl Iterator<Item = &'static str> {
    use libos::wasm::validate::{WASI_BASELINE, WASI_FILESYSTEM, WASI_NETWORK};
    WASI_BASELINE
        .iter()
        .chain(WASI_FILESYSTEM)
        .copied()
        .chain(WASI_NETWORK.iter().map(|(iface, _)| *iface))
}

const NET_SOCKETS: &str = "libos wasm/net/sockets.rs";
const NET_HTTP: &str = "libos wasm/net/http.rs";
const NEW_SOCKET: &str = "creates an unbound, unconnected socket: it reaches nobody until a \
    decided bind or connect, and its every system call is checked at the call's gate";
const NETWORK: &str = "hands out the network resource, which grants nothing by itself: each \
    lookup, bind and connect through it is decided";
const SOCKET: &str = "acts on, or describes, a socket whose bind or connect was decided (or \
    none yet); every system call it leads to passes the call's gate, which lets through only \
    what a decision left a pass for, once its record is stored";
const ACCEPT: &str = "accepts a connection on a socket that listens because its bind was \
    decided (net.bind on the port); that is what the decision was for";
const LOOKUP: &str = "reads the addresses of a lookup decided by resolve-addresses \
    (net.resolve); each address is remembered as the name's, which a connect is decided on";
const HTTP_VALUES: &str = "builds or reads a request, response, headers or body in the host's \
    resource table; nothing leaves the host before a decided outgoing-handler.handle \
    (http.request), and a response is what a decided request brought back";

const OPENED: &str = "acts on, or describes, a descriptor handed out by a decided open-at \
    (fs.read, or fs.write to write) or read-directory; its rights are what that decision gave";
const WRITES: &str = "writes through a descriptor opened by a decided open-at with fs.write; \
    every byte is charged to bytes_written before it is written";
const STREAMS: &str = "operates on a stream or pollable handed out by a function above, decided \
    where it was handed out; writes to a file stream are charged to bytes_written";
const RANDOM: &str = "seeded per call (a tool run: fixed; a process and its tool calls: from \
    the operating system, each value journaled); reaches nothing outside the component";
const FS: &str = "libos wasm/wasi_fs.rs";
const CLI: &str = "libos wasm/mediated.rs";

/// Every function of the WASI interfaces the host links ([`wasi_interfaces`]).
pub const WASI: &[Entry] = &[
    ambient(
        "wasi:io/error.[method]error.to-debug-string",
        STREAMS,
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:io/poll.[method]pollable.ready",
        STREAMS,
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:io/poll.[method]pollable.block",
        STREAMS,
        "wasmtime-wasi",
    ),
    ambient("wasi:io/poll.poll", STREAMS, "wasmtime-wasi"),
    ambient(
        "wasi:io/streams.[method]input-stream.read",
        STREAMS,
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:io/streams.[method]input-stream.blocking-read",
        STREAMS,
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:io/streams.[method]input-stream.skip",
        STREAMS,
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:io/streams.[method]input-stream.blocking-skip",
        STREAMS,
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:io/streams.[method]input-stream.subscribe",
        STREAMS,
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:io/streams.[method]output-stream.check-write",
        STREAMS,
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:io/streams.[method]output-stream.write",
        STREAMS,
        "libos wasm/metered.rs",
    ),
    ambient(
        "wasi:io/streams.[method]output-stream.blocking-write-and-flush",
        STREAMS,
        "libos wasm/metered.rs",
    ),
    ambient(
        "wasi:io/streams.[method]output-stream.flush",
        STREAMS,
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:io/streams.[method]output-stream.blocking-flush",
        STREAMS,
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:io/streams.[method]output-stream.subscribe",
        STREAMS,
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:io/streams.[method]output-stream.write-zeroes",
        STREAMS,
        "libos wasm/metered.rs",
    ),
    ambient(
        "wasi:io/streams.[method]output-stream.blocking-write-zeroes-and-flush",
        STREAMS,
        "libos wasm/metered.rs",
    ),
    ambient(
        "wasi:io/streams.[method]output-stream.splice",
        STREAMS,
        "libos wasm/metered.rs",
    ),
    ambient(
        "wasi:io/streams.[method]output-stream.blocking-splice",
        STREAMS,
        "libos wasm/metered.rs",
    ),
    decided("wasi:clocks/wall-clock.now", "clock.read", "wall", CLI),
    ambient(
        "wasi:clocks/wall-clock.resolution",
        "a constant of the host's clock provider, no time read",
        CLI,
    ),
    decided(
        "wasi:clocks/monotonic-clock.now",
        "clock.read",
        "monotonic",
        CLI,
    ),
    ambient(
        "wasi:clocks/monotonic-clock.resolution",
        "a constant of the host's clock provider, no time read",
        CLI,
    ),
    ambient(
        "wasi:clocks/monotonic-clock.subscribe-instant",
        "a timer: returns no time, and the call's wall-clock limit bounds any wait",
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:clocks/monotonic-clock.subscribe-duration",
        "a timer: returns no time, and the call's wall-clock limit bounds any wait",
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:filesystem/types.[method]descriptor.read-via-stream",
        OPENED,
        FS,
    ),
    ambient(
        "wasi:filesystem/types.[method]descriptor.write-via-stream",
        WRITES,
        FS,
    ),
    ambient(
        "wasi:filesystem/types.[method]descriptor.append-via-stream",
        WRITES,
        FS,
    ),
    ambient(
        "wasi:filesystem/types.[method]descriptor.advise",
        OPENED,
        FS,
    ),
    ambient(
        "wasi:filesystem/types.[method]descriptor.sync-data",
        OPENED,
        FS,
    ),
    ambient(
        "wasi:filesystem/types.[method]descriptor.get-flags",
        OPENED,
        FS,
    ),
    ambient(
        "wasi:filesystem/types.[method]descriptor.get-type",
        OPENED,
        FS,
    ),
    ambient(
        "wasi:filesystem/types.[method]descriptor.set-size",
        WRITES,
        FS,
    ),
    decided(
        "wasi:filesystem/types.[method]descriptor.set-times",
        "fs.write",
        "a directory's path (a file's times need it opened with fs.write)",
        FS,
    ),
    ambient("wasi:filesystem/types.[method]descriptor.read", OPENED, FS),
    ambient("wasi:filesystem/types.[method]descriptor.write", WRITES, FS),
    decided(
        "wasi:filesystem/types.[method]descriptor.read-directory",
        "fs.read",
        "the directory's path",
        FS,
    ),
    ambient("wasi:filesystem/types.[method]descriptor.sync", OPENED, FS),
    decided(
        "wasi:filesystem/types.[method]descriptor.create-directory-at",
        "fs.write",
        "path",
        FS,
    ),
    ambient("wasi:filesystem/types.[method]descriptor.stat", OPENED, FS),
    decided(
        "wasi:filesystem/types.[method]descriptor.stat-at",
        "fs.read",
        "path",
        FS,
    ),
    decided(
        "wasi:filesystem/types.[method]descriptor.set-times-at",
        "fs.write",
        "path",
        FS,
    ),
    decided_n(
        "wasi:filesystem/types.[method]descriptor.link-at",
        3,
        "fs.read + fs.write on the source, fs.write on the new name",
        "both paths",
        FS,
    ),
    decided(
        "wasi:filesystem/types.[method]descriptor.open-at",
        "fs.read, or fs.write to write, create or truncate",
        "path",
        FS,
    ),
    decided(
        "wasi:filesystem/types.[method]descriptor.readlink-at",
        "fs.read",
        "path",
        FS,
    ),
    decided(
        "wasi:filesystem/types.[method]descriptor.remove-directory-at",
        "fs.delete",
        "path",
        FS,
    ),
    decided_n(
        "wasi:filesystem/types.[method]descriptor.rename-at",
        3,
        "fs.delete + fs.read on the old name, fs.write on the new one (a directory's entries \
         checked too)",
        "both paths",
        FS,
    ),
    decided(
        "wasi:filesystem/types.[method]descriptor.symlink-at",
        "fs.write",
        "new path",
        FS,
    ),
    decided(
        "wasi:filesystem/types.[method]descriptor.unlink-file-at",
        "fs.delete",
        "path",
        FS,
    ),
    ambient(
        "wasi:filesystem/types.[method]descriptor.is-same-object",
        OPENED,
        FS,
    ),
    ambient(
        "wasi:filesystem/types.[method]descriptor.metadata-hash",
        OPENED,
        FS,
    ),
    decided(
        "wasi:filesystem/types.[method]descriptor.metadata-hash-at",
        "fs.read",
        "path",
        FS,
    ),
    ambient(
        "wasi:filesystem/types.[method]directory-entry-stream.read-directory-entry",
        "reads the entries of a decided read-directory",
        FS,
    ),
    ambient(
        "wasi:filesystem/types.filesystem-error-code",
        "describes an error value the component already holds",
        FS,
    ),
    ambient(
        "wasi:filesystem/preopens.get-directories",
        "hands out the working directory as `.` when the call holds an fs capability; the \
         preopen grants nothing, every operation through it is decided",
        FS,
    ),
    ambient(
        "wasi:random/random.get-random-bytes",
        RANDOM,
        "wasmtime-wasi",
    ),
    ambient("wasi:random/random.get-random-u64", RANDOM, "wasmtime-wasi"),
    ambient(
        "wasi:random/insecure.get-insecure-random-bytes",
        RANDOM,
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:random/insecure.get-insecure-random-u64",
        RANDOM,
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:random/insecure-seed.insecure-seed",
        RANDOM,
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:cli/exit.exit",
        "ends the component's own call or process, nothing else",
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:cli/exit.exit-with-code",
        "ends the component's own call or process, nothing else (an unstable function, \
         listed so that linking it later cannot go unnoticed)",
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:cli/environment.get-environment",
        "always empty: no host variable is handed over",
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:cli/environment.get-arguments",
        "always empty: no host argument is handed over",
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:cli/environment.initial-cwd",
        "always none: no host path is handed over",
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:cli/stdin.get-stdin",
        "an empty stream: no host input is handed over",
        "wasmtime-wasi",
    ),
    decided("wasi:cli/stdout.get-stdout", "log.write", "stdout", CLI),
    decided("wasi:cli/stderr.get-stderr", "log.write", "stderr", CLI),
    ambient(
        "wasi:cli/terminal-stdin.get-terminal-stdin",
        "always none: there is no terminal",
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:cli/terminal-stdout.get-terminal-stdout",
        "always none: there is no terminal",
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:cli/terminal-stderr.get-terminal-stderr",
        "always none: there is no terminal",
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:sockets/instance-network.instance-network",
        NETWORK,
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:sockets/ip-name-lookup.[method]resolve-address-stream.resolve-next-address",
        LOOKUP,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/ip-name-lookup.[method]resolve-address-stream.subscribe",
        LOOKUP,
        NET_SOCKETS,
    ),
    decided(
        "wasi:sockets/ip-name-lookup.resolve-addresses",
        "net.resolve",
        "the name, lowercase",
        NET_SOCKETS,
    ),
    decided(
        "wasi:sockets/tcp.[method]tcp-socket.start-bind",
        "net.bind",
        "the port",
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.finish-bind",
        SOCKET,
        NET_SOCKETS,
    ),
    decided(
        "wasi:sockets/tcp.[method]tcp-socket.start-connect",
        "net.connect",
        "HOST:PORT",
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.finish-connect",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.start-listen",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.finish-listen",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.accept",
        ACCEPT,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.local-address",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.remote-address",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.is-listening",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.address-family",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.set-listen-backlog-size",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.keep-alive-enabled",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.set-keep-alive-enabled",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.keep-alive-idle-time",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.set-keep-alive-idle-time",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.keep-alive-interval",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.set-keep-alive-interval",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.keep-alive-count",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.set-keep-alive-count",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.hop-limit",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.set-hop-limit",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.receive-buffer-size",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.set-receive-buffer-size",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.send-buffer-size",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.set-send-buffer-size",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.subscribe",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp.[method]tcp-socket.shutdown",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/tcp-create-socket.create-tcp-socket",
        NEW_SOCKET,
        "wasmtime-wasi",
    ),
    decided(
        "wasi:sockets/udp.[method]udp-socket.start-bind",
        "net.bind",
        "the port",
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/udp.[method]udp-socket.finish-bind",
        SOCKET,
        NET_SOCKETS,
    ),
    decided(
        "wasi:sockets/udp.[method]udp-socket.stream",
        "net.connect",
        "HOST:PORT of the remote address, if one is given",
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/udp.[method]udp-socket.local-address",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/udp.[method]udp-socket.remote-address",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/udp.[method]udp-socket.address-family",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/udp.[method]udp-socket.unicast-hop-limit",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/udp.[method]udp-socket.set-unicast-hop-limit",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/udp.[method]udp-socket.receive-buffer-size",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/udp.[method]udp-socket.set-receive-buffer-size",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/udp.[method]udp-socket.send-buffer-size",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/udp.[method]udp-socket.set-send-buffer-size",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/udp.[method]udp-socket.subscribe",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/udp.[method]incoming-datagram-stream.receive",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/udp.[method]incoming-datagram-stream.subscribe",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/udp.[method]outgoing-datagram-stream.check-send",
        SOCKET,
        NET_SOCKETS,
    ),
    decided(
        "wasi:sockets/udp.[method]outgoing-datagram-stream.send",
        "net.connect",
        "HOST:PORT of each distinct destination",
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/udp.[method]outgoing-datagram-stream.subscribe",
        SOCKET,
        NET_SOCKETS,
    ),
    ambient(
        "wasi:sockets/udp-create-socket.create-udp-socket",
        NEW_SOCKET,
        "wasmtime-wasi",
    ),
    ambient(
        "wasi:http/types.[constructor]fields",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[static]fields.from-list",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]fields.get",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]fields.has",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]fields.set",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]fields.delete",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]fields.append",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]fields.entries",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]fields.clone",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]incoming-request.method",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]incoming-request.path-with-query",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]incoming-request.scheme",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]incoming-request.authority",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]incoming-request.headers",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]incoming-request.consume",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[constructor]outgoing-request",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]outgoing-request.body",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]outgoing-request.method",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]outgoing-request.set-method",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]outgoing-request.path-with-query",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]outgoing-request.set-path-with-query",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]outgoing-request.scheme",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]outgoing-request.set-scheme",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]outgoing-request.authority",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]outgoing-request.set-authority",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]outgoing-request.headers",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[constructor]request-options",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]request-options.connect-timeout",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]request-options.set-connect-timeout",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]request-options.first-byte-timeout",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]request-options.set-first-byte-timeout",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]request-options.between-bytes-timeout",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]request-options.set-between-bytes-timeout",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[static]response-outparam.set",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]incoming-response.status",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]incoming-response.headers",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]incoming-response.consume",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]incoming-body.stream",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[static]incoming-body.finish",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]future-trailers.subscribe",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]future-trailers.get",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[constructor]outgoing-response",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]outgoing-response.status-code",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]outgoing-response.set-status-code",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]outgoing-response.headers",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]outgoing-response.body",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]outgoing-body.write",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[static]outgoing-body.finish",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]future-incoming-response.subscribe",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.[method]future-incoming-response.get",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    ambient(
        "wasi:http/types.http-error-code",
        HTTP_VALUES,
        "wasmtime-wasi-http",
    ),
    decided(
        "wasi:http/outgoing-handler.handle",
        "http.request",
        "METHOD:AUTHORITY/PATH",
        NET_HTTP,
    ),
];

/// The entry of `function` (`package/interface.function`), if a table lists it.
pub fn entry(function: &str) -> Option<&'static Entry> {
    RUNTIME.iter().chain(WASI).find(|e| e.function == function)
}
