//! The sequencer over a real journal: a restart recovers the same state,
//! the same digest and the same idempotency answers.

use engine::durable::{RecoveryError, recover};
use engine::sequencer::{Completion, Sequencer, SequencerConfig};
use engine::workload::Workload;
use engine::{Config, Currency, Ledger, Outcome, Request};
use engine::{Query, payments, players};
use journal::JournalConfig;

const T0: u64 = 1_750_000_000_000;

fn journal_config() -> JournalConfig {
    JournalConfig {
        segment_size_bytes: 64 * 1024,
        ..JournalConfig::default()
    }
}

fn clock() -> impl FnMut() -> u64 + Send + 'static {
    let mut now = T0;
    move || {
        now += 1;
        now
    }
}

/// Runs `requests` through a sequencer over the journal in `dir`; returns
/// the outcomes and the ledger's digest at shutdown.
fn run(dir: &std::path::Path, requests: Vec<Request>) -> (Vec<Outcome>, u64, u64) {
    let recovered = recover(dir, Config::default(), journal_config()).unwrap();
    let config = SequencerConfig {
        ring_capacity: 256,
        batch_len_max: 16,
        ..SequencerConfig::default()
    };
    let sequencer = Sequencer::start(recovered.ledger, recovered.sink, clock(), config).unwrap();
    let handle = sequencer.handle();
    let completions: Vec<Completion> = requests
        .into_iter()
        .map(|r| handle.submit_waiting(r).unwrap())
        .collect();
    let outcomes = completions.into_iter().map(|c| c.wait().unwrap().outcome).collect();
    let (ledger, _) = sequencer.shutdown().unwrap();
    (outcomes, ledger.digest(), ledger.last_seq())
}

#[test]
fn a_restart_recovers_state_digest_and_idempotency() {
    let dir = tempfile::tempdir().unwrap();
    let mut workload = Workload::new(3, 100, Currency::EUR);
    let mut requests: Vec<Request> = workload.setup().collect();
    requests.extend((0..4_000).map(|_| workload.next_request()));
    let (outcomes, digest, last_seq) = run(dir.path(), requests.clone());

    let recovered = recover(dir.path(), Config::default(), journal_config()).unwrap();
    assert_eq!(recovered.report.last_seq, last_seq);
    assert_eq!(recovered.report.commands, last_seq);
    assert_eq!(recovered.report.digest, digest, "replay must rebuild the same state");
    assert_eq!(recovered.report.torn_tail, None);
    recovered.ledger.check_conservation().unwrap();
    drop(recovered);

    // Every request retried after the restart gets its original outcome.
    let (retried, digest_after, _) = run(dir.path(), requests);
    assert_eq!(retried, outcomes);
    assert_eq!(digest_after, digest, "retries change nothing");
}

#[test]
fn a_recovered_ledger_equals_one_fed_the_same_envelopes() {
    let dir = tempfile::tempdir().unwrap();
    let mut workload = Workload::new(4, 20, Currency::EUR);
    let mut requests: Vec<Request> = workload.setup().collect();
    requests.extend((0..500).map(|_| workload.next_request()));
    run(dir.path(), requests);
    let recovered = recover(dir.path(), Config::default(), journal_config()).unwrap();
    let mut direct = Ledger::new(Config::default());
    for batch in journal::Reader::open(dir.path()).unwrap().batches() {
        for bytes in batch.unwrap().records {
            let record = engine::record::decode(&bytes).unwrap();
            assert_eq!(direct.apply(&record.envelope), record.outcome);
        }
    }
    assert_eq!(direct.digest(), recovered.ledger.digest());
}

