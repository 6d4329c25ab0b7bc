//! Per-call memory and table limits that remember which limit was hit.

use wasmtime::ResourceLimiter;

use crate::error::LimitKind;

/// Caps linear memory and tables of one call. Growing past a cap traps (rather than
/// returning -1 to the guest) and records [`LimitKind::Memory`] so the host can report
/// `limit-exceeded(memory)`.
#[derive(Debug)]
pub struct CallLimiter {
    max_memory: usize,
    max_table_elements: usize,
    /// The limit that ended the call, if any.
    pub hit: Option<LimitKind>,
}

impl CallLimiter {
    /// A limiter with the given caps.
    pub fn new(max_memory: usize, max_table_elements: usize) -> Self {
        CallLimiter {
            max_memory,
            max_table_elements,
            hit: None,
        }
    }
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.hit = Some(LimitKind::Memory);
            return Err(wasmtime::Error::msg(format!(
                "memory limit of {} bytes exceeded",
                self.max_memory
            )));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_table_elements {
            self.hit = Some(LimitKind::Memory);
            return Err(wasmtime::Error::msg(format!(
                "table limit of {} elements exceeded",
                self.max_table_elements
            )));
        }
        Ok(true)
    }
}
