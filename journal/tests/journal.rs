//! The journal on real files: round trips, roll-over, reopening, torn tails
//! at every byte, corruption in the middle, and tampering with the chain.

use std::fs;
use std::path::{Path, PathBuf};

use journal::format::encode_batch;
use journal::{
    ANCHOR_FILE_NAME, ARCHIVE_DIR_NAME, Batch, BatchHash, FlushPolicy, Journal, JournalConfig, JournalError,
    PREPARED_FILE_NAME, Problem, Reader, Retirement, decode_batch, read_anchor, retire, segment_file_name, verify,
};
use proptest::prelude::*;
use tempfile::TempDir;

fn config(segment_size_bytes: u64) -> JournalConfig {
    JournalConfig {
        segment_size_bytes,
        flush: FlushPolicy::Always,
    }
}

/// Deterministic records of varied lengths (empty ones included).
fn records(first_seq: u64, count: u64) -> Vec<Vec<u8>> {
    (first_seq..first_seq + count)
        .map(|seq| format!("record {seq};").repeat((seq % 7) as usize).into_bytes())
        .collect()
}

/// Appends batches of the given record counts, flushing each; returns them.
fn append_all(journal: &mut Journal, counts: &[u64]) -> Vec<Batch> {
    counts
        .iter()
        .map(|&count| {
            let first_seq = journal.next_seq();
            let prev_hash = journal.last_hash();
            let records = records(first_seq, count);
            journal.append(first_seq, &records).expect("append");
            journal.flush().expect("flush");
            Batch {
                first_seq,
                prev_hash,
                hash: journal.last_hash(),
                records,
            }
        })
        .collect()
}

fn new_journal(segment_size_bytes: u64, counts: &[u64]) -> (TempDir, Vec<Batch>) {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, recovered) = Journal::open(dir.path(), config(segment_size_bytes)).unwrap();
    assert_eq!(recovered.last_seq, 0);
    let batches = append_all(&mut journal, counts);
    (dir, batches)
}

fn read_all(dir: &Path) -> Vec<Batch> {
    Reader::open(dir).unwrap().batches().collect::<Result<_, _>>().unwrap()
}

/// Where a batch sits on disk.
#[derive(Clone, Debug)]
struct Located {
    segment: PathBuf,
    offset: usize,
    len: usize,
    first_seq: u64,
    last_seq: u64,
    hash: BatchHash,
}

/// Every batch of every segment, found by decoding the files directly.
fn layout(dir: &Path) -> Vec<Located> {
    let mut found = Vec::new();
    for segment in segment_paths(dir) {
        let bytes = fs::read(&segment).unwrap();
        let mut offset = 0;
        while let Ok(batch) = decode_batch(&bytes[offset..]) {
            found.push(Located {
                segment: segment.clone(),
                offset,
                len: batch.encoded_len_bytes(),
                first_seq: batch.first_seq(),
                last_seq: batch.last_seq(),
                hash: batch.hash,
            });
            offset += batch.encoded_len_bytes();
        }
    }
    found
}

fn corruption_of(result: Result<(Journal, journal::Recovered), JournalError>) -> journal::Corruption {
    match result {
        Err(error) => {
            assert!(error.is_corruption(), "{error}");
            error.corruption().unwrap().clone()
        }
        Ok((_, recovered)) => panic!("opened a corrupt journal: {recovered:?}"),
    }
}

#[test]
fn many_batches_round_trip() {
    let counts: Vec<u64> = (0..300).map(|i| 1 + i % 13).collect();
    let (dir, batches) = new_journal(1 << 20, &counts);
    assert_eq!(read_all(dir.path()), batches);
    let report = verify(dir.path()).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.batches, 300);
    assert_eq!(report.records, counts.iter().sum::<u64>());
    assert_eq!(report.last_seq, batches.last().unwrap().last_seq());
    assert_eq!(report.torn_tail, None);
}

