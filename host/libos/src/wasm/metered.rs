//! An output stream over a file opened through `wasi:filesystem` whose writes are charged to
//! the call's meter before they happen, and refused while the audit log cannot be written.

use std::sync::Arc;

use wasmtime_wasi_io::async_trait;
use wasmtime_wasi_io::bytes::Bytes;
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{DynOutputStream, OutputStream, StreamError, StreamResult};

use libos_authority::Authority;

use crate::error::LimitKind;
use crate::meter::Meter;

/// Wraps a file's output stream. The open that made the file writable was decided and its
/// record stored; every write after it is refused (the stream error `io`) while the audit log
/// cannot be written, as every primitive is, and charged as [`LimitKind::BytesWritten`] to the
/// call's meter, if any: over budget, the write is not done and the guest gets the stream
/// error `insufficient-space`.
pub struct MeteredStream {
    inner: DynOutputStream,
    meter: Option<Arc<dyn Meter>>,
    authority: Arc<Authority>,
}

impl MeteredStream {
    /// `inner`, charged to `meter`, refused while `authority`'s audit log is failing.
    pub fn new(
        inner: DynOutputStream,
        meter: Option<Arc<dyn Meter>>,
        authority: Arc<Authority>,
    ) -> Self {
        MeteredStream {
            inner,
            meter,
            authority,
        }
    }

    fn charge(&self, len: usize) -> StreamResult<()> {
        if let Some(why) = self.authority.audit_failing() {
            return Err(StreamError::LastOperationFailed(
                std::io::Error::other(format!("refused: the audit log cannot be written ({why})"))
                    .into(),
            ));
        }
        let Some(meter) = &self.meter else {
            return Ok(());
        };
        let len = u64::try_from(len).unwrap_or(u64::MAX);
        meter
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