#[test]
fn a_damaged_journal_is_refused_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let mut workload = Workload::new(5, 20, Currency::EUR);
    let mut requests: Vec<Request> = workload.setup().collect();
    requests.extend((0..3_000).map(|_| workload.next_request()));
    run(dir.path(), requests);
    // Flip a byte early in the first segment: damage before the tail.
    let first = dir.path().join(journal::segment_file_name(1));
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[200] ^= 0x10;
    std::fs::write(&first, bytes).unwrap();
    let error = recover(dir.path(), Config::default(), journal_config())
        .err()
        .expect("must refuse");
    assert!(error.is_corruption(), "{error}");
    let message = error.to_string();
    assert!(
        message.contains(&first.display().to_string()),
        "names the segment: {message}"
    );
}

#[test]
fn a_batch_larger_than_a_segment_is_split_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = JournalConfig {
        segment_size_bytes: 16 * 1024,
        ..JournalConfig::default()
    };
    let recovered = recover(dir.path(), Config::default(), tiny).unwrap();
    // Hold the sequencer's first batch until the ring holds far more than a segment's worth.
    let config = SequencerConfig {
        ring_capacity: 4_096,
        batch_len_max: 4_096,
        ..SequencerConfig::default()
    };
    let mut started = false;
    let gate = std::sync::Arc::new(std::sync::Barrier::new(2));
    let release = gate.clone();
    let clock = move || {
        if !std::mem::replace(&mut started, true) {
            release.wait();
        }
        T0
    };
    let sequencer = Sequencer::start(recovered.ledger, recovered.sink, clock, config).unwrap();
    let handle = sequencer.handle();
    let mut workload = Workload::new(6, 500, Currency::EUR);
    let completions: Vec<_> = workload.setup().map(|r| handle.submit(r).unwrap()).collect();
    gate.wait();
    let replies: Vec<_> = completions.into_iter().map(|c| c.wait().unwrap()).collect();
    assert_eq!(replies.len(), 1_500);
    let sequencer_batches = handle.stats().batches.load(std::sync::atomic::Ordering::Relaxed);
    let (ledger, sink) = sequencer.shutdown().unwrap();
    assert!(
        sink.journal().stats().batches > sequencer_batches,
        "a batch too big for a segment was split"
    );
    drop(sink);
    let again = recover(dir.path(), Config::default(), tiny).unwrap();
    assert_eq!(again.report.digest, ledger.digest());
}

/// Issue #9 item 5: a read or a retry changes nothing, so it must cost no
/// journal record and no flush; before, each one was stamped and journaled.
#[test]
fn queries_and_retries_write_nothing_to_the_journal() {
    use engine::{Amount, Command, ExtId, Jurisdiction, PlayerId, SourceId, TxRef};
    let request = |id: &str, command: Command| Request {
        source: SourceId(1),
        id: ExtId::new(id).unwrap(),
        command,
    };
    let (player, currency) = (PlayerId(1), Currency::EUR);
    let deposit = |minor| {
        Command::Payments(payments::Command::Deposit {
            player,
            currency,
            amount: Amount::from_minor(minor),
        })
    };
    let register = Command::Players(players::Command::RegisterPlayer {
        currency,
        jurisdiction: Jurisdiction::new("MT").unwrap(),
    });
    let dir = tempfile::tempdir().unwrap();
    let (written, _, last_seq) = run(dir.path(), vec![request("reg", register), request("dep", deposit(500))]);
    assert_eq!(last_seq, 2);
    let segment_bytes = || {
        let mut files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.retain(|p| p.extension().is_some_and(|e| e == "seg"));
        files.sort();
        files.iter().map(|p| std::fs::read(p).unwrap()).collect::<Vec<_>>()
    };
    let before = segment_bytes();

    let reads = vec![
        request("q-1", Command::Query(Query::Balance { player, currency })),
        request(
            "q-2",
            Command::Query(Query::Transaction {
                tx: TxRef {
                    source: SourceId(1),
                    id: ExtId::new("dep").unwrap(),
                },
            }),
        ),
        request("dep", deposit(500)),
        request("dep", deposit(600)),
    ];
    let (answers, _, last_seq) = run(dir.path(), reads);
    assert!(
        matches!(&answers[0], Outcome::Balance(b) if b.cash == Amount::from_minor(500)),
        "{answers:?}"
    );
    assert!(matches!(&answers[1], Outcome::Transaction(_)), "{answers:?}");
    assert_eq!(answers[2], written[1], "a retry gets the original outcome");
    assert_eq!(answers[3], Outcome::Rejected(engine::Rejection::Conflict));
    assert_eq!(last_seq, 2, "no sequence number was spent");
    assert_eq!(segment_bytes(), before, "the journal did not change");
}

