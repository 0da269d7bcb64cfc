//! The ledger as the Raft state machine: each committed Normal entry is a
//! journal batch whose records are decoded and applied in order, each
//! required to give the outcome it carries (as recovery's replay requires),
//! and each batch required to continue the chain of the ones applied before.
//!
//! Snapshots are the engine's own snapshot files (format unchanged), taken
//! from disk as `croupier-admin snapshot` takes them, up to the applied
//! sequence number; `<data>/raft/snapshot` keeps the Raft metadata beside
//! the snapshot's bytes, and is where a restart begins.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use engine::durable::{self, SnapshotPolicy};
use engine::ledger::LedgerImage;
use engine::outcome::Outcome;
use engine::sequencer::Committed;
use engine::{Config, Ledger, record, snapshot};
use futures_util::{Stream, StreamExt};
use journal::{BatchHash, decode_batch};
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};

use crate::codec;
use crate::{BatchBytes, LogId, RAFT_DIR_NAME, Snapshot, SnapshotMeta, StoredMembership, TypeConfig};

const SNAPSHOT_FILE_NAME: &str = "snapshot";
/// Where an installed snapshot's ledger bytes are written to be loaded.
const INSTALLING_FILE_NAME: &str = "installing.snap";

/// A snapshot's data: an engine snapshot file's bytes (empty for the empty ledger).
pub type SnapshotBytes = Vec<u8>;

/// What applying a Normal entry gave: where its records went. Each record
/// gave the outcome it carries, or the entry would not have applied (the
/// outcomes are the leader's, so they are not repeated here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Applied {
    /// The first record's sequence number (the ledger's next one for an
    /// entry that is not a batch).
    pub first_seq: u64,
    /// How many records it applied (none for a blank or membership entry).
    pub records: u64,
}

/// Told of every batch the state machine applies (committed by a majority),
/// on Raft's state-machine task, before the write that proposed it is
/// answered: how read models and read copies follow the group. It must be
/// cheap and never block (copy and hand over).
pub trait ApplyObserver: Send + 'static {
    /// Records `first_seq..` were applied; record `i` is `bytes[ranges[i]]`
    /// (the journal's record bytes) and decodes to `committed[i]`.
    fn applied(&mut self, first_seq: u64, bytes: &[u8], ranges: &[std::ops::Range<usize>], committed: &[Committed]);

    /// Record `committed` (of a batch the group committed) is about to be
    /// applied to `ledger`: what the record changes can be read as it was
    /// before (the PAM key store learns the data key of a player being
    /// erased). Nothing by default.
    fn applying(&mut self, ledger: &Ledger, committed: &Committed) {
        let _ = (ledger, committed);
    }

    /// The ledger was replaced by a snapshot from the leader (this node was
    /// behind the leader's purged log): what follows the batches starts
    /// after `ledger.last_seq()`, and what was derived from the batches
    /// before must be derived from `ledger` instead.
    fn installed(&mut self, ledger: &Ledger);
}

/// Why a committed entry could not be applied: the node stops (Raft storage
/// errors are fatal) rather than hold a ledger that differs from the leader's.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The batch's bytes do not decode.
    #[error("log entry {index}: the batch does not decode: {error}")]
    Undecodable {
        /// The entry's index.
        index: u64,
        /// Why.
        error: journal::DecodeError,
    },
    /// The batch does not continue the batches applied before it.
    #[error(
        "log entry {index}: the batch starts at seq {first_seq} after {prev_hash}, the ledger is at {last_seq} after {chain_hash}"
    )]
    NotNext {
        /// The entry's index.
        index: u64,
        /// The batch's first sequence number.
        first_seq: u64,
        /// Its `prev_hash`.
        prev_hash: BatchHash,
        /// The ledger's last sequence number.
        last_seq: u64,
        /// The hash of the last batch applied.
        chain_hash: BatchHash,
    },
    /// A record does not decode, or names another sequence number.
    #[error("record at seq {seq}: {reason}")]
    Record {
        /// Its sequence number.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// Applying a record gave another outcome than the leader recorded.
    #[error("replay diverged at seq {seq}: recorded {recorded:?}, applied {applied:?}")]
    Diverged {
        /// The record's sequence number.
        seq: u64,
        /// The leader's outcome.
        recorded: Box<Outcome>,
        /// This node's.
        applied: Box<Outcome>,
    },
    /// A snapshot could not be taken, read or loaded.
    #[error("snapshot: {0}")]
    Snapshot(String),
}

