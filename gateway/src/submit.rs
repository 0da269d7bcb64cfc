//! Submitting a request to the sequencer's ring and awaiting its durable
//! reply, with the ring's refusals turned into HTTP answers: a full ring is
//! 503 + `Retry-After` (DESIGN.md invariant 7), a stopping sequencer 503, a
//! failed commit 500 "in doubt".

use engine::Request;
use engine::sequencer::{Reply, ReplyError, SequencerHandle, SubmitError};

use crate::error::ApiError;

/// The gateway's link to the sequencer.
#[derive(Clone)]
pub struct Engine {
    handle: SequencerHandle,
    retry_after_s: u64,
}

impl Engine {
    /// Submits through `handle`; busy answers say to retry after `retry_after_s`.
    pub fn new(handle: SequencerHandle, retry_after_s: u64) -> Engine {
        Engine { handle, retry_after_s }
    }

    /// The sequencer handle (for its statistics).
    pub fn handle(&self) -> &SequencerHandle {
        &self.handle
    }

    /// Submits `request` and waits until its batch is durable.
    pub async fn run(&self, request: Request) -> Result<Reply, ApiError> {
        let kind = request.command.kind();
        let completion = self.handle.submit(request).map_err(|error| match error {
            SubmitError::Busy => ApiError::busy("busy", "the server is busy: retry", self.retry_after_s),
            SubmitError::ShutDown => ApiError::busy("shutting_down", "the server is stopping", self.retry_after_s),
        })?;
        completion.await.map_err(|error| match error {
            ReplyError::ShutDown => ApiError::busy("shutting_down", "the server is stopping", self.retry_after_s),
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
    use engine::sequencer::{CommitError, CommitSink, Committed, Sequencer, SequencerConfig};
    use engine::{Command, Config, Currency, ExtId, Ledger, SourceId};

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

    /// A write: only writes reach the (gated) sink; queries are answered
    /// without it.
    fn register() -> Request {
        Request {
            source: SourceId(1),
            id: ExtId::new("r").unwrap(),
            command: Command::RegisterPlayer {
                currency: Currency::EUR,
                jurisdiction: engine::Jurisdiction::new("MT").unwrap(),
            },
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
        };
        let sequencer = Sequencer::start(Ledger::new(Config::default()), gate, || 0_u64, config).unwrap();
        let engine = Engine::new(sequencer.handle(), 7);
        let first = sequencer.handle().submit(register()).unwrap();
        entered_rx.recv().unwrap();
        // The sequencer holds the first in its commit; the second fills the ring.
        let second = sequencer.handle().submit(register()).unwrap();
        let busy = engine.run(register()).await.unwrap_err();
        assert_eq!((busy.status.as_u16(), busy.code), (503, "busy"));
        let response = busy.into_response();
        assert_eq!(response.headers()["retry-after"], "7");
        drop(release);
        assert!(first.wait().is_ok() && second.wait().is_ok());
        sequencer.shutdown().unwrap();
    }
}
