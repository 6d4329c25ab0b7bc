//! `libos emit | events`: events from and for any terminal.
//!
//! Events are stored in the state directory (`libos_proctable::events`): `emit` stores one as
//! the operator (source 0) and every host wakes its processes waiting on the topic within
//! [`libos_process::TABLE_POLL`]; `events` lists the events still kept.

use std::path::Path;
use std::time::Duration;

use clap::Args;
use libos_proctable::Event;
use libos_proctable::events::{MAX_PAYLOAD, check_topic};

use super::exit::{Code, Failure};
use super::process::open_table;
use super::text::clean;

#[derive(Debug, Args)]
pub struct EmitArgs {
    /// The topic: 1-128 characters of [A-Za-z0-9._-].
    pub topic: String,
    /// The payload: JSON, at most 64 KiB.
    #[arg(default_value = "{}")]
    pub payload: String,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only events on this topic.
    #[arg(long)]
    pub topic: Option<String>,
    /// Only events after this id (see `--json`'s `id`).
    #[arg(long, default_value_t = 0, value_name = "ID")]
    pub after: u64,
    /// Keep printing new events as they are emitted (until interrupted).
    #[arg(short, long)]
    pub follow: bool,
    /// Print one JSON object per line (`id`, `topic`, `payload`, `source`, `time_ns`).
    #[arg(long)]
    pub json: bool,
}

/// Stores an event from the operator and prints its id.
pub fn emit(args: EmitArgs, state_dir: Option<&Path>) -> Result<(), Failure> {
    check_topic(&args.topic).map_err(|e| Failure::new(Code::Error, e))?;
    if args.payload.len() > MAX_PAYLOAD {
        return Err(Failure::new(
            Code::LimitExceeded,
            format!(
                "the payload is {} bytes; at most {MAX_PAYLOAD} are allowed",
                args.payload.len()
            ),
        ));
    }
    let payload: serde_json::Value = serde_json::from_str(&args.payload)
        .map_err(|e| Failure::new(Code::Error, format!("the payload is not JSON: {e}")))?;
    let table = open_table(state_dir)?;
    super::operator::record(
        state_dir,
        "events.emit",
        &args.topic,
        "operator: libos emit",
    )?;
    let id = table
        .emit(&args.topic, &payload.to_string(), 0)
        .map_err(|e| Failure::new(Code::Error, e.to_string()))?;
    println!("{id}");
    Ok(())
}

/// Prints the kept events, oldest first, following new ones if asked.
pub fn events(args: EventsArgs, state_dir: Option<&Path>) -> Result<(), Failure> {
    if let Some(topic) = &args.topic {
        check_topic(topic).map_err(|e| Failure::new(Code::Error, e))?;
    }
    let table = open_table(state_dir)?;
    let mut after = args.after;
    loop {
        let page = table
            .events(args.topic.as_deref(), after, 1000)
            .map_err(|e| Failure::new(Code::Error, e.to_string()))?;
        for event in &page {
            print_event(event, args.json);
        }
        match page.last() {
            Some(last) => after = last.id,
            None if !args.follow => return Ok(()),
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn print_event(event: &Event, json: bool) {
    if json {
        println!("{}", serde_json::to_string(event).unwrap_or_default());
    } else {
        let from = if event.source == 0 {
            "host".to_owned()
        } else {
            format!("pid {}", event.source)
        };
        println!(
            "{:<6} {:<24} {:<10} {}",
            event.id,
            clean(&event.topic),
            from,
            clean(&event.payload)
        );
    }
}
