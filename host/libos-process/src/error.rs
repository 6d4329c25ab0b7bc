//! Errors of starting and managing processes.

use libos::bindings::{LimitKind, RuntimeError};

/// Why a process could not be started, waited for or killed.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// No image, or no process, by that name or pid.
    #[error("not found: {0}")]
    NotFound(String),
    /// Capabilities or policy refuse it (e.g. a child asking for more than its parent holds).
    #[error("denied: {0}")]
    Denied(String),
    /// A malformed argument (capability, working directory).
    #[error("invalid: {0}")]
    Invalid(String),
    /// A limit of the caller (e.g. its image's `max_children`).
    #[error("limit exceeded: {0:?}")]
    LimitExceeded(LimitKind),
    /// No room for one more live process: a tree's `max_descendants` or the host's
    /// `max_processes` (the message names which); the guest sees `limit-exceeded(children)`.
    #[error("limit exceeded: {0}")]
    Capacity(String),
    /// The state directory, the image store or the engine failed.
    #[error("host error: {0}")]
    Host(String),
}

impl ProcessError {
    /// The typed error a guest receives for this failure.
    pub fn to_runtime(&self) -> RuntimeError {
        match self {
            ProcessError::NotFound(_) => RuntimeError::NotFound,
            ProcessError::Denied(m) => RuntimeError::Denied(m.clone()),
            ProcessError::Invalid(m) => RuntimeError::Invalid(m.clone()),
            ProcessError::LimitExceeded(k) => RuntimeError::LimitExceeded(*k),
            ProcessError::Capacity(_) => RuntimeError::LimitExceeded(LimitKind::Children),
            ProcessError::Host(m) => RuntimeError::Io(m.clone()),
        }
    }
}

impl From<libos_proctable::KernelError> for ProcessError {
    fn from(e: libos_proctable::KernelError) -> Self {
        use libos_proctable::KernelError as K;
        match e {
            K::NoSuchProcess(pid) => ProcessError::NotFound(format!("process {pid}")),
            K::Ended { .. } | K::ParentEnded { .. } | K::Transition { .. } => {
                ProcessError::Invalid(e.to_string())
            }
            K::QueueFull { .. } => ProcessError::LimitExceeded(LimitKind::Output),
            K::Store(_) => ProcessError::Host(e.to_string()),
        }
    }
}

impl From<libos_image::ImageError> for ProcessError {
    fn from(e: libos_image::ImageError) -> Self {
        use libos_image::ImageError as I;
        match e {
            I::NotFound { reference } => ProcessError::NotFound(format!("image {reference:?}")),
            I::InvalidReference { .. } | I::Ambiguous { .. } | I::InvalidDigest(_) => {
                ProcessError::Invalid(e.to_string())
            }
            other => ProcessError::Host(other.to_string()),
        }
    }
}