#[test]
fn segments_roll_over_and_are_named_by_their_first_seq() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(dir.path(), config(4096)).unwrap();
    let batches = append_all(&mut journal, &vec![4; 120]);
    let stats = journal.stats();
    drop(journal);
    let located = layout(dir.path());
    let mut segments: Vec<&Located> = located.iter().filter(|l| l.offset == 0).collect();
    segments.dedup_by_key(|l| l.segment.clone());
    assert!(segments.len() > 5, "only {} segments", segments.len());
    for first in &segments {
        assert_eq!(first.segment, dir.path().join(segment_file_name(first.first_seq)));
        assert_eq!(fs::metadata(&first.segment).unwrap().len(), 4096);
    }
    assert_eq!(stats.segment_rolls as usize, segments.len() - 1);
    assert_eq!(stats.batches, 120);
    assert!(
        dir.path().join(PREPARED_FILE_NAME).exists(),
        "the next segment is prepared ahead"
    );
    assert_eq!(read_all(dir.path()), batches);
    assert!(verify(dir.path()).unwrap().is_ok());
}

#[test]
fn reopening_recovers_the_chain_and_appending_continues() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(dir.path(), config(8192)).unwrap();
    let mut batches = append_all(&mut journal, &[3, 1, 4, 1, 5]);
    let (last_seq, last_hash) = (journal.last_seq(), journal.last_hash());
    drop(journal);
    for round in 0..4 {
        let (mut journal, recovered) = Journal::open(dir.path(), config(8192)).unwrap();
        assert_eq!(
            (recovered.last_seq, recovered.truncated_bytes()),
            (journal.last_seq(), 0)
        );
        if round == 0 {
            assert_eq!((recovered.last_seq, recovered.last_hash), (last_seq, last_hash));
        }
        let next = journal.next_seq();
        assert!(matches!(
            journal.append(next + 1, &[b"gap"]),
            Err(JournalError::SeqOutOfOrder { expected, got }) if expected == next && got == next + 1
        ));
        batches.extend(append_all(&mut journal, &[9, 2, 6, 5, 3, 5, 8, 9, 7, 9]));
    }
    assert_eq!(read_all(dir.path()), batches);
    assert!(verify(dir.path()).unwrap().is_ok());
}

#[test]
fn refused_appends_leave_the_journal_usable() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(dir.path(), config(4096)).unwrap();
    let none: [&[u8]; 0] = [];
    assert!(matches!(journal.append(1, &none), Err(JournalError::EmptyBatch)));
    assert!(matches!(
        journal.append(1, &[vec![0u8; 4096]]),
        Err(JournalError::BatchTooLarge {
            segment_size_bytes: 4096,
            ..
        })
    ));
    assert!(matches!(
        journal.append(0, &[b"x"]),
        Err(JournalError::SeqOutOfOrder { .. })
    ));
    // Header, length prefix, trailer: 76 bytes around the record.
    journal
        .append(1, &[vec![7u8; 4096 - 64 - 4 - 8]])
        .expect("a batch that fills a segment exactly");
    journal.append(2, &[b"next"]).expect("rolls");
    journal.flush().unwrap();
    drop(journal);
    assert_eq!(read_all(dir.path()).len(), 2);
}

#[test]
fn a_second_writer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_journal, _) = Journal::open(dir.path(), config(4096)).unwrap();
    let second = Journal::open(dir.path(), config(4096));
    assert!(matches!(second, Err(JournalError::Locked { .. })), "{second:?}");
}

