//! Errors with the context an operator needs: which file, which byte, which sequence number.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::format::DecodeError;

/// What is wrong at a corrupt spot of the journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The bytes there are not a valid batch, and valid data follows them
    /// (so this is not a torn tail).
    BadBatch {
        /// Why the bytes did not decode.
        error: DecodeError,
        /// Offset in the same segment of the next valid batch found after it.
        valid_batch_at_bytes: u64,
    },
    /// The bytes there are not a valid batch, in a segment that is not the
    /// last: sealed segments were fully synced before the next one began, so
    /// nothing in them may be torn.
    BadBatchInSealedSegment {
        /// Why the bytes did not decode.
        error: DecodeError,
    },
    /// The last batch of the last segment was written completely (its
    /// trailer is there and no sector of it is missing) but does not check
    /// out: bytes that were acknowledged have been damaged since. Not a torn
    /// write, so recovery must not discard it.
    DamagedLastBatch {
        /// Why the bytes did not decode.
        error: DecodeError,
    },
    /// A valid batch with the wrong first sequence number (a batch deleted,
    /// reordered or duplicated).
    SeqMismatch {
        /// The sequence number the chain expects.
        expected: u64,
        /// The batch's `first_seq`.
        found: u64,
    },
    /// A valid batch whose `prev_hash` is not the hash of the batch before
    /// it (a batch replaced, or the history rewritten).
    ChainBroken {
        /// The hash of the previous batch.
        expected: crate::BatchHash,
        /// The batch's `prev_hash`.
        found: crate::BatchHash,
    },
    /// A segment's name does not match the sequence number the chain has
    /// reached (a segment deleted, renamed or reordered).
    SegmentNameMismatch {
        /// The first sequence number in the name.
        named: u64,
    },
    /// A segment that is not the last holds no batch.
    EmptySealedSegment,
    /// A batch that a scan accepted no longer checks out when it is read
    /// back ([`Journal::batch_bytes`](crate::Journal::batch_bytes)).
    Unreadable {
        /// Why the bytes did not decode.
        error: DecodeError,
    },
    /// The first segment does not start at seq 1, and no retirement anchor
    /// (`RETIRED`) says the history before it was retired on purpose.
    HistoryMissing {
        /// Where the anchor says retained history starts, if there is one.
        anchored_at: Option<u64>,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::BadBatch {
                error,
                valid_batch_at_bytes,
            } => write!(
                f,
                "bad batch ({error}) followed by a valid batch at byte {valid_batch_at_bytes}"
            ),
            Problem::BadBatchInSealedSegment { error } => write!(f, "bad batch in a sealed segment ({error})"),
            Problem::DamagedLastBatch { error } => write!(
                f,
                "the last batch was written completely but is damaged ({error}); not a torn write"
            ),
            Problem::SeqMismatch { expected, found } => {
                write!(f, "batch starts at seq {found}, the chain expects {expected}")
            }
            Problem::ChainBroken { expected, found } => {
                write!(
                    f,
                    "hash chain broken: prev_hash {found}, previous batch hashes to {expected}"
                )
            }
            Problem::SegmentNameMismatch { named } => write!(f, "segment is named for seq {named}"),
            Problem::EmptySealedSegment => write!(f, "a segment that is not the last holds no batch"),
            Problem::Unreadable { error } => write!(f, "a batch read back no longer checks out ({error})"),
            Problem::HistoryMissing { anchored_at: None } => {
                write!(f, "history before this segment is missing and was never retired")
            }
            Problem::HistoryMissing {
                anchored_at: Some(anchored_at),
            } => write!(
                f,
                "history before this segment is missing: retirement stopped at seq {anchored_at}"
            ),
        }
    }
}

/// A corrupt spot: where it is and what is wrong there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corruption {
    /// The segment file.
    pub segment: PathBuf,
    /// Byte offset of the bad batch within the segment.
    pub offset_bytes: u64,
    /// The first bad sequence number: the one the chain expected there.
    pub seq: u64,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "journal corrupt in {} at byte {}, seq {}: {}",
            self.segment.display(),
            self.offset_bytes,
            self.seq,
            self.problem
        )
    }
}

