//! Errors of the human queue. Each names the request, grant or rule it is about.

/// What can go wrong with the human queue.
#[derive(Debug, thiserror::Error)]
pub enum HumanError {
    /// No request has this id.
    #[error("no approval request or question {0:?}")]
    NoSuchRequest(String),
    /// The request was decided already (approved, denied, answered) and cannot be again.
    #[error("request {id} was already {state}")]
    AlreadyDecided {
        /// The request.
        id: String,
        /// What it is now: `approved`, `denied`, `answered`, `expired`.
        state: String,
    },
    /// The request expired before anyone decided it.
    #[error(
        "request {id} expired at {at} without a decision; the process asks again if it still needs it"
    )]
    Expired {
        /// The request.
        id: String,
        /// When it expired (RFC 3339).
        at: String,
    },
    /// The request was closed when its process ended: nothing could use a decision.
    #[error("request {id} was closed when process {pid} ended; nothing could use a decision")]
    Closed {
        /// The request.
        id: String,
        /// Its process.
        pid: u64,
    },
    /// The process already has as many requests waiting as it may.
    #[error("process {pid} already has {limit} requests waiting for a person")]
    TooManyWaiting {
        /// The process.
        pid: u64,
        /// The limit.
        limit: usize,
    },
    /// The request is of the other kind (an approval answered, a question approved).
    #[error("request {id} is {is}, not {wanted}")]
    WrongKind {
        /// The request.
        id: String,
        /// What it is.
        is: &'static str,
        /// What the operation needs.
        wanted: &'static str,
    },
    /// The answer is not one of the question's choices.
    #[error("{answer:?} is not one of the choices of {id}: {choices}")]
    NotAChoice {
        /// The question.
        id: String,
        /// The answer given.
        answer: String,
        /// The choices, comma-separated.
        choices: String,
    },
    /// No rule has this id.
    #[error("no rule {0}")]
    NoSuchRule(u64),
    /// A malformed argument (scope, pattern, preview, choices…); the message says which.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error("human queue store: {0}")]
    Store(String),
}

impl From<rusqlite::Error> for HumanError {
    fn from(e: rusqlite::Error) -> Self {
        HumanError::Store(e.to_string())
    }
}

impl From<libos_db::OpenError> for HumanError {
    fn from(e: libos_db::OpenError) -> Self {
        HumanError::Store(e.to_string())
    }
}

/// Results of the human queue.
pub type Result<T, E = HumanError> = std::result::Result<T, E>;
