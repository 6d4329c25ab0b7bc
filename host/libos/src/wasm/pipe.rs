//! Captured stdout/stderr of a WASI guest, capped in size.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi_io::async_trait;
use wasmtime_wasi_io::bytes::Bytes;
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{OutputStream, StreamResult};

#[derive(Debug, Default)]
struct Inner {
    bytes: Vec<u8>,
    dropped: u64,
}

/// An output stream that keeps the first `cap` bytes written to it and counts the rest.
///
/// Writes never fail: a guest printing past the cap keeps running (its output is dropped),
/// so that printing cannot be used to crash a tool, and the host cannot be flooded.
#[derive(Debug, Clone)]
pub struct CappedPipe {
    cap: usize,
    inner: Arc<Mutex<Inner>>,
}

impl CappedPipe {
    /// A pipe keeping at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        CappedPipe {
            cap,
            inner: Arc::default(),
        }
    }

    /// The bytes kept and the number of bytes dropped past the cap.
    pub fn contents(&self) -> (Vec<u8>, u64) {
        match self.inner.lock() {
            Ok(i) => (i.bytes.clone(), i.dropped),
            Err(p) => {
                let i = p.into_inner();
                (i.bytes.clone(), i.dropped)
            }
        }
    }

    fn push(&self, buf: &[u8]) {
        let mut inner = match self.inner.lock() {
            Ok(i) => i,
            Err(p) => p.into_inner(),
        };
        let room = self.cap.saturating_sub(inner.bytes.len());
        let keep = room.min(buf.len());
        inner.bytes.extend_from_slice(&buf[..keep]);
        inner.dropped += (buf.len() - keep) as u64;
    }
}

impl AsyncWrite for CappedPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for CappedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedPipe {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    /// A stream that takes every write at once: always ready, the same answers whatever the
    /// timing (a journaled process replays its output calls exactly).
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

/// The most one write may hand over ([`OutputStream::check_write`]).
const WRITE_PERMIT: usize = 1 << 20;

#[async_trait]
impl Pollable for CappedPipe {
    async fn ready(&mut self) {}
}

#[async_trait]
impl OutputStream for CappedPipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}
