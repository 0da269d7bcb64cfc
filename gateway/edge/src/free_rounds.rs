//! Free rounds granted through an aggregator's free-rounds call, as the
//! wallet contracts ask about them: a [`FreeRoundAwards`] the module that
//! grants them (the CRM) registers in `AppState::modules` at start-up
//! ([`AwardsHook`]), so a contract (Pragmatic Play's) knows a bonus code
//! of ours without depending on that module.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use engine::{Amount, PlayerId, SourceId};

use crate::AppState;
use crate::error::ApiError;

/// What a [`FreeRoundAwards`] call returns.
pub type AwardFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 'a>>;

/// Free rounds granted through an aggregator's free-rounds call. An error
/// is an unknown outcome: the contract answers so the aggregator retries.
pub trait FreeRoundAwards: Send + Sync {
    /// Whether `code` names free rounds granted to `player` this way.
    fn is_award<'a>(&'a self, state: &'a AppState, player: PlayerId, code: &'a str) -> AwardFuture<'a, bool>;
    /// Credits the rounds' `winnings` as their template's bonus, once (a
    /// repeat does nothing), under `source`'s request ids.
    fn credit<'a>(
        &'a self,
        state: &'a AppState,
        source: SourceId,
        player: PlayerId,
        code: &'a str,
        winnings: Amount,
    ) -> AwardFuture<'a, ()>;
}

/// The awards' answerer, as `AppState::modules` holds it.
#[derive(Clone)]
pub struct AwardsHook(pub Arc<dyn FreeRoundAwards>);
