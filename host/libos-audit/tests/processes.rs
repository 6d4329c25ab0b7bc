//! Several OS processes appending to one database still form one linear chain.

mod common;

use std::process::{Command, Stdio};

use common::{db_path, record};
use libos_audit::{AuditLog, AuditSink, read_records, verify};

const CHILD_DB: &str = "LIBOS_AUDIT_TEST_CHILD_DB";
const CHILD_BASE: &str = "LIBOS_AUDIT_TEST_CHILD_BASE";
const PER_CHILD: u64 = 800;

/// Not a test on its own: when started by the parent test below with the child environment
/// set, appends `PER_CHILD` records to the given database. Without it, does nothing.
#[test]
fn child_appender() -> anyhow::Result<()> {
    let (Ok(path), Ok(base)) = (std::env::var(CHILD_DB), std::env::var(CHILD_BASE)) else {
        return Ok(());
    };
    let base: u64 = base.parse()?;
    let log = AuditLog::open(std::path::Path::new(&path))?;
    for i in 0..PER_CHILD {
        log.append(record(base + i));
        if i % 50 == 0 {
            log.flush()?;
        }
    }
    log.flush()?;
    Ok(())
}

#[test]
fn processes_appending_concurrently_form_one_chain() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    // Create the tables up front so the children only race on appends.
    drop(AuditLog::open(&path)?);

    let exe = std::env::current_exe()?;
    let bases = [0u64, 1_000_000, 2_000_000];
    let children = bases
        .iter()
        .map(|base| {
            Command::new(&exe)
                .args(["child_appender", "--exact", "--test-threads=1", "--quiet"])
                .env(CHILD_DB, &path)
                .env(CHILD_BASE, base.to_string())
                .stdout(Stdio::null())
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    for mut child in children {
        assert!(child.wait()?.success(), "child appender failed");
    }

    let report = verify(&path)?;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.records, PER_CHILD * bases.len() as u64);

    let stored = read_records(&path, None)?;
    for base in bases {
        let mine: Vec<_> = stored
            .iter()
            .map(|s| &s.record)
            .filter(|r| r.decided.resource.starts_with("dir/file-"))
            .filter(|r| {
                let i = (r.time_ns - 1_700_000_000_000_000_000) as u64;
                (base..base + PER_CHILD).contains(&i)
            })
            .cloned()
            .collect();
        let expected: Vec<_> = (0..PER_CHILD).map(|i| record(base + i)).collect();
        assert_eq!(mine, expected, "records of the child with base {base}");
    }
    Ok(())
}
