//! The image store: component blobs on disk, image records in SQLite.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::blobs::BlobStore;
use crate::cache::ResolvedCache;
use crate::digest::Digest;
use crate::error::ImageError;
use crate::image::{
    BuildChange, Built, ComponentRef, Image, ImageRecord, ImageSummary, RECORD_FORMAT,
};
use crate::manifest::{ComponentFile, Manifest};
use crate::names::compare_versions;
use crate::reference::Reference;
use crate::row::{decode_row, parse_stored_digest};
use crate::schema::{self, DB_FILE, IMAGE_COLUMNS};

/// How many candidates an ambiguous digest reference reports.
const MAX_REPORTED_MATCHES: usize = 10;

/// A handle on the images of one state directory.
///
/// Blobs live under `<state_dir>/images/sha256/<64 hex digits>`; image records live in the
/// `images` table of `<state_dir>/libos.db`. Any number of handles, in any number of threads
/// or processes, may use the same state directory at once: blobs are written atomically and
/// records are updated in SQLite transactions (WAL mode, 5 s busy timeout).
#[derive(Debug)]
pub struct ImageStore {
    state_dir: PathBuf,
    blobs: BlobStore,
    conn: Mutex<Connection>,
    resolved: Mutex<ResolvedCache>,
}

impl ImageStore {
    /// Opens the store in `state_dir`, creating the directory, the blob directories, the
    /// database and the `images` table as needed.
    ///
    /// # Errors
    /// [`ImageError::Io`] if a directory cannot be created, [`ImageError::Database`] if the
    /// database cannot be opened or set up.
    pub fn open(state_dir: &Path) -> Result<ImageStore, ImageError> {
        std::fs::create_dir_all(state_dir).map_err(|e| ImageError::io(state_dir, e))?;
        let blobs = BlobStore::open(state_dir)?;
        let conn = schema::open(&state_dir.join(DB_FILE))?;
        Ok(ImageStore {
            state_dir: state_dir.to_path_buf(),
            blobs,
            conn: Mutex::new(conn),
            resolved: Mutex::default(),
        })
    }

    /// The state directory this store was opened on.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Builds the image described by the manifest at `path` (an `image.toml` file or a
    /// directory holding one) and records it; see [`ImageStore::build_manifest`].
    ///
    /// # Errors
    /// [`ImageError::Manifest`] if the manifest or a component is rejected; otherwise as
    /// [`ImageStore::build_manifest`].
    pub fn build(&self, path: &Path) -> Result<Built, ImageError> {
        let manifest = Manifest::from_file(path)?;
        self.build_manifest(&manifest)
    }

    /// Stores the components of a validated manifest and records the image.
    ///
    /// Components are read again in full (their framing checked) and stored once per
    /// distinct content. The image digest is the SHA-256 of the canonical record: compact JSON
    /// of `{"format":"libos-image/1","name","version","description","agent":{"digest","size"},
    /// "tools":{name:{"digest","size"}...},"capabilities","policy","limits","budget"}` in that
    /// order (`budget` only when it sets one), tools sorted by name, capabilities normalised
    /// to `ACTION:RESOURCE`.
    ///
    /// A record with the same name and version is replaced unless it has the same digest, in
    /// which case it is left untouched ([`BuildChange::Unchanged`]); other versions are kept.
    ///
    /// # Errors
    /// [`ImageError::Manifest`] naming the field of a component that changed into something
    /// unacceptable since validation, [`ImageError::Io`] if a blob cannot be written,
    /// [`ImageError::Database`] if the record cannot be stored.
    pub fn build_manifest(&self, manifest: &Manifest) -> Result<Built, ImageError> {
        let agent = self.store_component(manifest, &manifest.agent)?;
        let mut tools = BTreeMap::new();
        for (name, file) in &manifest.tools {
            tools.insert(name.clone(), self.store_component(manifest, file)?);
        }
        let record = ImageRecord {
            format: RECORD_FORMAT.to_owned(),
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            description: manifest.description.clone(),
            agent,
            tools,
            capabilities: manifest
                .capabilities
                .iter()
                .map(ToString::to_string)
                .collect(),
            policy: manifest.policy.as_ref().map(|p| p.text.clone()),
            limits: manifest.limits,
            budget: manifest.budget,
            memory: None,
        };
        self.store_record(record)
    }

