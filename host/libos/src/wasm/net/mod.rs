//! `wasi:sockets` and `wasi:http` decided at call time.
//!
//! Components built with their toolchains' defaults import the network whether they use it
//! or not, so the host links it and decides every use, like the filesystem:
//!
//! * `ip-name-lookup.resolve-addresses` decides `net.resolve` on the name;
//! * a TCP `start-connect`, a UDP `stream` with a remote address and every UDP datagram sent
//!   to an address decide `net.connect` on `HOST:PORT`, where `HOST` is the name the guest
//!   resolved to that address (or the address itself); an address in an internal range is
//!   also decided on itself and reached only when a capability names it (`addr.rs`);
//! * a TCP or UDP `start-bind` decides `net.bind` on the port;
//! * `wasi:http/outgoing-handler.handle` decides `http.request` on
//!   `METHOD:AUTHORITY/PATH` (`http.rs`); a redirect is a new request the guest makes, so it
//!   is decided again.
//!
//! A refusal reaches the guest as the interface's own error (`access-denied`,
//! `HTTP-request-denied`), never a trap. Every decision is audited, and the effect waits
//! until its record is stored: sockets at the [`gate::NetGate`], requests before they are
//! sent. Creating a socket, reading its options and the `network` resources decide nothing:
//! they reach nobody.

pub mod addr;
pub mod gate;
mod http;
mod send;
mod sockets;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use wasmtime_wasi_http::WasiHttpCtx;

pub use http::add_to_linker as add_http_to_linker;
pub use send::HttpHooks;

/// Names a call remembers having resolved at most (the oldest are forgotten; a connect to
/// an address whose name was forgotten is decided on the address).
const MAX_RESOLVED: usize = 4_096;

/// The network state of one call, built with its WASI context.
pub struct NetState {
    /// The check every socket of the call makes before it acts.
    pub gate: Arc<gate::NetGate>,
    /// Which name each address the guest resolved came from.
    resolved: HashMap<IpAddr, Arc<str>>,
    /// The name each open lookup (by resource index) resolves.
    lookups: HashMap<u32, Arc<str>>,
    pub(crate) http: WasiHttpCtx,
    pub(crate) hooks: HttpHooks,
}

impl NetState {
    pub fn new(gate: Arc<gate::NetGate>) -> Self {
        NetState {
            gate,
            resolved: HashMap::new(),
            lookups: HashMap::new(),
            http: WasiHttpCtx::new(),
            hooks: HttpHooks::default(),
        }
    }

    /// Remembers that `name` resolved to `ip`.
    fn remember(&mut self, ip: IpAddr, name: &Arc<str>) {
        if self.resolved.len() >= MAX_RESOLVED && !self.resolved.contains_key(&ip) {
            self.resolved.clear();
        }
        self.resolved.insert(addr::canonical(ip), Arc::clone(name));
    }

    /// The name the guest resolved to `ip`, if any.
    fn name_of(&self, ip: IpAddr) -> Option<&Arc<str>> {
        self.resolved.get(&addr::canonical(ip))
    }
}
