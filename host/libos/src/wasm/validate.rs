//! Import validation: every import of a component is classified before anything runs.
//!
//! * `libos:runtime/*@0.1.0` — the runtime primitives: allowed.
//! * the WASI baseline that ordinary `wasm32-wasip2` programs import (cli environment, exit,
//!   stdio and terminals, io, clocks, random): allowed, served empty and deterministic.
//! * `wasi:filesystem/{types,preopens}`: allowed; the working directory is preopened when the
//!   call holds an `fs.*` capability (without one the guest sees no filesystem at all), and
//!   each operation is decided like `libos:runtime/fs` (`wasi_fs.rs`).
//! * `wasi:sockets/*` and `wasi:http/{types,outgoing-handler}` (0.2.x): allowed, served but
//!   denied until granted: every lookup, connect, bind and request is decided at call time
//!   (`net/`). Under `--strict-imports` ([`Strictness::Strict`]) they are refused at load
//!   instead, for a host that wants no component able to reach the network at all.
//! * anything else (unknown packages, lookalikes, other versions, bare functions): refused,
//!   and the component is not instantiated.

use serde::Serialize;
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::LoadError;

/// Version of `libos:runtime` this host serves.
pub const RUNTIME_VERSION: &str = "0.1.0";

const RUNTIME_INTERFACES: &[&str] = &["types", "fs", "clock", "log", "shell"];

/// Interfaces of `libos:runtime` served to agent processes only (world `agent`); a tool that
/// imports one is refused when loaded as a tool.
pub const AGENT_INTERFACES: &[&str] = &["process", "tools", "memory", "events", "human", "time"];

/// Whether `name` (an import name) is an agent-only `libos:runtime` interface.
pub fn is_agent_only(name: &str) -> bool {
    let (base, _) = split_version(name);
    base.strip_prefix("libos:runtime/")
        .is_some_and(|iface| AGENT_INTERFACES.contains(&iface))
}

/// The WASI 0.2 interfaces served as a baseline (empty environment, captured stdio, host
/// clocks, seeded randomness).
pub const WASI_BASELINE: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
];

/// The WASI filesystem interfaces, each path operation decided (`wasm/wasi_fs.rs`).
pub const WASI_FILESYSTEM: &[&str] = &["wasi:filesystem/types", "wasi:filesystem/preopens"];

/// The WASI network interfaces, each use decided at call time (`wasm/net/`), with the
/// capability that grants it.
pub const WASI_NETWORK: &[(&str, &str)] = &[
    ("wasi:sockets/network", "net.connect, net.bind"),
    ("wasi:sockets/instance-network", "net.connect, net.bind"),
    ("wasi:sockets/tcp", "net.connect, net.bind"),
    ("wasi:sockets/tcp-create-socket", "net.connect, net.bind"),
    ("wasi:sockets/udp", "net.connect, net.bind"),
    ("wasi:sockets/udp-create-socket", "net.connect, net.bind"),
    ("wasi:sockets/ip-name-lookup", "net.resolve"),
    ("wasi:http/types", "http.request"),
    ("wasi:http/outgoing-handler", "http.request"),
];

/// Whether imports that are served but reach outside (the network) load at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Strictness {
    /// They load; each use is decided at call time (the default).
    #[default]
    Decided,
    /// They are refused at load (`--strict-imports`).
    Strict,
}

/// How the host treats one import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "class", content = "why", rename_all = "kebab-case")]
pub enum ImportClass {
    /// A `libos:runtime` primitive interface.
    Runtime,
    /// Part of the WASI baseline, served empty and deterministic.
    WasiBaseline,
    /// WASI filesystem: linked to the directories the caller's capabilities grant.
    WasiFilesystem,
    /// WASI network: served, but each use denied until granted by the capability named.
    WasiNetwork(String),
    /// Not granted by anything; the payload says why.
    Refused(String),
}

impl ImportClass {
    /// Whether the import can be linked.
    pub fn is_allowed(&self) -> bool {
        !matches!(self, ImportClass::Refused(_))
    }
}

/// One import of a component and how the host treats it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportInfo {
    /// The import name, e.g. `wasi:sockets/tcp@0.2.6`.
    pub name: String,
    /// The host's verdict.
    #[serde(flatten)]
    pub class: ImportClass,
}

/// Splits `ns:pkg/iface@version` into (`ns:pkg/iface`, `version`).
fn split_version(name: &str) -> (&str, Option<&str>) {
    match name.split_once('@') {
        Some((base, version)) => (base, Some(version)),
        None => (name, None),
    }
}

