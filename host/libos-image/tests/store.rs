//! Building, listing and looking up images in the store.

mod common;

use std::fs;
use std::path::Path;

use common::{COMPONENT, ImageDir, component_with, minimal};
use libos_image::{BuildChange, Digest, ImageError, ImageStore};

fn blob_count(state: &Path) -> usize {
    fs::read_dir(state.join("images/sha256")).unwrap().count()
}

#[test]
fn build_stores_each_distinct_component_once() {
    let state = tempfile::tempdir().unwrap();
    let store = ImageStore::open(state.path()).unwrap();
    let dir = minimal(
        "a",
        "1",
        "[tools]\none = \"one.wasm\"\ntwo = \"two.wasm\"\n",
    );
    let tool = component_with("tool");
    dir.file("one.wasm", &tool).file("two.wasm", &tool);

    let built = store.build(dir.path()).unwrap();
    assert_eq!(built.change, BuildChange::Created);
    let image = built.image;
    assert_eq!(image.tools.len(), 2);
    assert_eq!(image.tools["one"], image.tools["two"]);
    assert_eq!(image.tools["one"].digest, Digest::of(&tool));
    assert_eq!(image.tools["one"].size, tool.len() as u64);
    assert_eq!(image.agent.digest, Digest::of(COMPONENT));
    assert_eq!(blob_count(state.path()), 2);
    assert!(
        fs::read_dir(state.path().join("images/tmp"))
            .unwrap()
            .next()
            .is_none()
    );

    let path = store.component_path(&image.agent.digest);
    assert_eq!(
        path,
        state
            .path()
            .join("images/sha256")
            .join(image.agent.digest.to_hex())
    );
    assert!(fs::metadata(&path).unwrap().permissions().readonly());
    assert_eq!(
        store.read_component(&image.agent.digest).unwrap(),
        COMPONENT
    );
    assert_eq!(
        store.read_component(&image.tools["one"].digest).unwrap(),
        tool
    );

    // A second image sharing the agent adds no agent blob.
    let other = minimal("b", "1", "");
    store.build(other.path()).unwrap();
    assert_eq!(blob_count(state.path()), 2);
}

#[test]
fn image_contents_are_recorded() {
    let state = tempfile::tempdir().unwrap();
    let store = ImageStore::open(state.path()).unwrap();
    let dir = minimal(
        "a",
        "1",
        "description = \"d\"\npolicy = \"p.cedar\"\ncapabilities = [\"fs.read\"]\n[limits]\nmax_children = 3\n",
    );
    dir.file("p.cedar", b"permit(principal, action, resource);\n");
    let built = store.build(dir.path()).unwrap().image;
    assert_eq!(built.description.as_deref(), Some("d"));
    assert_eq!(built.capabilities, ["fs.read:**"]);
    assert_eq!(
        built.policy.as_deref(),
        Some("permit(principal, action, resource);\n")
    );
    assert_eq!(built.limits.max_children, 3);
    assert_eq!(built.reference(), "a:1");

    let got = store.get("a:1").unwrap();
    assert_eq!(got, built);
    let json = serde_json::to_string(&got).unwrap();
    let back: libos_image::Image = serde_json::from_str(&json).unwrap();
    assert_eq!(back, got);
}

#[test]
fn building_the_same_content_twice_gives_the_same_digest() {
    let state = tempfile::tempdir().unwrap();
    let store = ImageStore::open(state.path()).unwrap();
    let dir = minimal("a", "1", "capabilities = [\"fs.read:**\"]\n");
    let first = store.build(dir.path()).unwrap();
    let second = store.build(dir.path()).unwrap();
    assert_eq!(second.change, BuildChange::Unchanged);
    assert_eq!(first.image, second.image);

    // The same content in another directory, on another store, has the same digest too.
    let other_state = tempfile::tempdir().unwrap();
    let other = ImageStore::open(other_state.path()).unwrap();
    let copy = minimal("a", "1", "capabilities = [\"fs.read:**\"]\n");
    assert_eq!(
        other.build(copy.path()).unwrap().image.digest,
        first.image.digest
    );

    // Changing anything changes the digest and replaces the record.
    dir.toml("name = \"a\"\nversion = \"1\"\nagent = \"agent.wasm\"\n");
    let third = store.build(dir.path()).unwrap();
    assert_eq!(
        third.change,
        BuildChange::Replaced {
            previous: first.image.digest
        }
    );
    assert_ne!(third.image.digest, first.image.digest);
    assert!(third.image.created_ns > first.image.created_ns);
    assert_eq!(store.list().unwrap().len(), 1);
    assert_eq!(store.get("a:1").unwrap().digest, third.image.digest);
    // The replaced record is still found by its whole digest (a process that runs it is
    // resumed with it), never by a prefix or a name.
    let old = first.image.digest.to_string();
    assert_eq!(
        store.get(&format!("sha256:{old}")).unwrap().capabilities,
        first.image.capabilities
    );
    assert!(store.get(&format!("sha256:{}", &old[..16])).is_err());
}

