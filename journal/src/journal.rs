//! The writer: recovery on open, append, flush, segment roll.

use std::fs::{self, File, TryLockError};
use std::path::{Path, PathBuf};

use crate::config::{FlushPolicy, JournalConfig};
use crate::error::JournalError;
use crate::error::{Corruption, Problem};
use crate::flusher::IntervalFlusher;
use crate::format::{
    BATCH_RECORD_COUNT_MAX, BatchHash, BatchHeader, batch_len_bytes, decode_batch, encode_batch_into, payload_len_bytes,
};
use crate::quarantine::{Why, quarantine};
use crate::retire::read_anchor;
use crate::scan::{Chain, Step, TornTail, Walk, WalkEnd};
use crate::segment::{self, LOCK_FILE_NAME, OpenSegment, Preparer, SegmentFile};

mod follower;

pub use follower::{Appended, Truncated};

/// What [`Journal::open`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    /// The first sequence number in the directory: 1, or where the history
    /// kept after retiring older segments starts (see [`retire`](crate::retire)).
    pub first_seq: u64,
    /// The last sequence number in the journal (0 when it is empty).
    pub last_seq: u64,
    /// The hash of the last batch ([`BatchHash::GENESIS`] when empty): the
    /// next batch's `prev_hash`.
    pub last_hash: BatchHash,
    /// Valid batches found.
    pub batches: u64,
    /// Segment files found (0 for a new journal).
    pub segments: usize,
    /// The torn tail that was quarantined and zeroed, if the last write had
    /// been cut short (`quarantined_to` names the copy).
    pub torn_tail: Option<TornTail>,
}

impl Recovered {
    /// Bytes of torn tail quarantined and zeroed (0 after a clean shutdown).
    pub fn truncated_bytes(&self) -> u64 {
        self.torn_tail.as_ref().map_or(0, |torn| torn.len_bytes)
    }
}

/// Counters of a journal since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// Batches appended.
    pub batches: u64,
    /// Records appended.
    pub records: u64,
    /// Bytes appended, headers and padding included.
    pub bytes: u64,
    /// fdatasync calls made (by flush, sync and rolls).
    pub syncs: u64,
    /// Segments rolled over to.
    pub segment_rolls: u64,
    /// Rolls that had to wait for the next segment to be prepared (0 in the steady state).
    pub roll_waits: u64,
}

/// The journal's single writer. See the crate documentation for the life cycle.
pub struct Journal {
    dir: PathBuf,
    config: JournalConfig,
    active: OpenSegment,
    /// The batch being appended, encoded before it is written (kept from
    /// batch to batch for its allocation).
    encoded: Vec<u8>,
    write_offset_bytes: usize,
    synced_offset_bytes: usize,
    next_seq: u64,
    last_hash: BatchHash,
    preparer: Option<Preparer>,
    flusher: Option<IntervalFlusher>,
    stats: JournalStats,
    poisoned: bool,
    /// Where the batches of each segment start, as far as
    /// [`Journal::batch_bytes`] has read them (`journal/follower.rs`).
    offsets: std::sync::Mutex<follower::OffsetIndex>,
    /// Holds the directory's advisory lock while the journal is open. Last,
    /// so it is released after the preparer and flusher threads are joined.
    _lock: File,
}

// The sequencer moves its sink into its own thread.
const _: fn() = || {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<Journal>();
};

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.dir)
            .field("segment", &self.active.path)
            .field("write_offset_bytes", &self.write_offset_bytes)
            .field("next_seq", &self.next_seq)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

/// Creates `dir` if needed, making its entry in the parent durable.
fn create_dir(dir: &Path) -> Result<(), JournalError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(JournalError::io("create directory", dir))?;
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => segment::sync_dir(parent),
        _ => Ok(()),
    }
}

