//! A bounded verdict cache keyed by request identity.
//!
//! Lookups take a read lock, hash the borrowed key once and compare strings: a hit allocates
//! nothing and hands back the request's shared [`Decided`], which the audit record of a
//! repeated request points to as it is. Entries are stored per 64-bit hash (one slot each); a
//! colliding key simply misses and replaces the slot. When the map reaches its capacity it is cleared wholesale.
//!
//! The most recent hit is also kept aside: a request repeating the previous one (a guest
//! calling the same primitive in a loop) is answered by comparing strings, without hashing.
//!
//! The key hash is a fast multiplicative hash seeded randomly per cache. It is not
//! collision-resistant, but collisions only cost a miss (the full key is always compared) and
//! the map is bounded, so crafted keys cannot degrade it beyond re-evaluating.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use libos_audit::Decided;

/// Default number of cached verdicts before the cache is cleared.
pub const DEFAULT_CAPACITY: usize = 4096;

/// Keys longer than this (all strings together, in bytes) are never cached, so hostile huge
/// strings cannot pin memory.
pub const MAX_CACHED_KEY_LEN: usize = 4096;

/// The identity of a request, as far as its verdict is concerned.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub(crate) struct CacheKey<'a> {
    pub(crate) subject: &'a str,
    pub(crate) action: &'a str,
    pub(crate) resource: &'a str,
    /// Present only when verdicts can depend on the digest.
    pub(crate) digest: Option<&'a [u8; 32]>,
}

impl CacheKey<'_> {
    /// Whether this key is the request `decided` was made for (with arguments `digest`).
    pub(crate) fn names(&self, decided: &Decided, digest: Option<&[u8; 32]>) -> bool {
        *decided.action == *self.action
            && *decided.resource == *self.resource
            && *decided.subject == *self.subject
            && digest == self.digest
    }

    fn len(&self) -> usize {
        self.subject.len() + self.action.len() + self.resource.len()
    }
}

#[derive(Debug, Clone)]
struct Entry {
    decided: Arc<Decided>,
    digest: Option<[u8; 32]>,
}

impl Entry {
    fn is(&self, key: &CacheKey<'_>) -> bool {
        key.names(&self.decided, self.digest.as_ref())
    }
}

/// Seeded multiplicative hash over 8-byte words, for hashing [`CacheKey`]s.
#[derive(Debug, Clone, Copy)]
struct KeyHasher(u64);

impl KeyHasher {
    const K: u64 = 0x517c_c1b7_2722_0a95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::K);
    }
}

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        // Final avalanche so that low bits (used for buckets) depend on every input bit.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

/// Passes through a `u64` that is already a hash.
#[derive(Debug, Default, Clone, Copy)]
struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Slots = HashMap<u64, Entry, BuildHasherDefault<PrehashedHasher>>;

/// A bounded, thread-safe map from [`CacheKey`] to the shared [`Decided`] for it.
#[derive(Debug)]
pub(crate) struct VerdictCache {
    seed: u64,
    slots: RwLock<Slots>,
    /// The entry most recently returned or inserted.
    last: Mutex<Option<Entry>>,
    capacity: usize,
}

impl VerdictCache {
    /// An empty cache holding at most `capacity` entries; `0` disables caching.
    pub(crate) fn new(capacity: usize) -> Self {
        VerdictCache {
            seed: RandomState::new().hash_one(0x5eed_u64),
            slots: RwLock::new(HashMap::default()),
            last: Mutex::new(None),
            capacity,
        }
    }

    /// The cached decision for `key`, if any.
    pub(crate) fn get(&self, key: &CacheKey<'_>) -> Option<Arc<Decided>> {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = last.as_ref().filter(|entry| entry.is(key)) {
            return Some(Arc::clone(&entry.decided));
        }
        let hash = self.hash(key);
        let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
        let entry = slots.get(&hash).filter(|entry| entry.is(key))?;
        *last = Some(entry.clone());
        Some(Arc::clone(&entry.decided))
    }

    /// Stores `decided` for `key` (whose strings `decided` carries), clearing the cache first
    /// when it is full. Keys longer than [`MAX_CACHED_KEY_LEN`] are not stored, nor is anything
    /// when the capacity is `0`.
    pub(crate) fn insert(&self, key: &CacheKey<'_>, decided: &Arc<Decided>) {
        if self.capacity == 0 || key.len() > MAX_CACHED_KEY_LEN {
            return;
        }
        let hash = self.hash(key);
        let entry = Entry {
            decided: Arc::clone(decided),
            digest: key.digest.copied(),
        };
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(entry.clone());
        let mut slots = self.slots.write().unwrap_or_else(PoisonError::into_inner);
        if slots.len() >= self.capacity && !slots.contains_key(&hash) {
            slots.clear();
        }
        slots.insert(hash, entry);
    }

    fn hash(&self, key: &CacheKey<'_>) -> u64 {
        let mut hasher = KeyHasher(self.seed);
        key.hash(&mut hasher);
        hasher.finish()
    }

    /// Number of cached entries.
    pub(crate) fn len(&self) -> usize {
        self.slots
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}
