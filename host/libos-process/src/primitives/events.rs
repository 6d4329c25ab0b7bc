//! `libos:runtime/events`: not served by this runtime yet; every function answers with a
//! typed `invalid` error.

use libos::bindings::RuntimeError;

use crate::bindings::libos::runtime::events::{Event, Host};
use crate::ctx::ProcessCtx;
use crate::primitives::not_yet;

impl Host for ProcessCtx {
    fn emit(&mut self, _: String, _: String) -> wasmtime::Result<Result<(), RuntimeError>> {
        Ok(Err(not_yet("events.emit")))
    }
    async fn wait(
        &mut self,
        _: String,
        _: Option<u64>,
    ) -> wasmtime::Result<Result<Option<Event>, RuntimeError>> {
        Ok(Err(not_yet("events.wait")))
    }
}
