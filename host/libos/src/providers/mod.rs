//! Resource providers: injectable implementations behind primitives. Tests and deterministic
//! demos inject fixed ones.

pub mod clock;

pub use clock::{Clock, FixedClock, ManualClock, SystemClock, sleep_until};
