//! Snapshot files: the whole ledger at a batch boundary, so that recovery
//! replays only the journal after it.
//!
//! A snapshot lives in `<data dir>/snapshots/<seq, 20 digits>.snap`: a
//! 128-byte header, then the ledger's [`LedgerImage`] in the canonical
//! encoding (`engine_core::codec`: explicit fields in a fixed order, stable
//! tags), versioned by the header's format version. The header records the sequence number, the time, the
//! ledger's digest and the journal's hash-chain value after that sequence
//! number (so a snapshot is only ever combined with the journal it was
//! taken from), and a CRC32C over the header fields and the payload.
//! Loading checks the CRC, then decodes the image (validating every field),
//! then rebuilds the ledger's tables checking their
//! invariants and conservation: damaged bytes give an error, never a panic
//! or a wrong ledger.
//!
//! Writing is atomic: a temp file, written and fsynced, renamed into place,
//! then the directory fsynced. A crash leaves either the old set of
//! snapshots or the new one, plus at most a `.tmp` that the next write
//! removes.
//!
//! ```text
//! offset size field
//!      0    8 magic "CRPSNAP1"
//!      8    4 format version (u32, 4 to 10)
//!     12    4 reserved (0)
//!     16    8 seq: the last sequence number applied
//!     24    8 time_ms of that envelope
//!     32    8 digest (Ledger::digest)
//!     40    8 payload length in bytes
//!     48   16 journal chain hash after `seq`
//!     64    4 CRC32C of bytes 0..64 followed by the payload
//!     68   60 zeros
//! ```
//!
//! Every build reads every snapshot version from 4 (the first frozen
//! format) onward; versions 1 to 3 (rkyv archives of the in-memory types)
//! are refused by name. Format 5 is format 4 with the players' profiles
//! (sealed ciphertext, blind indexes, status reasons, erasures) appended
//! to the image; a format-4 snapshot loads with no profiles, which is what
//! the ledger that wrote it had. Format 6 appends the players' KYC records
//! (level reasons, provider checks, documents with hashed numbers); formats
//! 4 and 5 load with none. Format 7 writes the KYC gates' list empty and
//! appends the jurisdiction profiles (every version) and each player's age
//! band and due-diligence state; formats 4 to 6 load with each
//! jurisdiction's gates as a profile in force since 0. Format 8 appends the
//! players' RG session records. Format 9 extends two records in place: each
//! profile version ends with its play-session rules, each RG record with
//! the session's last activity; formats 7 and 8 load with none of either
//! (no version had the rules, so no activity was kept). Format 10 appends
//! the game catalogue (providers, games); formats 4 to 9 load with an empty
//! one, under which no bet was checked. Format 11 appends the jackpot
//! pools and their flows; formats 4 to 10 load with none.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use engine_core::codec::Encode;
use journal::BatchHash;

use crate::ledger::{Config, ImageError, Ledger, LedgerImage};

/// Subdirectory of the data directory that holds snapshots.
pub const SNAPSHOT_DIR_NAME: &str = "snapshots";
/// Version of the snapshot format this build writes.
/// 4: the first frozen format (canonical encoding, stable tags).
/// 5: the image ends with the players' profiles.
/// 6: then the players' KYC records.
/// 7: then the jurisdiction profiles and the players' age bands and
///    due-diligence states.
/// 8: format 7, then the players' RG session records.
/// 9: format 8 with the profiles' play-session rules and the sessions'
///    last activity.
/// 10: format 9, then the game catalogue.
/// 11: format 10, then the jackpot pools.
/// 12: format 11, then the wallets' bonus max bets and queues.
/// 13: format 12, then the players' withdrawal holds.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 13;
// The newest snapshot format writes the newest image layout.
const _: () = assert!(SNAPSHOT_FORMAT_VERSION == engine_core::ledger::IMAGE_FORMAT_WITHDRAWAL_HOLDS);
/// The oldest snapshot format version this build reads.
pub const SNAPSHOT_FORMAT_FIRST: u32 = 4;

