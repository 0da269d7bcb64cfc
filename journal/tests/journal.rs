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

/// Bytes this thread has caused to be written to storage so far
/// (`/proc/thread-self/io`); None where the kernel does not account them.
fn thread_write_bytes() -> Option<u64> {
    let io = fs::read_to_string("/proc/thread-self/io").ok()?;
    io.lines()
        .find_map(|line| line.strip_prefix("write_bytes: "))
        .and_then(|value| value.trim().parse().ok())
}

/// A flush writes the pages its batch touched, not the page-cache folio
/// the zero-filling left around them: zeros written 1 MiB at a time made
/// every flush of a small batch write 1 MiB (ext4, Linux 6.18).
#[test]
fn a_flush_writes_the_pages_of_its_batch_not_the_whole_zeroed_region() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(dir.path(), config(8 << 20)).unwrap();
    let Some(before) = thread_write_bytes() else {
        eprintln!("no /proc/thread-self/io here: write-back is not measured");
        return;
    };
    let flushes = 200;
    append_all(&mut journal, &vec![3; flushes]);
    let written = thread_write_bytes().unwrap() - before;
    // Each small batch touches one page, or two where it crosses a boundary.
    let bound = flushes as u64 * 2 * 4096;
    assert!(
        written <= bound,
        "{flushes} flushes of small batches wrote {written} bytes (at most {bound} expected)"
    );
}

/// The same after a restart on a cold page cache (a reboot): recovery
/// reads the active segment forward through a mapping, and readahead fills
/// the cache past the data with large folios (505 MB written by these
/// 1,000 flushes before the journal gave the unwritten zeros page-sized
/// folios again on open).
#[test]
fn after_recovery_on_a_cold_cache_a_flush_still_writes_only_its_pages() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(dir.path(), config(64 << 20)).unwrap();
    // 30 MB of batches before the restart: recovery reads them forward.
    let large = vec![9u8; 30_000];
    for _ in 0..1_000 {
        let first_seq = journal.next_seq();
        journal.append(first_seq, &[&large]).unwrap();
    }
    journal.sync().unwrap();
    let batches = append_all(&mut journal, &[3; 10]);
    let segment = journal.active_segment().to_path_buf();
    drop(journal);
    let file = fs::File::open(&segment).unwrap();
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
    drop(file);
    let (mut journal, recovered) = Journal::open(dir.path(), config(64 << 20)).unwrap();
    assert_eq!(recovered.last_seq, batches.last().unwrap().last_seq());
    let Some(before) = thread_write_bytes() else {
        eprintln!("no /proc/thread-self/io here: write-back is not measured");
        return;
    };
    let record = vec![7u8; 5_000];
    let flushes = 1_000;
    for _ in 0..flushes {
        let first_seq = journal.next_seq();
        journal
            .append(first_seq, &[&record, &record, &record, &record])
            .unwrap();
        journal.flush().unwrap();
    }
    let written = thread_write_bytes().unwrap() - before;
    // A batch of about 20 KB touches six pages at most.
    let bound = flushes * 6 * 4096;
    assert!(
        written <= bound,
        "{flushes} flushes of 20 KB batches after recovery wrote {written} bytes (at most {bound} expected)"
    );
    drop(journal);
    let (_, recovered) = Journal::open(dir.path(), config(64 << 20)).unwrap();
    assert_eq!(recovered.last_seq, batches.last().unwrap().last_seq() + 4 * flushes);
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

// Replication (issue 11): a follower's journal takes the leader's encoded
// batches as they are, and truncates an uncommitted suffix crash-safely.

/// Copies every batch of `leader` into a new journal at `dir` through
/// `batch_bytes` and `append_encoded`.
fn replicate(leader: &Journal, batches: &[Batch], dir: &Path, segment_size_bytes: u64) -> Journal {
    let (mut follower, _) = Journal::open(dir, config(segment_size_bytes)).unwrap();
    for batch in batches {
        let bytes = leader.batch_bytes(batch.first_seq).unwrap().expect("the leader has it");
        let appended = follower.append_encoded(&bytes).unwrap();
        follower.flush().unwrap();
        assert_eq!(
            (appended.first_seq, appended.last_seq, appended.hash),
            (batch.first_seq, batch.last_seq(), batch.hash)
        );
    }
    follower
}

/// The segment files of `dir`, by name, with their bytes.
fn segment_images(dir: &Path) -> Vec<(String, Vec<u8>)> {
    segment_paths(dir)
        .into_iter()
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read(&path).unwrap(),
            )
        })
        .collect()
}

