//! Segment files: names, listing, pre-allocation ahead of need, directory fsync.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use memmap2::Mmap;

use crate::error::JournalError;

/// Extension of segment files.
pub const SEGMENT_EXTENSION: &str = "seg";
/// Digits of the first sequence number in a segment's name (`u64::MAX` has 20).
pub const SEGMENT_NAME_DIGITS: usize = 20;
/// The next segment, zero-filled and synced, waiting to be renamed into place.
pub const PREPARED_FILE_NAME: &str = "next-segment.prepared";
/// The file whose advisory lock marks the directory's one writer.
pub const LOCK_FILE_NAME: &str = "LOCK";

/// Bytes written per call while zero-filling a new segment: one page.
/// The zeros stay in the page cache, and the kernel sizes a page-cache folio
/// by the write that creates it. Written in 1 MiB calls, they filled 1 MiB
/// folios (ext4 on Linux 6.18). A batch of a few hundred bytes then dirtied
/// a whole folio, and every flush wrote 1 MiB to the disk instead of the one
/// or two pages the batch touched. Written a page at a time, a flush writes
/// only the pages of its batch.
const ZERO_CHUNK_BYTES: usize = 4096;

/// The file name of the segment whose first batch starts at `first_seq`.
pub fn segment_file_name(first_seq: u64) -> String {
    format!("{first_seq:0width$}.{SEGMENT_EXTENSION}", width = SEGMENT_NAME_DIGITS)
}

/// The first sequence number a segment file name stands for, if it is one.
fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != SEGMENT_NAME_DIGITS || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A segment file found in the directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SegmentFile {
    pub path: PathBuf,
    pub first_seq: u64,
}

/// The segments of `dir`, in sequence order. Other files are ignored, but a
/// `.seg` file with a malformed name is an error (it may be lost data).
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<SegmentFile>, JournalError> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).map_err(JournalError::io("read directory", dir))? {
        let path = entry.map_err(JournalError::io("read directory", dir))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some(SEGMENT_EXTENSION) {
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let Some(first_seq) = parse_segment_name(name) else {
            return Err(JournalError::BadSegmentName { path });
        };
        segments.push(SegmentFile { path, first_seq });
    }
    segments.sort_by_key(|segment| segment.first_seq);
    Ok(segments)
}

/// Makes the directory's entries (created, renamed or removed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(JournalError::io("fsync directory", dir))
}

/// Maps a whole file read-only.
// Memory maps are unsafe by nature (another process could change the
// file); this function is the journal's only unsafe code.
#[allow(unsafe_code)]
pub(crate) fn map_read(path: &Path) -> Result<Mmap, JournalError> {
    let file = File::open(path).map_err(JournalError::io("open", path))?;
    // SAFETY: the journal never truncates or shrinks a segment, so the
    // mapping stays backed. Only the single writer (the directory lock)
    // changes bytes, and only past the last valid batch or while zeroing a
    // torn tail; a reader of a live journal may see such bytes change, which
    // the decoder treats like any other bytes (checked, never trusted).
    unsafe { Mmap::map(&file) }.map_err(JournalError::io("mmap", path))
}

/// An active segment: its file, written with `pwrite` at explicit offsets
/// and made durable with `fdatasync` (the file is pre-allocated and never
/// grows, so a sync writes data blocks only, no metadata). Readers map it;
/// Linux keeps the two views of the page cache coherent.
pub(crate) struct OpenSegment {
    pub path: PathBuf,
    /// Shared with the interval flusher, which fdatasyncs it.
    pub file: Arc<File>,
    /// The file's size (fixed when it was prepared).
    pub len_bytes: u64,
}

impl OpenSegment {
    /// Writes `bytes` at `offset` (the whole of it, or an error).
    pub fn write_at(&self, bytes: &[u8], offset: u64) -> Result<(), JournalError> {
        self.file
            .write_all_at(bytes, offset)
            .map_err(JournalError::io("pwrite", &self.path))
    }

    /// Reads `len` bytes at `offset`.
    pub fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, JournalError> {
        let mut bytes = vec![0; len];
        self.file
            .read_exact_at(&mut bytes, offset)
            .map_err(JournalError::io("pread", &self.path))?;
        Ok(bytes)
    }

    /// Makes every byte written so far durable (`fdatasync`).
    pub fn sync(&self) -> Result<(), JournalError> {
        self.file.sync_data().map_err(JournalError::io("fdatasync", &self.path))
    }

    /// Gives the zeros after `data_end` page-sized folios again, as the
    /// segment had when it was prepared ([`ZERO_CHUNK_BYTES`]): drops the
    /// file from the page cache, writes those zeros again a page at a time
    /// (the page holding `data_end` is left as it is), and syncs them.
    /// Recovery reads a segment to its end through a mapping; on a cold
    /// cache (after a reboot) that read fills large folios, and every flush
    /// of a small batch would write one back whole. Zeros over zeros: a
    /// crash part-way leaves the same bytes.
    pub fn refill_unwritten_tail(&self, data_end: u64) -> Result<(), JournalError> {
        rustix::fs::fadvise(&*self.file, 0, None, rustix::fs::Advice::DontNeed)
            .map_err(|errno| JournalError::io("fadvise", &self.path)(errno.into()))?;
        let start = data_end.next_multiple_of(ZERO_CHUNK_BYTES as u64);
        if start >= self.len_bytes {
            return Ok(());
        }
        write_zeros(&self.file, start, self.len_bytes).map_err(JournalError::io("pwrite", &self.path))?;
        self.sync()
    }
}

