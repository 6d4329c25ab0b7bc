//! Every primitive of the agent world, journaled: [`Journaled`] is the view of a process's
//! store the linker serves each import on; each function journals the call (see the module
//! docs of `journal`) around the primitive's own implementation (`libos`'s for fs, clock, log
//! and shell; `primitives/` for the rest), which decides and acts as before.

use libos::bindings::RuntimeError;
use libos::bindings::libos::runtime as shared;
use shared::clock::Datetime;
use shared::fs::{DirEntry, Metadata};
use shared::log::Level;
use shared::shell::Output;
use shared::types::{CapabilityRequest, ToolError, ToolInfo};
use wasmtime::component::HasData;

use super::doubt::{done_unit, failed_runtime, failed_tool};
use super::{Begun, Call, Doubt, Intent, decode};
use crate::bindings::libos::runtime as own;
use crate::ctx::ProcessCtx;
use own::events::Event;
use own::memory::{Object, ObjectMeta, SwapOutcome};
use own::process::{ExitStatus as WitExit, Message, Pid, ProcessInfo, SignalKind};
use own::tools::ToolManifest;

type R<T> = wasmtime::Result<Result<T, RuntimeError>>;

/// The store's data as the journaled primitives see it.
pub(crate) struct Journaled<'a>(pub(crate) &'a mut ProcessCtx);

/// [`HasData`] of [`Journaled`].
pub(crate) struct HasJournaled;

impl HasData for HasJournaled {
    type Data<'a> = Journaled<'a>;
}

const FS: &str = "libos:runtime/fs";
const CLOCK: &str = "libos:runtime/clock";
const LOG: &str = "libos:runtime/log";
const SHELL: &str = "libos:runtime/shell";
const PROCESS: &str = "libos:runtime/process";
const TOOLS: &str = "libos:runtime/tools";
const MEMORY: &str = "libos:runtime/memory";
const EVENTS: &str = "libos:runtime/events";
const HUMAN: &str = "libos:runtime/human";
const TIME: &str = "libos:runtime/time";

/// In doubt: ask whether it happened; if so the guest gets success.
const ASK_UNIT: Doubt = Doubt::Ask {
    done: Some(done_unit),
    failed: failed_runtime,
};
/// In doubt: ask; its value is not known, so only "run it again" or "fail".
const ASK_VALUE: Doubt = Doubt::Ask {
    done: None,
    failed: failed_runtime,
};
/// [`ASK_VALUE`] for the tool calls.
const ASK_TOOL: Doubt = Doubt::Ask {
    done: None,
    failed: failed_tool,
};

/// A call that reads (or waits): `$live` is its result, computed only when not replayed.
macro_rules! read {
    ($cx:expr, $iface:expr, $func:literal, ($($arg:expr),*), $live:expr) => {{
        let call = Call::new($iface, $func, &($(&$arg,)*))?;
        match $cx.journal.read(&call)? {
            Begun::Replayed(bytes) => decode(&bytes, &call),
            Begun::Live(ticket) => {
                $cx.call.set_effect_entry(None);
                // A process whose journal is full reads nothing more (see `WhenFull`).
                let refused = if $cx.journal.full() {
                    super::WhenFull::when_full()
                } else {
                    None
                };
                let value = match refused {
                    Some(value) => value,
                    None => $live,
                };
                $cx.journal.settle(ticket, &call, &value)?;
                $cx.journal.keep_up().await?;
                Ok(value)
            }
        }
    }};
}

/// An external effect: `$live` runs only once its intent (`$preview`) is durable; refused
/// with a typed error, without running, once the process's journal is full.
macro_rules! effect {
    ($cx:expr, $iface:expr, $func:literal, ($($arg:expr),*), $doubt:expr, $preview:expr, $live:expr) => {{
        let call = Call::new($iface, $func, &($(&$arg,)*))?;
        // A process whose journal is full makes no more effects: the refusal is journaled
        // like a read (so a replay meets it at its place), and nothing runs.
        if $cx.journal.full()
            && let Some(value) = super::WhenFull::when_full()
            && let Begun::Live(ticket) = $cx.journal.read(&call)?
        {
            $cx.journal.settle(ticket, &call, &value)?;
            return Ok(value);
        }
        let intent = Intent { preview: $preview, ..Intent::default() };
        match $cx.begin_effect(&call, intent, $doubt).await? {
            Begun::Replayed(bytes) => decode(&bytes, &call),
            Begun::Live(ticket) => {
                $cx.call.set_effect_entry(Some(ticket.seq()));
                let value = $live;
                $cx.call.set_effect_entry(None);
                $cx.journal.settle(ticket, &call, &value)?;
                Ok(value)
            }
        }
    }};
}

