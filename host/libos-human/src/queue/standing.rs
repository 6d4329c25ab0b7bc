//! Remembered answers: the standing `always` / `never` rules of an image.

use super::HumanQueue;
use crate::error::Result;
use crate::rules::{self, Rule};

impl HumanQueue {
    /// The standing answer for `action` on `resource` by a process of `image`, if a rule
    /// gives one (`never` wins over `always`).
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn rule_for(&self, image: &str, action: &str, resource: &str) -> Result<Option<Rule>> {
        rules::find(&self.conn.lock(), image, action, resource)
    }

    /// Every rule, oldest first.
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn rules(&self) -> Result<Vec<Rule>> {
        rules::all(&self.conn.lock())
    }

    /// Removes rule `id` and returns it.
    ///
    /// # Errors
    /// [`HumanError::NoSuchRule`], [`HumanError::Store`].
    pub fn remove_rule(&self, id: u64) -> Result<Rule> {
        self.conn.immediate(|conn| rules::remove(conn, id))
    }
}
