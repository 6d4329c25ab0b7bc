//! A local TCP server that counts what reaches it: the other side of a network test.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A TCP server on 127.0.0.1 that answers every connection with `reply(request)` and counts
/// connections.
pub struct Server {
    /// Its port on 127.0.0.1.
    pub port: u16,
    hits: Arc<AtomicUsize>,
}

impl Server {
    pub fn start(reply: fn(&str) -> String) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&hits);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counted.fetch_add(1, Ordering::SeqCst);
                stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
                let mut buf = [0u8; 4096];
                let n = stream.read(&mut buf).unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).into_owned();
                let _ = stream.write_all(reply(&request).as_bytes());
            }
        });
        Server { port, hits }
    }

    /// Connections so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}
