//! `wasi:io/poll`, journaled: which pollables were ready is answered from the journal on
//! replay. `block` is not: it returns nothing, and what it waits for (a journaled deadline,
//! an output stream) is as ready on replay as it was.

use wasmtime::component::Resource;
use wasmtime_wasi::WasiView as _;
use wasmtime_wasi_io::bindings::wasi::io::poll::{self, HostPollable};
use wasmtime_wasi_io::poll::DynPollable;

use super::{Begun, Call, Journaled, decode};

const POLL: &str = "wasi:io/poll";

impl poll::Host for Journaled<'_> {
    async fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        let reps: Vec<u32> = pollables.iter().map(Resource::rep).collect();
        let call = Call::new(POLL, "poll", &(reps,))?;
        match self.0.journal.read(&call)? {
            Begun::Replayed(bytes) => decode(&bytes, &call),
            Begun::Live(ticket) => {
                self.not_full(&call)?;
                let ready = poll::Host::poll(self.0.ctx().table, pollables).await?;
                self.0.journal.settle(ticket, &call, &ready)?;
                self.0.journal.keep_up().await?;
                Ok(ready)
            }
        }
    }
}

impl HostPollable for Journaled<'_> {
    async fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        let call = Call::new(POLL, "[method]pollable.ready", &(pollable.rep(),))?;
        match self.0.journal.read(&call)? {
            Begun::Replayed(bytes) => decode(&bytes, &call),
            Begun::Live(ticket) => {
                self.not_full(&call)?;
                let ready = HostPollable::ready(self.0.ctx().table, pollable).await?;
                self.0.journal.settle(ticket, &call, &ready)?;
                self.0.journal.keep_up().await?;
                Ok(ready)
            }
        }
    }

    async fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        HostPollable::block(self.0.ctx().table, pollable).await
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        HostPollable::drop(self.0.ctx().table, pollable)
    }
}