/// Recovery after the last batch was cut at `cut` bytes, at every byte
/// before its trailer (which is written last, and whole): the write never
/// completed, so the bytes that got there are quarantined and truncated.
/// (Cuts in the other order, and sectors missing in the middle, are in
/// `torn_vs_corrupt.rs`: there the unit is the sector, as FORMAT.md assumes.)
#[test]
fn a_torn_last_batch_is_truncated_at_every_byte_before_its_trailer() {
    let (dir, batches) = new_journal(16 << 10, &[3, 4, 5]);
    let located = layout(dir.path());
    let (second, last) = (&located[1], &located[2]);
    let pristine = fs::read(&last.segment).unwrap();
    for cut in 0..=last.len - 8 {
        let mut bytes = pristine.clone();
        bytes[last.offset + cut..last.offset + last.len].fill(0);
        fs::write(&last.segment, &bytes).unwrap();
        let survivor = bytes[last.offset..last.offset + last.len].iter().rposition(|&b| b != 0);
        let (mut journal, recovered) = Journal::open(dir.path(), config(16 << 10)).unwrap();
        assert_eq!(
            (recovered.last_seq, recovered.last_hash),
            (second.last_seq, second.hash),
            "cut {cut}"
        );
        assert_eq!(
            recovered.truncated_bytes(),
            survivor.map_or(0, |at| at as u64 + 1),
            "cut {cut}"
        );
        if let Some(torn) = &recovered.torn_tail {
            let kept = fs::read(torn.quarantined_to.as_ref().expect("quarantined")).unwrap();
            assert_eq!(
                kept,
                &bytes[last.offset..last.offset + torn.len_bytes as usize],
                "cut {cut}"
            );
        }
        journal.append(second.last_seq + 1, &[b"after recovery"]).unwrap();
        journal.flush().unwrap();
        drop(journal);
        let report = verify(dir.path()).unwrap();
        assert!(report.is_ok() && report.torn_tail.is_none(), "cut {cut}: {report:?}");
        assert_eq!(report.last_seq, second.last_seq + 1);
    }
    drop(batches);
}

#[test]
fn a_segment_file_cut_short_still_recovers() {
    let (dir, _) = new_journal(16 << 10, &[3, 4, 5]);
    let located = layout(dir.path());
    let (second, last) = (&located[1], &located[2]);
    let pristine = fs::read(&last.segment).unwrap();
    for cut in (1..last.len).step_by(7) {
        fs::write(&last.segment, &pristine[..last.offset + cut]).unwrap();
        let (mut journal, recovered) = Journal::open(dir.path(), config(16 << 10)).unwrap();
        assert_eq!(recovered.last_seq, second.last_seq, "cut {cut}");
        journal
            .append(second.last_seq + 1, &records(second.last_seq + 1, 6))
            .unwrap();
        journal.flush().unwrap();
        drop(journal);
        assert!(verify(dir.path()).unwrap().is_ok(), "cut {cut}");
        for extra in fs::read_dir(dir.path()).unwrap() {
            let path = extra.unwrap().path();
            if path != last.segment && path.extension().is_some_and(|e| e == "seg") {
                fs::remove_file(path).unwrap();
            }
        }
    }
}

#[test]
fn a_flipped_byte_in_a_middle_batch_refuses_to_open() {
    let (dir, _) = new_journal(16 << 10, &[3, 4, 5]);
    let located = layout(dir.path());
    let middle = &located[1];
    let pristine = fs::read(&middle.segment).unwrap();
    for at in middle.offset..middle.offset + middle.len {
        let mut bytes = pristine.clone();
        bytes[at] ^= 0x20;
        fs::write(&middle.segment, &bytes).unwrap();
        let corruption = corruption_of(Journal::open(dir.path(), config(16 << 10)));
        assert_eq!(
            (&corruption.segment, corruption.offset_bytes, corruption.seq),
            (&middle.segment, middle.offset as u64, middle.first_seq),
            "byte {at}"
        );
        assert!(
            matches!(corruption.problem, Problem::BadBatch { valid_batch_at_bytes, .. }
                if valid_batch_at_bytes == (middle.offset + middle.len) as u64),
            "byte {at}: {corruption}"
        );
        let message = corruption.to_string();
        let file_name = segment_file_name(1);
        assert!(
            message.contains(&file_name) && message.contains(&format!("seq {}", middle.first_seq)),
            "{message}"
        );
        let report = verify(dir.path()).unwrap();
        assert_eq!(report.corruption.as_ref(), Some(&corruption));
        assert_eq!(report.last_seq, middle.first_seq - 1);
    }
}

