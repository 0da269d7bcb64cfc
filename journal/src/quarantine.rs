//! Keeping the bytes of a torn tail before recovery zeroes them.
//!
//! A torn tail was never acknowledged, so dropping it loses nothing a client
//! was promised. But "torn" is a judgement made from the bytes (`FORMAT.md`,
//! recovery), and one residual case is ambiguous; so nothing is destroyed on
//! that judgement alone: the bytes go to a file beside the journal first,
//! durably, where an operator can look at them.

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

/// Copies `bytes`, the torn tail at `offset_bytes` of `segment_path`, to
/// `<dir>/quarantine/<segment name>.<offset>.torn` (or `.<offset>.<n>.torn`
/// if that name holds other bytes), fsyncs the file and the directory
/// (creating it durably if needed), and returns the file's path. A file
/// already holding exactly these bytes is reused: an earlier recovery that
/// stopped before zeroing the tail.
pub(crate) fn quarantine(
    dir: &Path,
    segment_path: &Path,
    offset_bytes: u64,
    bytes: &[u8],
) -> Result<PathBuf, JournalError> {
    let quarantine_dir = dir.join(QUARANTINE_DIR_NAME);
    if !quarantine_dir.is_dir() {
        fs::create_dir(&quarantine_dir).map_err(JournalError::io("create directory", &quarantine_dir))?;
        segment::sync_dir(dir)?;
    }
    let segment_name = segment_path.file_name().unwrap_or_default().to_string_lossy();
    for n in 0..NAMES_PER_OFFSET_MAX {
        let name = match n {
            0 => format!("{segment_name}.{offset_bytes}.torn"),
            n => format!("{segment_name}.{offset_bytes}.{n}.torn"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_tail_is_kept_once_and_a_different_one_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let segment = dir.path().join("00000000000000000001.seg");
        let first = quarantine(dir.path(), &segment, 96, b"torn bytes").unwrap();
        assert_eq!(first, dir.path().join("quarantine/00000000000000000001.seg.96.torn"));
        assert_eq!(fs::read(&first).unwrap(), b"torn bytes");
        // The same bytes again (a recovery cut short before the zeroing).
        assert_eq!(quarantine(dir.path(), &segment, 96, b"torn bytes").unwrap(), first);
        // Other bytes torn at the same offset later on.
        let second = quarantine(dir.path(), &segment, 96, b"other bytes").unwrap();
        assert_eq!(second, dir.path().join("quarantine/00000000000000000001.seg.96.1.torn"));
        assert_eq!(fs::read(&first).unwrap(), b"torn bytes");
        assert_eq!(fs::read(&second).unwrap(), b"other bytes");
    }
}
