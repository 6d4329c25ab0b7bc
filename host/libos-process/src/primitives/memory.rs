//! `libos:runtime/memory`: not served by this runtime yet; every function answers with a
//! typed `invalid` error.

use libos::bindings::RuntimeError;

use crate::bindings::libos::runtime::memory::{Host, Object, ObjectMeta, SwapOutcome};
use crate::ctx::ProcessCtx;
use crate::primitives::not_yet;

type R<T> = wasmtime::Result<Result<T, RuntimeError>>;

impl Host for ProcessCtx {
    fn put(&mut self, _: Option<String>, _: String, _: String, _: String) -> R<u64> {
        Ok(Err(not_yet("memory.put")))
    }
    fn get(&mut self, _: Option<String>, _: String, _: String) -> R<Object> {
        Ok(Err(not_yet("memory.get")))
    }
    fn list(
        &mut self,
        _: Option<String>,
        _: String,
        _: Option<String>,
        _: u32,
    ) -> R<Vec<ObjectMeta>> {
        Ok(Err(not_yet("memory.list")))
    }
    fn compare_and_swap(
        &mut self,
        _: Option<String>,
        _: String,
        _: String,
        _: u64,
        _: String,
    ) -> R<SwapOutcome> {
        Ok(Err(not_yet("memory.compare-and-swap")))
    }
    fn delete(&mut self, _: Option<String>, _: String, _: String, _: Option<u64>) -> R<bool> {
        Ok(Err(not_yet("memory.delete")))
    }
}
