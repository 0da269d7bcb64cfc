//! The single writer: a bounded ring in, one thread applying batches, group
//! commit, replies out.
//!
//! Producers on any thread call [`SequencerHandle::submit`], which pushes the
//! request into a bounded lock-free ring (crossbeam's array channel) and
//! returns a [`Completion`] at once, or [`SubmitError::Busy`] when the ring
//! is full, so memory stays bounded and the caller can answer "retry".
//!
//! The sequencer thread owns the [`Ledger`]. It drains up to
//! `batch_len_max` requests, stamps each with the next sequence number and
//! the batch's time, applies them, and has the [`CommitSink`] make the
//! whole batch durable before it completes the replies: one flush per
//! batch, however many commands it holds. Who flushes depends on whether
//! there is anything to overlap with the flush. When requests wait in the
//! ring, the batch (and the sink with it) goes to the commit thread, and
//! the sequencer applies what waits into batch n+1 while batch n is
//! flushed; the sink comes back with batch n, answered, and batch n+1
//! goes at once. When the ring is empty there is nothing to overlap, and
//! the sequencer flushes a small batch itself: handing it over would only
//! add a thread's wake-up to its latency (about 15 µs between two CPUs of
//! a virtual machine) and to its CPU cost. A large batch still goes to the
//! commit thread, which answers it while the sequencer applies what
//! arrives. Either way one batch at a time is being flushed, and batches
//! are committed and answered in the order they were applied. Finding the
//! ring empty and no batch being flushed, the sequencer spins a little
//! before it parks ([`SequencerConfig::idle_spin`]), while requests have
//! lately come close together, so that the next one does not pay for
//! waking it. If the sink fails, both stop (fail-stop): the failed batch and every batch applied
//! after it are answered `CommitFailed`, and nothing after a failed flush
//! is ever acknowledged.
//!
//! Queries and retries change nothing ([`Ledger::admit`]): they take no
//! sequence number and write no record, but their answers still wait for the
//! batch they were drained with (and so for every batch before it), since
//! they may show its effects.

use std::future::IntoFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Select, Sender, TryRecvError, TrySendError};

use crate::command::{Envelope, Request};
use crate::ledger::{Admission, Ledger, Printer, Prints};
use crate::outcome::Outcome;

/// Most requests in a batch the sequencer flushes itself (when nothing
/// waits in the ring). Whoever flushes a batch also answers it, one reply
/// (and often one wake-up) a request; answering a large batch on this
/// thread would hold up applying the requests that arrive meanwhile, which
/// the commit thread's answering does not. Measured with an in-memory sink
/// (`benches/benches/sequencer.rs`): without a limit, 1,024 requests in
/// flight went about 0.9× as fast; a lone request goes about twice as
/// fast either way.
const INLINE_BATCH_MAX: usize = 8;

/// Sizes of the sequencer, fixed at start-up.
#[derive(Clone, Copy, Debug)]
pub struct SequencerConfig {
    /// Requests the ring holds before `submit` answers `Busy` (default 65,536).
    pub ring_capacity: usize,
    /// Most requests applied and committed as one batch (default 4,096).
    pub batch_len_max: usize,
    /// How long the sequencer, finding the ring empty and no batch being
    /// flushed, keeps looking for the next request before it parks
    /// (default 100 µs; zero parks at once). A parked thread costs the
    /// producer that wakes it a futex call, and the wake-up a CPU leaving
    /// its idle state, which on a virtual machine is a hypervisor exit:
    /// together about 25 µs a request on the development VM. The spin is
    /// LMAX's busy-spin wait strategy, bounded and polite (it yields to any
    /// thread ready on its CPU): a wallet whose requests arrive within the
    /// spin of each other keeps its sequencer awake, an idle one sleeps.
    /// The price is CPU, at most this much per gap between requests, and
    /// only while the recent gaps averaged at most twice the spin (`Gaps`):
    /// at 1,000 isolated requests a second, spinning after each one cost
    /// 8 % of a CPU and bought nothing (BENCHMARKS.md).
    pub idle_spin: Duration,
}

/// [`SequencerConfig::idle_spin`] by default: at one connection, 100 µs
/// catches the next request as well as 500 µs does (BENCHMARKS.md).
pub const IDLE_SPIN_DEFAULT: Duration = Duration::from_micros(100);