#[test]
fn verify_names_a_flipped_byte_in_any_segment() {
    let (dir, _) = new_journal(4096, &vec![5; 60]);
    let located = layout(dir.path());
    let sealed_last = located.iter().position(|l| l.offset == 0 && l.first_seq > 1).unwrap() - 1;
    let last_segment = &located.last().unwrap().segment;
    let last_segment_middle = located.iter().rposition(|l| &l.segment == last_segment).unwrap() - 1;
    for index in [0, 7, sealed_last, sealed_last + 1, last_segment_middle] {
        let victim = &located[index];
        let pristine = fs::read(&victim.segment).unwrap();
        let mut bytes = pristine.clone();
        bytes[victim.offset + victim.len - 9] ^= 0x01;
        fs::write(&victim.segment, &bytes).unwrap();
        let report = verify(dir.path()).unwrap();
        let corruption = report.corruption.clone().expect("found");
        assert_eq!(
            (&corruption.segment, corruption.offset_bytes, corruption.seq),
            (&victim.segment, victim.offset as u64, victim.first_seq),
            "batch {index}: {corruption}"
        );
        assert_eq!(report.batches, index as u64);
        let refused = corruption_of(Journal::open(dir.path(), config(4096)));
        assert_eq!(refused, corruption);
        fs::write(&victim.segment, &pristine).unwrap();
    }
    assert!(verify(dir.path()).unwrap().is_ok());
}

#[test]
fn garbage_after_the_data_of_a_sealed_segment_is_corruption() {
    let (dir, _) = new_journal(4096, &vec![5; 30]);
    let located = layout(dir.path());
    let first_sealed_end = located
        .iter()
        .take_while(|l| l.first_seq == 1 || l.offset != 0)
        .last()
        .unwrap();
    let mut bytes = fs::read(&first_sealed_end.segment).unwrap();
    let end = first_sealed_end.offset + first_sealed_end.len;
    bytes[end + 100] = 0x5A;
    fs::write(&first_sealed_end.segment, &bytes).unwrap();
    let corruption = corruption_of(Journal::open(dir.path(), config(4096)));
    assert_eq!(corruption.offset_bytes, end as u64);
    assert_eq!(corruption.seq, first_sealed_end.last_seq + 1);
    assert!(
        matches!(corruption.problem, Problem::BadBatchInSealedSegment { .. }),
        "{corruption}"
    );
}

/// Rewrites the single segment of `dir` with the given batches, in order.
fn rewrite_segment(dir: &Path, batches: &[&[u8]]) {
    let path = dir.join(segment_file_name(1));
    let mut bytes = fs::read(&path).unwrap();
    bytes.fill(0);
    let mut at = 0;
    for batch in batches {
        bytes[at..at + batch.len()].copy_from_slice(batch);
        at += batch.len();
    }
    fs::write(&path, bytes).unwrap();
}

fn batch_bytes(dir: &Path) -> Vec<Vec<u8>> {
    let bytes = fs::read(dir.join(segment_file_name(1))).unwrap();
    layout(dir)
        .iter()
        .map(|l| bytes[l.offset..l.offset + l.len].to_vec())
        .collect()
}

#[test]
fn deleting_reordering_or_rewriting_a_batch_breaks_the_chain() {
    let (dir, batches) = new_journal(16 << 10, &[2, 3, 4, 5]);
    let original = batch_bytes(dir.path());
    let [one, two, three, four] = [&original[0][..], &original[1], &original[2], &original[3]];
    let seq_of = |index: usize| batches[index].first_seq;
    let check = |image: &[&[u8]], at_seq: u64, expect: &dyn Fn(&Problem) -> bool| {
        rewrite_segment(dir.path(), image);
        let report = verify(dir.path()).unwrap();
        let corruption = report.corruption.expect("detected");
        assert_eq!(corruption.seq, at_seq, "{corruption}");
        assert!(expect(&corruption.problem), "{corruption}");
        assert_eq!(corruption_of(Journal::open(dir.path(), config(16 << 10))), corruption);
    };
    // Deleted: the sequence numbers no longer meet.
    check(&[one, three, four], seq_of(1), &|p| {
        matches!(p, Problem::SeqMismatch { .. })
    });
    // Reordered.
    check(&[one, three, two, four], seq_of(1), &|p| {
        matches!(p, Problem::SeqMismatch { .. })
    });
    // Deleted and the next one renumbered to close the gap: the chain tells.
    let renumbered = encode_batch(seq_of(1), decode_batch(three).unwrap().prev_hash(), &batches[2].records);
    check(&[one, &renumbered, four], seq_of(1), &|p| {
        matches!(p, Problem::ChainBroken { .. })
    });
    // Records rewritten with valid checksums: the next batch's link breaks.
    let mut forged_records = batches[1].records.clone();
    forged_records[0] = b"a different story".to_vec();
    let forged = encode_batch(seq_of(1), decode_batch(two).unwrap().prev_hash(), &forged_records);
    check(&[one, &forged, three, four], seq_of(2), &|p| {
        matches!(p, Problem::ChainBroken { .. })
    });
    // A journal that does not start from the genesis.
    check(&[two, three, four], 1, &|p| {
        matches!(p, Problem::SeqMismatch { expected: 1, .. })
    });
    rewrite_segment(dir.path(), &[one, two, three, four]);
    assert!(verify(dir.path()).unwrap().is_ok());
}

