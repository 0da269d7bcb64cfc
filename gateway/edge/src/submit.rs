//! Submitting a request to the sequencer's ring and awaiting its durable
//! reply, with the ring's refusals turned into HTTP answers: a full ring is
//! 503 + `Retry-After` (DESIGN.md invariant 7), a stopping sequencer 503, a
//! failed commit 500 "in doubt".
//!
//! A request in the router runs under a [`Submission`], which records
//! whether it reached the ring and holds its deadline: a request that timed
//! out before that changed nothing and may be retried as it is; one that
//! timed out after has an unknown outcome, which only a retry with the same
//! id can tell. A partner contract bounds its own work by that deadline
//! ([`bounded`]), so that a late reply still speaks the partner's protocol.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use tokio::time::Instant;

use engine::Request;
use engine::sequencer::{Reply, ReplyError, SequencerHandle, SubmitError};

use crate::error::ApiError;

tokio::task_local! {
    /// The submission record of the request this task is serving, if any.
    static SUBMISSION: Submission;
}

/// Whether a request has reached the sequencer's ring, and by when it
/// must be answered.
#[derive(Clone, Debug)]
pub struct Submission {
    flags: Arc<Flags>,
    deadline: Instant,
    timeout: Duration,
    retry_after_s: u64,
}

/// What a request's handling records while it runs (one allocation a
/// request for both).
#[derive(Debug, Default)]
struct Flags {
    /// Handed to the ring.
    submitted: AtomicBool,
    /// Set by [`bounded`] when a contract's work ran out of time and the
    /// contract is writing its own late answer.
    answering_late: AtomicBool,
}

impl Submission {
    /// A request arriving now, to be answered within `timeout`; a late one
    /// whose outcome is unknown is told to retry after `retry_after_s`.
    pub fn new(timeout: Duration, retry_after_s: u64) -> Submission {
        Submission {
            flags: Arc::default(),
            deadline: Instant::now() + timeout,
            timeout,
            retry_after_s,
        }
    }

    /// Runs `future` (a request in the router) until the deadline,
    /// recording here whether anything it runs submits to the ring; past
    /// the deadline, the answer [`Submission::late`] gives. A partner
    /// contract whose own bounded work ([`bounded`]) ran out of time at the
    /// deadline gets [`LATE_ANSWER_GRACE`] more to write its late answer
    /// (Hub88's is signed).
    pub async fn track<F: Future>(&self, future: F) -> Result<F::Output, ApiError> {
        let tracked = SUBMISSION.scope(self.clone(), future);
        tokio::pin!(tracked);
        match tokio::time::timeout_at(self.deadline, &mut tracked).await {
            Ok(output) => Ok(output),
            Err(_) if self.flags.answering_late.load(Ordering::SeqCst) => {
                tokio::time::timeout(LATE_ANSWER_GRACE, tracked)
                    .await
                    .map_err(|_| self.late())
            }
            Err(_) => Err(self.late()),
        }
    }

    /// True once the request was handed to the ring (whether or not it was
    /// then applied).
    pub fn submitted(&self) -> bool {
        self.flags.submitted.load(Ordering::SeqCst)
    }

    /// What a request not answered by its deadline is told. Before it
    /// reached the sequencer it changed nothing: 408, retrying is safe (in
    /// practice, a body that did not arrive). A wallet or operator change
    /// that timed out after may still be applied: 503 + `Retry-After`, and
    /// the client must retry with the same id to learn its outcome.
    pub fn late(&self) -> ApiError {
        if self.submitted() {
            ApiError::busy(
                "timeout",
                "the request took too long; its outcome is unknown: retry with the same id",
                self.retry_after_s,
            )
        } else {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request did not arrive in full within {} ms; nothing was submitted, so retrying is safe",
                    self.timeout.as_millis()
                ),
            )
        }
    }
}

/// Runs `future` until the current request's deadline: a partner
/// contract's work, which must answer in the partner's protocol even when it
/// is late. Past the deadline, the error [`Submission::late`] gives, which
/// the contract renders as its own (`RS_ERROR_UNKNOWN`, error 100,
/// `TEMPORARY_ERROR`). Outside a request (no [`Submission::track`]), not
/// bounded.
pub async fn bounded<F: Future>(future: F) -> Result<F::Output, ApiError> {
    match SUBMISSION.try_with(Submission::clone) {
        Ok(submission) => tokio::time::timeout_at(submission.deadline, future).await.map_err(|_| {
            // The envelope's timer has the same deadline, and
            // `tokio::time::timeout` polls the request (this) before its own
            // timer: the flag is set before the envelope gives up.
            submission.flags.answering_late.store(true, Ordering::SeqCst);
            submission.late()
        }),
        Err(_) => Ok(future.await),
    }
}

/// How long a partner contract whose work ran out of time at the deadline
/// may take to write its late answer (render and sign it).
pub const LATE_ANSWER_GRACE: Duration = Duration::from_secs(1);