fn lock_dir(dir: &Path) -> Result<File, JournalError> {
    let path = dir.join(LOCK_FILE_NAME);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(JournalError::io("open", &path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(JournalError::Locked { path }),
        Err(TryLockError::Error(source)) => Err(JournalError::io("lock", path)(source)),
    }
}

/// Walks every segment from the genesis (or the retirement anchor); returns
/// what it found and how the walk ended.
///
/// With `from_seq > 1`, the walk begins at the segment holding `from_seq`,
/// taking its first `prev_hash` on trust: the caller vouches for the history
/// before it (a snapshot that records the chain hash there).
fn scan(dir: &Path, mut segments: Vec<SegmentFile>, from_seq: u64) -> Result<(Recovered, WalkEnd), JournalError> {
    let segment_count = segments.len();
    let first_seq = segments.first().map_or(1, |first| first.first_seq);
    let skip = segments.partition_point(|s| s.first_seq <= from_seq).saturating_sub(1);
    let start = if skip == 0 {
        Chain::start(&segments, read_anchor(dir)?)?
    } else {
        segments.drain(..skip);
        Chain {
            next_seq: segments[0].first_seq,
            last_hash: None,
        }
    };
    // A re-based journal whose first segment was never made starts at its anchor.
    let first_seq = if segment_count == 0 { start.next_seq } else { first_seq };
    let first_segment = segments.first().map(|first| first.path.clone());
    let mut walk = Walk::new(segments, start);
    let mut batches = 0;
    let end = loop {
        match walk.step()? {
            Step::Batch { .. } => batches += 1,
            Step::End(end) => break end,
        }
    };
    let chain = walk.chain();
    let Some(last_hash) = chain.last_hash else {
        // Only a retirement cut short starts unanchored, and it always
        // leaves a sealed segment (with batches) behind it.
        return Err(JournalError::from(Corruption {
            segment: first_segment.unwrap_or_default(),
            offset_bytes: 0,
            seq: start.next_seq,
            problem: Problem::HistoryMissing { anchored_at: None },
        }));
    };
    let recovered = Recovered {
        first_seq,
        last_seq: chain.next_seq - 1,
        last_hash,
        batches,
        segments: segment_count,
        torn_tail: end.torn.clone(),
    };
    Ok((recovered, end))
}

/// Copies a torn tail to the quarantine directory (durably), then zeroes it
/// and syncs the zeros, so that no stale byte of it can be mistaken later for
/// part of a batch written over it. Returns where the copy is.
fn quarantine_and_zero(dir: &Path, active: &mut OpenSegment, torn: &TornTail) -> Result<PathBuf, JournalError> {
    let (start, len) = (torn.offset_bytes, torn.len_bytes as usize);
    assert!(
        len > 0 && start + len as u64 <= active.len_bytes,
        "torn tail within the segment"
    );
    let torn_bytes = active.read_at(start, len)?;
    let quarantined_to = quarantine(dir, &active.path, torn.offset_bytes, &torn_bytes, Why::Torn)?;
    active.write_at(&vec![0; len], start)?;
    active.sync()?;
    Ok(quarantined_to)
}

impl Journal {
    /// Opens (or creates) the journal in `dir`: takes the directory lock,
    /// scans every batch, copies a torn tail (a last write that never
    /// completed) to `quarantine/` and zeroes it, and refuses with
    /// [`JournalError::Corrupt`] on damage, including a last batch that was
    /// written completely but does not check out. Gives the active
    /// segment's unwritten zeros page-sized page-cache folios again (see
    /// `FORMAT.md`, recovery step 7), so that a flush writes back only its
    /// batch's pages. Prepares the next segment in the background.
    pub fn open(dir: impl AsRef<Path>, config: JournalConfig) -> Result<(Journal, Recovered), JournalError> {
        Journal::open_from(dir, config, 1)
    }

    /// Like [`open`](Journal::open), but checks only the segments from the
    /// one holding `from_seq`: for a server that restores a snapshot of
    /// everything before `from_seq` and checks that the journal continues
    /// the snapshot's chain hash. `Recovered::batches` then counts only the
    /// batches checked. [`verify`](crate::verify) still checks everything.
    pub fn open_from(
        dir: impl AsRef<Path>,
        config: JournalConfig,
        from_seq: u64,
    ) -> Result<(Journal, Recovered), JournalError> {
        config.validate()?;
        let dir = dir.as_ref().to_path_buf();
        create_dir(&dir)?;
        let lock = lock_dir(&dir)?;
        segment::remove_stale_prepared(&dir)?;
        let segments = segment::list_segments(&dir)?;
        let last_path = segments.last().map(|segment| segment.path.clone());
        let (mut recovered, end) = scan(&dir, segments, from_seq)?;
        let active = match last_path {
            Some(path) => {
                let mut active = segment::open_segment(&path)?;
                if let Some(torn) = &mut recovered.torn_tail {
                    torn.quarantined_to = Some(quarantine_and_zero(&dir, &mut active, torn)?);
                }
                active.refill_unwritten_tail(end.data_end_bytes)?;
                active
            }
            // A new journal, or one re-based whose first segment was never made.
            None => segment::install(
                &dir,
                Preparer::now(&dir, config.segment_size_bytes)?,
                recovered.last_seq + 1,
            )?,
        };
        let flusher = match config.flush {
            FlushPolicy::Interval { ms } => Some(IntervalFlusher::spawn(active.file.clone(), active.path.clone(), ms)?),
            FlushPolicy::Always | FlushPolicy::None => None,
        };
        let journal = Journal {
            preparer: Some(Preparer::spawn(&dir, config.segment_size_bytes)?),
            dir,
            config,
            _lock: lock,
            active,
            encoded: Vec::new(),
            write_offset_bytes: end.data_end_bytes as usize,
            synced_offset_bytes: end.data_end_bytes as usize,
            next_seq: recovered.last_seq + 1,
            last_hash: recovered.last_hash,
            flusher,
            stats: JournalStats::default(),
            poisoned: false,
            offsets: std::sync::Mutex::default(),
        };
        Ok((journal, recovered))
    }

    /// Appends one batch: `records[i]` gets sequence number `first_seq + i`,
    /// and `first_seq` must be [`next_seq`](Journal::next_seq). The bytes go
    /// into the mapped segment; they are durable only after
    /// [`flush`](Journal::flush) (under the flush policy) or [`sync`](Journal::sync).
    /// Under [`FlushPolicy::Always`] a batch appended without a flush is
    /// synced before the next one is written. Rolls to the next segment when
    /// the batch does not fit the active one. A refused batch (wrong seq,
    /// empty, too large) changes nothing; an I/O failure poisons the journal.
    pub fn append<R: AsRef<[u8]>>(&mut self, first_seq: u64, records: &[R]) -> Result<(), JournalError> {
        self.check_usable()?;
        let len_bytes = self.check_batch(first_seq, records)?;
        self.make_room(len_bytes)?;
        let mut encoded = std::mem::take(&mut self.encoded);
        encoded.clear();
        encoded.resize(len_bytes, 0);
        let header = encode_batch_into(&mut encoded, first_seq, self.last_hash, records);
        // Read back what was encoded (costs a second checksum pass: debug builds only).
        debug_assert!(decode_batch(&encoded).is_ok_and(|batch| batch.header == header));
        let written = self.write_batch(&encoded, &header);
        self.encoded = encoded;
        written
    }

    /// Makes room for a batch of `len_bytes` under the placement rule: under
    /// `Always`, syncs an earlier unsynced batch first; rolls when the batch
    /// does not fit the active segment.
    fn make_room(&mut self, len_bytes: usize) -> Result<(), JournalError> {
        if self.config.flush == FlushPolicy::Always {
            // At most one unsynced batch, ever: a crash in the middle of one
            // fdatasync then tears only the last batch, never leaves a hole
            // before a valid one (which recovery would have to refuse).
            let synced = self.sync_active();
            self.poison_on_error(synced)?;
        }
        if (self.write_offset_bytes + len_bytes) as u64 > self.active.len_bytes {
            let rolled = self.roll();
            self.poison_on_error(rolled)?;
        }
        Ok(())
    }

    /// Writes an encoded batch at the write offset (room was made for it)
    /// and advances the chain past it.
    fn write_batch(&mut self, encoded: &[u8], header: &BatchHeader) -> Result<(), JournalError> {
        let written = self.active.write_at(encoded, self.write_offset_bytes as u64);
        self.poison_on_error(written)?;
        self.write_offset_bytes += encoded.len();
        self.next_seq = header.last_seq() + 1;
        self.last_hash = BatchHash::of_header(&header.to_bytes());
        self.stats.batches += 1;
        self.stats.records += u64::from(header.record_count);
        self.stats.bytes += encoded.len() as u64;
        if let Some(flusher) = &self.flusher {
            flusher.mark_dirty();
        }
        Ok(())
    }

    /// Checks a batch against the journal and the limits; returns its encoded length.
    fn check_batch<R: AsRef<[u8]>>(&self, first_seq: u64, records: &[R]) -> Result<usize, JournalError> {
        if records.is_empty() {
            return Err(JournalError::EmptyBatch);
        }
        if first_seq != self.next_seq {
            return Err(JournalError::SeqOutOfOrder {
                expected: self.next_seq,
                got: first_seq,
            });
        }
        let too_large = |len_bytes| JournalError::BatchTooLarge {
            len_bytes,
            segment_size_bytes: self.config.segment_size_bytes,
        };
        if records.len() > BATCH_RECORD_COUNT_MAX as usize || first_seq.checked_add(records.len() as u64).is_none() {
            return Err(JournalError::TooManyRecords {
                record_count: records.len() as u64,
            });
        }
        let payload_len = payload_len_bytes(records).ok_or_else(|| too_large(u64::MAX))?;
        let len_bytes = batch_len_bytes(payload_len as usize);
        if len_bytes as u64 > self.config.segment_size_bytes {
            return Err(too_large(len_bytes as u64));
        }
        Ok(len_bytes)
    }

    /// Makes the appended batches durable as the [`FlushPolicy`] says:
    /// `Always` fdatasyncs everything appended since the last sync (call it once
    /// per batch, before acknowledging it); `Interval` and `None` leave it to
    /// the flusher thread or to nobody, and only report an earlier failure.
    pub fn flush(&mut self) -> Result<(), JournalError> {
        self.check_usable()?;
        match self.config.flush {
            FlushPolicy::Always => {
                let synced = self.sync_active();
                self.poison_on_error(synced)
            }
            FlushPolicy::Interval { .. } | FlushPolicy::None => Ok(()),
        }
    }

    /// Makes everything appended durable now, whatever the policy (for a
    /// clean shutdown, or before telling a follower something is stored).
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.check_usable()?;
        let synced = self.sync_active();
        self.poison_on_error(synced)
    }

    /// fdatasyncs the active segment if bytes were written since the last sync.
    fn sync_active(&mut self) -> Result<(), JournalError> {
        if self.write_offset_bytes == self.synced_offset_bytes {
            return Ok(());
        }
        self.active.sync()?;
        self.synced_offset_bytes = self.write_offset_bytes;
        self.stats.syncs += 1;
        Ok(())
    }

    /// Seals the active segment (synced whole) and moves to the prepared one,
    /// named for `next_seq`, whose name is made durable by a directory fsync
    /// before any batch goes in.
    fn roll(&mut self) -> Result<(), JournalError> {
        self.sync_active()?;
        let preparer = match self.preparer.take() {
            Some(preparer) => preparer,
            None => Preparer::spawn(&self.dir, self.config.segment_size_bytes)?,
        };
        if !preparer.is_ready() {
            self.stats.roll_waits += 1;
        }
        let prepared = preparer.take()?;
        self.active = segment::install(&self.dir, prepared, self.next_seq)?;
        self.write_offset_bytes = 0;
        self.synced_offset_bytes = 0;
        if let Some(flusher) = &self.flusher {
            flusher.set_file(self.active.file.clone(), self.active.path.clone());
        }
        self.stats.segment_rolls += 1;
        self.preparer = Some(Preparer::spawn(&self.dir, self.config.segment_size_bytes)?);
        Ok(())
    }

    /// Refuses to go on after a failure (the state of the disk is unknown).
    fn check_usable(&mut self) -> Result<(), JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        if let Some(failure) = self.flusher.as_ref().and_then(IntervalFlusher::take_failure) {
            self.poisoned = true;
            return Err(failure);
        }
        Ok(())
    }

    fn poison_on_error<T>(&mut self, result: Result<T, JournalError>) -> Result<T, JournalError> {
        self.poisoned |= result.is_err();
        result
    }

    /// The sequence number the next batch must start at.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The last sequence number appended (0 when empty).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// The hash of the last batch appended: the next batch's `prev_hash`.
    pub fn last_hash(&self) -> BatchHash {
        self.last_hash
    }

    /// The journal's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &JournalConfig {
        &self.config
    }

    /// The segment being appended to.
    pub fn active_segment(&self) -> &Path {
        &self.active.path
    }

    /// Where the next batch goes in the active segment (if it fits there).
    pub fn write_offset_bytes(&self) -> u64 {
        self.write_offset_bytes as u64
    }

    /// Counters since open.
    pub fn stats(&self) -> JournalStats {
        self.stats
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        // Best effort: a clean shutdown leaves nothing unsynced, except under
        // `FlushPolicy::None`, which promises nothing. Errors have no one to
        // go to here; recovery copes with whatever reached the disk.
        if !self.poisoned && self.config.flush != FlushPolicy::None {
            let _ = self.sync_active();
        }
    }
}
