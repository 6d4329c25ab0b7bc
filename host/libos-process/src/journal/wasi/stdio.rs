//! `wasi:cli/stdout` and `stderr`: whether `log.write` allows the stream is journaled, so a
//! replay neither decides (nor audits) it again nor decides it otherwise.

use libos::wasm::mediated::{Stdio, mediated};
use wasmtime::component::Resource;
use wasmtime_wasi::p2::bindings::cli::{stderr, stdout};
use wasmtime_wasi_io::streams::DynOutputStream;

use super::{Call, Journaled};

impl Journaled<'_> {
    fn output(&mut self, which: Stdio) -> wasmtime::Result<Resource<DynOutputStream>> {
        let call = match which {
            Stdio::Stdout => Call::new("wasi:cli/stdout", "get-stdout", &())?,
            Stdio::Stderr => Call::new("wasi:cli/stderr", "get-stderr", &())?,
        };
        let allowed = self.wasi_read(&call, |p| Ok(mediated(p).output_allowed(which)))?;
        mediated(self.0).output_stream(which, allowed)
    }
}

impl stdout::Host for Journaled<'_> {
    fn get_stdout(&mut self) -> wasmtime::Result<Resource<DynOutputStream>> {
        self.output(Stdio::Stdout)
    }
}

impl stderr::Host for Journaled<'_> {
    fn get_stderr(&mut self) -> wasmtime::Result<Resource<DynOutputStream>> {
        self.output(Stdio::Stderr)
    }
}
