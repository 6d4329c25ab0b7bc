//! Running AgentProcesses: an example image end to end, the process table's record of it,
//! and attenuation down a three-level tree.

use std::path::Path;

use crate::common;

use common::{fixture, kernel};
use libos_image::ImageStore;
use libos_process::{ExitStatus, Kernel, Start};
use libos_proctable::State;

const LOG: &str = "\
============================= test session starts ==============================
tests/test_math.py::test_add PASSED
tests/test_math.py::test_div FAILED
=================================== FAILURES ===================================
E       ZeroDivisionError: division by zero
=========================== short test summary info ============================
FAILED tests/test_math.py::test_div - ZeroDivisionError: division by zero
========================= 1 failed, 1 passed in 0.12s ==========================
";

/// Runs the example `log-parser` image on a pytest log with `capabilities` (`None`: the
/// image's own) in a fresh state directory; returns the directory, the kernel, the pid and
/// how it ended.
async fn log_parser(
    capabilities: Option<Vec<libos_authority::Capability>>,
) -> anyhow::Result<(tempfile::TempDir, Kernel, u64, ExitStatus)> {
    let state = tempfile::tempdir()?;
    let work = tempfile::tempdir()?;
    std::fs::write(work.path().join("pytest.log"), LOG)?;
    ImageStore::open(state.path())?.build(&Path::new(libos_guests::IMAGES).join("log-parser"))?;
    let kernel = kernel(state.path())?;
    let pid = kernel
        .start(Start {
            image: "log-parser".into(),
            input: r#"{"log":"pytest.log"}"#.into(),
            capabilities,
            workdir: work.path().to_path_buf(),
            cwd: "/".into(),
            parent: None,
        })
        .await?;
    let status = kernel.wait(pid).await?;
    Ok((state, kernel, pid, status))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_parser_runs_to_exit_and_every_state_change_is_recorded() -> anyhow::Result<()> {
    let (_state, kernel, pid, status) = log_parser(None).await?;
    let ExitStatus::Exited(output) = &status else {
        anyhow::bail!("log-parser did not exit: {status:?}");
    };
    let report: serde_json::Value = serde_json::from_str(output)?;
    assert_eq!(report["failed_count"], 1, "{report}");
    assert_eq!(report["passed"], 1, "{report}");
    assert_eq!(
        report["failed"][0]["test"], "tests/test_math.py::test_div",
        "{report}"
    );

    let record = kernel.table().get(pid)?;
    assert!(
        matches!(record.state, State::Exited { .. }),
        "{:?}",
        record.state
    );
    let states: Vec<State> = kernel
        .table()
        .transitions(pid)?
        .into_iter()
        .map(|t| t.to)
        .collect();
    assert_eq!(states[..2], [State::Ready, State::Running]);
    assert!(matches!(states[2], State::Exited { .. }), "{states:?}");

    // Its read went through the authority, audited under its pid.
    kernel.host().flush_audit()?;
    let records = libos_audit::read_records(&kernel.host().state().db_path(), None)?;
    let subject = format!("pid:{pid}");
    assert!(
        records.iter().any(|r| {
            let d = &r.record.decided;
            (&*d.subject, &*d.action, &*d.resource) == (subject.as_str(), "fs.read", "pytest.log")
        }),
        "no fs.read record for pid {pid}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_without_the_capability_is_refused_and_reads_nothing() -> anyhow::Result<()> {
    let (_state, _kernel, _pid, status) =
        log_parser(Some(vec!["fs.read:docs/**".parse()?])).await?;
    let ExitStatus::Failed(reason) = &status else {
        anyhow::bail!("expected a failure, got {status:?}");
    };
    assert!(reason.contains("denied"), "{reason}");
    Ok(())
}

/// Runs `agent-escalate` as a root with `input` and returns its root pid and JSON trace.
async fn escalate(
    kernel: &Kernel,
    work: &Path,
    input: serde_json::Value,
) -> anyhow::Result<(u64, serde_json::Value)> {
    let pid = kernel
        .start(Start {
            image: "agent-escalate".into(),
            input: input.to_string(),
            capabilities: None,
            workdir: work.to_path_buf(),
            cwd: "/".into(),
            parent: None,
        })
        .await?;
    match kernel.wait(pid).await? {
        ExitStatus::Exited(output) => Ok((pid, serde_json::from_str(&output)?)),
        status => anyhow::bail!("escalate root did not exit: {status:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_is_refused_at_every_level_of_a_three_level_tree() -> anyhow::Result<()> {
    let f = fixture(
        "agent-escalate",
        libos_guests::AGENT_ESCALATE,
        &["process.spawn:agent-escalate", "fs.read:docs/**"],
        "max_children = 2\nwall_clock = \"20s\"",
    )?;
    let (kernel, work) = (&f.kernel, &f.work);
    // The root holds process.spawn + fs.read:docs/**; each level asks its child for the
    // spawn right, docs/** and more (fs.read:**), which no one holds.
    let input = serde_json::json!({
        "level": 2,
        "ask": ["process.spawn:agent-escalate", "fs.read:docs/**", "fs.read:**"],
    });
    let (pid, trace) = escalate(kernel, work.path(), input).await?;
    let top = &trace["trace"][0];
    assert_eq!(top["spawn"]["granted"], false, "{trace}");
    assert_eq!(top["spawn"]["error"]["kind"], "denied", "{trace}");
    assert!(
        kernel.table().children(pid)?.is_empty(),
        "a refused spawn must start nothing"
    );

    // Asking only for what is held works, level by level, and nothing grows.
    let input = serde_json::json!({
        "level": 2,
        "ask": ["process.spawn:agent-escalate", "fs.read:docs/a/**"],
    });
    let (pid, trace) = escalate(kernel, work.path(), input).await?;
    let levels = trace["trace"].as_array().cloned().unwrap_or_default();
    assert_eq!(levels.len(), 3, "{trace}");
    assert_eq!(levels[0]["spawn"]["granted"], true, "{trace}");
    assert_eq!(levels[1]["spawn"]["granted"], true, "{trace}");
    let deepest: Vec<String> = serde_json::from_value(levels[2]["held"].clone())?;
    assert_eq!(
        deepest,
        ["process.spawn:agent-escalate", "fs.read:docs/a/**"],
        "{trace}"
    );
    let tree = kernel.table().descendants(pid)?;
    assert_eq!(tree.len(), 2, "{tree:?}");
    Ok(())
}