/// At most 160 characters of `text`, for a person.
fn preview(text: &str) -> String {
    let mut out: String = text.chars().take(160).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

impl shared::types::Host for Journaled<'_> {}

impl shared::fs::Host for Journaled<'_> {
    async fn read(&mut self, path: String) -> R<Vec<u8>> {
        read!(
            self.0,
            FS,
            "read",
            (path),
            shared::fs::Host::read(&mut self.0.call, path.clone()).await?
        )
    }

    async fn write(&mut self, path: String, contents: Vec<u8>) -> R<()> {
        let about = preview(&format!("{path} ({} bytes)", contents.len()));
        effect!(self.0, FS, "write", (path, contents), ASK_UNIT, about, {
            shared::fs::Host::write(&mut self.0.call, path, contents).await?
        })
    }

    async fn list(&mut self, path: String) -> R<Vec<DirEntry>> {
        read!(
            self.0,
            FS,
            "list",
            (path),
            shared::fs::Host::list(&mut self.0.call, path.clone()).await?
        )
    }

    async fn delete(&mut self, path: String) -> R<()> {
        let about = preview(&path);
        effect!(self.0, FS, "delete", (path), ASK_UNIT, about, {
            shared::fs::Host::delete(&mut self.0.call, path).await?
        })
    }

    async fn stat(&mut self, path: String) -> R<Metadata> {
        read!(
            self.0,
            FS,
            "stat",
            (path),
            shared::fs::Host::stat(&mut self.0.call, path.clone()).await?
        )
    }
}

impl shared::clock::Host for Journaled<'_> {
    async fn now(&mut self) -> R<Datetime> {
        read!(
            self.0,
            CLOCK,
            "now",
            (),
            shared::clock::Host::now(&mut self.0.call).await?
        )
    }

    /// Never less than a reading the process was given before (`CallJournal::monotonic`).
    async fn monotonic(&mut self) -> R<u64> {
        let value: Result<u64, RuntimeError> = read!(self.0, CLOCK, "monotonic", (), {
            shared::clock::Host::monotonic(&mut self.0.call)
                .await?
                .map(|raw| self.0.journal.monotonic(raw))
        })?;
        if let Ok(value) = value {
            self.0.journal.saw_monotonic(value);
        }
        Ok(value)
    }
}

impl shared::log::Host for Journaled<'_> {
    /// Replayed, a line is not logged again.
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        read!(self.0, LOG, "log", (level, message), {
            shared::log::Host::log(&mut self.0.call, level, message.clone()).await?
        })
    }
}

impl shared::shell::Host for Journaled<'_> {
    async fn run(&mut self, argv: Vec<String>, timeout_ms: Option<u64>) -> R<Output> {
        let about = preview(&argv.join(" "));
        effect!(
            self.0,
            SHELL,
            "run",
            (argv, timeout_ms),
            ASK_VALUE,
            about,
            { shared::shell::Host::run(&mut self.0.call, argv, timeout_ms).await? }
        )
    }
}

