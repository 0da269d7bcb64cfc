//! What a replica's journal needs beside the sequencer's own appends: a batch
//! encoded elsewhere (by the Raft leader) appended byte for byte, a batch's
//! bytes read back (to send to a follower), a suffix that Raft never
//! committed truncated so that a crash at any point leaves a valid journal,
//! and the whole journal re-based past a snapshot installed in its place.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Journal;
use crate::error::{BadCut, Corruption, JournalError, Problem, Refusal};
use crate::format::{
    BATCH_HEADER_SIZE_BYTES, BatchHash, BatchHeader, FORMAT_VERSION, decode_batch, header_fields_valid, whole_header,
};
use crate::quarantine::{Why, quarantine, quarantine_segment};
use crate::retire::{Anchor, write_anchor};
use crate::segment::{self, OpenSegment};

/// A batch that [`Journal::append_encoded`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// Its first sequence number.
    pub first_seq: u64,
    /// Its last sequence number.
    pub last_seq: u64,
    /// Its hash: the next batch's `prev_hash`.
    pub hash: BatchHash,
}

/// What [`Journal::truncate_after`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Truncated {
    /// Records removed (0 when the cut was the end already).
    pub records: u64,
    /// Where the removed bytes went: the copy of the cut segment's tail,
    /// then the whole segments after it.
    pub quarantined: Vec<PathBuf>,
}

/// One durable step of a truncation, in the order they run.
enum Step {
    /// Copy the doomed bytes of the cut segment to the quarantine (synced).
    Copy { offset: u64, len: usize },
    /// Move a whole segment after the cut to the quarantine (directories synced).
    Move(PathBuf),
    /// Zero one doomed batch of the cut segment, then `fdatasync`.
    Zero { offset: u64, len: usize },
}

/// Where the batches of each segment start, learnt from their headers as
/// [`Journal::batch_bytes`] reads them, so that finding a batch far behind
/// the end (a follower catching up) is a binary search, not a walk over
/// every header before it from the segment's start. In memory only (no
/// format change); emptied when a truncation or a re-base rewrites what a
/// segment holds, and entries for segments no longer listed (retired) are
/// dropped.
#[derive(Debug, Default)]
pub(crate) struct OffsetIndex {
    segments: HashMap<PathBuf, SegmentOffsets>,
}

/// One segment's batches as far as read, sorted, and where the next
/// header would be.
#[derive(Debug, Default)]
struct SegmentOffsets {
    batches: Vec<IndexedBatch>,
    scanned_to: u64,
}

/// Where one batch is in its segment.
#[derive(Clone, Copy, Debug)]
struct IndexedBatch {
    first_seq: u64,
    last_seq: u64,
    offset: u64,
    len: usize,
}

impl OffsetIndex {
    /// Where the batch of segment `path` that starts at `first_seq` is,
    /// reading the headers not yet indexed up to `end_bytes` (or the
    /// file's end); `None` if no batch of it starts there.
    fn find(
        &mut self,
        path: &Path,
        end_bytes: Option<u64>,
        first_seq: u64,
    ) -> Result<Option<IndexedBatch>, JournalError> {
        let segment = self.segments.entry(path.to_path_buf()).or_default();
        let known_end = segment.batches.last().map_or(0, |batch| batch.last_seq);
        if known_end < first_seq {
            for (offset, header) in batches_from(path, segment.scanned_to, end_bytes, Some(first_seq))? {
                let len = header.encoded_len_bytes();
                segment.batches.push(IndexedBatch {
                    first_seq: header.first_seq,
                    last_seq: header.last_seq(),
                    offset,
                    len,
                });
                segment.scanned_to = offset + len as u64;
            }
        }
        let at = segment.batches.partition_point(|batch| batch.last_seq < first_seq);
        Ok(segment
            .batches
            .get(at)
            .filter(|batch| batch.first_seq == first_seq)
            .copied())
    }

    /// How many batches are indexed (tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.segments.values().map(|segment| segment.batches.len()).sum()
    }

    /// Forgets the segments not in `listed`.
    fn retain(&mut self, listed: &[segment::SegmentFile]) {
        self.segments
            .retain(|path, _| listed.iter().any(|segment| &segment.path == path));
    }
}