    /// Stores a new image `name:version` that is `base` (its components, capabilities,
    /// policy, limits and budgets) whose processes start with the object memory `memory` (a
    /// JSON array of `{kind, key, value}`, stored as a blob under its digest). The
    /// capabilities stay requests: a process of it holds only what whoever starts it grants.
    ///
    /// # Errors
    /// [`ImageError::InvalidReference`] for a bad name or version, or one that exists (a
    /// commit never replaces an image), I/O errors
    /// writing the blob, [`ImageError::Database`] if the record cannot be stored.
    pub fn commit(
        &self,
        base: &Image,
        (name, version): (&str, &str),
        memory: &[u8],
    ) -> Result<Built, ImageError> {
        let invalid = |reason: String| ImageError::InvalidReference {
            reference: format!("{name}:{version}").chars().take(80).collect(),
            reason,
        };
        crate::names::check_image_name(name).map_err(invalid)?;
        crate::names::check_version(version).map_err(invalid)?;
        // Never in place of an image: live processes and checkpoints run images by digest.
        if self.get(&format!("{name}:{version}")).is_ok() {
            return Err(invalid(format!(
                "an image {name}:{version} exists already; commit under another name or version"
            )));
        }
        let size = u64::try_from(memory.len()).unwrap_or(u64::MAX);
        let digest = self.blobs.put(memory)?;
        let record = ImageRecord {
            format: RECORD_FORMAT.to_owned(),
            name: name.to_owned(),
            version: version.to_owned(),
            description: base.description.clone(),
            agent: base.agent,
            tools: base.tools.clone(),
            capabilities: base.capabilities.clone(),
            policy: base.policy.clone(),
            limits: base.limits,
            budget: base.budget,
            memory: Some(ComponentRef { digest, size }),
        };
        self.store_record(record)
    }

    /// The object memory a committed image's processes start with ([`Image::memory`]), read
    /// back and checked against its digest; empty for an image without one.
    ///
    /// # Errors
    /// [`ImageError::BlobMissing`], [`ImageError::BlobCorrupt`] or I/O errors.
    pub fn read_memory(&self, image: &Image) -> Result<Vec<u8>, ImageError> {
        match &image.memory {
            None => Ok(Vec::new()),
            Some(memory) => self.blobs.read(&memory.digest),
        }
    }