impl Default for SequencerConfig {
    fn default() -> SequencerConfig {
        SequencerConfig {
            ring_capacity: 65_536,
            batch_len_max: 4_096,
            idle_spin: IDLE_SPIN_DEFAULT,
        }
    }
}

/// An applied envelope and its outcome: what a sink makes durable.
/// Encoded for the journal by [`crate::record`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// The stamped request.
    pub envelope: Envelope,
    /// What applying it produced.
    pub outcome: Outcome,
}

/// A sink failed to make a batch durable.
#[derive(Debug, thiserror::Error)]
#[error("commit of batch {first_seq}..={last_seq} failed: {message}")]
pub struct CommitError {
    /// First sequence number of the batch.
    pub first_seq: u64,
    /// Last sequence number of the batch.
    pub last_seq: u64,
    /// What went wrong.
    pub message: String,
}

/// Where committed batches go: the journal, a follower, or memory.
pub trait CommitSink: Send + 'static {
    /// Makes `batch` durable. Returns only once it is (under the sink's
    /// policy); an error stops the sequencer.
    fn commit(&mut self, batch: &[Committed]) -> Result<(), CommitError>;
}

/// A sink that keeps batches in memory (or only counts them): for tests,
/// benchmarks and the engine demo. Nothing survives the process.
#[derive(Debug, Default)]
pub struct MemorySink {
    /// Keep every committed record in `records`.
    pub keep: bool,
    /// The records kept, in order.
    pub records: Vec<Committed>,
    /// Batches committed.
    pub batches: u64,
    /// Records committed.
    pub committed: u64,
}

impl MemorySink {
    /// A sink that keeps every record.
    pub fn keeping() -> MemorySink {
        MemorySink {
            keep: true,
            ..MemorySink::default()
        }
    }

    /// A sink that only counts.
    pub fn counting() -> MemorySink {
        MemorySink::default()
    }
}

impl CommitSink for MemorySink {
    fn commit(&mut self, batch: &[Committed]) -> Result<(), CommitError> {
        self.batches += 1;
        self.committed += batch.len() as u64;
        if self.keep {
            self.records.extend_from_slice(batch);
        }
        Ok(())
    }
}

/// The sequencer's source of time. Read once per batch.
pub trait Clock: Send + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&mut self) -> u64;
}

/// The operating system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

impl<F: FnMut() -> u64 + Send + 'static> Clock for F {
    fn now_ms(&mut self) -> u64 {
        self()
    }
}

/// The answer to one request, sent once its batch is durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The sequence number the request was applied at; for a query or a
    /// retry, which get none, the last one applied before it (the state it read).
    pub seq: u64,
    /// The time stamped on it.
    pub time_ms: u64,
    /// What it produced.
    pub outcome: Outcome,
}

/// Why a request was not accepted into the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The ring is full: retry later (HTTP 503 + Retry-After).
    #[error("sequencer busy: ring full")]
    Busy,
    /// The sequencer is stopping or stopped.
    #[error("sequencer shut down")]
    ShutDown,
}

/// Why an accepted request got no outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// The sequencer stopped before applying it: it had no effect.
    #[error("sequencer stopped before applying the request")]
    ShutDown,
    /// It was applied but its batch could not be made durable; the sequencer
    /// halted. Whether it survives a restart is unknown: treat as in doubt.
    #[error("commit failed: outcome in doubt")]
    CommitFailed,
}

type ReplySender = oneshot::Sender<Result<Reply, ReplyError>>;

/// A request on its way through the ring, with the fingerprints its
/// producer computed ([`Printer`]) so the single writer does not hash it.
struct Submitted {
    request: Request,
    prints: Prints,
    reply: ReplySender,
}

enum Message {
    Submit(Submitted),
    Stop,
}

impl Message {
    /// The request of a `Submit` handed back (handles only send `Submit`).
    fn into_request(self) -> Request {
        match self {
            Message::Submit(submitted) => submitted.request,
            Message::Stop => unreachable!("handles never send Stop"),
        }
    }
}

/// A pending reply: wait for it (`wait`) or `.await` it.
#[derive(Debug)]
pub struct Completion(oneshot::Receiver<Result<Reply, ReplyError>>);

impl Completion {
    /// Blocks the calling thread until the reply arrives.
    pub fn wait(self) -> Result<Reply, ReplyError> {
        self.0.recv().unwrap_or(Err(ReplyError::ShutDown))
    }
}

