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