const MAGIC: [u8; 8] = *b"CRPSNAP1";
const HEADER_SIZE_BYTES: usize = 128;
const CHECKED_HEADER_BYTES: usize = 64;
const EXTENSION: &str = "snap";
/// Bytes written between two syncs of a snapshot file.
const WRITE_CHUNK_BYTES: usize = 32 << 20;

/// A snapshot on disk, as its header describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The file.
    pub path: PathBuf,
    /// The last sequence number the snapshot holds.
    pub seq: u64,
    /// The time of that sequence number, ms since the epoch.
    pub time_ms: u64,
    /// The ledger's digest at `seq`.
    pub digest: u64,
    /// The journal's chain hash after `seq` (the `prev_hash` of the batch after it).
    pub chain_hash: BatchHash,
    /// Size of the file.
    pub len_bytes: u64,
}

/// What went wrong with a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// An I/O call failed.
    #[error("{operation} {}: {source}", path.display())]
    Io {
        /// What was being done.
        operation: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The file is not an intact snapshot of this format.
    #[error("snapshot {} is damaged: {what}", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// The snapshot is intact but cannot become a ledger here.
    #[error("snapshot {}: {source}", path.display())]
    Unusable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ImageError,
    },
    /// A snapshot format this build does not read.
    #[error(
        "snapshot {} has format version {version}; this build reads versions {SNAPSHOT_FORMAT_FIRST}..={SNAPSHOT_FORMAT_VERSION} (older ones were written before the format was frozen)",
        path.display()
    )]
    UnknownVersion {
        /// The file.
        path: PathBuf,
        /// Its version.
        version: u32,
    },
}

impl SnapshotError {
    fn io(operation: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SnapshotError {
        let path = path.to_path_buf();
        move |source| SnapshotError::Io {
            operation,
            path,
            source,
        }
    }

    fn damaged(path: &Path, what: impl Into<String>) -> SnapshotError {
        SnapshotError::Damaged {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }
}

/// Time spent in the phases of writing or loading a snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnapshotTimings {
    /// Archiving the ledger (write) or validating and deserializing it (load).
    pub encode: Duration,
    /// Disk I/O: writing and fsyncing, or reading.
    pub io: Duration,
    /// Rebuilding the ledger's tables from the image (load only).
    pub rebuild: Duration,
}

/// The snapshot directory of a data directory.
pub fn snapshot_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(SNAPSHOT_DIR_NAME)
}

fn file_name(seq: u64) -> String {
    format!("{seq:020}.{EXTENSION}")
}

/// Where the snapshot of `seq` lives in a data directory.
pub fn path_for(data_dir: &Path, seq: u64) -> PathBuf {
    snapshot_dir(data_dir).join(file_name(seq))
}

/// The snapshots of a data directory, newest first, by their names.
pub fn list(data_dir: &Path) -> Result<Vec<(u64, PathBuf)>, SnapshotError> {
    let dir = snapshot_dir(data_dir);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(SnapshotError::io("read directory", &dir)(error)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.map_err(SnapshotError::io("read directory", &dir))?.path();
        let seq = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(".snap"))
            .filter(|digits| digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse::<u64>().ok());
        if let Some(seq) = seq {
            found.push((seq, path));
        }
    }
    found.sort_unstable_by_key(|&(seq, _)| std::cmp::Reverse(seq));
    Ok(found)
}

