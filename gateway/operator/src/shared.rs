//! What the operator routes share: the replies several routes give
//! (balances, when a change takes effect) and checked names; request ids,
//! path player ids and refusals come from [`edge::change`].

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
pub use edge::change::{IdempotencyKey, ok, player, refusal, request_id};
use edge::error::ApiError;
use edge::wire::{self, Money};
use edge::{AppState, Caller};
use engine::{Command, Currency, Name, Outcome, PlayerId};
use serde::Serialize;
use utoipa::ToSchema;

/// Submits the change `command` makes to the path's player and answers
/// with the ledger's reply (amounts in `currency`): what every handler of
/// a change to one player does once its body is parsed.
pub async fn change_player(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    player_id: &str,
    currency: Currency,
    command: impl FnOnce(PlayerId) -> Command,
) -> Result<Response, ApiError> {
    let player = player(state, player_id)?;
    let outcome = caller.submit(state, request_id(headers)?, command(player)).await?;
    change_reply(&outcome, currency)
}

/// A display name, checked.
pub fn name(text: &str) -> Result<Name, ApiError> {
    Name::new(text).map_err(|error| ApiError::bad_request("invalid_request", format!("name: {error}")))
}

/// A wallet's balances.
#[derive(Serialize, ToSchema)]
pub struct BalanceReply {
    /// Player id.
    pub player: u64,
    /// Currency code.
    pub currency: &'static str,
    /// Cash.
    pub cash: String,
    /// Bonus money.
    pub bonus: String,
    /// Cash held for pending withdrawals.
    pub reserved: String,
    /// The transaction that moved money, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction: Option<u64>,
    /// For a read: the sequence number it is current to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of_seq: Option<u64>,
}

/// The balances of `player`'s wallet as the API shows them.
pub fn balance_reply(player: PlayerId, balances: &engine::Balances, transaction: Option<u64>) -> BalanceReply {
    let money = Money::of(balances);
    BalanceReply {
        player: player.0,
        currency: money.currency,
        cash: money.cash,
        bonus: money.bonus,
        reserved: wire::money(balances.reserved, balances.currency),
        transaction,
        as_of_seq: None,
    }
}

/// When a change takes effect.
#[derive(Serialize, ToSchema)]
pub struct ChangeReply {
    /// "accepted" (in force now) or "scheduled" (after the cooling-off).
    pub status: &'static str,
    /// For a scheduled change: when, ms since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_at_ms: Option<u64>,
}

/// The reply to a change that takes effect now or later (limits, exclusions).
pub fn change_reply(outcome: &Outcome, currency: Currency) -> Result<Response, ApiError> {
    match outcome {
        Outcome::Accepted => ok(
            StatusCode::OK,
            &ChangeReply {
                status: "accepted",
                effective_at_ms: None,
            },
        ),
        Outcome::Scheduled { effective_at_ms } => ok(
            StatusCode::OK,
            &ChangeReply {
                status: "scheduled",
                effective_at_ms: Some(*effective_at_ms),
            },
        ),
        other => Err(refusal(other, currency)),
    }
}
