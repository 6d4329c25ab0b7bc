//! The last check before a socket touches the network: [`NetGate`].
//!
//! wasmtime-wasi asks a socket's address check right before each bind, listen, accept,
//! connect, send and receive, inside the future that then makes the system call. The gate
//! is that check for every socket of a call: it lets through only what a mediated function
//! of `wasi:sockets` (`sockets.rs`) decided and left a [`Pass`] for, and waits there until
//! the record of that decision is stored (so no connection or datagram leaves unrecorded;
//! if the record cannot be stored, nothing leaves). Anything that did not come through a
//! decision is refused: the gate fails closed.
//!
//! What passes without a decision of its own, and why: the implicit bind of an unbound
//! socket to an ephemeral port on the unspecified address (part of a decided connect or
//! send, and it accepts nothing by itself); accepting a connection on, and receiving on, a
//! socket whose bind was decided (that is what the decided bind was for).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;
use wasmtime_wasi::sockets::SocketAddrUse;

use crate::permit::RecordPending;

/// Passes one call keeps at most (distinct destinations and bound ports); past this a new
/// decision is refused as a limit.
pub const MAX_PASSES: usize = 4_096;

/// What a pass lets through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Way {
    /// Connecting to, or sending to, an address.
    Out(SocketAddr),
    /// Binding (and then listening on) a port.
    Bind(u16),
}

/// One decided way through: waits for the decision's record the first time it is used.
pub struct Pass {
    stored: OnceCell<bool>,
    pending: Mutex<Option<RecordPending>>,
}

impl Pass {
    async fn ready(&self) -> bool {
        *self
            .stored
            .get_or_init(|| async {
                let pending = self
                    .pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                match pending {
                    Some(p) => p.stored().await.is_ok(),
                    None => true,
                }
            })
            .await
    }
}

/// The passes of one call (see the module docs).
#[derive(Default)]
pub struct NetGate {
    passes: Mutex<HashMap<Way, Arc<Pass>>>,
}

/// The gate is full: the call has decided [`MAX_PASSES`] ways already.
#[derive(Debug)]
pub struct GateFull;

impl NetGate {
    /// Leaves a pass for `way`, used once `pending` (the decision's record) is stored. A new
    /// decision on the same way replaces the old pass.
    pub fn open(&self, way: Way, pending: RecordPending) -> Result<(), GateFull> {
        let mut passes = self.passes.lock().unwrap_or_else(PoisonError::into_inner);
        if passes.len() >= MAX_PASSES && !passes.contains_key(&way) {
            return Err(GateFull);
        }
        let pass = Pass {
            stored: OnceCell::new(),
            pending: Mutex::new(Some(pending)),
        };
        passes.insert(way, Arc::new(pass));
        Ok(())
    }

    fn find(&self, way: Way) -> Option<Arc<Pass>> {
        let passes = self.passes.lock().unwrap_or_else(PoisonError::into_inner);
        passes.get(&way).cloned()
    }

    fn bound(&self, port: u16) -> bool {
        let passes = self.passes.lock().unwrap_or_else(PoisonError::into_inner);
        passes.contains_key(&Way::Bind(port)) || passes.contains_key(&Way::Bind(0))
    }

    /// The address check of every socket of the call.
    pub async fn check(self: Arc<Self>, addr: SocketAddr, used: SocketAddrUse) -> bool {
        let way = match used {
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind
                if addr.port() == 0 && addr.ip().is_unspecified() =>
            {
                // An implicit ephemeral bind (see the module docs); an explicit one was
                // decided as `net.bind:0` before it got here.
                return true;
            }
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind => Way::Bind(addr.port()),
            SocketAddrUse::TcpListen => return self.bound(addr.port()),
            SocketAddrUse::TcpAccept | SocketAddrUse::UdpReceive => return true,
            SocketAddrUse::TcpConnect | SocketAddrUse::UdpSend => Way::Out(addr),
        };
        match self.find(way) {
            Some(pass) => pass.ready().await,
            None => false,
        }
    }
}