impl From<ApplyError> for io::Error {
    fn from(error: ApplyError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, error)
    }
}

/// Where the state machine stands, readable from outside while Raft owns it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// The last log id applied.
    pub applied: Option<LogId>,
    /// The ledger's last sequence number.
    pub last_seq: u64,
    /// The ledger's digest.
    pub digest: u64,
    /// The hash of the last batch applied.
    pub chain_hash: BatchHash,
}

/// The Raft state machine over a [`Ledger`].
pub struct LedgerStateMachine {
    data_dir: PathBuf,
    config: Config,
    ledger: Ledger,
    chain_hash: BatchHash,
    applied: Option<LogId>,
    membership: StoredMembership,
    progress: Arc<Mutex<Progress>>,
    /// In a mutex only so the machine is `Sync`, as openraft asks: only the
    /// machine's task uses it.
    observer: Option<Mutex<Box<dyn ApplyObserver>>>,
}

impl std::fmt::Debug for LedgerStateMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerStateMachine")
            .field("data_dir", &self.data_dir)
            .field("applied", &self.applied)
            .field("last_seq", &self.ledger.last_seq())
            .finish_non_exhaustive()
    }
}

fn snapshot_error(error: impl std::fmt::Display) -> ApplyError {
    ApplyError::Snapshot(error.to_string())
}

/// Loads an engine snapshot file's bytes into a ledger (through a file in
/// `raft_dir`, as the engine loads snapshots from files). With `keep_in`,
/// the file then becomes that data directory's engine snapshot of its
/// sequence number: a snapshot installed from the leader is where this
/// node's own later snapshots replay from, its journal having been
/// re-based after it.
fn load_ledger(
    raft_dir: &Path,
    data: &[u8],
    config: &Config,
    keep_in: Option<&Path>,
) -> Result<(Ledger, BatchHash), ApplyError> {
    if data.is_empty() {
        return Ok((Ledger::new(config.clone()), BatchHash::GENESIS));
    }
    let path = raft_dir.join(INSTALLING_FILE_NAME);
    let mut file = fs::File::create(&path).map_err(snapshot_error)?;
    io::Write::write_all(&mut file, data)
        .and_then(|()| file.sync_all())
        .map_err(snapshot_error)?;
    drop(file);
    let loaded = snapshot::load(&path, config).map_err(snapshot_error);
    let (ledger, info, _) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            let _ = fs::remove_file(&path);
            return Err(error);
        }
    };
    match keep_in {
        Some(data_dir) => {
            let dir = snapshot::snapshot_dir(data_dir);
            fs::create_dir_all(&dir).map_err(snapshot_error)?;
            fs::rename(&path, snapshot::path_for(data_dir, info.seq)).map_err(snapshot_error)?;
            fs::File::open(&dir)
                .and_then(|handle| handle.sync_all())
                .map_err(snapshot_error)?;
        }
        None => {
            let _ = fs::remove_file(&path);
        }
    }
    Ok((ledger, info.chain_hash))
}

impl LedgerStateMachine {
    /// Opens the state machine of `data_dir`: the ledger of the newest Raft
    /// snapshot there (`raft/snapshot`), or an empty one. Raft applies the
    /// committed entries after it again.
    pub fn open(data_dir: &Path, config: Config) -> Result<LedgerStateMachine, ApplyError> {
        let raft_dir = data_dir.join(RAFT_DIR_NAME);
        fs::create_dir_all(&raft_dir).map_err(snapshot_error)?;
        let stored = codec::read_if_exists(&raft_dir.join(SNAPSHOT_FILE_NAME)).map_err(snapshot_error)?;
        let (meta, data) = match stored {
            Some(bytes) => codec::decode_snapshot(&bytes).map_err(snapshot_error)?,
            None => (SnapshotMeta::default(), Vec::new()),
        };
        let (ledger, chain_hash) = load_ledger(&raft_dir, &data, &config, None)?;
        let mut machine = LedgerStateMachine {
            data_dir: data_dir.to_path_buf(),
            config,
            ledger,
            chain_hash,
            applied: meta.last_log_id,
            membership: meta.last_membership,
            progress: Arc::default(),
            observer: None,
        };
        machine.publish();
        Ok(machine)
    }

