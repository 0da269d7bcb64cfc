//! The Raft log over the journal: Normal entries are journal batches (the
//! leader's bytes), everything else about the log is in `<data>/raft/`.
//!
//! **Where an entry is.** `control.log` holds a record for each blank and
//! membership entry, a `Run` record where a Normal entry's leader id differs
//! from the entry before it, and where the log starts (`Start`: its first
//! index, and the journal seq of its first Normal entry). On open, indexes
//! are dealt out from the start: an index a record names is that record's
//! entry; every other index is the next journal batch, with the leader id of
//! the nearest record before it. The log ends at the first index that is
//! neither, so what a crash cut short (a record synced whose batch never
//! was, or a batch without the records after it) is a prefix, and the records
//! past its end are dropped when `control.log` is rewritten.
//!
//! **Order of writes.** An append syncs its control records before the
//! journal bytes of the same append, so no durable batch lacks its term. A
//! truncation cuts the journal first (`Journal::truncate_after`, crash-safe
//! on its own) and then rewrites `control.log` atomically; between the two a
//! crash leaves a prefix of the old log. Purging (openraft purges only
//! entries a snapshot covers and no live follower still needs: one that
//! lacks them is sent the snapshot) forgets the entries, rewrites
//! `control.log` to start after them, then retires the journal segments
//! that hold only their batches (to `archive/`, as a single node's
//! snapshots do). A follower that installs a snapshot past the end of its
//! journal re-bases the journal there (`Journal::rebase`) when the first
//! batch after the snapshot arrives: the batches it held move to
//! quarantine, and its journal continues the leader's chain from the
//! snapshot's sequence number.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use journal::{BatchHash, Journal, JournalConfig, JournalError, Reader, decode_batch};
use openraft::storage::IOFlushed;
use openraft::storage::RaftLogStorage;
use openraft::{EntryPayload, LogState, OptionalSend, RaftLogReader};

use crate::codec::{self, Control, Malformed};
use crate::{BatchBytes, Entry, LeaderId, LogId, Membership, RAFT_DIR_NAME, TypeConfig, Vote};

const CONTROL_FILE_NAME: &str = "control.log";
const VOTE_FILE_NAME: &str = "vote";
const COMMITTED_FILE_NAME: &str = "committed";

