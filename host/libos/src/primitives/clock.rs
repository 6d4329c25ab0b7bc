//! `libos:runtime/clock`: time from the host's clock provider.

use crate::bindings::RuntimeError;
use crate::bindings::libos::runtime::clock::{Datetime, Host};
use crate::call::CallCtx;

impl Host for CallCtx {
    async fn now(&mut self) -> wasmtime::Result<Result<Datetime, RuntimeError>> {
        if let Err(e) = self
            .permit("clock.read", "wall", None)
            .map(|p| p.done(None))
        {
            return Ok(Err(e));
        }
        let now = self.clock.now();
        Ok(Ok(Datetime {
            seconds: now.as_secs(),
            nanoseconds: now.subsec_nanos(),
        }))
    }

    async fn monotonic(&mut self) -> wasmtime::Result<Result<u64, RuntimeError>> {
        if let Err(e) = self
            .permit("clock.read", "monotonic", None)
            .map(|p| p.done(None))
        {
            return Ok(Err(e));
        }
        Ok(Ok(self.clock.monotonic()))
    }
}
