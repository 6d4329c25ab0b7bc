//! Requests and decisions: recorded, listed, decided once, expired, kept across reopening.

use std::time::Duration;

use libos_human::{
    Asked, HumanError, HumanQueue, NewApproval, NewQuestion, RequestKind, RequestState, Scope,
};

fn open() -> anyhow::Result<(tempfile::TempDir, HumanQueue)> {
    let dir = tempfile::tempdir()?;
    let queue = HumanQueue::open(dir.path().join("libos.db"))?;
    Ok((dir, queue))
}

fn write(pid: u64, path: &str, digest: &str) -> NewApproval {
    NewApproval {
        pid,
        image: "coder:1".into(),
        action: "fs.write".into(),
        resource: path.into(),
        args_digest: Some(digest.into()),
        target_version: Some("absent".into()),
        preview: format!("write {path}: 5 bytes\n+hello"),
        asked_because: "policy `writes` (@decision(\"ask\")) permits fs.write on **".into(),
    }
}

#[test]
fn a_request_is_listed_with_its_preview_and_asking_again_does_not_duplicate_it()
-> anyhow::Result<()> {
    let (_dir, queue) = open()?;
    let Asked::New(first) = queue.request(Some("req-1".into()), write(7, "a.txt", "d1"))? else {
        anyhow::bail!("not recorded as new");
    };
    assert_eq!((first.id.as_str(), first.pid), ("req-1", 7));
    assert_eq!(first.state, RequestState::Pending);
    let again = queue.request(Some("req-2".into()), write(7, "a.txt", "d1"))?;
    assert_eq!(
        again,
        Asked::Waiting(first.clone()),
        "the same effect waits once"
    );
    // Other arguments, another file or another process: another request.
    for other in [
        write(7, "a.txt", "d2"),
        write(7, "b.txt", "d1"),
        write(8, "a.txt", "d1"),
    ] {
        assert!(matches!(queue.request(None, other)?, Asked::New(_)));
    }
    let pending = queue.pending()?;
    assert_eq!(pending.len(), 4);
    assert_eq!(pending[0], first);
    let RequestKind::Approval { preview, .. } = &pending[0].kind else {
        anyhow::bail!("not an approval");
    };
    assert!(preview.contains("+hello"));
    assert!(pending[0].asked_because.contains("policy `writes`"));
    Ok(())
}

#[test]
fn a_request_is_decided_once_and_unknown_ids_are_clear_errors() -> anyhow::Result<()> {
    let (_dir, queue) = open()?;
    let id = queue
        .request(None, write(1, "a.txt", "d"))?
        .request()
        .id
        .clone();
    let (approved, grant) = queue.approve(&id, Scope::Once, Some("looks right"), "alice")?;
    assert_eq!(
        approved.state,
        RequestState::Approved {
            scope: "once".into(),
            note: Some("looks right".into())
        }
    );
    assert_eq!(approved.decided_by.as_deref(), Some("alice"));
    assert_eq!(
        (grant.request_id.as_str(), grant.uses_left),
        (id.as_str(), Some(1))
    );

    let twice = queue.approve(&id, Scope::Once, None, "bob");
    assert!(
        matches!(&twice, Err(HumanError::AlreadyDecided { state, .. }) if state == "approved"),
        "{twice:?}"
    );
    assert!(matches!(
        queue.deny(&id, None, "bob"),
        Err(HumanError::AlreadyDecided { .. })
    ));
    assert_eq!(queue.grants(1)?.len(), 1, "no second grant");
    for bad in ["req-missing", "", "' OR 1=1 --", "req-\u{0}"] {
        let err = queue.approve(bad, Scope::Once, None, "alice");
        assert!(
            matches!(err, Err(HumanError::NoSuchRequest(_))),
            "{bad:?}: {err:?}"
        );
    }
    assert!(queue.pending()?.is_empty());
    Ok(())
}

