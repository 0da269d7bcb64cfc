//! Walking the segments batch by batch, checking the chain, and telling a
//! torn tail from corruption. Read-only: recovery, the reader and `verify`
//! all walk with this, so they agree on what is valid.

use std::path::PathBuf;

use memmap2::Mmap;

use crate::error::{Corruption, JournalError, Problem};
use crate::format::{
    BATCH_ALIGN_BYTES, BATCH_END_MAGIC, BATCH_HEADER_SIZE_BYTES, BATCH_MAGIC, BATCH_TRAILER_SIZE_BYTES, BatchHash,
    BatchHeader, DecodeError, DecodedBatch, FORMAT_VERSION_V1, SECTOR_SIZE_BYTES, decode_batch, header_fields_valid,
    whole_header,
};
use crate::retire::Anchor;
use crate::segment::{SegmentFile, map_read};

/// The bytes after the last valid batch of the last segment that are not
/// zero: what a write cut short left behind (it never completed, so it was
/// never acknowledged). Recovery copies them to a quarantine file, then
/// zeroes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// The segment file (always the last one).
    pub segment: PathBuf,
    /// Where the torn batch starts (the end of the valid data).
    pub offset_bytes: u64,
    /// From there to the last non-zero byte, inclusive.
    pub len_bytes: u64,
    /// Where [`Journal::open`](crate::Journal::open) copied the bytes before
    /// zeroing them; `None` from the read-only walks (`verify`, `Reader`).
    pub quarantined_to: Option<PathBuf>,
}

/// Where the hash chain stands: the next batch must start at `next_seq` and
/// carry `last_hash` as its `prev_hash`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Chain {
    pub next_seq: u64,
    /// `None` when a walk starts in the middle: the first batch's
    /// `prev_hash` is taken on trust (only a walk from the genesis checks all).
    pub last_hash: Option<BatchHash>,
}

impl Chain {
    pub const GENESIS: Chain = Chain {
        next_seq: 1,
        last_hash: Some(BatchHash::GENESIS),
    };

    /// Where a walk over `segments` (the retained history, oldest first)
    /// starts: at the genesis, or at the first segment left after older ones
    /// were retired, continuing from the hash the `anchor` recorded. A first
    /// segment that is not the genesis and that no anchor covers means
    /// history is missing.
    /// With no segment at all, an anchor says where the next begins (a
    /// replica re-based past a snapshot, cut short before that segment).
    pub fn start(segments: &[SegmentFile], anchor: Option<Anchor>) -> Result<Chain, JournalError> {
        if segments.is_empty()
            && let Some(anchor) = anchor
        {
            return Ok(Chain {
                next_seq: anchor.first_seq,
                last_hash: Some(anchor.prev_hash),
            });
        }
        let Some(first) = segments.first().filter(|first| first.first_seq > 1) else {
            return Ok(Chain::GENESIS);
        };
        let next_seq = first.first_seq;
        match anchor {
            Some(anchor) if anchor.first_seq == next_seq => Ok(Chain {
                next_seq,
                last_hash: Some(anchor.prev_hash),
            }),
            // A retirement cut short after writing its anchor: the segments
            // it had not moved yet are still here, before the anchor.
            Some(anchor) if anchor.first_seq > next_seq => Ok(Chain {
                next_seq,
                last_hash: None,
            }),
            _ => Err(JournalError::from(Corruption {
                segment: first.path.clone(),
                offset_bytes: 0,
                seq: next_seq,
                problem: Problem::HistoryMissing {
                    anchored_at: anchor.map(|anchor| anchor.first_seq),
                },
            })),
        }
    }

    /// Checks that `batch` continues the chain.
    fn check(&self, batch: &DecodedBatch<'_>) -> Result<(), Problem> {
        if batch.first_seq() != self.next_seq {
            return Err(Problem::SeqMismatch {
                expected: self.next_seq,
                found: batch.first_seq(),
            });
        }
        match self.last_hash {
            Some(expected) if expected != batch.prev_hash() => Err(Problem::ChainBroken {
                expected,
                found: batch.prev_hash(),
            }),
            _ => Ok(()),
        }
    }

