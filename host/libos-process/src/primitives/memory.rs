//! `libos:runtime/memory`: versioned JSON objects in namespaces.
//!
//! A process's own namespace is `pid:N`; it names it as `none` (or `"self"`). Every call is
//! decided on `memory.read` / `memory.write` with resource `<namespace>/<kind>/<key>` (for a
//! listing, `<namespace>/<kind>`), where the caller's own namespace is spelled `self` — so an
//! image grants its process its own memory with `memory.write:self/**`, and another
//! namespace only by naming it.

use libos::bindings::{LimitKind, RuntimeError};
use libos::permit::Permit;
use libos_memory::{MemoryError, MemoryLimits};

use crate::bindings::libos::runtime::memory::{Host, Object, ObjectMeta, SwapOutcome};
use crate::ctx::ProcessCtx;

type R<T> = wasmtime::Result<Result<T, RuntimeError>>;

/// Most entries one `list` returns, whatever the caller asks.
const MAX_LIST: u32 = 1000;

impl ProcessCtx {
    /// The stored namespace and the name the authority sees for `namespace`.
    fn namespace(&self, namespace: Option<String>) -> Result<(String, String), RuntimeError> {
        let own = format!("pid:{}", self.pid);
        match namespace {
            None => Ok((own, "self".into())),
            Some(ns) if ns == "self" || ns == own => Ok((own, "self".into())),
            Some(ns) if ns.contains('/') => Err(RuntimeError::Invalid(format!(
                "namespace {ns:?} contains '/'"
            ))),
            Some(ns) => Ok((ns.clone(), ns)),
        }
    }

    /// Checks `action` on `<shown>/<kind>[/<key>]` and returns the stored namespace with the
    /// permit for the effect.
    fn memory_target(
        &mut self,
        action: &str,
        namespace: Option<String>,
        kind: &str,
        key: Option<&str>,
        value: Option<&str>,
    ) -> Result<(String, Permit), RuntimeError> {
        let (stored, shown) = self.namespace(namespace)?;
        let resource = match key {
            Some(key) => format!("{shown}/{kind}/{key}"),
            None => format!("{shown}/{kind}"),
        };
        // A write's value is part of what is decided (and what an approval is bound to).
        let digest = value
            .map(|v| libos::call::digest(&[action.as_bytes(), resource.as_bytes(), v.as_bytes()]));
        let permit = self.call.permit(action, &resource, digest.as_ref())?;
        Ok((stored, permit))
    }

    fn memory_limits(&self) -> MemoryLimits {
        limits_of(&self.image.limits)
    }
}

/// The limits of a process's own namespace under `limits` (its image's).
pub(crate) fn limits_of(limits: &libos_image::ImageLimits) -> MemoryLimits {
    MemoryLimits {
        max_object_bytes: limits.max_object_bytes,
        max_objects: limits.max_objects,
        max_namespace_bytes: limits.max_namespace_bytes,
    }
}

fn memory_error(e: MemoryError) -> RuntimeError {
    match e {
        MemoryError::Invalid(m) => RuntimeError::Invalid(m),
        MemoryError::TooLarge { .. } => RuntimeError::LimitExceeded(LimitKind::Output),
        MemoryError::NamespaceFull { limit, .. } => RuntimeError::LimitExceeded(match limit {
            libos_memory::LimitKind::Objects => LimitKind::Objects,
            libos_memory::LimitKind::Bytes => LimitKind::Storage,
        }),
        e @ MemoryError::VersionMismatch { .. } => RuntimeError::Invalid(e.to_string()),
        MemoryError::Store(m) => RuntimeError::Io(m),
    }
}

impl Host for ProcessCtx {
    async fn put(
        &mut self,
        namespace: Option<String>,
        kind: String,
        key: String,
        value: String,
    ) -> R<u64> {
        let (ns, permit) =
            match self.memory_target("memory.write", namespace, &kind, Some(&key), Some(&value)) {
                Ok(target) => target,
                Err(e) => return Ok(Err(e)),
            };
        if let Err(e) = self.call.record_stored().await {
            return Ok(Err(e));
        }
        let limits = self.memory_limits();
        // Charged up front as a creation; given back if the put created nothing.
        if let Err(kind) = self.budget.charge(libos::error::LimitKind::Objects, 1) {
            return Ok(Err(RuntimeError::LimitExceeded(kind.into())));
        }
        let put = self
            .kernel
            .memory
            .put(&ns, &kind, &key, &value, &limits)
            .map_err(memory_error);
        if !matches!(put, Ok(1)) {
            self.budget.refund(libos::error::LimitKind::Objects, 1);
        }
        settled(permit, put)
    }

