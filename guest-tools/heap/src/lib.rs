//! The allocator of Agent libOS's `wasm32-unknown-unknown` guests (both SDKs link it): dlmalloc
//! over a heap handed out in small steps.
//!
//! A host keeps thousands of agents alive, and a parked one keeps every page of linear memory
//! it touched. dlmalloc as it comes takes the whole heap the linker left in the initial memory
//! at its first allocation and writes a fence post at its end, so an agent holding a few
//! hundred bytes of heap keeps two heap pages: where the heap starts and where the initial
//! memory ends. Here dlmalloc asks for memory [`GRANULE`] bytes at a time (more for a larger
//! allocation), handed out from `__heap_base` up; linear memory grows only once the initial
//! memory is used up. A guest's heap pages are then the ones its allocations use.
//!
//! Off `wasm32-unknown-unknown` (the host, where the pure modules of some guests are unit
//! tested) this crate is empty and the platform's allocator stays.

#![no_std]

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod steps;

/// Bytes of heap dlmalloc asks for at a time (its granularity): small enough that the heap of
/// a call that allocates little stays within the page where `__heap_base` lies.
pub const GRANULE: usize = 256;