impl own::process::Host for Journaled<'_> {
    /// Made idempotent by its key, the entry's number: a resumed parent whose spawn's entry was
    /// lost finds the child it started (`Resume::spawned_at`) instead of starting another, so
    /// a spawn is journaled like a read, without the parent waiting for the disk. The child
    /// commits its own row, and waits until every entry of its parent before the spawn is
    /// stored, before it runs any code (so a resumed parent replays up to the same spawn).
    /// The journal commits the table's queued starts before each batch, so the spawn's entry
    /// is never stored before the child's row.
    async fn spawn(
        &mut self,
        image: String,
        input: String,
        capabilities: Vec<CapabilityRequest>,
        cwd: Option<String>,
    ) -> R<Pid> {
        let call = Call::new(PROCESS, "spawn", &(&image, &input, &capabilities, &cwd))?;
        let ticket = match self.0.journal.read(&call)? {
            Begun::Replayed(bytes) => {
                let spawned: Result<Pid, RuntimeError> = decode(&bytes, &call)?;
                if spawned.is_ok() {
                    // Against `max_children`, as the spawn counted it when it ran.
                    self.0.children_started += 1;
                }
                return Ok(spawned);
            }
            Begun::Live(ticket) => ticket,
        };
        let pid = self.0.pid;
        let found = if self.0.journal.resumed() {
            self.0.kernel.table.child_spawned_at(pid, ticket.seq())?
        } else {
            None
        };
        let spawned = match found {
            Some(child) => {
                self.0.children_started += 1;
                Ok(child)
            }
            None => {
                // The child runs no code before everything this process was told until
                // now is stored: what led to the spawn cannot be lost while the child acts.
                self.0.spawning_at = Some(crate::kernel::SpawnKey {
                    seq: ticket.seq(),
                    parent_stored: self.0.journal.spawn_barrier(),
                });
                let spawned =
                    own::process::Host::spawn(self.0, image, input, capabilities, cwd).await?;
                self.0.spawning_at = None;
                spawned
            }
        };
        self.0.journal.settle(ticket, &call, &spawned)?;
        if spawned.is_err() {
            // What the process does next depends on this failure: a later child must not
            // run before it is stored.
            self.0.journal.not_a_spawn();
        }
        Ok(spawned)
    }

    async fn wait(&mut self, pid: Pid) -> R<WitExit> {
        read!(
            self.0,
            PROCESS,
            "wait",
            (pid),
            own::process::Host::wait(self.0, pid).await?
        )
    }

    async fn kill(&mut self, pid: Pid) -> R<()> {
        let about = format!("kill {pid}");
        effect!(self.0, PROCESS, "kill", (pid), ASK_UNIT, about, {
            own::process::Host::kill(self.0, pid).await?
        })
    }

    async fn signal(&mut self, pid: Pid, kind: SignalKind) -> R<()> {
        let about = format!("signal {pid} {kind:?}");
        effect!(self.0, PROCESS, "signal", (pid, kind), ASK_UNIT, about, {
            own::process::Host::signal(self.0, pid, kind).await?
        })
    }

    /// Replayed, an `exec` that succeeded is made again (it changes nothing outside the
    /// process: it prepares the image the process continues as), and must succeed again.
    async fn exec(&mut self, image: String, input: String) -> R<()> {
        let call = Call::new(PROCESS, "exec", &(&image, &input))?;
        match self.0.journal.read(&call)? {
            Begun::Replayed(bytes) => {
                let recorded: Result<(), RuntimeError> = decode(&bytes, &call)?;
                if recorded.is_err() {
                    return Ok(recorded);
                }
                let again = own::process::Host::exec(self.0, image, input).await?;
                if let Err(e) = &again {
                    return Err(super::JournalTrap::Encode(format!(
                        "exec succeeded before the host stopped and fails now ({e:?})"
                    ))
                    .into());
                }
                Ok(again)
            }
            Begun::Live(ticket) => match own::process::Host::exec(self.0, image, input).await {
                Ok(value) => {
                    self.0.journal.settle(ticket, &call, &value)?;
                    Ok(value)
                }
                // A successful exec unwinds the instance: its entry is the old image's last.
                Err(unwind) if self.0.exec.is_some() => {
                    self.0
                        .journal
                        .settle(ticket, &call, &Ok::<(), RuntimeError>(()))?;
                    Err(unwind)
                }
                Err(trap) => Err(trap),
            },
        }
    }

    async fn self_info(&mut self) -> wasmtime::Result<ProcessInfo> {
        read!(
            self.0,
            PROCESS,
            "self-info",
            (),
            own::process::Host::self_info(self.0).await?
        )
    }

    async fn send(&mut self, to: Pid, body: String) -> R<()> {
        let about = preview(&format!("send to {to}: {body}"));
        effect!(self.0, PROCESS, "send", (to, body), ASK_UNIT, about, {
            own::process::Host::send(self.0, to, body).await?
        })
    }

    async fn recv(&mut self, timeout_ms: Option<u64>) -> R<Option<Message>> {
        let about = "receive a message".to_owned();
        effect!(self.0, PROCESS, "recv", (timeout_ms), ASK_VALUE, about, {
            own::process::Host::recv(self.0, timeout_ms).await?
        })
    }

    /// Journals itself (`journal/snapshot.rs`).
    async fn snapshot(&mut self, state: Vec<u8>) -> R<()> {
        self.0.take_snapshot(state).await
    }
}

