//! A host call that parks gives back the fiber stack it reached below where it waits.
//!
//! A process runs on its fiber stack, and so do the host calls it makes. Deciding a call
//! (capabilities, policy, the audit queue, a table read) goes some KiB deeper than where the
//! call then waits; once the call's future returns `Pending`, those pages hold nothing, but
//! they stay resident for as long as the process is parked: for a process waiting on an event,
//! 4 KiB of the 8 its stack kept. [`Parking`] wraps the future of a call that can wait for
//! long (an event, a child, a message, a person): whenever it returns `Pending`, the pages
//! below it are released with `madvise(MADV_DONTNEED)`, and a later call that reaches them
//! again finds zero pages. One system call per park; nothing when the call completes at once.
//!
//! Why this is sound: when the wrapped future returns `Pending`, the innermost frame on the
//! stack is [`Parking::poll`]'s own: everything below its stack pointer is dead (the inner
//! poll has returned; the waker is not on the stack). What is released lies at least
//! [`MARGIN`] below that stack pointer (the `madvise` call itself uses a few words of it) and
//! at most [`SPAN`] further down: within this fiber's stack, whose frames above it are at
//! most [`WASM_STACK`] of wasm plus a few KiB of host frames, out of [`FIBER_STACK`] (the
//! assertion below keeps the gap). Frames that later grow into the released pages (the
//! suspension of the fiber, the next poll) get fresh zero pages, as a new stack would. Off a
//! fiber (a future polled on a thread's stack) the same holds: threads have ≥ 2 MiB stacks and
//! nothing below the stack pointer is live.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::engine::{FIBER_STACK, WASM_STACK};

/// Bytes below the stack pointer left alone (the `madvise` call's own frame).
const MARGIN: usize = 512;

/// Bytes of stack released below that: what the decision of a call reaches, with room.
const SPAN: usize = 64 << 10;

const _: () = assert!(FIBER_STACK - WASM_STACK >= 8 * SPAN);

pin_project_lite::pin_project! {
    /// A host call's future that releases the stack below it each time it parks (see the
    /// module docs).
    pub struct Parking<F> {
        #[pin]
        inner: F,
    }
}

/// Wraps `future`, the body of a host call that may wait for long.
pub fn parking<F: Future>(future: F) -> Parking<F> {
    Parking { inner: future }
}

impl<F: Future> Future for Parking<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let polled = poll_inner(self.project().inner, cx);
        if polled.is_pending() {
            release_below(psm::stack_pointer() as usize);
        }
        polled
    }
}

/// Polls the call's body in its own frame, so the frames it needs are gone (below the
/// caller's stack pointer) when it returns.
#[inline(never)]
fn poll_inner<F: Future>(inner: Pin<&mut F>, cx: &mut Context<'_>) -> Poll<F::Output> {
    inner.poll(cx)
}

/// Releases the whole pages in `[sp - MARGIN - SPAN, sp - MARGIN)`.
#[cfg(target_os = "linux")]
fn release_below(sp: usize) {
    let page = rustix::param::page_size();
    let top = sp.saturating_sub(MARGIN) & !(page - 1);
    let Some(bottom) = top.checked_sub(SPAN) else {
        return;
    };
    // SAFETY: the range is dead stack of this thread or fiber (module docs); releasing
    // private anonymous pages makes them read back as zeros, as untouched stack does.
    // An error (part of the range not mapped) leaves pages resident: it costs memory only.
    let _ = unsafe {
        rustix::mm::madvise(
            bottom as *mut std::ffi::c_void,
            SPAN,
            rustix::mm::Advice::LinuxDontNeed,
        )
    };
}

#[cfg(not(target_os = "linux"))]
fn release_below(_sp: usize) {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    use super::parking;

    /// Whether the page holding `addr` is resident.
    fn resident(addr: usize) -> bool {
        let page = rustix::param::page_size();
        let start = addr & !(page - 1);
        let mut state = [0u8; 1];
        // SAFETY: `start` is page-aligned and lies in this thread's stack mapping.
        let r = unsafe { libc::mincore(start as *mut libc::c_void, page, state.as_mut_ptr()) };
        assert_eq!(r, 0, "mincore failed");
        state[0] & 1 == 1
    }

    /// Writes `depth` KiB of stack below its caller and returns the address of the deepest.
    #[inline(never)]
    fn dig(depth: usize) -> usize {
        let mut here = [0u8; 1024];
        here[0] = 1;
        std::hint::black_box(&mut here);
        if depth <= 1 {
            here.as_ptr() as usize
        } else {
            std::hint::black_box(dig(depth - 1))
        }
    }

    /// Digs 24 KiB deep at its first poll, then parks; ready with `42` at the next.
    struct DeepThenPark {
        deepest: usize,
        polled: bool,
    }

    impl Future for DeepThenPark {
        type Output = u32;

        fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
            if self.polled {
                return Poll::Ready(42);
            }
            self.polled = true;
            self.deepest = dig(24);
            Poll::Pending
        }
    }

    /// Polls once; the deepest address the first poll reached, and whether its page stayed.
    fn park_once(wrap: bool) -> (usize, bool, u32) {
        std::thread::spawn(move || {
            let mut cx = Context::from_waker(Waker::noop());
            let mut inner = DeepThenPark {
                deepest: 0,
                polled: false,
            };
            let (deepest, stayed, out) = if wrap {
                let mut fut = Box::pin(parking(&mut inner));
                assert!(fut.as_mut().poll(&mut cx).is_pending());
                let deepest = fut.inner.deepest;
                let stayed = resident(deepest);
                let Poll::Ready(out) = fut.as_mut().poll(&mut cx) else {
                    panic!("the second poll completes");
                };
                (deepest, stayed, out)
            } else {
                let mut fut = Pin::new(&mut inner);
                assert!(fut.as_mut().poll(&mut cx).is_pending());
                let deepest = fut.deepest;
                let stayed = resident(deepest);
                let Poll::Ready(out) = fut.as_mut().poll(&mut cx) else {
                    panic!("the second poll completes");
                };
                (deepest, stayed, out)
            };
            (deepest, stayed, out)
        })
        .join()
        .expect("the polling thread")
    }

    #[test]
    fn a_parked_call_gives_back_the_stack_below_it_and_runs_on() {
        let (deepest, stayed, out) = park_once(true);
        assert_ne!(deepest, 0);
        assert!(
            !stayed,
            "the page the call reached stayed resident after it parked"
        );
        assert_eq!(out, 42, "the call completes after it parked");
    }

    #[test]
    fn without_it_the_stack_below_stays_resident() {
        let (_, stayed, out) = park_once(false);
        assert!(
            stayed,
            "the control: the page is resident when nothing releases it"
        );
        assert_eq!(out, 42);
    }

    #[test]
    fn a_call_done_at_once_passes_its_output_through() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut fut = Box::pin(parking(async { 7 }));
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(7));
    }
}
