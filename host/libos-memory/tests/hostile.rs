//! Untrusted input: malformed names and values are refused, odd ones stored literally.

mod common;

use anyhow::Result;
use common::{limits, store};
use libos_memory::{MemoryError, ObjectStore, Usage};

fn assert_invalid<T: std::fmt::Debug>(result: libos_memory::Result<T>, mentions: &str) {
    match result {
        Err(MemoryError::Invalid(message)) => {
            assert!(
                message.contains(mentions),
                "{message:?} should mention {mentions:?}"
            )
        }
        other => panic!("expected Invalid mentioning {mentions:?}, got {other:?}"),
    }
}

fn assert_untouched(store: &ObjectStore) -> Result<()> {
    assert_eq!(store.usage("pid:1")?, Usage::default());
    assert!(store.list("pid:1", "note", None, 10)?.is_empty());
    Ok(())
}

#[test]
fn invalid_json_is_refused() -> Result<()> {
    let (_dir, store) = store();
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    for bad in [
        "",
        "   ",
        "{",
        "{'a': 1}",
        "{\"a\" 1}",
        "[1, 2,]",
        "nul",
        "1 2",
        "{} extra",
        "\"unterminated",
        "\"raw\u{1}control\"",
        "\"bad escape \\x\"",
        "\"lone surrogate \\ud800\"",
        "1e400",
        "NaN",
        "{1: 2}",
        &deep,
    ] {
        assert_invalid(store.put("pid:1", "note", "k", bad, &limits()), "JSON");
        assert_invalid(
            store.compare_and_swap("pid:1", "note", "k", 0, bad, &limits()),
            "JSON",
        );
    }
    assert_untouched(&store)?;
    // Surrounding whitespace is valid and kept as given.
    store.put(
        "pid:1",
        "note",
        "k",
        " {\"a\": [1, 2.5e3, null]}\n",
        &limits(),
    )?;
    assert_eq!(
        store.get("pid:1", "note", "k")?.expect("object").value,
        " {\"a\": [1, 2.5e3, null]}\n"
    );
    Ok(())
}

#[test]
fn bad_kinds_are_refused() -> Result<()> {
    let (_dir, store) = store();
    let long = "k".repeat(65);
    for bad in [
        "", "Note", "1note", "-note", "no te", "note/x", "nöte", "note\0", &long,
    ] {
        assert_invalid(store.put("pid:1", bad, "k", "1", &limits()), "kind");
        assert_invalid(store.get("pid:1", bad, "k"), "kind");
        assert_invalid(store.list("pid:1", bad, None, 10), "kind");
        assert_invalid(store.delete("pid:1", bad, "k", None), "kind");
    }
    assert_untouched(&store)?;
    store.put("pid:1", &"k".repeat(64), "k", "1", &limits())?;
    store.put("pid:1", "a.b_c-9", "k", "1", &limits())?;
    Ok(())
}

#[test]
fn bad_keys_are_refused() -> Result<()> {
    let (_dir, store) = store();
    let long = "k".repeat(513);
    // 171 three-byte characters: 513 bytes.
    let long_multibyte = "€".repeat(171);
    for bad in [
        "",
        "a\0b",
        "tab\there",
        "new\nline",
        "del\u{7f}",
        "c1\u{9b}",
        &long,
        &long_multibyte,
    ] {
        assert_invalid(store.put("pid:1", "note", bad, "1", &limits()), "key");
        assert_invalid(
            store.compare_and_swap("pid:1", "note", bad, 0, "1", &limits()),
            "key",
        );
        assert_invalid(store.get("pid:1", "note", bad), "key");
        assert_invalid(store.delete("pid:1", "note", bad, Some(1)), "key");
    }
    assert_untouched(&store)?;
    store.put("pid:1", "note", &"k".repeat(512), "1", &limits())?;
    store.put(
        "pid:1",
        "note",
        "spaces, ünïcode ✓ and / slashes",
        "1",
        &limits(),
    )?;
    Ok(())
}

#[test]
fn bad_namespaces_are_refused() -> Result<()> {
    let (_dir, store) = store();
    let long = "n".repeat(129);
    for bad in ["", "pid:\u{0}", "pid:\r7", &long] {
        assert_invalid(store.put(bad, "note", "k", "1", &limits()), "namespace");
        assert_invalid(store.get(bad, "note", "k"), "namespace");
        assert_invalid(store.list(bad, "note", None, 1), "namespace");
        assert_invalid(store.delete(bad, "note", "k", None), "namespace");
        assert_invalid(store.usage(bad), "namespace");
        assert_invalid(store.delete_namespace(bad), "namespace");
    }
    store.put(&"n".repeat(128), "note", "k", "1", &limits())?;
    Ok(())
}

#[test]
fn sql_looking_strings_are_stored_literally() -> Result<()> {
    let (_dir, store) = store();
    let ns = "pid:1'; DROP TABLE memory_objects; --";
    let key = "x' OR '1'='1";
    let value = r#"{"q": "'); DELETE FROM memory_usage; --", "pct": "%_"}"#;
    store.put(ns, "note", key, value, &limits())?;
    store.put(ns, "note", "%", "1", &limits())?;
    store.put("pid:1", "note", "other", "1", &limits())?;

    let object = store.get(ns, "note", key)?.expect("object");
    assert_eq!((object.key.as_str(), object.value.as_str()), (key, value));
    assert!(store.get(ns, "note", "anything")?.is_none());
    let keys: Vec<_> = store
        .list(ns, "note", None, 10)?
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(keys, ["%", key]);
    assert_eq!(store.usage(ns)?.objects, 2);
    assert_eq!(store.usage("pid:1")?.objects, 1);
    assert_eq!(store.delete_namespace(ns)?, 2);
    assert_eq!(store.usage("pid:1")?.objects, 1);
    Ok(())
}

#[test]
fn error_messages_do_not_echo_input() {
    let (_dir, store) = store();
    let hostile = format!("{}\u{1b}[31m", "A".repeat(600));
    for result in [
        store.put("pid:1", "note", &hostile, "1", &limits()),
        store.put(&hostile, "note", "k", "1", &limits()),
    ] {
        let message = result.unwrap_err().to_string();
        assert!(
            !message.contains("AAAA") && !message.contains('\u{1b}'),
            "{message}"
        );
    }
}
