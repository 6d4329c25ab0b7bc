//! Tampering with a stored log through raw SQL must be detected at the right record.

mod common;

use common::{db_path, first_bad, insert_raw, raw, record, stored_hash, write_log};
use libos_audit::chain::record_hash;

/// A flushed, closed log of five records.
fn five() -> anyhow::Result<(tempfile::TempDir, std::path::PathBuf)> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    write_log(&path, 5)?;
    assert!(libos_audit::verify(&path)?.is_ok());
    Ok((dir, path))
}

#[test]
fn edited_middle_field_is_reported_at_that_record() -> anyhow::Result<()> {
    for (column, value) in [
        ("subject", "'tool:evil'"),
        ("verdict", "'allow'"),
        ("time_ns", "0"),
        ("reason", "'nothing to see'"),
        ("policy_ids", "'[\"other\"]'"),
        ("request_id", "NULL"),
        ("args_digest", "'00'"),
    ] {
        let (_dir, path) = five()?;
        // Record 3 holds record(2): verdict ask, with a request id and no args digest.
        raw(&path)?.execute(
            &format!("UPDATE audit SET {column} = {value} WHERE seq = 3"),
            [],
        )?;
        let (seq, reason) = first_bad(&path)?;
        assert_eq!(seq, 3, "{column}: {reason}");
        assert!(reason.contains("hash does not match"), "{column}: {reason}");
    }
    Ok(())
}

#[test]
fn deleted_middle_row_is_reported_as_missing() -> anyhow::Result<()> {
    let (_dir, path) = five()?;
    raw(&path)?.execute("DELETE FROM audit WHERE seq = 3", [])?;
    let (seq, reason) = first_bad(&path)?;
    assert_eq!(seq, 3, "{reason}");
    assert!(reason.contains("missing"), "{reason}");
    Ok(())
}

#[test]
fn deleted_first_row_is_reported() -> anyhow::Result<()> {
    let (_dir, path) = five()?;
    raw(&path)?.execute("DELETE FROM audit WHERE seq = 1", [])?;
    let (seq, _) = first_bad(&path)?;
    assert_eq!(seq, 1);
    Ok(())
}

#[test]
fn deleted_and_renumbered_middle_row_is_reported() -> anyhow::Result<()> {
    let (_dir, path) = five()?;
    let conn = raw(&path)?;
    conn.execute("DELETE FROM audit WHERE seq = 3", [])?;
    conn.execute("UPDATE audit SET seq = 3 WHERE seq = 4", [])?;
    conn.execute("UPDATE audit SET seq = 4 WHERE seq = 5", [])?;
    conn.execute("UPDATE audit_head SET seq = 4", [])?;
    let (seq, reason) = first_bad(&path)?;
    assert_eq!(seq, 3, "{reason}");
    Ok(())
}

#[test]
fn deleted_last_row_is_caught_by_the_head() -> anyhow::Result<()> {
    let (_dir, path) = five()?;
    raw(&path)?.execute("DELETE FROM audit WHERE seq = 5", [])?;
    let report = libos_audit::verify(&path)?;
    assert_eq!(report.records, 4);
    let (seq, reason) = first_bad(&path)?;
    assert_eq!(seq, 5, "{reason}");
    assert!(reason.contains("head"), "{reason}");
    Ok(())
}

#[test]
fn deleted_tail_is_not_hidden_by_later_appends() -> anyhow::Result<()> {
    let (_dir, path) = five()?;
    raw(&path)?.execute("DELETE FROM audit WHERE seq >= 4", [])?;
    write_log(&path, 2)?;
    let (seq, reason) = first_bad(&path)?;
    assert_eq!(seq, 4, "{reason}");
    Ok(())
}

#[test]
fn deleting_everything_is_caught_by_the_head() -> anyhow::Result<()> {
    let (_dir, path) = five()?;
    raw(&path)?.execute("DELETE FROM audit", [])?;
    let (seq, _) = first_bad(&path)?;
    assert_eq!(seq, 1);
    Ok(())
}

#[test]
fn forged_row_inserted_in_the_middle_is_reported() -> anyhow::Result<()> {
    let (_dir, path) = five()?;
    let conn = raw(&path)?;
    // Make room at seq 3 by shifting the later rows up, then insert a forged record whose
    // hash correctly links to record 2. The forged row itself is self-consistent, so the
    // first detectable break is the next original record, now at seq 4.
    for seq in (3..=5).rev() {
        conn.execute("UPDATE audit SET seq = ?1 WHERE seq = ?2", [seq + 1, seq])?;
    }
    let prev = stored_hash(&conn, 2)?;
    let mut forged = record(100);
    std::sync::Arc::make_mut(&mut forged.decided).subject = "tool:forged".into();
    let hash = record_hash(&prev, 3, &forged);
    insert_raw(&conn, 3, &forged, &prev, &hash)?;
    conn.execute("UPDATE audit_head SET seq = 6", [])?;
    let (seq, reason) = first_bad(&path)?;
    assert_eq!(seq, 4, "{reason}");
    Ok(())
}

