//! Telling a torn last write from a damaged one (issue #9, item 1).
//!
//! A last batch that was written completely and then had a bit flipped was
//! acknowledged: it must be reported as corruption by `verify` and refused by
//! `Journal::open`, with nothing on disk changed. A last batch whose write
//! never completed (sectors that never reached the disk: a prefix, a suffix,
//! or some in the middle) was never acknowledged: it is torn, copied to
//! `quarantine/`, truncated, and the journal appends after it as before.

use std::fs;
use std::path::{Path, PathBuf};

use journal::format::{SECTOR_SIZE_BYTES, encode_batch_v1};
use journal::{
    BatchHash, FlushPolicy, Journal, JournalConfig, Problem, QUARANTINE_DIR_NAME, Reader, decode_batch,
    segment_file_name, verify,
};
use tempfile::TempDir;

const SEGMENT_SIZE_BYTES: u64 = 16 << 10;

fn config() -> JournalConfig {
    JournalConfig {
        segment_size_bytes: SEGMENT_SIZE_BYTES,
        flush: FlushPolicy::Always,
    }
}

/// A journal of two batches: seq 1, one record of `lead_len` bytes, then
/// the last batch, seqs 2..=4, 2048 bytes of non-zero records and padding
/// over several sectors.
struct Setup {
    dir: TempDir,
    segment: PathBuf,
    /// The intact segment file.
    pristine: Vec<u8>,
    /// Where the last batch starts, and its length.
    offset: usize,
    len: usize,
    /// The first batch's hash: what the chain stands at without the last.
    first_hash: BatchHash,
}

fn setup(lead_len: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(dir.path(), config()).unwrap();
    journal.append(1, &[vec![0xA5u8; lead_len]]).unwrap();
    journal.flush().unwrap();
    let (offset, first_hash) = (journal.write_offset_bytes() as usize, journal.last_hash());
    // 3 + 704 + 654 + 615 = 1973 payload bytes: 3 of padding, then the trailer.
    let records = [vec![0x81u8; 700], vec![0x92; 650], vec![0xC3; 611]];
    journal.append(2, &records).unwrap();
    journal.flush().unwrap();
    let len = journal.write_offset_bytes() as usize - offset;
    assert_eq!(len, 2048);
    drop(journal);
    let segment = dir.path().join(segment_file_name(1));
    let pristine = fs::read(&segment).unwrap();
    assert!(decode_batch(&pristine[offset..]).is_ok());
    Setup {
        dir,
        segment,
        pristine,
        offset,
        len,
        first_hash,
    }
}

/// Both layouts: the last batch's header straddling a sector boundary
/// (480..544) or lying inside one sector (176..240).
const LEAD_LENS: [usize; 2] = [404, 100];

fn quarantine_dir(dir: &Path) -> PathBuf {
    dir.join(QUARANTINE_DIR_NAME)
}

fn quarantine_file(setup: &Setup) -> PathBuf {
    quarantine_dir(setup.dir.path()).join(format!("{}.{}.torn", segment_file_name(1), setup.offset))
}

/// The last batch written with `bytes` in place of the pristine segment:
/// checks that `verify` and `open` refuse it as damage of seq 2 at its
/// offset and change nothing on disk.
fn check_corrupt(setup: &Setup, bytes: &[u8], label: &str) {
    fs::write(&setup.segment, bytes).unwrap();
    let report = verify(setup.dir.path()).unwrap();
    let corruption = report
        .corruption
        .clone()
        .unwrap_or_else(|| panic!("{label}: verify passed: {report:?}"));
    assert!(!report.is_ok());
    assert_eq!(
        (&corruption.segment, corruption.offset_bytes, corruption.seq),
        (&setup.segment, setup.offset as u64, 2),
        "{label}: {corruption}"
    );
    assert!(
        matches!(corruption.problem, Problem::DamagedLastBatch { .. }),
        "{label}: {corruption}"
    );
    assert_eq!(report.last_seq, 1, "{label}");
    match Journal::open(setup.dir.path(), config()) {
        Ok((_, recovered)) => panic!("{label}: opened a damaged journal: {recovered:?}"),
        Err(error) => assert_eq!(error.corruption(), Some(&corruption), "{label}: {error}"),
    }
    let last = Reader::open(setup.dir.path()).unwrap().batches().last().unwrap();
    assert!(last.is_err(), "{label}: the reader ends with the corruption");
    assert_eq!(fs::read(&setup.segment).unwrap(), bytes, "{label}: the segment changed");
    assert!(!quarantine_dir(setup.dir.path()).exists(), "{label}");
}

