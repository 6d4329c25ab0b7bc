//! Approval requests and questions, as recorded and as read back.

use serde::Serialize;

use crate::error::{HumanError, Result};
use crate::sql::unsigned;

/// Largest preview kept with a request; a longer one is cut, saying how much was cut.
pub const MAX_PREVIEW: usize = 64 << 10;

/// Largest question, answer or reason, in bytes.
pub const MAX_TEXT: usize = 4096;

/// Most choices a question may offer.
pub const MAX_CHOICES: usize = 32;

/// What a primitive asks a person to approve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApproval {
    /// The asking process.
    pub pid: u64,
    /// Its image, `name:version`.
    pub image: String,
    /// The action, e.g. `fs.write`.
    pub action: String,
    /// The resource, e.g. a path relative to the working directory.
    pub resource: String,
    /// Hex SHA-256 of the call's arguments, if it has any.
    pub args_digest: Option<String>,
    /// The target's version before the effect (e.g. `sha256:<hex>` of the file, `absent`),
    /// if the effect has a target that can change.
    pub target_version: Option<String>,
    /// What a person needs to see to decide (for a write: path, size, diff; for a command:
    /// its argv).
    pub preview: String,
    /// Which rule asked and why.
    pub asked_because: String,
}

/// A question a process puts to a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewQuestion {
    /// The asking process.
    pub pid: u64,
    /// Its image, `name:version`.
    pub image: String,
    /// The question (at most [`MAX_TEXT`] bytes).
    pub question: String,
    /// The answers a person may give; empty for free text (at most [`MAX_TEXT`] bytes).
    pub choices: Vec<String>,
}

/// Who asks a question ([`crate::HumanQueue::ask_once`]): shown to the person as the
/// request's action and reason, so a process cannot pass its question off as the host's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asker {
    /// The process (`human.ask`).
    Process,
    /// The host, about an effect in doubt (`effect.in-doubt`).
    Host,
}

impl NewQuestion {
    pub(crate) fn check(&self) -> Result<()> {
        if self.question.trim().is_empty() || self.question.len() > MAX_TEXT {
            return Err(HumanError::Invalid(format!(
                "a question must be 1 to {MAX_TEXT} bytes"
            )));
        }
        if self.choices.len() > MAX_CHOICES {
            return Err(HumanError::Invalid(format!(
                "a question offers at most {MAX_CHOICES} choices"
            )));
        }
        for (i, c) in self.choices.iter().enumerate() {
            if c.trim().is_empty() || c.len() > 256 {
                return Err(HumanError::Invalid(format!(
                    "choice {i} must be 1 to 256 bytes, not only blanks"
                )));
            }
            if self.choices[..i].contains(c) {
                return Err(HumanError::Invalid(format!(
                    "choice {c:?} is offered twice"
                )));
            }
        }
        Ok(())
    }
}

/// What a request asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum RequestKind {
    /// Approve an effect.
    Approval {
        /// The action.
        action: String,
        /// The resource.
        resource: String,
        /// Hex SHA-256 of the call's arguments.
        args_digest: Option<String>,
        /// The target's version before the effect.
        target_version: Option<String>,
        /// What the effect would do, readable.
        preview: String,
    },
    /// Answer a question.
    Question {
        /// The question.
        question: String,
        /// The answers offered (empty: free text).
        choices: Vec<String>,
    },
}

/// Where a request stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum RequestState {
    /// Waiting for a person.
    Pending,
    /// Approved with this scope (`once`, `uses=N`, `ttl=…`, `session`, `always`).
    Approved {
        /// The scope.
        scope: String,
        /// The approver's note.
        note: Option<String>,
    },
    /// Denied (`never` included).
    Denied {
        /// The reason given.
        reason: Option<String>,
    },
    /// A question, answered.
    Answered {
        /// The answer.
        answer: String,
    },
    /// Nobody decided in time.
    Expired,
}

impl RequestState {
    /// The state's name as stored: `pending`, `approved`, `denied`, `answered`, `expired`.
    pub fn name(&self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved { .. } => "approved",
            RequestState::Denied { .. } => "denied",
            RequestState::Answered { .. } => "answered",
            RequestState::Expired => "expired",
        }
    }
}

