//! Durability: the journal as the sequencer's [`CommitSink`], recovery of a
//! ledger from the newest usable snapshot plus the journal after it, and
//! taking snapshots.
//!
//! This is the one place where the engine meets the disk. The ledger itself
//! still does no I/O: recovery reads records here and feeds the envelopes to
//! the ledger exactly as the sequencer did. Because the ledger is
//! deterministic, every replayed outcome must equal the recorded one; a
//! difference means the code or the data changed meaning, and recovery
//! refuses to go on rather than serve a state nobody acknowledged.
//!
//! A snapshot is only combined with the journal it was taken from: the
//! journal's chain hash at the snapshot's sequence number must equal the one
//! the snapshot recorded. A snapshot that is damaged, ahead of the journal or
//! from another history is skipped (and reported) in favour of an older one,
//! or of the genesis while the journal still starts at seq 1.
//!
//! A snapshot is taken by rebuilding the ledger *from disk* (newest snapshot
//! plus the durable journal after it) on whatever thread asks, never by
//! copying the live ledger: the sequencer does not pause for it at all.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::time::{Duration, Instant};

use journal::{BatchHash, Journal, JournalConfig, JournalError, Reader, Retirement, TornTail};

use crate::ledger::{Config, Ledger, Printer, Prints};
use crate::outcome::Outcome;
use crate::record::{self, RecordError};
use crate::sequencer::{CommitError, CommitSink, Committed};
use crate::snapshot::{self, SnapshotError, SnapshotInfo, SnapshotTimings};

/// The last sequence number a [`JournalSink`] has made durable (under its
/// flush policy), readable from any thread.
#[derive(Clone, Debug, Default)]
pub struct DurableSeq(Arc<AtomicU64>);

impl DurableSeq {
    /// The last durable sequence number (0: none yet).
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self, seq: u64) {
        self.0.store(seq, Ordering::Release);
    }

    /// Moves the durable sequence number to `seq`: for what makes batches
    /// durable other than a [`JournalSink`] (a replication group, where it
    /// is the last sequence number committed by a majority and applied).
    pub fn advance(&self, seq: u64) {
        self.0.fetch_max(seq, Ordering::AcqRel);
    }
}

/// Writes each batch to the journal and flushes it before the sequencer replies.
pub struct JournalSink {
    journal: Journal,
    durable: DurableSeq,
    /// The records of the batch being committed, back to back.
    encoded: Vec<u8>,
    /// Where each record is in `encoded`.
    ranges: Vec<std::ops::Range<usize>>,
    /// Told of every durable batch, on the commit thread.
    tap: Option<Box<dyn Tap>>,
}

/// Receives every batch once it is durable, as the record bytes the journal
/// holds: how read models follow the journal without re-reading the files.
/// Runs on the commit thread before the replies go out, so it must be
/// cheap and must never block (copy the bytes and hand them over).
pub trait Tap: Send {
    /// Batch `first_seq..` is durable; record `i` is `bytes[ranges[i]]`.
    fn durable(&mut self, first_seq: u64, bytes: &[u8], ranges: &[std::ops::Range<usize>]);
}

impl JournalSink {
    /// Wraps an open journal; its next sequence number must follow the ledger's.
    pub fn new(journal: Journal) -> JournalSink {
        let durable = DurableSeq::default();
        durable.set(journal.last_seq());
        JournalSink {
            journal,
            durable,
            encoded: Vec::new(),
            ranges: Vec::new(),
            tap: None,
        }
    }

    /// Tells `tap` of every batch made durable from now on.
    pub fn set_tap(&mut self, tap: Box<dyn Tap>) {
        self.tap = Some(tap);
    }

    /// The journal, e.g. for its statistics.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// A handle on the last durable sequence number, e.g. for a [`Snapshotter`](crate::snapshotter::Snapshotter).
    pub fn durable_seq(&self) -> DurableSeq {
        self.durable.clone()
    }
}

