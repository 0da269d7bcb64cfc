//! Read models off the sequencer: what operators, reports and the back
//! office read, kept on a thread of its own so that no query ever loads the
//! thread that moves money.
//!
//! A [`ReadModel`] follows the committed journal into an embedded SQLite
//! file (`<data dir>/readmodel.sqlite`, WAL mode, versioned migrations in
//! [`store`]). On start it catches up by reading the journal from its
//! checkpoint; then the journal sink hands it every durable batch's record
//! bytes through a [`Feed`] (a bounded queue: if it ever fills, the thread
//! reads the gap back from the journal). Each transaction of applied records
//! moves the checkpoint with them, so a crash loses nothing the journal
//! cannot replay. A missing, damaged or newer file is rebuilt; if the journal
//! before the checkpoint was retired, balances are seeded from the newest
//! snapshot and the history starts there.
//!
//! Views say the sequence number they are current to (`as_of_seq`).
//! [`ReadModel::wait_for`] lets a request read its own writes: it waits,
//! within a limit, until the projection has applied a given sequence number.
//!
//! The first projection is [`history`]: transactions by (source, id), every
//! movement of every player's money (deposit confirmations and withdrawal
//! settlements included, bets, wins and rollbacks with their game round),
//! players and balances, the statement and balances at a past moment read
//! from them, and each player's game rounds. [`profiles`] keeps each
//! player's status and sealed profile (ciphertext only); [`kyc`] each
//! player's KYC level, provider checks and documents (numbers hashed);
//! [`logins`] the login sessions, devices and IP addresses (as blind
//! indexes) and the flags drawn from them. [`audit`] is the audit trail:
//! every operator action, one row per journal record. [`cashier`] keeps
//! every deposit and withdrawal with its provider, reference and
//! approvals (the withdrawal queue and the payout outbox). [`risk`] runs
//! the AML rules as records arrive (alerts with their evidence), scores
//! players for fraud, and keeps the case queue. [`credentials`] keeps the
//! operators' back-office logins (argon2id hash, TOTP secret), which the
//! ledger validates but does not keep.
//! [`figures`] splits each movement's money for the reports (stake and its
//! bonus share, prize and its cash share, bonus converted and granted,
//! jackpot paid), and [`reports`] reads the sums they are made of.
//! [`loyalty`] keeps the loyalty programme's settings, redemptions, VIP
//! tier history and promotion rules, and sums the movements the points,
//! tier reviews and cashback are worked out from.
//! [`support`] keeps the tickets, their messages and changes, operators'
//! notes on players, and each player's timeline. [`monitoring`] sums each
//! game's live performance per hour (rounds, players, stakes, prizes,
//! refusals, the sums its RTP test needs). [`rtp_alerts`] is the history
//! of the RTP test's alerts (raised, cleared), the one table not folded in
//! from the journal: the games module's evaluator writes it from
//! [`monitoring`]'s figures, and a rebuild starts it again from the
//! figures of that moment.
//! [`analytics`] keeps the problem-gambling marker alerts and the
//! interventions sent to players, and reads the facts the marker worker
//! and the churn model measure. [`marketing`] keeps the
//! affiliates, commission plans, brands and lobbies, and each player's
//! brand and affiliate. [`campaigns`] keeps the
//! marketing segments and campaigns, each campaign's targets (the control
//! group and the delivery outbox), works segment membership and uplift out
//! of the other projections, and says who must get no marketing.
//!
//! The projection is the file's writer: the risk module's rule settings
//! and cases are journaled too (`engine::risk`) and derived here; it uses
//! [`ReadModel::write`] only to check a case change against the rows
//! before it sends the command. The RTP alert evaluator writes
//! [`rtp_alerts`] with it (and nothing else). The projection's transactions take the
//! write lock when they begin, so the two never meet half-way.

