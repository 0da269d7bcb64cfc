//! The sequencer with real threads: every submitted request gets exactly
//! one reply, in submission order per producer, only after its batch was
//! committed; a full ring answers `Busy`; shutdown drains; a failing sink
//! halts without acknowledging; an idle sequencer spins, then parks.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};

use engine::command::{Command, Request};
use engine::sequencer::{
    CommitError, CommitSink, Committed, MemorySink, ReplyError, Sequencer, SequencerConfig, SequencerError, SubmitError,
};
use engine::workload::{WORKLOAD_SOURCE, Workload};
use engine::{Config, Currency, ExtId, Jurisdiction, Ledger, Outcome, PlayerId, SourceId};
use engine::{Query, players};

const T0: u64 = 1_750_000_000_000;

fn clock() -> impl FnMut() -> u64 + Send + 'static {
    let mut now = T0;
    move || {
        now += 1;
        now
    }
}

fn query(source: u32, n: u64) -> Request {
    Request {
        source: SourceId(source),
        id: ExtId::new(&format!("q{n}")).unwrap(),
        command: Command::Query(Query::Balance {
            player: PlayerId(1),
            currency: Currency::EUR,
        }),
    }
}

fn register(source: u32, n: u64) -> Request {
    Request {
        source: SourceId(source),
        id: ExtId::new(&format!("reg{n}")).unwrap(),
        command: Command::Players(players::Command::RegisterPlayer {
            currency: Currency::EUR,
            jurisdiction: Jurisdiction::new("MT").unwrap(),
        }),
    }
}

#[test]
fn every_request_of_every_producer_gets_one_reply_in_order() {
    const PRODUCERS: u32 = 4;
    const PER_PRODUCER: u64 = 5_000;
    let config = SequencerConfig {
        ring_capacity: 256,
        batch_len_max: 64,
        ..SequencerConfig::default()
    };
    let sequencer = Sequencer::start(Ledger::new(Config::default()), MemorySink::keeping(), clock(), config).unwrap();
    let start = Arc::new(Barrier::new(PRODUCERS as usize));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|source| {
            let handle = sequencer.handle();
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                let mut replies = Vec::new();
                let mut pending = VecDeque::new();
                for n in 0..PER_PRODUCER {
                    loop {
                        match handle.submit(register(source, n)) {
                            Ok(completion) => break pending.push_back(completion),
                            // The ring is small on purpose: wait for our oldest reply, then retry.
                            Err(SubmitError::Busy) => match pending.pop_front() {
                                Some(c) => replies.push(c.wait().unwrap()),
                                None => std::thread::yield_now(),
                            },
                            Err(SubmitError::ShutDown) => panic!("shut down early"),
                        }
                    }
                }
                replies.extend(pending.into_iter().map(|c| c.wait().unwrap()));
                replies
            })
        })
        .collect();
    let replies: Vec<Vec<_>> = producers.into_iter().map(|p| p.join().unwrap()).collect();
    let (ledger, sink) = sequencer.shutdown().unwrap();

    let total = u64::from(PRODUCERS) * PER_PRODUCER;
    assert_eq!(ledger.players_len() as u64, total);
    assert_eq!(sink.committed, total, "every request committed once");
    let mut all_seqs: Vec<u64> = Vec::new();
    for producer in &replies {
        assert_eq!(producer.len() as u64, PER_PRODUCER);
        assert!(
            producer.windows(2).all(|w| w[0].seq < w[1].seq),
            "replies out of submission order"
        );
        assert!(producer.iter().all(|r| matches!(r.outcome, Outcome::Registered { .. })));
        all_seqs.extend(producer.iter().map(|r| r.seq));
    }
    all_seqs.sort_unstable();
    assert_eq!(
        all_seqs,
        (1..=total).collect::<Vec<_>>(),
        "each seq answered exactly once"
    );
    // The sink saw the envelopes in seq order, time never going back.
    assert!(
        sink.records
            .iter()
            .enumerate()
            .all(|(i, r)| r.envelope.seq == i as u64 + 1)
    );
    assert!(
        sink.records
            .windows(2)
            .all(|w| w[0].envelope.time_ms <= w[1].envelope.time_ms)
    );
}