/// The future of a [`Completion`].
pub struct CompletionFuture(oneshot::AsyncReceiver<Result<Reply, ReplyError>>);

impl std::future::Future for CompletionFuture {
    type Output = Result<Reply, ReplyError>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|reply| reply.unwrap_or(Err(ReplyError::ShutDown)))
    }
}

impl IntoFuture for Completion {
    type Output = Result<Reply, ReplyError>;
    type IntoFuture = CompletionFuture;

    fn into_future(self) -> CompletionFuture {
        CompletionFuture(self.0.into_future())
    }
}

/// Counters of the sequencer, readable from any thread (for `/metrics`).
#[derive(Debug, Default)]
pub struct SequencerStats {
    /// Batches committed.
    pub batches: AtomicU64,
    /// Requests applied and committed (each one journal record).
    pub commands: AtomicU64,
    /// Queries and retries answered from the ledger without a record.
    pub answered: AtomicU64,
    /// Length of the last batch.
    pub last_batch_len: AtomicU64,
    /// Times the sequencer found the ring empty with no batch being
    /// flushed, and a request arrived while it spun
    /// ([`SequencerConfig::idle_spin`]).
    pub waits_spun: AtomicU64,
    /// Times it found the ring empty and parked until a request arrived.
    pub waits_parked: AtomicU64,
}

/// State shared by the handles and the sequencer thread.
///
/// Closing the ring is a handshake: a producer counts itself in
/// `submitting` before it checks `closing` and pushes; the sequencer sets
/// `closing`, waits for `submitting` to reach zero and only then takes the
/// last requests out. So no request can land in the ring after the
/// sequencer's final look, where it would wait forever for a reply.
#[derive(Debug, Default)]
struct Shared {
    closing: AtomicBool,
    submitting: AtomicUsize,
    stats: SequencerStats,
}

impl Shared {
    /// Stops new submissions and waits for those under way to finish.
    fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        while self.submitting.load(Ordering::SeqCst) != 0 {
            std::hint::spin_loop();
        }
    }
}

/// Submits requests to a running sequencer. Cheap to clone; one per producer.
#[derive(Clone)]
pub struct SequencerHandle {
    ring: Sender<Message>,
    shared: Arc<Shared>,
    printer: Printer,
}

impl SequencerHandle {
    /// Queues `request`; never blocks.
    pub fn submit(&self, request: Request) -> Result<Completion, SubmitError> {
        self.try_submit(request).map_err(|(error, _)| error)
    }

    /// Like [`SequencerHandle::submit`], but a refused request comes back
    /// with the error, so a caller can retry on `Busy` without cloning.
    pub fn try_submit(&self, request: Request) -> Result<Completion, (SubmitError, Request)> {
        self.shared.submitting.fetch_add(1, Ordering::SeqCst);
        let result = if self.shared.closing.load(Ordering::SeqCst) {
            Err((SubmitError::ShutDown, request))
        } else {
            let (reply, completion) = oneshot::channel();
            // Hashed here, on the producer's thread, not on the sequencer's.
            let prints = self.printer.prints(&request);
            let submitted = Submitted { request, prints, reply };
            match self.ring.try_send(Message::Submit(submitted)) {
                Ok(()) => Ok(Completion(completion)),
                Err(TrySendError::Full(message)) => Err((SubmitError::Busy, message.into_request())),
                Err(TrySendError::Disconnected(message)) => Err((SubmitError::ShutDown, message.into_request())),
            }
        };
        self.shared.submitting.fetch_sub(1, Ordering::SeqCst);
        result
    }

    /// Like [`SequencerHandle::submit`], but while the ring is full it
    /// yields and tries again: for batch tools and tests that want
    /// backpressure to slow them down rather than fail them. Servers answer
    /// `Busy` to their clients instead.
    pub fn submit_waiting(&self, mut request: Request) -> Result<Completion, SubmitError> {
        loop {
            match self.try_submit(request) {
                Err((SubmitError::Busy, refused)) => {
                    request = refused;
                    std::thread::yield_now();
                }
                other => return other.map_err(|(error, _)| error),
            }
        }
    }

    /// Requests waiting in the ring.
    pub fn ring_depth(&self) -> usize {
        self.ring.len()
    }

    /// The sequencer's counters.
    pub fn stats(&self) -> &SequencerStats {
        &self.shared.stats
    }
}

