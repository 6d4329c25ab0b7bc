//! The chain head kept outside the database: `<database>.head`, one line `SEQ HASH`.
//!
//! The `audit_head` row lives in the database it vouches for, so whoever can rewrite the
//! database can cut its tail and move that row back (or empty or replace the whole file) and
//! the chain still verifies. The writer therefore also writes the head it committed to a file
//! of its own after each batch (written aside and renamed over, once the batch's commit is
//! synced), and verification requires the record that file names, with that hash, to be in the
//! database. The file may lag the database (a crash between the commit and the file, or
//! another writer's newer head overwritten by an older one is never written: the file only
//! moves forward), never run ahead of it.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Where the head of the database at `db` is kept.
pub fn path_for(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".head");
    db.with_file_name(name)
}

/// The `(seq, hash)` the file at `path` names; `Ok(None)` when there is no file.
///
/// # Errors
/// Why the file cannot be read or parsed.
pub fn read(path: &Path) -> Result<Option<(i64, [u8; 32])>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut words = text.split_whitespace();
    let seq = words
        .next()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| format!("{}: no record number", path.display()))?;
    let hash = words
        .next()
        .and_then(|h| hex::decode(h).ok())
        .and_then(|h| <[u8; 32]>::try_from(h).ok())
        .ok_or_else(|| format!("{}: no hash", path.display()))?;
    Ok(Some((seq, hash)))
}

/// Moves the file at `path` forward to `(seq, hash)` (never back: a head at or past `seq`
/// stays); call it only once the database holding `seq` is synced.
///
/// # Errors
/// The I/O error that stopped it.
pub(crate) fn advance(path: &Path, seq: i64, hash: &[u8; 32]) -> std::io::Result<()> {
    if let Ok(Some((current, _))) = read(path)
        && current >= seq
    {
        return Ok(());
    }
    // Unique per writer: several logs (in one process or many) may share a database.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("head-{}-{n}", std::process::id()));
    {
        let mut file = std::fs::File::create(&tmp)?;
        writeln!(file, "{seq} {}", hex::encode(hash))?;
    }
    // Not synced: the database it follows is (`synchronous=FULL`), so after a crash of the
    // machine the file may lag the database, which is allowed, but never lead it.
    std::fs::rename(&tmp, path)
}
