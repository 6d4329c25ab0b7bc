//! Recognising WebAssembly component files.
//!
//! Only the binary framing is checked here: the header must announce a component (not a core
//! module), and when the whole file is read its sections must be well framed. Imports and
//! types are validated when the component is loaded.

use std::io::Read;
use std::path::Path;

use wasmparser::{Chunk, Encoding, Parser, Payload};

use crate::error::FieldError;
use crate::paths;

/// The largest component file an image may contain: 64 MiB.
pub const MAX_COMPONENT_SIZE: u64 = 64 << 20;

/// Length of the WebAssembly header (magic number and version/layer).
const HEADER_LEN: usize = 8;

/// Checks that the file at `path` (already resolved inside `dir`) exists, is at most
/// [`MAX_COMPONENT_SIZE`] bytes and starts with a component header. Returns its size.
pub(crate) fn check_file(dir: &Path, path: &Path, written: &str) -> Result<u64, FieldError> {
    let (file, size) = paths::open_inside(dir, path, written, "component", MAX_COMPONENT_SIZE)?;
    let mut header = Vec::with_capacity(HEADER_LEN);
    file.take(HEADER_LEN as u64)
        .read_to_end(&mut header)
        .map_err(|e| FieldError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    check_header(&header).map_err(|reason| not_a_component(path, reason))?;
    Ok(size)
}

/// Reads the whole component at `path` (already resolved inside `dir`), checking its size,
/// header and section framing.
pub(crate) fn read_file(dir: &Path, path: &Path, written: &str) -> Result<Vec<u8>, FieldError> {
    let (file, _) = paths::open_inside(dir, path, written, "component", MAX_COMPONENT_SIZE)?;
    let bytes = paths::read_capped(file, path, MAX_COMPONENT_SIZE)?;
    check_header(&bytes).map_err(|reason| not_a_component(path, reason))?;
    check_framing(&bytes).map_err(|reason| not_a_component(path, reason))?;
    Ok(bytes)
}

/// Checks component bytes given whole (not read from an image directory): size, header and
/// section framing. The reason, when they are not a component.
pub(crate) fn check_bytes(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() as u64 > MAX_COMPONENT_SIZE {
        return Err(format!(
            "{} bytes, more than the {MAX_COMPONENT_SIZE} a component may have",
            bytes.len()
        ));
    }
    check_header(bytes)?;
    check_framing(bytes)
}

fn not_a_component(path: &Path, reason: String) -> FieldError {
    FieldError::NotAComponent {
        path: path.to_path_buf(),
        reason,
    }
}

/// Checks that `bytes` begins with the header of a WebAssembly component.
pub(crate) fn check_header(bytes: &[u8]) -> Result<(), String> {
    let header = bytes.get(..HEADER_LEN).unwrap_or(bytes);
    match Parser::new(0).parse(header, false) {
        Ok(Chunk::Parsed {
            payload:
                Payload::Version {
                    encoding: Encoding::Component,
                    ..
                },
            ..
        }) => Ok(()),
        Ok(Chunk::Parsed {
            payload:
                Payload::Version {
                    encoding: Encoding::Module,
                    ..
                },
            ..
        }) => Err("it is a core WebAssembly module; build it as a component".to_owned()),
        Ok(Chunk::NeedMoreData(_)) => Err(format!(
            "the file is shorter than the {HEADER_LEN}-byte WebAssembly header"
        )),
        Ok(Chunk::Parsed { .. }) => Err("unexpected WebAssembly header".to_owned()),
        Err(e) => Err(format!("bad WebAssembly header: {}", e.message())),
    }
}

/// Walks every section (including nested modules and components) to check the framing.
fn check_framing(bytes: &[u8]) -> Result<(), String> {
    for payload in Parser::new(0).parse_all(bytes) {
        if let Err(e) = payload {
            return Err(format!(
                "malformed at byte offset {}: {}",
                e.offset(),
                e.message()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";
    const MODULE: &[u8] = b"\0asm\x01\x00\x00\x00";

    #[test]
    fn headers() {
        assert!(check_header(COMPONENT).is_ok());
        assert!(check_header(MODULE).unwrap_err().contains("core"));
        assert!(check_header(b"\0asm").is_err());
        assert!(check_header(b"hello world!").is_err());
        assert!(check_header(b"").is_err());
        assert!(check_header(b"\0asm\x0e\x00\x01\x00").is_err());
    }

    #[test]
    fn framing() {
        assert!(check_framing(COMPONENT).is_ok());
        let mut truncated = COMPONENT.to_vec();
        truncated.extend_from_slice(&[0x00, 0x10, 0x01]);
        assert!(check_framing(&truncated).is_err());
    }
}