impl CommitSink for JournalSink {
    fn commit(&mut self, batch: &[Committed]) -> Result<(), CommitError> {
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            return Ok(());
        };
        let (first_seq, last_seq) = (first.envelope.seq, last.envelope.seq);
        let fail = |message: String| CommitError {
            first_seq,
            last_seq,
            message,
        };
        // One buffer for the whole batch, kept from batch to batch.
        let mut buffer = std::mem::take(&mut self.encoded);
        buffer.clear();
        self.ranges.clear();
        for committed in batch {
            self.ranges.push(record::encode_into(committed, &mut buffer));
        }
        let records: Vec<&[u8]> = self.ranges.iter().map(|range| &buffer[range.clone()]).collect();
        let appended = self.append_fitting(first_seq, &records);
        drop(records);
        self.encoded = buffer;
        appended.map_err(|e| fail(e.to_string()))?;
        // One flush for the whole sequencer batch, however it was split.
        self.journal.flush().map_err(|e| fail(e.to_string()))?;
        self.durable.set(last_seq);
        if let Some(tap) = &mut self.tap {
            tap.durable(first_seq, &self.encoded, &self.ranges);
        }
        Ok(())
    }
}

impl JournalSink {
    /// Appends `records` as one journal batch, or, if that would not fit a
    /// segment, as several consecutive ones.
    fn append_fitting<R: AsRef<[u8]>>(&mut self, first_seq: u64, records: &[R]) -> Result<(), JournalError> {
        match self.journal.append(first_seq, records) {
            Err(JournalError::BatchTooLarge { .. }) if records.len() > 1 => {
                let (head, tail) = records.split_at(records.len() / 2);
                self.append_fitting(first_seq, head)?;
                self.append_fitting(first_seq + head.len() as u64, tail)
            }
            other => other,
        }
    }
}

/// Why a ledger could not be recovered.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// The journal could not be opened or read (including corruption).
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A record's bytes passed the journal's checksums but are not a record.
    #[error("record at seq {seq} in {dir}: {source}")]
    Record {
        /// The data directory.
        dir: PathBuf,
        /// Sequence number of the record.
        seq: u64,
        /// What was wrong.
        source: RecordError,
    },
    /// A record holds another sequence number than its place in the journal.
    #[error("record at seq {expected} claims seq {found}")]
    SeqMismatch {
        /// Where it sits.
        expected: u64,
        /// What it says.
        found: u64,
    },
    /// A snapshot could not be read or written.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The journal no longer starts at seq 1 (older segments were retired)
    /// and no snapshot covering the start could be used.
    #[error("the journal starts at seq {first_seq} (older history retired) and no usable snapshot covers it{}", skipped_list(.skipped))]
    NoUsableSnapshot {
        /// The first sequence number in the journal.
        first_seq: u64,
        /// The snapshots tried, and why each was refused.
        skipped: Vec<String>,
    },
    /// Recovery ended before the sequence number it had to reach.
    #[error("the journal ends at seq {reached}, before seq {expected}")]
    Short {
        /// Where it had to reach.
        expected: u64,
        /// Where it ended.
        reached: u64,
    },
    /// Replaying gave another outcome than the one recorded and acknowledged.
    #[error("replay diverged at seq {seq}: recorded {recorded:?}, replayed {replayed:?}")]
    Diverged {
        /// The first divergent sequence number.
        seq: u64,
        /// What was acknowledged.
        recorded: Box<Outcome>,
        /// What the ledger computes now.
        replayed: Box<Outcome>,
    },
    /// The thread that reads the journal ahead of the replay could not start.
    #[error("could not start the journal reader thread: {0}")]
    Thread(std::io::Error),
}

fn skipped_list(skipped: &[String]) -> String {
    skipped.iter().map(|reason| format!("; {reason}")).collect()
}

impl RecoveryError {
    /// True when the stored data is damaged (as opposed to an I/O failure).
    pub fn is_corruption(&self) -> bool {
        match self {
            RecoveryError::Journal(error) => error.is_corruption(),
            RecoveryError::Record { .. }
            | RecoveryError::SeqMismatch { .. }
            | RecoveryError::NoUsableSnapshot { .. }
            | RecoveryError::Short { .. } => true,
            RecoveryError::Snapshot(SnapshotError::Damaged { .. }) => true,
            RecoveryError::Snapshot(_) | RecoveryError::Diverged { .. } | RecoveryError::Thread(_) => false,
        }
    }
}

