//! Helpers shared by the process table's tests.

#![allow(dead_code)]

use libos_proctable::{NewProcess, ProcessTable};

/// A process table in a fresh state directory (kept while the directory lives).
pub fn open() -> anyhow::Result<(tempfile::TempDir, ProcessTable)> {
    let dir = tempfile::tempdir()?;
    let table = ProcessTable::open(dir.path().join("libos.db"))?;
    Ok((dir, table))
}

/// A new process under `parent` with no capabilities, on a fixed host.
pub fn new_process(parent: Option<u64>) -> NewProcess {
    NewProcess {
        parent,
        image: "agent:1.0".into(),
        image_digest: "sha256:abc".into(),
        cwd: "/".into(),
        capabilities: vec![],
        host: "1@host:9000".into(),
        policy_chain: Vec::new(),
        resume: None,
    }
}