/// The batches of the segment at `path`, by their headers (checksummed
/// header, fields in range, extent within `end_bytes` or the file), in
/// order from offset 0, up to the first place that does not hold one. Cheap:
/// one 64-byte read per batch; payloads are checked when read.
fn batches_in(path: &Path, end_bytes: Option<u64>) -> Result<Vec<(u64, BatchHeader)>, JournalError> {
    batches_from(path, 0, end_bytes, None)
}

/// [`batches_in`] from `start` (where a batch begins) on, up to the batch
/// holding `until_seq` if given.
fn batches_from(
    path: &Path,
    start: u64,
    end_bytes: Option<u64>,
    until_seq: Option<u64>,
) -> Result<Vec<(u64, BatchHeader)>, JournalError> {
    let file = File::open(path).map_err(JournalError::io("open", path))?;
    let file_len = file.metadata().map_err(JournalError::io("stat", path))?.len();
    let end = end_bytes.unwrap_or(file_len).min(file_len);
    let mut found = Vec::new();
    let mut offset = start;
    let mut head = [0u8; BATCH_HEADER_SIZE_BYTES];
    while offset + BATCH_HEADER_SIZE_BYTES as u64 <= end {
        file.read_exact_at(&mut head, offset)
            .map_err(JournalError::io("pread", path))?;
        let Some(header) = whole_header(&head).filter(header_fields_valid) else {
            break;
        };
        let len = header.encoded_len_bytes() as u64;
        if offset + len > end {
            break;
        }
        found.push((offset, header));
        offset += len;
        if until_seq.is_some_and(|seq| header.last_seq() >= seq) {
            break;
        }
    }
    Ok(found)
}

impl Journal {
    fn forget_offsets(&mut self) {
        let index = self.offsets.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
        *index = OffsetIndex::default();
    }