    /// Stores `record` under its digest (replacing what `name:version` was).
    fn store_record(&self, record: ImageRecord) -> Result<Built, ImageError> {
        let encoded = record.encode().map_err(|e| ImageError::CorruptRecord {
            name: record.name.clone(),
            version: record.version.clone(),
            reason: format!("cannot encode: {e}"),
        })?;
        let digest = Digest::of(encoded.as_bytes());

        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let existing: Option<(String, i64)> = tx
            .query_row(
                "SELECT digest, created_ns FROM images WHERE name = ?1 AND version = ?2",
                params![record.name, record.version],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let change = match existing {
            Some((old, created)) if old == digest.to_hex() => {
                tx.commit()?;
                let created_ns = u64::try_from(created).unwrap_or(0);
                return Ok(Built {
                    image: record.into_image(digest, created_ns),
                    change: BuildChange::Unchanged,
                });
            }
            Some((old, _)) => {
                // Kept for whoever runs it by digest (a live process, a checkpoint).
                tx.execute(
                    "INSERT OR IGNORE INTO images_replaced (digest, name, version, created_ns, record)
                     SELECT digest, name, version, created_ns, record FROM images
                     WHERE name = ?1 AND version = ?2",
                    params![record.name, record.version],
                )?;
                BuildChange::Replaced {
                    previous: old.parse().map_err(|_| ImageError::CorruptRecord {
                        name: record.name.clone(),
                        version: record.version.clone(),
                        reason: format!("stored digest {old:?} is not a digest"),
                    })?,
                }
            }
            None => BuildChange::Created,
        };
        let latest: Option<i64> =
            tx.query_row("SELECT MAX(created_ns) FROM images", [], |row| row.get(0))?;
        let created = match latest {
            Some(latest) => now_ns().max(latest.saturating_add(1)),
            None => now_ns(),
        };
        let tool_count = i64::try_from(record.tools.len()).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO images (name, version, digest, created_ns, tool_count, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (name, version) DO UPDATE SET
                 digest = excluded.digest,
                 created_ns = excluded.created_ns,
                 tool_count = excluded.tool_count,
                 record = excluded.record",
            params![
                record.name,
                record.version,
                digest.to_hex(),
                created,
                tool_count,
                encoded
            ],
        )?;
        tx.commit()?;
        self.resolved().clear();
        let created_ns = u64::try_from(created).unwrap_or(0);
        Ok(Built {
            image: record.into_image(digest, created_ns),
            change,
        })
    }

    /// Every stored image, sorted by name, then by version with digit runs compared as
    /// numbers (`0.2.0` before `0.10.0`).
    ///
    /// # Errors
    /// [`ImageError::Database`] if the table cannot be read, [`ImageError::CorruptRecord`] if
    /// a row holds an invalid digest.
    pub fn list(&self) -> Result<Vec<ImageSummary>, ImageError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT name, version, digest, created_ns, tool_count FROM images")?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, i64>(4)?,
            ))
        })?;
        let mut summaries = Vec::new();
        for row in rows {
            let (name, version, digest, created, tools) = row?;
            let digest = parse_stored_digest(&name, &version, &digest)?;
            summaries.push(ImageSummary {
                name,
                version,
                digest,
                created_ns: u64::try_from(created).unwrap_or(0),
                tools: usize::try_from(tools).unwrap_or(0),
            });
        }
        summaries.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then_with(|| compare_versions(&a.version, &b.version))
        });
        Ok(summaries)
    }

    /// Looks an image up by reference: `name` (the most recently stored version of that
    /// name), `name:version`, or `sha256:<prefix>` with at least
    /// [`crate::MIN_DIGEST_PREFIX`] hex digits of the image digest.
    ///
    /// The record is verified against its digest before it is returned.
    ///
    /// # Errors
    /// [`ImageError::InvalidReference`] for a malformed reference, [`ImageError::NotFound`]
    /// naming the reference when nothing matches, [`ImageError::Ambiguous`] when a digest
    /// prefix matches several images, [`ImageError::CorruptRecord`] when the stored record
    /// does not hash to its digest or cannot be decoded, [`ImageError::Database`] on SQLite
    /// failures.
    pub fn get(&self, reference: &str) -> Result<Image, ImageError> {
        self.get_shared(reference).map(|image| Image::clone(&image))
    }

    /// [`ImageStore::get`], shared: the same resolution is handed out again while the
    /// database is unchanged, without copying the image.
    ///
    /// # Errors
    /// As [`ImageStore::get`].
    pub fn get_shared(&self, reference: &str) -> Result<Arc<Image>, ImageError> {
        let parsed = Reference::parse(reference)?;
        let conn = self.conn();
        if let Some(image) = self.resolved().get(&conn, reference) {
            return Ok(image);
        }
        let found = match &parsed {
            Reference::Name(name) => conn
                .prepare_cached(&format!(
                    "SELECT {IMAGE_COLUMNS} FROM images WHERE name = ?1
                     ORDER BY created_ns DESC, version DESC LIMIT 1"
                ))?
                .query_row([name], decode_row)
                .optional()?,
            Reference::Version { name, version } => conn
                .prepare_cached(&format!(
                    "SELECT {IMAGE_COLUMNS} FROM images WHERE name = ?1 AND version = ?2"
                ))?
                .query_row([name, version], decode_row)
                .optional()?,
            Reference::DigestPrefix(prefix) => {
                // Digests are lowercase hex and 'g' sorts after every hex digit, so this range
                // holds exactly the digests starting with `prefix`.
                let mut stmt = conn.prepare(&format!(
                    "SELECT {IMAGE_COLUMNS} FROM images WHERE digest >= ?1 AND digest < ?2
                     ORDER BY name, version LIMIT ?3"
                ))?;
                let upper = format!("{prefix}g");
                let limit = i64::try_from(MAX_REPORTED_MATCHES).unwrap_or(i64::MAX);
                let rows = stmt
                    .query_map(params![prefix, upper, limit], decode_row)?
                    .collect::<Result<Vec<_>, _>>()?;
                let mut rows = rows.into_iter();
                match (rows.next(), rows.next()) {
                    (Some(only), None) => Some(only),
                    // A replaced record, by its whole digest only.
                    (None, _) if prefix.len() == 64 => conn
                        .prepare_cached(&format!(
                            "SELECT {IMAGE_COLUMNS} FROM images_replaced WHERE digest = ?1"
                        ))?
                        .query_row([prefix], decode_row)
                        .optional()?,
                    (None, _) => None,
                    (Some(first), Some(second)) => {
                        let matches = [first, second]
                            .into_iter()
                            .chain(rows)
                            .map(|r| format!("{}:{} (sha256:{})", r.name, r.version, r.digest))
                            .collect();
                        return Err(ImageError::Ambiguous {
                            reference: reference.to_owned(),
                            matches,
                        });
                    }
                }
            }
        };
        match found {
            Some(row) => {
                let image = Arc::new(row.into_image()?);
                self.resolved().put(reference, &image);
                Ok(image)
            }
            None => Err(ImageError::NotFound {
                reference: reference.to_owned(),
            }),
        }
    }

    /// Stores a component given as bytes (a tool registered at run time) under its digest,
    /// after checking its header and section framing; returns the digest.
    ///
    /// # Errors
    /// [`ImageError::NotAComponent`] when the bytes are no component (or larger than
    /// [`crate::MAX_COMPONENT_SIZE`]); I/O errors writing the blob.
    pub fn put_component(&self, bytes: &[u8]) -> Result<Digest, ImageError> {
        crate::component::check_bytes(bytes).map_err(ImageError::NotAComponent)?;
        self.blobs.put(bytes)
    }

    /// Where the component blob named `digest` is stored. The file may not exist.
    pub fn component_path(&self, digest: &Digest) -> PathBuf {
        self.blobs.path(digest)
    }

    /// Reads a component blob and checks that its content still hashes to `digest`.
    ///
    /// # Errors
    /// [`ImageError::BlobMissing`] if no such blob is stored, [`ImageError::BlobCorrupt`] if
    /// its content was altered, [`ImageError::Io`] if it cannot be read.
    pub fn read_component(&self, digest: &Digest) -> Result<Vec<u8>, ImageError> {
        self.blobs.read(digest)
    }

    fn store_component(
        &self,
        manifest: &Manifest,
        file: &ComponentFile,
    ) -> Result<ComponentRef, ImageError> {
        let bytes = manifest.read_component(file)?;
        let digest = self.blobs.put(&bytes)?;
        Ok(ComponentRef {
            digest,
            size: bytes.len() as u64,
        })
    }

    fn resolved(&self) -> MutexGuard<'_, ResolvedCache> {
        self.resolved.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave the connection half-updated: every
        // change runs in a transaction that SQLite rolls back if it is not committed.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Now, in nanoseconds since the Unix epoch (0 if the clock is before it).
fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