/// Everything that can go wrong in the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An I/O call failed.
    #[error("{operation} {}: {source}", path.display())]
    Io {
        /// What was being done ("open", "msync", "fsync directory" …).
        operation: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// Corruption before the tail: the journal refuses to open.
    #[error("{0}")]
    Corrupt(Box<Corruption>),
    /// A `.seg` file whose name is not 20 digits.
    #[error("unexpected segment file name {}", path.display())]
    BadSegmentName {
        /// The file.
        path: PathBuf,
    },
    /// The retirement anchor file is not one this journal wrote.
    #[error("malformed retirement anchor {}", path.display())]
    BadAnchor {
        /// The anchor file.
        path: PathBuf,
    },
    /// Another `Journal` holds the directory's lock.
    #[error("journal directory {} is locked by another writer", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The configuration is out of its limits.
    #[error("invalid journal configuration: {0}")]
    Config(String),
    /// `append` was given a batch that does not continue the journal.
    #[error("batch starts at seq {got}, the journal expects {expected}")]
    SeqOutOfOrder {
        /// The next sequence number of the journal.
        expected: u64,
        /// The batch's first sequence number.
        got: u64,
    },
    /// `append` was given more records than a batch may hold (or sequence
    /// numbers past `u64::MAX`).
    #[error("batch of {record_count} records is over the limit of one batch")]
    TooManyRecords {
        /// Records given.
        record_count: u64,
    },
    /// `append` was given no record.
    #[error("empty batch")]
    EmptyBatch,
    /// The batch does not fit a segment (or the format's limits).
    #[error("batch of {len_bytes} bytes does not fit a segment of {segment_size_bytes} bytes")]
    BatchTooLarge {
        /// Encoded length of the batch (or `u64::MAX` past the format's limits).
        len_bytes: u64,
        /// The configured segment size.
        segment_size_bytes: u64,
    },
    /// An earlier write or flush failed; nothing more is accepted (a failed
    /// fsync cannot be retried safely).
    #[error("journal stopped after an earlier failure")]
    Poisoned,
    /// [`Journal::append_encoded`](crate::Journal::append_encoded) refused a
    /// batch encoded elsewhere; nothing was written.
    #[error("encoded batch refused: {0}")]
    Refused(#[from] Refusal),
    /// [`Journal::truncate_after`](crate::Journal::truncate_after) was asked
    /// for a cut it cannot make; nothing was changed.
    #[error("cannot truncate after seq {seq}: {reason}")]
    BadCut {
        /// The sequence number asked to be kept last.
        seq: u64,
        /// Why not.
        reason: BadCut,
    },
}

/// Why an encoded batch (the leader's bytes) was not appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The bytes are not a valid batch (checksum, hash, framing or trailer).
    #[error("not a valid batch: {0}")]
    Undecodable(DecodeError),
    /// The bytes hold a valid batch and then more, or less than one.
    #[error("{given_bytes} bytes given for a batch of {batch_bytes}")]
    WrongLength {
        /// The batch's encoded length.
        batch_bytes: usize,
        /// The bytes given.
        given_bytes: usize,
    },
    /// A batch of another format version than this build writes: every
    /// node must hold the same bytes, so only the current version is taken.
    #[error("batch of format version {version}, this build writes only version 2")]
    OldVersion {
        /// The version found.
        version: u16,
    },
    /// The batch does not start at the journal's next sequence number.
    #[error("batch starts at seq {got}, the journal expects {expected}")]
    SeqOutOfOrder {
        /// The journal's next sequence number.
        expected: u64,
        /// The batch's first sequence number.
        got: u64,
    },
    /// The batch's `prev_hash` is not the journal's last hash.
    #[error("batch continues chain {found}, the journal's last hash is {expected}")]
    NotChained {
        /// The journal's last hash.
        expected: crate::BatchHash,
        /// The batch's `prev_hash`.
        found: crate::BatchHash,
    },
    /// The batch does not fit a segment.
    #[error("batch of {len_bytes} bytes does not fit a segment of {segment_size_bytes} bytes")]
    TooLarge {
        /// The batch's encoded length.
        len_bytes: u64,
        /// The configured segment size.
        segment_size_bytes: u64,
    },
}

/// Why a truncation point was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadCut {
    /// The journal ends before it.
    #[error("the journal ends at seq {last_seq}")]
    BeyondEnd {
        /// The journal's last sequence number.
        last_seq: u64,
    },
    /// It falls inside a batch (a batch is kept or dropped whole).
    #[error("it falls inside the batch {first_seq}..={last_seq}")]
    InsideBatch {
        /// The batch's first sequence number.
        first_seq: u64,
        /// The batch's last sequence number.
        last_seq: u64,
    },
    /// It is before the history this directory keeps (retired segments).
    #[error("the journal's retained history starts at seq {first_seq}")]
    Retired {
        /// The first sequence number kept.
        first_seq: u64,
    },
}

impl JournalError {
    /// True if the journal's contents are damaged (as opposed to I/O failing
    /// or the caller misusing the API).
    pub fn is_corruption(&self) -> bool {
        matches!(self, JournalError::Corrupt(_))
    }

    /// The corruption's details, if this is one.
    pub fn corruption(&self) -> Option<&Corruption> {
        match self {
            JournalError::Corrupt(corruption) => Some(corruption),
            _ => None,
        }
    }

    /// True if an I/O call failed.
    pub fn is_io(&self) -> bool {
        matches!(self, JournalError::Io { .. })
    }

    pub(crate) fn io(operation: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> JournalError {
        let path = path.into();
        move |source| JournalError::Io {
            operation,
            path,
            source,
        }
    }
}

impl From<Corruption> for JournalError {
    fn from(corruption: Corruption) -> JournalError {
        JournalError::Corrupt(Box::new(corruption))
    }
}