#[test]
fn a_deleted_or_renamed_segment_is_detected() {
    let (dir, _) = new_journal(4096, &vec![5; 80]);
    let located = layout(dir.path());
    let starts: Vec<&Located> = located.iter().filter(|l| l.offset == 0).collect();
    assert!(starts.len() >= 4);
    let victim = starts[2];
    let saved = fs::read(&victim.segment).unwrap();
    fs::remove_file(&victim.segment).unwrap();
    let corruption = verify(dir.path()).unwrap().corruption.expect("gap found");
    assert_eq!(
        (&corruption.segment, corruption.seq),
        (&starts[3].segment, victim.first_seq)
    );
    assert!(matches!(corruption.problem, Problem::SegmentNameMismatch { named } if named == starts[3].first_seq));
    let renamed = dir.path().join(segment_file_name(victim.first_seq + 1));
    fs::write(&renamed, &saved).unwrap();
    let corruption = verify(dir.path()).unwrap().corruption.expect("misnamed found");
    assert_eq!((&corruption.segment, corruption.seq), (&renamed, victim.first_seq));
    fs::remove_file(&renamed).unwrap();
    fs::write(&victim.segment, &saved).unwrap();
    assert!(verify(dir.path()).unwrap().is_ok());
}

#[test]
fn an_empty_last_segment_left_by_a_roll_is_used() {
    let (dir, mut batches) = new_journal(4096, &[5, 5]);
    let next = batches.last().unwrap().last_seq() + 1;
    // A crash after the rename of a prepared segment, before its first batch.
    fs::write(dir.path().join(segment_file_name(next)), vec![0u8; 4096]).unwrap();
    fs::write(dir.path().join(PREPARED_FILE_NAME), b"half-prepared garbage").unwrap();
    let (mut journal, recovered) = Journal::open(dir.path(), config(4096)).unwrap();
    assert_eq!((recovered.last_seq, recovered.segments), (next - 1, 2));
    assert_eq!(journal.active_segment(), dir.path().join(segment_file_name(next)));
    batches.extend(append_all(&mut journal, &vec![6; 30]));
    drop(journal);
    assert_eq!(read_all(dir.path()), batches);
    // A zeroed segment with the wrong name is not an empty tail.
    fs::write(dir.path().join(segment_file_name(u64::MAX - 1)), vec![0u8; 4096]).unwrap();
    let corruption = corruption_of(Journal::open(dir.path(), config(4096)));
    assert!(matches!(corruption.problem, Problem::SegmentNameMismatch { named } if named == u64::MAX - 1));
}

/// The segments of `dir`, oldest first (none if it does not exist).
fn segment_paths(dir: &Path) -> Vec<PathBuf> {
    if !dir.is_dir() {
        return Vec::new();
    }
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "seg"))
        .collect();
    paths.sort();
    paths
}