impl own::tools::Host for Journaled<'_> {
    async fn list(&mut self) -> wasmtime::Result<Vec<ToolInfo>> {
        read!(
            self.0,
            TOOLS,
            "list",
            (),
            own::tools::Host::list(self.0).await?
        )
    }

    async fn call(
        &mut self,
        name: String,
        input: String,
    ) -> wasmtime::Result<Result<String, ToolError>> {
        let about = preview(&format!("{name} {input}"));
        effect!(self.0, TOOLS, "call", (name, input), ASK_TOOL, about, {
            own::tools::Host::call(self.0, name, input).await?
        })
    }

    async fn register(
        &mut self,
        component: Vec<u8>,
        manifest: ToolManifest,
    ) -> wasmtime::Result<Result<String, ToolError>> {
        let about = preview(&format!(
            "register {} ({} bytes)",
            manifest.name,
            component.len()
        ));
        effect!(
            self.0,
            TOOLS,
            "register",
            (component, manifest),
            ASK_TOOL,
            about,
            { own::tools::Host::register(self.0, component, manifest).await? }
        )
    }
}

impl own::memory::Host for Journaled<'_> {
    async fn put(
        &mut self,
        namespace: Option<String>,
        kind: String,
        key: String,
        value: String,
    ) -> R<u64> {
        let about = preview(&format!("put {kind}/{key}"));
        effect!(
            self.0,
            MEMORY,
            "put",
            (namespace, kind, key, value),
            ASK_VALUE,
            about,
            { own::memory::Host::put(self.0, namespace, kind, key, value).await? }
        )
    }

    async fn get(&mut self, namespace: Option<String>, kind: String, key: String) -> R<Object> {
        read!(self.0, MEMORY, "get", (namespace, kind, key), {
            own::memory::Host::get(self.0, namespace.clone(), kind.clone(), key.clone()).await?
        })
    }

    async fn list(
        &mut self,
        namespace: Option<String>,
        kind: String,
        after: Option<String>,
        limit: u32,
    ) -> R<Vec<ObjectMeta>> {
        read!(self.0, MEMORY, "list", (namespace, kind, after, limit), {
            own::memory::Host::list(
                self.0,
                namespace.clone(),
                kind.clone(),
                after.clone(),
                limit,
            )
            .await?
        })
    }

    /// In doubt, run again: against the version it names, a swap that happened conflicts.
    async fn compare_and_swap(
        &mut self,
        namespace: Option<String>,
        kind: String,
        key: String,
        expected_version: u64,
        value: String,
    ) -> R<SwapOutcome> {
        let about = preview(&format!(
            "compare-and-swap {kind}/{key} at version {expected_version}"
        ));
        effect!(
            self.0,
            MEMORY,
            "compare-and-swap",
            (namespace, kind, key, expected_version, value),
            Doubt::Redo,
            about,
            {
                own::memory::Host::compare_and_swap(
                    self.0,
                    namespace,
                    kind,
                    key,
                    expected_version,
                    value,
                )
                .await?
            }
        )
    }

    async fn delete(
        &mut self,
        namespace: Option<String>,
        kind: String,
        key: String,
        expected_version: Option<u64>,
    ) -> R<bool> {
        let about = preview(&format!("delete {kind}/{key}"));
        effect!(
            self.0,
            MEMORY,
            "delete",
            (namespace, kind, key, expected_version),
            ASK_VALUE,
            about,
            { own::memory::Host::delete(self.0, namespace, kind, key, expected_version).await? }
        )
    }
}

