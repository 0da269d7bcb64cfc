//! Reading the journal back: validated batches, in order, from any sequence number.

use std::path::{Path, PathBuf};

use crate::error::JournalError;
use crate::scan::{Chain, Step, Walk};
use crate::segment::{self, SegmentFile};

/// A batch read back, its records copied out of the segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Sequence number of `records[0]`.
    pub first_seq: u64,
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
}

impl Reader {
    /// Lists the segments of `dir` (which must exist). Segments created
    /// after this call are not seen; open a new reader for them.
    pub fn open(dir: impl AsRef<Path>) -> Result<Reader, JournalError> {
        let dir = dir.as_ref().to_path_buf();
        let segments = segment::list_segments(&dir)?;
        Ok(Reader { dir, segments })
    }

    /// The journal's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every batch from the first, with the whole hash chain checked.
    pub fn batches(&self) -> Batches {
        self.batches_from(1)
    }

    /// The batches that hold `seq` or later. Checksums are checked for every
    /// batch read; the hash chain from the start of the segment holding
    /// `seq` (the whole chain only when that is the first segment: use
    /// [`verify`](crate::verify) for a full check). A torn tail ends the
    /// iteration quietly; corruption ends it with one `Err`.
    pub fn batches_from(&self, seq: u64) -> Batches {
        let start = self.segments.partition_point(|s| s.first_seq <= seq).saturating_sub(1);
        let segments = self.segments[start..].to_vec();
        let chain = match segments.first() {
            Some(first) if start > 0 => Chain {
                next_seq: first.first_seq,
                last_hash: None,
            },
            _ => Chain::GENESIS,
        };
        Batches {
            walk: Walk::new(segments, chain),
            from_seq: seq,
            done: false,
        }
    }
}

/// Iterator over validated batches; see [`Reader::batches_from`].
pub struct Batches {
    walk: Walk,
    from_seq: u64,
    done: bool,
}

impl Iterator for Batches {
    type Item = Result<Batch, JournalError>;

    fn next(&mut self) -> Option<Result<Batch, JournalError>> {
        while !self.done {
            match self.walk.step() {
                Ok(Step::Batch { batch, .. }) if batch.last_seq() >= self.from_seq => {
                    let records = batch.records().map(<[u8]>::to_vec).collect();
                    let first_seq = batch.first_seq();
                    return Some(Ok(Batch { first_seq, records }));
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
