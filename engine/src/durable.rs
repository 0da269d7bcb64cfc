//! Durability: the journal as the sequencer's [`CommitSink`], and recovery
//! of a ledger by replaying the journal.
//!
//! This is the one place where the engine meets the disk. The ledger itself
//! still does no I/O: recovery reads records here and feeds the envelopes to
//! [`Ledger::apply`] exactly as the sequencer did. Because the ledger is
//! deterministic, every replayed outcome must equal the recorded one; a
//! difference means the code or the data changed meaning, and recovery
//! refuses to go on rather than serve a state nobody acknowledged.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use journal::{Journal, JournalConfig, JournalError, Reader};

use crate::ledger::{Config, Ledger};
use crate::outcome::Outcome;
use crate::record::{self, RecordError};
use crate::sequencer::{CommitError, CommitSink, Committed};

/// Writes each batch to the journal and flushes it before the sequencer replies.
pub struct JournalSink {
    journal: Journal,
}

impl JournalSink {
    /// Wraps an open journal; its next sequence number must follow the ledger's.
    pub fn new(journal: Journal) -> JournalSink {
        JournalSink { journal }
    }

    /// The journal, e.g. for its statistics.
    pub fn journal(&self) -> &Journal {
        &self.journal
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
        let records = batch
            .iter()
            .map(record::encode)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(e.to_string()))?;
        self.append_fitting(first_seq, &records)
            .map_err(|e| fail(e.to_string()))?;
        // One flush for the whole sequencer batch, however it was split.
        self.journal.flush().map_err(|e| fail(e.to_string()))
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
}

impl RecoveryError {
    /// True when the stored data is damaged (as opposed to an I/O failure).
    pub fn is_corruption(&self) -> bool {
        match self {
            RecoveryError::Journal(error) => error.is_corruption(),
            RecoveryError::Record { .. } | RecoveryError::SeqMismatch { .. } => true,
            RecoveryError::Diverged { .. } => false,
        }
    }
}

/// What recovery found.
#[derive(Clone, Debug)]
pub struct RecoveryReport {
    /// Batches replayed.
    pub batches: u64,
    /// Commands replayed.
    pub commands: u64,
    /// Last sequence number recovered (0 for a new data directory).
    pub last_seq: u64,
    /// Bytes of a torn last write that were discarded.
    pub torn_tail_bytes: u64,
    /// Digest of the recovered ledger.
    pub digest: u64,
    /// Time spent.
    pub elapsed: Duration,
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

/// Opens (or creates) the journal in `dir` and rebuilds the ledger from it.
/// A torn last write (never acknowledged) is discarded.
pub fn recover(dir: &Path, config: Config, journal_config: JournalConfig) -> Result<Recovered, RecoveryError> {
    let started = Instant::now();
    let (journal, opened) = Journal::open(dir, journal_config)?;
    let (ledger, mut report) = replay_into(dir, Ledger::new(config))?;
    debug_assert_eq!(ledger.last_seq(), opened.last_seq);
    report.torn_tail_bytes = opened.truncated_bytes();
    report.elapsed = started.elapsed();
    Ok(Recovered {
        ledger,
        sink: JournalSink::new(journal),
        report,
    })
}

/// Rebuilds the ledger from the journal in `dir` without writing anything:
/// no lock is taken and a torn tail is left in place (and not replayed).
/// For offline tools; a server uses [`recover`].
pub fn replay(dir: &Path, config: Config) -> Result<(Ledger, RecoveryReport), RecoveryError> {
    let started = Instant::now();
    let (ledger, mut report) = replay_into(dir, Ledger::new(config))?;
    report.elapsed = started.elapsed();
    Ok((ledger, report))
}

fn replay_into(dir: &Path, mut ledger: Ledger) -> Result<(Ledger, RecoveryReport), RecoveryError> {
    let mut report = RecoveryReport {
        batches: 0,
        commands: 0,
        last_seq: 0,
        torn_tail_bytes: 0,
        digest: 0,
        elapsed: Duration::ZERO,
    };
    for batch in Reader::open(dir)?.batches() {
        let batch = batch?;
        for (seq, bytes) in (batch.first_seq..).zip(&batch.records) {
            replay_one(&mut ledger, dir, seq, bytes)?;
        }
        report.batches += 1;
        report.commands += batch.records.len() as u64;
    }
    report.last_seq = ledger.last_seq();
    report.digest = ledger.digest();
    Ok((ledger, report))
}

fn replay_one(ledger: &mut Ledger, dir: &Path, seq: u64, bytes: &[u8]) -> Result<(), RecoveryError> {
    let record = record::decode(bytes).map_err(|source| RecoveryError::Record {
        dir: dir.to_path_buf(),
        seq,
        source,
    })?;
    if record.envelope.seq != seq {
        return Err(RecoveryError::SeqMismatch {
            expected: seq,
            found: record.envelope.seq,
        });
    }
    let replayed = ledger.apply(&record.envelope);
    if replayed != record.outcome {
        return Err(RecoveryError::Diverged {
            seq,
            recorded: Box::new(record.outcome),
            replayed: Box::new(replayed),
        });
    }
    Ok(())
}
