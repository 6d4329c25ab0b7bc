//! Adopting the processes of a dead host and resuming them (see `journal/`).
//!
//! A host that adopts ([`Kernel::adopt_orphans`]: `libos serve`, the background host of `libos
//! run --detach`) takes, in one transaction per dead host, every process the dead host left
//! live, by ascending pid (a parent before its children), and for each: loads the image it ran
//! (by digest), its capabilities and policy chain as stored, and its resume record (input,
//! working directory, event cursor, first journal entry of its current image); admits it into
//! its parent's tree if the parent is resumed here too; and runs its agent again with its
//! journal to replay. It keeps the state it was in (a paused one stays paused; one that was
//! blocked is running again until its replay reaches the wait). A process that cannot be
//! resumed (no resume record, its image gone, a journal that cannot be read) is marked failed
//! with the reason and its pending requests are closed. One whose replay reaches the entry
//! where it first used WASI files or network (not journaled: `journal/wasi/`) fails there,
//! with that reason.

use std::sync::Arc;

use libos_authority::Policy;
use libos_proctable::{ProcessRecord, State};

use crate::budget::Budget;
use crate::error::ProcessError;
use crate::kernel::{Inner, Kernel, Launch};
use crate::subtree::Subtree;

/// What [`Kernel::adopt_orphans`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Adopted {
    /// The processes resumed, by pid.
    pub resumed: Vec<u64>,
    /// The processes that could not be resumed, marked failed, with why.
    pub failed: Vec<(u64, String)>,
}

impl Kernel {
    /// Adopts the live processes of every dead host of the state directory and resumes each
    /// (see the module docs). Safe to call again: a dead host's processes are taken once.
    ///
    /// # Errors
    ///
    /// [`ProcessError::Host`] when the table cannot be read or written.
    pub async fn adopt_orphans(&self) -> Result<Adopted, ProcessError> {
        let inner = &self.inner;
        let hosts = inner.host.state().hosts_dir();
        let mut adopted = Adopted::default();
        for dead in libos_proctable::hosts::dead(&inner.table, &hosts)? {
            let orphans = inner.table.adopt(&dead, &inner.host_id)?;
            libos_proctable::hosts::forget(&hosts, &dead);
            tracing::info!(host = %dead, processes = orphans.len(), "adopting the processes of a dead host");
            // Every child is decided against its parent's journal as the dead host left it,
            // before any of its processes runs again (a resumed parent writes new entries).
            let lost: Vec<Option<ProcessError>> = orphans
                .iter()
                .map(|record| inner.spawn_was_kept(record).err())
                .collect();
            for (record, lost) in orphans.into_iter().zip(lost) {
                let pid = record.pid;
                let resumed = match lost {
                    Some(e) => Err(e),
                    None => match inner.restore_if_asked(record).await {
                        Ok(record) => match inner.upgrade_if_asked(record).await {
                            Ok(record) => inner.resume_adopted(record).await,
                            Err(e) => Err(e),
                        },
                        Err(e) => Err(e),
                    },
                };
                match resumed {
                    Ok(()) => adopted.resumed.push(pid),
                    Err(e) => {
                        let reason =
                            format!("host lost: {dead} ended and it cannot be resumed: {e}");
                        let _ = inner.table.advance(
                            pid,
                            &[State::Failed {
                                reason: reason.clone(),
                            }],
                        );
                        let _ = crate::recovery::close_requests(
                            &[pid],
                            &inner.human,
                            inner.host.audit(),
                        );
                        // Its journal goes as an ended process's does.
                        let _ = inner.journal.remove(pid);
                        adopted.failed.push((pid, reason));
                    }
                }
            }
        }
        Ok(adopted)
    }
}

impl Inner {
    /// Resumes `record`, a process just adopted (see the module docs).
    pub(crate) async fn resume_adopted(
        self: &Arc<Self>,
        record: ProcessRecord,
    ) -> Result<(), ProcessError> {
        self.resume_here(record, None).await
    }