/// Writes `ledger` (consumed: its stores move into the archive without a
/// copy) as the snapshot of its last sequence number, atomically.
/// `chain_hash` is the journal's hash after that sequence number.
pub fn write(
    data_dir: &Path,
    ledger: Ledger,
    chain_hash: BatchHash,
) -> Result<(SnapshotInfo, SnapshotTimings), SnapshotError> {
    let started = Instant::now();
    let digest = ledger.digest();
    let image = ledger.into_image();
    let (seq, time_ms) = (image.last_seq, image.last_time_ms);
    // Sized up front: growing a multi-GiB buffer by doubling would copy it
    // several times over (untouched capacity costs no memory).
    let capacity = image.encoded_len_estimate();
    let mut payload = Vec::with_capacity(capacity);
    image.encode(&mut payload);
    drop(image);
    let encoded = Instant::now();

    let mut header = [0u8; HEADER_SIZE_BYTES];
    header[0..8].copy_from_slice(&MAGIC);
    header[8..12].copy_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&seq.to_le_bytes());
    header[24..32].copy_from_slice(&time_ms.to_le_bytes());
    header[32..40].copy_from_slice(&digest.to_le_bytes());
    header[40..48].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    header[48..64].copy_from_slice(&chain_hash.0);
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header[..CHECKED_HEADER_BYTES]), &payload);
    header[64..68].copy_from_slice(&crc.to_le_bytes());

    let dir = snapshot_dir(data_dir);
    fs::create_dir_all(&dir).map_err(SnapshotError::io("create directory", &dir))?;
    let path = dir.join(file_name(seq));
    let temp = dir.join(format!("{}.tmp", file_name(seq)));
    let mut file = File::create(&temp).map_err(SnapshotError::io("create", &temp))?;
    file.write_all(&header).map_err(SnapshotError::io("write", &temp))?;
    // Synced as it goes: one fsync of gigabytes would queue all of them for
    // writeback at once, and the journal's per-batch flush (same disk)
    // would wait behind them.
    for chunk in payload.chunks(WRITE_CHUNK_BYTES) {
        file.write_all(chunk)
            .and_then(|()| file.sync_data())
            .map_err(SnapshotError::io("write", &temp))?;
    }
    file.sync_all().map_err(SnapshotError::io("fsync", &temp))?;
    drop(file);
    fs::rename(&temp, &path).map_err(SnapshotError::io("rename", &path))?;
    File::open(&dir)
        .and_then(|handle| handle.sync_all())
        .map_err(SnapshotError::io("fsync directory", &dir))?;
    let info = SnapshotInfo {
        path,
        seq,
        time_ms,
        digest,
        chain_hash,
        len_bytes: (HEADER_SIZE_BYTES + payload.len()) as u64,
    };
    let timings = SnapshotTimings {
        encode: encoded - started,
        io: encoded.elapsed(),
        rebuild: Duration::ZERO,
    };
    Ok((info, timings))
}

/// Reads only the header of the snapshot at `path` (cheap; the payload is
/// not checked: use [`load`] for that).
pub fn read_info(path: &Path) -> Result<SnapshotInfo, SnapshotError> {
    let mut file = File::open(path).map_err(SnapshotError::io("open", path))?;
    let len_bytes = file.metadata().map_err(SnapshotError::io("stat", path))?.len();
    let mut header = [0u8; HEADER_SIZE_BYTES];
    file.read_exact(&mut header)
        .map_err(|_| SnapshotError::damaged(path, "shorter than a snapshot header"))?;
    parse_header(path, &header, len_bytes).map(|(info, _, _)| info)
}

/// Parses a header; returns the info, the payload length and the stored CRC.
fn parse_header(
    path: &Path,
    header: &[u8; HEADER_SIZE_BYTES],
    len_bytes: u64,
) -> Result<(SnapshotInfo, usize, u32), SnapshotError> {
    let u64_at = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().expect("8 bytes"));
    if header[0..8] != MAGIC {
        return Err(SnapshotError::damaged(path, "not a snapshot (bad magic)"));
    }
    let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    if !(SNAPSHOT_FORMAT_FIRST..=SNAPSHOT_FORMAT_VERSION).contains(&version) {
        return Err(SnapshotError::UnknownVersion {
            path: path.to_path_buf(),
            version,
        });
    }
    let payload_len = u64_at(40);
    if len_bytes != HEADER_SIZE_BYTES as u64 + payload_len {
        return Err(SnapshotError::damaged(
            path,
            format!(
                "file is {len_bytes} bytes, the header says {}",
                HEADER_SIZE_BYTES as u64 + payload_len
            ),
        ));
    }
    let payload_len = usize::try_from(payload_len).map_err(|_| SnapshotError::damaged(path, "payload too large"))?;
    let mut chain_hash = [0; 16];
    chain_hash.copy_from_slice(&header[48..64]);
    let crc = u32::from_le_bytes(header[64..68].try_into().expect("4 bytes"));
    let info = SnapshotInfo {
        path: path.to_path_buf(),
        seq: u64_at(16),
        time_ms: u64_at(24),
        digest: u64_at(32),
        chain_hash: BatchHash(chain_hash),
        len_bytes,
    };
    Ok((info, payload_len, crc))
}

