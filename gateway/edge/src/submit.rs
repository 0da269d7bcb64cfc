//! Submitting a request to the sequencer's ring and awaiting its durable
//! reply, with the ring's refusals turned into HTTP answers: a full ring is
//! 503 + `Retry-After` (DESIGN.md invariant 7), a stopping sequencer 503, a
//! failed commit 500 "in doubt".
//!
//! A request in the router runs under a [`Submission`], which records
//! whether it reached the ring: a request that timed out before that changed
//! nothing and may be retried as it is; one that timed out after has an
//! unknown outcome, which only a retry with the same id can tell.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use engine::Request;
use engine::sequencer::{Reply, ReplyError, SequencerHandle, SubmitError};

use crate::error::ApiError;

tokio::task_local! {
    /// The submission record of the request this task is serving, if any.
    static SUBMISSION: Submission;
}

/// Whether a request has reached the sequencer's ring.
#[derive(Clone, Debug, Default)]
pub struct Submission(Arc<AtomicBool>);

impl Submission {
    /// Runs `future` (a request in the router), recording here whether
    /// anything it runs submits to the ring.
    pub async fn track<F: std::future::Future>(&self, future: F) -> F::Output {
        SUBMISSION.scope(self.clone(), future).await
    }

    /// True once the request was handed to the ring (whether or not it was
    /// then applied).
    pub fn submitted(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Records that the current request is about to reach the ring (nothing
/// to record outside a [`Submission::track`], e.g. at start-up).
fn mark_submitted() {
    let _ = SUBMISSION.try_with(|submission| submission.0.store(true, Ordering::SeqCst));
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
        let submission = Submission::default();
        submission.track(async {}).await;
        assert!(!submission.submitted(), "nothing ran");
        submission.track(engine.run(query())).await.unwrap();
        assert!(submission.submitted());
        // Outside a tracked request there is nothing to record, and no panic.
        engine.run(query()).await.unwrap();
        sequencer.shutdown().unwrap();
    }
}