    /// A handle on where the machine stands, updated after every apply.
    pub fn progress(&self) -> Arc<Mutex<Progress>> {
        Arc::clone(&self.progress)
    }

    /// The ledger as applied so far.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Tells `observer` of every batch applied from now on.
    pub fn set_observer(&mut self, observer: Box<dyn ApplyObserver>) {
        self.observer = Some(Mutex::new(observer));
    }

    /// A copy of the ledger as applied so far, and the hash of the last
    /// batch applied: what a new leader's sequencer starts from. Copied
    /// through the snapshot image (the ledger is taken apart, encoded once
    /// and rebuilt twice), so it costs the state's size, not the history's.
    pub fn copy_ledger(&mut self) -> Result<(Ledger, BatchHash), ApplyError> {
        use engine::codec::Encode;
        let ledger = std::mem::replace(&mut self.ledger, Ledger::new(self.config.clone()));
        let image = ledger.into_image();
        let mut bytes = Vec::with_capacity(image.encoded_len_estimate());
        image.encode(&mut bytes);
        drop(image);
        let rebuild = || {
            let image =
                LedgerImage::decode_format(&bytes, snapshot::SNAPSHOT_FORMAT_VERSION).map_err(snapshot_error)?;
            Ledger::from_image(image, &self.config).map_err(snapshot_error)
        };
        // The machine's own first: if that fails, the node must not go on.
        self.ledger = rebuild()?;
        Ok((rebuild()?, self.chain_hash))
    }

    fn publish(&mut self) {
        let progress = Progress {
            applied: self.applied,
            last_seq: self.ledger.last_seq(),
            digest: self.ledger.digest(),
            chain_hash: self.chain_hash,
        };
        *self.progress.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = progress;
    }

    fn apply_batch(&mut self, index: u64, bytes: &[u8]) -> Result<Applied, ApplyError> {
        let batch = decode_batch(bytes).map_err(|error| ApplyError::Undecodable { index, error })?;
        let last_seq = self.ledger.last_seq();
        if batch.first_seq() != last_seq + 1 || batch.prev_hash() != self.chain_hash {
            return Err(ApplyError::NotNext {
                index,
                first_seq: batch.first_seq(),
                prev_hash: batch.prev_hash(),
                last_seq,
                chain_hash: self.chain_hash,
            });
        }
        let mut applied = Vec::with_capacity(batch.header.record_count as usize);
        let (mut buffer, mut ranges) = (Vec::new(), Vec::new());
        for (seq, bytes) in (batch.first_seq()..).zip(batch.records()) {
            let committed = record::decode(bytes).map_err(|error| ApplyError::Record {
                seq,
                reason: error.to_string(),
            })?;
            if committed.envelope.seq != seq {
                return Err(ApplyError::Record {
                    seq,
                    reason: format!("it claims seq {}", committed.envelope.seq),
                });
            }
            if let Some(observer) = &mut self.observer {
                let observer = observer.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
                observer.applying(&self.ledger, &committed);
            }
            let outcome = self.ledger.apply(&committed.envelope);
            if outcome != committed.outcome {
                return Err(ApplyError::Diverged {
                    seq,
                    recorded: Box::new(committed.outcome),
                    applied: Box::new(outcome),
                });
            }
            if self.observer.is_some() {
                let start = buffer.len();
                buffer.extend_from_slice(bytes);
                ranges.push(start..buffer.len());
            }
            applied.push(committed);
        }
        self.chain_hash = batch.hash;
        if let Some(observer) = &mut self.observer {
            let observer = observer.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
            observer.applied(batch.first_seq(), &buffer, &ranges, &applied);
        }
        Ok(Applied {
            first_seq: batch.first_seq(),
            records: applied.len() as u64,
        })
    }
}