/// Why the log store could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The journal refused or failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A file of `<data>/raft/` could not be read or written.
    #[error("{operation} {}: {source}", path.display())]
    Io {
        /// What was being done.
        operation: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A file of `<data>/raft/` is damaged.
    #[error("{0}")]
    Malformed(#[from] Malformed),
    /// The entries given do not follow the log (a caller's bug, or damage).
    #[error("log entry {found} given where the log continues at {expected}")]
    NotContiguous {
        /// The index the log continues at.
        expected: u64,
        /// The index given.
        found: u64,
    },
    /// A Normal entry's batch does not continue the chain of the batches
    /// before it (checked before anything of the append is written).
    #[error("Normal entry {index} holds a batch that does not continue the journal: {reason}")]
    BadBatch {
        /// The entry's index.
        index: u64,
        /// What is wrong.
        reason: String,
    },
    /// The journal and `control.log` disagree about an entry.
    #[error("log entry {index}: {reason}")]
    Inconsistent {
        /// The entry's index.
        index: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// An earlier write failed; the store accepts nothing more (reopen it).
    #[error("the log store stopped after an earlier failure")]
    Poisoned,
}

impl From<StoreError> for io::Error {
    fn from(error: StoreError) -> io::Error {
        match error {
            StoreError::Io { source, .. } => source,
            other => io::Error::other(other),
        }
    }
}

fn io_error(operation: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io {
        operation,
        path,
        source,
    }
}

/// Where one entry of the log is.
#[derive(Clone, Debug)]
enum Slot {
    Blank(LeaderId),
    Membership(LeaderId, Membership),
    /// A journal batch, starting at `first_seq`, of `len_bytes` in the
    /// journal, appended here at `appended_at` (unknown for batches found
    /// on disk at start-up): what a member's lag in bytes and time counts.
    Normal {
        leader: LeaderId,
        first_seq: u64,
        len_bytes: u64,
        appended_at: Option<std::time::Instant>,
    },
}

impl Slot {
    fn leader(&self) -> LeaderId {
        match self {
            Slot::Blank(leader) | Slot::Membership(leader, _) | Slot::Normal { leader, .. } => *leader,
        }
    }
}

/// The log held: entries `start ..` and what was purged.
#[derive(Debug)]
struct Index {
    start: u64,
    /// The journal seq of the first Normal entry at or after `start` (the
    /// journal's next seq while there is none).
    start_seq: u64,
    slots: VecDeque<Slot>,
    purged: Option<LogId>,
}

impl Index {
    fn end(&self) -> u64 {
        self.start + self.slots.len() as u64
    }

    fn log_id(&self, position: usize) -> LogId {
        LogId::new(self.slots[position].leader(), self.start + position as u64)
    }

    fn last_log_id(&self) -> Option<LogId> {
        match self.slots.len() {
            0 => self.purged,
            len => Some(self.log_id(len - 1)),
        }
    }

    /// The control records that describe this log (what `control.log` is
    /// rewritten to).
    fn records(&self) -> Vec<Control> {
        let mut records = Vec::new();
        if !self.slots.is_empty() {
            records.push(Control::Start {
                index: self.start,
                first_seq: self.start_seq,
            });
        }
        if let Some(purged) = self.purged {
            records.push(Control::Purged(purged));
        }
        let mut previous: Option<LeaderId> = None;
        for (position, slot) in self.slots.iter().enumerate() {
            let index = self.start + position as u64;
            match slot {
                Slot::Blank(leader) => records.push(Control::Blank { index, leader: *leader }),
                Slot::Membership(leader, membership) => records.push(Control::Membership {
                    index,
                    leader: *leader,
                    membership: membership.clone(),
                }),
                Slot::Normal { leader, .. } if previous != Some(*leader) => {
                    records.push(Control::Run { index, leader: *leader });
                }
                Slot::Normal { .. } => {}
            }
            previous = Some(slot.leader());
        }
        records
    }

    /// Deals out the indexes from the last `Start` record: named ones to
    /// their records, the others to the journal's batches from `first_seq`.
    fn rebuild(records: Vec<Control>, journal: &Journal) -> Result<Index, StoreError> {
        let purged = records
            .iter()
            .filter_map(|record| match record {
                Control::Purged(log_id) => Some(*log_id),
                _ => None,
            })
            .max();
        let from = records
            .iter()
            .rposition(|record| matches!(record, Control::Start { .. }));
        let Some((start, start_seq, from)) = from.and_then(|at| match records[at] {
            Control::Start { index, first_seq } => Some((index, first_seq, at)),
            _ => None,
        }) else {
            return Ok(Index {
                start: purged.map_or(0, |purged| purged.index + 1),
                start_seq: journal.next_seq(),
                slots: VecDeque::new(),
                purged,
            });
        };
        let mut named = BTreeMap::new();
        let mut leaders = BTreeMap::new();
        for record in records.into_iter().skip(from + 1) {
            match record {
                Control::Blank { index, leader } => {
                    leaders.insert(index, leader);
                    named.insert(index, Slot::Blank(leader));
                }
                Control::Membership {
                    index,
                    leader,
                    membership,
                } => {
                    leaders.insert(index, leader);
                    named.insert(index, Slot::Membership(leader, membership));
                }
                Control::Run { index, leader } => {
                    leaders.insert(index, leader);
                }
                Control::Start { .. } | Control::Purged(_) => {}
            }
        }
        let mut batches = Vec::new();
        if start_seq < journal.next_seq() {
            for batch in Reader::open(journal.dir())?.batches_from(start_seq) {
                let batch = batch?;
                if batches.is_empty() && batch.first_seq != start_seq {
                    return Err(StoreError::Inconsistent {
                        index: start,
                        reason: "the log's first batch does not start a journal batch",
                    });
                }
                let payload = journal::format::payload_len_bytes(&batch.records).unwrap_or(0);
                batches.push((
                    batch.first_seq,
                    journal::format::batch_len_bytes(payload as usize) as u64,
                ));
            }
        }
        let mut batches = batches.into_iter();
        let mut slots = VecDeque::new();
        let mut index = start;
        loop {
            let slot = match named.remove(&index) {
                Some(slot) => slot,
                None => {
                    let Some((first_seq, len_bytes)) = batches.next() else {
                        break;
                    };
                    let Some((_, &leader)) = leaders.range(..=index).next_back() else {
                        return Err(StoreError::Inconsistent {
                            index,
                            reason: "a Normal entry without a leader id before it",
                        });
                    };
                    Slot::Normal {
                        leader,
                        first_seq,
                        len_bytes,
                        appended_at: None,
                    }
                }
            };
            slots.push_back(slot);
            index += 1;
        }
        let mut rebuilt = Index {
            start,
            start_seq,
            slots,
            purged,
        };
        if let Some(purged) = purged {
            rebuilt.forget_through(purged.index, journal.next_seq());
        }
        Ok(rebuilt)
    }

    /// Drops the entries up to `index` (inclusive).
    fn forget_through(&mut self, index: u64, journal_next_seq: u64) {
        let gone = (index + 1).saturating_sub(self.start).min(self.slots.len() as u64) as usize;
        self.slots.drain(..gone);
        self.start = self.start.max(index + 1);
        self.start_seq = self
            .slots
            .iter()
            .find_map(|slot| match slot {
                Slot::Normal { first_seq, .. } => Some(*first_seq),
                _ => None,
            })
            .unwrap_or(journal_next_seq);
    }
}

/// What the store and its readers share.
struct Inner {
    journal: Journal,
    raft_dir: PathBuf,
    /// `control.log`, opened for appending.
    control: File,
    index: Index,
    vote: Option<Vote>,
    poisoned: bool,
    /// The latest batches appended, by first seq: what replication reads
    /// back, nearly always the newest entries, without a file read (an
    /// older batch is found through the journal's offset index).
    recent: RecentBatches,
}

/// The newest batches' bytes, oldest first, at most [`RECENT_BYTES_MAX`].
#[derive(Default)]
struct RecentBatches {
    batches: VecDeque<(u64, bytes::Bytes)>,
    len_bytes: usize,
}

/// How much of the log's tail is kept in memory for replication to read.
const RECENT_BYTES_MAX: usize = 32 << 20;

impl RecentBatches {
    fn push(&mut self, first_seq: u64, bytes: bytes::Bytes) {
        self.len_bytes += bytes.len();
        self.batches.push_back((first_seq, bytes));
        while self.len_bytes > RECENT_BYTES_MAX {
            let Some((_, gone)) = self.batches.pop_front() else {
                break;
            };
            self.len_bytes -= gone.len();
        }
    }

    fn get(&self, first_seq: u64) -> Option<bytes::Bytes> {
        let at = self.batches.partition_point(|(seq, _)| *seq < first_seq);
        match self.batches.get(at) {
            Some((seq, bytes)) if *seq == first_seq => Some(bytes.clone()),
            _ => None,
        }
    }

    /// Forgets the batches from `first_seq` on (a truncation).
    fn forget_from(&mut self, first_seq: u64) {
        while self.batches.back().is_some_and(|(seq, _)| *seq >= first_seq) {
            if let Some((_, gone)) = self.batches.pop_back() {
                self.len_bytes -= gone.len();
            }
        }
    }

    fn clear(&mut self) {
        self.batches.clear();
        self.len_bytes = 0;
    }
}

impl Inner {
    fn check_usable(&self) -> Result<(), StoreError> {
        if self.poisoned {
            Err(StoreError::Poisoned)
        } else {
            Ok(())
        }
    }

    /// Replaces `control.log` with the records of the current index
    /// (atomically and durably), and reopens it for appending.
    fn rewrite_control(&mut self) -> Result<(), StoreError> {
        let mut bytes = Vec::new();
        self.index
            .records()
            .iter()
            .for_each(|record| record.encode_into(&mut bytes));
        let path = self.raft_dir.join(CONTROL_FILE_NAME);
        codec::write_atomic(&self.raft_dir, CONTROL_FILE_NAME, &bytes, true).map_err(io_error("rewrite", &path))?;
        self.control = open_append(&path)?;
        Ok(())
    }

    fn entries(&self, range: (Bound<u64>, Bound<u64>)) -> Result<Vec<Entry>, StoreError> {
        let low = match range.0 {
            Bound::Included(low) => low,
            Bound::Excluded(low) => low.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let high = match range.1 {
            Bound::Included(high) => high.saturating_add(1),
            Bound::Excluded(high) => high,
            Bound::Unbounded => u64::MAX,
        };
        let (low, high) = (low.max(self.index.start), high.min(self.index.end()));
        let mut entries = Vec::with_capacity(high.saturating_sub(low) as usize);
        for index in low..high {
            let position = (index - self.index.start) as usize;
            let log_id = self.index.log_id(position);
            let payload = match &self.index.slots[position] {
                Slot::Blank(_) => EntryPayload::Blank,
                Slot::Membership(_, membership) => EntryPayload::Membership(membership.clone()),
                Slot::Normal { first_seq, .. } => match self.recent.get(*first_seq) {
                    Some(bytes) => EntryPayload::Normal(BatchBytes(bytes)),
                    None => {
                        let bytes = self.journal.batch_bytes(*first_seq)?.ok_or(StoreError::Inconsistent {
                            index,
                            reason: "its batch is not in the journal",
                        })?;
                        EntryPayload::Normal(BatchBytes(bytes.into()))
                    }
                },
            };
            entries.push(Entry { log_id, payload });
        }
        Ok(entries)
    }
}

fn open_append(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_error("open", path))
}

/// The Raft log storage over a data directory's journal (see the module doc).
pub struct LogStore {
    inner: Arc<Mutex<Inner>>,
}

/// What a member lacks of this node's log, in bytes and time (see [`LogGauge`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Behind {
    /// Journal bytes of the batches after the member's last entry.
    pub bytes: u64,
    /// Milliseconds since the oldest of them was appended here (`None`:
    /// nothing lacking, or only batches older than this node's start).
    pub oldest_ms: Option<u64>,
}

/// Measures the log for `cluster status`: how much of it lies after an
/// index. Reads the store's in-memory index, never the disk.
#[derive(Clone)]
pub struct LogGauge {
    inner: Arc<Mutex<Inner>>,
}

impl LogGauge {
    /// What lies after `matched` (the whole log for `None`).
    pub fn behind(&self, matched: Option<u64>) -> Behind {
        let inner = lock(&self.inner);
        let index = &inner.index;
        let from = matched.map_or(index.start, |matched| (matched + 1).max(index.start));
        let skip = (from - index.start) as usize;
        let mut behind = Behind::default();
        for slot in index.slots.iter().skip(skip) {
            if let Slot::Normal {
                len_bytes, appended_at, ..
            } = slot
            {
                behind.bytes += len_bytes;
                if behind.oldest_ms.is_none() {
                    behind.oldest_ms = appended_at.map(|at| at.elapsed().as_millis() as u64);
                }
            }
        }
        behind
    }
}

/// Reads the log while the store appends (replication tasks hold one each).
#[derive(Clone)]
pub struct LogReader {
    inner: Arc<Mutex<Inner>>,
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // A panic while holding the lock leaves nothing half-done in memory that
    // the files do not also say; carry on with what is there.
    inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl LogStore {
    /// Opens (or creates) the journal in `data_dir` and the Raft files in
    /// `data_dir/raft/`, and rebuilds where every entry is.
    pub fn open(data_dir: &Path, journal_config: JournalConfig) -> Result<LogStore, StoreError> {
        let (journal, _) = Journal::open(data_dir, journal_config)?;
        let raft_dir = data_dir.join(RAFT_DIR_NAME);
        if !raft_dir.is_dir() {
            fs::create_dir_all(&raft_dir).map_err(io_error("create directory", &raft_dir))?;
            codec::sync_dir(data_dir).map_err(io_error("fsync directory", data_dir))?;
        }
        let control_path = raft_dir.join(CONTROL_FILE_NAME);
        let bytes = codec::read_if_exists(&control_path)
            .map_err(io_error("read", &control_path))?
            .unwrap_or_default();
        let (records, _) = codec::decode_control_log(&bytes)?;
        let index = Index::rebuild(records, &journal)?;
        let vote_path = raft_dir.join(VOTE_FILE_NAME);
        let vote = codec::read_if_exists(&vote_path)
            .map_err(io_error("read", &vote_path))?
            .map(|bytes| codec::decode_vote(&bytes))
            .transpose()?;
        let mut inner = Inner {
            journal,
            control: open_append(&control_path)?,
            raft_dir,
            index,
            vote,
            poisoned: false,
            recent: RecentBatches::default(),
        };
        // Drops records past the end that a crash left (and a torn last one).
        inner.rewrite_control()?;
        Ok(LogStore {
            inner: Arc::new(Mutex::new(inner)),
        })
    }

    /// A gauge of this log (for lag figures), usable after the store is
    /// handed to Raft.
    pub fn gauge(&self) -> LogGauge {
        LogGauge {
            inner: Arc::clone(&self.inner),
        }
    }

    /// The journal's last sequence number and hash (where the next batch
    /// must chain on): what a leader encodes its next batch against.
    pub fn journal_tail(&self) -> (u64, BatchHash) {
        let inner = lock(&self.inner);
        (inner.journal.last_seq(), inner.journal.last_hash())
    }

    fn append_entries(&self, entries: Vec<Entry>) -> Result<(), StoreError> {
        let mut inner = lock(&self.inner);
        inner.check_usable()?;
        let Some(first) = entries.first() else {
            return Ok(());
        };
        let mut records = Vec::new();
        // After a snapshot installed past the journal's end (everything
        // purged), the first batch may start past it: the journal re-bases.
        let rebase = match entries.iter().find_map(|entry| match &entry.payload {
            EntryPayload::Normal(BatchBytes(bytes)) => Some((entry.log_id.index, bytes)),
            _ => None,
        }) {
            Some((index, bytes)) if inner.index.slots.is_empty() && inner.index.purged.is_some() => {
                let batch = decode_batch(bytes).map_err(|error| StoreError::BadBatch {
                    index,
                    reason: error.to_string(),
                })?;
                (batch.first_seq() > inner.journal.next_seq()).then(|| (batch.first_seq(), batch.prev_hash()))
            }
            _ => None,
        };
        if inner.index.slots.is_empty() {
            if let Some(purged) = inner.index.purged.filter(|purged| first.log_id.index <= purged.index) {
                return Err(StoreError::NotContiguous {
                    expected: purged.index + 1,
                    found: first.log_id.index,
                });
            }
            records.push(Control::Start {
                index: first.log_id.index,
                first_seq: rebase.map_or(inner.journal.next_seq(), |(first_seq, _)| first_seq),
            });
        }
        // Everything is checked before anything is written.
        let first_index = if inner.index.slots.is_empty() {
            first.log_id.index
        } else {
            inner.index.end()
        };
        let mut previous = inner.index.slots.back().map(Slot::leader);
        let (mut next_seq, mut last_hash) = rebase.unwrap_or((inner.journal.next_seq(), inner.journal.last_hash()));
        let mut slots = Vec::with_capacity(entries.len());
        for (expected, entry) in (first_index..).zip(&entries) {
            let (index, leader) = (entry.log_id.index, entry.log_id.leader_id);
            if index != expected {
                return Err(StoreError::NotContiguous { expected, found: index });
            }
            let slot = match &entry.payload {
                EntryPayload::Blank => {
                    records.push(Control::Blank { index, leader });
                    Slot::Blank(leader)
                }
                EntryPayload::Membership(membership) => {
                    records.push(Control::Membership {
                        index,
                        leader,
                        membership: membership.clone(),
                    });
                    Slot::Membership(leader, membership.clone())
                }
                EntryPayload::Normal(BatchBytes(bytes)) => {
                    let bad = |reason: String| StoreError::BadBatch { index, reason };
                    let batch = decode_batch(bytes).map_err(|error| bad(error.to_string()))?;
                    if batch.first_seq() != next_seq || batch.prev_hash() != last_hash {
                        return Err(bad(format!(
                            "it starts at seq {} after {}, the journal continues at {next_seq} after {last_hash}",
                            batch.first_seq(),
                            batch.prev_hash()
                        )));
                    }
                    (next_seq, last_hash) = (batch.last_seq() + 1, batch.hash);
                    if previous != Some(leader) {
                        records.push(Control::Run { index, leader });
                    }
                    Slot::Normal {
                        leader,
                        first_seq: batch.first_seq(),
                        len_bytes: bytes.len() as u64,
                        appended_at: Some(std::time::Instant::now()),
                    }
                }
            };
            previous = Some(leader);
            slots.push(slot);
        }
        // The re-base first: a crash after it leaves the log empty after
        // the purge, its journal continuing where the next append begins.
        if let Some((first_seq, prev_hash)) = rebase {
            inner.recent.clear();
            let rebased = inner.journal.rebase(first_seq, prev_hash);
            if rebased.is_err() {
                inner.poisoned = true;
            }
            rebased?;
        }
        let written = Self::write_append(&mut inner, &records, &entries);
        if written.is_err() {
            inner.poisoned = true;
        }
        written?;
        if inner.index.slots.is_empty() {
            inner.index.start = first.log_id.index;
            inner.index.start_seq = match records.first() {
                Some(Control::Start { first_seq, .. }) => *first_seq,
                _ => inner.journal.next_seq(),
            };
        }
        inner.index.slots.extend(slots);
        Ok(())
    }

    /// Control records first (synced), then the batches, then one sync of the journal.
    fn write_append(inner: &mut Inner, records: &[Control], entries: &[Entry]) -> Result<(), StoreError> {
        if !records.is_empty() {
            let mut bytes = Vec::new();
            records.iter().for_each(|record| record.encode_into(&mut bytes));
            let path = inner.raft_dir.join(CONTROL_FILE_NAME);
            inner
                .control
                .write_all(&bytes)
                .and_then(|()| inner.control.sync_data())
                .map_err(io_error("append", &path))?;
        }
        let mut appended = Vec::new();
        for entry in entries {
            if let EntryPayload::Normal(BatchBytes(bytes)) = &entry.payload {
                let batch = inner.journal.append_encoded(bytes)?;
                appended.push((batch.first_seq, bytes.clone()));
            }
        }
        if !appended.is_empty() {
            inner.journal.sync()?;
            for (first_seq, bytes) in appended {
                inner.recent.push(first_seq, bytes);
            }
        }
        Ok(())
    }

    fn truncate_entries(&self, last_kept: Option<LogId>) -> Result<(), StoreError> {
        let mut inner = lock(&self.inner);
        inner.check_usable()?;
        let keep_end = last_kept.map_or(0, |log_id| log_id.index + 1);
        let keep = keep_end.saturating_sub(inner.index.start) as usize;
        if keep >= inner.index.slots.len() {
            return Ok(());
        }
        let first_gone_seq = inner.index.slots.iter().skip(keep).find_map(|slot| match slot {
            Slot::Normal { first_seq, .. } => Some(*first_seq),
            _ => None,
        });
        let result = (|| {
            if let Some(first_seq) = first_gone_seq {
                inner.recent.forget_from(first_seq);
                inner.journal.truncate_after(first_seq - 1)?;
            }
            inner.index.slots.truncate(keep);
            if inner.index.slots.is_empty() {
                inner.index.start_seq = inner.journal.next_seq();
            }
            inner.rewrite_control()
        })();
        if result.is_err() {
            inner.poisoned = true;
        }
        result
    }

    fn purge_entries(&self, log_id: LogId) -> Result<(), StoreError> {
        let mut inner = lock(&self.inner);
        inner.check_usable()?;
        if inner.index.purged.is_some_and(|purged| purged.index >= log_id.index) {
            return Ok(());
        }
        inner.index.purged = Some(log_id);
        let next_seq = inner.journal.next_seq();
        inner.index.forget_through(log_id.index, next_seq);
        let result = inner.rewrite_control();
        if result.is_err() {
            inner.poisoned = true;
        }
        result?;
        // Only batches before the log's first one: never one a live
        // follower is still sent (openraft purged nothing it needs).
        let through_seq = inner.index.start_seq.saturating_sub(1);
        if through_seq > 0 {
            let dir = inner.journal.dir().to_path_buf();
            journal::retire(&dir, through_seq, journal::Retirement::Archive)?;
        }
        Ok(())
    }
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        let bounds = (range.start_bound().cloned(), range.end_bound().cloned());
        Ok(lock(&self.inner).entries(bounds)?)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        Ok(lock(&self.inner).vote)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        let bounds = (range.start_bound().cloned(), range.end_bound().cloned());
        Ok(lock(&self.inner).entries(bounds)?)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        Ok(lock(&self.inner).vote)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let inner = lock(&self.inner);
        Ok(LogState {
            last_purged_log_id: inner.index.purged,
            last_log_id: inner.index.last_log_id(),
        })
    }

    async fn get_log_reader(&mut self) -> LogReader {
        LogReader {
            inner: Arc::clone(&self.inner),
        }
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        let mut inner = lock(&self.inner);
        inner.check_usable()?;
        let path = inner.raft_dir.join(VOTE_FILE_NAME);
        codec::write_atomic(&inner.raft_dir, VOTE_FILE_NAME, &codec::encode_vote(vote), true)
            .map_err(io_error("write", &path))?;
        inner.vote = Some(*vote);
        Ok(())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        let inner = lock(&self.inner);
        // Not synced: a committed log id lost in a crash is learnt again
        // from the leader; it only saves re-applying entries on restart.
        let bytes = codec::encode_optional_log_id(committed.as_ref());
        let path = inner.raft_dir.join(COMMITTED_FILE_NAME);
        codec::write_atomic(&inner.raft_dir, COMMITTED_FILE_NAME, &bytes, false).map_err(io_error("write", &path))?;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        let inner = lock(&self.inner);
        let path = inner.raft_dir.join(COMMITTED_FILE_NAME);
        match codec::read_if_exists(&path)? {
            None => Ok(None),
            Some(bytes) => {
                let committed = codec::decode_optional_log_id(&bytes, "committed")?;
                // Never past the log's end (the file is not synced with it).
                Ok(committed.filter(|committed| Some(committed) <= inner.index.last_log_id().as_ref()))
            }
        }
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<TypeConfig>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        self.append_entries(entries.into_iter().collect())?;
        // Synced already (control records, then the journal): flushed on return.
        callback.io_completed(Ok(()));
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        Ok(self.truncate_entries(last_log_id)?)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        Ok(self.purge_entries(log_id)?)
    }
}