/// The format version a header names.
fn info_version(header: &[u8; HEADER_SIZE_BYTES]) -> u32 {
    u32::from_le_bytes([header[8], header[9], header[10], header[11]])
}

/// Loads and checks the snapshot at `path` into a ledger running `config`.
pub fn load(path: &Path, config: &Config) -> Result<(Ledger, SnapshotInfo, SnapshotTimings), SnapshotError> {
    let started = Instant::now();
    let mut file = File::open(path).map_err(SnapshotError::io("open", path))?;
    let len_bytes = file.metadata().map_err(SnapshotError::io("stat", path))?.len();
    let mut header = [0u8; HEADER_SIZE_BYTES];
    file.read_exact(&mut header)
        .map_err(|_| SnapshotError::damaged(path, "shorter than a snapshot header"))?;
    let (info, payload_len, crc) = parse_header(path, &header, len_bytes)?;
    let mut payload = vec![0; payload_len];
    file.read_exact(&mut payload).map_err(SnapshotError::io("read", path))?;
    let read = Instant::now();

    if crc32c::crc32c_append(crc32c::crc32c(&header[..CHECKED_HEADER_BYTES]), &payload) != crc {
        return Err(SnapshotError::damaged(path, "checksum mismatch"));
    }
    // The image's layout follows the snapshot's version (4: without
    // profiles, 5: with them); `parse_header` refused any other.
    let image = LedgerImage::decode_format(&payload, info_version(&header))
        .map_err(|e| SnapshotError::damaged(path, format!("invalid image: {e}")))?;
    drop(payload);
    let decoded = Instant::now();
    if (image.last_seq, image.last_time_ms) != (info.seq, info.time_ms) {
        return Err(SnapshotError::damaged(
            path,
            "header and state disagree on the sequence number",
        ));
    }
    let ledger = Ledger::from_image(image, config).map_err(|source| SnapshotError::Unusable {
        path: path.to_path_buf(),
        source,
    })?;
    if ledger.digest() != info.digest {
        return Err(SnapshotError::damaged(path, "state does not match the recorded digest"));
    }
    let timings = SnapshotTimings {
        io: read - started,
        encode: decoded - read,
        rebuild: decoded.elapsed(),
    };
    Ok((ledger, info, timings))
}

/// Deletes all but the newest `keep` snapshots (and leftover temp files).
/// Returns the sequence number of the oldest snapshot kept, if any.
pub fn prune(data_dir: &Path, keep: usize) -> Result<Option<u64>, SnapshotError> {
    let dir = snapshot_dir(data_dir);
    if let Ok(entries) = fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|extension| extension == "tmp") {
                fs::remove_file(&path).map_err(SnapshotError::io("remove", &path))?;
            }
        }
    }
    let snapshots = list(data_dir)?;
    for (_, path) in snapshots.iter().skip(keep.max(1)) {
        fs::remove_file(path).map_err(SnapshotError::io("remove", path))?;
    }
    Ok(snapshots
        .get(..keep.max(1).min(snapshots.len()))
        .and_then(<[_]>::last)
        .map(|(seq, _)| *seq))
}