/// How the sequencer thread ended.
#[derive(Debug, thiserror::Error)]
pub enum SequencerError {
    /// The sink failed; the sequencer halted at that batch.
    #[error(transparent)]
    Commit(#[from] CommitError),
    /// The sequencer thread panicked (a broken invariant).
    #[error("sequencer thread panicked")]
    Panicked,
}

/// A running sequencer: the thread that owns the ledger, and the commit
/// thread that flushes a batch while the next one is applied.
pub struct Sequencer<S: CommitSink> {
    handle: SequencerHandle,
    /// Ends with the ledger, and the sink unless a commit failed.
    thread: JoinHandle<(Ledger, Result<S, SequencerError>)>,
    commit_thread: JoinHandle<()>,
}

impl<S: CommitSink> Sequencer<S> {
    /// Starts the sequencer thread. `ledger.last_seq()` continues the numbering.
    pub fn start(ledger: Ledger, sink: S, clock: impl Clock, config: SequencerConfig) -> std::io::Result<Sequencer<S>> {
        assert!(
            config.ring_capacity > 0 && config.batch_len_max > 0,
            "empty ring or batch"
        );
        let (ring, drain) = crossbeam_channel::bounded(config.ring_capacity);
        // The sink travels with the batch it flushes, so one batch at most
        // is on its way: the sequencer is never more than two batches ahead
        // of the disk.
        let (to_commit, batches) = crossbeam_channel::bounded(1);
        let (answered, committed) = crossbeam_channel::bounded(1);
        let shared = Arc::new(Shared::default());
        let printer = ledger.printer();
        let commit_shared = shared.clone();
        let commit_thread = std::thread::Builder::new()
            .name("journal-commit".into())
            .spawn(move || commit_batches(batches, answered, &commit_shared))?;
        let worker = Worker {
            ledger,
            sink: Some(sink),
            clock,
            drain,
            to_commit,
            committed,
            shared: shared.clone(),
            config,
            last_time_ms: 0,
        };
        let thread = std::thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || worker.run())?;
        Ok(Sequencer {
            handle: SequencerHandle { ring, shared, printer },
            thread,
            commit_thread,
        })
    }

    /// A handle to submit requests with.
    pub fn handle(&self) -> SequencerHandle {
        self.handle.clone()
    }

    /// Stops accepting, applies and commits everything already in the ring,
    /// and returns the ledger and the sink.
    pub fn shutdown(self) -> Result<(Ledger, S), SequencerError> {
        self.handle.shared.closing.store(true, Ordering::SeqCst);
        // Blocks only while the ring is full, which the draining thread ends.
        let _ = self.handle.ring.send(Message::Stop);
        drop(self.handle);
        // The sequencer thread drops its end of the commit channel as it
        // ends, which ends the commit thread.
        let (ledger, sink) = self.thread.join().map_err(|_| SequencerError::Panicked)?;
        self.commit_thread.join().map_err(|_| SequencerError::Panicked)?;
        Ok((ledger, sink?))
    }
}

/// The sequencer thread's side: applies batches, and flushes them or hands
/// them to the commit thread.
struct Worker<S, C> {
    ledger: Ledger,
    /// Here while no batch is with the commit thread.
    sink: Option<S>,
    clock: C,
    drain: Receiver<Message>,
    /// A batch to make durable and answer, with the sink to do it with.
    to_commit: Sender<(Batch, S)>,
    /// The batch answered, coming back empty for reuse, and the sink; or
    /// why the commit failed.
    committed: Receiver<Result<(Batch, S), CommitError>>,
    shared: Arc<Shared>,
    config: SequencerConfig,
    last_time_ms: u64,
}

