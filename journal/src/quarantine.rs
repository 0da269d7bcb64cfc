//! Keeping the bytes of a torn tail before recovery zeroes them, and those
//! of a suffix a follower truncates before they go.
//!
//! A torn tail was never acknowledged, so dropping it loses nothing a client
//! was promised. But "torn" is a judgement made from the bytes (`FORMAT.md`,
//! recovery), and one residual case is ambiguous; so nothing is destroyed on
//! that judgement alone: the bytes go to a file beside the journal first,
//! durably, where an operator can look at them. A suffix truncated on Raft's
//! word ([`Journal::truncate_after`](crate::Journal::truncate_after)) is kept
//! the same way.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::JournalError;
use crate::segment;

/// The directory, inside the journal's, that holds quarantined torn tails.
pub const QUARANTINE_DIR_NAME: &str = "quarantine";

/// Most files one segment offset may get (a tail torn again at the same
/// offset after an earlier recovery gets the next free name).
const NAMES_PER_OFFSET_MAX: u32 = 1000;

/// Why bytes are quarantined: the last part of the file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Why {
    /// A torn tail found by recovery (`.torn`).
    Torn,
    /// A suffix truncated on a Raft leader's word (`.truncated`).
    Truncated,
}

impl Why {
    fn extension(self) -> &'static str {
        match self {
            Why::Torn => "torn",
            Why::Truncated => "truncated",
        }
    }
}

/// Creates `<dir>/quarantine` durably if it is not there; returns it.
fn quarantine_dir(dir: &Path) -> Result<PathBuf, JournalError> {
    let quarantine_dir = dir.join(QUARANTINE_DIR_NAME);
    if !quarantine_dir.is_dir() {
        fs::create_dir(&quarantine_dir).map_err(JournalError::io("create directory", &quarantine_dir))?;
        segment::sync_dir(dir)?;
    }
    Ok(quarantine_dir)
}

/// Copies `bytes`, found at `offset_bytes` of `segment_path`, to
/// `<dir>/quarantine/<segment name>.<offset>.torn` (`.truncated` for a
/// truncated suffix; `.<offset>.<n>.torn` if that name holds other bytes),
/// fsyncs the file and the directory (creating it durably if needed), and
/// returns the file's path. A file already holding exactly these bytes is
/// reused: an earlier recovery or truncation that stopped before zeroing them.
pub(crate) fn quarantine(
    dir: &Path,
    segment_path: &Path,
    offset_bytes: u64,
    bytes: &[u8],
    why: Why,
) -> Result<PathBuf, JournalError> {
    let quarantine_dir = quarantine_dir(dir)?;
    let segment_name = segment_path.file_name().unwrap_or_default().to_string_lossy();
    let extension = why.extension();
    for n in 0..NAMES_PER_OFFSET_MAX {
        let name = match n {
            0 => format!("{segment_name}.{offset_bytes}.{extension}"),
            n => format!("{segment_name}.{offset_bytes}.{n}.{extension}"),
        };
        let path = quarantine_dir.join(name);
        match File::options().write(true).create_new(true).open(&path) {
            Ok(mut file) => {
                file.write_all(bytes)
                    .and_then(|()| file.sync_all())
                    .map_err(JournalError::io("write quarantine file", &path))?;
                segment::sync_dir(&quarantine_dir)?;
                return Ok(path);
            }
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                let existing = fs::read(&path).map_err(JournalError::io("read quarantine file", &path))?;
                if existing == bytes {
                    // Written by a recovery that stopped before the zeroing;
                    // perhaps not synced yet.
                    File::open(&path)
                        .and_then(|file| file.sync_all())
                        .map_err(JournalError::io("fsync quarantine file", &path))?;
                    segment::sync_dir(&quarantine_dir)?;
                    return Ok(path);
                }
            }
            Err(error) => return Err(JournalError::io("create quarantine file", path)(error)),
        }
    }
    Err(JournalError::io("create quarantine file", quarantine_dir)(
        io::Error::other(format!(
            "{NAMES_PER_OFFSET_MAX} torn tails of {segment_name} at byte {offset_bytes} already quarantined"
        )),
    ))
}

/// Moves a whole segment into the quarantine directory as
/// `<segment name>.truncated` (`.<n>.truncated` if taken), then fsyncs both
/// directories; returns where it went.
pub(crate) fn quarantine_segment(dir: &Path, segment_path: &Path) -> Result<PathBuf, JournalError> {
    let quarantine_dir = quarantine_dir(dir)?;
    let segment_name = segment_path.file_name().unwrap_or_default().to_string_lossy();
    for n in 0..NAMES_PER_OFFSET_MAX {
        let name = match n {
            0 => format!("{segment_name}.truncated"),
            n => format!("{segment_name}.{n}.truncated"),
        };
        let path = quarantine_dir.join(name);
        if path.exists() {
            continue;
        }
        fs::rename(segment_path, &path).map_err(JournalError::io("move segment to quarantine", &path))?;
        segment::sync_dir(&quarantine_dir)?;
        segment::sync_dir(dir)?;
        return Ok(path);
    }
    Err(JournalError::io("move segment to quarantine", quarantine_dir)(
        io::Error::other(format!(
            "{NAMES_PER_OFFSET_MAX} copies of {segment_name} already quarantined"
        )),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_tail_is_kept_once_and_a_different_one_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let segment = dir.path().join("00000000000000000001.seg");
        let first = quarantine(dir.path(), &segment, 96, b"torn bytes", Why::Torn).unwrap();
        assert_eq!(first, dir.path().join("quarantine/00000000000000000001.seg.96.torn"));
        assert_eq!(fs::read(&first).unwrap(), b"torn bytes");
        // The same bytes again (a recovery cut short before the zeroing).
        assert_eq!(
            quarantine(dir.path(), &segment, 96, b"torn bytes", Why::Torn).unwrap(),
            first
        );
        // Other bytes torn at the same offset later on.
        let second = quarantine(dir.path(), &segment, 96, b"other bytes", Why::Torn).unwrap();
        assert_eq!(second, dir.path().join("quarantine/00000000000000000001.seg.96.1.torn"));
        assert_eq!(fs::read(&first).unwrap(), b"torn bytes");
        assert_eq!(fs::read(&second).unwrap(), b"other bytes");
    }
}