pub mod analytics;
pub mod audit;
pub mod bonuses;
pub mod campaigns;
#[cfg(test)]
mod campaigns_tests;
pub mod cashier;
pub mod credentials;
#[cfg(test)]
mod credentials_tests;
#[cfg(test)]
mod deferred_tests;
pub mod figures;
pub mod free_rounds;
pub mod fx;
pub mod history;
pub mod kyc;
pub mod logins;
pub mod loyalty;
pub mod marketing;
pub mod methods;
pub mod monitoring;
pub mod profiles;
#[cfg(test)]
mod profiles_tests;
pub mod reconciliation;
pub mod reports;
#[cfg(test)]
mod reports_tests;
pub mod risk;
#[cfg(test)]
mod risk_tests;
pub mod rtp_alerts;
pub mod store;
pub mod summaries;
pub mod support;
#[cfg(test)]
mod support_tests;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};
use engine::Config;
use engine::durable::{DurableSeq, Tap};
use engine::sequencer::Committed;
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::watch;

pub use history::{Movement, TxView};
pub use store::Checkpoint;

/// What went wrong in a read model.
#[derive(Debug, thiserror::Error)]
pub enum ReadModelError {
    /// SQLite failed.
    #[error("read-model store: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file was written by a newer release.
    #[error("read-model schema version {found} is newer than this build's {known}")]
    NewerSchema {
        /// The file's version.
        found: u32,
        /// The newest this build knows.
        known: u32,
    },
    /// The file holds something this build cannot read.
    #[error("read-model store damaged: {0}")]
    Damaged(String),
    /// The journal could not be read.
    #[error("journal: {0}")]
    Journal(String),
    /// The read model has not reached the sequence number asked for in time.
    #[error("the read model is at sequence {at}, behind {wanted}")]
    Behind {
        /// Where it is.
        at: u64,
        /// Where it should be.
        wanted: u64,
    },
    /// The read model's thread is gone.
    #[error("the read model stopped")]
    Stopped,
}

/// Durable batches on their way from the journal sink to the projection.
pub const FEED_BATCHES_MAX: usize = 4096;
/// Records applied in one SQLite transaction at most while catching up.
const CATCH_UP_RECORDS_PER_TX: usize = 4096;
/// Readers kept open for queries.
const READERS_MAX: usize = 4;
/// How often an idle projection checks whether the feed dropped batches.
const DROP_CHECK_INTERVAL: Duration = Duration::from_millis(50);
/// How long the projection gathers durable batches into one SQLite
/// transaction while no reader waits for them. Each transaction writes every
/// page it touched to the WAL again, so a few large ones cost the disk (which
/// the journal's flush needs) far less than many small ones; a reader that
/// waits ([`ReadModel::wait_for`]) ends the gathering at once.
const GATHER_WINDOW: Duration = Duration::from_millis(50);
/// How often a gathering projection takes what the feed holds. It sleeps
/// between looks rather than waiting on the feed, so the commit thread's
/// batches do not wake it one by one (a wake-up costs both threads a trip
/// through the scheduler); a reader that starts waiting wakes it at once.
const GATHER_POLL: Duration = Duration::from_millis(2);
/// Most batches gathered into one transaction.
const GATHER_BATCHES_MAX: usize = 1024;
/// How long the projection applies records before it offers its CPU to any
/// thread waiting for it. A running niceness-19 thread keeps its CPU until
/// its time slice ends (milliseconds, under Linux's EEVDF scheduler), even
/// when a thread of the money path wakes up behind it; yielding this often
/// bounds that wait. At one connection it took the p99.9 from 2.5 ms to
/// under 1 ms (BENCHMARKS.md, 2026-12-05, tenth stop).
const TURN: Duration = Duration::from_micros(100);

/// How the projection has committed since it started ([`ReadModel::commits`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Commits {
    /// SQLite transactions committed.
    pub total: u64,
    /// Of them, those whose gathering ended early because a reader was
    /// waiting ([`ReadModel::wait_for`]) for records the views lacked.
    pub hurried: u64,
}

/// What [`Projector::gather`] took from the feed for one transaction.
struct Gathered {
    batches: Vec<FeedBatch>,
    /// The feed closed meanwhile: the projection ends after these.
    disconnected: bool,
    /// A reader waiting for records the views lacked ended the gathering.
    hurried: bool,
}

/// One durable batch, as the journal holds it.
struct FeedBatch {
    first_seq: u64,
    bytes: Vec<u8>,
    ranges: Vec<Range<usize>>,
}

/// The journal sink's side of the feed ([`Tap`]): copies each durable
/// batch's record bytes into the queue, never blocking the sequencer.
pub struct Feed {
    sender: Sender<FeedBatch>,
    /// Set when a batch did not fit: the projection reads the journal.
    dropped: Arc<AtomicBool>,
}