fn quarantined(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir.join(journal::QUARANTINE_DIR_NAME))
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn leader_encoded_batches_make_a_byte_identical_follower_journal() {
    let counts: Vec<u64> = (0..60).map(|i| 1 + i % 5).collect();
    let leader_dir = tempfile::tempdir().unwrap();
    let (mut leader, _) = Journal::open(leader_dir.path(), config(4096)).unwrap();
    let batches = append_sized(&mut leader, &counts, 100);
    assert!(segment_paths(leader_dir.path()).len() > 3, "the batches span segments");
    let follower_dir = tempfile::tempdir().unwrap();
    let follower = replicate(&leader, &batches, follower_dir.path(), 4096);
    assert_eq!(
        (follower.last_seq(), follower.last_hash()),
        (leader.last_seq(), leader.last_hash())
    );
    drop((leader, follower));
    assert_eq!(segment_images(follower_dir.path()), segment_images(leader_dir.path()));
    assert!(verify(follower_dir.path()).unwrap().is_ok());
    assert_eq!(read_all(follower_dir.path()), batches);
}

#[test]
fn batch_bytes_answers_only_where_a_batch_starts() {
    let (dir, batches) = new_journal(4096, &[3, 1, 4, 1, 5, 9, 2, 6]);
    let (journal, _) = Journal::open(dir.path(), config(4096)).unwrap();
    for batch in &batches {
        let bytes = journal.batch_bytes(batch.first_seq).unwrap().unwrap();
        let decoded = decode_batch(&bytes).unwrap();
        assert_eq!((decoded.first_seq(), decoded.hash), (batch.first_seq, batch.hash));
        assert_eq!(decoded.encoded_len_bytes(), bytes.len());
        if batch.records.len() > 1 {
            assert_eq!(
                journal.batch_bytes(batch.first_seq + 1).unwrap(),
                None,
                "inside a batch"
            );
        }
    }
    assert_eq!(journal.batch_bytes(0).unwrap(), None);
    assert_eq!(journal.batch_bytes(journal.next_seq()).unwrap(), None);
}

#[test]
fn a_bad_checksum_a_wrong_chain_or_a_wrong_first_seq_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(dir.path(), config(4096)).unwrap();
    append_all(&mut journal, &[2, 3]);
    let (next, last_hash) = (journal.next_seq(), journal.last_hash());
    let good = encode_batch(next, last_hash, &records(next, 2));
    let mut bad_checksum = good.clone();
    bad_checksum[70] ^= 0x01;
    let wrong_chain = encode_batch(next, BatchHash([7; 16]), &records(next, 2));
    let wrong_first_seq = encode_batch(next + 1, last_hash, &records(next + 1, 2));
    let mut trailing = good.clone();
    trailing.extend_from_slice(&[0; 8]);
    let version_1 = journal::format::encode_batch_v1(next, last_hash, &records(next, 2));
    let too_large_dir = tempfile::tempdir().unwrap();
    let before = segment_images(dir.path());
    let refusals = [
        (bad_checksum, "undecodable"),
        (wrong_chain, "chain"),
        (wrong_first_seq, "seq"),
        (trailing, "length"),
        (version_1, "version"),
    ];
    for (bytes, what) in &refusals {
        let error = journal.append_encoded(bytes).expect_err(what);
        let JournalError::Refused(refusal) = error else {
            panic!("{what}: {error}")
        };
        match (*what, refusal) {
            ("undecodable", journal::Refusal::Undecodable(_))
            | ("length", journal::Refusal::WrongLength { .. })
            | ("version", journal::Refusal::OldVersion { version: 1 }) => {}
            ("chain", journal::Refusal::NotChained { expected, found }) => {
                assert_eq!((expected, found), (last_hash, BatchHash([7; 16])));
            }
            ("seq", journal::Refusal::SeqOutOfOrder { expected, got }) => assert_eq!((expected, got), (next, next + 1)),
            (what, refusal) => panic!("{what}: {refusal}"),
        }
        assert_eq!((journal.next_seq(), journal.last_hash()), (next, last_hash), "{what}");
        assert_eq!(segment_images(dir.path()), before, "{what}: nothing written");
    }
    // A batch larger than the segment: refused the same way.
    let (mut small, _) = Journal::open(too_large_dir.path(), config(4096)).unwrap();
    let huge = encode_batch(1, BatchHash::GENESIS, &[vec![1u8; 5000]]);
    assert!(matches!(
        small.append_encoded(&huge),
        Err(JournalError::Refused(journal::Refusal::TooLarge { .. }))
    ));
    assert_eq!(small.next_seq(), 1);
    // The journal is still usable: the good batch goes in.
    journal.append_encoded(&good).unwrap();
    journal.flush().unwrap();
    drop(journal);
    assert!(verify(dir.path()).unwrap().is_ok());
    assert_eq!(read_all(dir.path()).last().unwrap().first_seq, next);
}