/// The last batch written with `bytes`, a write that never completed:
/// checks that it is reported torn, then quarantined, truncated and
/// appended after; restores the pristine journal afterwards.
fn check_torn(setup: &Setup, bytes: &[u8], label: &str) {
    fs::write(&setup.segment, bytes).unwrap();
    let survivor = bytes[setup.offset..]
        .iter()
        .rposition(|&byte| byte != 0)
        .map_or(0, |at| at + 1);
    let report = verify(setup.dir.path()).unwrap();
    assert!(report.is_ok(), "{label}: {report:?}");
    assert_eq!(report.last_seq, 1, "{label}");
    let torn = report
        .torn_tail
        .clone()
        .unwrap_or_else(|| panic!("{label}: no torn tail"));
    assert_eq!(
        (torn.offset_bytes, torn.len_bytes),
        (setup.offset as u64, survivor as u64),
        "{label}"
    );

    let (mut journal, recovered) = Journal::open(setup.dir.path(), config()).unwrap();
    assert_eq!(
        (recovered.last_seq, recovered.last_hash),
        (1, setup.first_hash),
        "{label}"
    );
    let torn_bytes = &bytes[setup.offset..setup.offset + survivor];
    let quarantined = quarantine_file(setup);
    assert_eq!(
        fs::read(&quarantined).ok().as_deref(),
        Some(torn_bytes),
        "{label}: the torn bytes are kept in {}",
        quarantined.display()
    );
    let recovered_torn = recovered.torn_tail.clone().expect("reported");
    assert_eq!(recovered_torn.quarantined_to.as_ref(), Some(&quarantined), "{label}");
    assert_eq!(recovered.truncated_bytes(), survivor as u64, "{label}");
    let on_disk = fs::read(&setup.segment).unwrap();
    assert_eq!(&on_disk[..setup.offset], &setup.pristine[..setup.offset], "{label}");
    assert!(
        on_disk[setup.offset..].iter().all(|&byte| byte == 0),
        "{label}: truncated"
    );

    journal.append(2, &[b"after recovery"]).unwrap();
    journal.flush().unwrap();
    drop(journal);
    let report = verify(setup.dir.path()).unwrap();
    assert!(report.is_ok() && report.torn_tail.is_none(), "{label}: {report:?}");
    let read: Vec<_> = Reader::open(setup.dir.path())
        .unwrap()
        .batches()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(read.len(), 2, "{label}");
    assert_eq!(read[1].records, vec![b"after recovery".to_vec()], "{label}");

    fs::write(&setup.segment, &setup.pristine).unwrap();
    fs::remove_dir_all(quarantine_dir(setup.dir.path())).unwrap();
}

/// The sector boundaries strictly inside the last batch.
fn boundaries_inside(setup: &Setup) -> Vec<usize> {
    let first = (setup.offset + 1).next_multiple_of(SECTOR_SIZE_BYTES);
    (first..setup.offset + setup.len).step_by(SECTOR_SIZE_BYTES).collect()
}

/// The parts of the last batch in each sector it touches.
fn sector_shares(setup: &Setup) -> Vec<(usize, usize)> {
    let end = setup.offset + setup.len;
    let mut starts = vec![setup.offset];
    starts.extend(boundaries_inside(setup));
    starts
        .iter()
        .map(|&start| (start, (start + 1).next_multiple_of(SECTOR_SIZE_BYTES).min(end)))
        .collect()
}

#[test]
fn a_flipped_bit_anywhere_in_a_complete_last_batch_is_corruption() {
    for lead_len in LEAD_LENS {
        let setup = setup(lead_len);
        // Header, records, padding and trailer: every byte, one bit each.
        for at in setup.offset..setup.offset + setup.len {
            let mut bytes = setup.pristine.clone();
            bytes[at] ^= 1 << (at % 8);
            check_corrupt(&setup, &bytes, &format!("lead {lead_len}, bit flipped at byte {at}"));
        }
        // A whole byte replaced, in the header, the padding and the trailer.
        for at in [
            setup.offset,
            setup.offset + 60,
            setup.offset + setup.len - 9,
            setup.offset + setup.len - 1,
        ] {
            let mut bytes = setup.pristine.clone();
            bytes[at] ^= 0xFF;
            check_corrupt(&setup, &bytes, &format!("lead {lead_len}, byte {at} replaced"));
        }
        fs::write(&setup.segment, &setup.pristine).unwrap();
        let (_, recovered) = Journal::open(setup.dir.path(), config()).unwrap();
        assert_eq!((recovered.last_seq, recovered.torn_tail), (4, None));
    }
}

