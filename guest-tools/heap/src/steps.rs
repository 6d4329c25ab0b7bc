//! The global allocator: dlmalloc whose system allocator hands the heap out in steps.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::Cell;
use core::mem::size_of;
use core::ptr;

use dlmalloc::{Allocator, Dlmalloc};

use crate::GRANULE;

// A guest built with shared memory and threads would need a lock around the allocator.
#[cfg(target_feature = "atomics")]
compile_error!("libos-guest-heap is for single-threaded guests (no `atomics` target feature)");

const WASM_PAGE: usize = 64 * 1024;

unsafe extern "C" {
    /// First byte after the stack and data: where the heap the linker left starts.
    static __heap_base: u8;
    /// End of the initial memory (set by the linker).
    static __heap_end: u8;
}

/// The heap handed to dlmalloc so far: `[.., next)` is given out, `[next, end)` is memory
/// nobody uses yet; both 0 before the first allocation.
struct Steps {
    next: Cell<usize>,
    end: Cell<usize>,
}

// SAFETY: `alloc` hands out only memory no one else uses (the heap after `__heap_base`, pages
// this allocator grew), each byte once, and never claims to release any.
unsafe impl Allocator for Steps {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let (mut next, mut end) = (self.next.get(), self.end.get());
        if next == 0 {
            // Linker-defined symbols: only their addresses are used.
            next = ptr::addr_of!(__heap_base) as usize;
            end = (ptr::addr_of!(__heap_end) as usize).max(next);
        }
        if size > end - next {
            if wasm32::memory_size(0) * WASM_PAGE == end {
                // The free part continues into the pages grown now.
                let pages = (size - (end - next)).div_ceil(WASM_PAGE);
                if wasm32::memory_grow(0, pages) == usize::MAX {
                    return (ptr::null_mut(), 0, 0);
                }
                end += pages * WASM_PAGE;
            } else {
                // The heap ended before the memory does (no room was left after the data, or
                // something else grew memory): go on in pages of our own.
                let pages = size.div_ceil(WASM_PAGE);
                let grown = wasm32::memory_grow(0, pages);
                if grown == usize::MAX {
                    return (ptr::null_mut(), 0, 0);
                }
                next = grown * WASM_PAGE;
                end = next + pages * WASM_PAGE;
            }
        }
        // `end` is at most the memory's size, below 4 GiB, and `next + size <= end` now.
        self.next.set(next + size);
        self.end.set(end);
        (next as *mut u8, size, 0)
    }

    fn remap(&self, _ptr: *mut u8, _old: usize, _new: usize, _can_move: bool) -> *mut u8 {
        ptr::null_mut()
    }

    fn free_part(&self, _ptr: *mut u8, _old: usize, _new: usize) -> bool {
        false
    }

    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }

    /// Memory past the data of a fresh instance, and grown pages, read as zeros.
    fn allocates_zeros(&self) -> bool {
        true
    }

    fn page_size(&self) -> usize {
        WASM_PAGE
    }
}

/// dlmalloc's state (with [`Steps`]'s), aligned so that it never straddles two pages. Being
/// initialised data it lies just before the zero-initialised statics, which lie just before
/// `__heap_base`: the allocator's state, the statics a guest writes and the start of its heap
/// are one short stretch, usually a single page.
#[repr(C, align(512))]
struct Aligned(Dlmalloc<Steps>);

const _: () = assert!(size_of::<Aligned>() <= 512);

static mut DLMALLOC: Aligned = Aligned({
    let mut heap = Dlmalloc::new_with_allocator(Steps {
        next: Cell::new(0),
        end: Cell::new(0),
    });
    assert!(heap.set_granularity(GRANULE));
    heap
});

/// The allocator.
///
/// SAFETY: the caller holds no other reference to it (the guest is single-threaded and the
/// allocator does not re-enter itself).
unsafe fn dlmalloc() -> &'static mut Dlmalloc<Steps> {
    unsafe { &mut (*(&raw mut DLMALLOC)).0 }
}

/// dlmalloc over [`Steps`].
struct Heap;

#[global_allocator]
static HEAP: Heap = Heap;

// SAFETY: the guest is single-threaded (see the `atomics` check above), so no two calls into
// the allocator overlap; dlmalloc upholds the `GlobalAlloc` contract.
unsafe impl GlobalAlloc for Heap {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { dlmalloc().malloc(layout.size(), layout.align()) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { dlmalloc().free(ptr, layout.size(), layout.align()) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { dlmalloc().calloc(layout.size(), layout.align()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { dlmalloc().realloc(ptr, layout.size(), layout.align(), new_size) }
    }
}