/// One request, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    /// Its id, `req-<uuid>`.
    pub id: String,
    /// The asking process.
    pub pid: u64,
    /// Its image.
    pub image: String,
    /// What it asks.
    #[serde(flatten)]
    pub kind: RequestKind,
    /// Which rule asked and why (for a question: that the process asked).
    pub asked_because: String,
    /// Where it stands.
    #[serde(flatten)]
    pub state: RequestState,
    /// When it was made, in nanoseconds since the Unix epoch.
    pub created_ns: u64,
    /// When it expires if nobody decides it.
    pub expires_ns: u64,
    /// When it was decided.
    pub decided_ns: Option<u64>,
    /// Who decided it.
    pub decided_by: Option<String>,
}

impl Request {
    /// What it is about in one line: `ACTION RESOURCE` for an approval, `question` for a
    /// question (as audit records name it).
    pub fn subject_line(&self) -> String {
        match &self.kind {
            RequestKind::Approval {
                action, resource, ..
            } => format!("{action} {resource}"),
            RequestKind::Question { .. } => "question".into(),
        }
    }
}

/// The outcome of asking for an approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// A new request was recorded.
    New(Request),
    /// The same effect already waits for a decision under this request.
    Waiting(Request),
}

impl Asked {
    /// The request, new or waiting.
    pub fn request(&self) -> &Request {
        match self {
            Asked::New(r) | Asked::Waiting(r) => r,
        }
    }
}

/// The columns [`decode`] reads, in order.
pub(crate) const COLUMNS: &str = "id, kind, pid, image, action, resource, args_digest, \
     target_version, preview, choices, asked_because, state, created_ns, expires_ns, \
     decided_ns, decided_by, scope, note";

/// Reads a row of [`COLUMNS`].
pub(crate) fn decode(row: &rusqlite::Row<'_>) -> rusqlite::Result<Request> {
    let kind: String = row.get(1)?;
    let preview: String = row.get(8)?;
    let kind = if kind == "question" {
        let choices: Option<String> = row.get(9)?;
        RequestKind::Question {
            question: preview,
            choices: choices
                .and_then(|c| serde_json::from_str(&c).ok())
                .unwrap_or_default(),
        }
    } else {
        RequestKind::Approval {
            action: row.get(4)?,
            resource: row.get(5)?,
            args_digest: row.get(6)?,
            target_version: row.get(7)?,
            preview,
        }
    };
    let note: Option<String> = row.get(17)?;
    let state: String = row.get(11)?;
    let state = match state.as_str() {
        "approved" => RequestState::Approved {
            scope: row.get::<_, Option<String>>(16)?.unwrap_or_default(),
            note,
        },
        "denied" => RequestState::Denied { reason: note },
        "answered" => RequestState::Answered {
            answer: note.unwrap_or_default(),
        },
        "expired" => RequestState::Expired,
        _ => RequestState::Pending,
    };
    Ok(Request {
        id: row.get(0)?,
        pid: unsigned(row.get(2)?),
        image: row.get(3)?,
        kind,
        asked_because: row.get(10)?,
        state,
        created_ns: unsigned(row.get(12)?),
        expires_ns: unsigned(row.get(13)?),
        decided_ns: row.get::<_, Option<i64>>(14)?.map(unsigned),
        decided_by: row.get(15)?,
    })
}

/// `preview` cut to [`MAX_PREVIEW`] bytes (at a character boundary), saying how much was cut.
pub(crate) fn bounded_preview(preview: &str) -> String {
    if preview.len() <= MAX_PREVIEW {
        return preview.to_owned();
    }
    let mut cut = MAX_PREVIEW - 64;
    while !preview.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}\n[… {} more bytes not shown]",
        &preview[..cut],
        preview.len() - cut
    )
}

/// A fresh request id.
pub(crate) fn new_id() -> String {
    format!("req-{}", uuid::Uuid::now_v7())
}