#[test]
fn a_last_batch_cut_at_a_sector_boundary_is_torn_quarantined_and_truncated() {
    for lead_len in LEAD_LENS {
        let setup = setup(lead_len);
        let end = setup.offset + setup.len;
        let boundaries = boundaries_inside(&setup);
        assert!(boundaries.len() >= 4, "{boundaries:?}");
        for boundary in boundaries {
            // The sectors before the boundary reached the disk, not the rest.
            let mut bytes = setup.pristine.clone();
            bytes[boundary..end].fill(0);
            check_torn(&setup, &bytes, &format!("lead {lead_len}, prefix up to {boundary}"));
            // Or the other way round (pages are written back in any order).
            let mut bytes = setup.pristine.clone();
            bytes[setup.offset..boundary].fill(0);
            check_torn(&setup, &bytes, &format!("lead {lead_len}, suffix from {boundary}"));
        }
    }
}

#[test]
fn a_sector_missing_inside_the_last_batch_is_torn_quarantined_and_truncated() {
    for lead_len in LEAD_LENS {
        let setup = setup(lead_len);
        let shares = sector_shares(&setup);
        assert!(shares.len() >= 5, "{shares:?}");
        // One sector missing: the header's, one in the middle, the trailer's.
        for &(start, end) in &shares {
            let mut bytes = setup.pristine.clone();
            bytes[start..end].fill(0);
            check_torn(
                &setup,
                &bytes,
                &format!("lead {lead_len}, sector {start}..{end} missing"),
            );
        }
        // Two missing with written ones between them.
        let mut bytes = setup.pristine.clone();
        for &(start, end) in [shares[1], shares[3]].iter() {
            bytes[start..end].fill(0);
        }
        check_torn(&setup, &bytes, &format!("lead {lead_len}, sectors 1 and 3 missing"));
        // A header straddling two sectors, half of it written.
        if setup.offset % SECTOR_SIZE_BYTES + 64 > SECTOR_SIZE_BYTES {
            let boundary = shares[1].0;
            let mut bytes = setup.pristine.clone();
            bytes[setup.offset..boundary].fill(0);
            check_torn(
                &setup,
                &bytes,
                &format!("lead {lead_len}, first half of the header missing"),
            );
        }
    }
}

/// A data directory written before the trailer (format version 1) opens,
/// takes version-2 batches after its version-1 ones, and reads back whole.
#[test]
fn a_version_1_journal_keeps_working_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    drop(Journal::open(dir.path(), config()).unwrap());
    let segment = dir.path().join(segment_file_name(1));
    let mut bytes = fs::read(&segment).unwrap();
    let (mut at, mut hash) = (0, BatchHash::GENESIS);
    for seq in 1..=5u64 {
        let batch = encode_batch_v1(seq, hash, &[format!("old record {seq}")]);
        hash = decode_batch(&batch).unwrap().hash;
        bytes[at..at + batch.len()].copy_from_slice(&batch);
        at += batch.len();
    }
    fs::write(&segment, &bytes).unwrap();
    assert!(verify(dir.path()).unwrap().is_ok());

    let (mut journal, recovered) = Journal::open(dir.path(), config()).unwrap();
    assert_eq!(
        (recovered.last_seq, recovered.last_hash, recovered.torn_tail),
        (5, hash, None)
    );
    for seq in 6..=8u64 {
        journal.append(seq, &[format!("new record {seq}")]).unwrap();
        journal.flush().unwrap();
    }
    drop(journal);
    let report = verify(dir.path()).unwrap();
    assert!(report.is_ok() && report.torn_tail.is_none(), "{report:?}");
    let read: Vec<_> = Reader::open(dir.path())
        .unwrap()
        .batches()
        .collect::<Result<_, _>>()
        .unwrap();
    let records: Vec<Vec<u8>> = read.into_iter().flat_map(|batch| batch.records).collect();
    assert_eq!(records.len(), 8);
    assert_eq!(records[4], b"old record 5");
    assert_eq!(records[5], b"new record 6");
}

/// A version-1 last batch has no trailer: damage to it cannot be told from
/// a torn write, and is treated as before version 2 (torn), but quarantined.
#[test]
fn a_damaged_last_version_1_batch_is_still_taken_as_torn_and_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    drop(Journal::open(dir.path(), config()).unwrap());
    let segment = dir.path().join(segment_file_name(1));
    let mut bytes = fs::read(&segment).unwrap();
    let first = encode_batch_v1(1, BatchHash::GENESIS, &[b"one"]);
    let second = encode_batch_v1(2, decode_batch(&first).unwrap().hash, &[b"two"]);
    bytes[..first.len()].copy_from_slice(&first);
    bytes[first.len()..first.len() + second.len()].copy_from_slice(&second);
    bytes[first.len() + 66] ^= 0x04;
    fs::write(&segment, &bytes).unwrap();
    let (_, recovered) = Journal::open(dir.path(), config()).unwrap();
    assert_eq!(recovered.last_seq, 1);
    let quarantined = recovered
        .torn_tail
        .and_then(|torn| torn.quarantined_to)
        .expect("quarantined");
    assert_eq!(
        fs::read(quarantined).unwrap(),
        &bytes[first.len()..first.len() + 64 + 4 + 3]
    );
}
