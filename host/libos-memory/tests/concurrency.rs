//! Several handles and threads on one database file never break limits or versions.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;

use anyhow::Result;
use libos_memory::{LimitKind, MemoryError, MemoryLimits, ObjectStore, Usage};

#[test]
fn two_handles_hammering_put_never_exceed_max_objects() -> Result<()> {
    let (_dir, path) = common::db_path();
    let limits = MemoryLimits {
        max_objects: 37,
        ..MemoryLimits::default()
    };
    let stores = [
        Arc::new(ObjectStore::open(&path)?),
        Arc::new(ObjectStore::open(&path)?),
    ];
    let barrier = Arc::new(Barrier::new(4));
    let mut handles = Vec::new();
    for thread_id in 0..4 {
        let store = Arc::clone(&stores[thread_id % 2]);
        let barrier = Arc::clone(&barrier);
        handles.push(thread::spawn(move || -> Result<u64, MemoryError> {
            barrier.wait();
            let mut created = 0;
            for i in 0..30 {
                let key = format!("t{thread_id}-{i}");
                match store.put("shared", "item", &key, &i.to_string(), &limits) {
                    Ok(1) => created += 1,
                    Ok(version) => panic!("new key got version {version}"),
                    Err(MemoryError::NamespaceFull {
                        limit: LimitKind::Objects,
                        ..
                    }) => {}
                    Err(other) => return Err(other),
                }
                // Replacements of existing objects keep succeeding when full.
                if i % 5 == 0 {
                    let _ = store.put("shared", "item", &format!("t{thread_id}-0"), "0", &limits);
                }
            }
            Ok(created)
        }));
    }
    let mut created = 0;
    for handle in handles {
        created += handle.join().expect("thread")?;
    }
    assert_eq!(created, 37);
    for store in &stores {
        assert_eq!(store.usage("shared")?.objects, 37);
        assert_eq!(store.list("shared", "item", None, 1000)?.len(), 37);
    }
    Ok(())
}

#[test]
fn concurrent_byte_accounting_matches_contents() -> Result<()> {
    let (_dir, path) = common::db_path();
    let limits = MemoryLimits {
        max_namespace_bytes: 2_000,
        ..MemoryLimits::default()
    };
    let stores = [
        Arc::new(ObjectStore::open(&path)?),
        Arc::new(ObjectStore::open(&path)?),
    ];
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = stores
        .iter()
        .enumerate()
        .map(|(thread_id, store)| {
            let (store, barrier) = (Arc::clone(store), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                for i in 0..60u32 {
                    let key = format!("k{}", i % 12);
                    let value = format!(
                        "\"{}\"",
                        "x".repeat(((i * 7 + thread_id as u32) % 90) as usize)
                    );
                    match store.put("shared", "blob", &key, &value, &limits) {
                        Ok(_) | Err(MemoryError::NamespaceFull { .. }) => {}
                        Err(other) => return Err(other),
                    }
                    if i % 9 == 0 {
                        store.delete("shared", "blob", &key, None)?;
                    }
                }
                Ok(())
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("thread")?;
    }
    let listed = stores[0].list("shared", "blob", None, 1000)?;
    let expected = Usage {
        objects: listed.len() as u64,
        bytes: listed.iter().map(|m| m.size).sum(),
    };
    assert_eq!(stores[1].usage("shared")?, expected);
    assert!(expected.bytes <= 2_000);
    Ok(())
}

#[test]
fn versions_never_skip_or_repeat_under_contention() -> Result<()> {
    let (_dir, path) = common::db_path();
    let stores = [
        Arc::new(ObjectStore::open(&path)?),
        Arc::new(ObjectStore::open(&path)?),
    ];
    let limits = MemoryLimits::default();
    let handles: Vec<_> = (0..4)
        .map(|thread_id| {
            let store = Arc::clone(&stores[thread_id % 2]);
            thread::spawn(move || {
                (0..25)
                    .map(|_| store.put("shared", "counter", "c", "0", &limits))
                    .collect::<Result<Vec<u64>, _>>()
            })
        })
        .collect();
    let mut versions = Vec::new();
    for handle in handles {
        versions.extend(handle.join().expect("thread")?);
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=100).collect::<Vec<u64>>());
    Ok(())
}