#[test]
fn a_full_ring_answers_busy_and_memory_stays_bounded() {
    let (sink, open, in_flush, _) = FlushGate::new();
    let config = SequencerConfig {
        ring_capacity: 8,
        batch_len_max: 1,
        ..SequencerConfig::default()
    };
    let sequencer = Sequencer::start(Ledger::new(Config::default()), sink, clock(), config).unwrap();
    let handle = sequencer.handle();
    // Writes: reads would not reach the gated sink.
    let first = handle.submit(register(1, 0)).unwrap();
    // With nothing else in the ring, the sequencer flushes request 0
    // itself, held at the gate, and takes nothing from the ring meanwhile.
    in_flush.recv().unwrap();
    let mut accepted = vec![first];
    let mut busy = 0;
    for n in 1..101 {
        match handle.submit(register(1, n)) {
            Ok(completion) => accepted.push(completion),
            Err(SubmitError::Busy) => busy += 1,
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(accepted.len(), 1 + 8, "the ring holds exactly its capacity");
    assert_eq!(busy, 100 - 8);
    // A refused request comes back intact for a later retry.
    let (error, returned) = handle.try_submit(register(1, 500)).expect_err("ring still full");
    assert_eq!((error, returned), (SubmitError::Busy, register(1, 500)));
    open.send(()).unwrap();
    for completion in accepted {
        assert!(completion.wait().is_ok());
    }
    sequencer.shutdown().unwrap();
}

#[test]
fn shutdown_drains_the_ring_and_refuses_new_requests() {
    let config = SequencerConfig {
        ring_capacity: 10_000,
        batch_len_max: 16,
        ..SequencerConfig::default()
    };
    let sequencer = Sequencer::start(Ledger::new(Config::default()), MemorySink::counting(), clock(), config).unwrap();
    let handle = sequencer.handle();
    let completions: Vec<_> = (0..5_000).map(|n| handle.submit(register(1, n)).unwrap()).collect();
    let (ledger, sink) = sequencer.shutdown().unwrap();
    assert_eq!(ledger.players_len(), 5_000);
    assert_eq!(sink.committed, 5_000);
    assert!(completions.into_iter().all(|c| c.wait().is_ok()));
    assert_eq!(handle.submit(register(1, 9_999)).err(), Some(SubmitError::ShutDown));
}

/// Fails the batch that contains `fail_at`.
struct FailingSink {
    fail_at: u64,
    durable: Arc<AtomicU64>,
}

impl CommitSink for FailingSink {
    fn commit(&mut self, batch: &[Committed]) -> Result<(), CommitError> {
        let first_seq = batch[0].envelope.seq;
        let last_seq = batch[batch.len() - 1].envelope.seq;
        if (first_seq..=last_seq).contains(&self.fail_at) {
            return Err(CommitError {
                first_seq,
                last_seq,
                message: "disk full".into(),
            });
        }
        self.durable.store(last_seq, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn a_failed_commit_halts_without_acknowledging() {
    let durable = Arc::new(AtomicU64::new(0));
    let sink = FailingSink {
        fail_at: 50,
        durable: durable.clone(),
    };
    let config = SequencerConfig {
        ring_capacity: 1_000,
        batch_len_max: 8,
        ..SequencerConfig::default()
    };
    let sequencer = Sequencer::start(Ledger::new(Config::default()), sink, clock(), config).unwrap();
    let handle = sequencer.handle();
    let completions: Vec<_> = (0..200).filter_map(|n| handle.submit(register(1, n)).ok()).collect();
    let replies: Vec<_> = completions.into_iter().map(|c| c.wait()).collect();
    let durable = durable.load(Ordering::SeqCst);
    assert!(durable < 50);
    for reply in &replies {
        match reply {
            Ok(reply) => assert!(reply.seq <= durable, "seq {} acknowledged past the failure", reply.seq),
            Err(error) => assert!(matches!(error, ReplyError::CommitFailed | ReplyError::ShutDown)),
        }
    }
    assert!(replies.iter().any(|r| r == &Err(ReplyError::CommitFailed)));
    assert!(sequencer.shutdown().is_err());
    assert_eq!(handle.submit(register(1, 1_000)).err(), Some(SubmitError::ShutDown));
}

/// One request at a time: the sequencer is idle (waiting on the ring only)
/// when the flush fails, and learns of it from the next request.
#[test]
fn a_flush_that_fails_while_the_sequencer_idles_stops_it_at_the_next_request() {
    let durable = Arc::new(AtomicU64::new(0));
    let sink = FailingSink {
        fail_at: 3,
        durable: durable.clone(),
    };
    let sequencer = Sequencer::start(
        Ledger::new(Config::default()),
        sink,
        clock(),
        SequencerConfig::default(),
    )
    .unwrap();
    let handle = sequencer.handle();
    for n in 0..2 {
        let reply = handle.submit(register(1, n)).unwrap().wait().unwrap();
        assert_eq!(reply.seq, n + 1);
    }
    let failed = handle.submit(register(1, 2)).unwrap().wait();
    assert_eq!(failed, Err(ReplyError::CommitFailed));
    // Never acknowledged: refused, dropped unapplied, or (if it raced the
    // news of the failure into the ledger) in doubt with the failed batch.
    let after = handle.submit(register(1, 3)).map(|c| c.wait());
    assert!(
        matches!(
            after,
            Err(SubmitError::ShutDown) | Ok(Err(ReplyError::ShutDown | ReplyError::CommitFailed))
        ),
        "{after:?}"
    );
    assert_eq!(durable.load(Ordering::SeqCst), 2);
    assert!(matches!(sequencer.shutdown(), Err(SequencerError::Commit(_))));
    assert_eq!(handle.submit(register(1, 4)).err(), Some(SubmitError::ShutDown));
}

#[test]
fn completions_can_be_awaited() {
    let config = SequencerConfig::default();
    let sequencer = Sequencer::start(Ledger::new(Config::default()), MemorySink::counting(), clock(), config).unwrap();
    let completion = sequencer.handle().submit(register(1, 1)).unwrap();
    let reply = block_on(std::future::IntoFuture::into_future(completion));
    assert_eq!(reply.unwrap().outcome, Outcome::Registered { player: PlayerId(1) });
    sequencer.shutdown().unwrap();
}

/// A minimal executor: the completion's waker must wake this thread.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct ThreadWaker(std::thread::Thread);
    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

#[test]
fn the_sequencer_and_a_direct_replay_agree() {
    let config = SequencerConfig {
        ring_capacity: 1_024,
        batch_len_max: 32,
        ..SequencerConfig::default()
    };
    let sequencer = Sequencer::start(Ledger::new(Config::default()), MemorySink::keeping(), clock(), config).unwrap();
    let handle = sequencer.handle();
    let mut workload = Workload::new(7, 50, Currency::EUR);
    let mut requests: Vec<_> = workload.setup().collect();
    requests.extend((0..3_000).map(|_| workload.next_request()));
    let completions: Vec<_> = requests
        .iter()
        .map(|r| handle.submit_waiting(r.clone()).unwrap())
        .collect();
    let replies: Vec<_> = completions.into_iter().map(|c| c.wait().unwrap()).collect();
    let (ledger, sink) = sequencer.shutdown().unwrap();
    ledger.check_conservation().unwrap();
    // Records are the requests that changed something; queries and retries
    // were answered in between, as of the last record before them.
    let mut replayed = Ledger::new(Config::default());
    let mut records = sink.records.iter().peekable();
    let mut answered = 0;
    for (request, reply) in requests.iter().zip(&replies) {
        match records.peek() {
            Some(record) if record.envelope.seq == reply.seq && record.envelope.request == *request => {
                assert_eq!(record.envelope.request.source, WORKLOAD_SOURCE);
                assert_eq!(replayed.apply(&record.envelope), reply.outcome);
                records.next();
            }
            _ => {
                assert_eq!(replayed.last_seq(), reply.seq, "answered as of the last record");
                assert_eq!(replayed.answer(request).as_ref(), Some(&reply.outcome));
                answered += 1;
            }
        }
    }
    assert!(records.next().is_none(), "every record was a reply");
    assert!(answered > 0, "the workload has retries and queries");
    assert_eq!(replayed.digest(), ledger.digest());
}

/// Issue #9 item 5: a query or a retry changes nothing, so it takes no
/// sequence number and never reaches the sink (the journal).
#[test]
fn queries_and_retries_take_no_sequence_number_and_reach_no_sink() {
    let sequencer = Sequencer::start(
        Ledger::new(Config::default()),
        MemorySink::keeping(),
        clock(),
        SequencerConfig::default(),
    )
    .unwrap();
    let handle = sequencer.handle();
    let registered = handle.submit(register(1, 0)).unwrap().wait().unwrap();
    let retried = handle.submit(register(1, 0)).unwrap().wait().unwrap();
    let read = handle.submit(query(1, 1)).unwrap().wait().unwrap();
    assert_eq!(retried.outcome, registered.outcome);
    assert!(matches!(read.outcome, Outcome::Balance(_)), "{:?}", read.outcome);
    assert_eq!((registered.seq, retried.seq, read.seq), (1, 1, 1));
    let stats = handle.stats();
    assert_eq!(
        (
            stats.commands.load(Ordering::Relaxed),
            stats.answered.load(Ordering::Relaxed)
        ),
        (1, 2)
    );
    let (ledger, sink) = sequencer.shutdown().unwrap();
    assert_eq!((ledger.last_seq(), sink.records.len()), (1, 1));
}

/// A sink whose first commit waits for the test to open a gate (so the
/// ring can fill), and which records every batch it is given: its
/// sequence numbers, and the thread that flushed it.
struct FlushGate {
    gate: std::sync::mpsc::Receiver<()>,
    entered: std::sync::mpsc::Sender<()>,
    first: bool,
    batches: Flushed,
}

/// Every batch a [`FlushGate`] was given: the thread that flushed it, and
/// its sequence numbers.
type Flushed = Arc<std::sync::Mutex<Vec<(String, Vec<u64>)>>>;

impl FlushGate {
    /// The sink, a sender that opens its gate, a receiver told when its
    /// first commit reached the gate, and what it records.
    fn new() -> (
        FlushGate,
        std::sync::mpsc::Sender<()>,
        std::sync::mpsc::Receiver<()>,
        Flushed,
    ) {
        let (open, gate) = std::sync::mpsc::channel();
        let (entered, in_flush) = std::sync::mpsc::channel();
        let batches = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = FlushGate {
            gate,
            entered,
            first: true,
            batches: batches.clone(),
        };
        (sink, open, in_flush, batches)
    }
}

impl CommitSink for FlushGate {
    fn commit(&mut self, batch: &[Committed]) -> Result<(), CommitError> {
        if self.first {
            self.first = false;
            self.entered.send(()).unwrap();
            self.gate.recv().unwrap();
        }
        let thread = std::thread::current().name().unwrap_or_default().to_owned();
        let seqs = batch.iter().map(|c| c.envelope.seq).collect();
        self.batches.lock().unwrap().push((thread, seqs));
        Ok(())
    }
}

/// A clock whose first reading (the sequencer's first batch) waits until
/// the test opens it, and which counts its readings (one a batch applied).
fn held_clock() -> (impl FnMut() -> u64 + Send + 'static, Arc<Barrier>, Arc<AtomicU64>) {
    let release = Arc::new(Barrier::new(2));
    let readings = Arc::new(AtomicU64::new(0));
    let (held, counted) = (release.clone(), readings.clone());
    let clock = move || {
        if counted.fetch_add(1, Ordering::SeqCst) == 0 {
            held.wait();
        }
        T0 + counted.load(Ordering::SeqCst)
    };
    (clock, release, readings)
}

#[test]
fn requests_arriving_during_a_flush_are_applied_into_the_next_batch_and_answered_after_it() {
    let (sink, open, in_flush, batches) = FlushGate::new();
    let (clock, release, readings) = held_clock();
    let config = SequencerConfig {
        ring_capacity: 1_000,
        batch_len_max: 64,
        ..SequencerConfig::default()
    };
    let sequencer = Sequencer::start(Ledger::new(Config::default()), sink, clock, config).unwrap();
    let handle = sequencer.handle();
    // The sequencer took the first request and waits on the clock to apply
    // it (past taking requests from the ring); the rest wait in the ring,
    // so batch 1 goes to the commit thread and the sequencer applies the
    // rest meanwhile.
    let first = handle.submit(register(1, 0)).unwrap();
    while readings.load(Ordering::SeqCst) == 0 {
        std::thread::yield_now();
    }
    let later: Vec<_> = (1..=10).map(|n| handle.submit(register(1, n)).unwrap()).collect();
    let read = handle.submit(query(1, 0)).unwrap();
    release.wait();
    in_flush.recv().unwrap();
    // Batch 1 is being flushed: batch 2 is applied meanwhile (the clock is
    // read once for it), and the query in it sees batch 1's player, which
    // is not durable yet.
    while readings.load(Ordering::SeqCst) < 2 {
        std::thread::yield_now();
    }
    assert!(
        batches.lock().unwrap().is_empty(),
        "nothing is durable before the gate opens"
    );
    open.send(()).unwrap();
    assert_eq!(first.wait().unwrap().seq, 1);
    for (n, completion) in (2..).zip(later) {
        assert_eq!(completion.wait().unwrap().seq, n);
    }
    let read = read.wait().unwrap();
    assert!(
        matches!(read.outcome, Outcome::Balance(_)),
        "the read saw player 1, applied in batch 1: {read:?}"
    );
    sequencer.shutdown().unwrap();
    let batches = batches.lock().unwrap();
    assert_eq!(batches[0], ("journal-commit".to_owned(), vec![1]));
    // Everything that arrived during the first flush went in one batch.
    assert_eq!(batches[1].1, (2..=11).collect::<Vec<u64>>());
}

#[test]
fn with_nothing_waiting_to_be_applied_the_sequencer_flushes_the_batch_itself() {
    let (sink, open, in_flush, batches) = FlushGate::new();
    let config = SequencerConfig {
        ring_capacity: 1_000,
        batch_len_max: 64,
        ..SequencerConfig::default()
    };
    let sequencer = Sequencer::start(Ledger::new(Config::default()), sink, clock(), config).unwrap();
    let handle = sequencer.handle();
    let first = handle.submit(register(1, 0)).unwrap();
    in_flush.recv().unwrap();
    // The sequencer itself is in the flush: what arrives now waits in the
    // ring, and is applied only once the flush ends, as one batch.
    let later: Vec<_> = (1..=10).map(|n| handle.submit(register(1, n)).unwrap()).collect();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(
        handle.ring_depth(),
        10,
        "nothing is applied while the sequencer flushes"
    );
    open.send(()).unwrap();
    assert_eq!(first.wait().unwrap().seq, 1);
    for (n, completion) in (2..).zip(later) {
        assert_eq!(completion.wait().unwrap().seq, n);
    }
    // One request at a time: each flushed where it was applied.
    for n in 11..15 {
        assert_eq!(handle.submit(register(1, n)).unwrap().wait().unwrap().seq, n + 1);
    }
    let (ledger, _) = sequencer.shutdown().unwrap();
    assert_eq!(ledger.last_seq(), 15);
    let batches = batches.lock().unwrap();
    assert_eq!(batches[0], ("sequencer".to_owned(), vec![1]));
    assert_eq!(batches[1].1, (2..=11).collect::<Vec<u64>>());
    let lone: Vec<_> = batches[2..].iter().map(|(thread, _)| thread.as_str()).collect();
    assert_eq!(lone, ["sequencer"; 4]);
}

#[test]
fn after_a_failed_flush_no_later_batch_reaches_the_sink_or_is_acknowledged() {
    let durable = Arc::new(AtomicU64::new(0));
    let sink = FailingSink {
        fail_at: 10,
        durable: durable.clone(),
    };
    let config = SequencerConfig {
        ring_capacity: 10_000,
        batch_len_max: 4,
        ..SequencerConfig::default()
    };
    let sequencer = Sequencer::start(Ledger::new(Config::default()), sink, clock(), config).unwrap();
    let handle = sequencer.handle();
    // Several producers keep the pipeline full when the failure comes.
    let producers: Vec<_> = (0..4)
        .map(|source| {
            let handle = handle.clone();
            std::thread::spawn(move || {
                let completions: Vec<_> = (0..500)
                    .filter_map(|n| handle.submit(register(source + 1, n)).ok())
                    .collect();
                completions.into_iter().map(|c| c.wait()).collect::<Vec<_>>()
            })
        })
        .collect();
    let replies: Vec<_> = producers.into_iter().flat_map(|p| p.join().unwrap()).collect();
    let durable = durable.load(Ordering::SeqCst);
    assert!(durable < 10, "the sink took nothing past the failed batch: {durable}");
    let mut failed = 0;
    for reply in &replies {
        match reply {
            Ok(reply) => assert!(reply.seq <= durable, "seq {} acknowledged past the failure", reply.seq),
            Err(ReplyError::CommitFailed) => failed += 1,
            Err(ReplyError::ShutDown) => {}
        }
    }
    assert!(failed >= 1);
    assert!(matches!(sequencer.shutdown(), Err(SequencerError::Commit(_))));
}

/// Registers a player, then submits three balance queries, each after a
/// 20 ms pause (the sequencer has surely gone idle) and waiting for its
/// reply; returns the sequencer's (spun, parked) waits.
fn idle_waits(idle_spin: std::time::Duration) -> (u64, u64) {
    let config = SequencerConfig {
        idle_spin,
        ..SequencerConfig::default()
    };
    let sequencer = Sequencer::start(Ledger::new(Config::default()), MemorySink::counting(), clock(), config).unwrap();
    let handle = sequencer.handle();
    handle.submit(register(1, 0)).unwrap().wait().unwrap();
    for n in 0..3 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        handle.submit(query(1, n)).unwrap().wait().unwrap();
    }
    let stats = handle.stats();
    let waits = (
        stats.waits_spun.load(Ordering::Relaxed),
        stats.waits_parked.load(Ordering::Relaxed),
    );
    let (ledger, _) = sequencer.shutdown().unwrap();
    assert_eq!(ledger.last_seq(), 1);
    waits
}

#[test]
fn an_idle_sequencer_catches_a_request_within_its_spin_and_parks_after_it() {
    // A spin far longer than the test's pauses: each request arrives while
    // the sequencer still spins, and it never parks.
    let (spun, parked) = idle_waits(std::time::Duration::from_secs(10));
    assert_eq!(parked, 0);
    assert!(spun >= 3, "spun {spun}");
    // No spin: every pause ends with the thread parked.
    let (spun, parked) = idle_waits(std::time::Duration::ZERO);
    assert_eq!(spun, 0);
    assert!(parked >= 3, "parked {parked}");
    // A spin shorter than the pauses: it parks, after spinning in vain or,
    // once its recent waits were long, at once.
    let (spun, parked) = idle_waits(std::time::Duration::from_micros(200));
    assert!(parked >= 3, "spun {spun}, parked {parked}");
}

#[test]
fn a_sequencer_whose_batch_is_being_flushed_parks_without_spinning() {
    let (sink, open, in_flush, _) = FlushGate::new();
    let config = SequencerConfig {
        idle_spin: std::time::Duration::from_secs(10),
        ..SequencerConfig::default()
    };
    let sequencer = Sequencer::start(Ledger::new(Config::default()), sink, clock(), config).unwrap();
    let handle = sequencer.handle();
    // Alone in the ring, the first request is flushed by the sequencer
    // itself, which the gate holds while 19 more wait in the ring.
    let first = handle.submit(register(1, 0)).unwrap();
    in_flush.recv().unwrap();
    let later: Vec<_> = (1..20).map(|n| handle.submit(register(1, n)).unwrap()).collect();
    open.send(()).unwrap();
    // The 19 make a batch too large to flush in place: it goes to the
    // commit thread, and the sequencer, with the ring empty and that batch
    // in flight until the next request collects it, parks at once.
    first.wait().unwrap();
    for completion in later {
        completion.wait().unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(20));
    let stats = handle.stats();
    let spun = stats.waits_spun.load(Ordering::Relaxed);
    let parked = stats.waits_parked.load(Ordering::Relaxed);
    // At most one spin: the wait for the first request, if the sequencer
    // reached it before the request did.
    assert!(spun <= 1 && parked == 1, "spun {spun}, parked {parked}");
    let (ledger, _) = sequencer.shutdown().unwrap();
    assert_eq!(ledger.last_seq(), 20);
}
