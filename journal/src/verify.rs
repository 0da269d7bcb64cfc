//! A full offline check of a journal directory: every checksum, every
//! payload hash, the whole hash chain from the genesis (through the archived
//! segments when older ones were retired to `archive/`, or from the
//! retirement anchor when they were removed).

use std::path::Path;

use crate::error::{Corruption, JournalError};
use crate::format::BatchHash;
use crate::retire::{ARCHIVE_DIR_NAME, read_anchor};
use crate::scan::{Chain, Step, TornTail, Walk};
use crate::segment;

/// What [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segment files walked, archived ones included.
    pub segments: usize,
    /// Of those, segments in `archive/`.
    pub archived_segments: usize,
    /// The first sequence number walked: 1, unless history before it was
    /// retired and removed (then the chain is checked from the anchor).
    pub first_seq: u64,
    /// Valid batches before the end (or before the corruption).
    pub batches: u64,
    /// Records in those batches.
    pub records: u64,
    /// The last valid sequence number (0 if none).
    pub last_seq: u64,
    /// The hash of the last valid batch.
    pub last_hash: BatchHash,
    /// A torn tail after the last batch: a last write that never completed,
    /// so never acknowledged. Not an error: opening the journal copies it to
    /// `quarantine/` and zeroes it. (A last batch written completely that
    /// does not check out is `corruption`, [`Problem::DamagedLastBatch`](crate::Problem::DamagedLastBatch).)
    pub torn_tail: Option<TornTail>,
    /// The first corruption, if any: the journal would refuse to open.
    pub corruption: Option<Corruption>,
}

impl VerifyReport {
    /// True if the journal would open without losing anything but a torn tail.
    pub fn is_ok(&self) -> bool {
        self.corruption.is_none()
    }
}

/// Checks every batch of the journal in `dir` without changing anything.
/// Corruption is reported in the [`VerifyReport`], naming the segment, the
/// byte offset and the first bad sequence number; `Err` means the check
/// itself could not run (I/O, a malformed segment name).
pub fn verify(dir: impl AsRef<Path>) -> Result<VerifyReport, JournalError> {
    let dir = dir.as_ref();
    let archive = dir.join(ARCHIVE_DIR_NAME);
    let mut segments = if archive.is_dir() {
        segment::list_segments(&archive)?
    } else {
        Vec::new()
    };
    let archived_segments = segments.len();
    segments.extend(segment::list_segments(dir)?);
    segments.sort_by_key(|segment| segment.first_seq);
    let mut report = VerifyReport {
        segments: segments.len(),
        archived_segments,
        first_seq: segments.first().map_or(1, |first| first.first_seq),
        batches: 0,
        records: 0,
        last_seq: 0,
        last_hash: BatchHash::GENESIS,
        torn_tail: None,
        corruption: None,
    };
    let start = match Chain::start(&segments, read_anchor(dir)?) {
        Ok(start) => start,
        Err(JournalError::Corrupt(corruption)) => {
            report.corruption = Some(*corruption);
            return Ok(report);
        }
        Err(error) => return Err(error),
    };
    let mut walk = Walk::new(segments, start);
    loop {
        match walk.step() {
            Ok(Step::Batch { batch, .. }) => {
                report.batches += 1;
                report.records += u64::from(batch.header.record_count);
            }
            Ok(Step::End(end)) => {
                report.torn_tail = end.torn;
                break;
            }
            Err(JournalError::Corrupt(corruption)) => {
                report.corruption = Some(*corruption);
                break;
            }
            Err(error) => return Err(error),
        }
    }
    let chain = walk.chain();
    report.last_seq = chain.next_seq - 1;
    report.last_hash = chain.last_hash.unwrap_or(BatchHash::GENESIS);
    Ok(report)
}