/// Classifies one import name.
pub fn classify(name: &str) -> ImportClass {
    let (base, version) = split_version(name);
    if let Some(iface) = base.strip_prefix("libos:runtime/") {
        if !RUNTIME_INTERFACES.contains(&iface) && !AGENT_INTERFACES.contains(&iface) {
            return ImportClass::Refused(format!(
                "is not an interface of libos:runtime@{RUNTIME_VERSION}"
            ));
        }
        return match version {
            Some(RUNTIME_VERSION) => ImportClass::Runtime,
            Some(v) => ImportClass::Refused(format!(
                "asks for libos:runtime@{v}, but this host serves libos:runtime@{RUNTIME_VERSION}"
            )),
            None => ImportClass::Refused("has no version; expected @0.1.0".into()),
        };
    }
    let wasi_02 = version.is_some_and(|v| v.starts_with("0.2."));
    if WASI_BASELINE.contains(&base) {
        return if wasi_02 {
            ImportClass::WasiBaseline
        } else {
            ImportClass::Refused("is not a WASI 0.2 version this host serves".into())
        };
    }
    if WASI_FILESYSTEM.contains(&base) {
        return if wasi_02 {
            ImportClass::WasiFilesystem
        } else {
            ImportClass::Refused("is not a WASI 0.2 version this host serves".into())
        };
    }
    if let Some((_, grants)) = WASI_NETWORK.iter().find(|(iface, _)| *iface == base) {
        return if wasi_02 {
            ImportClass::WasiNetwork((*grants).to_owned())
        } else {
            ImportClass::Refused("is not a WASI 0.2 version this host serves".into())
        };
    }
    ImportClass::Refused("no capability grants".into())
}

/// Lists and classifies every import of `component`.
pub fn imports(engine: &Engine, component: &Component) -> Vec<ImportInfo> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| ImportInfo {
            name: name.to_string(),
            class: classify(name),
        })
        .collect()
}

/// Lists the names of every export of `component`.
pub fn exports(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect()
}

/// Refuses the component if any import is refused, naming the first one.
pub fn ensure_allowed(imports: &[ImportInfo]) -> Result<(), LoadError> {
    ensure_allowed_under(imports, Strictness::Decided)
}

/// [`ensure_allowed`] under `strictness`: [`Strictness::Strict`] refuses the network too.
pub fn ensure_allowed_under(
    imports: &[ImportInfo],
    strictness: Strictness,
) -> Result<(), LoadError> {
    if strictness == Strictness::Strict
        && let Some(net) = imports
            .iter()
            .find(|i| matches!(i.class, ImportClass::WasiNetwork(_)))
    {
        return Err(LoadError::Refused {
            import: net.name.clone(),
            why: "reaches the network, which --strict-imports refuses at load".into(),
        });
    }
    match imports.iter().find(|i| !i.class.is_allowed()) {
        Some(ImportInfo {
            name,
            class: ImportClass::Refused(why),
        }) => Err(LoadError::Refused {
            import: name.clone(),
            why: why.clone(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_interfaces_are_allowed_at_our_version_only() {
        assert_eq!(classify("libos:runtime/fs@0.1.0"), ImportClass::Runtime);
        assert!(!classify("libos:runtime/fs@0.2.0").is_allowed());
        assert_eq!(classify("libos:runtime/shell@0.1.0"), ImportClass::Runtime);
        assert!(!classify("libos:runtime/http@0.1.0").is_allowed());
        assert!(!classify("libos:runtime/fs").is_allowed());
    }

    #[test]
    fn wasi_baseline_and_filesystem_are_told_apart() {
        assert_eq!(classify("wasi:cli/stdout@0.2.6"), ImportClass::WasiBaseline);
        assert_eq!(classify("wasi:io/streams@0.2.0"), ImportClass::WasiBaseline);
        assert_eq!(
            classify("wasi:filesystem/preopens@0.2.6"),
            ImportClass::WasiFilesystem
        );
        assert!(!classify("wasi:cli/stdout@0.3.0").is_allowed());
    }

    #[test]
    fn everything_else_is_refused_with_the_reason() {
        for name in [
            "wasi:sockets/tcpx@0.2.6",
            "wasi:http/incoming-handler@0.2.6",
            "libos:runtimex/fs@0.1.0",
            "evil:pkg/backdoor@1.0.0",
            "bare-function",
            "",
        ] {
            assert_eq!(
                classify(name),
                ImportClass::Refused("no capability grants".into()),
                "{name}"
            );
        }
        let err = ensure_allowed(&[ImportInfo {
            name: "evil:pkg/backdoor@1.0.0".into(),
            class: classify("evil:pkg/backdoor@1.0.0"),
        }])
        .map(|_| ())
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "refused: imports evil:pkg/backdoor@1.0.0, which no capability grants"
        );
    }

    #[test]
    fn the_network_is_served_denied_until_granted_or_refused_when_strict() {
        let tcp = ImportInfo {
            name: "wasi:sockets/tcp@0.2.6".into(),
            class: classify("wasi:sockets/tcp@0.2.6"),
        };
        assert_eq!(
            tcp.class,
            ImportClass::WasiNetwork("net.connect, net.bind".into())
        );
        assert_eq!(
            classify("wasi:http/outgoing-handler@0.2.3"),
            ImportClass::WasiNetwork("http.request".into())
        );
        assert!(!classify("wasi:sockets/tcp@0.3.0").is_allowed());
        assert!(ensure_allowed(std::slice::from_ref(&tcp)).is_ok());
        let err = ensure_allowed_under(&[tcp], Strictness::Strict).unwrap_err();
        assert!(err.to_string().contains("--strict-imports"), "{err}");
    }
}