    fn advance(&mut self, batch: &DecodedBatch<'_>) {
        self.next_seq = batch.last_seq() + 1;
        self.last_hash = Some(batch.hash);
    }
}

/// What follows the valid batches of a segment, starting at `offset` where
/// decoding failed with `error`: `Ok(0)` for zeros only (a clean end),
/// `Ok(len)` for a torn tail of `len` bytes, or the corruption it is.
///
/// Only the last segment may end torn: every earlier one was synced whole
/// before the next was begun. A tail is torn only if no valid batch follows
/// the bad bytes (otherwise they are a hole in the middle), and only if the
/// write there did not complete: a batch written to its end and damaged
/// since is corruption, however it came to be the last one.
pub(crate) fn classify_end(bytes: &[u8], offset: usize, error: DecodeError, is_last: bool) -> Result<u64, Problem> {
    let rest = bytes.get(offset..).unwrap_or_default();
    let Some(last_nonzero) = rest.iter().rposition(|&byte| byte != 0) else {
        return Ok(0);
    };
    if !is_last {
        return Err(Problem::BadBatchInSealedSegment { error });
    }
    let search_end = offset + last_nonzero + 1;
    if let Some(valid_at) = find_valid_batch(bytes, offset + BATCH_ALIGN_BYTES, search_end) {
        return Err(Problem::BadBatch {
            error,
            valid_batch_at_bytes: valid_at as u64,
        });
    }
    if write_completed(bytes, offset, search_end) {
        // A reader of a live journal may have read the batch while the
        // writer was still filling it in and the trailer after it was done
        // (the writer puts it last, behind a fence): decoding again tells.
        std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
        if decode_batch(rest).is_ok() {
            return Ok(0);
        }
        return Err(Problem::DamagedLastBatch { error });
    }
    Ok(last_nonzero as u64 + 1)
}

/// Whether the batch at `offset`, which does not decode and whose non-zero
/// bytes end before `nonzero_end`, was nevertheless written to its end:
/// then it was damaged afterwards (corruption), else the write was torn.
/// The rules, in `FORMAT.md` (recovery, step 4):
///
/// - a header whose checksum holds was written whole and says where the
///   batch ends. Its fields must be valid (no torn write produces such a
///   header with bad fields); a version-1 batch has no trailer and counts as
///   torn, as before version 2. A trailer of zeros means the write did not
///   get there; a trailer that is not zero and not the header's is damage;
/// - a header whose checksum fails: the write got to its end if the eight
///   bytes that end at the last non-zero byte (rounded up to 8) carry the end
///   magic `CRPE`;
/// - either way, if a sector the batch covers is all zeros in the part the
///   batch covers (the header's part included), that sector never reached
///   the disk: torn.
fn write_completed(bytes: &[u8], offset: usize, nonzero_end: usize) -> bool {
    let end = match whole_header(&bytes[offset..]) {
        Some(header) if !header_fields_valid(&header) => return true,
        Some(header) if header.version == FORMAT_VERSION_V1 => return false,
        Some(header) => {
            let end = offset.saturating_add(header.encoded_len_bytes());
            if end > bytes.len() {
                // The segment file ends before the batch does (cut short).
                return false;
            }
            let trailer = zero_padded(bytes, end - BATCH_TRAILER_SIZE_BYTES);
            if trailer == [0; BATCH_TRAILER_SIZE_BYTES] {
                return false;
            }
            if trailer != header.trailer() {
                return true;
            }
            end
        }
        None => {
            let end = nonzero_end.next_multiple_of(BATCH_ALIGN_BYTES);
            if end < offset + BATCH_HEADER_SIZE_BYTES + BATCH_TRAILER_SIZE_BYTES {
                return false;
            }
            let trailer = zero_padded(bytes, end - BATCH_TRAILER_SIZE_BYTES);
            if trailer[4..] != BATCH_END_MAGIC {
                return false;
            }
            end
        }
    };
    !sector_missing(bytes, offset, offset + BATCH_HEADER_SIZE_BYTES) && !sector_missing(bytes, offset, end)
}