/// What recovery found.
#[derive(Clone, Debug)]
pub struct RecoveryReport {
    /// The snapshot recovery started from (`None`: from the genesis).
    pub snapshot: Option<SnapshotInfo>,
    /// Time spent loading it.
    pub snapshot_timings: SnapshotTimings,
    /// Newer snapshots that could not be used, and why.
    pub skipped_snapshots: Vec<String>,
    /// Batches replayed after the snapshot.
    pub batches: u64,
    /// Commands replayed after the snapshot.
    pub commands: u64,
    /// Last sequence number recovered (0 for a new data directory).
    pub last_seq: u64,
    /// A torn last write (never completed, so never acknowledged) that
    /// recovery copied to the journal's `quarantine/` and then truncated:
    /// where it was, how long, and where the copy is.
    pub torn_tail: Option<TornTail>,
    /// Digest of the recovered ledger.
    pub digest: u64,
    /// Time spent.
    pub elapsed: Duration,
}

impl RecoveryReport {
    /// Bytes of a torn last write that were quarantined and truncated (0 if none).
    pub fn torn_tail_bytes(&self) -> u64 {
        self.torn_tail.as_ref().map_or(0, |torn| torn.len_bytes)
    }
}

/// A recovered ledger and the journal sink that continues its history.
pub struct Recovered {
    /// The ledger, as of the last durable batch.
    pub ledger: Ledger,
    /// The sink to hand to the sequencer.
    pub sink: JournalSink,
    /// What recovery found.
    pub report: RecoveryReport,
}

/// Opens (or creates) the journal in `dir` and rebuilds the ledger from the
/// newest usable snapshot and the journal after it. A torn last write
/// (never completed, so never acknowledged) is quarantined and truncated
/// (reported in [`RecoveryReport::torn_tail`]); a damaged one refuses.
pub fn recover(dir: &Path, config: Config, journal_config: JournalConfig) -> Result<Recovered, RecoveryError> {
    let started = Instant::now();
    // The open scan checks only the segments from the newest snapshot on;
    // the replay then checks that they continue the snapshot's chain hash.
    // (If that snapshot turns out unusable, the replay from an older one
    // checks everything it reads.)
    let newest = snapshot::list(dir)?
        .into_iter()
        .find_map(|(_, path)| snapshot::read_info(&path).ok())
        .map(|info| info.seq);
    let (mut journal, mut opened) = Journal::open_from(dir, journal_config, newest.unwrap_or(1))?;
    if newest.is_some_and(|seq| opened.last_seq < seq) {
        // The journal ends before the snapshot (it lost a window it never
        // made durable): check it all, and let `restore` skip the snapshot.
        // (Only then: a second open of a fresh directory could find the
        // lock of the first still held by a child process forked meanwhile,
        // until it execs.)
        drop(journal);
        (journal, opened) = Journal::open(dir, journal_config)?;
    }
    let restored = restore(dir, config, Some(opened.last_seq))?;
    let mut report = restored.report;
    if report.last_seq != opened.last_seq {
        return Err(RecoveryError::Short {
            expected: opened.last_seq,
            reached: report.last_seq,
        });
    }
    report.torn_tail = opened.torn_tail;
    report.elapsed = started.elapsed();
    Ok(Recovered {
        ledger: restored.ledger,
        sink: JournalSink::new(journal),
        report,
    })
}

/// Rebuilds the ledger from the data directory `dir` (newest usable
/// snapshot plus journal) without writing anything: no lock is taken and a
/// torn tail is left in place (and not replayed). For offline tools; a
/// server uses [`recover`].
pub fn replay(dir: &Path, config: Config) -> Result<(Ledger, RecoveryReport), RecoveryError> {
    let started = Instant::now();
    let restored = restore(dir, config, None)?;
    let mut report = restored.report;
    report.elapsed = started.elapsed();
    Ok((restored.ledger, report))
}

