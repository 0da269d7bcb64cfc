//! Croupier's journal: the durable, tamper-evident log of committed batches.
//!
//! **What it owns.** A directory of pre-allocated segment files, each named by the first sequence number it holds. The unit of
//! append and of flush is the *batch*: the sequencer applies a batch of
//! commands, hands the journal their records as bytes, and replies only after
//! [`Journal::flush`] returned, so one `fdatasync` covers the whole batch (group
//! commit). Every batch carries two CRC32C checksums (header, payload), a
//! BLAKE3 hash of its payload, and the BLAKE3 hash of the previous batch's
//! header: a hash chain, so a deleted, reordered or rewritten batch is
//! detected by [`verify`], by [`Reader`] and on [`Journal::open`].
//!
//! **Why it is shaped this way.** Batches amortise the flush; pre-allocated
//! segments (zero-filled and synced by a background thread before they are
//! needed) keep file creation and block allocation off the append path, so
//! an append is one `pwrite` of the encoded batch and a flush one
//! `fdatasync` that writes data blocks and no metadata (the file never
//! grows). The zeros are written a page at a time, so that the page cache
//! holds them in page-sized folios and a flush writes back only the pages
//! its batch touched (written 1 MiB at a time, they made every flush write
//! 1 MiB; BENCHMARKS.md, issue #16); opening a journal does the same again
//! for the active segment's unwritten zeros. The writer used to write
//! through a memory map and `msync` it;
//! `pwrite` + `fdatasync` of the same bytes measured 1.9× (one record) to
//! 13× (8,192) faster per batch (BENCHMARKS.md, issue #1),
//! and the mapping's page faults left the append path too. Readers still
//! map segments read-only. Recovery scans every batch; it copies a *torn
//! tail* (the last write cut short: its trailer or a sector of it never
//! reached the disk) to `quarantine/` and zeroes it, and refuses to open on
//! *corruption* — a last batch written completely that does not check out, a
//! bad batch with valid data after it, a sealed segment that does not end
//! cleanly, a sequence gap or a broken chain — naming the segment file, the
//! byte offset and the sequence number. `FORMAT.md` beside this crate is the
//! byte-level reference and lists the write path and recovery in fsync order.
//!
//! **What it must never do.** Know what a record means: it stores bytes, and
//! must never depend on `engine` or any of its types (the `CommitSink`
//! adapter lives on the engine's side of the boundary). Acknowledge anything
//! it has not flushed under [`FlushPolicy::Always`]. Retry a failed fsync
//! (after one, the journal answers [`JournalError::Poisoned`]). Open a
//! directory with damage before its tail, or a directory another writer holds.
//!
//! ```
//! use journal::{FlushPolicy, Journal, JournalConfig, Reader};
//!
//! let dir = tempfile::tempdir()?;
//! let config = JournalConfig { segment_size_bytes: 1 << 20, flush: FlushPolicy::Always };
//! let (mut journal, recovered) = Journal::open(dir.path(), config)?;
//! assert_eq!(recovered.last_seq, 0);
//! journal.append(1, &[&b"first"[..], b"second"])?; // seqs 1 and 2
//! journal.flush()?;                                   // durable: now reply
//! drop(journal);
//!
//! let batches: Vec<_> = Reader::open(dir.path())?.batches().collect::<Result<_, _>>()?;
//! assert_eq!(batches[0].first_seq, 1);
//! assert_eq!(batches[0].records, vec![b"first".to_vec(), b"second".to_vec()]);
//! assert!(journal::verify(dir.path())?.is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod config;
mod error;
mod flusher;
pub mod format;
mod journal;
mod quarantine;
mod reader;
mod retire;
mod scan;
mod segment;
mod verify;

pub use config::{
    FLUSH_INTERVAL_MAX_MS, FlushPolicy, JournalConfig, SEGMENT_SIZE_DEFAULT_BYTES, SEGMENT_SIZE_MAX_BYTES,
    SEGMENT_SIZE_MIN_BYTES,
};
pub use error::{BadCut, Corruption, JournalError, Problem, Refusal};
pub use format::{BatchHash, DecodeError, DecodedBatch, decode_batch};
pub use journal::{Appended, Journal, JournalStats, Recovered, Truncated};
pub use quarantine::QUARANTINE_DIR_NAME;
pub use reader::{Batch, Batches, Reader};
pub use retire::{ANCHOR_FILE_NAME, ARCHIVE_DIR_NAME, Anchor, RetireReport, Retirement, read_anchor, retire};
pub use scan::TornTail;
pub use segment::{LOCK_FILE_NAME, PREPARED_FILE_NAME, segment_file_name};
pub use verify::{VerifyReport, verify};