    /// Makes a replica's journal continue after a snapshot installed in
    /// its place (the leader had retired the batches this journal lacks):
    /// every batch held here, all before `first_seq` and covered by the
    /// snapshot, moves to `quarantine/`, the anchor records `first_seq` and
    /// `prev_hash` (the snapshot's chain hash), and a new segment begins at
    /// `first_seq`. Only forward: `first_seq` must lie past the journal's
    /// end. A crash at any step leaves a journal that opens: the batches
    /// not yet moved (as after a retirement cut short; re-basing again
    /// finishes the move), or none, and then the anchor's segment is made
    /// on open.
    pub fn rebase(&mut self, first_seq: u64, prev_hash: BatchHash) -> Result<(), JournalError> {
        self.check_usable()?;
        if first_seq <= self.next_seq {
            return Err(Refusal::SeqOutOfOrder {
                expected: self.next_seq,
                got: first_seq,
            }
            .into());
        }
        self.forget_offsets();
        let result = (|| {
            self.sync_active()?;
            write_anchor(&self.dir, Anchor { first_seq, prev_hash })?;
            for old in segment::list_segments(&self.dir)? {
                quarantine_segment(&self.dir, &old.path)?;
            }
            let preparer = match self.preparer.take() {
                Some(preparer) => preparer,
                None => segment::Preparer::spawn(&self.dir, self.config.segment_size_bytes)?,
            };
            self.active = segment::install(&self.dir, preparer.take()?, first_seq)?;
            self.write_offset_bytes = 0;
            self.synced_offset_bytes = 0;
            self.next_seq = first_seq;
            self.last_hash = prev_hash;
            if let Some(flusher) = &self.flusher {
                flusher.set_file(self.active.file.clone(), self.active.path.clone());
            }
            self.preparer = Some(segment::Preparer::spawn(&self.dir, self.config.segment_size_bytes)?);
            Ok(())
        })();
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    /// Appends a batch that was encoded elsewhere (the Raft leader's bytes),
    /// unchanged, so every replica's journal holds the same bytes. The batch
    /// must decode (CRC32C, BLAKE3, framing, trailer), be exactly `bytes`
    /// long, be of the current format version, start at
    /// [`next_seq`](Journal::next_seq) and carry [`last_hash`](Journal::last_hash)
    /// as its `prev_hash`; otherwise it is refused ([`JournalError::Refused`])
    /// and nothing is written. It is placed like any batch (the next segment
    /// when it does not fit the active one) and is durable after
    /// [`flush`](Journal::flush) or [`sync`](Journal::sync).
    pub fn append_encoded(&mut self, bytes: &[u8]) -> Result<Appended, JournalError> {
        self.check_usable()?;
        let batch = decode_batch(bytes).map_err(Refusal::Undecodable)?;
        if batch.encoded_len_bytes() != bytes.len() {
            return Err(Refusal::WrongLength {
                batch_bytes: batch.encoded_len_bytes(),
                given_bytes: bytes.len(),
            }
            .into());
        }
        if batch.header.version != FORMAT_VERSION {
            return Err(Refusal::OldVersion {
                version: batch.header.version,
            }
            .into());
        }
        if batch.first_seq() != self.next_seq {
            return Err(Refusal::SeqOutOfOrder {
                expected: self.next_seq,
                got: batch.first_seq(),
            }
            .into());
        }
        if batch.prev_hash() != self.last_hash {
            return Err(Refusal::NotChained {
                expected: self.last_hash,
                found: batch.prev_hash(),
            }
            .into());
        }
        if bytes.len() as u64 > self.config.segment_size_bytes {
            return Err(Refusal::TooLarge {
                len_bytes: bytes.len() as u64,
                segment_size_bytes: self.config.segment_size_bytes,
            }
            .into());
        }
        let (header, hash) = (batch.header, batch.hash);
        self.make_room(bytes.len())?;
        self.write_batch(bytes, &header)?;
        Ok(Appended {
            first_seq: header.first_seq,
            last_seq: header.last_seq(),
            hash,
        })
    }

    /// The encoded bytes of the batch that starts at `first_seq` (checked
    /// again as they are read), or `None` if no batch of this journal starts
    /// there (outside the journal, retired, or inside a batch).
    pub fn batch_bytes(&self, first_seq: u64) -> Result<Option<Vec<u8>>, JournalError> {
        if first_seq == 0 || first_seq >= self.next_seq {
            return Ok(None);
        }
        let segments = segment::list_segments(&self.dir)?;
        let Some(segment) = segments.iter().rev().find(|segment| segment.first_seq <= first_seq) else {
            return Ok(None);
        };
        let end = (segment.path == self.active.path).then_some(self.write_offset_bytes as u64);
        let found = {
            let mut index = self.offsets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            index.retain(&segments);
            index.find(&segment.path, end, first_seq)?
        };
        let Some(batch) = found else {
            return Ok(None);
        };
        let file = File::open(&segment.path).map_err(JournalError::io("open", &segment.path))?;
        let mut bytes = vec![0; batch.len];
        file.read_exact_at(&mut bytes, batch.offset)
            .map_err(JournalError::io("pread", &segment.path))?;
        let corrupt = |problem| {
            JournalError::from(Corruption {
                segment: segment.path.clone(),
                offset_bytes: batch.offset,
                seq: first_seq,
                problem,
            })
        };
        match decode_batch(&bytes) {
            Err(error) => Err(corrupt(Problem::Unreadable { error })),
            Ok(decoded) if decoded.first_seq() != first_seq => Err(corrupt(Problem::SeqMismatch {
                expected: first_seq,
                found: decoded.first_seq(),
            })),
            Ok(_) => Ok(Some(bytes)),
        }
    }

    /// Removes every record after `seq` (which must end a batch, and not lie
    /// before the retained history), for a replica whose suffix the Raft
    /// leader did not commit. Nothing is destroyed without a copy, and a
    /// crash at any point leaves a valid journal holding a prefix of what
    /// was there (`FORMAT.md`, "Truncating a suffix"):
    ///
    /// 1. the doomed bytes of the segment holding the cut are copied to
    ///    `quarantine/<segment>.<offset>.truncated` (file and directory synced);
    /// 2. whole segments after it move to `quarantine/<segment>.truncated`,
    ///    newest first, both directories synced after each;
    /// 3. the doomed batches of the cut segment are zeroed from the last to
    ///    the first, with an `fdatasync` after each;
    /// 4. the journal continues at `seq + 1`, chained to the `prev_hash` of
    ///    the first removed batch.
    ///
    /// A cut at the end changes nothing. An I/O failure poisons the journal
    /// (reopen it: recovery finds the valid prefix).
    pub fn truncate_after(&mut self, seq: u64) -> Result<Truncated, JournalError> {
        self.truncate_steps(seq, None)
    }

    /// Test support: [`truncate_after`](Journal::truncate_after) stopped
    /// after its first `steps` durable steps, as a crash would stop it; the
    /// journal is then poisoned (drop it and reopen the directory).
    #[doc(hidden)]
    pub fn truncate_after_then_crash(&mut self, seq: u64, steps: usize) -> Result<Truncated, JournalError> {
        self.truncate_steps(seq, Some(steps))
    }

    /// How many durable steps truncating after `seq` takes (for the crash
    /// tests that stop after each one).
    #[doc(hidden)]
    pub fn truncate_step_count(&self, seq: u64) -> Result<usize, JournalError> {
        Ok(self.plan_truncation(seq)?.map_or(0, |plan| plan.steps.len()))
    }

    fn plan_truncation(&self, seq: u64) -> Result<Option<Plan>, JournalError> {
        let last_seq = self.last_seq();
        let bad_cut = |reason| JournalError::BadCut { seq, reason };
        if seq > last_seq {
            return Err(bad_cut(BadCut::BeyondEnd { last_seq }));
        }
        if seq == last_seq {
            return Ok(None);
        }
        let segments = segment::list_segments(&self.dir)?;
        let first_seq = segments.first().map_or(1, |first| first.first_seq);
        let Some(cut_index) = segments.iter().rposition(|segment| segment.first_seq <= seq + 1) else {
            return Err(bad_cut(BadCut::Retired { first_seq }));
        };
        let cut_path = segments[cut_index].path.clone();
        let end = (cut_path == self.active.path).then_some(self.write_offset_bytes as u64);
        let batches = batches_in(&cut_path, end)?;
        let Some(first_doomed) = batches.iter().position(|(_, header)| header.last_seq() > seq) else {
            // The cut segment's batches all end at or before `seq`, yet the
            // journal goes on after it: only damage makes that.
            return Err(JournalError::from(Corruption {
                segment: cut_path,
                offset_bytes: batches
                    .last()
                    .map_or(0, |(offset, h)| offset + h.encoded_len_bytes() as u64),
                seq: seq + 1,
                problem: Problem::EmptySealedSegment,
            }));
        };
        let (cut_offset, cut_header) = batches[first_doomed];
        if cut_header.first_seq != seq + 1 {
            let reason = if cut_header.first_seq > seq + 1 {
                BadCut::Retired { first_seq }
            } else {
                BadCut::InsideBatch {
                    first_seq: cut_header.first_seq,
                    last_seq: cut_header.last_seq(),
                }
            };
            return Err(bad_cut(reason));
        }
        let doomed = &batches[first_doomed..];
        let data_end = doomed.last().map_or(cut_offset, |(offset, header)| {
            offset + header.encoded_len_bytes() as u64
        });
        let mut steps = vec![Step::Copy {
            offset: cut_offset,
            len: (data_end - cut_offset) as usize,
        }];
        steps.extend(
            segments[cut_index + 1..]
                .iter()
                .rev()
                .map(|later| Step::Move(later.path.clone())),
        );
        steps.extend(doomed.iter().rev().map(|(offset, header)| Step::Zero {
            offset: *offset,
            len: header.encoded_len_bytes(),
        }));
        Ok(Some(Plan {
            cut_path,
            cut_offset,
            last_hash: BatchHash(cut_header.prev_hash),
            records: last_seq - seq,
            steps,
        }))
    }

    fn truncate_steps(&mut self, seq: u64, crash_after: Option<usize>) -> Result<Truncated, JournalError> {
        self.check_usable()?;
        // The cut segment's tail is rewritten, and a later segment may be
        // made again under a moved one's name.
        self.forget_offsets();
        // Nothing unsynced may be left behind a cut (or copied half-written).
        let synced = self.sync_active();
        self.poison_on_error(synced)?;
        let Some(plan) = self.plan_truncation(seq)? else {
            return Ok(Truncated::default());
        };
        let cut = if plan.cut_path == self.active.path {
            OpenSegment {
                path: self.active.path.clone(),
                file: Arc::clone(&self.active.file),
                len_bytes: self.active.len_bytes,
            }
        } else {
            segment::open_segment(&plan.cut_path)?
        };
        let mut report = Truncated {
            records: plan.records,
            quarantined: Vec::new(),
        };
        for (done, step) in plan.steps.iter().enumerate() {
            if crash_after == Some(done) {
                self.poisoned = true;
                return Err(JournalError::Poisoned);
            }
            let result = match step {
                Step::Copy { offset, len } => cut
                    .read_at(*offset, *len)
                    .and_then(|bytes| quarantine(&self.dir, &cut.path, *offset, &bytes, Why::Truncated))
                    .map(|path| report.quarantined.push(path)),
                Step::Move(path) => quarantine_segment(&self.dir, path).map(|to| report.quarantined.push(to)),
                Step::Zero { offset, len } => cut.write_at(&vec![0; *len], *offset).and_then(|()| cut.sync()),
            };
            self.poison_on_error(result)?;
        }
        if let Some(flusher) = &self.flusher {
            flusher.set_file(Arc::clone(&cut.file), cut.path.clone());
        }
        self.active = cut;
        self.write_offset_bytes = plan.cut_offset as usize;
        self.synced_offset_bytes = plan.cut_offset as usize;
        self.next_seq = seq + 1;
        self.last_hash = plan.last_hash;
        Ok(report)
    }
}

/// A truncation worked out before its first step.
struct Plan {
    cut_path: PathBuf,
    cut_offset: u64,
    /// The `prev_hash` of the first removed batch: the chain continues from it.
    last_hash: BatchHash,
    records: u64,
    steps: Vec<Step>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FlushPolicy, JournalConfig};