/// Like [`replay`], but from the genesis, ignoring every snapshot: the
/// auditor's check that the snapshots agree with the whole history. Needs
/// the journal from seq 1 in `dir`.
pub fn replay_from_genesis(dir: &Path, config: Config) -> Result<(Ledger, RecoveryReport), RecoveryError> {
    let started = Instant::now();
    let reader = Reader::open(dir)?;
    if reader.first_seq() > 1 {
        return Err(RecoveryError::NoUsableSnapshot {
            first_seq: reader.first_seq(),
            skipped: vec!["snapshots ignored on request".to_string()],
        });
    }
    let mut restored = replay_journal(&reader, Ledger::new(config), None, None)?;
    restored.report.elapsed = started.elapsed();
    Ok((restored.ledger, restored.report))
}

/// A ledger rebuilt from disk, and the journal's chain hash at its last seq.
struct Restored {
    ledger: Ledger,
    chain_hash: BatchHash,
    report: RecoveryReport,
}

/// Newest usable snapshot (at or before `until`) plus the journal after it,
/// up to `until` (a batch boundary) or the journal's end.
fn restore(dir: &Path, config: Config, until: Option<u64>) -> Result<Restored, RecoveryError> {
    let reader = Reader::open(dir)?;
    let mut skipped = Vec::new();
    for (seq, path) in snapshot::list(dir)? {
        if until.is_some_and(|until| seq > until) {
            skipped.push(format!("{}: ahead of the journal (seq {seq})", path.display()));
            continue;
        }
        let (ledger, info, timings) = match snapshot::load(&path, &config) {
            Ok(loaded) => loaded,
            Err(error @ SnapshotError::Io { .. }) => return Err(error.into()),
            Err(error) => {
                skipped.push(error.to_string());
                continue;
            }
        };
        match replay_journal(&reader, ledger, Some(&info), until) {
            Ok(mut restored) => {
                restored.report.snapshot = Some(info);
                restored.report.snapshot_timings = timings;
                restored.report.skipped_snapshots = skipped;
                return Ok(restored);
            }
            Err(Mismatch::Snapshot(reason)) => skipped.push(format!("{}: {reason}", path.display())),
            Err(Mismatch::Recovery(error)) => return Err(error),
        }
    }
    if reader.first_seq() > 1 {
        return Err(RecoveryError::NoUsableSnapshot {
            first_seq: reader.first_seq(),
            skipped,
        });
    }
    let mut restored = replay_journal(&reader, Ledger::new(config), None, until)?;
    restored.report.skipped_snapshots = skipped;
    Ok(restored)
}

/// Why replaying on top of a snapshot failed.
enum Mismatch {
    /// The snapshot does not fit this journal: try an older one.
    Snapshot(String),
    /// The journal itself failed.
    Recovery(RecoveryError),
}

impl From<RecoveryError> for Mismatch {
    fn from(error: RecoveryError) -> Mismatch {
        Mismatch::Recovery(error)
    }
}

impl From<JournalError> for Mismatch {
    fn from(error: JournalError) -> Mismatch {
        Mismatch::Recovery(error.into())
    }
}

impl From<Mismatch> for RecoveryError {
    fn from(mismatch: Mismatch) -> RecoveryError {
        match mismatch {
            Mismatch::Recovery(error) => error,
            Mismatch::Snapshot(reason) => RecoveryError::NoUsableSnapshot {
                first_seq: 1,
                skipped: vec![reason],
            },
        }
    }
}