/// The eight bytes at `at`, zeros where they run past the end of `bytes`
/// (a segment file cut short).
fn zero_padded(bytes: &[u8], at: usize) -> [u8; BATCH_TRAILER_SIZE_BYTES] {
    let mut out = [0; BATCH_TRAILER_SIZE_BYTES];
    let available = bytes.get(at..).unwrap_or_default();
    let len = available.len().min(BATCH_TRAILER_SIZE_BYTES);
    out[..len].copy_from_slice(&available[..len]);
    out
}

/// True if, for some sector, the bytes of `start..end` within it are all
/// zeros (bytes past the end of the file count as zeros).
fn sector_missing(bytes: &[u8], start: usize, end: usize) -> bool {
    let mut at = start;
    while at < end {
        let sector_end = (at + 1).next_multiple_of(SECTOR_SIZE_BYTES).min(end);
        let share = bytes.get(at..sector_end.min(bytes.len())).unwrap_or_default();
        if share.iter().all(|&byte| byte == 0) {
            return true;
        }
        at = sector_end;
    }
    false
}

/// The offset of the first batch starting in `from..until` (aligned) that decodes.
fn find_valid_batch(bytes: &[u8], from: usize, until: usize) -> Option<usize> {
    let from = from.next_multiple_of(BATCH_ALIGN_BYTES);
    (from..until.min(bytes.len()))
        .step_by(BATCH_ALIGN_BYTES)
        .filter(|&at| bytes[at..].starts_with(&BATCH_MAGIC))
        .find(|&at| decode_batch(&bytes[at..]).is_ok())
}

/// One step of a [`Walk`].
pub(crate) enum Step<'a> {
    /// A valid batch that continues the chain.
    Batch { batch: DecodedBatch<'a> },
    /// No more batches. Stays the answer if asked again.
    End(WalkEnd),
}

/// How a walk ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct WalkEnd {
    /// The torn tail found after the last valid batch, if any.
    pub torn: Option<TornTail>,
    /// Where the valid data of the last segment ends.
    pub data_end_bytes: u64,
}

/// What the current segment holds next.
enum Next {
    Batch {
        offset: usize,
        header: BatchHeader,
        hash: BatchHash,
    },
    End {
        torn_len_bytes: u64,
    },
    Segment,
}

/// A walk over segments, batch by batch, checking every batch and the chain.
pub(crate) struct Walk {
    segments: Vec<SegmentFile>,
    index: usize,
    map: Option<Mmap>,
    offset_bytes: usize,
    batches_in_segment: u64,
    chain: Chain,
}

impl Walk {
    /// A walk over `segments` (sorted), from the first, expecting `chain`.
    pub fn new(segments: Vec<SegmentFile>, chain: Chain) -> Walk {
        Walk {
            segments,
            index: 0,
            map: None,
            offset_bytes: 0,
            batches_in_segment: 0,
            chain,
        }
    }

    /// Where the chain stands after the batches returned so far.
    pub fn chain(&self) -> Chain {
        self.chain
    }

    fn corrupt(&self, offset_bytes: usize, problem: Problem) -> JournalError {
        JournalError::from(Corruption {
            segment: self.segments[self.index].path.clone(),
            offset_bytes: offset_bytes as u64,
            seq: self.chain.next_seq,
            problem,
        })
    }