    fn config() -> JournalConfig {
        JournalConfig {
            segment_size_bytes: 1 << 20,
            flush: FlushPolicy::Always,
        }
    }

    /// Appends one batch of `count` records tagged `tag`; its first seq.
    fn append(journal: &mut Journal, count: u64, tag: &str) -> u64 {
        let first_seq = journal.next_seq();
        let records: Vec<Vec<u8>> = (0..count)
            .map(|i| format!("{tag} {}", first_seq + i).into_bytes())
            .collect();
        journal.append(first_seq, &records).unwrap();
        journal.flush().unwrap();
        first_seq
    }

    fn indexed(journal: &Journal) -> usize {
        journal.offsets.lock().unwrap().len()
    }

    #[test]
    fn batches_are_found_through_the_offset_index_which_reads_each_header_once_and_forgets_a_cut() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, _) = Journal::open(dir.path(), config()).unwrap();
        let starts: Vec<u64> = (0..40).map(|n| append(&mut journal, 1 + n % 3, "a")).collect();
        assert_eq!(indexed(&journal), 0, "built as batches are looked for");
        // The headers up to the batch asked for are read, no further.
        let tenth = journal.batch_bytes(starts[9]).unwrap().unwrap();
        assert_eq!(decode_batch(&tenth).unwrap().first_seq(), starts[9]);
        assert_eq!(indexed(&journal), 10);
        // An earlier batch is a search in what is known: nothing more read.
        let fifth = journal.batch_bytes(starts[4]).unwrap().unwrap();
        assert_eq!(decode_batch(&fifth).unwrap().first_seq(), starts[4]);
        assert_eq!(indexed(&journal), 10);
        // Every batch, as a walk from the segment's start finds it.
        let walked = batches_in(journal.active_segment(), Some(journal.write_offset_bytes())).unwrap();
        assert_eq!(walked.len(), starts.len());
        for (offset, header) in &walked {
            let bytes = journal.batch_bytes(header.first_seq).unwrap().unwrap();
            let file = File::open(journal.active_segment()).unwrap();
            let mut expected = vec![0; header.encoded_len_bytes()];
            file.read_exact_at(&mut expected, *offset).unwrap();
            assert_eq!(bytes, expected);
        }
        assert_eq!(indexed(&journal), starts.len());
        // Not where a batch starts, or past the end: none.
        let inside = starts.iter().zip(&starts[1..]).find(|(a, b)| *b - *a > 1).unwrap();
        assert_eq!(journal.batch_bytes(inside.0 + 1).unwrap(), None);
        assert_eq!(journal.batch_bytes(journal.next_seq()).unwrap(), None);
        // Batches appended later are found (the index reads on from where it stopped).
        let later = append(&mut journal, 2, "b");
        assert!(journal.batch_bytes(later).unwrap().is_some());
        assert_eq!(indexed(&journal), starts.len() + 1);

        // A cut forgets the index: the batches written after it in the same
        // place are read, not the old offsets.
        journal.truncate_after(starts[20] - 1).unwrap();
        assert_eq!(indexed(&journal), 0);
        let mut again = Vec::new();
        for _ in 0..5 {
            again.push(append(&mut journal, 4, "c"));
        }
        for first in &again {
            let bytes = journal.batch_bytes(*first).unwrap().unwrap();
            let batch = decode_batch(&bytes).unwrap();
            assert_eq!((batch.first_seq(), batch.header.record_count), (*first, 4));
            assert!(batch.records().all(|record| record.starts_with(b"c ")));
        }
    }
}