#[test]
fn a_denied_request_mints_nothing() -> anyhow::Result<()> {
    let (_dir, queue) = open()?;
    let id = queue
        .request(None, write(1, "a.txt", "d"))?
        .request()
        .id
        .clone();
    let denied = queue.deny(&id, Some("not that file"), "alice")?;
    assert_eq!(
        denied.state,
        RequestState::Denied {
            reason: Some("not that file".into())
        }
    );
    assert!(queue.grants(1)?.is_empty());
    assert!(matches!(
        queue.approve(&id, Scope::Session, None, "mallory"),
        Err(HumanError::AlreadyDecided { .. })
    ));
    Ok(())
}

#[test]
fn an_expired_request_cannot_be_approved() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let queue =
        HumanQueue::open(dir.path().join("libos.db"))?.with_request_ttl(Duration::from_millis(30));
    let id = queue
        .request(None, write(1, "a.txt", "d"))?
        .request()
        .id
        .clone();
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(queue.get(&id)?.state, RequestState::Expired);
    let late = queue.approve(&id, Scope::Once, None, "alice");
    assert!(matches!(late, Err(HumanError::Expired { .. })), "{late:?}");
    assert!(
        late.err()
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("expired at")
    );
    assert!(queue.grants(1)?.is_empty());
    assert!(queue.pending()?.is_empty());
    // Asking again after expiry makes a new request.
    assert!(matches!(
        queue.request(None, write(1, "a.txt", "d"))?,
        Asked::New(_)
    ));
    Ok(())
}

#[test]
fn requests_survive_reopening_and_are_decided_from_another_handle() -> anyhow::Result<()> {
    let (dir, queue) = open()?;
    let id = queue
        .request(None, write(3, "a.txt", "d"))?
        .request()
        .id
        .clone();
    drop(queue);
    let other = HumanQueue::open(dir.path().join("libos.db"))?;
    assert_eq!(other.pending()?.len(), 1);
    other.approve(&id, Scope::Once, None, "alice")?;
    let reopened = HumanQueue::open(dir.path().join("libos.db"))?;
    assert_eq!(reopened.get(&id)?.state.name(), "approved");
    Ok(())
}

#[test]
fn two_terminals_approving_at_once_mint_one_grant() -> anyhow::Result<()> {
    let (dir, queue) = open()?;
    let id = queue
        .request(None, write(3, "a.txt", "d"))?
        .request()
        .id
        .clone();
    let path = dir.path().join("libos.db");
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let (path, id) = (path.clone(), id.clone());
            std::thread::spawn(move || -> anyhow::Result<bool> {
                let q = HumanQueue::open(&path)?;
                Ok(q.approve(&id, Scope::Once, None, &format!("person{i}"))
                    .is_ok())
            })
        })
        .collect();
    let mut won = 0;
    for h in handles {
        if h.join().map_err(|_| anyhow::anyhow!("panicked"))?? {
            won += 1;
        }
    }
    assert_eq!(won, 1);
    assert_eq!(queue.grants(3)?.len(), 1);
    Ok(())
}

#[test]
fn questions_take_one_of_their_choices_and_are_not_approvals() -> anyhow::Result<()> {
    let (_dir, queue) = open()?;
    let q = queue.ask(NewQuestion {
        pid: 4,
        image: "coder:1".into(),
        question: "Which branch?".into(),
        choices: vec!["main".into(), "dev".into()],
    })?;
    assert!(matches!(
        queue.approve(&q.id, Scope::Once, None, "a"),
        Err(HumanError::WrongKind { .. })
    ));
    let wrong = queue.answer(&q.id, "feature", "alice");
    assert!(
        matches!(wrong, Err(HumanError::NotAChoice { .. })),
        "{wrong:?}"
    );
    let answered = queue.answer(&q.id, "dev", "alice")?;
    assert_eq!(
        answered.state,
        RequestState::Answered {
            answer: "dev".into()
        }
    );
    assert!(matches!(
        queue.answer(&q.id, "main", "bob"),
        Err(HumanError::AlreadyDecided { .. })
    ));

    let free = queue.ask(NewQuestion {
        pid: 4,
        image: "coder:1".into(),
        question: "Anything else?".into(),
        choices: vec![],
    })?;
    assert_eq!(
        queue.answer(&free.id, "ship it", "alice")?.state.name(),
        "answered"
    );
    let approval = queue
        .request(None, write(4, "a.txt", "d"))?
        .request()
        .id
        .clone();
    assert!(matches!(
        queue.answer(&approval, "yes", "a"),
        Err(HumanError::WrongKind { .. })
    ));
    Ok(())
}

