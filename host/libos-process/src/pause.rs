//! Pausing a process's task: a paused task is simply not polled.
//!
//! A process's store runs inside a [`Pausable`] future. The store yields to the scheduler at
//! every time slice (fuel or epoch) and whenever a host function parks it, so a pause takes
//! effect at the next such point; until the flag is cleared the store is not polled at all
//! (no CPU, whatever wakes it). Anything that finished meanwhile (a child's exit, a message)
//! is seen when it runs again.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

/// The pause switch of one process.
#[derive(Debug, Default)]
pub struct PauseFlag {
    state: Mutex<(bool, Option<Waker>)>,
}

impl PauseFlag {
    /// Sets or clears the pause; clearing it wakes the task if it was parked by the pause.
    pub fn set(&self, paused: bool) {
        let waker = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.0 = paused;
            if paused { None } else { state.1.take() }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Whether the process is paused.
    pub fn is_set(&self) -> bool {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).0
    }
}

/// A future that is not polled while its [`PauseFlag`] is set.
pub struct Pausable<F> {
    inner: Pin<Box<F>>,
    flag: Arc<PauseFlag>,
}

impl<F: Future> Pausable<F> {
    /// Wraps `inner`, paused whenever `flag` is set.
    pub fn new(inner: F, flag: Arc<PauseFlag>) -> Self {
        Pausable {
            inner: Box::pin(inner),
            flag,
        }
    }
}

impl<F: Future> Future for Pausable<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        {
            let mut state = this
                .flag
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if state.0 {
                state.1 = Some(cx.waker().clone());
                return Poll::Pending;
            }
        }
        this.inner.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn a_paused_future_makes_no_progress_until_resumed() {
        let flag = Arc::new(PauseFlag::default());
        let ticks = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&ticks);
        let task = tokio::spawn(Pausable::new(
            async move {
                for _ in 0..1_000_000u64 {
                    counted.fetch_add(1, Ordering::Relaxed);
                    tokio::task::yield_now().await;
                }
            },
            Arc::clone(&flag),
        ));
        tokio::time::sleep(Duration::from_millis(20)).await;
        flag.set(true);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let at_pause = ticks.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(ticks.load(Ordering::Relaxed), at_pause, "ran while paused");
        assert!(flag.is_set());
        flag.set(false);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(ticks.load(Ordering::Relaxed) > at_pause, "did not resume");
        task.abort();
    }
}
