//! Reads served from the read models, never through the sequencer, each
//! current to every write acknowledged before it arrived.
//!
//! A read first waits (briefly) until the read model has applied the
//! durable sequence number of that moment, and its reply says the sequence
//! number it is current to (`as_of_seq`). A read model that cannot catch up
//! in time answers 503 `view_behind` with `Retry-After`; nothing was
//! submitted, so the read may be retried at once.

use std::time::Duration;

use readmodel::ReadModelError;
use rusqlite::Connection;

use crate::error::ApiError;
use crate::state::AppState;

/// Longest a read waits for the read model to reach the writes acknowledged
/// before it.
pub const VIEW_WAIT_MAX: Duration = Duration::from_secs(2);

/// Runs `query` on the read model once it holds every write acknowledged
/// before now; returns its result and the sequence number it is current to.
pub async fn read<T: Send + 'static>(
    state: &AppState,
    query: impl FnOnce(&Connection) -> Result<T, ReadModelError> + Send + 'static,
) -> Result<(T, u64), ApiError> {
    let wanted = state.durable.get();
    let limit = VIEW_WAIT_MAX.min(state.config.request_timeout() / 2);
    query_after(state, state.readmodel.wait_for(wanted, limit), query).await
}

/// [`read`] for a background worker's round: as current, but the read
/// model is not asked to commit early for it (see
/// [`readmodel::ReadModel::wait_in_background`]); a worker can wait for the
/// projection's next commit where a request someone waits on should not.
pub async fn read_in_background<T: Send + 'static>(
    state: &AppState,
    query: impl FnOnce(&Connection) -> Result<T, ReadModelError> + Send + 'static,
) -> Result<(T, u64), ApiError> {
    let wanted = state.durable.get();
    query_after(state, state.readmodel.wait_in_background(wanted, VIEW_WAIT_MAX), query).await
}

/// Runs `query` once `waited` (a wait for the read model) has ended.
async fn query_after<T: Send + 'static>(
    state: &AppState,
    waited: impl Future<Output = Result<u64, ReadModelError>>,
    query: impl FnOnce(&Connection) -> Result<T, ReadModelError> + Send + 'static,
) -> Result<(T, u64), ApiError> {
    waited.await.map_err(|e| view_error(state, e))?;
    state.readmodel.query(query).await.map_err(|e| view_error(state, e))
}

fn view_error(state: &AppState, error: ReadModelError) -> ApiError {
    match error {
        ReadModelError::Behind { at, wanted } => ApiError::busy(
            "view_behind",
            format!("the read model is at sequence {at}, behind {wanted}; retry"),
            state.config.retry_after_s,
        ),
        other => ApiError::internal(other),
    }
}
