//! Helpers shared by the process table's tests.

use libos_kernel::NewProcess;

/// A new process under `parent` with no capabilities, on a fixed host.
pub fn new_process(parent: Option<u64>) -> NewProcess {
    NewProcess {
        parent,
        image: "agent:1.0".into(),
        image_digest: "sha256:abc".into(),
        cwd: "/".into(),
        capabilities: vec![],
        host: "1@host:9000".into(),
    }
}
