//! The hash chain: canonical encoding of a record and the SHA-256 link between records.
//!
//! # Format
//!
//! For the record at position `seq`, stored after a record whose hash is `prev_hash`:
//!
//! ```text
//! hash = SHA-256(prev_hash || encoding)
//! ```
//!
//! where `prev_hash` is the 32 raw bytes of the previous record's hash ([`GENESIS_HASH`], 32
//! zero bytes, for the first record, `seq = 1`), and `encoding` is the concatenation of:
//!
//! | field         | encoding                                                        |
//! |---------------|-----------------------------------------------------------------|
//! | `seq`         | `i64`, 8 bytes big-endian two's complement                      |
//! | `time_ns`     | `i64`, 8 bytes big-endian two's complement                      |
//! | `subject`     | string                                                          |
//! | `action`      | string                                                          |
//! | `resource`    | string                                                          |
//! | `verdict`     | string: `allow`, `deny` or `ask`                                |
//! | `reason`      | string                                                          |
//! | `policy_ids`  | count as `u64` 8 bytes big-endian, then each id as a string     |
//! | `request_id`  | optional string                                                 |
//! | `args_digest` | optional string                                                 |
//! | `detail`      | string, only when the record has one (absent: nothing at all)   |
//!
//! - *string*: byte length of its UTF-8 encoding as `u64`, 8 bytes big-endian, then the bytes.
//! - *optional string*: one byte `0x00` if absent; otherwise one byte `0x01` then the string.
//!
//! A record without `detail` encodes exactly as records did before the field existed, so
//! their hashes still hold; the encoding's end is where the record's bytes end, so a present
//! and an absent `detail` never share an encoding. No separators, padding or trailing bytes. Hashes are stored as 64 lowercase hex digits.

use sha2::{Digest, Sha256};

use crate::record::AuditRecord;

/// The `prev_hash` of the first record in a log: 32 zero bytes.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// The canonical encoding of `record` at position `seq`, as described in the module
/// documentation. Two different `(seq, record)` pairs never share an encoding.
pub fn encode(seq: i64, record: &AuditRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    encode_into(seq, record, &mut |bytes| out.extend_from_slice(bytes));
    out
}

/// The chain hash of `record` at position `seq`, following a record whose hash is
/// `prev_hash`: `SHA-256(prev_hash || encode(seq, record))`.
pub fn record_hash(prev_hash: &[u8; 32], seq: i64, record: &AuditRecord) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    encode_into(seq, record, &mut |bytes| hasher.update(bytes));
    hasher.finalize().into()
}

/// Feeds the encoding of `(seq, record)` to `out`, piece by piece.
fn encode_into(seq: i64, record: &AuditRecord, out: &mut impl FnMut(&[u8])) {
    out(&seq.to_be_bytes());
    out(&record.time_ns.to_be_bytes());
    let decided = &*record.decided;
    put_str(out, &decided.subject);
    put_str(out, &decided.action);
    put_str(out, &decided.resource);
    put_str(out, decided.verdict.as_str());
    put_str(out, &decided.reason);
    put_len(out, decided.policy_ids.len());
    for id in decided.policy_ids.iter() {
        put_str(out, id);
    }
    put_opt_str(out, record.request_id.as_deref());
    put_opt_str(out, record.args_digest.as_deref());
    if let Some(detail) = &record.detail {
        put_str(out, detail);
    }
}

/// `hash` as 64 lowercase hex digits, written into `buf` (no allocation): the form hashes
/// and argument digests are stored in.
pub fn hex_into<'b>(hash: &[u8; 32], buf: &'b mut [u8; 64]) -> &'b str {
    // 32 bytes always fill exactly 64 digits, and hex digits are ASCII: neither fallback
    // can happen.
    match hex::encode_to_slice(hash, buf) {
        Ok(()) => std::str::from_utf8(buf).unwrap_or_default(),
        Err(_) => "",
    }
}

fn put_len(out: &mut impl FnMut(&[u8]), len: usize) {
    // usize is at most 64 bits on every supported target, so this never truncates.
    out(&(len as u64).to_be_bytes());
}

fn put_str(out: &mut impl FnMut(&[u8]), s: &str) {
    put_len(out, s.len());
    out(s.as_bytes());
}

fn put_opt_str(out: &mut impl FnMut(&[u8]), s: Option<&str>) {
    match s {
        None => out(&[0]),
        Some(s) => {
            out(&[1]);
            put_str(out, s);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::record::Verdict;

    fn sample() -> AuditRecord {
        AuditRecord {
            time_ns: 1,
            decided: Arc::new(crate::record::Decided {
                subject: "tool:a".into(),
                action: "fs.read".into(),
                resource: "x".into(),
                verdict: Verdict::Allow,
                reason: "".into(),
                policy_ids: vec!["p".to_owned()].into(),
            }),
            request_id: None,
            args_digest: Some("ab".into()),
            detail: None,
        }
    }

    #[test]
    fn a_detail_is_appended_and_its_absence_encodes_as_before_the_field() {
        let without = sample();
        let mut with = sample();
        with.detail = Some(r#"["cat","/etc/shadow"]"#.into());
        let (old, new) = (encode(3, &without), encode(3, &with));
        // Without a detail: not a byte more than the layout before the field.
        assert!(old.ends_with(&[1, 0, 0, 0, 0, 0, 0, 0, 2, b'a', b'b']));
        assert_eq!(&new[..old.len()], &old[..], "the detail only follows");
        let mut tail = Vec::new();
        put_str(
            &mut |b: &[u8]| tail.extend_from_slice(b),
            with.detail.as_deref().unwrap_or(""),
        );
        assert_eq!(&new[old.len()..], &tail[..]);
        assert_ne!(
            record_hash(&GENESIS_HASH, 3, &without),
            record_hash(&GENESIS_HASH, 3, &with)
        );
    }

    #[test]
    fn encoding_matches_the_documented_layout() {
        let mut expected = Vec::new();
        expected.extend_from_slice(&7i64.to_be_bytes());
        expected.extend_from_slice(&1i64.to_be_bytes());
        for s in ["tool:a", "fs.read", "x", "allow", ""] {
            expected.extend_from_slice(&(s.len() as u64).to_be_bytes());
            expected.extend_from_slice(s.as_bytes());
        }
        expected.extend_from_slice(&1u64.to_be_bytes());
        expected.extend_from_slice(&1u64.to_be_bytes());
        expected.extend_from_slice(b"p");
        expected.push(0);
        expected.push(1);
        expected.extend_from_slice(&2u64.to_be_bytes());
        expected.extend_from_slice(b"ab");
        assert_eq!(encode(7, &sample()), expected);

        let mut hasher = Sha256::new();
        hasher.update(GENESIS_HASH);
        hasher.update(&expected);
        let direct: [u8; 32] = hasher.finalize().into();
        assert_eq!(record_hash(&GENESIS_HASH, 7, &sample()), direct);
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let mut a = sample();
        let d = Arc::make_mut(&mut a.decided);
        d.subject = "ab".into();
        d.action = "c".into();
        let mut b = sample();
        let d = Arc::make_mut(&mut b.decided);
        d.subject = "a".into();
        d.action = "bc".into();
        assert_ne!(encode(1, &a), encode(1, &b));

        let mut none = sample();
        none.request_id = None;
        let mut empty = sample();
        empty.request_id = Some(String::new());
        assert_ne!(encode(1, &none), encode(1, &empty));
    }
}