/// Appends batches of `count` records of `len` bytes each; returns them.
fn append_sized(journal: &mut Journal, counts: &[u64], len: usize) -> Vec<Batch> {
    counts
        .iter()
        .map(|&count| {
            let (first_seq, prev_hash) = (journal.next_seq(), journal.last_hash());
            let records: Vec<Vec<u8>> = (first_seq..first_seq + count).map(|seq| vec![seq as u8; len]).collect();
            journal.append(first_seq, &records).unwrap();
            journal.flush().unwrap();
            Batch {
                first_seq,
                prev_hash,
                hash: journal.last_hash(),
                records,
            }
        })
        .collect()
}

/// A journal of small segments (a few batches each) spanning several of them.
fn spanning_journal() -> (TempDir, Vec<Batch>) {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(dir.path(), config(4096)).unwrap();
    let counts: Vec<u64> = (0..24).map(|i| 1 + i % 4).collect();
    let batches = append_sized(&mut journal, &counts, 300);
    drop(journal);
    assert!(segment_paths(dir.path()).len() >= 4);
    (dir, batches)
}

/// Cut points: the genesis, inside the first segment, the end of a segment,
/// inside the last segment, and the last batch only.
fn cut_points(dir: &Path, batches: &[Batch]) -> Vec<u64> {
    let second_segment_first = layout(dir)
        .iter()
        .find(|located| located.offset == 0 && located.first_seq > 1)
        .unwrap()
        .first_seq;
    vec![
        0,
        batches[2].last_seq(),
        second_segment_first - 1,
        batches[batches.len() - 4].last_seq(),
        batches[batches.len() - 2].last_seq(),
    ]
}

#[test]
fn truncate_after_keeps_the_prefix_quarantines_the_rest_and_appending_continues() {
    let (template, batches) = spanning_journal();
    for seq in cut_points(template.path(), &batches) {
        let (dir, _) = spanning_journal();
        let (mut journal, _) = Journal::open(dir.path(), config(4096)).unwrap();
        let kept: Vec<Batch> = batches
            .iter()
            .filter(|batch| batch.last_seq() <= seq)
            .cloned()
            .collect();
        let truncated = journal.truncate_after(seq).unwrap();
        assert_eq!(truncated.records, batches.last().unwrap().last_seq() - seq);
        assert!(truncated.quarantined.iter().all(|path| path.exists()), "{truncated:?}");
        assert_eq!(truncated.quarantined[0].extension().unwrap(), "truncated");
        assert_eq!(journal.last_seq(), seq);
        assert_eq!(
            journal.last_hash(),
            kept.last().map_or(BatchHash::GENESIS, |batch| batch.hash)
        );
        // The journal as it is now reads back as the prefix, and takes new batches.
        assert_eq!(read_all(dir.path()), kept, "cut after {seq}");
        let more = append_all(&mut journal, &[2, 5]);
        drop(journal);
        let report = verify(dir.path()).unwrap();
        assert!(report.is_ok(), "cut after {seq}: {report:?}");
        let (reopened, recovered) = Journal::open(dir.path(), config(4096)).unwrap();
        assert_eq!(recovered.last_seq, more.last().unwrap().last_seq());
        assert_eq!(recovered.torn_tail, None);
        assert_eq!(read_all(dir.path()), [kept, more].concat());
        drop(reopened);
    }
}

#[test]
fn truncate_after_refuses_a_cut_inside_a_batch_or_past_the_end_and_changes_nothing() {
    let (dir, batches) = new_journal(4096, &[3, 2]);
    let (mut journal, _) = Journal::open(dir.path(), config(4096)).unwrap();
    let before = segment_images(dir.path());
    assert!(matches!(
        journal.truncate_after(1),
        Err(JournalError::BadCut {
            seq: 1,
            reason: journal::BadCut::InsideBatch {
                first_seq: 1,
                last_seq: 3
            }
        })
    ));
    assert!(matches!(
        journal.truncate_after(6),
        Err(JournalError::BadCut {
            reason: journal::BadCut::BeyondEnd { last_seq: 5 },
            ..
        })
    ));
    assert_eq!(journal.truncate_after(5).unwrap(), journal::Truncated::default());
    assert_eq!(segment_images(dir.path()), before);
    assert_eq!(quarantined(dir.path()), Vec::<String>::new());
    drop(journal);
    assert_eq!(read_all(dir.path()), batches);
}