impl<S: CommitSink, C: Clock> Worker<S, C> {
    /// Flushes a batch itself when nothing waits to be applied meanwhile;
    /// otherwise hands it to the commit thread and applies batch n+1 while
    /// batch n is flushed: a batch takes every request that arrives while
    /// the one before it is being made durable (the first as it arrives,
    /// the rest from the ring when the flush ends, so that their producers
    /// need not wake this thread), and goes as soon as that one is
    /// answered. Ends with the ledger and the sink when stopped; with the
    /// ledger and the error when a commit failed (the ledger then holds
    /// effects never acknowledged, so only recovery from the journal may go
    /// on).
    fn run(mut self) -> (Ledger, Result<S, SequencerError>) {
        let max = self.config.batch_len_max;
        let mut requests = Vec::with_capacity(max);
        let mut current = Batch::with_capacity(max);
        let mut spare: Vec<Batch> = Vec::new();
        let mut stopping = false;
        let mut gaps = Gaps::default();
        let ended = loop {
            if self.sink.is_none() {
                // Collected without waiting: see the select below.
                match self.committed.try_recv() {
                    Ok(Ok(returned)) => self.take_back(returned, &mut spare),
                    Ok(Err(error)) => {
                        // Fail-stop, as below; the requests drained but not
                        // applied are answered `ShutDown` as they drop.
                        current.fail();
                        break Err(error.into());
                    }
                    Err(TryRecvError::Empty) => {}
                    Err(TryRecvError::Disconnected) => {
                        current.fail();
                        break Err(SequencerError::Panicked);
                    }
                }
            }
            if !requests.is_empty() {
                self.last_time_ms = self.clock.now_ms().max(self.last_time_ms);
                current.apply(&mut self.ledger, requests.drain(..), self.last_time_ms);
            }
            if !current.is_empty()
                && let Some(mut sink) = self.sink.take()
            {
                if current.len() <= INLINE_BATCH_MAX && self.drain.is_empty() {
                    // Nothing to apply meanwhile: flush here.
                    let committed = commit_batch(&mut sink, &mut current, &self.shared.stats);
                    self.sink = Some(sink);
                    if let Err(error) = committed {
                        break Err(error.into());
                    }
                } else {
                    let next = spare.pop().unwrap_or_else(|| Batch::with_capacity(max));
                    let batch = std::mem::replace(&mut current, next);
                    if let Err(returned) = self.to_commit.send((batch, sink)) {
                        // The commit thread is gone: it panicked.
                        returned.into_inner().0.fail();
                        break Err(SequencerError::Panicked);
                    }
                }
            }
            let in_flight = self.sink.is_none();
            if stopping && !in_flight && current.is_empty() {
                // Closed: nothing new can arrive. Take what is left.
                self.fill(&mut requests, max);
                if requests.is_empty() {
                    break Ok(());
                }
                continue;
            }
            let room = max - current.len();
            let mut select = Select::new();
            // While there is nothing to hand the commit thread, do not wait
            // for it at all: its answer would wake this thread for nothing
            // (at a few requests a batch, once a request), and the top of
            // the loop collects it when the next request arrives. Once the
            // next batch holds a request (or is full, or we are stopping),
            // wait for the commit thread only: requests that arrive
            // meanwhile wait in the ring and join the batch as soon as the
            // flush ends (below), so that their producers do not each have
            // to wake this thread (a futex call and a context switch per
            // request, at a few requests a flush).
            let waiting_for_flush = in_flight && (!current.is_empty() || stopping);
            let ring = (room > 0 && !stopping && !waiting_for_flush).then(|| select.recv(&self.drain));
            // Waiting for the ring only, and it is empty: spin before
            // parking, unless a batch is being flushed. While the commit
            // thread flushes, the wallet is busy and the other threads need
            // the CPU more than this one needs to wake fast (spinning then
            // cost 5 % of the throughput at 64 connections).
            let mut idle_since = None;
            if ring.is_some() && self.drain.is_empty() {
                let limit = self.config.idle_spin;
                if !in_flight {
                    idle_since = Some(Instant::now());
                }
                let spun = idle_since.is_some() && gaps.worth_spinning(limit) && spin_until_ready(&self.drain, limit);
                let stats = &self.shared.stats;
                let waits = if spun { &stats.waits_spun } else { &stats.waits_parked };
                waits.fetch_add(1, Ordering::Relaxed);
            }
            let done = waiting_for_flush.then(|| select.recv(&self.committed));
            let operation = select.select();
            if let Some(since) = idle_since {
                gaps.record(since.elapsed());
            }
            if Some(operation.index()) == ring {
                match operation.recv(&self.drain) {
                    Ok(Message::Submit(submitted)) => {
                        requests.push(submitted);
                        stopping |= self.fill(&mut requests, room);
                    }
                    Ok(Message::Stop) | Err(_) => stopping = true,
                }
                if stopping {
                    // Requests pushed until now were accepted: they are applied.
                    self.shared.close();
                }
            } else if Some(operation.index()) == done {
                match operation.recv(&self.committed) {
                    Ok(Ok(returned)) => {
                        self.take_back(returned, &mut spare);
                        // What arrived during the flush goes with the batch
                        // the top of the loop sends now.
                        if !stopping && self.fill(&mut requests, room) {
                            stopping = true;
                            self.shared.close();
                        }
                    }
                    Ok(Err(error)) => {
                        // Fail-stop: the batch in flight failed. What this
                        // thread applied since is in doubt too; whatever is
                        // still queued is never applied.
                        current.fail();
                        break Err(error.into());
                    }
                    Err(_) => {
                        current.fail();
                        break Err(SequencerError::Panicked);
                    }
                }
            }
        };
        self.shared.close();
        while self.drain.try_recv().is_ok() {}
        // Stopped with no batch in flight, so the sink is here.
        let sink = ended.and_then(|()| self.sink.ok_or(SequencerError::Panicked));
        (self.ledger, sink)
    }