/// Writes zeros over `start..end` of `file`, a page ([`ZERO_CHUNK_BYTES`])
/// a write.
fn write_zeros(file: &File, start: u64, end: u64) -> io::Result<()> {
    let zeros = [0u8; ZERO_CHUNK_BYTES];
    let mut offset = start;
    while offset < end {
        let chunk = (end - offset).min(ZERO_CHUNK_BYTES as u64) as usize;
        file.write_all_at(&zeros[..chunk], offset)?;
        offset += chunk as u64;
    }
    Ok(())
}

/// Opens an existing segment for writing.
pub(crate) fn open_segment(path: &Path) -> Result<OpenSegment, JournalError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(JournalError::io("open", path))?;
    let len_bytes = file.metadata().map_err(JournalError::io("stat", path))?.len();
    Ok(OpenSegment {
        path: path.to_path_buf(),
        file: Arc::new(file),
        len_bytes,
    })
}

/// Creates `path` as a segment of `size_bytes` zeros that are on disk: the
/// blocks are allocated and the size is synced, so later appends only
/// overwrite data in place and an `fdatasync` of them needs no metadata.
fn create_zeroed(path: &Path, size_bytes: u64) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    write_zeros(&file, 0, size_bytes)?;
    file.sync_all()?;
    Ok(file)
}

/// A new segment file, zeroed and synced, under [`PREPARED_FILE_NAME`].
pub(crate) struct PreparedSegment {
    pub file: File,
    pub len_bytes: u64,
}

fn prepare(dir: &Path, size_bytes: u64) -> Result<PreparedSegment, JournalError> {
    let path = dir.join(PREPARED_FILE_NAME);
    let file = create_zeroed(&path, size_bytes).map_err(JournalError::io("prepare segment", &path))?;
    Ok(PreparedSegment {
        file,
        len_bytes: size_bytes,
    })
}

/// Renames the prepared file to the segment of `first_seq` and syncs the
/// directory, so that the new name is durable before any batch goes in.
pub(crate) fn install(dir: &Path, prepared: PreparedSegment, first_seq: u64) -> Result<OpenSegment, JournalError> {
    let from = dir.join(PREPARED_FILE_NAME);
    let path = dir.join(segment_file_name(first_seq));
    fs::rename(&from, &path).map_err(JournalError::io("rename prepared segment", &path))?;
    sync_dir(dir)?;
    Ok(OpenSegment {
        path,
        file: Arc::new(prepared.file),
        len_bytes: prepared.len_bytes,
    })
}

/// Removes a prepared file left by an earlier run (it may be half-written).
pub(crate) fn remove_stale_prepared(dir: &Path) -> Result<(), JournalError> {
    let path = dir.join(PREPARED_FILE_NAME);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(JournalError::io("remove", path)(error)),
    }
}

/// Prepares the next segment on a background thread, so that rolling over
/// costs a rename and a directory fsync, not a 64 MiB write.
pub(crate) struct Preparer {
    thread: Option<JoinHandle<Result<PreparedSegment, JournalError>>>,
}

impl Preparer {
    /// Starts preparing a segment of `size_bytes` in `dir`.
    pub fn spawn(dir: &Path, size_bytes: u64) -> Result<Preparer, JournalError> {
        let dir_owned = dir.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("journal-prepare".into())
            .spawn(move || prepare(&dir_owned, size_bytes))
            .map_err(JournalError::io("spawn preparer thread", dir))?;
        Ok(Preparer { thread: Some(thread) })
    }

    /// Prepares in the calling thread (the first segment of a new journal).
    pub fn now(dir: &Path, size_bytes: u64) -> Result<PreparedSegment, JournalError> {
        prepare(dir, size_bytes)
    }

    /// True if the segment is ready (taking it will not wait).
    pub fn is_ready(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits for the prepared segment.
    pub fn take(mut self) -> Result<PreparedSegment, JournalError> {
        let thread = self.thread.take().expect("a preparer is taken once");
        thread.join().unwrap_or_else(|_| {
            Err(JournalError::Io {
                operation: "prepare segment (thread panicked)",
                path: PathBuf::from(PREPARED_FILE_NAME),
                source: io::Error::other("preparer thread panicked"),
            })
        })
    }
}

impl Drop for Preparer {
    fn drop(&mut self) {
        // Never leave a thread writing into the directory behind us.
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_as_numbers_and_parse_back() {
        assert_eq!(segment_file_name(1), "00000000000000000001.seg");
        assert_eq!(segment_file_name(u64::MAX), "18446744073709551615.seg");
        assert!(segment_file_name(9) < segment_file_name(10));
        for seq in [1, 10, 12_345, u64::MAX] {
            assert_eq!(parse_segment_name(&segment_file_name(seq)), Some(seq));
        }
        for bad in [
            "1.seg",
            "0000000000000000000x.seg",
            "00000000000000000001.seg.tmp",
            "99999999999999999999.seg",
        ] {
            assert_eq!(parse_segment_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_prepared_segment_is_zeroed_and_sized() {
        let dir = tempfile::tempdir().unwrap();
        let prepared = Preparer::spawn(dir.path(), 8192).unwrap().take().unwrap();
        assert_eq!(prepared.len_bytes, 8192);
        let segment = install(dir.path(), prepared, 42).unwrap();
        let bytes = std::fs::read(&segment.path).unwrap();
        assert_eq!(bytes.len(), 8192);
        assert!(bytes.iter().all(|&byte| byte == 0));
        assert_eq!(segment.path, dir.path().join(segment_file_name(42)));
        assert!(!dir.path().join(PREPARED_FILE_NAME).exists());
        let listed = list_segments(dir.path()).unwrap();
        assert_eq!(
            listed,
            vec![SegmentFile {
                path: segment.path,
                first_seq: 42
            }]
        );
    }
}
