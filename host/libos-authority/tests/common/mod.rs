//! Shared test helpers: an in-memory audit sink and authority builders.
#![allow(dead_code)]

use std::sync::{Arc, Mutex, PoisonError};

use libos_audit::{AuditRecord, AuditSink};
use libos_authority::{Authority, Capability, CapabilitySet, Policy, Request};

/// Collects every appended record.
#[derive(Default)]
pub struct MemorySink {
    records: Mutex<Vec<AuditRecord>>,
}

impl MemorySink {
    pub fn records(&self) -> Vec<AuditRecord> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn len(&self) -> usize {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl AuditSink for MemorySink {
    fn append(&self, record: AuditRecord) {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record);
    }
}

pub fn caps(specs: &[&str]) -> CapabilitySet {
    let caps: Vec<Capability> = specs
        .iter()
        .map(|s| s.parse().expect("test capability parses"))
        .collect();
    CapabilitySet::new(caps).expect("test capabilities compile")
}

pub fn policy(src: &str) -> Arc<Policy> {
    Arc::new(Policy::parse(src, "test.cedar").expect("test policy parses"))
}

/// An authority for `specs` under `policy_src` (or the built-in default when `None`).
pub fn authority(specs: &[&str], policy_src: Option<&str>) -> (Authority, Arc<MemorySink>) {
    let sink = Arc::new(MemorySink::default());
    let policy = match policy_src {
        Some(src) => policy(src),
        None => Arc::new(Policy::permit_all()),
    };
    let authority = Authority::new(caps(specs), policy, sink.clone());
    (authority, sink)
}

pub fn req<'a>(action: &'a str, resource: &'a str) -> Request<'a> {
    Request {
        subject: "tool:test",
        action,
        resource,
        args_digest: None,
        detail: None,
    }
}
