//! An effect waits for its record: [`CallCtx::record_stored`].

use crate::bindings::RuntimeError;
use crate::call::CallCtx;

impl CallCtx {
    /// Waits, without holding a thread, until the records of every decision this call has
    /// made (the permit's among them) are stored where a crash of the host does not lose them:
    /// committed to the audit database with the batch they were written in (group commit).
    ///
    /// Every primitive that changes the world outside the process calls this between its
    /// permit and its effect, so no effect happens unrecorded. Reads do not wait (their
    /// records go out with the next batch; a crash can lose the last ~2 ms of them).
    ///
    /// # Errors
    /// `io`, naming why, when the records could not be stored: the effect must not happen.
    pub async fn record_stored(&mut self) -> Result<(), RuntimeError> {
        let (stored, wait) = tokio::sync::oneshot::channel();
        self.authority.store_then(Box::new(move |outcome| {
            // The call may have stopped waiting (its guest was killed); nothing to tell then.
            let _ = stored.send(outcome);
        }));
        let outcome = wait
            .await
            .unwrap_or_else(|_| Err("the audit writer stopped".into()));
        outcome.map_err(|why| {
            RuntimeError::Io(format!(
                "not done: the audit record that allows it could not be stored ({why})"
            ))
        })
    }
}
