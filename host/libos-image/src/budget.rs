//! What an image may spend over its life: the `[budget]` table of `image.toml`.

use serde::{Deserialize, Serialize};

use crate::error::{FieldError, ManifestError};
use crate::fields::Section;
use crate::limits::{count, size};

/// The keys of the `[budget]` table.
pub(crate) const BUDGET_KEYS: &[&str] =
    &["tool_calls", "fuel", "bytes_written", "objects", "children"];

/// Lifetime budgets of a process started from an image. Unlike [`crate::ImageLimits`], a
/// budget covers the process *and all its descendants*: what a child spends is charged to
/// the child and to every ancestor, and a charge that any of them cannot afford is refused
/// with `limit-exceeded` of that kind. An omitted key sets no budget of its own (the
/// ancestors' still apply).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageBudget {
    /// Tool calls (`tools.call`).
    pub tool_calls: Option<u64>,
    /// Fuel burnt (roughly, WebAssembly instructions executed).
    pub fuel: Option<u64>,
    /// Bytes written through `fs.write`, by the process or the tools it calls. A size.
    pub bytes_written: Option<u64>,
    /// Objects created in memory (`put` of a new key).
    pub objects: Option<u64>,
    /// Child processes spawned.
    pub children: Option<u64>,
}

impl ImageBudget {
    /// Whether no budget is set.
    pub fn is_empty(&self) -> bool {
        *self == ImageBudget::default()
    }

    /// Reads the `[budget]` section.
    pub(crate) fn from_section(section: &mut Section) -> Result<ImageBudget, ManifestError> {
        let mut budget = ImageBudget::default();
        for (key, value) in section.drain() {
            let field = |problem| section.error(&key, problem);
            let amount: Result<u64, FieldError> = match key.as_str() {
                "bytes_written" => size(&value),
                _ => count(&value, 0),
            };
            let amount = Some(amount.map_err(field)?);
            match key.as_str() {
                "tool_calls" => budget.tool_calls = amount,
                "fuel" => budget.fuel = amount,
                "bytes_written" => budget.bytes_written = amount,
                "objects" => budget.objects = amount,
                "children" => budget.children = amount,
                // Unknown keys were rejected when the section was opened.
                _ => {
                    return Err(field(FieldError::Unknown {
                        expected: BUDGET_KEYS.join(", "),
                    }));
                }
            }
        }
        Ok(budget)
    }
}