impl Tap for Feed {
    fn durable(&mut self, first_seq: u64, bytes: &[u8], ranges: &[Range<usize>]) {
        let batch = FeedBatch {
            first_seq,
            bytes: bytes.to_vec(),
            ranges: ranges.to_vec(),
        };
        match self.sender.try_send(batch) {
            // Full: the projection reads the gap back from the journal.
            Err(TrySendError::Full(_)) => self.dropped.store(true, Ordering::Release),
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

/// A running read model: the projection thread's handle for queries.
#[derive(Clone)]
pub struct ReadModel {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    applied: watch::Sender<u64>,
    /// Set when the projection thread has ended (and closed its file).
    finished: watch::Sender<bool>,
    /// The highest sequence number a reader has waited for: while it is
    /// ahead of the views, the projection commits what it has at once.
    wanted: AtomicU64,
    /// The projection thread, which a reader that starts waiting unparks.
    projector: OnceLock<Thread>,
    /// Times the feed had dropped batches and the journal was read instead.
    gaps: AtomicU64,
    /// SQLite transactions the projection committed.
    commits: AtomicU64,
    /// Of them, those whose gathering ended early for a waiting reader.
    hurried: AtomicU64,
    readers: Mutex<ReaderPool>,
    /// The connection of [`ReadModel::write`], once opened.
    writer: Mutex<Option<Connection>>,
}

/// The read connections kept open between queries, and which file they
/// were opened on: seeding from a snapshot replaces the file, and a
/// connection on the old one (even one out in a query then) must never be
/// pooled again, or later reads would answer from the removed file.
#[derive(Default)]
struct ReaderPool {
    /// Bumped each time the file is replaced.
    generation: u64,
    idle: Vec<Connection>,
}

impl ReaderPool {
    /// A connection for one query, and the file generation it belongs to.
    fn take(&mut self, path: &Path) -> Result<(u64, Connection), ReadModelError> {
        let connection = match self.idle.pop() {
            Some(connection) => connection,
            None => store::open_reader(path)?,
        };
        Ok((self.generation, connection))
    }

    /// Keeps `connection` for the next query if its file is still the
    /// current one and there is room; else closes it.
    fn give_back(&mut self, generation: u64, connection: Connection) {
        if generation == self.generation && self.idle.len() < READERS_MAX {
            self.idle.push(connection);
        }
    }

    /// The file was replaced: every connection open on it is stale.
    fn renew(&mut self) {
        self.idle.clear();
        self.generation += 1;
    }
}

impl ReadModel {
    /// Opens the read model of `data_dir` (whose ledger runs `config` and
    /// whose journal sink publishes `durable`), starts its thread, and
    /// returns it with the [`Feed`] to hand to the journal sink
    /// ([`engine::durable::JournalSink::set_tap`]) before the sequencer
    /// starts. Catching up happens on the thread: queries wait for it
    /// through [`ReadModel::wait_for`]. It never reads past `durable`: what
    /// is not durable may still be lost.
    pub fn start(data_dir: &Path, config: Config, durable: DurableSeq) -> Result<(ReadModel, Feed), ReadModelError> {
        ReadModel::start_with(data_dir, config, durable, FEED_BATCHES_MAX)
    }

    /// [`ReadModel::start`] with a feed that holds at most `feed_batches`
    /// batches (when it is full, batches are read back from the journal).
    pub fn start_with(
        data_dir: &Path,
        config: Config,
        durable: DurableSeq,
        feed_batches: usize,
    ) -> Result<(ReadModel, Feed), ReadModelError> {
        let path = store::path(data_dir);
        let mut connection = store::open(&path)?;
        let mut checkpoint = store::checkpoint(&connection)?;
        if checkpoint.seq > durable.get() {
            // Ahead of the journal: a file from another data directory, or a
            // journal restored from an older backup. Rebuild.
            tracing::warn!(
                checkpoint = checkpoint.seq,
                journal = durable.get(),
                "read model ahead of the journal: rebuilding it"
            );
            drop(connection);
            store::remove(&path)?;
            connection = store::open(&path)?;
            checkpoint = store::checkpoint(&connection)?;
        }
        let (applied, _) = watch::channel(checkpoint.seq);
        let shared = Arc::new(Shared {
            path,
            applied,
            finished: watch::channel(false).0,
            wanted: AtomicU64::new(0),
            projector: OnceLock::new(),
            readers: Mutex::new(ReaderPool::default()),
            writer: Mutex::new(None),
            gaps: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            hurried: AtomicU64::new(0),
        });
        let (sender, receiver) = crossbeam_channel::bounded(feed_batches.max(1));
        let dropped = Arc::new(AtomicBool::new(false));
        let projector = Projector {
            data_dir: data_dir.to_path_buf(),
            config,
            connection,
            checkpoint,
            feed: receiver,
            dropped: dropped.clone(),
            durable,
            shared: shared.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("croupier-readmodel".into())
            .spawn(move || projector.run())
            .map_err(|source| ReadModelError::Io {
                path: data_dir.to_path_buf(),
                source,
            })?;
        let _ = shared.projector.set(thread.thread().clone());
        Ok((ReadModel { shared }, Feed { sender, dropped }))
    }

    /// The last sequence number the views hold.
    pub fn applied_seq(&self) -> u64 {
        *self.shared.applied.borrow()
    }

    /// Follows [`ReadModel::applied_seq`] without asking the projection to
    /// hurry (unlike [`ReadModel::wait_for`], which ends its gathering at
    /// once): for workers that trail the views, like the PostgreSQL export.
    pub fn applied_watch(&self) -> watch::Receiver<u64> {
        self.shared.applied.subscribe()
    }

    /// How many times the feed had dropped batches (the projection was
    /// behind by more than the feed holds) and they were read back from the
    /// journal.
    pub fn gaps_recovered(&self) -> u64 {
        self.shared.gaps.load(Ordering::Relaxed)
    }

    /// How many transactions the projection has committed, and how many of
    /// them a waiting reader cut short.
    pub fn commits(&self) -> Commits {
        Commits {
            total: self.shared.commits.load(Ordering::Relaxed),
            hurried: self.shared.hurried.load(Ordering::Relaxed),
        }
    }

    /// Waits (at most `limit`) until the projection thread has ended, which
    /// it does once the journal sink holding its [`Feed`] is dropped: it
    /// applies what the feed still holds, then syncs and closes its file so
    /// that a restart of the machine does not rebuild it. Says whether it
    /// ended in time.
    pub async fn finished(&self, limit: Duration) -> bool {
        let mut receiver = self.shared.finished.subscribe();
        matches!(
            tokio::time::timeout(limit, receiver.wait_for(|finished| *finished)).await,
            Ok(Ok(_))
        )
    }

    /// Waits until the views hold `seq` (at most `limit`); returns the
    /// sequence number they are current to. The projection commits what
    /// it has gathered at once: someone is waiting on this read.
    pub async fn wait_for(&self, seq: u64, limit: Duration) -> Result<u64, ReadModelError> {
        self.wait(seq, limit, true).await
    }

    /// [`ReadModel::wait_for`] for background workers: the views reach
    /// `seq` at the projection's next commit, within its gathering window
    /// ([`GATHER_WINDOW`]) of a busy feed, and are not asked to hurry.
    /// Workers that ticked several times a second each ended a gathering
    /// early, and under load made the projection commit about three times
    /// as often (each commit writes every page it touched to the WAL again).
    pub async fn wait_in_background(&self, seq: u64, limit: Duration) -> Result<u64, ReadModelError> {
        self.wait(seq, limit, false).await
    }

    async fn wait(&self, seq: u64, limit: Duration, hurry: bool) -> Result<u64, ReadModelError> {
        let mut receiver = self.shared.applied.subscribe();
        if hurry && *receiver.borrow() < seq {
            self.shared.wanted.fetch_max(seq, Ordering::AcqRel);
            if let Some(projector) = self.shared.projector.get() {
                projector.unpark();
            }
        }
        let reached = tokio::time::timeout(limit, receiver.wait_for(|applied| *applied >= seq)).await;
        match reached {
            Ok(Ok(applied)) => Ok(*applied),
            Ok(Err(_)) => Err(ReadModelError::Stopped),
            Err(_) => Err(ReadModelError::Behind {
                at: self.applied_seq(),
                wanted: seq,
            }),
        }
    }

    /// Runs `query` on a reader connection off the async threads, and says
    /// which sequence number the views were at (at least) when it ran.
    pub async fn query<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> Result<T, ReadModelError> + Send + 'static,
    ) -> Result<(T, u64), ReadModelError> {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            let as_of = *shared.applied.borrow();
            let (generation, connection) = shared
                .readers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(&shared.path)?;
            // A read transaction: every statement of the query sees one state.
            connection.execute_batch("BEGIN")?;
            let result = query(&connection);
            connection.execute_batch("COMMIT")?;
            shared
                .readers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .give_back(generation, connection);
            result.map(|value| (value, as_of))
        })
        .await
        .map_err(|_| ReadModelError::Stopped)?
    }
}

impl ReadModel {
    /// Runs `change` in one write transaction beside the projection, off
    /// the async threads (the risk module checks a case change with it
    /// before sending the journaled command). An error from
    /// `change` rolls everything it did back.
    pub async fn write<T, E>(&self, change: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<ReadModelError> + Send + 'static,
    {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            let mut writer = shared.writer.lock().unwrap_or_else(|p| p.into_inner());
            if writer.is_none() {
                *writer = Some(store::open_writer(&shared.path)?);
            }
            let Some(connection) = writer.as_mut() else {
                return Err(E::from(ReadModelError::Stopped));
            };
            let tx = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(ReadModelError::from)?;
            let value = change(&tx)?;
            tx.commit().map_err(ReadModelError::from)?;
            Ok(value)
        })
        .await
        .map_err(|_| E::from(ReadModelError::Stopped))?
    }
}