    /// [`Inner::resume_adopted`]; with `kept`, the budget of the process this host stopped
    /// (a restore, an upgrade), which it goes on with: its replay charges nothing again.
    pub(crate) async fn resume_here(
        self: &Arc<Self>,
        record: ProcessRecord,
        kept: Option<Arc<Budget>>,
    ) -> Result<(), ProcessError> {
        let pid = record.pid;
        let resume = self
            .table
            .resume_of(pid)?
            .ok_or_else(|| ProcessError::Invalid("no resume record was stored for it".into()))?;
        let image = self
            .images
            .get_shared(&format!("sha256:{}", record.image_digest))?;
        // A process of a committed image that made no call yet may have lost its seeding
        // with its host (a root's row is stored first): seeded again (it read nothing yet).
        if image.memory.is_some()
            && resume.replay_from == 1
            && self
                .journal
                .last_seq(pid)
                .map_err(|e| ProcessError::Host(e.to_string()))?
                .is_none()
        {
            let memory = self.images.read_memory(&image)?;
            crate::checkpoint::replace_memory(&self.memory, pid, Some(&memory), &image)?;
        }
        let capabilities = record
            .capabilities
            .iter()
            .map(|c| c.parse())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ProcessError::Invalid(format!("stored capability: {e}")))?;
        let chain = self
            .table
            .policy_chain(pid)?
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| vec![record.image_digest.clone()]);
        let policy = self.chain_policy(&chain)?;
        let pre = self.agent(&image).await?;
        let (parent_budget, parent_subtree) = match record.parent.and_then(|p| {
            self.lock_running()
                .get(&p)
                .map(|r| (Arc::clone(&r.budget), Arc::clone(&r.subtree)))
        }) {
            Some((budget, subtree)) => (Some(budget), Some(subtree)),
            None => (None, None),
        };
        let above = parent_subtree.unwrap_or_else(|| Arc::clone(&self.processes));
        let admission = above
            .admit()
            .map_err(|_| ProcessError::Capacity("no room for it in this host".into()))?;
        let subtree = Subtree::below(&above, u64::from(image.limits.max_descendants));
        let mut replayed = crate::journal::CallJournal::resuming(
            Arc::clone(&self.journal),
            pid,
            resume.replay_from,
        )
        .map_err(|e| ProcessError::Host(e.to_string()))?;
        // What calls restores took out of its journal had been charged stays spent.
        replayed.discarded_charges = self
            .table
            .discarded_charges(pid)?
            .and_then(|c| serde_json::from_str(&c).ok());
        let (budget, journal) = match kept {
            // Stopped here: it goes on with its budget, which holds what it spent already.
            Some(budget) => (Arc::clone(&budget), replayed.continuing(budget)),
            None => {
                // The budget it started with, whatever image it runs now (an `exec` or an
                // upgrade does not change it). None stored (a row from before budgets were
                // kept): its current image's.
                let limits =
                    crate::budget::started_with(resume.budget.as_deref()).unwrap_or(image.budget);
                let budget = Budget::new(&limits, parent_budget);
                // What its ended children spent is not replayed by anyone: charged here.
                budget.carry(&self.table.ended_children_usage(pid)?);
                (Arc::clone(&budget), replayed.charging(budget))
            }
        };
        let journal = journal.limited(image.limits.max_journal_bytes);
        let (mut ctx, pipes) = self.context(
            pid,
            record.parent,
            (image, policy),
            capabilities,
            Arc::clone(&budget),
            (resume.workdir.clone().into(), record.cwd.clone()),
        )?;
        ctx.policy_chain = chain;
        ctx.events_from = resume.events_from;
        ctx.journal = journal;
        // What it logged before is not logged again: it counts against its quota.
        ctx.log_quota = crate::log_quota::LogQuota::resumed(
            ctx.image.limits.max_log_bytes,
            &self.table.logs(pid, 0)?,
        );
        // Its row says what it was doing; it runs (replaying) until it waits again.
        let paused = matches!(record.state, State::Paused { .. });
        match &record.state {
            State::Blocked(_) => {
                self.table.advance(pid, &[State::Ready, State::Running])?;
            }
            State::Created => {
                self.table.advance(pid, &[State::Ready, State::Running])?;
            }
            State::Ready => {
                self.table.advance(pid, &[State::Running])?;
            }
            _ => {}
        }
        self.launch(
            pid,
            Launch {
                pre,
                ctx,
                pipes,
                input: resume.input,
                budget,
                subtree,
                admission,
                after: None,
                paused,
                commit_first: false,
                parent_stored: None,
            },
        );
        Ok(())
    }

    /// Refuses a child that never ran whose spawn its parent's journal lost: the parent, not
    /// having stored what it was told before the spawn, may now decide otherwise, so the
    /// child must not act (it waits for that prefix before running any code, so one that
    /// ran is always kept). A child the parent's journal still leads to is kept: the resumed
    /// parent finds it at the same entry. Decided for every adopted process before any runs.
    fn spawn_was_kept(&self, record: &ProcessRecord) -> Result<(), ProcessError> {
        let Some(resume) = self.table.resume_of(record.pid)? else {
            return Ok(());
        };
        let (Some(parent), Some(at)) = (record.parent, resume.spawned_at) else {
            return Ok(());
        };
        let store = |e: libos_journal::JournalError| ProcessError::Host(e.to_string());
        // A child with any entry ran (a snapshot may have deleted its first ones).
        if at <= 1 || self.journal.last_seq(record.pid).map_err(store)?.is_some() {
            return Ok(());
        }
        let parent_live = self.table.get(parent).is_ok_and(|p| !p.state.is_ended());
        // The parent's journal reaches the entry before the spawn (or past it: a snapshot
        // may have deleted the entry itself, never the last).
        let reached = self
            .journal
            .last_seq(parent)
            .map_err(store)?
            .is_some_and(|last| last >= at - 1);
        if parent_live && !reached {
            // The resumed parent's spawn, wherever it now comes, starts a child of its own.
            self.table.unkey(record.pid)?;
            return Err(ProcessError::Invalid(format!(
                "it never ran: the calls of process {parent} that led to spawning it (to \
                 journal entry {}) were lost with the host",
                at - 1
            )));
        }
        Ok(())
    }

    /// The policy in force for a process whose chain of image digests (its own first) is
    /// `chain`: each image's policy inheriting what was in force where it started.
    fn chain_policy(&self, chain: &[String]) -> Result<Arc<Policy>, ProcessError> {
        let mut policy: Option<Arc<Policy>> = None;
        for digest in chain.iter().rev() {
            let image = self.images.get_shared(&format!("sha256:{digest}"))?;
            policy = Some(self.policy_inheriting(&image, policy.as_ref())?);
        }
        policy.ok_or_else(|| ProcessError::Invalid("empty policy chain".into()))
    }
}