#[test]
fn retired_segments_leave_a_checkable_chain_and_appending_continues() {
    for how in [Retirement::Archive, Retirement::Remove] {
        let (dir, mut batches) = new_journal(4096, &vec![5; 120]);
        let before = segment_paths(dir.path());
        assert!(before.len() >= 6, "{}", before.len());
        let located = layout(dir.path());
        // Everything up to the end of the fourth segment may go.
        let through = located
            .iter()
            .filter(|l| l.segment == before[3])
            .map(|l| l.last_seq)
            .max()
            .unwrap();
        let report = retire(dir.path(), through, how).unwrap();
        assert_eq!(report.segments, before[..4].to_vec(), "{how:?}");
        let anchor = report.anchor.unwrap();
        assert_eq!(anchor.first_seq, through + 1);
        let last_retired = located.iter().find(|l| l.last_seq == through).unwrap();
        assert_eq!(anchor.prev_hash, last_retired.hash);
        assert_eq!(read_anchor(dir.path()).unwrap(), Some(anchor));
        assert_eq!(segment_paths(dir.path()), before[4..].to_vec());
        let archived = segment_paths(&dir.path().join(ARCHIVE_DIR_NAME));
        match how {
            Retirement::Archive => assert_eq!(archived.len(), 4),
            Retirement::Remove => assert!(archived.is_empty()),
        }

        // verify walks the archive too, or starts at the anchor.
        let report = verify(dir.path()).unwrap();
        assert!(report.is_ok(), "{report:?}");
        let expected_first = if how == Retirement::Archive { 1 } else { through + 1 };
        assert_eq!((report.first_seq, report.last_seq), (expected_first, 600));

        // The journal opens from the anchor and goes on appending.
        let (mut journal, recovered) = Journal::open(dir.path(), config(4096)).unwrap();
        assert_eq!((recovered.first_seq, recovered.last_seq), (through + 1, 600));
        batches.extend(append_all(&mut journal, &vec![4; 40]));
        drop(journal);
        let kept: Vec<Batch> = batches.iter().filter(|b| b.first_seq > through).cloned().collect();
        assert_eq!(read_all(dir.path()), kept);
        assert!(verify(dir.path()).unwrap().is_ok());

        // Retiring again never touches the two newest segments.
        retire(dir.path(), u64::MAX, how).unwrap();
        assert_eq!(segment_paths(dir.path()).len(), 2);
        let (_, recovered) = Journal::open(dir.path(), config(4096)).unwrap();
        assert_eq!(recovered.last_seq, 760);
        assert!(verify(dir.path()).unwrap().is_ok());
    }
}

#[test]
fn history_missing_without_an_anchor_or_against_it_is_refused() {
    let (dir, _) = new_journal(4096, &vec![5; 80]);
    let segments = segment_paths(dir.path());
    // A first segment deleted without retirement.
    fs::remove_file(&segments[0]).unwrap();
    let corruption = corruption_of(Journal::open(dir.path(), config(4096)));
    assert_eq!(corruption.segment, segments[1]);
    assert_eq!(corruption.problem, Problem::HistoryMissing { anchored_at: None });
    assert!(!verify(dir.path()).unwrap().is_ok());
    assert!(Reader::open(dir.path()).unwrap().batches().next().unwrap().is_err());

    // An anchor whose hash is not the retained history's.
    let located = layout(dir.path());
    let first_seq = located[0].first_seq;
    fs::write(
        dir.path().join(ANCHOR_FILE_NAME),
        format!("first_seq={first_seq}\nprev_hash={}\n", BatchHash([7; 16])),
    )
    .unwrap();
    let corruption = corruption_of(Journal::open(dir.path(), config(4096)));
    assert!(
        matches!(corruption.problem, Problem::ChainBroken { .. }),
        "{corruption}"
    );
    assert_eq!(corruption.seq, first_seq);

    // More segments deleted past an anchor: missing history again.
    fs::write(
        dir.path().join(ANCHOR_FILE_NAME),
        format!("first_seq={}\nprev_hash={}\n", first_seq - 5, BatchHash([7; 16])),
    )
    .unwrap();
    let corruption = corruption_of(Journal::open(dir.path(), config(4096)));
    assert_eq!(
        corruption.problem,
        Problem::HistoryMissing {
            anchored_at: Some(first_seq - 5)
        }
    );
}