#[test]
fn hostile_sizes_are_refused_or_cut() -> anyhow::Result<()> {
    let (_dir, queue) = open()?;
    let mut big = write(1, "a.txt", "d");
    big.preview = "x".repeat(1 << 20);
    let r = queue.request(None, big)?.request().clone();
    let RequestKind::Approval { preview, .. } = &r.kind else {
        anyhow::bail!("not an approval");
    };
    assert!(preview.len() <= 64 << 10 && preview.contains("more bytes not shown"));
    let note = "n".repeat(5000);
    assert!(matches!(
        queue.approve(&r.id, Scope::Once, Some(&note), "a"),
        Err(HumanError::Invalid(_))
    ));
    assert_eq!(
        queue.get(&r.id)?.state,
        RequestState::Pending,
        "a refused decision changes nothing"
    );
    for (question, choices) in [
        (String::new(), vec![]),
        ("q".repeat(5000), vec![]),
        ("ok?".into(), vec!["yes".into(), "yes".into()]),
        ("ok?".into(), vec![" ".into()]),
        ("ok?".into(), (0..40).map(|i| i.to_string()).collect()),
    ] {
        let asked = queue.ask(NewQuestion {
            pid: 1,
            image: "coder:1".into(),
            question,
            choices,
        });
        assert!(matches!(asked, Err(HumanError::Invalid(_))), "{asked:?}");
    }
    Ok(())
}

#[test]
fn an_ended_process_requests_are_closed_and_say_so() -> anyhow::Result<()> {
    let (dir, queue) = open()?;
    let id = queue
        .request(None, write(5, "a.txt", "d"))?
        .request()
        .id
        .clone();
    let other = queue
        .request(None, write(6, "a.txt", "d"))?
        .request()
        .id
        .clone();
    // A handle that recorded nothing for a pid closes nothing (and reads nothing).
    let elsewhere = HumanQueue::open(dir.path().join("libos.db"))?;
    assert!(elsewhere.close_for(5)?.is_empty());
    let closed = queue.close_for(5)?;
    assert_eq!(
        closed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [id.as_str()]
    );
    assert_eq!(queue.get(&id)?.state, RequestState::Expired);
    assert!(queue.close_for(5)?.is_empty(), "once");
    let late = queue.approve(&id, Scope::Once, None, "alice");
    assert!(
        matches!(late, Err(HumanError::Closed { pid: 5, .. })),
        "{late:?}"
    );
    assert_eq!(
        queue.get(&other)?.state,
        RequestState::Pending,
        "other processes keep theirs"
    );
    Ok(())
}

#[test]
fn a_process_cannot_flood_the_queue() -> anyhow::Result<()> {
    let (_dir, queue) = open()?;
    for i in 0..libos_human::MAX_WAITING {
        queue.request(None, write(9, &format!("f{i}.txt"), "d"))?;
    }
    let more = queue.request(None, write(9, "one-more.txt", "d"));
    assert!(
        matches!(more, Err(HumanError::TooManyWaiting { pid: 9, .. })),
        "{more:?}"
    );
    let question = queue.ask(NewQuestion {
        pid: 9,
        image: "coder:1".into(),
        question: "and now?".into(),
        choices: vec![],
    });
    assert!(matches!(question, Err(HumanError::TooManyWaiting { .. })));
    // The same effect asked again still joins its request; other processes are not limited.
    assert!(matches!(
        queue.request(None, write(9, "f0.txt", "d"))?,
        Asked::Waiting(_)
    ));
    assert!(matches!(
        queue.request(None, write(10, "f0.txt", "d"))?,
        Asked::New(_)
    ));
    Ok(())
}
