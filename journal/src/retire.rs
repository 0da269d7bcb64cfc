//! Retiring old segments: moving (or removing) the segments a snapshot has
//! made unnecessary for recovery, while keeping the hash chain checkable.
//!
//! Once history before some sequence number is gone from the directory, the
//! first remaining batch's `prev_hash` can no longer be checked against the
//! batch before it. The *anchor* file (`RETIRED`) records where the retained
//! history starts and the hash it must continue from. It is written (and
//! synced) before any segment moves, so a journal whose first segment is not
//! the genesis is accepted only if an anchor covers it: a segment deleted by
//! accident or by an attacker is still reported as missing history.
//!
//! Retirement never touches the two newest segments: the active one (being
//! appended to) and the sealed one before it, which anchors the chain even
//! when the active segment holds no batch yet. So it may run while a writer
//! appends, from another thread or process, without the directory lock.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::JournalError;
use crate::format::{BatchHash, decode_batch};
use crate::segment::{self, SegmentFile, map_read};

/// Name of the anchor file in a journal directory.
pub const ANCHOR_FILE_NAME: &str = "RETIRED";
/// Subdirectory that archived segments move to.
pub const ARCHIVE_DIR_NAME: &str = "archive";

/// What to do with retired segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retirement {
    /// Move them into the `archive/` subdirectory (same file system, so a
    /// rename), from where an operator ships them to cold storage.
    /// `verify` still walks them, so the whole chain stays checkable.
    Archive,
    /// Delete them. Only the snapshot and the anchor vouch for the past.
    Remove,
}

/// Where the retained history starts: the first sequence number still in
/// the directory and the hash of the batch before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// The first sequence number of the first retained segment.
    pub first_seq: u64,
    /// The hash of the last retired batch: the first retained batch's `prev_hash`.
    pub prev_hash: BatchHash,
}

/// What [`retire`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetireReport {
    /// The segments moved or removed, by their old paths.
    pub segments: Vec<PathBuf>,
    /// The anchor now in force, if history was ever retired.
    pub anchor: Option<Anchor>,
}

/// Retires the segments of `dir` that hold only sequence numbers up to
/// `through_seq`, keeping the two newest segments whatever they hold.
pub fn retire(dir: impl AsRef<Path>, through_seq: u64, how: Retirement) -> Result<RetireReport, JournalError> {
    let dir = dir.as_ref();
    let segments = segment::list_segments(dir)?;
    let retirable = segments
        .windows(2)
        .take(segments.len().saturating_sub(2))
        .take_while(|pair| pair[1].first_seq <= through_seq.saturating_add(1))
        .count();
    if retirable == 0 {
        return Ok(RetireReport {
            segments: Vec::new(),
            anchor: read_anchor(dir)?,
        });
    }
    let first_kept = &segments[retirable];
    let anchor = Anchor {
        first_seq: first_kept.first_seq,
        prev_hash: first_prev_hash(first_kept)?,
    };
    write_anchor(dir, anchor)?;
    let archive = dir.join(ARCHIVE_DIR_NAME);
    if how == Retirement::Archive {
        fs::create_dir_all(&archive).map_err(JournalError::io("create directory", &archive))?;
        segment::sync_dir(dir)?;
    }
    let mut retired = Vec::with_capacity(retirable);
    for old in &segments[..retirable] {
        match how {
            Retirement::Archive => {
                let to = archive.join(old.path.file_name().unwrap_or_default());
                fs::rename(&old.path, &to).map_err(JournalError::io("archive segment", &old.path))?;
            }
            Retirement::Remove => fs::remove_file(&old.path).map_err(JournalError::io("remove segment", &old.path))?,
        }
        retired.push(old.path.clone());
    }
    if how == Retirement::Archive {
        segment::sync_dir(&archive)?;
    }
    segment::sync_dir(dir)?;
    Ok(RetireReport {
        segments: retired,
        anchor: Some(anchor),
    })
}

/// The `prev_hash` of a sealed segment's first batch.
fn first_prev_hash(segment: &SegmentFile) -> Result<BatchHash, JournalError> {
    let map = map_read(&segment.path)?;
    let batch = decode_batch(&map).map_err(|error| {
        JournalError::from(crate::error::Corruption {
            segment: segment.path.clone(),
            offset_bytes: 0,
            seq: segment.first_seq,
            problem: crate::error::Problem::BadBatchInSealedSegment { error },
        })
    })?;
    Ok(batch.prev_hash())
}

/// Reads the anchor of `dir`, if history was ever retired from it.
pub fn read_anchor(dir: impl AsRef<Path>) -> Result<Option<Anchor>, JournalError> {
    let path = dir.as_ref().join(ANCHOR_FILE_NAME);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(JournalError::io("read", path)(error)),
    };
    parse_anchor(&text).map(Some).ok_or(JournalError::BadAnchor { path })
}

fn parse_anchor(text: &str) -> Option<Anchor> {
    let mut first_seq = None;
    let mut prev_hash = None;
    for line in text.lines() {
        match line.split_once('=') {
            Some(("first_seq", value)) => first_seq = value.parse::<u64>().ok(),
            Some(("prev_hash", value)) => prev_hash = parse_hash(value),
            _ => return None,
        }
    }
    Some(Anchor {
        first_seq: first_seq.filter(|&seq| seq > 1)?,
        prev_hash: prev_hash?,
    })
}

fn parse_hash(hex: &str) -> Option<BatchHash> {
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0; 16];
    for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(BatchHash(out))
}

/// Writes the anchor atomically: temp file, fsync, rename, directory fsync.
pub(crate) fn write_anchor(dir: &Path, anchor: Anchor) -> Result<(), JournalError> {
    let temp = dir.join(format!("{ANCHOR_FILE_NAME}.tmp"));
    let path = dir.join(ANCHOR_FILE_NAME);
    let text = format!("first_seq={}\nprev_hash={}\n", anchor.first_seq, anchor.prev_hash);
    let mut file = File::create(&temp).map_err(JournalError::io("create", &temp))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(JournalError::io("write", &temp))?;
    fs::rename(&temp, &path).map_err(JournalError::io("rename", &path))?;
    segment::sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_round_trip_and_malformed_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_anchor(dir.path()).unwrap(), None);
        let anchor = Anchor {
            first_seq: 4097,
            prev_hash: BatchHash([0xa5; 16]),
        };
        write_anchor(dir.path(), anchor).unwrap();
        assert_eq!(read_anchor(dir.path()).unwrap(), Some(anchor));
        for bad in [
            "",
            "first_seq=1\nprev_hash=00000000000000000000000000000000\n",
            "first_seq=5\n",
            "x=1\n",
        ] {
            fs::write(dir.path().join(ANCHOR_FILE_NAME), bad).unwrap();
            assert!(
                matches!(read_anchor(dir.path()), Err(JournalError::BadAnchor { .. })),
                "{bad:?}"
            );
        }
    }
}
