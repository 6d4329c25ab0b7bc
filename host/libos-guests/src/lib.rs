//! Paths of the guest components built from `guest-tools/` by this crate's build script.
//!
//! Tools: [`READ_FILE`], [`WRITE_FILE`], [`LIST_DIR`], [`WORD_COUNT`], [`SLUGIFY`] (written in
//! JavaScript and Python too, in `examples/polyglot/`, built by `scripts/polyglot.sh`).
//! Hostile fixtures: [`FS_PROBE`], [`SPIN`], [`MEMBOMB`], [`BIG_OUTPUT`], [`TRAP`],
//! [`SOCKETS`] (imports `wasi:sockets`), [`WASI_PROBE`] (an ordinary WASI program),
//! [`WORD_COUNT_CORE`] (a core module, not a component), [`ZOO`] (a plain component, not a
//! tool: one exported function per kind of WIT value, `guest-tools/fixtures/zoo/wit/world.wit`).
//!
//! Agents (`libos:runtime/agent` world): [`LOG_PARSER`] and [`CODING_AGENT`] (the scripted
//! demo), and fixtures for the host's tests and benchmarks: [`AGENT_SPINNER`] (never yields a
//! primitive call), [`AGENT_TICKER`], [`AGENT_SPAWN_LOOP`], [`AGENT_OBJECT_FLOOD`],
//! [`AGENT_EVENT_FLOOD`], [`AGENT_KILL_FOREIGN`], [`AGENT_ESCALATE`], [`AGENT_MINIMAL`],
//! [`AGENT_WAITER`], [`AGENT_SCRIPT`], and [`AGENT_SCRIPT_WASI`] (the same built for
//! `wasm32-wasip2`: an agent that imports WASI as well). Their input and output contracts are in each crate's documentation under
//! `guest-tools/agents/`.
//!
//! Images: [`IMAGES`] is a directory holding one ready-to-build image directory per image of
//! `guest-tools/images/` (`coding-agent/`, `log-parser/`: `image.toml`, `policy.cedar` and the
//! components the manifest names) and the demo working directory `workspace/`
//! (`pytest.log`, `src/calc.py`).

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
