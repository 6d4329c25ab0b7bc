//! [`Batch`]: records of repeated decisions, handed to a sink in one piece.

use std::sync::Arc;

use crate::chain;
use crate::record::{AuditRecord, Decided};

/// Consecutive records of one decision: the next `records` records of the batch.
#[derive(Debug, Clone)]
struct Run {
    decided: Arc<Decided>,
    records: usize,
}

/// What a record adds to its decision, in 16 bytes: its time, and where its optional parts
/// are (index + 1 into the batch's side vectors; 0 when absent).
#[derive(Debug, Clone, Copy)]
struct Mark {
    time_ns: i64,
    digest: u32,
    /// Into `extras`: the request id and detail, when the record has either.
    extra: u32,
}

/// The rarer optional parts of a record.
#[derive(Debug, Clone)]
struct Extra {
    request_id: Option<String>,
    detail: Option<String>,
}

/// Audit records in order, held compactly: each run of consecutive records of the same
/// decision holds that decision once, and a record without arguments or request id takes
/// 16 bytes.
///
/// A caller deciding in a loop (a guest calling the same primitive) builds a batch with
/// [`Batch::push`] and hands it to the sink whole ([`crate::AuditSink::append_batch`]): the
/// caller's thread neither clones the shared decision per record nor copies records into the
/// sink's queue, and the memory that travels to the writer thread and back is a few bytes per
/// record; the records are built where they are written.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    runs: Vec<Run>,
    marks: Vec<Mark>,
    digests: Vec<[u8; 32]>,
    extras: Vec<Extra>,
}

impl Batch {
    /// An empty batch with room for `records` records of one run.
    pub fn with_capacity(records: usize) -> Self {
        let mut batch = Batch::default();
        batch.reserve(records);
        batch
    }

    /// Makes room for `records` more records without reallocating.
    pub fn reserve(&mut self, records: usize) {
        self.marks.reserve(records);
        if self.runs.capacity() == 0 {
            self.runs.reserve(1);
        }
    }

    /// Appends the record of `decided` made at `time_ns` (see [`AuditRecord`] for the other
    /// fields; `detail` is cut to [`crate::MAX_DETAIL`] bytes). When `decided` is the decision of the last record (the same shared value), the
    /// record joins its run without touching the decision's reference count.
    pub fn push(
        &mut self,
        decided: &Arc<Decided>,
        time_ns: i64,
        request_id: Option<String>,
        args_digest: Option<&[u8; 32]>,
        detail: Option<String>,
    ) {
        match self.runs.last_mut() {
            Some(run) if Arc::ptr_eq(&run.decided, decided) => run.records += 1,
            _ => self.runs.push(Run {
                decided: Arc::clone(decided),
                records: 1,
            }),
        }
        let digest = match args_digest {
            None => 0,
            Some(d) => {
                self.digests.push(*d);
                index(self.digests.len())
            }
        };
        let extra = if request_id.is_none() && detail.is_none() {
            0
        } else {
            self.extras.push(Extra {
                request_id,
                detail: detail.map(crate::record::capped_detail),
            });
            index(self.extras.len())
        };
        self.marks.push(Mark {
            time_ns,
            digest,
            extra,
        });
    }

    /// Number of records in the batch.
    pub fn len(&self) -> usize {
        self.marks.len()
    }

    /// True when the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.marks.is_empty()
    }

    /// Moves every record of the batch, in order, to the end of `into`, leaving the batch
    /// empty.
    pub fn drain_into(&mut self, into: &mut Vec<AuditRecord>) {
        into.reserve(self.marks.len());
        let mut extras = self.extras.drain(..);
        let mut marks = self.marks.drain(..);
        for run in self.runs.drain(..) {
            for mark in marks.by_ref().take(run.records) {
                let args_digest = (mark.digest as usize)
                    .checked_sub(1)
                    .and_then(|i| self.digests.get(i))
                    .map(|d| chain::hex_into(d, &mut [0; 64]).to_owned());
                let Extra { request_id, detail } = if mark.extra == 0 {
                    Extra {
                        request_id: None,
                        detail: None,
                    }
                } else {
                    extras.next().unwrap_or(Extra {
                        request_id: None,
                        detail: None,
                    })
                };
                into.push(AuditRecord {
                    time_ns: mark.time_ns,
                    decided: Arc::clone(&run.decided),
                    request_id,
                    args_digest,
                    detail,
                });
            }
        }
        self.digests.clear();
    }
}

/// The mark index of the last of `len` side entries. A batch never holds anywhere near
/// `u32::MAX` records (sessions hand theirs off every few dozen); past it the index saturates.
fn index(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}