#[test]
fn forged_row_with_a_made_up_hash_is_reported_at_itself() -> anyhow::Result<()> {
    let (_dir, path) = five()?;
    let conn = raw(&path)?;
    for seq in (3..=5).rev() {
        conn.execute("UPDATE audit SET seq = ?1 WHERE seq = ?2", [seq + 1, seq])?;
    }
    let prev = stored_hash(&conn, 2)?;
    insert_raw(&conn, 3, &record(100), &prev, &[7; 32])?;
    let (seq, reason) = first_bad(&path)?;
    assert_eq!(seq, 3, "{reason}");
    assert!(reason.contains("hash does not match"), "{reason}");
    Ok(())
}

#[test]
fn forged_row_appended_at_the_end_is_caught_by_the_head() -> anyhow::Result<()> {
    let (_dir, path) = five()?;
    let conn = raw(&path)?;
    let prev = stored_hash(&conn, 5)?;
    let forged = record(100);
    let hash = record_hash(&prev, 6, &forged);
    insert_raw(&conn, 6, &forged, &prev, &hash)?;
    let (seq, reason) = first_bad(&path)?;
    assert_eq!(seq, 6, "{reason}");
    assert!(reason.contains("head"), "{reason}");
    Ok(())
}

#[test]
fn forged_row_before_the_first_is_reported() -> anyhow::Result<()> {
    let (_dir, path) = five()?;
    let conn = raw(&path)?;
    let forged = record(100);
    let hash = record_hash(&[0; 32], 0, &forged);
    insert_raw(&conn, 0, &forged, &[0; 32], &hash)?;
    let (seq, _) = first_bad(&path)?;
    assert_eq!(seq, 0);
    Ok(())
}

#[test]
fn swapped_rows_are_reported_at_the_earlier_one() -> anyhow::Result<()> {
    let (_dir, path) = five()?;
    let conn = raw(&path)?;
    // Swap whole rows 2 and 4 (hashes included) by renumbering.
    conn.execute_batch(
        "UPDATE audit SET seq = 100 WHERE seq = 2;
         UPDATE audit SET seq = 2 WHERE seq = 4;
         UPDATE audit SET seq = 4 WHERE seq = 100;",
    )?;
    let (seq, reason) = first_bad(&path)?;
    assert_eq!(seq, 2, "{reason}");
    Ok(())
}

#[test]
fn swapped_contents_with_hashes_left_in_place_are_reported() -> anyhow::Result<()> {
    let (_dir, path) = five()?;
    let conn = raw(&path)?;
    let cols = "time_ns, subject, action, resource, verdict, reason, policy_ids, request_id, \
                args_digest";
    conn.execute_batch(&format!(
        "CREATE TEMP TABLE saved AS SELECT seq, {cols} FROM audit WHERE seq IN (2, 4);
         UPDATE audit SET ({cols}) = (SELECT {cols} FROM saved WHERE saved.seq = 6 - audit.seq)
           WHERE seq IN (2, 4);"
    ))?;
    let subjects: Vec<String> = conn
        .prepare("SELECT resource FROM audit ORDER BY seq")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    assert_eq!(subjects[1], &*record(3).decided.resource);
    let (seq, reason) = first_bad(&path)?;
    assert_eq!(seq, 2, "{reason}");
    assert!(reason.contains("hash does not match"), "{reason}");
    Ok(())
}

#[test]
fn edited_head_is_reported() -> anyhow::Result<()> {
    let cases = [
        (
            "UPDATE audit_head SET hash = (SELECT hash FROM audit WHERE seq = 4)",
            5,
        ),
        ("UPDATE audit_head SET seq = 4", 5),
        ("UPDATE audit_head SET seq = 7", 6),
        ("DELETE FROM audit_head", 5),
        ("DROP TABLE audit_head", 5),
    ];
    for (sql, expected) in cases {
        let (_dir, path) = five()?;
        raw(&path)?.execute_batch(sql)?;
        let (seq, reason) = first_bad(&path)?;
        assert_eq!(seq, expected, "{sql}: {reason}");
    }
    Ok(())
}

#[test]
fn report_counts_all_rows_even_after_a_bad_one() -> anyhow::Result<()> {
    let (_dir, path) = five()?;
    raw(&path)?.execute("UPDATE audit SET subject = 'x' WHERE seq = 1", [])?;
    let report = libos_audit::verify(&path)?;
    assert!(!report.is_ok());
    assert_eq!(report.records, 5);
    Ok(())
}