/// Replays the journal after the ledger's last seq (checking that the
/// journal continues `snapshot`'s history) up to `until` or the end.
///
/// Two threads share the work: a reader walks the journal (checksums and
/// hash chain), decodes each record and computes its fingerprints, and this
/// thread only applies (`Ledger::apply_printed`), as the sequencer thread
/// does with its producers' prints. The channel between them is ordered, so
/// the first failure in journal order is the one reported.
fn replay_journal(
    reader: &Reader,
    mut ledger: Ledger,
    snapshot: Option<&SnapshotInfo>,
    until: Option<u64>,
) -> Result<Restored, Mismatch> {
    let mut chain_hash = snapshot.map_or(BatchHash::GENESIS, |info| info.chain_hash);
    let mut report = RecoveryReport {
        snapshot: None,
        snapshot_timings: SnapshotTimings::default(),
        skipped_snapshots: Vec::new(),
        batches: 0,
        commands: 0,
        last_seq: 0,
        torn_tail: None,
        digest: 0,
        elapsed: Duration::ZERO,
    };
    let ahead = ReadAhead {
        reader,
        printer: ledger.printer(),
        start: ledger.last_seq(),
        chain_hash,
        anchored: snapshot.is_none(),
        until,
    };
    let (sender, decoded) = mpsc::sync_channel(READ_AHEAD_CHUNKS);
    std::thread::scope(|scope| -> Result<(), Mismatch> {
        std::thread::Builder::new()
            .name("replay-read".into())
            .spawn_scoped(scope, move || ahead.run(&sender))
            .map_err(RecoveryError::Thread)?;
        // Returning early drops `decoded`: the reader's next send fails and it stops.
        for chunk in decoded {
            for batch in chunk? {
                for (committed, prints) in batch.records {
                    let replayed = ledger.apply_printed(&committed.envelope, prints);
                    if replayed != committed.outcome {
                        return Err(Mismatch::Recovery(RecoveryError::Diverged {
                            seq: committed.envelope.seq,
                            recorded: Box::new(committed.outcome),
                            replayed: Box::new(replayed),
                        }));
                    }
                    report.commands += 1;
                }
                chain_hash = batch.hash;
                report.batches += 1;
            }
        }
        Ok(())
    })?;
    if let Some(until) = until.filter(|&until| ledger.last_seq() != until) {
        return Err(Mismatch::Recovery(RecoveryError::Short {
            expected: until,
            reached: ledger.last_seq(),
        }));
    }
    report.last_seq = ledger.last_seq();
    report.digest = ledger.digest();
    Ok(Restored {
        ledger,
        chain_hash,
        report,
    })
}

/// Chunks of decoded batches the reader may run ahead of the applier.
const READ_AHEAD_CHUNKS: usize = 8;
/// Records per chunk (a chunk ends at a batch boundary): one channel
/// hand-off per this many records, not per small batch.
const RECORDS_PER_CHUNK: usize = 1_024;

/// One journal batch, decoded and printed, ready to apply.
struct DecodedBatch {
    hash: BatchHash,
    records: Vec<(Committed, Prints)>,
}

/// What the reader hands the applier: decoded batches in journal order, or
/// the failure that stopped it.
type Chunk = Result<Vec<DecodedBatch>, Mismatch>;

/// The reader side of [`replay_journal`].
struct ReadAhead<'r> {
    reader: &'r Reader,
    printer: Printer,
    /// The ledger's last seq before the replay.
    start: u64,
    /// The journal's chain hash at `start` (the snapshot's).
    chain_hash: BatchHash,
    /// Whether the journal is known to continue the ledger's history.
    anchored: bool,
    until: Option<u64>,
}