/// Records that the current request is about to reach the ring (nothing
/// to record outside a [`Submission::track`], e.g. at start-up).
fn mark_submitted() {
    let _ = SUBMISSION.try_with(|submission| submission.flags.submitted.store(true, Ordering::SeqCst));
}

/// Where a member of a replication group sends requests: its own
/// sequencer while it leads; while it follows, nowhere (writes are turned
/// away with the leader's API URL).
#[derive(Default)]
pub struct LeaderGate(std::sync::RwLock<Leadership>);

/// What a [`LeaderGate`] holds.
#[derive(Clone)]
pub enum Leadership {
    /// This node leads: its sequencer takes requests.
    Leading(SequencerHandle),
    /// This node follows the leader at this API URL (`None`: unknown yet).
    Following(Option<String>),
}

impl Default for Leadership {
    fn default() -> Leadership {
        Leadership::Following(None)
    }
}

impl LeaderGate {
    /// Sets what the node does now.
    pub fn set(&self, leadership: Leadership) {
        *self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = leadership;
    }

    /// What the node does now.
    pub fn get(&self) -> Leadership {
        self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

/// The gateway's link to the sequencer.
#[derive(Clone)]
pub struct Engine {
    /// The sequencer of a single node (`None` on a group's member).
    handle: Option<SequencerHandle>,
    retry_after_s: u64,
    /// Set on a member of a replication group: requests go to the sequencer
    /// the gate names.
    gate: Option<Arc<LeaderGate>>,
}

impl Engine {
    /// Submits through `handle`; busy answers say to retry after `retry_after_s`.
    pub fn new(handle: SequencerHandle, retry_after_s: u64) -> Engine {
        Engine {
            handle: Some(handle),
            retry_after_s,
            gate: None,
        }
    }

    /// Submits through whatever sequencer `gate` names (a replication
    /// group's member); while it names none, requests get 503 `not_leader`.
    pub fn gated(gate: Arc<LeaderGate>, retry_after_s: u64) -> Engine {
        Engine {
            handle: None,
            retry_after_s,
            gate: Some(gate),
        }
    }

    /// The sequencer handle (for its statistics): on a group's member, the
    /// sequencer it runs while it leads, none while it follows.
    pub fn handle(&self) -> Option<SequencerHandle> {
        match (&self.handle, self.gate.as_deref().map(LeaderGate::get)) {
            (Some(handle), _) => Some(handle.clone()),
            (None, Some(Leadership::Leading(handle))) => Some(handle),
            (None, _) => None,
        }
    }

    /// On a replication group's member that follows: the answer every
    /// request gets from [`Engine::run`] here (503 `not_leader`, naming the
    /// leader when known), so a contract can give it before authenticating
    /// against this node's view, which may lag the leader's (an aggregator
    /// or a session the leader has made and this node has not applied yet).
    /// `None` where this node runs the sequencer.
    pub fn following(&self) -> Option<ApiError> {
        if self.handle.is_some() {
            return None;
        }
        match self.gate.as_deref().map(LeaderGate::get) {
            Some(Leadership::Leading(_)) => None,
            Some(Leadership::Following(leader)) => Some(ApiError::not_leader(leader, self.retry_after_s)),
            None => Some(ApiError::not_leader(None, self.retry_after_s)),
        }
    }

    /// Submits `request` and waits until its batch is durable.
    pub async fn run(&self, request: Request) -> Result<Reply, ApiError> {
        if let Some(handle) = &self.handle {
            return self.run_on(handle, request).await;
        }
        match self.gate.as_deref().map(LeaderGate::get) {
            Some(Leadership::Leading(handle)) => self.run_on(&handle, request).await,
            Some(Leadership::Following(leader)) => Err(ApiError::not_leader(leader, self.retry_after_s)),
            None => Err(ApiError::not_leader(None, self.retry_after_s)),
        }
    }

    async fn run_on(&self, handle: &SequencerHandle, request: Request) -> Result<Reply, ApiError> {
        let kind = request.command.kind();
        // Before the ring sees it: from here on a timeout cannot say what happened.
        mark_submitted();
        let completion = handle.submit(request).map_err(|error| match error {
            SubmitError::Busy => ApiError::busy("busy", "the server is busy: retry", self.retry_after_s),
            SubmitError::ShutDown => ApiError::busy("shutting_down", "the server is stopping", self.retry_after_s),
        })?;
        completion.await.map_err(|error| match error {
            ReplyError::ShutDown => ApiError::busy("shutting_down", "the server is stopping", self.retry_after_s),
            // A leader that lost office mid-batch: where to retry, with the same id.
            ReplyError::CommitFailed if self.gate.is_some() => {
                tracing::warn!(kind, "commit failed: this node stopped leading");
                let leader = match self.gate.as_deref().map(LeaderGate::get) {
                    Some(Leadership::Following(leader)) => leader,
                    _ => None,
                };
                ApiError {
                    code: "commit_failed",
                    message: "this node stopped leading before the request was committed; its outcome is in doubt: retry with the same id at the leader".into(),
                    ..ApiError::not_leader(leader, self.retry_after_s)
                }
            }
            ReplyError::CommitFailed => {
                tracing::error!(kind, "commit failed: the sequencer halted");
                ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "commit_failed",
                    "the outcome is in doubt: retry with the same id once the server is back",
                )
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use axum::response::IntoResponse;
    use engine::sequencer::{CommitError, CommitSink, Committed, MemorySink, Sequencer, SequencerConfig};
    use engine::{Command, Config, Currency, ExtId, Ledger, PlayerId, Query, SourceId, players};

    use super::*;

    /// A sink that says when a commit started and holds it until released.
    struct Gate {
        entered: mpsc::Sender<()>,
        release: mpsc::Receiver<()>,
    }

    impl CommitSink for Gate {
        fn commit(&mut self, _batch: &[Committed]) -> Result<(), CommitError> {
            let _ = self.entered.send(());
            let _ = self.release.recv();
            Ok(())
        }
    }

    fn query() -> Request {
        Request {
            source: SourceId(1),
            id: ExtId::new("q").unwrap(),
            command: Command::Query(Query::Balance {
                player: PlayerId(1),
                currency: Currency::EUR,
            }),
        }
    }

    /// A write: only writes reach the (gated) sink; queries are answered
    /// without it.
    fn register() -> Request {
        Request {
            source: SourceId(1),
            id: ExtId::new("r").unwrap(),
            command: Command::Players(players::Command::RegisterPlayer {
                currency: Currency::EUR,
                jurisdiction: engine::Jurisdiction::new("MT").unwrap(),
            }),
        }
    }

    #[tokio::test]
    async fn a_full_ring_answers_503_with_retry_after() {
        let (entered, entered_rx) = mpsc::channel();
        let (release, release_rx) = mpsc::channel();
        let gate = Gate {
            entered,
            release: release_rx,
        };
        let config = SequencerConfig {
            ring_capacity: 1,
            batch_len_max: 1,
            ..SequencerConfig::default()
        };
        let sequencer = Sequencer::start(Ledger::new(Config::default()), gate, || 0_u64, config).unwrap();
        let engine = Engine::new(sequencer.handle(), 7);
        let first = sequencer.handle().submit(register()).unwrap();
        entered_rx.recv().unwrap();
        // The sequencer flushes the first itself (nothing else was waiting),
        // held at the gate, and takes nothing from the ring meanwhile: the
        // second fills the ring.
        let second = sequencer.handle().submit(register()).unwrap();
        let busy = engine.run(register()).await.unwrap_err();
        assert_eq!((busy.status.as_u16(), busy.code), (503, "busy"));
        let response = busy.into_response();
        assert_eq!(response.headers()["retry-after"], "7");
        drop(release);
        assert!(first.wait().is_ok() && second.wait().is_ok());
        sequencer.shutdown().unwrap();
    }

    #[tokio::test]
    async fn a_submission_is_recorded_only_once_the_ring_is_reached() {
        let sequencer = Sequencer::start(
            Ledger::new(Config::default()),
            MemorySink::counting(),
            || 0_u64,
            SequencerConfig::default(),
        )
        .unwrap();
        let engine = Engine::new(sequencer.handle(), 1);
        let submission = Submission::new(Duration::from_secs(30), 1);
        submission.track(async {}).await.unwrap();
        assert!(!submission.submitted(), "nothing ran");
        submission.track(engine.run(query())).await.unwrap().unwrap();
        assert!(submission.submitted());
        // Outside a tracked request there is nothing to record, and no panic.
        engine.run(query()).await.unwrap();
        sequencer.shutdown().unwrap();
    }

    #[tokio::test]
    async fn work_bounded_by_the_deadline_answers_before_the_envelope_does() {
        let submission = Submission::new(Duration::from_millis(50), 3);
        let contract = submission
            .track(async { bounded(std::future::pending::<()>()).await })
            .await
            .expect("the bounded work's own answer, not the envelope's");
        let late = contract.unwrap_err();
        assert_eq!(late.status, StatusCode::REQUEST_TIMEOUT, "nothing was submitted");
        // A late answer that takes time to write (Hub88 signs it) is still
        // the contract's, within the grace.
        let submission = Submission::new(Duration::from_millis(50), 3);
        let contract = submission
            .track(async {
                let late = bounded(std::future::pending::<()>()).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                late
            })
            .await
            .expect("the contract's own late answer");
        assert!(contract.is_err());
        // Work that is not bounded gets no grace: the envelope answers.
        let submission = Submission::new(Duration::from_millis(50), 3);
        let unbounded = submission.track(std::future::pending::<()>()).await;
        assert_eq!(unbounded.unwrap_err().status, StatusCode::REQUEST_TIMEOUT);
        // Outside a tracked request, nothing bounds it.
        assert_eq!(bounded(async { 7 }).await.unwrap(), 7);
    }
}