#[test]
fn a_retirement_cut_short_after_its_anchor_still_opens() {
    let (dir, batches) = new_journal(4096, &vec![5; 80]);
    let segments = segment_paths(dir.path());
    let located = layout(dir.path());
    let second = located
        .iter()
        .find(|l| l.segment == segments[1] && l.offset == 0)
        .unwrap();
    let third = located
        .iter()
        .find(|l| l.segment == segments[2] && l.offset == 0)
        .unwrap();
    // The anchor says retained history starts at the third segment; the
    // crash came after the first segment moved, before the second did.
    let prev_of_third = located.iter().find(|l| l.last_seq + 1 == third.first_seq).unwrap().hash;
    fs::write(
        dir.path().join(ANCHOR_FILE_NAME),
        format!("first_seq={}\nprev_hash={prev_of_third}\n", third.first_seq),
    )
    .unwrap();
    fs::remove_file(&segments[0]).unwrap();
    let (_, recovered) = Journal::open(dir.path(), config(4096)).unwrap();
    assert_eq!((recovered.first_seq, recovered.last_seq), (second.first_seq, 400));
    let kept: Vec<Batch> = batches
        .iter()
        .filter(|b| b.first_seq >= second.first_seq)
        .cloned()
        .collect();
    assert_eq!(read_all(dir.path()), kept);
}

#[test]
fn opening_from_a_sequence_number_checks_only_the_segments_from_there() {
    let (dir, _) = new_journal(4096, &vec![5; 120]);
    let located = layout(dir.path());
    let segments = segment_paths(dir.path());
    // Damage the first segment's first batch.
    let mut bytes = fs::read(&segments[0]).unwrap();
    bytes[70] ^= 0x01;
    fs::write(&segments[0], &bytes).unwrap();
    corruption_of(Journal::open(dir.path(), config(4096)));
    let later = located.iter().find(|l| l.segment == segments[3]).unwrap().first_seq + 2;
    let (mut journal, recovered) = Journal::open_from(dir.path(), config(4096), later).unwrap();
    assert_eq!((recovered.first_seq, recovered.last_seq), (1, 600));
    let checked = located.iter().filter(|l| l.segment >= segments[3]).count() as u64;
    assert_eq!(recovered.batches, checked);
    append_all(&mut journal, &[3]);
    drop(journal);
    assert!(!verify(dir.path()).unwrap().is_ok(), "verify still checks everything");
}

#[test]
fn reading_from_a_sequence_number_starts_at_its_batch() {
    let (dir, batches) = new_journal(4096, &vec![3; 50]);
    let reader = Reader::open(dir.path()).unwrap();
    for seq in [1, 2, 3, 4, 77, 100, 148, 150] {
        let read: Vec<Batch> = reader.batches_from(seq).collect::<Result<_, _>>().unwrap();
        let expected: Vec<Batch> = batches.iter().filter(|b| b.last_seq() >= seq).cloned().collect();
        assert_eq!(read, expected, "from {seq}");
    }
    assert_eq!(reader.batches_from(151).count(), 0);
}

#[test]
fn interval_and_none_policies_keep_the_same_format() {
    for flush in [FlushPolicy::Interval { ms: 1 }, FlushPolicy::None] {
        let dir = tempfile::tempdir().unwrap();
        let config = JournalConfig {
            segment_size_bytes: 4096,
            flush,
        };
        let (mut journal, _) = Journal::open(dir.path(), config).unwrap();
        let batches = append_all(&mut journal, &vec![4; 40]);
        journal.sync().unwrap();
        drop(journal);
        let (journal, recovered) = Journal::open(dir.path(), config).unwrap();
        assert_eq!(recovered.last_seq, batches.last().unwrap().last_seq());
        drop(journal);
        assert_eq!(read_all(dir.path()), batches);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random batch sizes, random record lengths, random reopen points:
    /// what is read back is what was appended.
    #[test]
    fn random_batches_round_trip(
        batches in proptest::collection::vec(
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..10),
            1..40,
        ),
        reopen_every in 1usize..20,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, _) = Journal::open(dir.path(), config(8192)).unwrap();
        let mut written = Vec::new();
        for (index, records) in batches.into_iter().enumerate() {
            if index % reopen_every == reopen_every - 1 {
                drop(journal);
                journal = Journal::open(dir.path(), config(8192)).unwrap().0;
            }
            let (first_seq, prev_hash) = (journal.next_seq(), journal.last_hash());
            journal.append(first_seq, &records).unwrap();
            journal.flush().unwrap();
            written.push(Batch { first_seq, prev_hash, hash: journal.last_hash(), records });
        }
        drop(journal);
        prop_assert_eq!(read_all(dir.path()), written);
        prop_assert!(verify(dir.path()).unwrap().is_ok());
    }
}