#[test]
fn a_crash_after_any_step_of_truncate_after_leaves_a_valid_prefix_and_its_quarantine() {
    let (template, batches) = spanning_journal();
    for seq in cut_points(template.path(), &batches) {
        let steps = {
            let (journal, _) = Journal::open(template.path(), config(4096)).unwrap();
            journal.truncate_step_count(seq).unwrap()
        };
        assert!(steps >= 2, "cut after {seq}: {steps} steps");
        for crash_after in 0..steps {
            let (dir, _) = spanning_journal();
            let (mut journal, _) = Journal::open(dir.path(), config(4096)).unwrap();
            assert!(matches!(
                journal.truncate_after_then_crash(seq, crash_after),
                Err(JournalError::Poisoned)
            ));
            drop(journal);
            let context = format!("cut after {seq}, crash after step {crash_after} of {steps}");
            let report = verify(dir.path()).unwrap();
            assert!(report.is_ok(), "{context}: {report:?}");
            let (journal, recovered) = Journal::open(dir.path(), config(4096)).unwrap();
            assert_eq!(recovered.torn_tail, None, "{context}");
            // A prefix of what was there, no shorter than the cut.
            let found = read_all(dir.path());
            assert!(recovered.last_seq >= seq, "{context}");
            assert_eq!(found[..], batches[..found.len()], "{context}");
            if crash_after >= 1 {
                assert!(
                    quarantined(dir.path()).iter().any(|name| name.ends_with(".truncated")),
                    "{context}: {:?}",
                    quarantined(dir.path())
                );
            }
            // Finishing the truncation after the restart reaches the cut.
            let mut journal = journal;
            journal.truncate_after(seq).unwrap();
            assert_eq!(journal.last_seq(), seq, "{context}");
            drop(journal);
            let (_, recovered) = Journal::open(dir.path(), config(4096)).unwrap();
            assert_eq!(recovered.last_seq, seq, "{context}");
        }
    }
}

#[test]
fn a_replica_rebased_past_a_snapshot_continues_the_leaders_chain_and_reopens() {
    // The leader's journal, and a replica that holds only its first batches.
    let (leader, batches) = new_journal(4096, &vec![3; 100]);
    let (leader_journal, _) = Journal::open(leader.path(), config(4096)).unwrap();
    let encoded: Vec<Vec<u8>> = batches
        .iter()
        .map(|b| leader_journal.batch_bytes(b.first_seq).unwrap().unwrap())
        .collect();
    drop(leader_journal);
    let replica = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(replica.path(), config(4096)).unwrap();
    for bytes in &encoded[..10] {
        journal.append_encoded(bytes).unwrap();
    }
    journal.sync().unwrap();

    // Backwards, or onto itself, is refused and changes nothing.
    for at in [5, 31] {
        assert!(matches!(
            journal.rebase(at, BatchHash::GENESIS),
            Err(JournalError::Refused(_))
        ));
    }
    assert_eq!(journal.next_seq(), 31);

    // A snapshot covers everything up to batch 60: the replica continues there.
    let from = &batches[60];
    journal.rebase(from.first_seq, from.prev_hash).unwrap();
    assert_eq!(
        (journal.next_seq(), journal.last_hash()),
        (from.first_seq, from.prev_hash)
    );
    for bytes in &encoded[60..] {
        journal.append_encoded(bytes).unwrap();
    }
    journal.sync().unwrap();
    drop(journal);
    assert_eq!(read_all(replica.path()), batches[60..].to_vec());
    let report = verify(replica.path()).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!((report.first_seq, report.last_seq), (from.first_seq, 300));
    let quarantined = fs::read_dir(replica.path().join(journal::QUARANTINE_DIR_NAME))
        .unwrap()
        .count();
    assert!(quarantined >= 1, "the superseded segments are kept in quarantine");
    let (_, recovered) = Journal::open(replica.path(), config(4096)).unwrap();
    assert_eq!((recovered.first_seq, recovered.last_seq), (from.first_seq, 300));

    // A re-base cut short after its anchor and its moves, before the new
    // segment: the journal opens at the anchor and takes the next batch.
    let cut = tempfile::tempdir().unwrap();
    fs::write(
        cut.path().join(ANCHOR_FILE_NAME),
        format!("first_seq={}\nprev_hash={}\n", from.first_seq, from.prev_hash),
    )
    .unwrap();
    let (mut journal, recovered) = Journal::open(cut.path(), config(4096)).unwrap();
    assert_eq!(
        (recovered.first_seq, recovered.last_seq),
        (from.first_seq, from.first_seq - 1)
    );
    journal.append_encoded(&encoded[60]).unwrap();
    journal.sync().unwrap();
    drop(journal);
    assert_eq!(read_all(cut.path()), vec![batches[60].clone()]);
}
