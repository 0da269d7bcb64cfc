//! Reading the journal back: validated batches, in order, from any sequence number.

use std::path::{Path, PathBuf};

use crate::error::JournalError;
use crate::format::BatchHash;
use crate::retire::{Anchor, read_anchor};
use crate::scan::{Chain, Step, Walk};
use crate::segment::{self, SegmentFile};

/// A batch read back, its records copied out of the segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Sequence number of `records[0]`.
    pub first_seq: u64,
    /// The hash of the batch before it (its `prev_hash` field).
    pub prev_hash: BatchHash,
    /// This batch's hash: the next batch's `prev_hash`.
    pub hash: BatchHash,
    /// The records, in sequence order.
    pub records: Vec<Vec<u8>>,
}

impl Batch {
    /// Sequence number of the last record.
    pub fn last_seq(&self) -> u64 {
        self.first_seq + self.records.len() as u64 - 1
    }
}

/// Reads a journal directory without locking it (a writer may be appending;
/// the reader then stops at whatever the writer has not finished).
#[derive(Clone, Debug)]
pub struct Reader {
    dir: PathBuf,
    segments: Vec<SegmentFile>,
    anchor: Option<Anchor>,
}

impl Reader {
    /// Lists the segments of `dir` (which must exist). Segments created
    /// after this call are not seen; open a new reader for them.
    pub fn open(dir: impl AsRef<Path>) -> Result<Reader, JournalError> {
        let dir = dir.as_ref().to_path_buf();
        let segments = segment::list_segments(&dir)?;
        let anchor = read_anchor(&dir)?;
        Ok(Reader { dir, segments, anchor })
    }

    /// The journal's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The first sequence number in the directory (1 unless older segments were retired).
    pub fn first_seq(&self) -> u64 {
        self.segments.first().map_or(1, |first| first.first_seq)
    }

    /// Every batch from the first, with the whole hash chain checked (from
    /// the retirement anchor when older segments were retired).
    pub fn batches(&self) -> Batches {
        self.batches_from(1)
    }

    /// The batches that hold `seq` or later. Checksums are checked for every
    /// batch read; the hash chain from the start of the segment holding
    /// `seq` (the whole chain only when that is the first segment: use
    /// [`verify`](crate::verify) for a full check). A torn tail (a last write
    /// that never completed, or one a live writer is still making) ends the
    /// iteration quietly; corruption (a damaged last batch included, or
    /// history missing before the first segment) ends it with one `Err`.
    pub fn batches_from(&self, seq: u64) -> Batches {
        let start = self.segments.partition_point(|s| s.first_seq <= seq).saturating_sub(1);
        let segments = self.segments[start..].to_vec();
        let chain = match segments.first() {
            Some(first) if start > 0 => Ok(Chain {
                next_seq: first.first_seq,
                last_hash: None,
            }),
            _ => Chain::start(&segments, self.anchor),
        };
        let (chain, pending) = match chain {
            Ok(chain) => (chain, None),
            Err(error) => (Chain::GENESIS, Some(error)),
        };
        Batches {
            walk: Walk::new(segments, chain),
            from_seq: seq,
            pending,
            done: false,
        }
    }
}

/// Iterator over validated batches; see [`Reader::batches_from`].
pub struct Batches {
    walk: Walk,
    from_seq: u64,
    /// An error found before the walk began, returned first.
    pending: Option<JournalError>,
    done: bool,
}

impl Iterator for Batches {
    type Item = Result<Batch, JournalError>;

    fn next(&mut self) -> Option<Result<Batch, JournalError>> {
        if let Some(error) = self.pending.take() {
            self.done = true;
            return Some(Err(error));
        }
        while !self.done {
            match self.walk.step() {
                Ok(Step::Batch { batch, .. }) if batch.last_seq() >= self.from_seq => {
                    let records = batch.records().map(<[u8]>::to_vec).collect();
                    return Some(Ok(Batch {
                        first_seq: batch.first_seq(),
                        prev_hash: batch.prev_hash(),
                        hash: batch.hash,
                        records,
                    }));
                }
                Ok(Step::Batch { .. }) => {}
                Ok(Step::End(_)) => self.done = true,
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
        }
        None
    }
}

impl std::iter::FusedIterator for Batches {}
