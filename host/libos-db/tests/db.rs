//! Opening the shared database and running write transactions on it.

use libos_db::{SharedConnection, open};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER NOT NULL);";

#[test]
fn open_uses_wal_and_keeps_other_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libos.db");
    let conn = open(&path, SCHEMA).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
    conn.execute("INSERT INTO t VALUES ('a', 1)", []).unwrap();
    drop(conn);
    // Another crate's schema on the same file leaves this one's rows alone.
    let other = open(&path, "CREATE TABLE IF NOT EXISTS u (x INTEGER);").unwrap();
    let n: i64 = other
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn immediate_commits_on_success_and_rolls_back_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let shared = SharedConnection::new(open(&dir.path().join("libos.db"), SCHEMA).unwrap());
    shared
        .immediate::<_, rusqlite::Error>(|c| c.execute("INSERT INTO t VALUES ('a', 1)", []))
        .unwrap();
    let failed = shared.immediate::<(), rusqlite::Error>(|c| {
        c.execute("INSERT INTO t VALUES ('b', 2)", [])?;
        // Violates the primary key: the whole transaction, 'b' included, is rolled back.
        c.execute("INSERT INTO t VALUES ('a', 3)", [])?;
        Ok(())
    });
    assert!(failed.is_err());
    let keys: Vec<String> = shared
        .lock()
        .prepare("SELECT k FROM t ORDER BY k")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(keys, ["a"]);
}

#[test]
fn a_directory_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    assert!(open(dir.path(), SCHEMA).is_err());
}

#[test]
fn many_connections_opening_a_fresh_file_at_once_all_succeed() {
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("libos.db");
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| open(&path, SCHEMA).map(|_| ())))
                .collect();
            for h in handles {
                h.join().unwrap().unwrap();
            }
        });
    }
}

#[test]
fn connections_keep_statements_prepared_and_leave_checkpoints_to_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libos.db");
    let conn = open(&path, SCHEMA).unwrap();
    let pages: u32 = conn
        .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
        .unwrap();
    assert_eq!(pages, libos_db::FOREGROUND_CHECKPOINT);
    let qpsg = conn
        .db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG)
        .unwrap();
    assert!(qpsg, "kept statements are not re-prepared on new bindings");
    let writer = open(&path, "").unwrap();
    libos_db::checkpoint_here(&writer).unwrap();
    let pages: u32 = writer
        .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
        .unwrap();
    assert_eq!(pages, libos_db::BACKGROUND_CHECKPOINT);
}