#[test]
fn list_is_sorted_by_name_then_version() {
    let state = tempfile::tempdir().unwrap();
    let store = ImageStore::open(state.path()).unwrap();
    for (name, version) in [
        ("b", "1.0"),
        ("a", "0.10.0"),
        ("a", "0.2.0"),
        ("c", "1"),
        ("a", "0.9.1"),
    ] {
        let dir = minimal(name, version, "[tools]\nt = \"agent.wasm\"\n");
        store.build(dir.path()).unwrap();
    }
    let list = store.list().unwrap();
    let order: Vec<(String, String)> = list
        .iter()
        .map(|s| (s.name.clone(), s.version.clone()))
        .collect();
    let expected = [
        ("a", "0.2.0"),
        ("a", "0.9.1"),
        ("a", "0.10.0"),
        ("b", "1.0"),
        ("c", "1"),
    ];
    assert_eq!(order, expected.map(|(n, v)| (n.to_owned(), v.to_owned())));
    assert!(list.iter().all(|s| s.tools == 1 && s.created_ns > 0));
    assert_eq!(list[0].digest, store.get("a:0.2.0").unwrap().digest);
}

#[test]
fn get_by_name_version_and_digest_prefix() {
    let state = tempfile::tempdir().unwrap();
    let store = ImageStore::open(state.path()).unwrap();
    let v2 = store
        .build(minimal("agent", "2.0", "").path())
        .unwrap()
        .image;
    let v1 = store
        .build(minimal("agent", "1.0", "").path())
        .unwrap()
        .image;
    let other = store
        .build(minimal("other", "1.0", "").path())
        .unwrap()
        .image;

    // A bare name means the most recently built version.
    assert_eq!(store.get("agent").unwrap(), v1);
    assert_eq!(store.get("agent:2.0").unwrap(), v2);
    assert_eq!(store.get("agent:1.0").unwrap(), v1);

    let hex = other.digest.to_hex();
    assert_eq!(store.get(&format!("sha256:{}", &hex[..12])).unwrap(), other);
    assert_eq!(store.get(&format!("sha256:{hex}")).unwrap(), other);
    assert_eq!(
        store
            .get(&format!("sha256:{}", hex[..20].to_uppercase()))
            .unwrap(),
        other
    );
}

#[test]
fn get_reports_missing_and_malformed_references() {
    let state = tempfile::tempdir().unwrap();
    let store = ImageStore::open(state.path()).unwrap();
    store.build(minimal("agent", "1.0", "").path()).unwrap();

    for reference in ["nobody", "agent:9.9", "sha256:000000000000"] {
        match store.get(reference) {
            Err(ImageError::NotFound { reference: r }) => assert_eq!(r, reference),
            other => panic!("{reference}: expected NotFound, got {other:?}"),
        }
        let err = store.get(reference).unwrap_err().to_string();
        assert!(err.contains(reference), "{err}");
    }
    for reference in ["sha256:abc", "sha256:xyzxyzxyzxyz", "Agent", "agent:", ""] {
        assert!(
            matches!(
                store.get(reference),
                Err(ImageError::InvalidReference { .. })
            ),
            "{reference}"
        );
    }
}

#[test]
fn ambiguous_digest_prefixes_are_reported() {
    let state = tempfile::tempdir().unwrap();
    let store = ImageStore::open(state.path()).unwrap();
    let a = store.build(minimal("a", "1", "").path()).unwrap().image;
    let b = store.build(minimal("b", "1", "").path()).unwrap().image;

    // Two real digests sharing 12 hex digits cannot be produced on demand, so give `b`'s row
    // a digest that shares `a`'s first 16 digits.
    let a_hex = a.digest.to_hex();
    let forged = format!("{}{}", &a_hex[..16], &b.digest.to_hex()[16..]);
    let conn = rusqlite::Connection::open(state.path().join("libos.db")).unwrap();
    conn.execute("UPDATE images SET digest = ?1 WHERE name = 'b'", [&forged])
        .unwrap();

    match store.get(&format!("sha256:{}", &a_hex[..12])) {
        Err(ImageError::Ambiguous { matches, .. }) => {
            assert_eq!(matches.len(), 2);
            assert!(matches[0].starts_with("a:1 "), "{matches:?}");
            assert!(matches[1].starts_with("b:1 "), "{matches:?}");
        }
        other => panic!("expected Ambiguous, got {other:?}"),
    }
    // The longer prefix is unique again; the forged row no longer matches its record.
    assert_eq!(store.get(&format!("sha256:{a_hex}")).unwrap(), a);
    assert!(matches!(
        store.get("b:1"),
        Err(ImageError::CorruptRecord { .. })
    ));
}