/// Builds a snapshot from disk (see the module doc); made by the state
/// machine with what it had applied then.
pub struct SnapshotBuilder {
    data_dir: PathBuf,
    config: Config,
    last_seq: u64,
    meta: SnapshotMeta,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    type SnapshotData = SnapshotBytes;

    async fn build_snapshot(&mut self) -> Result<Snapshot, io::Error> {
        let data = if self.last_seq == 0 {
            Vec::new()
        } else {
            let policy = SnapshotPolicy { keep: 2, retire: None };
            durable::take_snapshot(&self.data_dir, self.config.clone(), Some(self.last_seq), policy)
                .map_err(snapshot_error)?;
            let (_, path) = snapshot::list(&self.data_dir)
                .map_err(snapshot_error)?
                .into_iter()
                .find(|&(seq, _)| seq == self.last_seq)
                .ok_or_else(|| snapshot_error(format!("no snapshot of seq {} was written", self.last_seq)))?;
            fs::read(&path)?
        };
        let raft_dir = self.data_dir.join(RAFT_DIR_NAME);
        codec::write_atomic(
            &raft_dir,
            SNAPSHOT_FILE_NAME,
            &codec::encode_snapshot(&self.meta, &data),
            true,
        )?;
        Ok(Snapshot {
            meta: self.meta.clone(),
            snapshot: data,
        })
    }
}

impl RaftStateMachine<TypeConfig> for LedgerStateMachine {
    type SnapshotData = SnapshotBytes;
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), io::Error> {
        Ok((self.applied, self.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + OptionalSend,
    {
        while let Some(item) = entries.next().await {
            let (entry, responder) = item?;
            let response = match entry.payload {
                EntryPayload::Blank => Applied {
                    first_seq: self.ledger.last_seq() + 1,
                    records: 0,
                },
                EntryPayload::Membership(membership) => {
                    self.membership = StoredMembership::new(Some(entry.log_id), membership);
                    Applied {
                        first_seq: self.ledger.last_seq() + 1,
                        records: 0,
                    }
                }
                EntryPayload::Normal(BatchBytes(bytes)) => {
                    let applied = self.apply_batch(entry.log_id.index, &bytes);
                    if applied.is_err() {
                        self.publish();
                    }
                    applied?
                }
            };
            self.applied = Some(entry.log_id);
            if let Some(responder) = responder {
                responder.send(response);
            }
        }
        self.publish();
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            data_dir: self.data_dir.clone(),
            config: self.config.clone(),
            last_seq: self.ledger.last_seq(),
            meta: SnapshotMeta {
                last_log_id: self.applied,
                last_membership: self.membership.clone(),
            },
        }
    }

    async fn install_snapshot(&mut self, meta: &SnapshotMeta, snapshot: SnapshotBytes) -> Result<(), io::Error> {
        let raft_dir = self.data_dir.join(RAFT_DIR_NAME);
        let (ledger, chain_hash) = load_ledger(&raft_dir, &snapshot, &self.config, Some(&self.data_dir))?;
        codec::write_atomic(
            &raft_dir,
            SNAPSHOT_FILE_NAME,
            &codec::encode_snapshot(meta, &snapshot),
            true,
        )?;
        self.ledger = ledger;
        self.chain_hash = chain_hash;
        self.applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        if let Some(observer) = &mut self.observer {
            let observer = observer.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
            observer.installed(&self.ledger);
        }
        self.publish();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, io::Error> {
        let path = self.data_dir.join(RAFT_DIR_NAME).join(SNAPSHOT_FILE_NAME);
        let Some(bytes) = codec::read_if_exists(&path)? else {
            return Ok(None);
        };
        let (meta, snapshot) = codec::decode_snapshot(&bytes)?;
        Ok(Some(Snapshot { meta, snapshot }))
    }
}
