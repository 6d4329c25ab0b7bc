//! An output stream over a file opened through `wasi:filesystem` whose writes are charged to
//! the call's meter before they happen.

use std::sync::Arc;

use wasmtime_wasi_io::async_trait;
use wasmtime_wasi_io::bytes::Bytes;
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{DynOutputStream, OutputStream, StreamError, StreamResult};

use crate::error::LimitKind;
use crate::meter::Meter;

/// Wraps a file's output stream: every write is charged as
/// [`LimitKind::BytesWritten`] first; over budget, the write is not done and the guest gets
/// the stream error `insufficient-space`.
pub struct MeteredStream {
    inner: DynOutputStream,
    meter: Arc<dyn Meter>,
}

impl MeteredStream {
    /// `inner`, charged to `meter`.
    pub fn new(inner: DynOutputStream, meter: Arc<dyn Meter>) -> Self {
        MeteredStream { inner, meter }
    }

    fn charge(&self, len: usize) -> StreamResult<()> {
        let len = u64::try_from(len).unwrap_or(u64::MAX);
        self.meter
            .charge(LimitKind::BytesWritten, len)
            .map_err(|_| StreamError::LastOperationFailed(no_space().into()))
    }
}

/// The error a guest sees for a write past its budget (`insufficient-space`).
pub fn no_space() -> std::io::Error {
    std::io::Error::from_raw_os_error(rustix::io::Errno::NOSPC.raw_os_error())
}

#[async_trait]
impl Pollable for MeteredStream {
    async fn ready(&mut self) {
        self.inner.ready().await
    }
}

#[async_trait]
impl OutputStream for MeteredStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.charge(bytes.len())?;
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.inner.check_write()
    }

    async fn blocking_write_and_flush(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.charge(bytes.len())?;
        self.inner.blocking_write_and_flush(bytes).await
    }

    fn write_zeroes(&mut self, nelem: usize) -> StreamResult<()> {
        self.charge(nelem)?;
        self.inner.write_zeroes(nelem)
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await
    }
}
