//! Host leases and the recovery of the processes of a host that died.

use libos_proctable::hosts::{self, HostLease};
use libos_proctable::{NewProcess, ProcessTable, State};

fn process(table: &ProcessTable, host: &str, path: &[State]) -> anyhow::Result<u64> {
    let pid = table
        .create(NewProcess {
            parent: None,
            image: "agent:1.0".into(),
            image_digest: "sha256:abc".into(),
            cwd: "/".into(),
            capabilities: vec![],
            host: host.into(),
            policy_chain: Vec::new(),
            resume: None,
        })?
        .pid;
    table.advance(pid, path)?;
    Ok(pid)
}

#[test]
fn a_lease_is_alive_while_held_and_gone_once_dropped() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let lease = HostLease::acquire(dir.path())?;
    let other = HostLease::acquire(dir.path())?;
    assert_ne!(lease.id(), other.id(), "every lease has its own id");
    assert!(hosts::is_alive(dir.path(), lease.id()));
    let id = lease.id().to_owned();
    drop(lease);
    assert!(!hosts::is_alive(dir.path(), &id));
    assert!(hosts::is_alive(dir.path(), other.id()));
    assert!(
        !hosts::is_alive(dir.path(), "libos@4294967295"),
        "never seen"
    );
    // What a crash leaves: the lock file, with no one holding the lock.
    std::fs::write(dir.path().join("libos@4294967294.lock"), b"")?;
    assert!(!hosts::is_alive(dir.path(), "libos@4294967294"));
    Ok(())
}

#[test]
fn recovery_fails_every_live_process_of_a_dead_host_and_nothing_else() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let hosts_dir = dir.path().join("hosts");
    let table = ProcessTable::open(dir.path().join("libos.db"))?;
    let alive = HostLease::acquire(&hosts_dir)?;
    let dead = HostLease::acquire(&hosts_dir)?;
    let dead_id = dead.id().to_owned();

    let running = process(&table, &dead_id, &[State::Ready, State::Running])?;
    let paused = process(&table, &dead_id, &[State::Ready])?;
    table.pause_subtree(paused)?;
    let exited = process(
        &table,
        &dead_id,
        &[
            State::Ready,
            State::Running,
            State::Exited {
                output: "{}".into(),
            },
        ],
    )?;
    let kept = process(&table, alive.id(), &[State::Ready, State::Running])?;
    // Host names come from a shared table: ones that cannot be a lease are never recovered.
    let odd = process(&table, "../../etc/passwd", &[State::Ready])?;

    // While the host lives, nothing is recovered.
    assert!(hosts::recover(&table, &hosts_dir, None)?.is_empty());
    drop(dead);
    let recovered = hosts::recover(&table, &hosts_dir, None)?;
    assert_eq!(recovered.len(), 1);
    assert_eq!(recovered[0].host, dead_id);
    assert_eq!(recovered[0].pids, [running, paused]);
    for pid in [running, paused] {
        match table.get(pid)?.state {
            State::Failed { reason } => assert!(reason.contains(&dead_id), "{reason}"),
            other => panic!("process {pid} is {other:?}"),
        }
        let last = table.transitions(pid)?;
        assert!(matches!(
            last.last().map(|t| &t.to),
            Some(State::Failed { .. })
        ));
    }
    assert!(matches!(table.get(exited)?.state, State::Exited { .. }));
    assert_eq!(table.get(kept)?.state, State::Running);
    assert_eq!(table.get(odd)?.state, State::Ready);
    // Done once: a second pass finds nothing more.
    assert!(hosts::recover(&table, &hosts_dir, None)?.is_empty());
    Ok(())
}

#[test]
fn a_new_lease_recovers_rows_left_under_its_own_id() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let hosts_dir = dir.path().join("hosts");
    let table = ProcessTable::open(dir.path().join("libos.db"))?;
    let lease = HostLease::acquire(&hosts_dir)?;
    // As if a dead host with the same operating-system pid had left it behind.
    let stale = process(&table, lease.id(), &[State::Ready, State::Running])?;
    assert!(
        hosts::recover(&table, &hosts_dir, None)?.is_empty(),
        "alive"
    );
    let recovered = hosts::recover(&table, &hosts_dir, Some(&lease))?;
    assert_eq!(recovered.len(), 1);
    assert_eq!(recovered[0].pids, [stale]);
    assert!(
        hosts::is_alive(&hosts_dir, lease.id()),
        "the lease stays held"
    );
    Ok(())
}