    /// A batch answered by the commit thread, and the sink, are back.
    fn take_back(&mut self, (batch, sink): (Batch, S), spare: &mut Vec<Batch>) {
        spare.push(batch);
        self.sink = Some(sink);
    }

    /// Takes waiting requests without blocking until `requests` holds
    /// `limit`; true if a stop was among them.
    fn fill(&mut self, requests: &mut Vec<Submitted>, limit: usize) -> bool {
        let mut stop = false;
        while requests.len() < limit {
            match self.drain.try_recv() {
                Ok(Message::Submit(submitted)) => requests.push(submitted),
                Ok(Message::Stop) => stop = true,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        stop
    }
}

/// How long the idle sequencer has waited for its next request lately:
/// an average that weighs the last wait 1/8. Spinning pays only when
/// requests come within the spin of each other; at 1,000 isolated
/// requests a second it misses nearly always, and its CPU (and the CPU it
/// takes from the other threads) buys nothing. So the sequencer spins only
/// while the recent waits were at most twice the spin; the waits it parks
/// through are measured all the same, so it starts spinning again as soon
/// as requests come closer.
#[derive(Debug, Default)]
struct Gaps {
    recent_ns: u64,
}

impl Gaps {
    /// Adds a wait to the average.
    fn record(&mut self, gap: Duration) {
        let gap_ns = u64::try_from(gap.as_nanos()).unwrap_or(u64::MAX);
        self.recent_ns = self.recent_ns - self.recent_ns / 8 + gap_ns / 8;
    }

    /// Whether a spin of `limit` is likely to catch the next request.
    fn worth_spinning(&self, limit: Duration) -> bool {
        !limit.is_zero() && u128::from(self.recent_ns) <= 2 * limit.as_nanos()
    }
}

/// Spins until `ring` holds a message or `limit` has passed; true if a
/// message arrived. Every few dozen turns it yields its CPU to any thread
/// ready on it: the scheduler often wakes the HTTP worker this thread just
/// answered on this thread's CPU, and without the yield the reply waited
/// out the spin (the median at 1,000 requests a second rose from 350 to
/// 420 µs). The clock is read as rarely, since reading it costs more than
/// a turn. (A zero `limit` never gets here: [`Gaps::worth_spinning`].)
fn spin_until_ready(ring: &Receiver<Message>, limit: Duration) -> bool {
    let start = Instant::now();
    loop {
        for _ in 0..32 {
            if !ring.is_empty() {
                return true;
            }
            std::hint::spin_loop();
        }
        std::thread::yield_now();
        if start.elapsed() >= limit {
            return !ring.is_empty();
        }
    }
}

/// The commit thread: makes each batch it is handed durable through the
/// sink that comes with it, answers it, and hands both back. Ends when
/// the sequencer does, or after a failure, which it hands back instead.
fn commit_batches<S: CommitSink>(
    batches: Receiver<(Batch, S)>,
    committed: Sender<Result<(Batch, S), CommitError>>,
    shared: &Shared,
) {
    for (mut batch, mut sink) in batches.iter() {
        let result = commit_batch(&mut sink, &mut batch, &shared.stats);
        let failed = result.is_err();
        // The sequencer may be gone already (stopping): nothing to reuse then.
        let _ = committed.send(result.map(|()| (batch, sink)));
        if failed {
            return;
        }
    }
}

/// Makes `batch` durable through `sink`, then answers it; on a failure
/// answers it `CommitFailed`.
fn commit_batch<S: CommitSink>(sink: &mut S, batch: &mut Batch, stats: &SequencerStats) -> Result<(), CommitError> {
    // Reads and retries alone need no flush: every earlier batch is durable.
    if !batch.committed.is_empty() {
        if let Err(error) = sink.commit(&batch.committed) {
            batch.fail();
            return Err(error);
        }
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats
            .commands
            .fetch_add(batch.committed.len() as u64, Ordering::Relaxed);
        stats
            .last_batch_len
            .store(batch.committed.len() as u64, Ordering::Relaxed);
    }
    stats.answered.fetch_add(batch.answered.len() as u64, Ordering::Relaxed);
    batch.complete();
    Ok(())
}

/// One batch on its way: applied records and the replies owed for them,
/// and the reads and retries answered without a record.
struct Batch {
    committed: Vec<Committed>,
    replies: Vec<ReplySender>,
    /// Queries and retries: they change nothing, so they get no sequence
    /// number and no journal record. Their answers may show this batch's
    /// effects, so they too wait for its flush.
    answered: Vec<(Reply, ReplySender)>,
}

impl Batch {
    /// Requests in it, applied or answered.
    fn len(&self) -> usize {
        self.committed.len() + self.answered.len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn with_capacity(capacity: usize) -> Batch {
        Batch {
            committed: Vec::with_capacity(capacity),
            replies: Vec::with_capacity(capacity),
            answered: Vec::new(),
        }
    }

    fn apply(&mut self, ledger: &mut Ledger, requests: impl Iterator<Item = Submitted>, time_ms: u64) {
        for Submitted { request, prints, reply } in requests {
            let fresh = match ledger.admit_printed(&request, prints) {
                Admission::Fresh(fresh) => fresh,
                Admission::Answered(outcome) => {
                    // Current as of the last applied command.
                    let reply_now = Reply {
                        seq: ledger.last_seq(),
                        time_ms,
                        outcome,
                    };
                    self.answered.push((reply_now, reply));
                    continue;
                }
            };
            let envelope = Envelope {
                seq: ledger.last_seq() + 1,
                time_ms,
                request,
            };
            let outcome = ledger.apply_fresh(&envelope, fresh);
            self.committed.push(Committed { envelope, outcome });
            self.replies.push(reply);
        }
    }

    /// The batch is durable: answer everyone.
    fn complete(&mut self) {
        for (record, reply) in self.committed.drain(..).zip(self.replies.drain(..)) {
            let Committed { envelope, outcome } = record;
            // A producer that stopped waiting is no error.
            let _ = reply.send(Ok(Reply {
                seq: envelope.seq,
                time_ms: envelope.time_ms,
                outcome,
            }));
        }
        for (answer, reply) in self.answered.drain(..) {
            let _ = reply.send(Ok(answer));
        }
    }

    /// The batch could not be made durable: its outcomes are in doubt, and
    /// so are answers that may have seen them.
    fn fail(&mut self) {
        self.committed.clear();
        let answered = self.answered.drain(..).map(|(_, reply)| reply);
        for reply in self.replies.drain(..).chain(answered) {
            let _ = reply.send(Err(ReplyError::CommitFailed));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequencer_spins_while_its_recent_waits_were_short() {
        let limit = Duration::from_micros(100);
        let mut gaps = Gaps::default();
        assert!(gaps.worth_spinning(limit), "a fresh sequencer spins");
        assert!(!gaps.worth_spinning(Duration::ZERO), "no spin configured");
        // Requests every 90 µs (one connection, closed loop): keep spinning.
        for _ in 0..100 {
            gaps.record(Duration::from_micros(90));
        }
        assert!(gaps.worth_spinning(limit));
        // Isolated requests a millisecond apart: a few waits stop the spin.
        let mut waits = 0;
        while gaps.worth_spinning(limit) {
            gaps.record(Duration::from_millis(1));
            waits += 1;
        }
        assert!((1..=8).contains(&waits), "{waits} waits");
        // Requests close together again: a few waits start it again.
        let mut waits = 0;
        while !gaps.worth_spinning(limit) {
            gaps.record(Duration::from_micros(50));
            waits += 1;
        }
        assert!((1..=32).contains(&waits), "{waits} waits");
        // A pause of hours saturates nothing.
        gaps.record(Duration::from_secs(u64::MAX));
        assert!(!gaps.worth_spinning(limit));
    }
}