#[test]
fn tampered_blobs_are_detected() {
    let state = tempfile::tempdir().unwrap();
    let store = ImageStore::open(state.path()).unwrap();
    let dir = minimal("a", "1", "");
    let image = store.build(dir.path()).unwrap().image;
    let path = store.component_path(&image.agent.digest);

    let mut perms = fs::metadata(&path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&path, perms).unwrap();
    fs::write(&path, b"\0asm\x0d\x00\x01\x00\x00\x01\x00").unwrap();

    match store.read_component(&image.agent.digest) {
        Err(ImageError::BlobCorrupt { digest, actual }) => {
            assert_eq!(digest, image.agent.digest.to_hex());
            assert_ne!(actual, digest);
        }
        other => panic!("expected BlobCorrupt, got {other:?}"),
    }

    // Building again repairs the blob.
    store.build(dir.path()).unwrap();
    assert_eq!(
        store.read_component(&image.agent.digest).unwrap(),
        COMPONENT
    );

    fs::remove_file(&path).unwrap();
    assert!(matches!(
        store.read_component(&image.agent.digest),
        Err(ImageError::BlobMissing { .. })
    ));
}

#[test]
fn build_reports_manifest_errors() {
    let state = tempfile::tempdir().unwrap();
    let store = ImageStore::open(state.path()).unwrap();
    let dir = minimal("a", "1", "[limits]\nmemory = \"lots\"\n");
    match store.build(dir.path()) {
        Err(ImageError::Manifest(e)) => assert_eq!(e.field(), Some("limits.memory")),
        other => panic!("expected a manifest error, got {other:?}"),
    }
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn truncated_components_are_refused_at_build() {
    let state = tempfile::tempdir().unwrap();
    let store = ImageStore::open(state.path()).unwrap();
    let dir = minimal("a", "1", "");
    // A valid header followed by a section that claims more bytes than the file holds.
    dir.file("agent.wasm", b"\0asm\x0d\x00\x01\x00\x00\x40\x01");
    match store.build(dir.path()) {
        Err(ImageError::Manifest(e)) => assert_eq!(e.field(), Some("agent"), "{e}"),
        other => panic!("expected a manifest error, got {other:?}"),
    }
}

#[test]
fn stores_share_the_database_with_other_tables() {
    let state = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(state.path().join("libos.db")).unwrap();
    conn.execute_batch("CREATE TABLE other (x INTEGER); INSERT INTO other VALUES (7);")
        .unwrap();
    let store = ImageStore::open(state.path()).unwrap();
    store.build(minimal("a", "1", "").path()).unwrap();
    drop(store);
    let store = ImageStore::open(state.path()).unwrap();
    assert_eq!(store.list().unwrap().len(), 1);
    let x: i64 = conn
        .query_row("SELECT x FROM other", [], |r| r.get(0))
        .unwrap();
    assert_eq!(x, 7);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn concurrent_builds_from_two_handles() {
    let state = tempfile::tempdir().unwrap();
    let dirs: Vec<ImageDir> = (0..2)
        .map(|i| {
            let dir = minimal(
                &format!("img{i}"),
                "1",
                "[tools]\nshared = \"shared.wasm\"\n",
            );
            dir.file("shared.wasm", &component_with("shared"));
            dir.file("agent.wasm", &component_with(&format!("agent{i}")));
            dir
        })
        .collect();

    std::thread::scope(|scope| {
        let handles: Vec<_> = dirs
            .iter()
            .map(|dir| {
                let state = state.path();
                scope.spawn(move || {
                    let store = ImageStore::open(state).unwrap();
                    for round in 0..5 {
                        let built = store.build(dir.path()).unwrap();
                        let expected = if round == 0 {
                            BuildChange::Created
                        } else {
                            BuildChange::Unchanged
                        };
                        assert_eq!(built.change, expected);
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
    });

    let store = ImageStore::open(state.path()).unwrap();
    let list = store.list().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(blob_count(state.path()), 3);
    for summary in list {
        let image = store
            .get(&format!("{}:{}", summary.name, summary.version))
            .unwrap();
        store.read_component(&image.agent.digest).unwrap();
        store.read_component(&image.tools["shared"].digest).unwrap();
    }
}

#[test]
fn a_resolved_reference_follows_builds_through_this_store_and_others() {
    let state = tempfile::tempdir().unwrap();
    let store = ImageStore::open(state.path()).unwrap();
    let other = ImageStore::open(state.path()).unwrap();
    let dir = minimal("a", "1", "");
    let first = store.build(dir.path()).unwrap().image;
    assert_eq!(store.get("a").unwrap().digest, first.digest);
    assert_eq!(store.get("a").unwrap().digest, first.digest, "kept");

    // Rebuilt through this store: the kept resolution is dropped.
    dir.toml(
        "name = \"a\"\nversion = \"1\"\nagent = \"agent.wasm\"\ncapabilities = [\"fs.read:**\"]\n",
    );
    let second = store.build(dir.path()).unwrap().image;
    assert_ne!(second.digest, first.digest);
    assert_eq!(store.get("a").unwrap().digest, second.digest);

    // A newer version built through another handle (another terminal): seen within the
    // cache's recheck time.
    let newer = minimal("a", "2", "");
    let third = other.build(newer.path()).unwrap().image;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while store.get("a").unwrap().digest != third.digest {
        assert!(
            std::time::Instant::now() < deadline,
            "the newer build never seen"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(store.get("a:1").unwrap().digest, second.digest);
}