impl own::events::Host for Journaled<'_> {
    async fn emit(&mut self, topic: String, payload: String) -> R<()> {
        let about = preview(&format!("emit on {topic}: {payload}"));
        effect!(self.0, EVENTS, "emit", (topic, payload), ASK_UNIT, about, {
            own::events::Host::emit(self.0, topic, payload).await?
        })
    }

    /// Stored with the topic's cursor after the wait, which a replay restores.
    async fn wait(&mut self, topic: String, timeout_ms: Option<u64>) -> R<Option<Event>> {
        let (event, cursor): (Result<Option<Event>, RuntimeError>, Option<u64>) =
            read!(self.0, EVENTS, "wait", (topic, timeout_ms), {
                let event = own::events::Host::wait(self.0, topic.clone(), timeout_ms).await?;
                (event, self.0.seen.get(&topic).copied())
            })?;
        if let Some(cursor) = cursor {
            self.0.seen.insert(topic, cursor);
        }
        Ok(event)
    }
}

impl own::human::Host for Journaled<'_> {
    async fn request_approval(&mut self, id: String, timeout_ms: Option<u64>) -> R<()> {
        read!(self.0, HUMAN, "request-approval", (id, timeout_ms), {
            own::human::Host::request_approval(self.0, id.clone(), timeout_ms).await?
        })
    }

    /// Asked under an id fixed in its intent before it is asked: in doubt, asked "again" under
    /// the same id, which finds the question asked before (still pending, or answered while
    /// no host ran).
    async fn ask(
        &mut self,
        question: String,
        choices: Vec<String>,
        timeout_ms: Option<u64>,
    ) -> R<String> {
        let call = Call::new(HUMAN, "ask", &(&question, &choices, &timeout_ms))?;
        let intent = Intent {
            preview: preview(&question),
            request: Some(libos_human::HumanQueue::new_question_id()),
            ..Intent::default()
        };
        match self.0.begin_effect(&call, intent, Doubt::Redo).await? {
            Begun::Replayed(bytes) => decode(&bytes, &call),
            Begun::Live(ticket) => {
                let id = ticket.intent.request.clone();
                let value = self.0.ask_person(id, question, choices, timeout_ms).await?;
                self.0.journal.settle(ticket, &call, &value)?;
                Ok(value)
            }
        }
    }
}

impl own::time::Host for Journaled<'_> {
    async fn sleep(&mut self, duration_ms: u64) -> R<()> {
        let now = self.0.call.clock().now();
        let wake = now.saturating_add(std::time::Duration::from_millis(duration_ms));
        self.sleep_until_wall(Call::new(TIME, "sleep", &(&duration_ms,))?, wake)
            .await
    }

    async fn sleep_until(&mut self, when: Datetime) -> R<()> {
        let wake = std::time::Duration::new(when.seconds, when.nanoseconds.min(999_999_999));
        self.sleep_until_wall(Call::new(TIME, "sleep-until", &(&when,))?, wake)
            .await
    }
}

impl ProcessCtx {
    /// Blocked on a sleep until the host's clock reads `wake`.
    async fn sleep_to(&mut self, wake: std::time::Duration) -> Result<(), RuntimeError> {
        let clock = self.call.clock();
        if clock.now() >= wake {
            return Ok(());
        }
        self.block(libos_proctable::BlockedOn::Sleep);
        libos::wasm::parking::parking(libos::providers::sleep_until(clock.as_ref(), wake)).await;
        self.unblock();
        Ok(())
    }
}

impl Journaled<'_> {
    /// A durable sleep: the wake time is stored before it starts; a sleep resumed after a crash
    /// wakes at the stored time.
    async fn sleep_until_wall(&mut self, call: Call, wake: std::time::Duration) -> R<()> {
        let wake_ns = u64::try_from(wake.as_nanos()).unwrap_or(u64::MAX);
        let intent = Intent {
            preview: format!("sleep until {wake_ns} ns"),
            wake_ns: Some(wake_ns),
            ..Intent::default()
        };
        match self.0.begin_effect(&call, intent, Doubt::Redo).await? {
            Begun::Replayed(bytes) => decode(&bytes, &call),
            Begun::Live(ticket) => {
                let wake =
                    std::time::Duration::from_nanos(ticket.intent.wake_ns.unwrap_or(wake_ns));
                let value = self.0.sleep_to(wake).await;
                self.0.journal.settle(ticket, &call, &value)?;
                Ok(value)
            }
        }
    }
}
