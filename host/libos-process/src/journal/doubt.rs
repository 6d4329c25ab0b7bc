//! Effects in doubt: a process resumed after its host died finds, as the last entry of its
//! journal, an effect that was `prepared` and never settled: it may or may not have happened.
//!
//! A call that is safe to run again ([`Doubt::Redo`]) runs again (a sleep keeps the wake time
//! its first run stored). Any other is never guessed: its entry is marked `unknown` (durable),
//! and the process asks a person, through the human queue, blocked until they answer (`libos
//! answer ID CHOICE`): "it happened" (offered only when the call returns nothing a person could
//! not know: the guest gets success, the entry is `done`), "run it again" (`retried`, with the
//! new result) or "fail the call" (the guest gets an error saying so; `failed`). A question
//! that expires unanswered fails the call. The host's question is audited as `effect.in-doubt`.

use libos::bindings::RuntimeError;
use libos_audit::{AuditRecord, AuditSink, Verdict};
use libos_human::{NewQuestion, RequestState};
use libos_journal::{EffectState, Entry};

use super::{Begun, Call, Doubt, Intent, JournalTrap, Ticket};
use crate::ctx::ProcessCtx;

/// How many times the host asks about one entry (each after a "run it again" it was stopped
/// in the middle of) before it fails the call.
const MAX_ATTEMPTS: u32 = 100;

/// The answers a person may give.
pub(crate) const HAPPENED: &str = "it happened";
pub(crate) const RUN_AGAIN: &str = "run it again";
pub(crate) const FAIL: &str = "fail the call";

impl ProcessCtx {
    /// Settles the in-doubt `entry` of `call` as `doubt` says (see the module docs).
    pub(super) async fn in_doubt(
        &mut self,
        call: &Call,
        entry: Entry,
        doubt: Doubt,
    ) -> wasmtime::Result<Begun> {
        // An effect in doubt is the last thing a process did: nothing can follow it.
        self.journal.replay.clear();
        let intent: Intent = postcard::from_bytes(&entry.intent).unwrap_or_default();
        let (done, failed) = match doubt {
            Doubt::Redo => {
                return Ok(Begun::Live(Ticket {
                    seq: entry.seq,
                    from: Some(&[EffectState::Prepared, EffectState::Unknown]),
                    to: EffectState::Committed,
                    intent,
                    charged_before: self.journal.charged_now(),
                }));
            }
            Doubt::Ask { done, failed } => (done, failed),
        };
        let pid = self.pid;
        let seq = entry.seq;
        if entry.state == EffectState::Prepared {
            self.journal
                .store
                .settle(
                    (pid, seq),
                    &[EffectState::Prepared],
                    EffectState::Unknown,
                    None,
                )
                .stored()
                .await
                .map_err(JournalTrap::Store)?;
        }
        let approved = entry
            .grant
            .map(|g| format!(", approved by a person's grant {g}"))
            .unwrap_or_default();
        let question = format!(
            "Process {pid} was in the middle of {} ({}{approved}) when its host stopped \
             (journal entry {seq}). Did it happen?",
            call.name(),
            intent.preview
        );
        let mut choices = Vec::new();
        if done.is_some() {
            choices.push(HAPPENED.to_owned());
        }
        choices.extend([RUN_AGAIN.to_owned(), FAIL.to_owned()]);
        let (id, asked_now) = match self.question_for(&entry, &question, &choices) {
            Ok(found) => found,
            Err(e) => {
                return self
                    .settle_failed(
                        seq,
                        failed(format!(
                            "in doubt after its host stopped; no person could be asked: {e}"
                        )),
                    )
                    .await;
            }
        };
        // Recorded when asked, not each time a host finds the question again.
        if asked_now {
            let record = AuditRecord::decided_now(
                (
                    "host",
                    "effect.in-doubt",
                    &format!("pid:{pid}/journal/{seq}"),
                ),
                Verdict::Ask,
                &format!(
                    "{} may or may not have happened before its host stopped",
                    call.name()
                ),
                Some(id.clone()),
            );
            AuditSink::append(self.kernel.host.audit().as_ref(), record);
        }
        let answer = match self.wait_for_person(&id, None).await {
            Ok(crate::primitives::human::Outcome::Decided(request)) => match request.state {
                RequestState::Answered { answer } => Some(answer),
                _ => None,
            },
            _ => None,
        };
        match (answer.as_deref(), done) {
            (Some(HAPPENED), Some(done)) => {
                let result = done();
                self.journal
                    .store
                    .settle(
                        (pid, seq),
                        &[EffectState::Unknown],
                        EffectState::Done,
                        Some(super::stored_result(None, &result)),
                    )
                    .stored()
                    .await
                    .map_err(JournalTrap::Store)?;
                Ok(Begun::Replayed(result))
            }
            (Some(RUN_AGAIN), _) => {
                // Marked `prepared` before it runs again: a host that stops in the middle
                // of this run leaves it so, and the next asks anew (`question_for`).
                self.journal
                    .store
                    .settle(
                        (pid, seq),
                        &[EffectState::Unknown],
                        EffectState::Prepared,
                        None,
                    )
                    .stored()
                    .await
                    .map_err(JournalTrap::Store)?;
                Ok(Begun::Live(Ticket {
                    seq,
                    from: Some(&[EffectState::Prepared]),
                    to: EffectState::Retried,
                    intent,
                    charged_before: self.journal.charged_now(),
                }))
            }
            (answer, _) => {
                let why = match answer {
                    Some(a) => format!("a person answered {a:?}"),
                    None => "the question was not answered".to_owned(),
                };
                self.settle_failed(
                    seq,
                    failed(format!(
                        "in doubt after its host stopped ({id}): failed because {why}"
                    )),
                )
                .await
            }
        }
    }

