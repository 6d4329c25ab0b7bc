//! Basic operations: put, get, list, delete, versions, namespaces.

mod common;

use anyhow::Result;
use common::{limits, store};
use libos_memory::{ObjectStore, Usage, object_size};

#[test]
fn put_get_list_delete_round_trip() -> Result<()> {
    let (_dir, store) = store();
    assert_eq!(
        store.put("pid:1", "note", "a", r#"{"x": 1}"#, &limits())?,
        1
    );
    assert_eq!(store.put("pid:1", "note", "b", "[1, 2]", &limits())?, 1);

    let object = store.get("pid:1", "note", "a")?.expect("object a");
    assert_eq!(object.kind, "note");
    assert_eq!(object.key, "a");
    assert_eq!(object.version, 1);
    assert_eq!(object.value, r#"{"x": 1}"#, "stored exactly as given");
    assert!(object.updated_ns > 0);

    let listed = store.list("pid:1", "note", None, 100)?;
    let keys: Vec<_> = listed.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(keys, ["a", "b"]);
    assert_eq!(listed[0].size, object_size("a", r#"{"x": 1}"#));
    assert_eq!(listed[0].size, 9);
    assert_eq!(listed[0].updated_ns, object.updated_ns);

    assert!(store.delete("pid:1", "note", "a", None)?);
    assert!(!store.delete("pid:1", "note", "a", None)?);
    assert_eq!(store.get("pid:1", "note", "a")?, None);
    assert_eq!(store.list("pid:1", "note", None, 100)?.len(), 1);
    Ok(())
}

#[test]
fn missing_objects() -> Result<()> {
    let (_dir, store) = store();
    assert_eq!(store.get("pid:1", "note", "nope")?, None);
    assert!(store.list("pid:1", "note", None, 10)?.is_empty());
    assert_eq!(store.usage("pid:1")?, Usage::default());
    Ok(())
}

#[test]
fn versions_increment_on_replace() -> Result<()> {
    let (_dir, store) = store();
    for expected in 1..=5 {
        let version = store.put("pid:1", "note", "k", &expected.to_string(), &limits())?;
        assert_eq!(version, expected);
    }
    let object = store.get("pid:1", "note", "k")?.expect("object");
    assert_eq!((object.version, object.value.as_str()), (5, "5"));
    // Deleting and re-creating starts over at version 1.
    store.delete("pid:1", "note", "k", Some(5))?;
    assert_eq!(store.put("pid:1", "note", "k", "0", &limits())?, 1);
    Ok(())
}

#[test]
fn kinds_are_separate() -> Result<()> {
    let (_dir, store) = store();
    store.put("pid:1", "note", "k", "1", &limits())?;
    store.put("pid:1", "task", "k", "2", &limits())?;
    assert_eq!(store.get("pid:1", "note", "k")?.expect("note").value, "1");
    assert_eq!(store.get("pid:1", "task", "k")?.expect("task").value, "2");
    assert_eq!(store.list("pid:1", "note", None, 10)?.len(), 1);
    assert_eq!(store.usage("pid:1")?.objects, 2);
    Ok(())
}

#[test]
fn namespaces_are_isolated() -> Result<()> {
    let (_dir, store) = store();
    store.put("pid:1", "note", "k", r#""one""#, &limits())?;
    store.put("pid:2", "note", "k", r#""two""#, &limits())?;
    store.put("pid:2", "note", "k", r#""two again""#, &limits())?;

    let one = store.get("pid:1", "note", "k")?.expect("pid:1");
    let two = store.get("pid:2", "note", "k")?.expect("pid:2");
    assert_eq!((one.version, one.value.as_str()), (1, r#""one""#));
    assert_eq!((two.version, two.value.as_str()), (2, r#""two again""#));

    store.delete("pid:1", "note", "k", None)?;
    assert!(store.get("pid:2", "note", "k")?.is_some());
    assert_eq!(store.usage("pid:1")?, Usage::default());
    assert_eq!(store.usage("pid:2")?.objects, 1);
    Ok(())
}

#[test]
fn list_paginates_with_after() -> Result<()> {
    let (_dir, store) = store();
    let mut keys: Vec<String> = (0..25).map(|i| format!("key-{i:02}")).collect();
    keys.push("Zed".to_owned());
    keys.push("ünïcode".to_owned());
    for key in keys.iter().rev() {
        store.put("pid:1", "note", key, "null", &limits())?;
    }
    keys.sort();

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list("pid:1", "note", after.as_deref(), 10)?;
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 10);
        after = page.last().map(|m| m.key.clone());
        seen.extend(page.into_iter().map(|m| m.key));
    }
    assert_eq!(seen, keys);

    assert!(store.list("pid:1", "note", None, 0)?.is_empty());
    let after_middle = store.list("pid:1", "note", Some("key-19x"), 100)?;
    assert_eq!(after_middle.first().map(|m| m.key.as_str()), Some("key-20"));
    // `after` is only a bound: it need not be a valid key.
    assert_eq!(
        store.list("pid:1", "note", Some(""), 100)?.len(),
        keys.len()
    );
    assert!(
        store
            .list("pid:1", "note", Some("\u{10FFFF}"), 100)?
            .is_empty()
    );
    Ok(())
}

#[test]
fn list_is_capped() -> Result<()> {
    let (_dir, store) = store();
    for i in 0..1005 {
        store.put("pid:1", "n", &format!("{i:04}"), "0", &limits())?;
    }
    assert_eq!(store.list("pid:1", "n", None, usize::MAX)?.len(), 1000);
    assert_eq!(store.list("pid:1", "n", Some("0999"), usize::MAX)?.len(), 5);
    Ok(())
}

#[test]
fn delete_namespace_removes_only_that_namespace() -> Result<()> {
    let (_dir, store) = store();
    for key in ["a", "b", "c"] {
        store.put("pid:7", "note", key, "1", &limits())?;
    }
    store.put("pid:7", "task", "a", "1", &limits())?;
    store.put("shared", "note", "a", "1", &limits())?;

    assert_eq!(store.delete_namespace("pid:7")?, 4);
    assert_eq!(store.usage("pid:7")?, Usage::default());
    assert!(store.list("pid:7", "note", None, 10)?.is_empty());
    assert!(store.get("pid:7", "task", "a")?.is_none());
    assert!(store.get("shared", "note", "a")?.is_some());
    assert_eq!(store.delete_namespace("pid:7")?, 0);
    // The namespace is usable again afterwards.
    assert_eq!(store.put("pid:7", "note", "a", "2", &limits())?, 1);
    Ok(())
}

#[test]
fn data_survives_reopening() -> Result<()> {
    let (dir, store) = store();
    store.put("pid:1", "note", "k", "true", &limits())?;
    let path = store.path().to_path_buf();
    drop(store);
    let store = ObjectStore::open(&path)?;
    assert_eq!(
        store.get("pid:1", "note", "k")?.expect("object").value,
        "true"
    );
    assert_eq!(store.usage("pid:1")?.objects, 1);
    drop(dir);
    Ok(())
}

#[test]
fn store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ObjectStore>();
}