    async fn get(&mut self, namespace: Option<String>, kind: String, key: String) -> R<Object> {
        let (ns, permit) =
            match self.memory_target("memory.read", namespace, &kind, Some(&key), None) {
                Ok(target) => target,
                Err(e) => return Ok(Err(e)),
            };
        settled(
            permit,
            match self.kernel.memory.get(&ns, &kind, &key) {
                Ok(Some(o)) => Ok(Object {
                    kind: o.kind,
                    key: o.key,
                    version: o.version,
                    value: o.value,
                }),
                Ok(None) => Err(RuntimeError::NotFound),
                Err(e) => Err(memory_error(e)),
            },
        )
    }

    async fn list(
        &mut self,
        namespace: Option<String>,
        kind: String,
        after: Option<String>,
        limit: u32,
    ) -> R<Vec<ObjectMeta>> {
        let (ns, permit) = match self.memory_target("memory.read", namespace, &kind, None, None) {
            Ok(target) => target,
            Err(e) => return Ok(Err(e)),
        };
        let limit = limit.min(MAX_LIST) as usize;
        settled(
            permit,
            self.kernel
                .memory
                .list(&ns, &kind, after.as_deref(), limit)
                .map(|metas| {
                    metas
                        .into_iter()
                        .map(|m| ObjectMeta {
                            key: m.key,
                            version: m.version,
                            size: m.size,
                        })
                        .collect()
                })
                .map_err(memory_error),
        )
    }

    async fn compare_and_swap(
        &mut self,
        namespace: Option<String>,
        kind: String,
        key: String,
        expected_version: u64,
        value: String,
    ) -> R<SwapOutcome> {
        let (ns, permit) =
            match self.memory_target("memory.write", namespace, &kind, Some(&key), Some(&value)) {
                Ok(target) => target,
                Err(e) => return Ok(Err(e)),
            };
        if let Err(e) = self.call.record_stored().await {
            return Ok(Err(e));
        }
        let limits = self.memory_limits();
        // Expected version 0 creates the object: charged up front like a `put` that creates,
        // given back if nothing was created (a conflict or an error).
        let creates = expected_version == 0;
        if creates && let Err(kind) = self.budget.charge(libos::error::LimitKind::Objects, 1) {
            return Ok(Err(RuntimeError::LimitExceeded(kind.into())));
        }
        let swapped = self.kernel.memory.compare_and_swap(
            &ns,
            &kind,
            &key,
            expected_version,
            &value,
            &limits,
        );
        if creates && swapped.is_err() {
            self.budget.refund(libos::error::LimitKind::Objects, 1);
        }
        settled(
            permit,
            match swapped {
                Ok(version) => Ok(SwapOutcome::Swapped(version)),
                Err(MemoryError::VersionMismatch { current, .. }) => {
                    Ok(SwapOutcome::Conflict(current))
                }
                Err(e) => Err(memory_error(e)),
            },
        )
    }

    async fn delete(
        &mut self,
        namespace: Option<String>,
        kind: String,
        key: String,
        expected_version: Option<u64>,
    ) -> R<bool> {
        let (ns, permit) = match self.memory_target(
            "memory.write",
            namespace,
            &kind,
            Some(&key),
            Some("delete"),
        ) {
            Ok(target) => target,
            Err(e) => return Ok(Err(e)),
        };
        if let Err(e) = self.call.record_stored().await {
            return Ok(Err(e));
        }
        settled(
            permit,
            self.kernel
                .memory
                .delete(&ns, &kind, &key, expected_version)
                .map_err(memory_error),
        )
    }
}

/// The outcome of an effect made under `permit`: the permit is kept if it succeeded and
/// given back (dropped) if it failed.
fn settled<T>(permit: Permit, out: Result<T, RuntimeError>) -> R<T> {
    if out.is_ok() {
        permit.done(None);
    }
    Ok(out)
}