/// Counts the projection's turn on its CPU ([`TURN`]).
struct Turn {
    started: Instant,
}

impl Turn {
    fn start(now: Instant) -> Turn {
        Turn { started: now }
    }

    /// After a record: whether the turn is over (a new one starts at `now`).
    fn over(&mut self, now: Instant) -> bool {
        if now.saturating_duration_since(self.started) < TURN {
            return false;
        }
        self.started = now;
        true
    }

    /// Offers the CPU to a waiting thread once the turn is over.
    fn offer_cpu(&mut self) {
        if self.over(Instant::now()) {
            std::thread::yield_now();
        }
    }
}

/// The projection thread.
struct Projector {
    data_dir: PathBuf,
    config: Config,
    connection: Connection,
    checkpoint: Checkpoint,
    feed: Receiver<FeedBatch>,
    dropped: Arc<AtomicBool>,
    durable: DurableSeq,
    shared: Arc<Shared>,
}

impl Projector {
    fn run(mut self) {
        // The lowest priority (niceness 19 on Linux): under a CPU shortage
        // the sequencer and the transports go first, and the projection
        // lags (visible in `croupier_readmodel_applied_seq`) rather than
        // slowing the money path. It also yields every `TURN` of work, so a
        // waking thread does not wait out its time slice. (`SCHED_IDLE` did
        // as well at one connection, BENCHMARKS.md 2026-12-05, but when both
        // CPUs are busy it starves the projection, which holds the file's
        // write lock, far longer.)
        if let Err(error) = thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min) {
            tracing::debug!(?error, "read model: could not lower the projection thread's priority");
        }
        loop {
            match self.follow() {
                // The feed closed: the server stopped.
                Ok(()) => {
                    if let Err(error) = store::close(self.connection) {
                        tracing::warn!(%error, "read model: closing its file failed; the next start after a reboot rebuilds it");
                    }
                    self.shared.finished.send_replace(true);
                    return;
                }
                Err(error) => {
                    tracing::error!(%error, seq = self.checkpoint.seq, "read model failed; retrying from its checkpoint in 1 s");
                    std::thread::sleep(Duration::from_secs(1));
                    match store::open(&self.shared.path).and_then(|c| store::checkpoint(&c).map(|k| (c, k))) {
                        Ok((connection, checkpoint)) => {
                            self.connection = connection;
                            self.checkpoint = checkpoint;
                        }
                        Err(error) => tracing::error!(%error, "read model cannot reopen its store"),
                    }
                }
            }
        }
    }

    /// Catches up from the journal, then applies the feed as it comes.
    fn follow(&mut self) -> Result<(), ReadModelError> {
        self.catch_up(self.durable.get())?;
        loop {
            let first = match self.feed.recv_timeout(DROP_CHECK_INTERVAL) {
                Ok(first) => first,
                Err(RecvTimeoutError::Timeout) => {
                    self.recover_dropped()?;
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            let Gathered {
                batches,
                disconnected,
                hurried,
            } = self.gather(first);
            let mut next = self.checkpoint.seq + 1;
            for batch in &batches {
                if batch.first_seq > next {
                    // Batches before this one were dropped: read them back.
                    self.shared.gaps.fetch_add(1, Ordering::Relaxed);
                    self.catch_up(batch.first_seq - 1)?;
                }
                next = next.max(batch.first_seq + batch.ranges.len() as u64);
            }
            let tx = self
                .connection
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut checkpoint = self.checkpoint;
            let mut deferred = Deferred::default();
            let mut turn = Turn::start(Instant::now());
            for batch in &batches {
                for (i, range) in batch.ranges.iter().enumerate() {
                    let seq = batch.first_seq + i as u64;
                    if seq <= checkpoint.seq {
                        continue;
                    }
                    let committed = decode(seq, &batch.bytes[range.clone()])?;
                    checkpoint.time_ms = project(&tx, &committed, checkpoint.time_ms, &mut deferred)?;
                    checkpoint.seq = seq;
                    turn.offer_cpu();
                }
            }
            commit(tx, &mut deferred, checkpoint)?;
            if hurried {
                self.shared.hurried.fetch_add(1, Ordering::Relaxed);
            }
            self.advance(checkpoint);
            if disconnected {
                return Ok(());
            }
            self.recover_dropped()?;
        }
    }

    /// Gathers the batches that arrive within [`GATHER_WINDOW`] after
    /// `first`, or until a reader waits for more than the views hold; says
    /// whether the feed closed meanwhile, and whether a reader cut it short.
    fn gather(&self, first: FeedBatch) -> Gathered {
        let deadline = Instant::now() + GATHER_WINDOW;
        let mut batches = vec![first];
        loop {
            while batches.len() < GATHER_BATCHES_MAX {
                match self.feed.try_recv() {
                    Ok(batch) => batches.push(batch),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        return Gathered {
                            batches,
                            disconnected: true,
                            hurried: false,
                        };
                    }
                }
            }
            let waited_for = self.shared.wanted.load(Ordering::Acquire) > self.checkpoint.seq;
            let now = Instant::now();
            if waited_for || now >= deadline || batches.len() >= GATHER_BATCHES_MAX {
                return Gathered {
                    batches,
                    disconnected: false,
                    hurried: waited_for,
                };
            }
            std::thread::park_timeout(GATHER_POLL.min(deadline - now));
        }
    }

    /// If the feed dropped batches (it was full), reads the journal up to
    /// the durable end: the dropped ones may be the last, with no later
    /// batch to reveal the gap.
    fn recover_dropped(&mut self) -> Result<(), ReadModelError> {
        if self.dropped.swap(false, Ordering::AcqRel) {
            self.shared.gaps.fetch_add(1, Ordering::Relaxed);
            self.catch_up(self.durable.get())?;
        }
        Ok(())
    }

    /// Applies the journal after the checkpoint, up to `until` (durable).
    fn catch_up(&mut self, until: u64) -> Result<(), ReadModelError> {
        if until <= self.checkpoint.seq {
            return Ok(());
        }
        let reader = journal::Reader::open(&self.data_dir).map_err(|e| ReadModelError::Journal(e.to_string()))?;
        if self.checkpoint.seq + 1 < reader.first_seq() {
            self.seed_from_snapshot()?;
        }
        let mut tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut checkpoint = self.checkpoint;
        let mut deferred = Deferred::default();
        let mut in_tx = 0;
        let mut turn = Turn::start(Instant::now());
        let mut batches = reader.batches_from(checkpoint.seq + 1);
        // Never asks the reader for a batch past `until`: the writer may be
        // writing it right now, and a half-written batch must not be read.
        'batches: while checkpoint.seq < until {
            let Some(batch) = batches.next() else { break };
            let batch = batch.map_err(|e| ReadModelError::Journal(e.to_string()))?;
            for (i, bytes) in batch.records.iter().enumerate() {
                let seq = batch.first_seq + i as u64;
                if seq > until {
                    break 'batches;
                }
                if seq <= checkpoint.seq {
                    continue;
                }
                let committed = decode(seq, bytes)?;
                checkpoint.time_ms = project(&tx, &committed, checkpoint.time_ms, &mut deferred)?;
                checkpoint.seq = seq;
                in_tx += 1;
                turn.offer_cpu();
            }
            if in_tx >= CATCH_UP_RECORDS_PER_TX {
                commit(tx, &mut deferred, checkpoint)?;
                self.advance(checkpoint);
                tx = self
                    .connection
                    .transaction_with_behavior(TransactionBehavior::Immediate)?;
                in_tx = 0;
            }
        }
        commit(tx, &mut deferred, checkpoint)?;
        self.advance(checkpoint);
        Ok(())
    }

    /// The journal before the checkpoint is gone: start from the newest
    /// snapshot's balances (the history then starts after it).
    fn seed_from_snapshot(&mut self) -> Result<(), ReadModelError> {
        let snapshots = engine::snapshot::list(&self.data_dir).map_err(|e| ReadModelError::Journal(e.to_string()))?;
        let mut last_error = None;
        for (_, path) in snapshots {
            match engine::snapshot::load(&path, &self.config) {
                Ok((ledger, info, _)) => {
                    tracing::warn!(
                        snapshot_seq = info.seq,
                        "read model: the journal before the snapshot was retired; balances start from the snapshot, the history after it"
                    );
                    // Held until the new file is seeded: no reader opens it
                    // half made, and none opened on the old one is pooled.
                    let mut readers = self.shared.readers.lock().unwrap_or_else(|p| p.into_inner());
                    store::remove(&self.shared.path)?;
                    readers.renew();
                    self.shared.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
                    self.connection = store::open(&self.shared.path)?;
                    let tx = self
                        .connection
                        .transaction_with_behavior(TransactionBehavior::Immediate)?;
                    history::seed(&tx, &ledger)?;
                    audit::seed(&tx, &ledger)?;
                    let checkpoint = Checkpoint {
                        seq: info.seq,
                        time_ms: info.time_ms,
                        history_from_seq: info.seq + 1,
                    };
                    store::set_checkpoint(&tx, checkpoint)?;
                    tx.commit()?;
                    drop(readers);
                    self.advance(checkpoint);
                    return Ok(());
                }
                Err(error) => last_error = Some(error.to_string()),
            }
        }
        Err(ReadModelError::Journal(format!(
            "the journal before sequence {} is retired and no snapshot is usable ({})",
            self.checkpoint.seq + 1,
            last_error.unwrap_or_else(|| "no snapshot".into())
        )))
    }

    /// After each commit: the views now hold `checkpoint`.
    fn advance(&mut self, checkpoint: Checkpoint) {
        self.shared.commits.fetch_add(1, Ordering::Relaxed);
        self.checkpoint = checkpoint;
        self.shared.applied.send_replace(checkpoint.seq);
    }
}