/// The records `count` workload commands (after the set-up) produce, as the
/// sequencer would journal them.
fn committed_records(count: usize) -> Vec<engine::sequencer::Committed> {
    let mut workload = Workload::new(6, 30, Currency::EUR);
    let mut ledger = Ledger::new(Config::default());
    let mut requests: Vec<Request> = workload.setup().collect();
    requests.extend((0..count).map(|_| workload.next_request()));
    (1..)
        .zip(requests)
        .map(|(seq, request)| {
            let envelope = engine::Envelope {
                seq,
                time_ms: T0 + seq,
                request,
            };
            let outcome = ledger.apply(&envelope);
            engine::sequencer::Committed { envelope, outcome }
        })
        .collect()
}

/// A journal in `dir` holding `records` (already encoded), 16 to a batch.
fn write_journal(dir: &std::path::Path, records: &[Vec<u8>]) {
    let (mut journal, _) = journal::Journal::open(dir, journal_config()).unwrap();
    for (index, batch) in records.chunks(16).enumerate() {
        journal.append(1 + 16 * index as u64, batch).unwrap();
    }
    journal.flush().unwrap();
}

#[test]
fn a_record_that_does_not_replay_is_refused_at_its_seq_and_the_earliest_failure_wins() {
    // Enough records that the replay's reader runs several chunks ahead.
    let committed = committed_records(3_000);
    let last = committed.len() as u64;
    let encoded: Vec<Vec<u8>> = committed.iter().map(engine::record::encode).collect();
    let with = |changes: &[(u64, Vec<u8>)]| {
        let mut records = encoded.clone();
        for (seq, bytes) in changes {
            records[*seq as usize - 1] = bytes.clone();
        }
        let dir = tempfile::tempdir().unwrap();
        write_journal(dir.path(), &records);
        let error = recover(dir.path(), Config::default(), journal_config())
            .err()
            .expect("must refuse");
        (error, dir)
    };
    // An outcome other than the one the ledger computes (another record's).
    let diverging_seq = 2_500;
    let mut altered = committed[diverging_seq as usize - 1].clone();
    altered.outcome = committed
        .iter()
        .map(|c| c.outcome.clone())
        .find(|outcome| *outcome != altered.outcome)
        .unwrap();
    let diverging = (diverging_seq, engine::record::encode(&altered));
    // Bytes that are no record at all, later in the journal.
    let garbage = (last - 10, vec![1, 0xff, 0xff]);
    // A record in another record's place.
    let displaced = (100, encoded[100].clone());

    let (error, _dir) = with(std::slice::from_ref(&diverging));
    assert!(
        matches!(error, RecoveryError::Diverged { seq, .. } if seq == diverging_seq),
        "{error}"
    );
    assert!(
        !error.is_corruption(),
        "a divergence is the code's, not the disk's: {error}"
    );

    let (error, _dir) = with(std::slice::from_ref(&garbage));
    assert!(
        matches!(error, RecoveryError::Record { seq, .. } if seq == garbage.0),
        "{error}"
    );
    assert!(error.is_corruption());

    let (error, _dir) = with(&[diverging.clone(), garbage.clone()]);
    assert!(
        matches!(error, RecoveryError::Diverged { seq, .. } if seq == diverging_seq),
        "the failure earliest in the journal is the one reported: {error}"
    );

    let (error, _dir) = with(&[displaced, diverging]);
    assert!(
        matches!(
            error,
            RecoveryError::SeqMismatch {
                expected: 100,
                found: 101
            }
        ),
        "{error}"
    );
}
