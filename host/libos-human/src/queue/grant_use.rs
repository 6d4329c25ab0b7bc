//! What an approval lets through: finding, taking, giving back and advancing grants.

use super::HumanQueue;
use crate::error::Result;
use crate::grants::{self, Call, Grant};
use crate::sql::now_ns;

impl HumanQueue {
    /// The grant that covers `call` now, if any, without using it.
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn covering(&self, call: &Call<'_>) -> Result<Option<Grant>> {
        grants::covering(&self.conn.lock(), call, now_ns())
    }

    /// Takes one use of a grant covering `call`, before the effect: `Some` means the call is
    /// approved. Give the use back with [`HumanQueue::give_back`] if the effect fails.
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn take(&self, call: &Call<'_>) -> Result<Option<Grant>> {
        let now = now_ns();
        // An unlimited grant (ttl, session) has no use to take: a read is enough.
        match grants::covering(&self.conn.lock(), call, now)? {
            None => return Ok(None),
            Some(grant) if grant.uses_left.is_none() => return Ok(Some(grant)),
            Some(_) => {}
        }
        self.conn.immediate(|conn| {
            let Some(grant) = grants::covering(conn, call, now)? else {
                return Ok(None);
            };
            if grants::take(conn, grant.id)? {
                Ok(Some(grants::get(conn, grant.id)?))
            } else {
                Ok(None)
            }
        })
    }

    /// Gives back the use of grant `id` taken for an effect that failed.
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn give_back(&self, id: u64) -> Result<()> {
        self.conn.immediate(|conn| grants::give_back(conn, id))
    }

    /// Records that the effect covered by grant `id` left its target at `version`, so the
    /// grant's further uses (if any) cover the target as that effect left it.
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn advance(&self, id: u64, version: Option<&str>) -> Result<()> {
        self.conn
            .immediate(|conn| grants::advance(conn, id, version))
    }

    /// Every grant minted for `pid`, oldest first (used up ones included).
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn grants(&self, pid: u64) -> Result<Vec<Grant>> {
        grants::of_process(&self.conn.lock(), pid)
    }
}