/// Applies one committed record to every projection; returns the ledger's
/// clock after it. The audit trail goes first: it reads the state before
/// the record (a status, a payment's state) from the other views. Running
/// sums, balances and round rows go to `deferred`, which the transaction
/// must write before it commits ([`commit`]).
fn project(
    tx: &rusqlite::Transaction<'_>,
    committed: &Committed,
    time_ms: u64,
    deferred: &mut Deferred,
) -> Result<u64, ReadModelError> {
    audit::apply(tx, committed)?;
    bonuses::apply(tx, committed)?;
    campaigns::apply(tx, committed)?;
    free_rounds::apply(tx, committed)?;
    loyalty::apply(tx, committed)?;
    marketing::apply(tx, committed)?;
    let (time_ms, moved) = history::apply(tx, committed, time_ms, deferred)?;
    // After the history: a settlement's player is its payment's, a
    // rollback's round its movement's.
    support::apply(tx, committed, moved.as_ref(), &mut deferred.rounds)?;
    // After the history too: it sums the movement's figures.
    monitoring::apply(tx, committed, time_ms, moved.as_ref(), &mut deferred.games)?;
    Ok(time_ms)
}

/// The movement a record made, as [`history::apply`] inserted it: what the
/// running sums and the projections after the history (the timeline's
/// rounds, the games' monitoring) take from it, rather than reading it
/// back from `movements`.
pub(crate) struct Moved {
    pub(crate) player: i64,
    pub(crate) currency: &'static str,
    /// The command's kind.
    pub(crate) kind: &'static str,
    /// The aggregator's round id and the game code, for a movement in a
    /// round (a rollback's: its bet's).
    pub(crate) round: Option<(String, String)>,
    /// Cash moved (negative: taken).
    pub(crate) cash_delta: i64,
    /// Bonus moved.
    pub(crate) bonus_delta: i64,
    pub(crate) figures: crate::figures::Figures,
}