    /// The id of the host's question about entry `entry`, asked now unless it was asked
    /// before. Its ids are fixed by the process, the entry, the call's digest and the attempt
    /// (`-1`, `-2`, ...): a host that stops again while the person has not answered asks
    /// nothing twice, and an answer given while no host ran is found and acted on. An entry
    /// found `prepared` after a "run it again" was stopped in the middle of that run (the run
    /// marks it `prepared` first): only then is the next attempt asked about anew.
    /// Returns the id, and whether it was asked now.
    fn question_for(
        &self,
        entry: &Entry,
        question: &str,
        choices: &[String],
    ) -> Result<(String, bool), String> {
        let digest: String = entry.args_digest[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let base = format!("req-doubt-{}-{}-{digest}", self.pid, entry.seq);
        // The latest attempt asked, and whether its answer was "run it again".
        let mut latest: Option<(String, bool)> = None;
        for attempt in 1..=MAX_ATTEMPTS {
            let id = format!("{base}-{attempt}");
            match self.kernel.human.get(&id) {
                Err(libos_human::HumanError::NoSuchRequest(_)) => {
                    let rerun_cut_short = entry.state == EffectState::Prepared
                        && latest.as_ref().is_some_and(|(_, again)| *again);
                    return match latest {
                        Some((id, _)) if !rerun_cut_short => Ok((id, false)),
                        _ => self
                            .kernel
                            .human
                            .ask_once(
                                &id,
                                NewQuestion {
                                    pid: self.pid,
                                    image: self.image.reference(),
                                    question: question.to_owned(),
                                    choices: choices.to_vec(),
                                },
                                libos_human::Asker::Host,
                            )
                            .map(|r| (r.id, true))
                            .map_err(|e| e.to_string()),
                    };
                }
                Err(e) => return Err(e.to_string()),
                Ok(asked) => {
                    let again = matches!(
                        &asked.state,
                        RequestState::Answered { answer } if answer == RUN_AGAIN
                    );
                    latest = Some((id, again));
                }
            }
        }
        Err(format!(
            "entry {} was in doubt {MAX_ATTEMPTS} times; nobody is asked again",
            entry.seq
        ))
    }

    /// Settles entry `seq` failed with the encoded error `result` and answers the guest with it.
    async fn settle_failed(&mut self, seq: u64, result: Vec<u8>) -> wasmtime::Result<Begun> {
        self.journal
            .store
            .settle(
                (self.pid, seq),
                &[EffectState::Unknown],
                EffectState::Failed,
                Some(super::stored_result(None, &result)),
            )
            .stored()
            .await
            .map_err(JournalTrap::Store)?;
        Ok(Begun::Replayed(result))
    }
}

/// The encoded success of a call that returns nothing (`result<_, error>`).
pub(crate) fn done_unit() -> Vec<u8> {
    postcard::to_allocvec(&Ok::<(), RuntimeError>(())).unwrap_or_default()
}

/// The encoded failure of a call returning `result<T, error>`, whatever `T` (an `err` is
/// encoded the same for every `T`).
pub(crate) fn failed_runtime(why: String) -> Vec<u8> {
    postcard::to_allocvec(&Err::<(), RuntimeError>(RuntimeError::Io(why))).unwrap_or_default()
}

/// [`failed_runtime`] for calls returning `result<T, tool-error>`.
pub(crate) fn failed_tool(why: String) -> Vec<u8> {
    use crate::bindings::libos::runtime::types::ToolError;
    postcard::to_allocvec(&Err::<(), ToolError>(ToolError::Failed(why))).unwrap_or_default()
}
