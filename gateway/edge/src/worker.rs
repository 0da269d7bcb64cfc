//! How a background worker's round (campaigns, loyalty, triggers, the RTP
//! test) ends, and what its log says about it.
//!
//! Workers read the read models, which trail the journal. Under load the
//! projection can be seconds behind, and a round that needs the views
//! current then ends with [`TickError::ViewBehind`]: nothing is wrong, the
//! next round tries again. [`TickLog`] keeps that out of the log unless it
//! lasts, and says when the worker is working again; any other failure is
//! logged at once.

use std::time::{Duration, Instant};

use readmodel::ReadModelError;

use crate::error::ApiError;

/// How long the views may stay behind a worker before its log says so.
pub const BEHIND_WARN_AFTER: Duration = Duration::from_secs(30);

/// Why a worker's round ended early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TickError {
    /// The read model had not caught up with the journal in time: the
    /// round changed nothing it should not have, and the next one retries.
    #[error("the read model is behind the journal")]
    ViewBehind,
    /// Anything else: a refused command, a failed query.
    #[error("{0}")]
    Failed(String),
}

impl From<ApiError> for TickError {
    fn from(error: ApiError) -> TickError {
        if error.code == "view_behind" {
            TickError::ViewBehind
        } else {
            TickError::Failed(error.message)
        }
    }
}

impl From<ReadModelError> for TickError {
    fn from(error: ReadModelError) -> TickError {
        match error {
            ReadModelError::Behind { .. } => TickError::ViewBehind,
            other => TickError::Failed(other.to_string()),
        }
    }
}

impl From<String> for TickError {
    fn from(message: String) -> TickError {
        TickError::Failed(message)
    }
}

impl From<&str> for TickError {
    fn from(message: &str) -> TickError {
        TickError::Failed(message.to_owned())
    }
}

/// What a worker's log has said: a failure at once, a lag once it lasted
/// [`BEHIND_WARN_AFTER`], and the end of a lag it reported.
#[derive(Debug)]
pub struct TickLog {
    worker: &'static str,
    behind_since: Option<Instant>,
    warned: bool,
}

/// What [`TickLog::record`] decided to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logged {
    /// Nothing.
    Nothing,
    /// The views have been behind for this long.
    Behind(Duration),
    /// The views caught up after a lag that was logged.
    CaughtUp,
    /// The round failed.
    Failed,
}

impl TickLog {
    /// The log of the worker named `worker`.
    pub fn new(worker: &'static str) -> TickLog {
        TickLog {
            worker,
            behind_since: None,
            warned: false,
        }
    }

    /// Logs how a round ended, as of now.
    pub fn record(&mut self, result: &Result<(), TickError>) -> Logged {
        self.record_at(result, Instant::now())
    }

    fn record_at(&mut self, result: &Result<(), TickError>, now: Instant) -> Logged {
        let worker = self.worker;
        match result {
            Ok(()) => {
                self.behind_since = None;
                if std::mem::take(&mut self.warned) {
                    tracing::info!(worker, "the read model caught up; working again");
                    return Logged::CaughtUp;
                }
                Logged::Nothing
            }
            Err(TickError::ViewBehind) => {
                let behind = now.duration_since(*self.behind_since.get_or_insert(now));
                if self.warned || behind < BEHIND_WARN_AFTER {
                    return Logged::Nothing;
                }
                self.warned = true;
                tracing::warn!(
                    worker,
                    behind_s = behind.as_secs(),
                    "the read model is behind; waiting for it"
                );
                Logged::Behind(behind)
            }
            Err(TickError::Failed(error)) => {
                tracing::warn!(worker, %error, "round failed");
                Logged::Failed
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lag_is_logged_once_it_lasts_and_its_end_once_it_was() {
        let mut log = TickLog::new("test");
        let start = Instant::now();
        let behind = Err(TickError::ViewBehind);
        assert_eq!(log.record_at(&behind, start), Logged::Nothing);
        assert_eq!(log.record_at(&behind, start + Duration::from_secs(29)), Logged::Nothing);
        assert_eq!(
            log.record_at(&behind, start + BEHIND_WARN_AFTER),
            Logged::Behind(BEHIND_WARN_AFTER)
        );
        assert_eq!(log.record_at(&behind, start + Duration::from_secs(60)), Logged::Nothing);
        assert_eq!(
            log.record_at(&Ok(()), start + Duration::from_secs(61)),
            Logged::CaughtUp
        );
        assert_eq!(log.record_at(&Ok(()), start + Duration::from_secs(62)), Logged::Nothing);
        // A short lag after that is not logged at all.
        assert_eq!(log.record_at(&behind, start + Duration::from_secs(63)), Logged::Nothing);
        assert_eq!(log.record_at(&Ok(()), start + Duration::from_secs(64)), Logged::Nothing);
    }

    #[test]
    fn a_failure_is_logged_every_time() {
        let mut log = TickLog::new("test");
        let failed = Err(TickError::from("refused"));
        assert_eq!(log.record(&failed), Logged::Failed);
        assert_eq!(log.record(&failed), Logged::Failed);
    }

    #[test]
    fn only_a_view_behind_is_a_lag() {
        let busy = ApiError::busy("view_behind", "behind", 1);
        assert_eq!(TickError::from(busy), TickError::ViewBehind);
        let other = ApiError::busy("busy", "ring full", 1);
        assert_eq!(TickError::from(other), TickError::Failed("ring full".into()));
        let behind = ReadModelError::Behind { at: 1, wanted: 2 };
        assert_eq!(TickError::from(behind), TickError::ViewBehind);
    }
}
