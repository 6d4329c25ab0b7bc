//! Metering: what a call spends is charged to a budget its caller supplies.
//!
//! The tool host charges the effects it performs itself — today the bytes of `fs.write` —
//! before performing them, so an exhausted budget refuses the effect instead of recording it
//! after the fact. Effects it cannot charge (writes through a WASI preopen) are not granted
//! under a meter that limits them (see [`Meter::bounds`]). Who owns the budget (a process and its ancestors, say) is the caller's
//! business: the host only sees a [`Meter`].

use std::fmt;

use crate::error::LimitKind;

/// Something calls are charged to.
pub trait Meter: Send + Sync {
    /// Charges `amount` of `kind`. Either the whole amount is charged, or nothing is and the
    /// error names the budget that would have been exceeded (the guest then gets
    /// `limit-exceeded` of that kind and the effect does not happen).
    fn charge(&self, kind: LimitKind, amount: u64) -> Result<(), LimitKind>;

    /// Whether this meter limits `kind` at all; an effect of a kind the meter does not limit
    /// may skip charging it. Every effect the host serves is charged before it happens
    /// (WASI file writes included), so this only saves work. The default answers `true`, the
    /// safe side.
    fn bounds(&self, kind: LimitKind) -> bool {
        let _ = kind;
        true
    }
}

impl fmt::Debug for dyn Meter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Meter")
    }
}
