//! Paths of the guest components built from `guest-tools/` by this crate's build script.
//!
//! Tools: [`READ_FILE`], [`WRITE_FILE`], [`LIST_DIR`], [`WORD_COUNT`]. Hostile fixtures:
//! [`FS_PROBE`], [`SPIN`], [`MEMBOMB`], [`BIG_OUTPUT`], [`TRAP`], [`SOCKETS`] (imports
//! `wasi:sockets`), [`WASI_PROBE`] (an ordinary WASI program), [`WORD_COUNT_CORE`] (a core
//! module, not a component).

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
