//! Helpers shared by the integration tests: image directories on disk.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// The smallest valid WebAssembly component: the header alone.
pub const COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";
/// A core module header (not a component).
pub const MODULE: &[u8] = b"\0asm\x01\x00\x00\x00";

/// A valid component whose bytes differ with `tag` (a custom section named `tag`).
pub fn component_with(tag: &str) -> Vec<u8> {
    let mut bytes = COMPONENT.to_vec();
    let name = tag.as_bytes();
    assert!(name.len() < 100, "tag too long for a one-byte length");
    bytes.push(0); // custom section id
    bytes.push(u8::try_from(name.len() + 1).unwrap());
    bytes.push(u8::try_from(name.len()).unwrap());
    bytes.extend_from_slice(name);
    bytes
}

/// A temporary image directory.
pub struct ImageDir {
    pub tmp: TempDir,
}

impl ImageDir {
    pub fn new() -> ImageDir {
        ImageDir {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// The manifest file's path.
    pub fn manifest(&self) -> PathBuf {
        self.tmp.path().join("image.toml")
    }

    /// Writes `bytes` at `rel` (creating parent directories).
    pub fn file(&self, rel: &str, bytes: &[u8]) -> &Self {
        let path = self.tmp.path().join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(path, bytes).unwrap();
        self
    }

    /// Writes `image.toml`.
    pub fn toml(&self, text: &str) -> &Self {
        self.file("image.toml", text.as_bytes())
    }
}

/// A directory holding a minimal valid image: `agent.wasm` and a manifest with `name`,
/// `version` and `agent`, plus `extra` appended to the manifest.
pub fn minimal(name: &str, version: &str, extra: &str) -> ImageDir {
    let dir = ImageDir::new();
    dir.file("agent.wasm", COMPONENT);
    dir.toml(&format!(
        "name = \"{name}\"\nversion = \"{version}\"\nagent = \"agent.wasm\"\n{extra}"
    ));
    dir
}