impl ReadAhead<'_> {
    fn run(mut self, sender: &SyncSender<Chunk>) {
        let mut chunk = Vec::new();
        let result = self.read(sender, &mut chunk);
        // Whatever was decoded before a failure is applied first, so a
        // divergence earlier in the journal is still the error reported.
        if !chunk.is_empty() && sender.send(Ok(chunk)).is_err() {
            return;
        }
        if let Err(error) = result {
            let _ = sender.send(Err(error));
        }
    }

    fn read(&mut self, sender: &SyncSender<Chunk>, chunk: &mut Vec<DecodedBatch>) -> Result<(), Mismatch> {
        let dir = self.reader.dir();
        let start = self.start;
        let mut last_seq = start;
        let mut chunk_records = 0;
        let reached = |last_seq: u64| self.until.is_some_and(|until| last_seq >= until);
        // Reading a live journal must not go past `until`: the writer may be
        // in the middle of the next batch.
        let mut batches = self.reader.batches_from(start.max(1));
        while !(self.anchored && reached(last_seq)) {
            let Some(batch) = batches.next() else { break };
            let batch = batch?;
            if !self.anchored {
                // The batch holding the snapshot's last seq, or the first one kept after it.
                let continues = if batch.last_seq() == start {
                    batch.hash == self.chain_hash
                } else {
                    batch.first_seq == start + 1 && batch.prev_hash == self.chain_hash
                };
                if !continues {
                    return Err(Mismatch::Snapshot(format!(
                        "the journal's hash chain at seq {start} is not the one the snapshot recorded"
                    )));
                }
                self.anchored = true;
                if batch.last_seq() == start {
                    continue;
                }
            }
            if self.until.is_some_and(|until| batch.last_seq() > until) {
                break;
            }
            let mut records = Vec::with_capacity(batch.records.len());
            for (seq, bytes) in (batch.first_seq..).zip(&batch.records) {
                let committed = record::decode(bytes).map_err(|source| RecoveryError::Record {
                    dir: dir.to_path_buf(),
                    seq,
                    source,
                })?;
                if committed.envelope.seq != seq {
                    return Err(RecoveryError::SeqMismatch {
                        expected: seq,
                        found: committed.envelope.seq,
                    }
                    .into());
                }
                let prints = self.printer.prints(&committed.envelope.request);
                records.push((committed, prints));
            }
            last_seq = batch.last_seq();
            chunk_records += records.len();
            chunk.push(DecodedBatch {
                hash: batch.hash,
                records,
            });
            if chunk_records >= RECORDS_PER_CHUNK {
                chunk_records = 0;
                if sender.send(Ok(std::mem::take(chunk))).is_err() {
                    return Ok(()); // the applier stopped
                }
            }
        }
        if !self.anchored {
            return Err(Mismatch::Snapshot(format!(
                "the journal ends before the snapshot's seq {start}"
            )));
        }
        Ok(())
    }
}

/// How snapshots are kept and what happens to the journal behind them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// Snapshots kept (at least 1; default 2, so that a damaged newest one
    /// can fall back to the one before).
    pub keep: usize,
    /// What happens to journal segments behind the oldest kept snapshot
    /// (`None`: they stay in place).
    pub retire: Option<Retirement>,
}

impl Default for SnapshotPolicy {
    fn default() -> SnapshotPolicy {
        SnapshotPolicy {
            keep: 2,
            retire: Some(Retirement::Archive),
        }
    }
}

/// What [`take_snapshot`] did.
#[derive(Clone, Debug)]
pub struct SnapshotTaken {
    /// The snapshot written.
    pub info: SnapshotInfo,
    /// The snapshot it started from, if any.
    pub base: Option<SnapshotInfo>,
    /// Commands replayed on top of the base.
    pub replayed_commands: u64,
    /// Time to load the base and replay the journal after it.
    pub rebuild: Duration,
    /// Time to encode and write the new snapshot.
    pub write: SnapshotTimings,
    /// Journal segments retired behind the oldest kept snapshot.
    pub retired_segments: usize,
}

/// Takes a snapshot of the data directory `dir` as of `through_seq` (a
/// durable batch boundary, e.g. [`DurableSeq::get`]; `None`: the end of the
/// journal), by rebuilding the ledger from the newest snapshot and the
/// journal; then applies `policy`. Safe while a server appends to the
/// journal. `Ok(None)` if there is nothing newer than the newest snapshot.
pub fn take_snapshot(
    dir: &Path,
    config: Config,
    through_seq: Option<u64>,
    policy: SnapshotPolicy,
) -> Result<Option<SnapshotTaken>, RecoveryError> {
    let started = Instant::now();
    let restored = restore(dir, config, through_seq)?;
    let base = restored.report.snapshot.clone();
    let last_seq = restored.ledger.last_seq();
    if last_seq == 0 || base.as_ref().is_some_and(|base| base.seq == last_seq) {
        return Ok(None);
    }
    let rebuild = started.elapsed();
    let (info, write) = snapshot::write(dir, restored.ledger, restored.chain_hash)?;
    let oldest_kept = snapshot::prune(dir, policy.keep)?;
    let retired_segments = match (policy.retire, oldest_kept) {
        (Some(how), Some(seq)) => journal::retire(dir, seq, how)?.segments.len(),
        _ => 0,
    };
    Ok(Some(SnapshotTaken {
        info,
        base,
        replayed_commands: restored.report.commands,
        rebuild,
        write,
        retired_segments,
    }))
}