/// The rows a projection transaction changes many times over (a player's
/// balance, a round, a game's hour, a player's day), kept in memory as its
/// records are applied and written once, at its end. Under load one
/// transaction holds hundreds of records of a few players and games, and
/// each of these rows cost a B-tree write a record. No projection reads
/// them back, and readers see only committed transactions, so the files
/// are the same as with a write a record. Beside them, what the
/// transaction read that only its own records change (`rules`).
#[derive(Default)]
pub(crate) struct Deferred {
    pub(crate) balances: history::PendingBalances,
    pub(crate) sums: summaries::Pending,
    pub(crate) rounds: support::PendingRounds,
    pub(crate) games: monitoring::Pending,
    pub(crate) rules: risk::RuleMemo,
}

impl Deferred {
    /// Writes what the transaction deferred, and forgets it.
    pub(crate) fn write(&mut self, tx: &rusqlite::Transaction<'_>) -> Result<(), ReadModelError> {
        self.balances.write(tx)?;
        self.sums.write(tx)?;
        self.rounds.write(tx)?;
        self.games.write(tx)
    }
}

/// Ends a projection transaction: its deferred rows, its checkpoint, the
/// commit.
fn commit(
    tx: rusqlite::Transaction<'_>,
    deferred: &mut Deferred,
    checkpoint: Checkpoint,
) -> Result<(), ReadModelError> {
    deferred.write(&tx)?;
    store::set_checkpoint(&tx, checkpoint)?;
    tx.commit()?;
    Ok(())
}

