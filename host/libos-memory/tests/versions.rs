//! Compare-and-swap and conditional delete.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;

use anyhow::Result;
use common::{limits, store};
use libos_memory::MemoryError;

#[test]
fn cas_succeeds_on_matching_version() -> Result<()> {
    let (_dir, store) = store();
    assert_eq!(
        store.compare_and_swap("pid:1", "note", "k", 0, "1", &limits())?,
        1
    );
    assert_eq!(
        store.compare_and_swap("pid:1", "note", "k", 1, "2", &limits())?,
        2
    );
    assert_eq!(
        store.compare_and_swap("pid:1", "note", "k", 2, "3", &limits())?,
        3
    );
    let object = store.get("pid:1", "note", "k")?.expect("object");
    assert_eq!((object.version, object.value.as_str()), (3, "3"));
    Ok(())
}

#[test]
fn cas_mismatch_leaves_value_unchanged() -> Result<()> {
    let (_dir, store) = store();
    store.put("pid:1", "note", "k", r#""original""#, &limits())?;
    store.put("pid:1", "note", "k", r#""current""#, &limits())?;
    let before = store.get("pid:1", "note", "k")?;
    let usage = store.usage("pid:1")?;

    // Stale version.
    let err = store
        .compare_and_swap("pid:1", "note", "k", 1, r#""lost""#, &limits())
        .unwrap_err();
    assert_eq!(
        err,
        MemoryError::VersionMismatch {
            expected: 1,
            current: Some(2)
        }
    );
    // Future version.
    let err = store
        .compare_and_swap("pid:1", "note", "k", 3, r#""lost""#, &limits())
        .unwrap_err();
    assert!(matches!(
        err,
        MemoryError::VersionMismatch {
            expected: 3,
            current: Some(2)
        }
    ));
    // "Must not exist" on an existing object.
    let err = store
        .compare_and_swap("pid:1", "note", "k", 0, r#""lost""#, &limits())
        .unwrap_err();
    assert!(matches!(
        err,
        MemoryError::VersionMismatch {
            expected: 0,
            current: Some(2)
        }
    ));
    // Huge expected versions are just mismatches.
    let err = store
        .compare_and_swap("pid:1", "note", "k", u64::MAX, "0", &limits())
        .unwrap_err();
    assert!(matches!(
        err,
        MemoryError::VersionMismatch {
            current: Some(2),
            ..
        }
    ));

    assert_eq!(store.get("pid:1", "note", "k")?, before);
    assert_eq!(store.usage("pid:1")?, usage);
    Ok(())
}

#[test]
fn cas_on_missing_object_requires_zero() -> Result<()> {
    let (_dir, store) = store();
    let err = store
        .compare_and_swap("pid:1", "note", "k", 1, "1", &limits())
        .unwrap_err();
    assert_eq!(
        err,
        MemoryError::VersionMismatch {
            expected: 1,
            current: None
        }
    );
    assert_eq!(store.get("pid:1", "note", "k")?, None);
    assert_eq!(store.usage("pid:1")?.objects, 0);
    Ok(())
}

#[test]
fn create_only_race_has_exactly_one_winner() -> Result<()> {
    let (_dir, store) = store();
    let store = Arc::new(store);
    for round in 0..20 {
        let key = format!("lock-{round}");
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|who| {
                let (store, barrier, key) = (Arc::clone(&store), Arc::clone(&barrier), key.clone());
                thread::spawn(move || {
                    barrier.wait();
                    store.compare_and_swap("pid:1", "lock", &key, 0, &who.to_string(), &limits())
                })
            })
            .collect();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        let winners: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        assert_eq!(*winners[0], Ok(1));
        let loser = results.iter().find(|r| r.is_err()).expect("a loser");
        assert!(matches!(
            loser,
            Err(MemoryError::VersionMismatch {
                expected: 0,
                current: Some(1)
            })
        ));
    }
    assert_eq!(store.usage("pid:1")?.objects, 20);
    Ok(())
}

#[test]
fn create_only_race_across_two_handles() -> Result<()> {
    let (_dir, path) = common::db_path();
    let stores = [
        Arc::new(libos_memory::ObjectStore::open(&path)?),
        Arc::new(libos_memory::ObjectStore::open(&path)?),
    ];
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = stores
        .iter()
        .map(|store| {
            let (store, barrier) = (Arc::clone(store), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                (0..50)
                    .filter(|i| {
                        store
                            .compare_and_swap("shared", "lock", &format!("{i}"), 0, "1", &limits())
                            .is_ok()
                    })
                    .count()
            })
        })
        .collect();
    let wins: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    assert_eq!(wins, 50);
    assert_eq!(stores[0].usage("shared")?.objects, 50);
    Ok(())
}

#[test]
fn delete_with_wrong_version_keeps_the_object() -> Result<()> {
    let (_dir, store) = store();
    store.put("pid:1", "note", "k", "1", &limits())?;
    store.put("pid:1", "note", "k", "2", &limits())?;
    let usage = store.usage("pid:1")?;

    for wrong in [0, 1, 3] {
        let err = store.delete("pid:1", "note", "k", Some(wrong)).unwrap_err();
        assert_eq!(
            err,
            MemoryError::VersionMismatch {
                expected: wrong,
                current: Some(2)
            }
        );
    }
    let object = store.get("pid:1", "note", "k")?.expect("still there");
    assert_eq!((object.version, object.value.as_str()), (2, "2"));
    assert_eq!(store.usage("pid:1")?, usage);

    assert!(store.delete("pid:1", "note", "k", Some(2))?);
    assert_eq!(store.get("pid:1", "note", "k")?, None);
    Ok(())
}

#[test]
fn conditional_delete_of_missing_object() -> Result<()> {
    let (_dir, store) = store();
    assert!(matches!(
        store.delete("pid:1", "note", "k", Some(1)),
        Err(MemoryError::VersionMismatch {
            expected: 1,
            current: None
        })
    ));
    assert!(!store.delete("pid:1", "note", "k", Some(0))?);
    Ok(())
}
