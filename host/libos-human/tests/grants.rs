//! Grants cover exactly what was approved, are used up as their scope says, and a failed
//! effect does not use them.

use std::time::Duration;

use libos_human::{Call, HumanError, HumanQueue, NewApproval, RuleEffect, Scope};

fn open() -> anyhow::Result<(tempfile::TempDir, HumanQueue)> {
    let dir = tempfile::tempdir()?;
    let queue = HumanQueue::open(dir.path().join("libos.db"))?;
    Ok((dir, queue))
}

fn write(pid: u64) -> NewApproval {
    NewApproval {
        pid,
        image: "coder:1".into(),
        action: "fs.write".into(),
        resource: "notes/a.txt".into(),
        args_digest: Some("d1".into()),
        target_version: Some("sha256:v1".into()),
        preview: "write notes/a.txt".into(),
        asked_because: "policy asks".into(),
    }
}

/// Asks for `new` and approves it with `scope`.
fn approved(queue: &HumanQueue, new: &NewApproval, scope: Scope) -> anyhow::Result<()> {
    let id = queue.request(None, new.clone())?.request().id.clone();
    queue.approve(&id, scope, None, "alice")?;
    Ok(())
}

#[test]
fn once_covers_the_first_successful_call_only() -> anyhow::Result<()> {
    let (_dir, queue) = open()?;
    let new = write(5);
    approved(&queue, &new, Scope::Once)?;
    let call = Call::of(&new);
    let taken = queue
        .take(&call)?
        .ok_or_else(|| anyhow::anyhow!("not covered"))?;
    assert_eq!(taken.uses_left, Some(0));
    assert!(queue.take(&call)?.is_none(), "consumed");
    // The effect failed: the use comes back, and the next call has it.
    queue.give_back(taken.id)?;
    assert!(queue.covering(&call)?.is_some());
    assert!(queue.take(&call)?.is_some());
    assert!(queue.take(&call)?.is_none());
    Ok(())
}

#[test]
fn a_grant_covers_nothing_but_what_was_approved() -> anyhow::Result<()> {
    let (_dir, queue) = open()?;
    let new = write(5);
    approved(&queue, &new, Scope::Session)?;
    let exact = Call::of(&new);
    let others = [
        Call {
            args_digest: Some("d2"),
            ..exact
        }, // other arguments
        Call {
            args_digest: None,
            ..exact
        }, // no arguments at all
        Call {
            target_version: Some("sha256:v2"),
            ..exact
        }, // the file changed meanwhile
        Call {
            target_version: None,
            ..exact
        },
        Call {
            resource: "notes/b.txt",
            ..exact
        }, // another file
        Call {
            resource: "notes/*",
            ..exact
        }, // a pattern is not a wildcard here
        Call {
            action: "fs.delete",
            ..exact
        }, // another action
        Call { pid: 6, ..exact }, // a child or any other process
    ];
    for call in others {
        assert!(queue.take(&call)?.is_none(), "{call:?} covered");
    }
    assert!(queue.take(&exact)?.is_some());
    Ok(())
}

#[test]
fn uses_ttl_and_session_behave_as_named() -> anyhow::Result<()> {
    let (_dir, queue) = open()?;
    let two = write(1);
    approved(&queue, &two, Scope::Uses(2))?;
    let call = Call::of(&two);
    assert!(queue.take(&call)?.is_some() && queue.take(&call)?.is_some());
    assert!(queue.take(&call)?.is_none(), "two uses, then none");

    let session = write(2);
    approved(&queue, &session, Scope::Session)?;
    for _ in 0..50 {
        assert!(queue.take(&Call::of(&session))?.is_some());
    }

    let ttl = write(3);
    approved(&queue, &ttl, Scope::Ttl(Duration::from_millis(80)))?;
    assert!(queue.take(&Call::of(&ttl))?.is_some());
    assert!(
        queue.take(&Call::of(&ttl))?.is_some(),
        "any number within the time"
    );
    std::thread::sleep(Duration::from_millis(120));
    assert!(queue.take(&Call::of(&ttl))?.is_none(), "expired");
    Ok(())
}

#[test]
fn further_uses_follow_the_target_as_the_covered_effect_left_it() -> anyhow::Result<()> {
    let (_dir, queue) = open()?;
    let new = write(9);
    approved(&queue, &new, Scope::Uses(3))?;
    let grant = queue
        .take(&Call::of(&new))?
        .ok_or_else(|| anyhow::anyhow!("not covered"))?;
    // The write made the file version v2.
    queue.advance(grant.id, Some("sha256:v2"))?;
    let now = Call {
        target_version: Some("sha256:v2"),
        ..Call::of(&new)
    };
    assert!(queue.take(&Call::of(&new))?.is_none(), "v1 is gone");
    assert!(queue.take(&now)?.is_some(), "as the covered write left it");
    Ok(())
}

#[test]
fn always_and_never_store_rules_never_wins_and_rules_can_be_removed() -> anyhow::Result<()> {
    let (_dir, queue) = open()?;
    let id = queue.request(None, write(1))?.request().id.clone();
    let (request, rule) = queue.always(&id, Some("notes/**"), None, "alice")?;
    assert_eq!(request.state.name(), "approved");
    assert_eq!(
        (
            rule.image.as_str(),
            rule.action.as_str(),
            rule.resource.as_str(),
            rule.effect
        ),
        ("coder:1", "fs.write", "notes/**", RuleEffect::Always)
    );
    let found = queue.rule_for("coder:1", "fs.write", "notes/deep/b.txt")?;
    assert_eq!(found.map(|r| r.id), Some(rule.id));
    assert!(
        queue
            .rule_for("coder:1", "fs.write", "src/main.rs")?
            .is_none()
    );
    assert!(
        queue
            .rule_for("coder:2", "fs.write", "notes/b.txt")?
            .is_none(),
        "other image"
    );
    assert!(
        queue
            .rule_for("coder:1", "fs.delete", "notes/b.txt")?
            .is_none()
    );

    let mut secret = write(2);
    secret.resource = "notes/secret.txt".into();
    let id = queue.request(None, secret)?.request().id.clone();
    let (denied, never) = queue.never(&id, None, Some("keep out"), "alice")?;
    assert_eq!(denied.state.name(), "denied");
    let found = queue.rule_for("coder:1", "fs.write", "notes/secret.txt")?;
    assert_eq!(
        found.map(|r| r.effect),
        Some(RuleEffect::Never),
        "never wins"
    );

    assert_eq!(queue.rules()?.len(), 2);
    assert_eq!(queue.remove_rule(never.id)?.id, never.id);
    assert!(matches!(
        queue.remove_rule(never.id),
        Err(HumanError::NoSuchRule(_))
    ));
    let found = queue.rule_for("coder:1", "fs.write", "notes/secret.txt")?;
    assert_eq!(found.map(|r| r.effect), Some(RuleEffect::Always));

    let id = queue.request(None, write(3))?.request().id.clone();
    for bad in ["", "../**", "[", "/etc/**", "src/**"] {
        let r = queue.always(&id, Some(bad), None, "alice");
        assert!(matches!(r, Err(HumanError::Invalid(_))), "{bad:?}: {r:?}");
    }
    assert_eq!(
        queue.get(&id)?.state.name(),
        "pending",
        "a refused rule decides nothing"
    );
    Ok(())
}