fn decode(seq: u64, bytes: &[u8]) -> Result<Committed, ReadModelError> {
    let committed = engine::record::decode(bytes).map_err(|e| ReadModelError::Journal(format!("record {seq}: {e}")))?;
    if committed.envelope.seq != seq {
        return Err(ReadModelError::Journal(format!(
            "record {seq} holds sequence number {}",
            committed.envelope.seq
        )));
    }
    Ok(committed)
}

#[cfg(test)]
mod turn_tests {
    use super::*;

    #[test]
    fn the_projection_offers_its_cpu_once_per_turn() {
        let start = Instant::now();
        let mut turn = Turn::start(start);
        // Records applied within the turn keep the CPU.
        assert!(!turn.over(start + TURN / 2));
        assert!(!turn.over(start + TURN - Duration::from_nanos(1)));
        // The first record past it gives the CPU away, and a new turn starts.
        assert!(turn.over(start + TURN));
        assert!(!turn.over(start + TURN + TURN / 2));
        assert!(turn.over(start + 3 * TURN));
    }
}

#[cfg(test)]
mod reader_pool_tests {
    use super::*;

    #[test]
    fn a_connection_on_a_replaced_file_is_never_pooled_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("readmodel.sqlite");
        drop(store::open(&path).unwrap());
        let mut pool = ReaderPool::default();

        // Out in a query while the file is replaced: closed on return.
        let (generation, out) = pool.take(&path).unwrap();
        pool.renew();
        pool.give_back(generation, out);
        assert!(pool.idle.is_empty());

        // One opened after it is kept, up to the limit.
        let (generation, fresh) = pool.take(&path).unwrap();
        assert_eq!(generation, 1);
        pool.give_back(generation, fresh);
        assert_eq!(pool.idle.len(), 1);
        let taken: Vec<_> = (0..READERS_MAX + 1).map(|_| pool.take(&path).unwrap()).collect();
        for (generation, connection) in taken {
            pool.give_back(generation, connection);
        }
        assert_eq!(pool.idle.len(), READERS_MAX);

        // Idle ones are forgotten when the file is replaced.
        pool.renew();
        assert!(pool.idle.is_empty());
    }
}
