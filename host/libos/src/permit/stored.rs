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
        self.record_pending().stored().await
    }

    /// [`CallCtx::record_stored`] without waiting here: hands this call's records to the
    /// writer now and returns what to wait on before the effect. For an effect that starts
    /// later elsewhere (a spawned child runs only once its spawn's record is stored) while
    /// the caller goes on.
    pub fn record_pending(&mut self) -> RecordPending {
        let (stored, wait) = tokio::sync::oneshot::channel();
        self.authority.store_then(Box::new(move |outcome| {
            // Nobody may wait any more (its guest was killed); nothing to tell then.
            let _ = stored.send(outcome);
        }));
        RecordPending(wait)
    }
}

/// Records handed to the audit writer, not yet known to be stored (see
/// [`CallCtx::record_pending`]).
#[must_use = "an effect waits for its record with `stored`"]
pub struct RecordPending(tokio::sync::oneshot::Receiver<Result<(), String>>);

impl RecordPending {
    /// Waits, without holding a thread, until the records are stored.
    ///
    /// # Errors
    /// `io`, naming why, when they could not be: the effect must not happen.
    pub async fn stored(self) -> Result<(), RuntimeError> {
        let outcome = self
            .0
            .await
            .unwrap_or_else(|_| Err("the audit writer stopped".into()));
        outcome.map_err(|why| {
            RuntimeError::Io(format!(
                "not done: the audit record that allows it could not be stored ({why})"
            ))
        })
    }
}
