//! The lifecycle state machine: allowed and refused transitions, names, display, JSON.

use libos_proctable::{BlockedOn, State, TransitionError, check};

fn blocked() -> State {
    State::Blocked(BlockedOn::Child(7))
}

fn exited() -> State {
    State::Exited {
        output: "done".into(),
    }
}

fn failed() -> State {
    State::Failed {
        reason: "trap".into(),
    }
}

fn live_unpaused() -> Vec<State> {
    vec![State::Created, State::Ready, State::Running, blocked()]
}

fn ended() -> Vec<State> {
    vec![exited(), failed(), State::Killed]
}

fn all_blocked_on() -> Vec<BlockedOn> {
    vec![
        BlockedOn::Child(3),
        BlockedOn::Event("tick".into()),
        BlockedOn::Message,
        BlockedOn::Sleep,
        BlockedOn::Tool("http.get".into()),
        BlockedOn::Human("approve?".into()),
    ]
}

#[test]
fn every_allowed_transition_is_accepted() {
    let mut allowed = vec![
        (State::Created, State::Ready),
        (State::Ready, State::Running),
        (State::Running, State::Ready),
        (blocked(), State::Ready),
        (State::Running, exited()),
        (State::Running, failed()),
        (State::Created, failed()),
        (State::Ready, failed()),
        (blocked(), failed()),
    ];
    for on in all_blocked_on() {
        allowed.push((State::Running, State::Blocked(on)));
    }
    for from in live_unpaused() {
        allowed.push((from.clone(), State::Killed));
        allowed.push((from.clone(), State::paused_from(from.clone())));
        allowed.push((State::paused_from(from.clone()), from.clone()));
        allowed.push((State::paused_from(from), State::Killed));
    }
    for (from, to) in allowed {
        assert_eq!(check(&from, &to), Ok(()), "{from} -> {to}");
    }
}

#[test]
fn representative_transitions_are_refused() {
    let mut refused = vec![
        (State::Created, State::Running),
        (State::Created, blocked()),
        (State::Created, exited()),
        (State::Ready, blocked()),
        (State::Ready, exited()),
        (State::Ready, State::Ready),
        (State::Running, State::Running),
        (State::Running, State::Created),
        (blocked(), State::Running),
        (blocked(), blocked()),
        (blocked(), exited()),
        // Pausing must record the state it pauses from.
        (State::Running, State::paused_from(State::Ready)),
        // Resuming must return to the paused-from state.
        (State::paused_from(State::Running), State::Ready),
        (
            State::paused_from(blocked()),
            State::Blocked(BlockedOn::Sleep),
        ),
        (State::paused_from(State::Running), failed()),
        (State::paused_from(State::Running), exited()),
        // No double pause.
        (
            State::paused_from(State::Running),
            State::paused_from(State::paused_from(State::Running)),
        ),
    ];
    for from in ended() {
        for to in [
            State::Created,
            State::Ready,
            State::Running,
            blocked(),
            State::paused_from(from.clone()),
            exited(),
            failed(),
            State::Killed,
        ] {
            refused.push((from.clone(), to));
        }
    }
    for (from, to) in refused {
        let err = check(&from, &to).expect_err(&format!("{from} -> {to} must be refused"));
        assert_eq!(
            err,
            TransitionError {
                from: from.clone(),
                to: to.clone()
            }
        );
        let message = err.to_string();
        assert!(message.contains(&from.to_string()), "{message}");
        assert!(message.contains(&to.to_string()), "{message}");
    }
}

#[test]
fn double_resume_is_refused() {
    let paused = State::paused_from(State::Running);
    assert_eq!(check(&State::Running, &paused), Ok(()));
    assert_eq!(check(&paused, &State::Running), Ok(()));
    // After resuming the process is Running; "resuming" again means asking Running -> Running.
    assert!(check(&State::Running, &State::Running).is_err());
}

#[test]
fn liveness_and_names() {
    for state in live_unpaused() {
        assert!(state.is_live() && !state.is_ended(), "{state}");
    }
    assert!(State::paused_from(State::Ready).is_live());
    for state in ended() {
        assert!(state.is_ended() && !state.is_live(), "{state}");
    }
    let names: Vec<&str> = [
        State::Created,
        State::Ready,
        State::Running,
        blocked(),
        State::paused_from(State::Ready),
        exited(),
        failed(),
        State::Killed,
    ]
    .iter()
    .map(State::name)
    .collect();
    assert_eq!(
        names,
        [
            "created", "ready", "running", "blocked", "paused", "exited", "failed", "killed"
        ]
    );
}

#[test]
fn display_shows_details() {
    assert_eq!(blocked().to_string(), "blocked(child 7)");
    assert_eq!(
        State::Blocked(BlockedOn::Sleep).to_string(),
        "blocked(sleep)"
    );
    assert_eq!(
        State::Blocked(BlockedOn::Tool("fs.read".into())).to_string(),
        "blocked(tool \"fs.read\")"
    );
    assert_eq!(
        State::paused_from(blocked()).to_string(),
        "paused(blocked(child 7))"
    );
    assert_eq!(exited().to_string(), "exited");
    assert_eq!(failed().to_string(), "failed(\"trap\")");
    assert_eq!(State::Killed.to_string(), "killed");
}

#[test]
fn json_round_trip() -> anyhow::Result<()> {
    let mut states = vec![
        State::Created,
        State::Ready,
        State::Running,
        State::paused_from(State::paused_from(blocked())),
        exited(),
        failed(),
        State::Killed,
    ];
    states.extend(all_blocked_on().into_iter().map(State::Blocked));
    states.push(State::Exited {
        output: "\"quoted\"\n\u{0}'; DROP TABLE processes; --".into(),
    });
    for state in states {
        let json = serde_json::to_string(&state)?;
        let back: State = serde_json::from_str(&json)?;
        assert_eq!(back, state, "{json}");
    }
    assert_eq!(serde_json::to_string(&State::Running)?, "\"running\"");
    assert_eq!(
        serde_json::to_string(&blocked())?,
        r#"{"blocked":{"child":7}}"#
    );
    Ok(())
}