    /// Maps the next segment if none is mapped; false when there is none left.
    fn enter_segment(&mut self) -> Result<bool, JournalError> {
        if self.map.is_some() {
            return Ok(true);
        }
        let Some(segment) = self.segments.get(self.index) else {
            return Ok(false);
        };
        if segment.first_seq != self.chain.next_seq {
            return Err(self.corrupt(
                0,
                Problem::SegmentNameMismatch {
                    named: segment.first_seq,
                },
            ));
        }
        self.map = Some(map_read(&segment.path)?);
        self.offset_bytes = 0;
        self.batches_in_segment = 0;
        Ok(true)
    }

    /// The next valid batch, the end, or the corruption that stops the walk.
    pub fn step(&mut self) -> Result<Step<'_>, JournalError> {
        let (offset, header, hash) = loop {
            if !self.enter_segment()? {
                return Ok(Step::End(WalkEnd::default()));
            }
            match self.next_in_segment()? {
                Next::Batch { offset, header, hash } => break (offset, header, hash),
                Next::End { torn_len_bytes } => return Ok(Step::End(self.end(torn_len_bytes))),
                Next::Segment => {
                    self.index += 1;
                    self.map = None;
                }
            }
        };
        // Rebuilt from the parts (not decoded twice): the borrow of the
        // mapping must not cross the loop that may replace it.
        let bytes: &[u8] = self.map.as_deref().unwrap_or_default();
        let payload_start = offset + BATCH_HEADER_SIZE_BYTES;
        let payload = &bytes[payload_start..payload_start + header.payload_len_bytes as usize];
        Ok(Step::Batch {
            batch: DecodedBatch::from_parts(header, hash, payload),
        })
    }

    /// Decodes at the current offset and checks the chain; on success moves past the batch.
    fn next_in_segment(&mut self) -> Result<Next, JournalError> {
        let is_last = self.index + 1 == self.segments.len();
        let offset = self.offset_bytes;
        let bytes: &[u8] = self.map.as_deref().unwrap_or_default();
        let error = match decode_batch(bytes.get(offset..).unwrap_or_default()) {
            Ok(batch) => {
                if let Err(problem) = self.chain.check(&batch) {
                    return Err(self.corrupt(offset, problem));
                }
                self.chain.advance(&batch);
                self.offset_bytes += batch.encoded_len_bytes();
                self.batches_in_segment += 1;
                let (header, hash) = (batch.header, batch.hash);
                return Ok(Next::Batch { offset, header, hash });
            }
            Err(error) => error,
        };
        let torn_len_bytes = classify_end(bytes, offset, error, is_last).map_err(|p| self.corrupt(offset, p))?;
        if is_last {
            return Ok(Next::End { torn_len_bytes });
        }
        if self.batches_in_segment == 0 {
            return Err(self.corrupt(0, Problem::EmptySealedSegment));
        }
        Ok(Next::Segment)
    }

    fn end(&self, torn_len_bytes: u64) -> WalkEnd {
        let offset_bytes = self.offset_bytes as u64;
        WalkEnd {
            torn: (torn_len_bytes > 0).then(|| TornTail {
                segment: self.segments[self.index].path.clone(),
                offset_bytes,
                len_bytes: torn_len_bytes,
                quarantined_to: None,
            }),
            data_end_bytes: offset_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::encode_batch;

    /// A segment image: batches 1..=3 (one record each), then `tail`, then zeros.
    fn image(tail: &[u8]) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = Vec::new();
        let mut offsets = Vec::new();
        let mut hash = BatchHash::GENESIS;
        for seq in 1..=3u64 {
            offsets.push(bytes.len());
            let batch = encode_batch(seq, hash, &[format!("record {seq}")]);
            hash = decode_batch(&batch).unwrap().hash;
            bytes.extend_from_slice(&batch);
        }
        offsets.push(bytes.len());
        bytes.extend_from_slice(tail);
        bytes.resize(bytes.len() + 256, 0);
        (bytes, offsets)
    }

    fn classify_at(bytes: &[u8], offset: usize, is_last: bool) -> Result<u64, Problem> {
        let error = decode_batch(&bytes[offset..]).expect_err("not a batch here");
        classify_end(bytes, offset, error, is_last)
    }

    #[test]
    fn zeros_after_the_data_are_a_clean_end() {
        let (bytes, offsets) = image(&[]);
        assert_eq!(classify_at(&bytes, offsets[3], true), Ok(0));
        assert_eq!(classify_at(&bytes, offsets[3], false), Ok(0));
    }

    #[test]
    fn garbage_after_the_data_is_torn_only_in_the_last_segment() {
        let (bytes, offsets) = image(&[0xAB; 20]);
        assert_eq!(classify_at(&bytes, offsets[3], true), Ok(20));
        assert!(matches!(
            classify_at(&bytes, offsets[3], false),
            Err(Problem::BadBatchInSealedSegment { .. })
        ));
    }

    #[test]
    fn a_bad_batch_followed_by_a_valid_one_is_corruption() {
        let (mut bytes, offsets) = image(&[]);
        bytes[offsets[1] + 70] ^= 0x40;
        let found = classify_at(&bytes, offsets[1], true);
        assert_eq!(
            found,
            Err(Problem::BadBatch {
                error: decode_batch(&bytes[offsets[1]..]).unwrap_err(),
                valid_batch_at_bytes: offsets[2] as u64,
            })
        );
    }

    #[test]
    fn a_damaged_last_batch_is_corruption_not_a_torn_tail() {
        let (pristine, offsets) = image(&[]);
        for at in [offsets[2] + 3, offsets[2] + 60, offsets[2] + 70, offsets[3] - 1] {
            let mut bytes = pristine.clone();
            bytes[at] ^= 1;
            assert!(
                matches!(
                    classify_at(&bytes, offsets[2], true),
                    Err(Problem::DamagedLastBatch { .. })
                ),
                "byte {at}"
            );
        }
    }

    #[test]
    fn a_last_batch_without_its_trailer_is_torn() {
        let (mut bytes, offsets) = image(&[]);
        let pristine = bytes.clone();
        bytes[offsets[3] - 8..offsets[3]].fill(0);
        let last_nonzero = bytes[..offsets[3]].iter().rposition(|&byte| byte != 0).unwrap();
        let torn_len = (last_nonzero + 1 - offsets[2]) as u64;
        assert_eq!(classify_at(&bytes, offsets[2], true), Ok(torn_len));
        // A segment file that ends inside the trailer.
        let cut = &pristine[..offsets[3] - 3];
        assert_eq!(
            classify_at(cut, offsets[2], true),
            Ok((offsets[3] - 3 - offsets[2]) as u64)
        );
    }

    #[test]
    fn a_damaged_last_version_1_batch_still_reads_as_a_torn_tail() {
        let (mut bytes, offsets) = image(&[]);
        let last = crate::format::encode_batch_v1(3, BatchHash::GENESIS, &["record 3"]);
        bytes[offsets[2]..offsets[3]].fill(0);
        bytes[offsets[2]..offsets[2] + last.len()].copy_from_slice(&last);
        bytes[offsets[2] + 70] ^= 1;
        assert_eq!(
            classify_at(&bytes, offsets[2], true),
            Ok(64 + 4 + 8) // header and one record of 8 bytes; the padding is zeros
        );
    }

    #[test]
    fn an_all_zero_sector_inside_the_last_batch_means_torn() {
        let mut bytes = vec![0u8; 4096];
        let records = [vec![0x11u8; 1500]];
        let batch = encode_batch(1, BatchHash::GENESIS, &records);
        bytes[40..40 + batch.len()].copy_from_slice(&batch);
        bytes[40 + 100] ^= 1; // damaged, and ...
        assert!(matches!(
            classify_at(&bytes, 40, true),
            Err(Problem::DamagedLastBatch { .. })
        ));
        bytes[512..1024].fill(0); // ... a sector never written: torn after all.
        assert_eq!(classify_at(&bytes, 40, true), Ok(batch.len() as u64));
    }
}
